// `npm run usage` for MongoDB: what a tenant's database takes and how many documents it holds,
// read with the tenant's own user (readWrite on its database, which includes dbStats). Loaded
// only by the descriptor's `usage()`, so the driver stays out of validation and planning.
//
// dbStats is the server's own count of the database's storage; the tenant's collections, views
// and validators do not run for it. Connections need serverStatus (clusterMonitor), which tenant
// users lack, so they are not measured.
import type { EngineUsage, TenantUsage } from "../engine";
import type { MongodbCredentials } from "./mongodb";

/** How long the measuring command may run, in ms. */
export const MONGODB_USAGE_TIMEOUT_MS = 30000;

/** A session as the tenant: one command on one database. */
export interface MongoSession {
    command(db: string, command: Record<string, unknown>): Promise<Record<string, unknown>>;
    close(): Promise<void>;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Logged in as the tenant, on its own database (authSource), with bounded waits. */
async function connect(own: MongodbCredentials): Promise<MongoSession> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MongoClient } = require("mongodb") as typeof import("mongodb");
    const client = new MongoClient(`mongodb://${own.host}:${own.port}/`, {
        auth: { username: own.user, password: own.password },
        authSource: own.database,
        directConnection: true,
        appName: "tenant-databases usage",
        serverSelectionTimeoutMS: 5000,
        connectTimeoutMS: 5000,
        socketTimeoutMS: MONGODB_USAGE_TIMEOUT_MS,
    });
    try {
        await client.connect();
    } catch (err) {
        await client.close().catch(() => undefined);
        throw err;
    }
    return { command: (db, command) => client.db(db).command(command), close: () => client.close() };
}

/** The figures of a dbStats reply: storage and indexes on disk, and documents. */
export function mongodbUsageFromStats(stats: Record<string, unknown>): TenantUsage {
    const number = (field: string): number => {
        const value = Number(stats[field]);
        if (!Number.isFinite(value) || value < 0) throw new Error(`dbStats has no ${field} (${JSON.stringify(stats[field])})`);
        return value;
    };
    return { bytes: number("storageSize") + number("indexSize"), objects: { count: number("objects"), unit: "documents" } };
}

/** The usage measurement with its way of connecting (a stand-in in the unit tests). */
export function mongodbUsageWith(open: (own: MongodbCredentials) => Promise<MongoSession>): EngineUsage<MongodbCredentials> {
    return {
        note:
            "mongodb: size is dbStats' storageSize plus indexSize of the tenant's database (on disk, compressed); objects are its documents; " +
            "connections need serverStatus (clusterMonitor), which tenant users lack, so they are not measured.",

        async measure(own) {
            const where = `MongoDB at ${own.host}:${own.port} as ${own.user} in database "${own.database}"`;
            let session: MongoSession | undefined;
            try {
                session = await open(own);
                return mongodbUsageFromStats(await session.command(own.database, { dbStats: 1, scale: 1, freeStorage: 0, maxTimeMS: MONGODB_USAGE_TIMEOUT_MS }));
            } catch (err) {
                throw new Error(`${where}: ${messageOf(err)}`);
            } finally {
                await session?.close().catch(() => undefined);
            }
        },
    };
}

export const mongodbUsage: EngineUsage<MongodbCredentials> = mongodbUsageWith(connect);
