// The isolation audit of `npm run verify` for Redis: as a tenant, with its own ACL user, what a
// hostile tenant would try against another tenant's key space on the same server. Loaded only
// by the descriptor's `audit()`, so the client stays out of validation and planning.
import { randomBytes } from "crypto";
import { createClient } from "redis";
import type { EngineAudit } from "../engine";
import type { RedisCredentials } from "./redis";

/** The probe key's middle part: `<prefix>:tenant_databases_verify_probe:<random>`. */
export const REDIS_PROBE_NAME = "tenant_databases_verify_probe";
/** Probe keys expire on their own should a run die before it deletes them. */
const PROBE_TTL_MS = 60000;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function probeKey(prefix: string): string {
    return `${prefix}:${REDIS_PROBE_NAME}:${randomBytes(4).toString("hex")}`;
}

export type Client = { send(args: string[]): Promise<unknown>; close(): void };

/** Logged in as `who` on its own DB number; throws naming the server and user. */
export async function connect(who: RedisCredentials): Promise<Client> {
    const client = createClient({
        socket: { host: who.host, port: Number(who.port), connectTimeout: 5000, reconnectStrategy: false },
        username: who.user,
        password: who.password,
        database: who.db,
    });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (err) {
        client.destroy();
        throw new Error(`Redis at ${who.host}:${who.port} as ${who.user} (db ${who.db}): ${messageOf(err)}`);
    }
    return { send: (args) => client.sendCommand(args), close: () => client.destroy() };
}

export const redisAudit: EngineAudit<RedisCredentials> = {
    async probe(own) {
        const client = await connect(own);
        const key = probeKey(own.keyPrefix);
        const value = randomBytes(8).toString("hex");
        let step = `SET ${key}`;
        try {
            const set = await client.send(["SET", key, value, "PX", String(PROBE_TTL_MS), "NX"]);
            if (set !== "OK") throw new Error(`answered ${JSON.stringify(set)}`);
            step = `GET ${key}`;
            const read = await client.send(["GET", key]);
            if (read !== value) throw new Error(`read back ${JSON.stringify(read)}, wrote ${JSON.stringify(value)}`);
            step = `DEL ${key}`;
            const deleted = await client.send(["DEL", key]);
            if (deleted !== 1) throw new Error(`deleted ${JSON.stringify(deleted)} keys, not 1`);
        } catch (err) {
            await client.send(["DEL", key]).catch(() => undefined);
            throw new Error(`as ${own.user} in db ${own.db}: ${step} failed: ${messageOf(err)}`);
        } finally {
            client.close();
        }
    },

    async intrude(own, other) {
        const client = await connect(own);
        const key = probeKey(other.keyPrefix);
        const got: string[] = [];
        // Whether the server ran the command; refused by the ACL (NOPERM) is false, anything else proves nothing and is thrown.
        const allowed = async (args: string[]): Promise<boolean> => {
            try {
                await client.send(args);
                return true;
            } catch (err) {
                if (/^NOPERM/.test(messageOf(err))) return false;
                throw new Error(`as ${own.user}, could not try ${args.slice(0, 2).join(" ")}: ${messageOf(err)}`);
            }
        };
        // The other's key names, in our DB number and in its own: ACL key patterns are the boundary, not the number.
        const tryKeys = async (db: number) => {
            // NX: never overwrite what is there; PX: gone by itself should the DEL be refused.
            for (const args of [["GET", key], ["SET", key, "x", "PX", String(PROBE_TTL_MS), "NX"], ["DEL", key]]) {
                if (await allowed(args)) got.push(`${args[0]} ${key} in db ${db}`);
            }
        };
        try {
            await tryKeys(own.db);
            // SELECT is allowed to tenants (numbers only separate names); refused, there is nothing more to try.
            if (other.db !== own.db && (await allowed(["SELECT", String(other.db)]))) await tryKeys(other.db);
        } finally {
            client.close();
        }
        return got.length > 0 ? `as ${own.user}: ${got.join("; ")}` : undefined;
    },
};
