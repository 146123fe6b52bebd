// The registry: every engine the program runs, in the order servers are planned and listed.
// Adding an engine is a folder under components/ with its descriptor, and one line here.
import type { CredentialsOf, EngineDescriptor } from "./engine";
import { mongodbEngine } from "./mongodb/engine";
import { mysqlEngine } from "./mysql/engine";
import { neo4jEngine } from "./neo4j/engine";
import { postgresqlEngine } from "./postgresql/engine";
import { qdrantEngine } from "./qdrant/engine";
import { redisEngine } from "./redis/engine";

const REGISTRY = [postgresqlEngine, mysqlEngine, mongodbEngine, redisEngine, qdrantEngine, neo4jEngine] as const;

/** Every engine, as the code that treats them alike sees them. */
export const ENGINES: readonly EngineDescriptor[] = REGISTRY;
export const ENGINE_NAMES: readonly string[] = ENGINES.map((e) => e.name);

type RegisteredEngine = (typeof REGISTRY)[number];
export type EngineName = RegisteredEngine["name"];
/** What one app receives, per engine it uses. `password`, `url` and tokens are secret. */
export type AppCredentials = { [E in RegisteredEngine as E["name"]]?: CredentialsOf<E> };

/** The descriptor of an engine by name; throws for a name no engine has. */
export function engineNamed(name: string): EngineDescriptor {
    const engine = ENGINES.find((e) => e.name === name);
    if (engine === undefined) throw new Error(`no engine ${JSON.stringify(name)}; engines: ${ENGINE_NAMES.join(", ")}`);
    return engine;
}
