// Moving a tenant between two real servers of an engine, running exactly the scripts the program
// renders for a move: copyOutScript(HOOK.commands) with the old server's variables and
// copyInScript(HOOK.commands) with the new server's, both from backupEnvironment (each server gives
// the app a password of its own). PostgreSQL: two clusters from the Debian package; MariaDB stands
// in for MySQL (two servers); Redis: two redis-server started as the program starts them, with the
// program's tenants. On each server `app_a` is the app that moves and `app_b` a neighbour.
import * as assert from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import Redis from "ioredis";
import * as mysql from "mysql2/promise";
import * as path from "path";
import { Client } from "pg";
import { EngineBackup, backupEnvironment, copyInScript, copyOutScript } from "../components/backup";
import { grantDatabasePattern } from "../components/mysql/mysql";
import { MYSQL_BACKUP } from "../components/mysql/engine";
import { POSTGRESQL_BACKUP } from "../components/postgresql/engine";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import { REDIS_BACKUP } from "../components/redis/engine";
import { RedisServer } from "../components/redis/redis";
import { redisAclUserProvider } from "../components/redis/redis-acl-user";
import { tenantAclRules } from "../components/redis/redis-acl";
import { mysqlConnectionLimitProvider } from "../components/mysql/mysql-connection-limit";
import { initPostgres, startPostgres } from "./helpers/postgres";
import { ProgramRedis, RedisProgram, UserInputs, createProgramTenants, redisProgram, startProgramRedis, writeEveryRedisType } from "./helpers/redis-server";
import { freePort, startMariadb, tempDir } from "./helpers/servers";
import { RecordedResource } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";

type Label = "A" | "B";
const APP = "app_a";
const NEIGHBOUR = "app_b";

/** One of the two servers, with the tenants set up as the program sets them up. */
interface Server {
    label: Label;
    port: number;
    /** What the server's container environment holds (its admin Secret). */
    serverEnv: Record<string, string>;
    /** Each tenant's password on this server. */
    passwords: Record<string, string>;
    /** The client tools' directory, before PATH. */
    binPath: string;
    stop(): Promise<void>;
}

/** A connection the app holds open, as a running app does. */
interface Session {
    write(id: number): Promise<void>;
    /** Reads the app's data: the last note it wrote. */
    read(): Promise<number>;
    /** What the server told the connection unasked (a termination). */
    events: string[];
    close(): void;
}

interface Engine {
    engine: "postgresql" | "mysql" | "redis";
    hook: EngineBackup;
    server: { options: unknown };
    tenant(app: string): { app: string; options: unknown };
    start(label: Label, dir: string): Promise<Server>;
    /** app_a's data, rich, on A; each neighbour's own on A and B. */
    seed(s: Server): Promise<void>;
    /** The app's data on the server, by value. */
    data(s: Server, app: string): Promise<unknown>;
    /** The app changes its data (on the server it lives on). */
    change(s: Server): Promise<void>;
    session(s: Server, app: string): Promise<Session>;
    /** The old copy is dropped and the tenant created anew, with a new password (a fresh tenant). */
    recreate(s: Server): Promise<void>;
    /** The app's data on the server is dropped, its tenancy kept (as a failed copy leaves it). */
    empty(s: Server): Promise<void>;
    /** What app_a's counts file says of the seeded data and the running app's write of note 100. */
    counts: string;
    /** Makes the copy-in of the copy in `dir` load less than the dump holds: extra PATH entries (in `work`), and the count lines that then differ. */
    truncate(dir: string, work: string, s: Server): { path: string[]; source: string; target: string };
    /** The first call of the dump tool, to pause at: tool and a word of its arguments. */
    dumpTool: { name: string; word: string };
    /** The restore's tool call, to let it load and then hang: tool and a word of its arguments. */
    restoreTool: { name: string; word: string };
    /** What the running app's open connection is told when the freeze ends it (none: it lives on), and its write's error. */
    existingSession: { events: string[]; write: string };
    /** A new connection's write error during the freeze. */
    frozenWrite: string;
    /** `intruder` tries `victim`'s data on the server: refused. */
    intrude(s: Server, intruder: string, victim: string): Promise<void>;
    /** A secret of the neighbour's that no dump of app_a may hold. */
    neighbourSecret: string;
    /** The dump as text. */
    dumpText(file: string, s: Server): string;
    /**
     * What the program does to app_a's old tenancy once its copy succeeded (`disabled`), and back,
     * through the tenancy's own provider. PostgreSQL: none of ours (the postgresql provider's Role
     * with `login: false`).
     */
    disable?(s: Server, disabled: boolean): Promise<void>;
    /** A new login of the disabled app is refused with this. */
    disabledLogin?: RegExp;
}

const run = (script: string, env: Record<string, string>) => {
    const r = spawnSync("sh", ["-c", script], { encoding: "utf8", env });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

function runAsync(script: string, env: Record<string, string>): { done: Promise<{ status: number | null; stdout: string; stderr: string }>; child: ChildProcess } {
    const child = spawn("sh", ["-c", script], { env });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    return { child, done: new Promise((resolve) => child.once("close", (status) => resolve({ status, stdout, stderr }))) };
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
    }
}

/**
 * A wrapper of `tool` (as found on `searchPath`) in `dir` that acts at its first call with `word`:
 * `pause` stops it before it runs until `<dir>/go` exists, leaving `<dir>/paused`; `hang` runs it
 * and then never returns, leaving `<dir>/loaded` (a restore that loaded and hung). Other calls run
 * the tool as they are.
 */
function wrapTool(how: "pause" | "hang", dir: string, tool: string, word: string, searchPath: string): void {
    const real = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8", env: { PATH: searchPath } }).trim();
    const first =
        how === "pause"
            ? `if [ ! -e '${dir}/paused' ]; then : > '${dir}/paused'; while [ ! -e '${dir}/go' ]; do sleep 0.01; done; fi`
            : `if [ ! -e '${dir}/loaded' ]; then '${real}' "$@"; : > '${dir}/loaded'; exec sleep 600; fi`;
    const script = ["#!/bin/sh", `case " $* " in *" ${word} "*) ${first};; esac`, `exec '${real}' "$@"`].join("\n");
    fs.writeFileSync(path.join(dir, tool), script, { mode: 0o755 });
}

