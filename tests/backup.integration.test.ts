// Per-tenant backup and restore on real servers, running exactly the containers a Kubernetes stack
// renders for its backup CronJobs and restore Jobs (tests/helpers/rendered-jobs.ts): their script,
// and their variables with the test server's address, its admin password for the Secret's key and
// a temporary directory for the volume. Tests vary only KEEP, FROM and REPLACE, as config would.
// PostgreSQL from its Debian package; MariaDB stands in for MySQL (its mysqldump and mysql
// clients carry the same names and options used here); redis-server started as the program
// starts it, with the program's tenants.
import * as assert from "assert";
import * as crypto from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import Redis from "ioredis";
import * as mysql from "mysql2/promise";
import * as path from "path";
import { Client } from "pg";
import { grantDatabasePattern } from "../components/mysql/mysql";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import { ProgramRedis, createProgramTenants, redisProgram, startProgramRedis, writeEveryRedisType } from "./helpers/redis-server";
import { initPostgres, startPostgres } from "./helpers/postgres";
import { freePort, startMariadb, tempDir } from "./helpers/servers";
import { RenderedRun, renderedBackupJobs } from "./helpers/rendered-jobs";

const APPS = ["app_a", "app_b"];
const PASSWORDS: Record<string, string> = { app_a: "pw-a-0123456789", app_b: "pw-b-0123456789" };

interface StartedServer {
    port: number;
    secrets: Record<string, string>;
    path: string;
    stop(): Promise<void>;
}

/** One engine's real server, with its tenants set up as the program sets them up. */
interface Harness {
    engine: string;
    /** Backup file extension. */
    extension: string;
    /** Starts the server and creates the tenants; returns its port, what its container's environment would hold, and the clients' PATH. */
    start(dir: string): Promise<StartedServer>;
    /** SQL as a tenant, in its own database. */
    query(app: string, sql: string): Promise<Record<string, unknown>[]>;
    /** The tenant `intruder` connecting to `victim`'s database: must be refused. */
    intrude(intruder: string, victim: string): Promise<void>;
    /** What a dump file holds, as text. */
    dumpText(file: string, binPath: string): string;
    /** The owner of the app's table `notes`, or its definer: the app keeps using what it owned. */
    notesOwner(app: string): Promise<string>;
    /**
     * As the tenant `app`, plants what a hostile tenant would for the admin's backup or restore
     * session to run: code that makes `app` an admin and writes into `victim`'s data.
     */
    plantTrap(app: string, victim: string): Promise<void>;
    /** Whether `app` has become an admin of the server. */
    escalated(app: string): Promise<boolean>;
    /** How a restore with replace ends for the trapped dump: restored, or refused with this message. */
    trapRestore: "restored" | RegExp;
}

