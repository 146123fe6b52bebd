// The isolation audit of `npm run verify` for PostgreSQL: as a tenant, with its own credentials,
// what a hostile tenant would try against another tenant on the same server. Loaded only by the
// descriptor's `audit()`, so `pg` stays out of validation and planning.
import { randomBytes } from "crypto";
import { Client } from "pg";
import type { EngineAudit } from "../engine";
import type { PostgresqlCredentials } from "./postgresql";

/** The probe table's name: no app names a table so, and each run its own (concurrent runs never meet). */
export const POSTGRESQL_PROBE_PREFIX = "tenant_databases_verify_probe";

const INSUFFICIENT_PRIVILEGE = "42501";
/** No schema on the search path to create in: refused as well. */
const INVALID_SCHEMA_NAME = "3F000";

type Credentials = Pick<PostgresqlCredentials, "host" | "port" | "user" | "password" | "database">;

function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

function probeName(): string {
    return `${POSTGRESQL_PROBE_PREFIX}_${randomBytes(4).toString("hex")}`;
}

const codeOf = (err: unknown): string | undefined => (err as { code?: string }).code;
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A refusal of the server (insufficient privilege), as opposed to a failure that proves nothing. */
function refused(err: unknown): boolean {
    return codeOf(err) === INSUFFICIENT_PRIVILEGE || codeOf(err) === INVALID_SCHEMA_NAME;
}

/** Logged in as `who` to `database`; throws naming the server, user and database. */
async function connect(who: Credentials, database: string): Promise<Client> {
    const client = new Client({
        host: who.host,
        port: Number(who.port),
        user: who.user,
        password: who.password,
        database,
        connectionTimeoutMillis: 5000,
        application_name: "tenant-databases verify",
        // Only the system catalogs on the path, whatever the database says: an operator or function
        // the other tenant created must never run in our session (it would run with our rights).
        options: "-c search_path=pg_catalog,pg_temp",
    });
    // A server that ends the session must not crash the audit with an unhandled 'error'.
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (err) {
        await client.end().catch(() => undefined);
        throw Object.assign(new Error(`PostgreSQL at ${who.host}:${who.port} as ${who.user} to database "${database}": ${messageOf(err)}`), { code: codeOf(err) });
    }
    return client;
}

export const postgresqlAudit: EngineAudit<PostgresqlCredentials> = {
    async probe(own) {
        const client = await connect(own, own.database);
        // In the schema the app's tables live in (the search path holds only the catalogs).
        const table = `public.${quoteIdent(probeName())}`;
        const value = randomBytes(8).toString("hex");
        let step = "create a table";
        try {
            await client.query(`CREATE TABLE ${table} (v text)`);
            step = "insert a row";
            await client.query(`INSERT INTO ${table} (v) VALUES ($1)`, [value]);
            step = "read it back";
            const rows = (await client.query(`SELECT v FROM ${table}`)).rows as { v: string }[];
            if (rows.length !== 1 || rows[0].v !== value) throw new Error(`read back ${JSON.stringify(rows)}, wrote ${JSON.stringify(value)}`);
            step = "drop the table";
            await client.query(`DROP TABLE ${table}`);
        } catch (err) {
            await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
            throw new Error(`as ${own.user} in database "${own.database}": failed to ${step}: ${messageOf(err)}`);
        } finally {
            await client.end().catch(() => undefined);
        }
    },

    async intrude(own, other) {
        const got: string[] = [];
        // Each attempt must be refused with insufficient privilege; anything else proves nothing and is thrown.
        const attempt = async (client: Client, what: string, sql: string) => {
            try {
                await client.query(sql);
                got.push(what);
            } catch (err) {
                if (!refused(err)) throw new Error(`as ${own.user}, could not try to ${what}: ${messageOf(err)}`);
            }
        };

        // 1. The other's database with our own login: CONNECT is revoked from PUBLIC.
        let there: Client | undefined;
        try {
            there = await connect(own, other.database);
            got.push(`connected to database "${other.database}"`);
        } catch (err) {
            if (!refused(err)) throw err;
        }
        if (there) {
            try {
                // What an intruder who got in could do, asked of the catalogs, never tried: reading a
                // view or writing a table would run the other tenant's code (a view's function, a
                // trigger, a row security policy) with our rights, and a role may change its own
                // password. Only pg_catalog functions run here.
                const rights = (
                    await there.query(
                        `SELECT n.nspname AS schema, c.relname AS name,
                                pg_catalog.has_table_privilege(c.oid, 'SELECT') AS read,
                                pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS write
                         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                         ORDER BY 1, 2 LIMIT 200`,
                    )
                ).rows as { schema: string; name: string; read: boolean; write: boolean }[];
                for (const t of rights) {
                    if (t.read) got.push(`read ${t.schema}.${t.name}`);
                    if (t.write) got.push(`write ${t.schema}.${t.name}`);
                }
                const create = (await there.query("SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') OR EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')) AS create")).rows[0] as { create: boolean };
                if (create.create) got.push(`create a table in database "${other.database}"`);
            } finally {
                await there.end().catch(() => undefined);
            }
        }

        // 2. From our own database, become the other's role (a membership would give its rights).
        const home = await connect(own, own.database);
        try {
            await attempt(home, `SET ROLE ${other.user}`, `SET ROLE ${quoteIdent(other.user)}`);
        } finally {
            await home.end().catch(() => undefined);
        }
        return got.length > 0 ? `as ${own.user}: ${got.join("; ")}` : undefined;
    },
};