function postgresql(): Engine {
    const servers = new Map<Server, { admin: string }>();
    const connect = async (s: Server, user: string, password: string, database: string) => {
        const c = new Client({ host: "127.0.0.1", port: s.port, user, password, database });
        await c.connect();
        return c;
    };
    const asApp = async <T>(s: Server, app: string, f: (c: Client) => Promise<T>) => {
        const c = await connect(s, app, s.passwords[app], app);
        try {
            return await f(c);
        } finally {
            await c.end();
        }
    };
    const asAdmin = async (s: Server, sql: string[]) => {
        const c = await connect(s, "postgres", servers.get(s)!.admin, "postgres");
        try {
            for (const q of sql) await c.query(q);
        } finally {
            await c.end();
        }
    };
    const limits = { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 };
    return {
        engine: "postgresql",
        hook: POSTGRESQL_BACKUP,
        server: { options: { tuning: {} } },
        tenant: (app) => ({ app, options: limits }),
        async start(label, dir) {
            const port = await freePort();
            const admin = `admin-${label}-0123456789`;
            await initPostgres({ dir, adminPassword: admin });
            const pg = await startPostgres({ port, dir, adminPassword: admin, args: [] });
            const s: Server = { label, port, serverEnv: { POSTGRES_PASSWORD: admin }, passwords: {}, binPath: pg.binDir, stop: () => pg.stop() };
            servers.set(s, { admin });
            for (const app of [APP, NEIGHBOUR]) s.passwords[app] = `pw-${app}-${label}-0123456789`;
            await asAdmin(s, [APP, NEIGHBOUR].flatMap((app) => postgresqlRoleStatements(app, s.passwords[app], limits)));
            return s;
        },
        async seed(s) {
            if (s.label === "A") {
                await asApp(s, APP, (c) =>
                    c.query(
                        "CREATE TABLE notes (id int PRIMARY KEY, note text); INSERT INTO notes VALUES (1, 'first'), (2, 'second'), (3, 'third');" +
                            'CREATE TABLE "empty" (x int);' +
                            'CREATE SCHEMA "Other Schema"; CREATE TABLE "Other Schema"."Big Table" (id int, v bytea);' +
                            "INSERT INTO \"Other Schema\".\"Big Table\" VALUES (1, '\\x00ff0a'), (2, NULL);" +
                            "SELECT lo_from_bytea(0, 'a large object')",
                    ),
                );
            }
            await asApp(s, NEIGHBOUR, (c) => c.query(`CREATE TABLE secrets (id int, v text); INSERT INTO secrets VALUES (1, 'app_b secret on ${s.label}')`));
        },
        async data(s, app) {
            return asApp(s, app, async (c) => {
                const own = (await c.query("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).rows.map((r) => r.t as string);
                const out: Record<string, unknown> = {};
                for (const t of own) out[t] = (await c.query(`SELECT * FROM ${t} ORDER BY 1`)).rows;
                out["large objects"] = (await c.query("SELECT lo_get(oid) AS v FROM pg_largeobject_metadata ORDER BY 1")).rows;
                return out;
            });
        },
        async change(s) {
            await asApp(s, APP, (c) => c.query("INSERT INTO notes VALUES (4, 'written on B'); DELETE FROM notes WHERE id = 1; UPDATE \"Other Schema\".\"Big Table\" SET v = '\\x01' WHERE id = 2"));
        },
        async session(s, app) {
            const c = new Client({ host: "127.0.0.1", port: s.port, user: app, password: s.passwords[app], database: app });
            const events: string[] = [];
            c.on("error", (e) => events.push(e.message));
            await c.connect();
            const table = app === APP ? "notes" : "secrets";
            return {
                events,
                write: async (id) => void (await c.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id])),
                read: async () => Number((await c.query(`SELECT max(id) AS n FROM ${table}`)).rows[0].n),
                close: () => void c.end().catch(() => undefined),
            };
        },
        async empty(s) {
            await asApp(s, APP, (c) => c.query("SET default_transaction_read_only = off; DROP OWNED BY CURRENT_USER CASCADE"));
        },
        async recreate(s) {
            s.passwords[APP] = `pw-${APP}-${s.label}-again-0123456789`;
            await asAdmin(s, [`DROP DATABASE ${APP} WITH (FORCE)`, `DROP ROLE ${APP}`, ...postgresqlRoleStatements(APP, s.passwords[APP], limits)]);
        },
        counts: ['"Other Schema"."Big Table" 2', "large objects 1", "public.empty 0", "public.notes 4"].join("\n") + "\n",
        truncate(_dir, work, s) {
            // pg_restore without the rows of public.notes: a restore that loaded less than the dump.
            const real = path.join(s.binPath, "pg_restore");
            const script = [
                "#!/bin/sh",
                'for last; do :; done',
                `'${real}' -l "$last" | grep -v ' TABLE DATA public notes ' > '${work}/list'`,
                `exec '${real}' -L '${work}/list' "$@"`,
            ].join("\n");
            fs.writeFileSync(path.join(work, "pg_restore"), script, { mode: 0o755 });
            return { path: [work], source: "public.notes 4", target: "public.notes 0" };
        },
        dumpTool: { name: "pg_dump", word: "--format=custom" },
        restoreTool: { name: "pg_restore", word: "--single-transaction" },
        existingSession: {
            events: ["terminating connection due to administrator command", "Connection terminated unexpectedly"],
            write: "Client has encountered a connection error and is not queryable",
        },
        frozenWrite: "cannot execute INSERT in a read-only transaction",
        async intrude(s, intruder, victim) {
            const c = new Client({ host: "127.0.0.1", port: s.port, user: intruder, password: s.passwords[intruder], database: victim });
            await assert.rejects(c.connect(), { message: `permission denied for database "${victim}"` });
            await c.end().catch(() => undefined);
        },
        neighbourSecret: "app_b secret",
        dumpText(file, s) {
            const r = spawnSync(path.join(s.binPath, "pg_restore"), ["-f", "-", file], { encoding: "utf8" });
            assert.strictEqual(r.status, 0, r.stderr);
            return r.stdout;
        },
    };
}