function postgresqlHarness(): Harness {
    const admin = "admin-pw-0123456789";
    let port = 0;
    const connect = async (user: string, password: string, database: string) => {
        const c = new Client({ host: "127.0.0.1", port, user, password, database });
        await c.connect();
        return c;
    };
    return {
        engine: "postgresql",
        extension: "pgdump",
        async start(dir) {
            port = await freePort();
            await initPostgres({ dir, adminPassword: admin });
            const server = await startPostgres({ port, dir, adminPassword: admin, args: [] });
            const root = await connect("postgres", admin, "postgres");
            for (const app of APPS) {
                for (const sql of postgresqlRoleStatements(app, PASSWORDS[app], { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 })) await root.query(sql);
            }
            await root.end();
            return { port, secrets: { POSTGRES_PASSWORD: admin }, path: server.binDir, stop: () => server.stop() };
        },
        async query(app, sql) {
            const c = await connect(app, PASSWORDS[app], app);
            try {
                return (await c.query(sql)).rows;
            } finally {
                await c.end();
            }
        },
        async intrude(intruder, victim) {
            const c = new Client({ host: "127.0.0.1", port, user: intruder, password: PASSWORDS[intruder], database: victim });
            await assert.rejects(c.connect(), new RegExp(`permission denied for database "${victim}"`));
            await c.end().catch(() => undefined);
        },
        dumpText(file, binPath) {
            const sql = spawnSync(path.join(binPath, "pg_restore"), ["-f", "-", file], { encoding: "utf8" });
            assert.strictEqual(sql.status, 0, sql.stderr);
            return sql.stdout;
        },
        async notesOwner(app) {
            return String((await this.query(app, "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'"))[0].tableowner);
        },
        async plantTrap(app) {
            // Runs whenever a superuser's session calls it, or runs it after SET ROLE; does nothing for the app itself.
            const escalate = `IF session_user <> current_user OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN RESET ROLE; EXECUTE 'ALTER ROLE ${app} SUPERUSER'; END IF;`;
            // An operator the admin's catalog query would pick over pg_catalog's (no exact name !~ name there).
            await this.query(app, `CREATE FUNCTION public.trap_op(name, name) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN ${escalate} RETURN $1::text OPERATOR(pg_catalog.!~) $2::text; END $$`);
            await this.query(app, "CREATE OPERATOR public.!~ (LEFTARG = name, RIGHTARG = name, FUNCTION = public.trap_op)");
            // A CHECK that pg_restore evaluates while it loads the rows.
            await this.query(app, `CREATE FUNCTION public.trap_check(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN ${escalate} RETURN true; END $$`);
            await this.query(app, "CREATE TABLE trap (x int CHECK (public.trap_check(x))); INSERT INTO trap VALUES (1)");
        },
        // As the app, its code runs with its own rights: the restore goes through.
        trapRestore: "restored",
        async escalated(app) {
            const c = await connect("postgres", admin, "postgres");
            try {
                return (await c.query("SELECT rolsuper FROM pg_roles WHERE rolname = $1", [app])).rows[0].rolsuper === true;
            } finally {
                await c.end();
            }
        },
    };
}

function mysqlHarness(): Harness {
    let port = 0;
    const connect = (user: string, password: string, database?: string) => mysql.createConnection({ host: "127.0.0.1", port, user, password, database, multipleStatements: true });
    return {
        engine: "mysql",
        extension: "sql",
        async start(dir) {
            port = await freePort();
            const server = await startMariadb({ port, dir });
            const root = await connect("root", "");
            // What MysqlTenant registers: the database, the account, ALL on exactly that database.
            for (const app of APPS) {
                await root.query(`CREATE DATABASE \`${app}\``);
                await root.query(`CREATE USER '${app}'@'%' IDENTIFIED BY '${PASSWORDS[app]}'`);
                await root.query(`GRANT ALL PRIVILEGES ON \`${grantDatabasePattern(app)}\`.* TO '${app}'@'%'`);
            }
            await root.end();
            return { port, secrets: { MYSQL_ROOT_PASSWORD: "" }, path: "", stop: () => server.stop() };
        },
        async query(app, sql) {
            const c = await connect(app, PASSWORDS[app], app);
            try {
                const [rows] = await c.query(sql);
                return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
            } finally {
                await c.end();
            }
        },
        async intrude(intruder, victim) {
            await assert.rejects(connect(intruder, PASSWORDS[intruder], victim), /Access denied for user/);
        },
        dumpText: (file) => fs.readFileSync(file, "utf8"),
        async notesOwner(app) {
            // MySQL tables have no owner: the app's grant on its database is what must survive.
            await this.query(app, "SELECT 1 FROM notes LIMIT 1");
            return app;
        },
        async plantTrap(app, victim) {
            // A routine body in GBK: 0xBF 0x5C is one character to the server, but the mysql client
            // reading the dump sees 0x5C as a backslash escaping the quote, ends the string early and
            // takes the next lines as its commands (\c) and statements of their own.
            const c = await mysql.createConnection({ host: "127.0.0.1", port, user: app, password: PASSWORDS[app], database: app, charset: "GBK_CHINESE_CI" });
            // Double quotes: the server still reads all of it as one string literal.
            const injected = `UPDATE ${victim}.notes SET note = "pwned";;\nGRANT ALL ON *.* TO "${app}"@"%" WITH GRANT OPTION;;\n`;
            await c.query(`CREATE PROCEDURE trap() SELECT CONCAT('\u7e17', '\n\\c\n${injected}') # ' \\c`);
            await c.end();
        },
        // --binary-mode: the client refuses the smuggled command rather than run it.
        trapRestore: /Unknown command '\\c'/,
        async escalated(app) {
            const root = await connect("root", "");
            try {
                const [rows] = await root.query(`SHOW GRANTS FOR '${app}'@'%'`);
                return (rows as Record<string, string>[]).some((r) => Object.values(r)[0].includes("ON *.*") && !Object.values(r)[0].startsWith("GRANT USAGE"));
            } finally {
                await root.end();
            }
        },
    };
}

