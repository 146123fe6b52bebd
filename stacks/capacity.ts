// The `capacity` output: what the planned servers ask of the cluster, per engine and in total,
// and per server the settings derived from its memory limit and its connection budget.
import { parseCpuMillis, parseMemoryMi } from "../infra/quantities";
import { engineNamed } from "../components/engines";
import { EXPORTER_RESOURCES } from "../infra/metrics";
import { ServerPlan, Topology } from "./plan";

export interface CapacityFigures {
    servers: number;
    requests: { memoryMi: number; cpuMillis: number };
    limits: { memoryMi: number; cpuMillis: number };
    storageGi: number;
}

export interface ServerCapacity {
    name: string;
    engine: string;
    /** Server settings derived from the memory limit (or overridden in config). */
    settings: Record<string, string | number>;
    /** Engines with connection limits: the tenants' limits and the admin's reserve, against max_connections. */
    connections?: { tenants: number; reserved: number; max: number };
}

export interface Capacity {
    engines: Record<string, CapacityFigures>;
    total: CapacityFigures;
    servers: ServerCapacity[];
}

export function capacityOf(topology: Topology): Capacity {
    const engines: Record<string, CapacityFigures> = {};
    const total = emptyFigures();
    for (const server of topology.servers) {
        const figures = (engines[server.engine] ??= emptyFigures());
        // The exporter sidecar runs in the server's pod: its resources are the server's too.
        const containers = [server.settings.resources, ...(hasExporter(server) ? [EXPORTER_RESOURCES] : [])];
        for (const f of [figures, total]) {
            f.servers += 1;
            for (const r of containers) {
                f.requests.memoryMi += parseMemoryMi(r.requests.memory);
                f.requests.cpuMillis += parseCpuMillis(r.requests.cpu);
                f.limits.memoryMi += parseMemoryMi(r.limits.memory);
                f.limits.cpuMillis += parseCpuMillis(r.limits.cpu);
            }
            f.storageGi += server.settings.storageGi;
        }
    }
    return { engines, total, servers: topology.servers.map(serverCapacity) };
}

/** The derived settings of one planned server, as the server components compute them. */
export function serverCapacity(server: ServerPlan): ServerCapacity {
    const figures = engineNamed(server.engine).figures?.(server);
    const budget = figures?.connections;
    return {
        name: server.name,
        engine: server.engine,
        settings: figures?.settings ?? {},
        ...(budget ? { connections: { tenants: budget.tenants.reduce((sum, t) => sum + t.limit, 0), reserved: budget.reserved, max: budget.maxConnections } } : {}),
    };
}

/** A scraped server whose engine has no endpoint of its own runs an exporter beside it. */
export function hasExporter(server: ServerPlan): boolean {
    return server.monitored === true && engineNamed(server.engine).metricsSource(server.settings.options) === "exporter";
}

function emptyFigures(): CapacityFigures {
    return { servers: 0, requests: { memoryMi: 0, cpuMillis: 0 }, limits: { memoryMi: 0, cpuMillis: 0 }, storageGi: 0 };
}
