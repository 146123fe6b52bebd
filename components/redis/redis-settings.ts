// Redis server settings sized to the container (pure: no Pulumi). A shared Redis must refuse
// writes before the kernel kills it, and must bound what one client can hold in buffers, so that
// one tenant cannot crash-loop the server for all of them.
import { MIB, formatBytes, parseMemoryBytes } from "../../infra/quantities";

export const REDIS_EVICTION_POLICIES = [
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
] as const;
export type RedisEvictionPolicy = (typeof REDIS_EVICTION_POLICIES)[number];

/** Operator overrides (`engines.redis.*`); everything else follows `resources.limits.memory`. */
export interface RedisTuning {
    /** Memory quantity, below the container's memory limit. @default 70 % of the limit */
    maxmemory?: string;
    /** @default "noeviction": a full server refuses writes instead of dropping a tenant's keys */
    maxmemoryPolicy?: RedisEvictionPolicy;
    /** @default 4 per MiB of the memory limit, 64 to 10000 */
    maxClients?: number;
    /** Idle clients are closed after this many seconds (0: never). @default 300 */
    idleTimeoutSeconds?: number;
}

export interface RedisServerSettings {
    maxmemoryBytes: number;
    maxmemoryPolicy: RedisEvictionPolicy;
    maxClients: number;
    idleTimeoutSeconds: number;
    /** All clients' buffers together; past it Redis disconnects the biggest clients. */
    maxmemoryClientsBytes: number;
    /** The largest single string or argument (SETRANGE/SETBIT offsets too). */
    protoMaxBulkLenBytes: number;
    /** One client's unread input. */
    clientQueryBufferLimitBytes: number;
    /** One client's unsent replies: `hard soft seconds`, for normal and Pub/Sub clients. */
    outputBufferLimits: { normal: [number, number, number]; pubsub: [number, number, number] };
}

export const REDIS_DEFAULT_MAXMEMORY_SHARE = 0.7;
export const REDIS_DEFAULT_IDLE_TIMEOUT_SECONDS = 300;

export function redisServerSettings(memoryLimit: string, tuning: RedisTuning = {}): RedisServerSettings {
    const limit = parseMemoryBytes(memoryLimit);
    // 70 %: the rest is for the fork of an AOF rewrite (copy-on-write), fragmentation and the allocator.
    const maxmemory = tuning.maxmemory !== undefined ? parseMemoryBytes(tuning.maxmemory) : Math.floor(limit * REDIS_DEFAULT_MAXMEMORY_SHARE);
    const atLeastMiB = (bytes: number) => Math.max(MIB, Math.floor(bytes));
    const bulk = atLeastMiB(maxmemory / 8);
    return {
        maxmemoryBytes: maxmemory,
        maxmemoryPolicy: tuning.maxmemoryPolicy ?? "noeviction",
        maxClients: tuning.maxClients ?? Math.min(10000, Math.max(64, Math.floor((limit / MIB) * 4))),
        idleTimeoutSeconds: tuning.idleTimeoutSeconds ?? REDIS_DEFAULT_IDLE_TIMEOUT_SECONDS,
        maxmemoryClientsBytes: atLeastMiB(maxmemory / 5),
        protoMaxBulkLenBytes: bulk,
        clientQueryBufferLimitBytes: 2 * bulk,
        outputBufferLimits: {
            normal: [atLeastMiB(maxmemory / 8), atLeastMiB(maxmemory / 16), 60],
            pubsub: [atLeastMiB(maxmemory / 16), atLeastMiB(maxmemory / 32), 60],
        },
    };
}

/** Problems with the overrides, each naming its key (relative to `engines.redis`). */
export function redisTuningProblems(memoryLimit: string, tuning: RedisTuning): string[] {
    if (tuning.maxmemory === undefined) return [];
    const limit = parseMemoryBytes(memoryLimit);
    const maxmemory = parseMemoryBytes(tuning.maxmemory);
    if (maxmemory < MIB) return [`maxmemory: ${tuning.maxmemory} is less than 1Mi`];
    if (maxmemory >= limit) {
        return [
            `maxmemory: ${tuning.maxmemory} is not below resources.limits.memory ${memoryLimit}; ` +
                `leave room for forks and buffers (default: ${formatBytes(Math.floor(limit * REDIS_DEFAULT_MAXMEMORY_SHARE))})`,
        ];
    }
    return [];
}

/** redis-server command-line arguments for these settings. */
export function redisServerArgs(s: RedisServerSettings): string[] {
    return [
        "--maxmemory", String(s.maxmemoryBytes),
        "--maxmemory-policy", s.maxmemoryPolicy,
        "--maxmemory-clients", String(s.maxmemoryClientsBytes),
        "--maxclients", String(s.maxClients),
        "--timeout", String(s.idleTimeoutSeconds),
        "--proto-max-bulk-len", String(s.protoMaxBulkLenBytes),
        "--client-query-buffer-limit", String(s.clientQueryBufferLimitBytes),
        "--client-output-buffer-limit", `normal ${s.outputBufferLimits.normal.join(" ")} pubsub ${s.outputBufferLimits.pubsub.join(" ")}`,
    ];
}

/** For `npm run plan` and the `capacity` output. */
export function describeRedisSettings(s: RedisServerSettings): Record<string, string | number> {
    return {
        maxmemory: formatBytes(s.maxmemoryBytes),
        "maxmemory-policy": s.maxmemoryPolicy,
        "maxmemory-clients": formatBytes(s.maxmemoryClientsBytes),
        maxclients: s.maxClients,
        timeout: `${s.idleTimeoutSeconds}s`,
        "proto-max-bulk-len": formatBytes(s.protoMaxBulkLenBytes),
    };
}
