// The isolation audit of `npm run verify` for MySQL (and MariaDB): as a tenant, with its own
// credentials, what a hostile tenant would try against another tenant on the same server.
// Loaded only by the descriptor's `audit()`, so mysql2 stays out of validation and planning.
import { randomBytes } from "crypto";
import * as mysql from "mysql2/promise";
import type { EngineAudit } from "../engine";
import type { MysqlCredentials } from "./mysql";

/** The probe table's name: no app names a table so, and each run its own (concurrent runs never meet). */
export const MYSQL_PROBE_PREFIX = "tenant_databases_verify_probe";

/** Refusals: no access to the database (1044), the table (1142), a column (1143). */
const DENIED = new Set([1044, 1142, 1143]);
/** The privilege check passed, and only then the table was found missing. */
const ER_NO_SUCH_TABLE = 1146;

type Credentials = Pick<MysqlCredentials, "host" | "port" | "user" | "password" | "database">;

function quoteIdent(name: string): string {
    return `\`${name.replace(/`/g, "``")}\``;
}

function probeName(): string {
    return `${MYSQL_PROBE_PREFIX}_${randomBytes(4).toString("hex")}`;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Logged in as `who`, in its own database; throws naming the server and user. */
async function connect(who: Credentials): Promise<mysql.Connection> {
    try {
        const connection = await mysql.createConnection({ host: who.host, port: Number(who.port), user: who.user, password: who.password, database: who.database, connectTimeout: 5000 });
        // A server that ends the session must not crash the audit with an unhandled 'error'.
        connection.on("error", () => undefined);
        return connection;
    } catch (err) {
        throw new Error(`MySQL at ${who.host}:${who.port} as ${who.user} to database \`${who.database}\`: ${messageOf(err)}`);
    }
}

export const mysqlAudit: EngineAudit<MysqlCredentials> = {
    async probe(own) {
        const connection = await connect(own);
        const table = quoteIdent(probeName());
        const value = randomBytes(8).toString("hex");
        let step = "create a table";
        try {
            await connection.query(`CREATE TABLE ${table} (v VARCHAR(64))`);
            step = "insert a row";
            await connection.query(`INSERT INTO ${table} (v) VALUES (?)`, [value]);
            step = "read it back";
            const [rows] = (await connection.query(`SELECT v FROM ${table}`)) as [{ v: string }[], unknown];
            if (rows.length !== 1 || rows[0].v !== value) throw new Error(`read back ${JSON.stringify(rows)}, wrote ${JSON.stringify(value)}`);
            step = "drop the table";
            await connection.query(`DROP TABLE ${table}`);
        } catch (err) {
            await connection.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
            throw new Error(`as ${own.user} in database \`${own.database}\`: failed to ${step}: ${messageOf(err)}`);
        } finally {
            await connection.end().catch(() => undefined);
        }
    },

    async intrude(own, other) {
        const connection = await connect(own);
        const got: string[] = [];
        // Each attempt must be refused with an access error; anything else proves nothing and is thrown.
        const attempt = async (what: string, sql: string): Promise<boolean> => {
            try {
                await connection.query(sql);
                got.push(what);
                return true;
            } catch (err) {
                const errno = (err as { errno?: number }).errno;
                if (errno !== undefined && DENIED.has(errno)) return false;
                if (errno === ER_NO_SUCH_TABLE) {
                    got.push(`${what} (allowed, then not found)`);
                    return false;
                }
                throw new Error(`as ${own.user}, could not try to ${what}: ${messageOf(err)}`);
            }
        };
        const db = quoteIdent(other.database);
        try {
            await attempt(`USE ${other.database}`, `USE ${db}`);
            // A user sees only the tables it has some privilege on: any listed is already one too many.
            // Base tables only are tried: reading a view could run the other tenant's function with our rights.
            const [listed] = (await connection.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1 LIMIT 50", [
                other.database,
            ])) as [{ name: string }[], unknown];
            if (listed.length > 0) got.push(`sees tables ${listed.map((t) => `${other.database}.${t.name}`).join(", ")}`);
            // The listed tables, and one that does not exist (its privilege check comes first).
            const missing = probeName();
            for (const name of [...listed.map((t) => t.name), missing]) {
                const table = `${db}.${quoteIdent(name)}`;
                const label = name === missing ? `${other.database}.<a table that does not exist>` : `${other.database}.${name}`;
                await attempt(`SELECT from ${label}`, `SELECT * FROM ${table} LIMIT 1`);
                // No row changes: the privileges are checked, the WHERE keeps the table as it was.
                await attempt(`INSERT INTO ${label}`, name === missing ? `INSERT INTO ${table} VALUES (1)` : `INSERT INTO ${table} SELECT * FROM ${table} WHERE FALSE`);
                await attempt(`DELETE FROM ${label}`, `DELETE FROM ${table} WHERE FALSE`);
            }
            const created = probeName();
            if (await attempt(`CREATE TABLE in ${other.database}`, `CREATE TABLE ${db}.${quoteIdent(created)} (v INT)`)) {
                await connection.query(`DROP TABLE IF EXISTS ${db}.${quoteIdent(created)}`).catch(() => undefined);
            }
        } finally {
            await connection.end().catch(() => undefined);
        }
        return got.length > 0 ? `as ${own.user}: ${got.join("; ")}` : undefined;
    },
};