function mariadb(): Engine {
    const roots = new Map<Server, string>();
    const connect = (s: Server, user: string, password: string, database?: string) =>
        mysql.createConnection({ host: "127.0.0.1", port: s.port, user, password, database, multipleStatements: true });
    const query = async (s: Server, user: string, password: string, database: string | undefined, sql: string) => {
        const c = await connect(s, user, password, database);
        try {
            const [rows] = await c.query(sql);
            return rows as Record<string, unknown>[];
        } finally {
            await c.end();
        }
    };
    const asApp = (s: Server, app: string, sql: string) => query(s, app, s.passwords[app], app, sql);
    const asRoot = (s: Server, sql: string) => query(s, "root", roots.get(s)!, undefined, sql);
    const createTenant = (s: Server, app: string) =>
        asRoot(s, `CREATE DATABASE \`${app}\`; CREATE USER '${app}'@'%' IDENTIFIED BY '${s.passwords[app]}'; GRANT ALL PRIVILEGES ON \`${grantDatabasePattern(app)}\`.* TO '${app}'@'%'`);
    return {
        engine: "mysql",
        hook: MYSQL_BACKUP,
        server: { options: { tuning: {} } },
        tenant: (app) => ({ app, options: { maxConnections: 10 } }),
        async start(label, dir) {
            const port = await freePort();
            const server = await startMariadb({ port, dir });
            const root = `root-${label}-0123456789`;
            const s: Server = { label, port, serverEnv: { MYSQL_ROOT_PASSWORD: root }, passwords: {}, binPath: "", stop: () => server.stop() };
            // The program's root has a password; the helper's has none.
            roots.set(s, "");
            const accounts = (await asRoot(s, "SELECT Host FROM mysql.user WHERE User = 'root'")).map((r) => r.Host as string);
            await asRoot(s, accounts.map((h) => `ALTER USER 'root'@'${h}' IDENTIFIED BY '${root}'`).join("; "));
            roots.set(s, root);
            for (const app of [APP, NEIGHBOUR]) {
                s.passwords[app] = `pw-${app}-${label}-0123456789`;
                await createTenant(s, app);
            }
            return s;
        },
        async seed(s) {
            if (s.label === "A") {
                await asApp(
                    s,
                    APP,
                    "CREATE TABLE notes (id int PRIMARY KEY, note text); INSERT INTO notes VALUES (1, 'first'), (2, 'second'), (3, 'third');" +
                        "CREATE TABLE `empty` (x int); CREATE TABLE `odd name` (id int PRIMARY KEY, v blob); INSERT INTO `odd name` VALUES (1, x'00ff0a'), (2, NULL);" +
                        "CREATE VIEW first_notes AS SELECT note FROM notes WHERE id = 1",
                );
            }
            await asApp(s, NEIGHBOUR, `CREATE TABLE secrets (id int, v text); INSERT INTO secrets VALUES (1, 'app_b secret on ${s.label}')`);
        },
        async data(s, app) {
            const out: Record<string, unknown> = {};
            const tables = await asApp(s, app, "SELECT TABLE_NAME AS t, TABLE_TYPE AS y FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1");
            for (const { t, y } of tables) out[`${t} (${y})`] = await asApp(s, app, `SELECT * FROM \`${t}\` ORDER BY 1`);
            return out;
        },
        async change(s) {
            await asApp(s, APP, "INSERT INTO notes VALUES (4, 'written on B'); DELETE FROM notes WHERE id = 1; UPDATE `odd name` SET v = x'01' WHERE id = 2");
        },
        async session(s, app) {
            const c = await connect(s, app, s.passwords[app], app);
            const events: string[] = [];
            c.on("error", (e) => events.push(e.message));
            const table = app === APP ? "notes" : "secrets";
            return {
                events,
                write: async (id) => void (await c.query(`INSERT INTO ${table} (id) VALUES (?)`, [id])),
                read: async () => Number(((await c.query(`SELECT MAX(id) AS n FROM ${table}`))[0] as { n: number }[])[0].n),
                close: () => c.destroy(),
            };
        },
        async empty(s) {
            await asRoot(s, `DROP DATABASE \`${APP}\`; CREATE DATABASE \`${APP}\``);
        },
        async recreate(s) {
            s.passwords[APP] = `pw-${APP}-${s.label}-again-0123456789`;
            await asRoot(s, `DROP DATABASE \`${APP}\`; DROP USER '${APP}'@'%'`);
            await createTenant(s, APP);
        },
        counts: ["empty 0", "notes 4", "odd name 2"].join("\n") + "\n",
        truncate(dir) {
            // The dump without the last row of notes: it loads, one row short.
            const [name] = fs.readdirSync(dir).filter((f) => f.endsWith(".sql"));
            const file = path.join(dir, name);
            const text = fs.readFileSync(file, "utf8");
            const cut = text.replace(/,\s*\(100,NULL\);/, ";");
            assert.notStrictEqual(cut, text, "the dump holds the row of note 100, last");
            fs.writeFileSync(file, cut);
            return { path: [], source: "notes 4", target: "notes 3" };
        },
        dumpTool: { name: "mysqldump", word: "--single-transaction" },
        restoreTool: { name: "mysql", word: "--binary-mode" },
        existingSession: { events: ["Connection lost: The server closed the connection."], write: "Can't add new command when connection is in closed state" },
        frozenWrite: "INSERT command denied to user 'app_a'@'localhost' for table `app_a`.`notes`",
        async intrude(s, intruder, victim) {
            await assert.rejects(connect(s, intruder, s.passwords[intruder], victim), { message: `Access denied for user '${intruder}'@'%' to database '${victim}'` });
        },
        neighbourSecret: "app_b secret",
        dumpText: (file) => fs.readFileSync(file, "utf8"),
        async disable(s, disabled) {
            const state = { host: "127.0.0.1", port: s.port, adminUser: "root", adminPassword: roots.get(s)!, user: APP, maxUserConnections: 10, locked: disabled };
            await mysqlConnectionLimitProvider.update!(`${APP}@%`, state, state);
            const read = await mysqlConnectionLimitProvider.read!(`${APP}@%`, { ...state, locked: !disabled });
            assert.strictEqual(read.props?.locked, disabled, "read sees the lock as it is");
        },
        disabledLogin: /^Access denied, this account is locked$/,
    };
}