for (const harness of [postgresqlHarness(), mysqlHarness()]) {
    const { engine, extension } = harness;
    describe(`${engine}: per-tenant backup and restore on a real server (the rendered scripts)`, function () {
        this.timeout(60000);
        let tmp: { dir: string; remove(): void };
        let server: StartedServer;
        let jobs: Record<string, { backup: RenderedRun; restore: RenderedRun }>;
        let backupDir: string;
        let first: string;

        const rows = async (app: string) => (await harness.query(app, "SELECT id, note FROM notes ORDER BY id")).map((r) => `${r.id}:${r.note}`);
        // The app's own login Secret (key `password`) and the server's admin Secret, as the test server has them.
        const run = (app: string, job: RenderedRun, env: Record<string, string>) => {
            const secrets = { ...server.secrets, password: PASSWORDS[app] };
            const result = spawnSync("sh", ["-c", job.script], {
                encoding: "utf8",
                env: { PATH: [server.path, process.env.PATH].filter(Boolean).join(":"), ...job.env({ port: server.port, secrets, backupDir }), ...env },
            });
            return { status: result.status, stdout: result.stdout, stderr: result.stderr };
        };
        const backup = (app: string, keep = 28, env: Record<string, string> = {}) => run(app, jobs[app].backup, { KEEP: String(keep), ...env });
        const restore = (app: string, from: string, replace = false) => run(app, jobs[app].restore, { FROM: from, REPLACE: String(replace) });
        const files = () => fs.readdirSync(backupDir).sort();
        const nameIn = (stdout: string) => /^backup (\S+)$/m.exec(stdout)![1];
        const escaped = (s: string) => s.replace(/[.()]/g, (c) => `\\${c}`);

        before(async () => {
            tmp = tempDir(`backup-${engine}`);
            backupDir = path.join(tmp.dir, "backups");
            fs.mkdirSync(backupDir);
            jobs = await renderedBackupJobs(engine, {}, { app_a: {}, app_b: {} });
            server = await harness.start(tmp.dir);
            for (const app of APPS) {
                await harness.query(app, "CREATE TABLE notes (id int PRIMARY KEY, note text)");
                await harness.query(app, `INSERT INTO notes VALUES (1, '${app} first'), (2, '${app} secret')`);
            }
        });

        after(async () => {
            await server?.stop();
            tmp?.remove();
        });

        it(`dumps only the app's own data to <app>-${engine}-<time>.${extension}`, () => {
            const result = backup("app_a");
            assert.strictEqual(result.status, 0, result.stderr);
            first = nameIn(result.stdout);
            assert.match(first, new RegExp(`^app_a-${engine}-\\d{8}T\\d{6}Z\\.${extension}$`));
            assert.deepStrictEqual(files(), [first], "no partial or temporary file left");
            const text = harness.dumpText(path.join(backupDir, first), server.path);
            assert.match(text, /app_a secret/);
            assert.doesNotMatch(text, /app_b/);
        });

        it("refuses to restore into a database that holds data, unless replace", async () => {
            await harness.query("app_a", "DELETE FROM notes WHERE id = 2");
            await harness.query("app_a", "INSERT INTO notes VALUES (3, 'written after the backup')");
            const refused = restore("app_a", first);
            assert.strictEqual(refused.status, 1);
            assert.match(refused.stderr, new RegExp(`restore: the ${engine} database of app_a holds data; set replace: true`));
            assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "3:written after the backup"], "nothing was changed");
        });

        it("replaces the data with the backup's; the app uses its tables as before, the other tenant is untouched and still locked out", async () => {
            const result = restore("app_a", first, true);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
            await harness.query("app_a", "INSERT INTO notes VALUES (4, 'after the restore')");
            assert.strictEqual(await harness.notesOwner("app_a"), "app_a");
            assert.deepStrictEqual(await rows("app_b"), ["1:app_b first", "2:app_b secret"]);
            await harness.intrude("app_b", "app_a");
        });

        it("restores `latest` into an emptied database without replace", async () => {
            await harness.query("app_a", "DROP TABLE notes");
            const result = restore("app_a", "latest");
            assert.strictEqual(result.status, 0, result.stderr);
            assert.match(result.stdout, new RegExp(`restored ${escaped(first)}`));
            assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
        });

        it("never restores another app's backup into an app", async () => {
            const other = backup("app_b");
            assert.strictEqual(other.status, 0, other.stderr);
            const name = nameIn(other.stdout);
            const result = restore("app_a", name, true);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, new RegExp(`restore: ${escaped(name)} is not a backup of app_a \\(${engine}\\)`));
            // A name of app_a's on one line of several: grep alone would accept it.
            const sneaky = restore("app_a", `${name}\n${first}`, true);
            assert.strictEqual(sneaky.status, 1);
            assert.match(sneaky.stderr, /is not a backup of app_a/);
            assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
            fs.rmSync(path.join(backupDir, name));
        });

        it("keeps exactly KEEP of the app's backups, and none of another app's or engine's is touched", () => {
            const ext = extension;
            const older = ["20200101T000000Z", "20210101T000000Z", "20220101T000000Z"].map((t) => `app_a-${engine}-${t}.${ext}`);
            const others = [`app_a_x-${engine}-20200101T000000Z.${ext}`, `app_b-${engine}-20200101T000000Z.${ext}`, `app_a-other-20200101T000000Z.${ext}`];
            for (const f of [...older, ...others]) fs.writeFileSync(path.join(backupDir, f), "old");
            const result = backup("app_a", 2);
            assert.strictEqual(result.status, 0, result.stderr);
            const newest = nameIn(result.stdout);
            const mine = files().filter((f) => f.startsWith(`app_a-${engine}-`));
            // The two newest names: the first backup and this one are newer than the old ones.
            assert.deepStrictEqual(mine, [...new Set([...older, first, newest])].sort().slice(-2));
            assert.ok(mine.includes(newest), "the new backup is kept");
            for (const f of others) assert.ok(fs.existsSync(path.join(backupDir, f)), `${f} is not app_a's ${engine} backup: kept`);
        });

        it("runs none of a hostile tenant's planted code as the admin: it stays a tenant, the neighbour's data untouched", async () => {
            await harness.plantTrap("app_b", "app_a");
            assert.strictEqual(await harness.escalated("app_b"), false);
            const dumped = backup("app_b");
            assert.strictEqual(dumped.status, 0, dumped.stderr);
            const name = nameIn(dumped.stdout);
            // Without replace the emptiness check runs (and refuses); with it, the load runs the tenant's code.
            assert.strictEqual(restore("app_b", name).status, 1);
            const replaced = restore("app_b", name, true);
            if (harness.trapRestore === "restored") assert.strictEqual(replaced.status, 0, replaced.stderr);
            else assert.match(replaced.stderr, harness.trapRestore);
            assert.strictEqual(await harness.escalated("app_b"), false, "app_b is still a tenant");
            assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
            await harness.intrude("app_b", "app_a");
            fs.rmSync(path.join(backupDir, name));
        });

        it("deletes nothing when the dump fails", () => {
            const before = files();
            const wrong: Record<string, string> = engine === "postgresql" ? { PGPASSWORD: "wrong" } : { MYSQL_PASSWORD: "wrong" };
            const result = backup("app_a", 1, wrong);
            assert.notStrictEqual(result.status, 0);
            assert.match(result.stderr, /password authentication failed|Access denied/);
            assert.deepStrictEqual(files(), before, "no backup deleted and no partial file left");
        });
    });
}

