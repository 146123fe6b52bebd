// MongoDB server settings sized to the container (pure: no Pulumi). WiredTiger sizes its cache
// from the host's memory, not the container's limit, so the cache is set explicitly.
import { GIB, parseMemoryBytes } from "../../infra/quantities";

/** The root user the official image creates (MONGO_INITDB_ROOT_USERNAME); `pulumi up` and backups log in as it. */
export const MONGODB_ADMIN_USER = "admin";

/** Operator overrides (`engines.mongodb.*`). */
export interface MongodbTuning {
    /** @default max(0.25, 0.5 × (limit − 1 GiB)), MongoDB's own rule applied to the limit */
    wiredTigerCacheSizeGB?: number;
}

export interface MongodbServerSettings {
    wiredTigerCacheSizeGB: number;
}

export function mongodbServerSettings(memoryLimit: string, tuning: MongodbTuning = {}): MongodbServerSettings {
    const limitGiB = parseMemoryBytes(memoryLimit) / GIB;
    const derived = Math.max(0.25, Math.floor(0.5 * (limitGiB - 1) * 100) / 100);
    return { wiredTigerCacheSizeGB: tuning.wiredTigerCacheSizeGB ?? derived };
}

/** Problems with the overrides, each naming its key (relative to `engines.mongodb`). */
export function mongodbTuningProblems(memoryLimit: string, tuning: MongodbTuning): string[] {
    const cache = tuning.wiredTigerCacheSizeGB;
    if (cache === undefined) return [];
    const limitGiB = parseMemoryBytes(memoryLimit) / GIB;
    if (cache < 0.25) return [`wiredTigerCacheSizeGB: ${cache} is below MongoDB's minimum of 0.25`];
    if (cache >= limitGiB * 0.8) return [`wiredTigerCacheSizeGB: ${cache} leaves less than 20 % of resources.limits.memory ${memoryLimit} for connections and the server`];
    return [];
}

/** mongod command-line arguments (the official image runs them with its init and `--auth`). */
export function mongodbServerArgs(s: MongodbServerSettings): string[] {
    return ["mongod", "--wiredTigerCacheSizeGB", String(s.wiredTigerCacheSizeGB)];
}

export function describeMongodbSettings(s: MongodbServerSettings): Record<string, string | number> {
    return { wiredTigerCacheSizeGB: s.wiredTigerCacheSizeGB };
}