function redis(): Engine {
    const DATABASES = 4;
    const DB: Record<string, number> = { [APP]: 1, [NEIGHBOUR]: 2 };
    const handles = new Map<Server, { redis: ProgramRedis; users: Record<string, UserInputs> }>();
    const clients: Redis[] = [];
    const client = (s: Server, user: string, password: string, db: number) => {
        const c = new Redis({ host: "127.0.0.1", port: s.port, username: user, password, db, maxRetriesPerRequest: 0, lazyConnect: false });
        c.on("error", () => undefined);
        clients.push(c);
        return c;
    };
    const admin = (s: Server, db: number) => client(s, "admin", handles.get(s)!.redis.adminPassword, db);
    const app = (s: Server, user: string, db = DB[user]) => client(s, user, s.passwords[user], db);
    const program = (label: Label): RedisProgram => {
        const args = { version: "7.0", databases: DATABASES, tenants: [APP, NEIGHBOUR].map((a) => ({ app: a, db: DB[a] })) };
        // Named apart, so each server has an admin password of its own.
        return label === "A"
            ? redisProgram(args)
            : (runtime) => () =>
                  new RedisServer("redis-b", {
                      ...args,
                      storageGi: 1,
                      resources: { requests: { memory: "128Mi", cpu: "100m" }, limits: { memory: "256Mi", cpu: "250m" } },
                      runtime,
                  });
    };
    const hex = (v: unknown): unknown => (Buffer.isBuffer(v) ? v.toString("hex") : Array.isArray(v) ? v.map(hex) : v);
    return {
        engine: "redis",
        hook: REDIS_BACKUP,
        server: { options: { databases: DATABASES, tuning: {} } },
        tenant: (a) => ({ app: a, options: { db: DB[a], scripting: false } }),
        async start(label) {
            const p = program(label);
            const r = await startProgramRedis(p, `move-redis-${label}`);
            const { users, states } = await createProgramTenants(p, r.port);
            const s: Server = {
                label,
                port: r.port,
                serverEnv: { REDISCLI_AUTH: r.adminPassword },
                passwords: Object.fromEntries(Object.entries(states).map(([u, st]) => [u, st.password])),
                binPath: "",
                stop: async () => {
                    for (const c of clients) c.disconnect();
                    await r.remove();
                },
            };
            handles.set(s, { redis: r, users });
            return s;
        },
        async seed(s) {
            if (s.label === "A") {
                const a = app(s, APP);
                await writeEveryRedisType(a, APP);
                // What the sessions below read and write.
                await a.set("app_a:notes", "3", "EX", 3600);
                await app(s, APP, 3).set("app_a:elsewhere", "in db 3");
            }
            await app(s, NEIGHBOUR).set("app_b:secret", `app_b secret on ${s.label}`);
        },
        async data(s, user) {
            const out: Record<string, unknown> = {};
            for (let db = 0; db < DATABASES; db++) {
                const c = admin(s, db);
                for (const key of await c.keysBuffer(`${user}:*`)) {
                    const type = await c.type(key);
                    const value =
                        type === "string" ? await c.getBuffer(key)
                        : type === "hash" ? Object.entries(await c.hgetall(key)).sort()
                        : type === "list" ? await c.lrangeBuffer(key, 0, -1)
                        : type === "set" ? (await c.smembers(key)).sort()
                        : type === "zset" ? await c.zrange(key, 0, -1, "WITHSCORES")
                        : await c.xrange(key, "-", "+");
                    out[`${db}/${key.toString("hex")}`] = [type, hex(value), await c.call("PEXPIRETIME", key)];
                }
            }
            return out;
        },
        async change(s) {
            const a = app(s, APP);
            await a.set("app_a:written_on_b", "new");
            await a.del("app_a:set");
            await a.hset("app_a:h", "f1", "changed");
        },
        async session(s, user) {
            const c = app(s, user);
            await c.ping();
            const key = `${user}:notes`;
            return {
                events: [],
                write: async (id) => void (await c.set(key, String(id))),
                read: async () => Number(await c.get(key)),
                close: () => c.disconnect(),
            };
        },
        async empty(s) {
            for (let db = 0; db < DATABASES; db++) {
                const c = admin(s, db);
                const keys = await c.keysBuffer(`${APP}:*`);
                if (keys.length > 0) await c.del(...keys);
            }
        },
        async recreate(s) {
            // The old copy's keys are deleted (decommissioned, or by hand); the user is made anew (new password).
            await this.empty(s);
            const { users } = handles.get(s)!;
            const outs = (await redisAclUserProvider.create!(users[APP])).outs!;
            s.passwords[APP] = outs.password;
        },
        // app_a:s (an hour's expiry) expires before a copy can have ended: copied, not counted.
        counts: "db1 7\ndb3 1\n",
        truncate(dir) {
            // The dump without one of db 1's keys.
            const [name] = fs.readdirSync(dir).filter((f) => f.endsWith(".redis"));
            const file = path.join(dir, name);
            const lines = fs.readFileSync(file, "utf8").trim().split("\n");
            const cut = lines.filter((l) => l.split(" ")[1] !== Buffer.from("app_a:l").toString("hex"));
            assert.strictEqual(cut.length, lines.length - 1);
            fs.writeFileSync(file, cut.join("\n") + "\n");
            return { path: [], source: "db1 7", target: "db1 6" };
        },
        dumpTool: { name: "redis-cli", word: "EVAL" },
        restoreTool: { name: "redis-cli", word: "--pipe" },
        existingSession: { events: [], write: "NOPERM this user has no permissions to run the 'set' command" },
        frozenWrite: "NOPERM this user has no permissions to run the 'set' command",
        async intrude(s, intruder, victim) {
            await assert.rejects(app(s, intruder).get(`${victim}:notes`), { message: "NOPERM this user has no permissions to access one of the keys used as arguments" });
            await assert.rejects(app(s, intruder).scan(0), { message: "NOPERM this user has no permissions to run the 'scan' command" });
        },
        neighbourSecret: Buffer.from("app_b").toString("hex"),
        dumpText: (file) => fs.readFileSync(file, "utf8"),
        async disable(s, disabled) {
            const { users } = handles.get(s)!;
            const state = { ...users[APP], password: s.passwords[APP], rules: tenantAclRules(APP, { scripting: false }).join(" ") };
            const outs = (await redisAclUserProvider.update!(APP, { ...state, enabled: !disabled }, { ...state, enabled: !disabled ? true : false })).outs!;
            const read = await redisAclUserProvider.read!(APP, outs);
            assert.deepStrictEqual(read.props, outs, "read finds the user as the program left it");
        },
        disabledLogin: /^WRONGPASS invalid username-password pair or user is disabled\.$/,
    };
}

