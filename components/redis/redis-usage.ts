// `npm run usage` for Redis, read with the tenant's own ACL user. Loaded only by the
// descriptor's `usage()`, so the client stays out of validation and planning.
//
// What a tenant's login can see is what its allow-list gives it (redis-acl.ts): commands on keys
// it names under its prefix, and INFO. It cannot list or count keys (SCAN, KEYS, RANDOMKEY and
// DBSIZE are refused: they show or count other tenants' keys), nor see other connections (CLIENT
// LIST). So the usage is INFO alone, one command whatever the number of keys:
// - the tenant's keys: the key count of its own DB number (INFO keyspace). On a shared server
//   every tenant has its own number, so that count is its keys; but ACLs cannot bind a user to a
//   DB number, so a tenant that writes keys under its prefix into another number moves them into
//   that number's count (the server summary names keys in numbers no tenant has);
// - memory and clients: only the whole server's (INFO memory, INFO clients), reported as the
//   server's, and credited to a tenant alone on its server.
import { connect } from "./redis-audit";
import type { EngineUsage, TenantUsage } from "../engine";
import type { RedisCredentials } from "./redis";

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The `field:value` lines of an INFO reply. */
export function parseInfo(text: string): Map<string, string> {
    const fields = new Map<string, string>();
    for (const line of text.split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return fields;
}

/** The key count of each DB number with keys, from INFO keyspace (`db2:keys=5,expires=0,avg_ttl=0`). */
export function keyspaceCounts(info: Map<string, string>): Map<number, number> {
    const counts = new Map<number, number>();
    for (const [field, value] of info) {
        const db = /^db(\d+)$/.exec(field);
        const keys = /(?:^|,)keys=(\d+)(?:,|$)/.exec(value);
        if (db && keys) counts.set(Number(db[1]), Number(keys[1]));
    }
    return counts;
}

const count = (info: Map<string, string>, field: string): number => {
    const value = Number(info.get(field));
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`INFO has no ${field} (${JSON.stringify(info.get(field))})`);
    return value;
};

/** The tenant's figures from a full INFO reply, for a tenant on DB number `db`. */
export function redisUsageFromInfo(text: string, db: number): TenantUsage {
    const info = parseInfo(text);
    const keys = keyspaceCounts(info);
    const maxBytes = count(info, "maxmemory");
    return {
        objects: { count: keys.get(db) ?? 0, unit: "keys" },
        server: {
            bytes: count(info, "used_memory"),
            ...(maxBytes > 0 ? { maxBytes } : {}),
            // The measuring connection is one of them.
            connections: Math.max(0, count(info, "connected_clients") - 1),
            objects: { count: [...keys.values()].reduce((a, b) => a + b, 0), unit: "keys" },
        },
    };
}

export const redisUsage: EngineUsage<RedisCredentials> = {
    note:
        "redis: objects are the keys in the tenant's own DB number (INFO keyspace): a tenant's login may not list or count keys " +
        "(SCAN, KEYS, DBSIZE are refused, as they show other tenants' keys), and each tenant of a shared server has its own number; " +
        "ACLs cannot bind a user to a number, so keys a tenant writes under another number count there. Memory (used_memory) and " +
        "clients are only visible for the whole server (INFO): shown per server, and as the tenant's own when it is alone on its server.",

    async measure(own): Promise<TenantUsage> {
        // The tenant's own login, as the audit logs in (a failed login already names the server and user).
        const client = await connect(own);
        try {
            return redisUsageFromInfo(String(await client.send(["INFO"])), own.db);
        } catch (err) {
            throw new Error(`Redis at ${own.host}:${own.port} as ${own.user} (db ${own.db}): ${messageOf(err)}`);
        } finally {
            client.close();
        }
    },
};
