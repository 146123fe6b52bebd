// `npm run usage` for PostgreSQL: what a tenant's database takes on disk, its role's open
// connections and its tables, read with the tenant's own login. Loaded only by the descriptor's
// `usage()`, so `pg` stays out of validation and planning.
//
// The tenant owns its database: it may create functions, operators and views named like the
// catalog's, and set its role's or database's search_path to put them first. So the session pins
// its own search_path on the command line (it beats ALTER ROLE/DATABASE ... SET), every function
// and relation is pg_catalog-qualified, and the figures come from the server's own functions
// and statistics, which no object of the tenant changes.
import { Client } from "pg";
import type { EngineUsage, TenantUsage } from "../engine";
import type { PostgresqlCredentials } from "./postgresql";

/** How long one measuring statement may run (a tenant with a huge number of relations). */
export const POSTGRESQL_USAGE_STATEMENT_TIMEOUT_MS = 30000;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One query, read as the tenant, every name qualified: only the server's own code runs. */
export const POSTGRESQL_USAGE_QUERY = `
SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS bytes,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity a
         WHERE a.usesysid OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER)
           AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
           AND a.backend_type OPERATOR(pg_catalog.=) 'client backend') AS connections,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'm']::pg_catalog."char"[])
           AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'
           AND NOT n.nspname OPERATOR(pg_catalog.~~) 'pg\\_%') AS tables`;

export const postgresqlUsage: EngineUsage<PostgresqlCredentials> = {
    note:
        "postgresql: size is pg_database_size of the tenant's database (its files on disk, free space in them included); " +
        "connections are its role's client sessions in pg_stat_activity; objects are its tables (and materialized views).",

    async measure(own): Promise<TenantUsage> {
        const where = `PostgreSQL at ${own.host}:${own.port} as ${own.user} in database "${own.database}"`;
        const client = new Client({
            host: own.host,
            port: Number(own.port),
            user: own.user,
            password: own.password,
            database: own.database,
            connectionTimeoutMillis: 5000,
            application_name: "tenant-databases usage",
            // Startup options win over the tenant's ALTER ROLE/DATABASE ... SET: only the catalogs
            // on the path, and a bound on every statement.
            options: `-c search_path=pg_catalog,pg_temp -c statement_timeout=${POSTGRESQL_USAGE_STATEMENT_TIMEOUT_MS}`,
        });
        // A server that ends the session must not crash the run with an unhandled 'error'.
        client.on("error", () => undefined);
        try {
            await client.connect();
            const row = (await client.query(POSTGRESQL_USAGE_QUERY)).rows[0] as { bytes: string; connections: string; tables: string };
            return { bytes: Number(row.bytes), connections: Number(row.connections), objects: { count: Number(row.tables), unit: "tables" } };
        } catch (err) {
            throw new Error(`${where}: ${messageOf(err)}`);
        } finally {
            await client.end().catch(() => undefined);
        }
    },
};