const ENGINES = [postgresql(), mariadb(), redis()];

/**
 * A Docker stack whose app_a moves each engine to a dedicated server, run under mocks: its move
 * commands are what the Docker tests run (the engines' settings match the servers here).
 */
const DOCKER_MOVES = {
    target: "docker",
    engines: { postgresql: {}, mysql: {}, redis: { databases: 4 } },
    apps: {
        app_a: { postgresql: { placement: "dedicated", moveFrom: "shared" }, mysql: { placement: "dedicated", moveFrom: "shared" }, redis: { db: 1, placement: "dedicated", moveFrom: "shared" } },
        app_b: { postgresql: {}, mysql: {}, redis: { db: 2 } },
    },
};

/**
 * A stand-in `docker` for the move command: `inspect` prints a container's environment, `run`
 * runs the script of `--entrypoint=sh ... -c` on the host the way the container would: the env
 * file's variables, the volume's host directory as BACKUP_DIR, and the test server the
 * `--network=container:` names in place of 127.0.0.1 and the engine's port. Each call is logged.
 */
const STAND_IN_DOCKER = String.raw`#!/usr/bin/env node
const fs = require("fs"), path = require("path"), { spawnSync } = require("child_process");
const dir = process.env.FAKE_DOCKER_DIR, args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls"), JSON.stringify(args) + "\n");
const container = (name) => JSON.parse(fs.readFileSync(path.join(dir, name + ".json"), "utf8"));
if (args[0] === "inspect") {
    process.stdout.write(Object.entries(container(args[args.length - 1]).serverEnv).map(([k, v]) => k + "=" + v + "\n").join("") + "\n");
    process.exit(0);
}
if (args[0] !== "run") { console.error("stand-in docker: " + args.join(" ")); process.exit(2); }
const opt = (name) => args.find((a) => a.startsWith("--" + name + "="))?.slice(name.length + 3);
const script = args[args.indexOf("-c") + 1];
const c = container(opt("network").replace(/^container:/, ""));
const [hostDir, mount] = opt("volume").split(":");
const env = {};
for (const line of fs.readFileSync(opt("env-file"), "utf8").split("\n")) if (line) env[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
if (env.BACKUP_DIR !== mount) { console.error("stand-in docker: BACKUP_DIR " + env.BACKUP_DIR + " is not the volume's " + mount); process.exit(2); }
Object.assign(env, c.address, { BACKUP_DIR: hostDir, PATH: c.path });
process.exit(spawnSync("sh", ["-c", script], { env, stdio: "inherit" }).status ?? 1);
`;

