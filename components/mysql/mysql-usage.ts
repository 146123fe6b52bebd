// `npm run usage` for MySQL (and MariaDB): what a tenant's tables take, its account's open
// connections and its tables, read with the tenant's own login. Loaded only by the descriptor's
// `usage()`, so mysql2 stays out of validation and planning.
//
// A tenant's login sees information_schema.TABLES of its own database and, without PROCESS, only
// its own threads in PROCESSLIST. Every name is qualified and only built-in functions are called
// (a stored function named like a built-in is only reached qualified), no view is read, and the
// schema is a parameter: nothing the tenant created runs. Its file sizes (INNODB_TABLESPACES,
// FILES) need PROCESS, so the size is InnoDB's statistics; see the note.
import * as mysql from "mysql2/promise";
import type { EngineUsage, TenantUsage } from "../engine";
import type { MysqlCredentials } from "./mysql";

/** How long one measuring statement may run (a tenant with a huge number of tables), in seconds. */
export const MYSQL_USAGE_STATEMENT_TIMEOUT_SECONDS = 30;

/** A variable this server does not have (the other flavour's). */
const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Session settings, each for the flavour that has it: bounds on every statement and lock wait (a tenant's table locks); MySQL 8: statistics as they are now, not as cached up to a day ago. */
const SESSION_SETTINGS = [
    `SET SESSION lock_wait_timeout = ${MYSQL_USAGE_STATEMENT_TIMEOUT_SECONDS}`,
    `SET SESSION max_statement_time = ${MYSQL_USAGE_STATEMENT_TIMEOUT_SECONDS}`,
    `SET SESSION max_execution_time = ${MYSQL_USAGE_STATEMENT_TIMEOUT_SECONDS * 1000}`,
    "SET SESSION information_schema_stats_expiry = 0",
];

export const MYSQL_USAGE_TABLES_QUERY =
    "SELECT COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) AS bytes, " +
    "COALESCE(SUM(t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')), 0) AS tables " +
    "FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ?";

export const MYSQL_USAGE_CONNECTIONS_QUERY = "SELECT COUNT(*) AS connections FROM information_schema.PROCESSLIST p WHERE p.USER = ? AND p.ID <> CONNECTION_ID()";

export const mysqlUsage: EngineUsage<MysqlCredentials> = {
    note:
        "mysql: size is the data and indexes of the tenant's tables as InnoDB's statistics give them (information_schema.TABLES): " +
        "they follow a table's growth after about a tenth of its rows change, at most every 10 s, and exactly after ANALYZE TABLE; " +
        "a tenant that turns STATS_AUTO_RECALC off on a table keeps its figure low (the files' sizes need PROCESS, which tenants lack). " +
        "connections are its account's other threads in PROCESSLIST; objects are its tables.",

    async measure(own): Promise<TenantUsage> {
        const where = `MySQL at ${own.host}:${own.port} as ${own.user} in database \`${own.database}\``;
        let connection: mysql.Connection | undefined;
        try {
            connection = await mysql.createConnection({ host: own.host, port: Number(own.port), user: own.user, password: own.password, database: own.database, connectTimeout: 5000 });
            // A server that ends the session must not crash the run with an unhandled 'error'.
            connection.on("error", () => undefined);
            for (const sql of SESSION_SETTINGS) {
                await connection.query(sql).catch((err: { errno?: number }) => {
                    if (err.errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw err;
                });
            }
            const [[size]] = (await connection.query(MYSQL_USAGE_TABLES_QUERY, [own.database])) as [{ bytes: string | number; tables: string | number }[], unknown];
            const [[threads]] = (await connection.query(MYSQL_USAGE_CONNECTIONS_QUERY, [own.user])) as [{ connections: string | number }[], unknown];
            return { bytes: Number(size.bytes), connections: Number(threads.connections), objects: { count: Number(size.tables), unit: "tables" } };
        } catch (err) {
            throw new Error(`${where}: ${messageOf(err)}`);
        } finally {
            await connection?.end().catch(() => undefined);
        }
    },
};
