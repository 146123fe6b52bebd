// The typed contract between whoever plans a platform (this repo's stacks/, or another program)
// and the components that build it. Plain values: they decide which resources exist.
import { Resources } from "../infra/runtime";
import type { QdrantCollectionSpec } from "./qdrant/qdrant";
import type { MongodbTuning } from "./mongodb/mongodb-settings";
import type { MysqlTuning } from "./mysql/mysql-settings";
import type { PostgresqlTuning } from "./postgresql/postgresql-settings";
import type { RedisTuning } from "./redis/redis-settings";

export type { Resources, Quantities } from "../infra/runtime";

export type Placement = "shared" | "dedicated";
export type EngineName = "postgresql" | "mysql" | "mongodb" | "redis" | "qdrant" | "neo4j";

export interface Endpoint {
    /** May contain `{server}`, replaced by each server's name. */
    host: string;
    port: number;
}

export interface EngineSettings {
    engine: EngineName;
    /** Image tag; for PostgreSQL its major version also decides where the data lives. */
    version: string;
    image: string;
    storageGi: number;
    resources: Resources;
    placement: Placement;
    /** Where `pulumi up` reaches the server's admin port. @default the target's own address */
    adminEndpoint?: Endpoint;
    /** Redis only: the number of logical databases, fixed at server start. */
    databases?: number;
    /** Docker target: the shared server's loopback port. */
    hostPort?: number;
    /** Neo4j only. */
    edition?: "community" | "enterprise";
    /** Overrides of the server settings derived from the memory limit; only the engine's own key is set. */
    tuning: EngineTuning;
}

export interface EngineTuning {
    postgresql?: PostgresqlTuning;
    mysql?: MysqlTuning;
    mongodb?: MongodbTuning;
    redis?: RedisTuning;
}

export type TenantPlan =
    | {
          engine: "postgresql";
          app: string;
          namespace: string;
          connectionLimit: number;
          statementTimeoutSeconds: number;
          idleInTransactionTimeoutSeconds: number;
      }
    | { engine: "mysql"; app: string; namespace: string; maxConnections: number }
    | { engine: "redis"; app: string; namespace: string; db: number; scripting: boolean }
    | { engine: "neo4j"; app: string; namespace: string }
    | { engine: "mongodb"; app: string; namespace: string }
    | { engine: "qdrant"; app: string; namespace: string; collections: Record<string, QdrantCollectionSpec> };

export interface ServerPlan {
    engine: EngineName;
    /** A DNS label, unique per target. */
    name: string;
    placement: Placement;
    settings: EngineSettings;
    /** Docker target: the fixed loopback port to publish on. @default chosen by Docker */
    hostPort?: number;
    /** Sorted by app name. */
    tenants: TenantPlan[];
}
