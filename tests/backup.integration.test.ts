// Per-tenant backup and restore on a real PostgreSQL (Debian package), running exactly the scripts
// the program renders (components/backup.ts with the PostgreSQL descriptor's commands), as a
// Job would: sh -c <script>, the admin's PG* variables, APP, ENGINE, BACKUP_DIR, KEEP/FROM/REPLACE.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { backupScript, restoreScript } from "../components/backup";
import { POSTGRESQL_BACKUP } from "../components/postgresql/engine";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import { RunningPostgres, initPostgres, startPostgres } from "./helpers/postgres";
import { freePort, tempDir } from "./helpers/servers";

const ADMIN_PASSWORD = "admin-pw-0123456789";
const PASSWORDS: Record<string, string> = { app_a: "pw-a-0123456789", app_b: "pw-b-0123456789" };
const LIMITS = { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 };

describe("PostgreSQL per-tenant backup and restore on a real server (the rendered scripts)", function () {
    this.timeout(60000);
    let tmp: { dir: string; remove(): void };
    let server: RunningPostgres;
    let port: number;
    let backupDir: string;

    const as = async <T>(app: string, fn: (c: Client) => Promise<T>): Promise<T> => {
        const c = new Client({ host: "127.0.0.1", port, user: app === "postgres" ? "postgres" : app, password: app === "postgres" ? ADMIN_PASSWORD : PASSWORDS[app], database: app });
        await c.connect();
        try {
            return await fn(c);
        } finally {
            await c.end();
        }
    };
    const rows = (app: string) => as(app, async (c) => (await c.query("SELECT id, note FROM notes ORDER BY id")).rows.map((r) => `${r.id}:${r.note}`));

    /** Runs a rendered script the way a Job's container would. */
    const run = (script: string, env: Record<string, string>) => {
        const result = spawnSync("sh", ["-c", script], {
            encoding: "utf8",
            env: {
                PATH: `${server.binDir}:${process.env.PATH}`,
                PGHOST: "127.0.0.1",
                PGPORT: String(port),
                PGUSER: "postgres",
                PGPASSWORD: ADMIN_PASSWORD,
                ENGINE: "postgresql",
                BACKUP_DIR: backupDir,
                ...env,
            },
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const backup = (app: string, keep = 28) => run(backupScript(POSTGRESQL_BACKUP), { APP: app, KEEP: String(keep) });
    const restore = (app: string, from: string, replace?: boolean) => run(restoreScript(POSTGRESQL_BACKUP), { APP: app, FROM: from, ...(replace ? { REPLACE: "true" } : {}) });
    const files = () => fs.readdirSync(backupDir).sort();

    before(async () => {
        tmp = tempDir("backup-postgresql");
        backupDir = path.join(tmp.dir, "backups");
        fs.mkdirSync(backupDir);
        port = await freePort();
        await initPostgres({ dir: tmp.dir, adminPassword: ADMIN_PASSWORD });
        server = await startPostgres({ port, dir: tmp.dir, adminPassword: ADMIN_PASSWORD, args: [] });
        await as("postgres", async (c) => {
            for (const app of Object.keys(PASSWORDS)) for (const sql of postgresqlRoleStatements(app, PASSWORDS[app], LIMITS)) await c.query(sql);
        });
        for (const app of Object.keys(PASSWORDS)) {
            await as(app, async (c) => {
                await c.query("CREATE TABLE notes (id int PRIMARY KEY, note text)");
                await c.query("INSERT INTO notes VALUES (1, $1), (2, $2)", [`${app} first`, `${app} secret`]);
            });
        }
    });

    after(async () => {
        await server?.stop();
        tmp?.remove();
    });

    let first: string;

    it("dumps only the app's own database to <app>-postgresql-<time>.pgdump", () => {
        const result = backup("app_a");
        assert.strictEqual(result.status, 0, result.stderr);
        first = /^backup (\S+)$/m.exec(result.stdout)![1];
        assert.match(first, /^app_a-postgresql-\d{8}T\d{6}Z\.pgdump$/);
        assert.deepStrictEqual(files(), [first], "no partial file left");
        // What the dump holds, as SQL: app_a's table and rows, nothing of app_b.
        const sql = spawnSync(path.join(server.binDir, "pg_restore"), ["-f", "-", path.join(backupDir, first)], { encoding: "utf8" });
        assert.strictEqual(sql.status, 0, sql.stderr);
        assert.match(sql.stdout, /app_a secret/);
        assert.doesNotMatch(sql.stdout, /app_b/);
    });

    it("refuses to restore into a database that holds data, unless replace", async () => {
        await as("app_a", (c) => c.query("DELETE FROM notes WHERE id = 2; INSERT INTO notes VALUES (3, 'written after the backup')"));
        const refused = restore("app_a", first);
        assert.strictEqual(refused.status, 1);
        assert.match(refused.stderr, /restore: the postgresql database of app_a holds data; set replace: true/);
        assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "3:written after the backup"], "nothing was changed");
    });

    it("replaces the data with the backup's, and the app owns and uses its tables as before", async () => {
        const result = restore("app_a", first, true);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
        await as("app_a", async (c) => {
            await c.query("INSERT INTO notes VALUES (4, 'after the restore')");
            assert.strictEqual((await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'")).rows[0].tableowner, "app_a");
        });
        assert.deepStrictEqual(await rows("app_b"), ["1:app_b first", "2:app_b secret"], "the other tenant is untouched");
        // Still closed to the other tenant: the restore changed no grant on the database.
        const intruder = new Client({ host: "127.0.0.1", port, user: "app_b", password: PASSWORDS.app_b, database: "app_a" });
        await assert.rejects(intruder.connect(), /permission denied for database "app_a"/);
        await intruder.end().catch(() => undefined);
    });

    it("restores `latest` into an emptied database without replace", async () => {
        await as("app_a", (c) => c.query("DROP TABLE notes"));
        const result = restore("app_a", "latest");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`restored ${first.replace(/\./g, "\\.")}`));
        assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
    });

    it("never restores another app's backup into an app", async () => {
        const other = backup("app_b");
        assert.strictEqual(other.status, 0, other.stderr);
        const name = /^backup (\S+)$/m.exec(other.stdout)![1];
        const result = restore("app_a", name, true);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, new RegExp(`restore: ${name.replace(/\./g, "\\.")} is not a backup of app_a \\(postgresql\\)`));
        assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
        fs.rmSync(path.join(backupDir, name));
    });

    it("keeps exactly KEEP of the app's backups, and none of another app's is touched", () => {
        const older = ["app_a-postgresql-20200101T000000Z.pgdump", "app_a-postgresql-20210101T000000Z.pgdump", "app_a-postgresql-20220101T000000Z.pgdump"];
        const others = ["app_a_x-postgresql-20200101T000000Z.pgdump", "app_b-postgresql-20200101T000000Z.pgdump", "app_a-mysql-20200101T000000Z.sql.gz"];
        for (const f of [...older, ...others]) fs.writeFileSync(path.join(backupDir, f), "old");
        const result = backup("app_a", 2);
        assert.strictEqual(result.status, 0, result.stderr);
        const newest = /^backup (\S+)$/m.exec(result.stdout)![1];
        const mine = files().filter((f) => f.startsWith("app_a-postgresql-"));
        // The two newest names (the first backup and this one are newer than the old ones).
        assert.deepStrictEqual(mine, [...new Set([...older, first, newest])].sort().slice(-2));
        assert.ok(mine.includes(newest), "the new backup is kept");
        for (const f of others) assert.ok(fs.existsSync(path.join(backupDir, f)), `${f} is not app_a's postgresql backup: kept`);
    });

    it("deletes nothing when the dump fails", () => {
        const before = files();
        const result = run(backupScript(POSTGRESQL_BACKUP), { APP: "app_a", KEEP: "1", PGPASSWORD: "wrong" });
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /password authentication failed/);
        assert.deepStrictEqual(files(), before, "no backup deleted and no partial file left");
    });
});
