// The `capacity` output: what the planned servers ask of the cluster, per engine and in total.
import { parseCpuMillis, parseMemoryMi } from "../infra/quantities";
import { Topology } from "./plan";

export interface CapacityFigures {
    servers: number;
    requests: { memoryMi: number; cpuMillis: number };
    limits: { memoryMi: number; cpuMillis: number };
    storageGi: number;
}
export interface Capacity {
    engines: Record<string, CapacityFigures>;
    total: CapacityFigures;
}

export function capacityOf(topology: Topology): Capacity {
    const engines: Record<string, CapacityFigures> = {};
    const total = emptyFigures();
    for (const server of topology.servers) {
        const figures = (engines[server.engine] ??= emptyFigures());
        for (const f of [figures, total]) {
            const r = server.settings.resources;
            f.servers += 1;
            f.requests.memoryMi += parseMemoryMi(r.requests.memory);
            f.requests.cpuMillis += parseCpuMillis(r.requests.cpu);
            f.limits.memoryMi += parseMemoryMi(r.limits.memory);
            f.limits.cpuMillis += parseCpuMillis(r.limits.cpu);
            f.storageGi += server.settings.storageGi;
        }
    }
    return { engines, total };
}

function emptyFigures(): CapacityFigures {
    return { servers: 0, requests: { memoryMi: 0, cpuMillis: 0 }, limits: { memoryMi: 0, cpuMillis: 0 }, storageGi: 0 };
}
