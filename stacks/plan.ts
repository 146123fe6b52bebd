// The planner: a pure function from validated config to the topology, i.e. which servers exist
// and which tenants live on each. Shared: one server per engine. Dedicated: one server per engine
// and app. Dedicated is a server with one tenant; nothing else differs.
import { serverName } from "../infra/naming";
import { ServerPlan, TenantPlan } from "../components/types";
import { AppConfig, StackConfig, Engine } from "./config";

export type { ServerPlan, TenantPlan } from "../components/types";

export interface Topology {
    /** Sorted by engine, then name. */
    servers: ServerPlan[];
}

const PLANNED_ENGINES: readonly Engine[] = ["postgresql", "mysql", "mongodb", "redis", "qdrant", "neo4j"];

export function planTopology(config: StackConfig): Topology {
    const servers = new Map<string, ServerPlan>();
    const apps = Object.values(config.apps).sort((a, b) => a.name.localeCompare(b.name));
    for (const engine of PLANNED_ENGINES) {
        const settings = config.engines[engine];
        if (settings === undefined) continue;
        for (const app of apps) {
            const tenant = tenantOf(app, engine);
            if (tenant === undefined) continue;
            const placement = app[engine]!.placement;
            const name = serverName(engine, placement === "dedicated" ? app.name : undefined);
            let server = servers.get(name);
            if (server === undefined) {
                const hostPort = placement === "dedicated" ? app[engine]!.hostPort : settings.hostPort;
                server = { engine, name, placement, settings, hostPort, tenants: [] };
                servers.set(name, server);
            }
            server.tenants.push(tenant);
        }
    }
    return {
        servers: [...servers.values()].sort((a, b) => a.engine.localeCompare(b.engine) || a.name.localeCompare(b.name)),
    };
}

function tenantOf(app: AppConfig, engine: Engine): TenantPlan | undefined {
    if (engine === "postgresql" && app.postgresql) {
        const { connectionLimit, statementTimeoutSeconds, idleInTransactionTimeoutSeconds } = app.postgresql;
        return { engine, app: app.name, namespace: app.namespace, connectionLimit, statementTimeoutSeconds, idleInTransactionTimeoutSeconds };
    }
    if (engine === "mysql" && app.mysql) {
        return { engine, app: app.name, namespace: app.namespace, maxConnections: app.mysql.maxConnections };
    }
    if (engine === "qdrant" && app.qdrant) {
        return { engine, app: app.name, namespace: app.namespace, collections: app.qdrant.collections };
    }
    if (engine === "mongodb" && app.mongodb) {
        return { engine, app: app.name, namespace: app.namespace };
    }
    if (engine === "neo4j" && app.neo4j) {
        return { engine, app: app.name, namespace: app.namespace };
    }
    if (engine === "redis" && app.redis) {
        return { engine, app: app.name, namespace: app.namespace, db: app.redis.db, scripting: app.redis.scripting };
    }
    return undefined;
}
