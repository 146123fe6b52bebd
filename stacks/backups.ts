// What the stack backs up, per app and engine: schedule, how many kept, where, and a pending
// restore. The stack output `backups` and `npm run plan` list it. Pure; no secrets (an S3
// destination names its bucket and the Secret holding its keys, never the keys).
import type { BackupDestination } from "../components/backup-plan";
import { s3Path } from "../components/backup-s3";
import type { StackConfig } from "./config";
import type { Topology } from "./plan";

export interface BackupListing {
    /** Cron, UTC; absent on Docker, where `npm run backup` runs them on demand. */
    schedule?: string;
    keep: number;
    /** `s3://bucket/prefix`, `volume tenant-backups`, or a host directory. */
    destination: string;
    /** The server the data is on. */
    server: string;
    restore?: { from: string; replace: boolean };
}

/** A destination as one line. */
export function describeDestination(destination: BackupDestination): string {
    if ("s3" in destination) {
        const endpoint = destination.s3.endpoint;
        return `s3://${s3Path(destination.s3)}${endpoint ? ` at ${endpoint}` : ""}`;
    }
    if ("volume" in destination) return `volume claim tenant-backups (${destination.volume.sizeGi}Gi)`;
    return `directory ${destination.directory} (npm run backup)`;
}

/** App -> engine -> its backups, for every tenant with backups. */
export function backupsOf(config: StackConfig, topology: Topology): Record<string, Record<string, BackupListing>> {
    const out: Record<string, Record<string, BackupListing>> = {};
    if (config.backup === undefined) return out;
    const destination = describeDestination(config.backup.destination);
    for (const server of topology.servers) {
        for (const t of server.tenants) {
            if (t.backup === undefined) continue;
            const schedule = config.target === "kubernetes" ? { schedule: t.backup.schedule } : {};
            (out[t.app] ??= {})[server.engine] = { ...schedule, keep: t.backup.keep, destination, server: server.name, ...(t.restore && { restore: t.restore }) };
        }
    }
    return out;
}