describe("redis: per-tenant backup and restore on a real redis-server (the rendered scripts)", function () {
    this.timeout(60000);
    const DATABASES = 4;
    let redis: ProgramRedis;
    let urls: Record<string, string>;
    let backupDir: string;
    let jobs: Record<string, { backup: RenderedRun; restore: RenderedRun }>;
    const clients: Redis[] = [];
    const client = (url: string, db?: number) => {
        const c = new Redis(db === undefined ? url : url.replace(/\/\d+$/, `/${db}`), { lazyConnect: false, maxRetriesPerRequest: 0 });
        clients.push(c);
        return c;
    };
    const run = (job: RenderedRun, env: Record<string, string>) => {
        const result = spawnSync("sh", ["-c", job.script], {
            encoding: "utf8",
            env: { PATH: process.env.PATH, ...job.env({ port: redis.port, secrets: { REDISCLI_AUTH: redis.adminPassword }, backupDir }), ...env },
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const backup = (app: string) => run(jobs[app].backup, { KEEP: "5" });
    const restore = (app: string, from: string, replace = false) => run(jobs[app].restore, { FROM: from, REPLACE: String(replace) });

    /**
     * An app's keys in every database, as the admin reads them: key -> type, value and absolute
     * expiry. By value, not DUMP bytes: a restored hash table may iterate in another order.
     */
    async function snapshot(app: string): Promise<Record<string, string>> {
        const hex = (v: unknown): unknown => (Buffer.isBuffer(v) ? v.toString("hex") : Array.isArray(v) ? v.map(hex) : v);
        const valueOf = async (admin: Redis, key: Buffer, type: string): Promise<unknown> => {
            switch (type) {
                case "string":
                    return hex(await admin.getBuffer(key));
                case "hash":
                    return (hex(await admin.hgetallBuffer(key).then((h) => Object.entries(h).map(([f, v]) => [Buffer.from(f), v]))) as string[][]).map((p) => p.join("=")).sort();
                case "list":
                    return hex(await admin.lrangeBuffer(key, 0, -1));
                case "set":
                    return (hex(await admin.smembersBuffer(key)) as string[]).sort();
                case "zset":
                    return hex(await admin.callBuffer("ZRANGE", key, "0", "-1", "WITHSCORES"));
                default:
                    return hex(await admin.callBuffer("XRANGE", key, "-", "+"));
            }
        };
        const out: Record<string, string> = {};
        for (let db = 0; db < DATABASES; db++) {
            const admin = client(redis.adminUrl(db));
            for (const key of await admin.keysBuffer(`${app}:*`)) {
                const type = await admin.type(key);
                out[`${db}/${key.toString("hex")}`] = JSON.stringify([type, await valueOf(admin, key, type), await admin.call("PEXPIRETIME", key)]);
            }
        }
        return out;
    }

    // Random, so the DUMP payload stays big (Redis compresses strings): restored through stdin, not argv.
    const big = crypto.randomBytes(200000);

    before(async () => {
        jobs = await renderedBackupJobs("redis", { databases: DATABASES }, { app_a: { db: 1 }, app_b: { db: 2 } });
        const program = redisProgram({
            version: "7.0",
            databases: DATABASES,
            tenants: [
                { app: "app_a", db: 1 },
                { app: "app_b", db: 2 },
            ],
        });
        redis = await startProgramRedis(program, "backup-redis");
        ({ urls } = await createProgramTenants(program, redis.port));
        const tmp = path.join(path.dirname(redis.aclFile), "..", "backups");
        fs.mkdirSync(tmp);
        backupDir = tmp;
        // app_a: every type, a TTL, binary key and value, a value too big for one batch, and keys in another database.
        const a = client(urls.app_a);
        await writeEveryRedisType(a, "app_a");
        await a.set("app_a:big", big);
        await client(urls.app_a, 3).set("app_a:elsewhere", "in db 3");
        const b = client(urls.app_b);
        await b.set("app_b:secret", "app_b secret");
        await b.hset("app_b:h", { f: "v" });
    });

    after(async () => {
        for (const c of clients) c.disconnect();
        await redis?.remove();
    });

    let first: string;
    let original: Record<string, string>;

    it("writes every key of the app, in every database, and nothing of another app's", async () => {
        original = await snapshot("app_a");
        assert.strictEqual(Object.keys(original).length, 9);
        const result = backup("app_a");
        assert.strictEqual(result.status, 0, result.stderr);
        first = /^backup (\S+)$/m.exec(result.stdout)![1];
        assert.match(first, /^app_a-redis-\d{8}T\d{6}Z\.redis$/);
        const lines = fs.readFileSync(path.join(backupDir, first), "utf8").trim().split("\n");
        assert.strictEqual(lines.length, 9);
        assert.ok(lines.some((l) => l.split(" ")[3].length > 65536), "one payload takes the one-key-at-a-time path");
        const keys = lines.map((l) => Buffer.from(l.split(" ")[1], "hex").toString("latin1"));
        assert.ok(keys.every((k) => k.startsWith("app_a:")), keys.join(", "));
        assert.ok(!fs.readFileSync(path.join(backupDir, first), "utf8").includes(Buffer.from("app_b").toString("hex")));
    });

    it("refuses to restore over the app's keys unless replace, then restores them exactly (types, binary, TTLs, other databases)", async () => {
        const a = client(urls.app_a);
        await a.del("app_a:h", "app_a:big");
        await a.set("app_a:s", "changed");
        await a.set("app_a:new", "written after the backup");
        const refused = restore("app_a", first);
        assert.strictEqual(refused.status, 1);
        assert.match(refused.stderr, /restore: the redis database of app_a holds data; set replace: true/);
        const result = restore("app_a", first, true);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(await snapshot("app_a"), original, "exactly the backed-up keys, values and expiry times");
        assert.strictEqual(await client(urls.app_b).get("app_b:secret"), "app_b secret", "the other tenant is untouched");
        assert.strictEqual((await client(urls.app_a).getBuffer("app_a:big"))!.equals(big), true, "the app reads its big value back");
    });

    it("restores into an emptied key space without replace", async () => {
        const admin = client(redis.adminUrl(1));
        await admin.del(...(await admin.keysBuffer("app_a:*")));
        await client(redis.adminUrl(3)).del("app_a:elsewhere");
        assert.deepStrictEqual(await snapshot("app_a"), {});
        const result = restore("app_a", "latest");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(await snapshot("app_a"), original);
    });

    it("writes no key outside the app's prefix, whatever the backup file holds", async () => {
        // app_a's backup, with one line changed to name app_b's key.
        const lines = fs.readFileSync(path.join(backupDir, first), "utf8").trim().split("\n");
        const [db, , at, payload] = lines[0].split(" ");
        const forged = "app_a-redis-20990101T000000Z.redis";
        fs.writeFileSync(path.join(backupDir, forged), [...lines, `${db} ${Buffer.from("app_b:secret").toString("hex")} ${at} ${payload}`].join("\n") + "\n");
        const result = restore("app_a", forged, true);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /key outside app_a:/);
        assert.strictEqual(await client(urls.app_b).get("app_b:secret"), "app_b secret");
        fs.rmSync(path.join(backupDir, forged));
    });

    it("restores many values of 20-60 KB exactly (command lines of that size were split mid-key)", async () => {
        const a = client(urls.app_a);
        const before = await snapshot("app_a");
        const mids = Array.from({ length: 12 }, (_, i) => [`app_a:mid${i}`, crypto.randomBytes(20000 + i * 3500)] as const);
        for (const [k, v] of mids) await a.set(k, v);
        const withMids = await snapshot("app_a");
        const result = backup("app_a");
        assert.strictEqual(result.status, 0, result.stderr);
        await a.del(...mids.map(([k]) => k));
        const restored = restore("app_a", /^backup (\S+)$/m.exec(result.stdout)![1], true);
        assert.strictEqual(restored.status, 0, restored.stderr);
        assert.deepStrictEqual(await snapshot("app_a"), withMids);
        await a.del(...mids.map(([k]) => k));
        assert.deepStrictEqual(await snapshot("app_a"), before);
    });

    it("defers keys beyond a call's budget (a 64th of maxmemory) to calls of their own; a key beyond it fails that app's backup, not the server", async () => {
        const admin = client(redis.adminUrl(1));
        const cap = Math.floor(Number(((await admin.config("GET", "maxmemory")) as string[])[1]) / 64);
        const evals = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await admin.info("commandstats"))![1]);
        const a = client(urls.app_a);
        const before = await snapshot("app_a");
        let calls = await evals();
        assert.strictEqual(backup("app_a").status, 0);
        const plain = (await evals()) - calls;
        // Three values of 0.4 of the budget: one batch cannot hold them all.
        const big = [0, 1, 2].map((i) => [`app_a:big${i}`, crypto.randomBytes(Math.floor(cap * 0.4))] as const);
        for (const [k, v] of big) await a.set(k, v);
        const withBig = await snapshot("app_a");
        calls = await evals();
        const result = backup("app_a");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok((await evals()) - calls > plain, "deferred keys are dumped by calls of their own");
        await a.del(...big.map(([k]) => k));
        assert.strictEqual(restore("app_a", /^backup (\S+)$/m.exec(result.stdout)![1], true).status, 0);
        assert.deepStrictEqual(await snapshot("app_a"), withBig, "restored exactly");
        await a.del(...big.map(([k]) => k));
        assert.deepStrictEqual(await snapshot("app_a"), before);

        // A tenant's key beyond the limit: that app's backup fails and names it; the server and the neighbour carry on.
        await a.set("app_a:huge", crypto.randomBytes(Math.floor(cap * 1.1)));
        const files = fs.readdirSync(backupDir).sort();
        const refused = backup("app_a");
        assert.notStrictEqual(refused.status, 0);
        assert.match(refused.stderr, new RegExp(`key ${Buffer.from("app_a:huge").toString("hex")} \\(hex\\) uses \\d+ bytes; a backup dumps at most ${cap} bytes per key`));
        assert.deepStrictEqual(fs.readdirSync(backupDir).sort(), files, "older backups kept, no partial file");
        assert.strictEqual(await client(urls.app_b).get("app_b:secret"), "app_b secret");
        assert.strictEqual(backup("app_b").status, 0, "the neighbour's backup is not affected");
        await a.del("app_a:huge");
    });

    it("fails, keeping the older backups, when the server refuses the admin", () => {
        const before = fs.readdirSync(backupDir).sort();
        const result = run(jobs.app_a.backup, { KEEP: "1", REDISCLI_AUTH: "wrong" });
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /WRONGPASS|invalid username-password/);
        assert.deepStrictEqual(fs.readdirSync(backupDir).sort(), before);
    });
});
