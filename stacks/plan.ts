// The planner: a pure function from validated config to the topology, i.e. which servers exist
// and which tenants live on each. Shared: one server per engine. Dedicated: one server per engine
// and app. Dedicated is a server with one tenant; nothing else differs.
import { serverName } from "../infra/naming";
import { ENGINES, engineNamed } from "../components/engines";
import type { Placement, ServerPlan, ServerSettings } from "../components/engine";
import type { StackConfig } from "./config";

export type { ServerPlan, TenantPlan } from "../components/engine";

export interface Topology {
    /** Sorted by engine, then name. */
    servers: ServerPlan[];
}

/** A server is scraped when the stack has monitoring and the engine (in this edition) serves metrics. */
function monitored(config: StackConfig, engine: string, options: unknown): boolean {
    return config.monitoring !== undefined && typeof engineNamed(engine).metricsSource(options) === "string";
}

export function planTopology(config: StackConfig): Topology {
    const servers = new Map<string, ServerPlan>();
    const apps = Object.values(config.apps).sort((a, b) => a.name.localeCompare(b.name));
    for (const { name: engine } of ENGINES) {
        const engineConfig = config.engines[engine];
        if (engineConfig === undefined) continue;
        // The engine's placement and shared port are config defaults; each server has its own.
        const { version, image, storageGi, resources, adminEndpoint, options } = engineConfig;
        const settings: ServerSettings = { engine, version, image, storageGi, resources, adminEndpoint, options };
        const serverFor = (app: string, placement: Placement, hostPort: number | undefined): ServerPlan => {
            const name = serverName(engine, placement === "dedicated" ? app : undefined);
            let server = servers.get(name);
            if (server === undefined) {
                server = {
                    engine,
                    name,
                    placement,
                    settings,
                    hostPort: placement === "dedicated" ? hostPort : engineConfig.hostPort,
                    tenants: [],
                    ...(monitored(config, engine, options) && { monitored: true }),
                };
                servers.set(name, server);
            }
            return server;
        };
        for (const app of apps) {
            const use = app.uses[engine];
            if (use === undefined) continue;
            const tenant = { engine, app: app.name, namespace: app.namespace, options: use.options };
            // An app's own host port is its dedicated server's, the one it moves to or away from.
            const from = use.moveFrom === undefined ? undefined : serverFor(app.name, use.moveFrom, use.hostPort);
            // A move keeps the app's tenancy where its data is now, until the move is finished.
            from?.tenants.push({ ...tenant, retired: true });
            serverFor(app.name, use.placement, use.hostPort).tenants.push({
                ...tenant,
                ...(use.backup && { backup: use.backup }),
                ...(use.restore && { restore: use.restore }),
                ...(from && { moveFrom: { server: from.name, placement: from.placement } }),
            });
        }
        for (const server of servers.values()) server.tenants.sort((a, b) => a.app.localeCompare(b.app));
    }
    return {
        servers: [...servers.values()].sort((a, b) => a.engine.localeCompare(b.engine) || a.name.localeCompare(b.name)),
    };
}