describe("moving a tenant between two real servers per engine", function () {
    /** Each engine's two servers, all six started at once (the file stays fast), each in a temporary directory of its own (PostgreSQL's system user must reach it). */
    const started = new Map<Engine, Record<Label, Server>>();
    const serverDirs: { remove(): void }[] = [];
    let dockerMoves: RecordedResource[];

    before(async function () {
        this.timeout(60000);
        dockerMoves = (await runStackConfig(DOCKER_MOVES, "dev")).resources.filter((r) => r.type === "command:local:Command");
        await Promise.all(
            ENGINES.map(async (engine) => {
                const pair = await Promise.all(
                    (["A", "B"] as const).map((label) => {
                        const dir = tempDir(`move-${engine.engine}-${label}`);
                        serverDirs.push(dir);
                        return engine.start(label, dir.dir);
                    }),
                );
                started.set(engine, { A: pair[0], B: pair[1] });
            }),
        );
    });

    after(async () => {
        await Promise.all([...started.values()].flatMap((pair) => [pair.A.stop(), pair.B.stop()]));
        for (const d of serverDirs) d.remove();
    });

    for (const engine of ENGINES) {
        const { hook } = engine;
        describe(`${engine.engine}: moving a tenant between two servers (the rendered copy scripts)`, function () {
            this.timeout(30000);
            // The copies' directories.
            let tmp: { dir: string; remove(): void };
            let A: Server;
            let B: Server;
            let seeded: { app: unknown; neighbourA: unknown; neighbourB: unknown };
            let n = 0;
            const newDir = (name: string) => {
                const d = path.join(tmp.dir, `${name}-${++n}`);
                fs.mkdirSync(d);
                return d;
            };

            /** The variables of a copy script on `s`: the hook's for app_a with its password on s, and the frame's. */
            const env = (s: Server, dir: string, options: { freeze?: boolean; path?: string[] } = {}) => ({
                ...backupEnvironment(hook, { host: "127.0.0.1", port: s.port, options: engine.server.options }, engine.tenant(APP), s.serverEnv, s.passwords[APP], { freeze: options.freeze, copy: true }),
                APP,
                ENGINE: engine.engine,
                BACKUP_DIR: dir,
                PATH: [...(options.path ?? []), s.binPath, process.env.PATH].filter(Boolean).join(":"),
            });
            const copyOut = (s: Server, dir: string, extra: Record<string, string> = {}) => run(copyOutScript(hook.commands), { ...env(s, dir, { freeze: true }), ...extra });
            const copyIn = (s: Server, dir: string, pathFirst: string[] = []) => run(copyInScript(hook.commands), env(s, dir, { path: pathFirst }));

            /** A new connection of the app on `s` is refused writes with `frozenWrite`, and reads its last note. */
            async function frozen(s: Server, last: number) {
                const fresh = await engine.session(s, APP);
                try {
                    await assert.rejects(fresh.write(900), { message: engine.frozenWrite });
                    assert.strictEqual(await fresh.read(), last);
                } finally {
                    fresh.close();
                }
            }

            /** The neighbour's data on both servers is as seeded, and each tenant is refused the other's. */
            async function neighboursUntouched() {
                assert.deepStrictEqual(await engine.data(A, NEIGHBOUR), seeded.neighbourA);
                assert.deepStrictEqual(await engine.data(B, NEIGHBOUR), seeded.neighbourB);
                for (const s of [A, B]) {
                    await engine.intrude(s, NEIGHBOUR, APP);
                    await engine.intrude(s, APP, NEIGHBOUR);
                }
            }

            before(async () => {
                tmp = tempDir(`move-${engine.engine}`);
                ({ A, B } = started.get(engine)!);
                assert.notStrictEqual(A.passwords[APP], B.passwords[APP], "each server has the app's password of its own");
                await engine.seed(A);
                await engine.seed(B);
                seeded = { app: await engine.data(A, APP), neighbourA: await engine.data(A, NEIGHBOUR), neighbourB: await engine.data(B, NEIGHBOUR) };
            });

            after(() => tmp?.remove());

            let there: string;

            it("copy out of A: freezes app_a's writes before the dump (its open session and new ones), reads go on, app_b writes on; dumps and counts app_a's data only", async () => {
                const running = await engine.session(A, APP);
                const neighbour = await engine.session(A, NEIGHBOUR);
                await running.write(100);
                const bin = newDir("bin");
                wrapTool("pause", bin, engine.dumpTool.name, engine.dumpTool.word, [A.binPath, process.env.PATH].filter(Boolean).join(":"));
                there = newDir("copy");
                const copy = runAsync(copyOutScript(hook.commands), env(A, there, { freeze: true, path: [bin] }));
                try {
                    await until("the dump to start", () => fs.existsSync(path.join(bin, "paused")) || copy.child.exitCode !== null);
                    assert.ok(fs.existsSync(path.join(bin, "paused")), "the copy-out reached its dump");
                    // During the copy: frozen, before the dump began.
                    await until("the session's end", () => running.events.length >= engine.existingSession.events.length);
                    assert.deepStrictEqual(running.events, engine.existingSession.events);
                    await assert.rejects(running.write(101), { message: engine.existingSession.write });
                    await frozen(A, 100);
                    await neighbour.write(200);
                } finally {
                    fs.writeFileSync(path.join(bin, "go"), "");
                }
                const out = await copy.done;
                assert.strictEqual(out.status, 0, out.stderr);
                const [name] = fs.readdirSync(there).filter((f) => f !== "counts" && f !== "counted-at");
                assert.strictEqual(out.stdout.trim(), `copied out ${name}`);
                assert.match(name, new RegExp(`^app_a-${engine.engine}-\\d{8}T\\d{6}Z\\.${hook.commands.extension}$`));
                assert.deepStrictEqual(fs.readdirSync(there).sort(), ["counted-at", "counts", name].sort(), "no partial or temporary file left");
                // After the copy: still frozen; the neighbour's write went through.
                await frozen(A, 100);
                assert.strictEqual(await neighbour.read(), 200);
                running.close();
                neighbour.close();
                // The neighbour's own write is its data from now on.
                seeded.neighbourA = await engine.data(A, NEIGHBOUR);
                // The seeded data and note 100, the running app's last write before the freeze.
                assert.strictEqual(fs.readFileSync(path.join(there, "counts"), "utf8"), engine.counts);
                assert.ok(!engine.dumpText(path.join(there, name), A).includes(engine.neighbourSecret), "nothing of app_b's in the dump");
            });

            let movedData: unknown;

            it("copy into B: restores, checks the counts (`copied <n> objects`); B's data equals A's by value, A still holds it, neighbours untouched", async () => {
                const result = copyIn(B, there);
                assert.strictEqual(result.status, 0, result.stderr);
                const objects = fs.readFileSync(path.join(there, "counts"), "utf8").trim().split("\n").length;
                assert.strictEqual(result.stdout.trim(), `copied ${objects} objects`);
                movedData = await engine.data(A, APP);
                assert.notDeepStrictEqual(movedData, seeded.app, "the running app's last write is part of it");
                assert.deepStrictEqual(await engine.data(B, APP), movedData);
                assert.deepStrictEqual(await engine.data(A, APP), movedData, "A still holds the app's data");
                // The app's new home takes writes.
                const moved = await engine.session(B, APP);
                await moved.write(300);
                moved.close();
                await neighboursUntouched();
            });

            it("refuses to copy into a target where the app has data (a wrong moveFrom, a copy run again), leaving it as it was", async () => {
                const onB = await engine.data(B, APP);
                const again = copyIn(B, there);
                assert.strictEqual(again.status, 1);
                assert.match(again.stderr, new RegExp(`^copy: the ${engine.engine} database of app_a on the target already holds data, and a move copies only into an empty one: is moveFrom the placement its data is on now\\?`));
                assert.doesNotMatch(again.stderr, /emptying the target/);
                assert.deepStrictEqual(await engine.data(B, APP), onB);
            });

            it("catches a truncated copy (exit 1, naming the object) and empties the target again; run again from the whole copy it succeeds", async () => {
                await engine.empty(B);
                const nothing = await engine.data(B, APP);
                const cut = newDir("cut");
                for (const f of fs.readdirSync(there)) fs.copyFileSync(path.join(there, f), path.join(cut, f));
                const work = newDir("work");
                const t = engine.truncate(cut, work, B);
                const result = copyIn(B, cut, t.path);
                assert.strictEqual(result.status, 1, result.stdout + result.stderr);
                assert.strictEqual(
                    result.stderr,
                    `copy: the ${engine.engine} data of app_a on the target differs from the source's (object and rows or keys):\n  source: ${t.source}\n  target: ${t.target}\ncopy: emptying the target again\n`,
                );
                assert.doesNotMatch(result.stdout, /copied/);
                assert.deepStrictEqual(await engine.data(B, APP), nothing, "no partial copy is left");
                const again = copyIn(B, there);
                assert.strictEqual(again.status, 0, again.stderr);
                assert.deepStrictEqual(await engine.data(B, APP), movedData, "the copy again, whole");
                await neighboursUntouched();
            });

            it("moves back B→A into a fresh tenant after the app changed its data on B; B keeps its data and is frozen", async () => {
                await engine.change(B);
                const onB = await engine.data(B, APP);
                await engine.recreate(A);
                const back = newDir("back");
                const out = copyOut(B, back);
                assert.strictEqual(out.status, 0, out.stderr);
                const result = copyIn(A, back);
                assert.strictEqual(result.status, 0, result.stderr);
                assert.match(result.stdout, /^copied \d+ objects\n$/);
                assert.deepStrictEqual(await engine.data(A, APP), onB);
                assert.deepStrictEqual(await engine.data(B, APP), onB, "B still holds the app's data");
                await frozen(B, 100);
                await neighboursUntouched();
            });

            it("stopped while it loads (a Job's deadline, an evicted pod), a copy-in ends its restore and empties the target again", async () => {
                await engine.empty(A);
                const nothing = await engine.data(A, APP);
                const bin = newDir("hang");
                wrapTool("hang", bin, engine.restoreTool.name, engine.restoreTool.word, [A.binPath, process.env.PATH].filter(Boolean).join(":"));
                // In a process group of its own, as the shell is in its container.
                const child = spawn("sh", ["-c", copyInScript(hook.commands)], { env: env(A, there, { path: [bin] }), detached: true });
                let stderr = "";
                child.stderr!.on("data", (d) => (stderr += d));
                const done = new Promise<number | null>((resolve) => child.once("close", (status) => resolve(status)));
                await until("the restore to load", () => fs.existsSync(path.join(bin, "loaded")) || child.exitCode !== null, 10000);
                assert.ok(fs.existsSync(path.join(bin, "loaded")), stderr);
                assert.notDeepStrictEqual(await engine.data(A, APP), nothing, "the restore loaded data before it hung");
                process.kill(child.pid!, "SIGTERM");
                assert.strictEqual(await done, 143, stderr);
                assert.match(stderr, /copy: stopped\ncopy: emptying the target again\n$/);
                assert.deepStrictEqual(await engine.data(A, APP), nothing, "nothing of the copy is left");
                // The restore's own children got the same TERM (dead ones wait as zombies for whoever reaps orphans).
                const left = () => spawnSync("sh", ["-c", `ps -o stat= -g ${child.pid} | grep -v '^Z' || true`], { encoding: "utf8" }).stdout.trim();
                await until("no process of the copy to be left", () => left() === "", 3000);
            });

            it("refuses a copy directory that is not one copy: a second copy-out into it, a copy-in without counts", async () => {
                const dir = newDir("refused");
                for (const f of fs.readdirSync(there)) fs.copyFileSync(path.join(there, f), path.join(dir, f));
                const twice = copyOut(B, dir);
                assert.strictEqual(twice.status, 1);
                assert.strictEqual(twice.stderr, `copy: ${dir} already holds a backup of app_a (${engine.engine}): a copy goes through an empty directory of its own\n`);
                fs.rmSync(path.join(dir, "counts"));
                const onA = await engine.data(A, APP);
                const uncounted = copyIn(A, dir);
                assert.strictEqual(uncounted.status, 1);
                assert.match(uncounted.stderr, new RegExp(`^copy: no counts beside app_a-${engine.engine}-\\S+ in ${dir}\n$`));
                assert.deepStrictEqual(await engine.data(A, APP), onA, "refused before it cleared anything");
            });

            if (engine.disable) {
                it("then disables app_a's login on the old server as the program does: new logins refused, its open connection closed, its data kept", async () => {
                    const kept = await engine.data(B, APP);
                    const open = await engine.session(B, APP);
                    await engine.disable!(B, true);
                    try {
                        await assert.rejects(engine.session(B, APP), (err: Error) => engine.disabledLogin!.test(err.message));
                        // Its data there is an old copy now: never the source of another copy.
                        const stale = newDir("stale");
                        const out = copyOut(B, stale);
                        assert.notStrictEqual(out.status, 0);
                        if (engine.engine === "redis") assert.match(out.stderr, /^freeze: app_a's user on this server is off: its keys here are an old copy/);
                        assert.deepStrictEqual(fs.readdirSync(stale), []);
                        await assert.rejects(open.read(), "the connection opened before is closed");
                        assert.deepStrictEqual(await engine.data(B, NEIGHBOUR), seeded.neighbourB);
                    } finally {
                        open.close();
                        await engine.disable!(B, false);
                    }
                    assert.deepStrictEqual(await engine.data(B, APP), kept, "enabled again, the data is as it was");
                });
            }

            it("on Docker: the program's move command (its script and environment, the servers' addresses and app passwords swapped for these) copies app_a from B to A through a private directory it removes", async () => {
                const cmd = dockerMoves.find((r) => r.name === `app_a-${engine.engine}-move`)!;
                const environment = cmd.inputs.environment as Record<string, string>;
                const fake = newDir("docker");
                fs.writeFileSync(path.join(fake, "docker"), STAND_IN_DOCKER, { mode: 0o755 });
                const address = (x: Server) => hook.env({ host: "127.0.0.1", port: x.port, options: engine.server.options }, engine.tenant(APP));
                for (const [name, x] of [[environment.MOVE_FROM_CONTAINER, B], [environment.MOVE_TO_CONTAINER, A]] as const) {
                    fs.writeFileSync(path.join(fake, `${name}.json`), JSON.stringify({ serverEnv: x.serverEnv, address: address(x), path: [x.binPath, process.env.PATH].filter(Boolean).join(":") }));
                }
                const tmpdir = newDir("host-tmp");
                const env: Record<string, string> = {
                    ...environment,
                    ...(environment.MOVE_PASSWORD_VAR !== undefined && { MOVE_FROM_PASSWORD: B.passwords[APP], MOVE_TO_PASSWORD: A.passwords[APP] }),
                    PATH: `${fake}:${process.env.PATH}`,
                    FAKE_DOCKER_DIR: fake,
                    TMPDIR: tmpdir,
                };
                const onB = await engine.data(B, APP);
                // A as the move leaves a new tenancy: empty.
                await engine.empty(A);
                const result = run(cmd.inputs.create, env);
                assert.strictEqual(result.status, 0, result.stdout + result.stderr);
                assert.match(result.stdout, new RegExp(`^copied out app_a-${engine.engine}-\\S+\ncopied \\d+ objects\n$`));
                assert.deepStrictEqual(await engine.data(A, APP), onB);
                assert.deepStrictEqual(await engine.data(B, APP), onB, "B keeps its data");
                await frozen(B, 100);
                await neighboursUntouched();
                assert.deepStrictEqual(fs.readdirSync(tmpdir), [], "the copy directory and its env files are removed");
                const calls = fs.readFileSync(path.join(fake, "calls"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]);
                assert.deepStrictEqual(calls.map((c) => c[0]), ["inspect", "inspect", "run", "run"]);
                const uid = `--user=${process.getuid!()}:${process.getgid!()}`;
                assert.ok(calls.filter((c) => c[0] === "run").every((c) => c.includes(uid) && c.includes("--rm") && c.includes("--init")), "as the operator's user, removed afterwards, stops passed on");
                assert.deepStrictEqual(
                    calls.filter((c) => c[0] === "run").map((c) => c.find((a) => a.startsWith("--name="))),
                    [`--name=tenant-databases-dev-move-app-a-${engine.engine}-from`, `--name=tenant-databases-dev-move-app-a-${engine.engine}-to`],
                    "one container name per half and move: a second run cannot overlap one still going",
                );
                for (const password of [B.passwords[APP], A.passwords[APP], ...Object.values(B.serverEnv)]) assert.ok(!JSON.stringify(calls).includes(password), "no password on a command line");
                // A server container that is not there fails the command before either half runs.
                fs.rmSync(path.join(fake, "calls"));
                const missing = run(cmd.inputs.create, { ...env, MOVE_FROM_CONTAINER: "not-running" });
                assert.notStrictEqual(missing.status, 0);
                assert.ok(!fs.readFileSync(path.join(fake, "calls"), "utf8").includes('"run"'), "no half ran");
                assert.deepStrictEqual(fs.readdirSync(tmpdir), []);
            });

            if (engine.engine === "postgresql") {
                it("sees the app's data as data however it is owned: given to pg_database_owner, in sessions set to that role, the target is refused", async () => {
                    const c = new Client({ host: "127.0.0.1", port: A.port, user: APP, password: A.passwords[APP], database: APP });
                    await c.connect();
                    try {
                        await c.query("SET default_transaction_read_only = off");
                        await c.query("CREATE TABLE hidden (v int); INSERT INTO hidden VALUES (42); ALTER TABLE hidden OWNER TO pg_database_owner");
                        await c.query("SELECT lo_from_bytea(0, 'hidden too')");
                        await c.query(`ALTER ROLE CURRENT_USER IN DATABASE ${APP} SET role = 'pg_database_owner'`);
                        await c.query("SELECT lo_from_bytea(0, 'as pg_database_owner')");
                        const into = copyIn(A, there);
                        assert.strictEqual(into.status, 1);
                        assert.match(into.stderr, /already holds data/);
                        assert.strictEqual((await c.query("SELECT v FROM hidden")).rows[0].v, 42, "left as it was");
                    } finally {
                        await c.query(`ALTER ROLE CURRENT_USER IN DATABASE ${APP} RESET role`);
                        await c.end();
                    }
                });
            }

            if (engine.engine === "redis") {
                it("counts as of the copy-out: a key that expires between the two halves does not fail the copy; the app's db must be where its keys are", async () => {
                    const c = new Redis({ host: "127.0.0.1", port: B.port, username: "admin", password: B.serverEnv.REDISCLI_AUTH, db: 1 });
                    try {
                        await c.set("app_a:short", "gone soon", "PX", 400);
                        const dir = newDir("ttl");
                        // Frozen already (as the old server stays): the copy-out freezes again.
                        const out = copyOut(B, dir);
                        assert.strictEqual(out.status, 0, out.stderr);
                        await new Promise((r) => setTimeout(r, 450));
                        await engine.empty(A);
                        const into = copyIn(A, dir);
                        assert.strictEqual(into.status, 0, into.stderr);
                        assert.strictEqual(await c.exists("app_a:short"), 0);
                        // The config names db 2, where app_a has no key: refused before the freeze.
                        const wrong = run(copyOutScript(hook.commands), { ...env(B, newDir("db")), REDIS_APP_DB: "2" });
                        assert.strictEqual(wrong.status, 1);
                        assert.match(wrong.stderr, /^freeze: app_a has keys on this server but none in db 2, its db in the config: set db to the number it uses now/);
                    } finally {
                        c.disconnect();
                    }
                });
            }

            if (engine.engine === "mysql") {
                it("freezes as the admin only with the admin's password and for an app name; refused, it leaves the app writable and no copy", async () => {
                    const dir = newDir("admin");
                    const wrong = copyOut(A, dir, { MYSQL_ADMIN_PASSWORD: "wrong" });
                    assert.strictEqual(wrong.status, 1);
                    assert.match(wrong.stderr, /Access denied for user 'root'@'localhost'/);
                    const odd = copyOut(A, dir, { APP: "app_a'@'%'; DROP DATABASE app_b; --" });
                    assert.strictEqual(odd.status, 1);
                    assert.match(odd.stderr, /^freeze: app_a'@'%'; DROP DATABASE app_b; -- is not an app name$/m);
                    assert.deepStrictEqual(fs.readdirSync(dir), []);
                    const s = await engine.session(A, APP);
                    await s.write(500);
                    s.close();
                });
            }
        });
    }
});
