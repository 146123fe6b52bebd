// `npm run verify` and `npm run usage` against real servers: one PostgreSQL, one MariaDB (for
// MySQL) and one redis-server (started from the program's own command), each with two tenants set
// up as the program sets them up, and the `apps` credentials as the program builds them. The audit
// passes on that setup, names the breach when a grant is widened on purpose, names an unreachable
// server, and leaves no probe behind. Usage reports what each tenant wrote, as that tenant, and
// picks the heavy one; a tenant's planted look-alikes neither change its figures nor run.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import { randomBytes } from "crypto";
import * as fs from "fs";
import Redis from "ioredis";
import * as mysql from "mysql2/promise";
import * as path from "path";
import { Client } from "pg";
import { credentialUrl } from "../components/credentials";
import type { AppCredentials } from "../components/environment";
import { ENGINES } from "../components/engines";
import { grantDatabasePattern } from "../components/mysql/mysql";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import type { RedisCredentials } from "../components/redis/redis";
import { redisAclUserProvider } from "../components/redis/redis-acl-user";
import { REDIS_ADMIN_USER } from "../components/redis/redis-acl";
import { MONITOR_USER } from "../infra/metrics";
import { POSTGRES_MONITOR_CONNECTIONS, POSTGRES_MONITOR_ROLES } from "../components/postgresql/postgresql-metrics";
import { MYSQL_MONITOR_CONNECTIONS, MYSQL_MONITOR_GRANTS } from "../components/mysql/mysql-metrics";
import { DEFAULT_THRESHOLDS, measureStack, recommend, runUsage, sharedServers, usagesFor } from "../scripts/usage";
import type { UsageResult } from "../scripts/usage";
import { auditsFor, runVerify, verifyStack } from "../scripts/verify";
import { initPostgres, startPostgres } from "./helpers/postgres";
import { REDIS_ACL_USER, runProgram, valueOf } from "./helpers/pulumi";
import { CapturingRuntime, ProgramRedis, UserInputs, redisProgram, startProgramRedis } from "./helpers/redis-server";
import { RunningTestServer, freePort, startMariadb, tempDir } from "./helpers/servers";

const APPS = ["app_a", "app_b"];
const PASSWORDS: Record<string, string> = { app_a: "pw-a-0123456789", app_b: "pw-b-0123456789" };
const PG_ADMIN = "admin-pw-0123456789";
const ROOT = path.resolve(__dirname, "..");

describe("npm run verify: isolation audit on real PostgreSQL, MariaDB and Redis servers", function () {
    this.timeout(60000);
    const dirs: { remove(): void }[] = [];
    const servers: RunningTestServer[] = [];
    let redis: ProgramRedis;
    let pgPort = 0;
    let myPort = 0;
    const apps: Record<string, AppCredentials> = { app_a: {}, app_b: {} };
    const audits = auditsFor({ x: { postgresql: {}, mysql: {}, redis: {} } } as unknown as Record<string, AppCredentials>);
    const usages = usagesFor({ x: { postgresql: {}, mysql: {}, redis: {} } } as unknown as Record<string, AppCredentials>);

    const pgAdmin = async (database = "postgres") => {
        const c = new Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password: PG_ADMIN, database });
        await c.connect();
        return c;
    };
    const pgAs = async (app: string) => {
        const c = new Client({ host: "127.0.0.1", port: pgPort, user: app, password: PASSWORDS[app], database: app });
        await c.connect();
        return c;
    };
    const myRoot = () => mysql.createConnection({ host: "127.0.0.1", port: myPort, user: "root", password: "" });
    const myAs = (app: string) => mysql.createConnection({ host: "127.0.0.1", port: myPort, user: app, password: PASSWORDS[app], database: app });
    /** As the tenant itself, with its own ACL user, on its own DB number. */
    const redisAs = (app: string) => new Redis((apps[app].redis as RedisCredentials).url, { maxRetriesPerRequest: 0 });
    const redisAdmin = (db = 0) => new Redis(redis.adminUrl(db), { maxRetriesPerRequest: 0 });
    /** Runs `sql` on a fresh connection and closes it. */
    const pgRun = async (connect: Promise<Client>, sql: string) => {
        const c = await connect;
        try {
            return (await c.query(sql)).rows;
        } finally {
            await c.end();
        }
    };
    const myRun = async (sql: string) => {
        const c = await myRoot();
        try {
            return (await c.query(sql))[0];
        } finally {
            await c.end();
        }
    };
    const redisRun = async (db: number, ...args: string[]) => {
        const c = redisAdmin(db);
        try {
            return await c.call(args[0], ...args.slice(1));
        } finally {
            c.disconnect();
        }
    };
    /** Only the engine's tenants: each widened grant is audited on its own server. */
    const only = (engine: string): Record<string, AppCredentials> =>
        Object.fromEntries(Object.entries(apps).map(([app, c]) => [app, { [engine]: (c as Record<string, unknown>)[engine] }])) as Record<string, AppCredentials>;

    async function startPostgresql() {
        const tmp = tempDir("verify-pg");
        dirs.push(tmp);
        pgPort = await freePort();
        await initPostgres({ dir: tmp.dir, adminPassword: PG_ADMIN });
        servers.push(await startPostgres({ port: pgPort, dir: tmp.dir, adminPassword: PG_ADMIN, args: [] }));
        const root = await pgAdmin();
        // What PostgresqlTenant registers (the same statements the provider runs).
        for (const app of APPS) {
            for (const sql of postgresqlRoleStatements(app, PASSWORDS[app], { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 })) await root.query(sql);
        }
        await root.end();
        for (const app of APPS) await pgRun(pgAs(app), `CREATE TABLE notes (note text); INSERT INTO notes VALUES ('${app} secret')`);
    }

    async function startMysql() {
        const tmp = tempDir("verify-mysql");
        dirs.push(tmp);
        myPort = await freePort();
        servers.push(await startMariadb({ port: myPort, dir: tmp.dir }));
        // What MysqlTenant registers: the database, the account, ALL on exactly that database.
        for (const app of APPS) {
            await myRun(`CREATE DATABASE \`${app}\``);
            await myRun(`CREATE USER '${app}'@'%' IDENTIFIED BY '${PASSWORDS[app]}'`);
            await myRun(`GRANT ALL PRIVILEGES ON \`${grantDatabasePattern(app)}\`.* TO '${app}'@'%'`);
            await myRun(`CREATE TABLE \`${app}\`.notes (note TEXT)`);
            await myRun(`INSERT INTO \`${app}\`.notes VALUES ('${app} secret')`);
        }
    }

    // The program's RedisServer with two tenants on db 1 and 2; their ACL users created by the real provider.
    const program = redisProgram({
        version: "7.0",
        databases: 4,
        tenants: [
            { app: "app_a", db: 1 },
            { app: "app_b", db: 2 },
        ],
    });

    before(async () => {
        const started = Date.now();
        await Promise.all([startPostgresql(), startMysql(), startProgramRedis(program, "verify-redis").then((r) => (redis = r))]);
        // The credentials exactly as the program builds them: the RedisTenants' own, and for
        // PostgreSQL and MySQL the same fields with the program's URL builder.
        const run = await runProgram(program(new CapturingRuntime(redis.port)), {
            liveState: async (type, inputs) => (type === REDIS_ACL_USER ? { ...(await redisAclUserProvider.create!(inputs as UserInputs)).outs } : undefined),
        });
        for (const app of APPS) {
            const common = { host: "127.0.0.1", database: app, user: app, password: PASSWORDS[app] };
            apps[app] = {
                postgresql: { ...common, port: pgPort, url: await valueOf(credentialUrl("postgresql", app, PASSWORDS[app], "127.0.0.1", pgPort, app)) },
                mysql: { ...common, port: myPort, url: await valueOf(credentialUrl("mysql", app, PASSWORDS[app], "127.0.0.1", myPort, app)) },
                redis: await valueOf(run.result.tenants[app].credentials as never),
            };
            await redisRun(app === "app_a" ? 1 : 2, "SET", `${app}:secret`, `${app} secret`);
        }
        if (Date.now() - started > 8000) console.warn(`starting the servers took ${Date.now() - started} ms`);
    });

    after(async () => {
        await Promise.all([...servers.map((s) => s.stop()), redis?.remove()]);
        for (const d of dirs) d.remove();
    });

    it("the credentials have the program's shape: every engine's variables come from them", () => {
        for (const app of APPS) {
            const redisCredentials = apps[app].redis as RedisCredentials;
            assert.deepStrictEqual(Object.keys(redisCredentials).sort(), ["db", "host", "keyPrefix", "password", "port", "url", "user"]);
            assert.strictEqual(redisCredentials.keyPrefix, app);
            for (const engine of ENGINES.filter((e) => e.name in apps[app])) {
                const env = engine.environment((apps[app] as Record<string, unknown>)[engine.name]);
                assert.ok(Object.values(env).every((v) => typeof v === "string" && v !== "undefined" && v !== ""), `${app} ${engine.name}`);
            }
        }
    });

    it("passes on the program's setup: each tenant's probe works, every intrusion is refused, and nothing is left behind", async () => {
        const result = await verifyStack(apps, audits);
        assert.deepStrictEqual(result.problems, []);
        assert.deepStrictEqual(
            result.rows.map((r) => [r.engine, r.app, r.server, r.probe, r.intrusions, r.status]),
            [
                ["postgresql", "app_a", `127.0.0.1:${pgPort}`, "ok", "refused 1/1", "ok"],
                ["postgresql", "app_b", `127.0.0.1:${pgPort}`, "ok", "refused 1/1", "ok"],
                ["mysql", "app_a", `127.0.0.1:${myPort}`, "ok", "refused 1/1", "ok"],
                ["mysql", "app_b", `127.0.0.1:${myPort}`, "ok", "refused 1/1", "ok"],
                ["redis", "app_a", `127.0.0.1:${redis.port}`, "ok", "refused 1/1", "ok"],
                ["redis", "app_b", `127.0.0.1:${redis.port}`, "ok", "refused 1/1", "ok"],
            ],
        );
        // No probe left, and every tenant's own data as it was.
        for (const app of APPS) {
            const c = await pgAdmin(app);
            try {
                assert.deepStrictEqual((await c.query("SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows, [{ tablename: "notes" }]);
                assert.deepStrictEqual((await c.query("SELECT note FROM notes")).rows, [{ note: `${app} secret` }]);
            } finally {
                await c.end();
            }
        }
        assert.deepStrictEqual(
            await myRun("SELECT table_schema AS db, table_name AS t FROM information_schema.tables WHERE table_schema IN ('app_a', 'app_b') ORDER BY 1"),
            APPS.map((db) => ({ db, t: "notes" })),
        );
        assert.deepStrictEqual(await myRun("SELECT note FROM app_b.notes"), [{ note: "app_b secret" }]);
        for (let db = 0; db < 4; db++) {
            assert.deepStrictEqual(((await redisRun(db, "KEYS", "*")) as string[]).sort(), db === 1 ? ["app_a:secret"] : db === 2 ? ["app_b:secret"] : [], `db ${db}`);
        }
    });

    it("postgresql: names the breach when app_a may connect to app_b's database and read its table", async () => {
        await pgRun(pgAdmin(), "GRANT CONNECT ON DATABASE app_b TO app_a");
        await pgRun(pgAs("app_b"), "GRANT SELECT ON notes TO app_a");
        try {
            const result = await verifyStack(only("postgresql"), audits);
            assert.strictEqual(result.problems.length, 1, result.problems.join("\n"));
            assert.match(result.problems[0], new RegExp(`^BREACH on postgresql 127\\.0\\.0\\.1:${pgPort}: app_a got into app_b's data: as app_a: connected to database "app_b"; read public\\.notes$`));
            assert.deepStrictEqual(result.rows.map((r) => [r.app, r.status]), [["app_a", "breach"], ["app_b", "ok"]]);
            assert.match(result.rows[0].intrusions, /^BREACH: app_b: .*; refused 0\/1$/);
        } finally {
            await pgRun(pgAs("app_b"), "REVOKE SELECT ON notes FROM app_a");
            await pgRun(pgAdmin(), "REVOKE CONNECT ON DATABASE app_b FROM app_a");
        }
        assert.deepStrictEqual((await verifyStack(only("postgresql"), audits)).problems, [], "restored");
    });

    it("postgresql: a tenant that opens its own database to everyone is named, and its traps never run in the auditing tenant's session", async () => {
        // All within app_b's own rights: the owner may grant CONNECT on its database, and create
        // operators, views and triggers whose code would run with the rights of whoever uses them.
        const steal = "BEGIN EXECUTE 'ALTER ROLE ' || pg_catalog.quote_ident(current_user) || ' PASSWORD ''stolen'''; RETURN true; EXCEPTION WHEN OTHERS THEN RETURN true; END";
        await pgRun(pgAs("app_b"), "GRANT CONNECT ON DATABASE app_b TO PUBLIC");
        await pgRun(pgAs("app_b"), `CREATE FUNCTION public.trap() RETURNS boolean LANGUAGE plpgsql AS $$ ${steal} $$`);
        await pgRun(pgAs("app_b"), `CREATE FUNCTION public.trap_op(name, name) RETURNS boolean LANGUAGE plpgsql AS $$ ${steal} $$`);
        await pgRun(pgAs("app_b"), "CREATE OPERATOR public.!~~ (LEFTARG = name, RIGHTARG = name, FUNCTION = public.trap_op)");
        await pgRun(pgAs("app_b"), "CREATE VIEW public.trap_view AS SELECT public.trap() AS t; GRANT SELECT ON public.trap_view TO PUBLIC");
        await pgRun(pgAs("app_b"), "CREATE FUNCTION public.trap_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap(); RETURN NULL; END $$");
        await pgRun(pgAs("app_b"), "CREATE TRIGGER trap AFTER INSERT ON notes FOR EACH STATEMENT EXECUTE FUNCTION public.trap_trigger(); GRANT SELECT, INSERT ON notes TO PUBLIC");
        try {
            const result = await verifyStack(only("postgresql"), audits);
            assert.match(result.problems.join("\n"), /app_a got into app_b's data: as app_a: connected to database "app_b"; read public\.notes; write public\.notes; read public\.trap_view/);
            // app_a's password is still its own: none of app_b's code ran as app_a.
            assert.deepStrictEqual(await pgRun(pgAs("app_a"), "SELECT 1 AS ok"), [{ ok: 1 }]);
        } finally {
            await pgRun(pgAs("app_b"), "DROP VIEW public.trap_view; DROP TRIGGER trap ON notes; DROP FUNCTION public.trap_trigger(); DROP OPERATOR public.!~~ (name, name); DROP FUNCTION public.trap_op(name, name); DROP FUNCTION public.trap()");
            await pgRun(pgAs("app_b"), "REVOKE SELECT, INSERT ON notes FROM PUBLIC; REVOKE CONNECT ON DATABASE app_b FROM PUBLIC");
        }
        assert.deepStrictEqual((await verifyStack(only("postgresql"), audits)).problems, [], "restored");
    });

    it("postgresql: names the breach when app_a is made a member of app_b", async () => {
        await pgRun(pgAdmin(), "GRANT app_b TO app_a");
        try {
            const result = await verifyStack(only("postgresql"), audits);
            assert.strictEqual(result.problems.length, 1, result.problems.join("\n"));
            // A member has the owner's rights: in, reading and writing, creating, and becoming app_b.
            assert.match(result.problems[0], /app_a got into app_b's data: as app_a: connected to database "app_b"; read public\.notes; write public\.notes; create a table in database "app_b"; SET ROLE app_b$/);
        } finally {
            await pgRun(pgAdmin(), "REVOKE app_b FROM app_a");
        }
        // The attempts changed nothing of app_b's.
        assert.deepStrictEqual(await pgRun(pgAs("app_b"), "SELECT note FROM notes"), [{ note: "app_b secret" }]);
        assert.deepStrictEqual(await pgRun(pgAs("app_b"), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), [{ tablename: "notes" }]);
    });

    it("mysql: names the breach when app_a is granted ALL on app_b.*", async () => {
        await myRun("GRANT ALL ON `app_b`.* TO 'app_a'@'%'");
        try {
            const result = await verifyStack(only("mysql"), audits);
            assert.strictEqual(result.problems.length, 1, result.problems.join("\n"));
            assert.match(result.problems[0], new RegExp(`^BREACH on mysql 127\\.0\\.0\\.1:${myPort}: app_a got into app_b's data: as app_a: USE app_b; sees tables app_b\\.notes; SELECT from app_b\\.notes; INSERT INTO app_b\\.notes; DELETE FROM app_b\\.notes; `));
            assert.match(result.problems[0], /CREATE TABLE in app_b$/);
            assert.deepStrictEqual(result.rows.map((r) => [r.app, r.status]), [["app_a", "breach"], ["app_b", "ok"]]);
        } finally {
            await myRun("REVOKE ALL ON `app_b`.* FROM 'app_a'@'%'");
        }
        assert.deepStrictEqual(await myRun("SELECT note FROM app_b.notes"), [{ note: "app_b secret" }]);
        assert.deepStrictEqual(await myRun("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'app_b'"), [{ t: "notes" }]);
        assert.deepStrictEqual((await verifyStack(only("mysql"), audits)).problems, [], "restored");
    });

    it("redis: names the breach when app_a's user is given ~*", async () => {
        await redisRun(0, "ACL", "SETUSER", "app_a", "~*");
        try {
            const result = await verifyStack(only("redis"), audits);
            assert.strictEqual(result.problems.length, 1, result.problems.join("\n"));
            const key = "app_b:tenant_databases_verify_probe:[0-9a-f]{8}";
            assert.match(
                result.problems[0],
                new RegExp(`^BREACH on redis 127\\.0\\.0\\.1:${redis.port}: app_a got into app_b's data: as app_a: GET ${key} in db 1; SET ${key} in db 1; DEL ${key} in db 1; GET ${key} in db 2; SET ${key} in db 2; DEL ${key} in db 2$`),
            );
            assert.deepStrictEqual(result.rows.map((r) => [r.app, r.status]), [["app_a", "breach"], ["app_b", "ok"]]);
        } finally {
            await redisRun(0, "ACL", "SETUSER", "app_a", "resetkeys", "~app_a:*");
        }
        assert.deepStrictEqual(await redisRun(2, "KEYS", "*"), ["app_b:secret"]);
        assert.deepStrictEqual((await verifyStack(only("redis"), audits)).problems, [], "restored");
    });

    it("fails the run naming an unreachable server, and a tenant whose probe fails", async () => {
        const closed = await freePort();
        const gone = { host: "127.0.0.1", port: closed, database: "app_c", user: "app_c", password: "x", url: `postgresql://app_c:x@127.0.0.1:${closed}/app_c` };
        // app_d exists, but the output holds a password the server does not take.
        const root = await pgAdmin();
        for (const sql of postgresqlRoleStatements("app_d", "pw-d-0123456789", { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 })) await root.query(sql);
        const wrong = { host: "127.0.0.1", port: pgPort, database: "app_d", user: "app_d", password: "not-the-password", url: `postgresql://app_d:not-the-password@127.0.0.1:${pgPort}/app_d` };
        const file = path.join(path.dirname(redis.aclFile), "apps.json");
        fs.writeFileSync(file, JSON.stringify({ ...only("postgresql"), app_c: { postgresql: gone }, app_d: { postgresql: wrong } }));

        const { out, err, code } = await runVerify(["--from", file]).finally(async () => {
            await root.query("DROP DATABASE app_d");
            await root.query("DROP ROLE app_d");
            await root.end();
        });
        assert.strictEqual(code, 1);
        assert.match(err, new RegExp(`- postgresql server 127\\.0\\.0\\.1:${closed} is unreachable \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\); its tenants app_c were not checked`));
        assert.match(err, new RegExp(`- postgresql 127\\.0\\.0\\.1:${pgPort}: app_d's probe in its own data failed: PostgreSQL at 127\\.0\\.0\\.1:${pgPort} as app_d to database "app_d": password authentication failed`));
        assert.match(err, /- postgresql [^ ]+: app_d's attempts on app_a could not be checked: .*password authentication failed/);
        // The others' attempts on app_d were refused.
        assert.match(out, new RegExp(`\\napp_a\\s+postgresql\\s+127\\.0\\.0\\.1:${pgPort}\\s+ok\\s+refused 2/2\\n`));
        assert.match(out, /^app\s+engine\s+server\s+own probe\s+intrusions\n/);
        assert.match(out, new RegExp(`\\napp_c\\s+postgresql\\s+127\\.0\\.0\\.1:${closed}\\s+not run: server unreachable\\s+not run\\n`));
        assert.doesNotMatch(err, /BREACH/);

        // The same stack without them passes, through the command line as operators run it.
        fs.writeFileSync(file, JSON.stringify(apps));
        const good = await runVerify(["--from", file]);
        assert.deepStrictEqual([good.code, good.err], [0, ""]);
        assert.strictEqual(good.out.split("\n").filter((l) => / ok\s+refused 1\/1$/.test(l)).length, 6);
    });

    /** Until the server lists exactly `count` sessions of `app` (a closed client's backend may linger a moment). */
    const sessionsSettle = async (app: string, count: { postgresql: number; mysql: number }) => {
        for (const deadline = Date.now() + 3000; ; ) {
            const [pg] = await pgRun(pgAdmin(), `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = '${app}'`);
            const [my] = (await myRun(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = '${app}'`)) as { n: number }[];
            if (pg.n === count.postgresql && Number(my.n) === count.mysql) return;
            if (Date.now() > deadline) assert.fail(`${app} has ${pg.n} PostgreSQL and ${my.n} MySQL sessions, not ${JSON.stringify(count)}`);
            await new Promise((r) => setTimeout(r, 20));
        }
    };
    /** Each row's figures by `<engine> <app>`; fails on any problem. */
    const figures = (result: UsageResult) => {
        assert.deepStrictEqual(result.problems, []);
        return Object.fromEntries(result.rows.map((r) => [`${r.engine} ${r.app}`, r.usage!]));
    };

    it("usage: reports, as each tenant, the size, connections, tables and keys app_b wrote, and picks app_b to move", async () => {
        const MIB = 1024 * 1024;
        const KEYS = 500;
        const before = figures(await measureStack(apps, usages));
        // app_b writes 1 MiB (incompressible) in a new table on each SQL server, and 500 keys of
        // 1 KiB, each as app_b, and keeps two more sessions open on each SQL server.
        const pg = [await pgAs("app_b"), await pgAs("app_b")];
        const my = [await myAs("app_b"), await myAs("app_b")];
        const keys = redisAs("app_b");
        try {
            await pg[0].query("CREATE TABLE blobs (b bytea)");
            for (let i = 0; i < 4; i++) await pg[0].query("INSERT INTO blobs VALUES ($1)", [randomBytes(MIB / 4)]);
            await my[0].query("CREATE TABLE blobs (b LONGBLOB)");
            for (let i = 0; i < 4; i++) await my[0].query("INSERT INTO blobs VALUES (?)", [randomBytes(MIB / 4)]);
            // InnoDB's statistics follow a table at most every 10 s; ANALYZE is what a recalculation does.
            await my[0].query("ANALYZE TABLE blobs");
            await keys.mset(Object.fromEntries(Array.from({ length: KEYS }, (_, i) => [`app_b:usage:${i}`, randomBytes(512).toString("hex")])));
            await sessionsSettle("app_a", { postgresql: 0, mysql: 0 });
            await sessionsSettle("app_b", { postgresql: 2, mysql: 2 });

            const result = await measureStack(apps, usages);
            const after = figures(result);
            for (const engine of ["postgresql", "mysql"]) {
                const [a, b] = [after[`${engine} app_a`], after[`${engine} app_b`]];
                assert.ok(b.bytes! >= before[`${engine} app_b`].bytes! + MIB, `${engine}: app_b ${b.bytes} >= ${before[`${engine} app_b`].bytes} + 1 MiB`);
                assert.strictEqual(a.bytes, before[`${engine} app_a`].bytes, `${engine}: app_a's size did not change`);
                assert.deepStrictEqual([a.connections, b.connections], [0, 2], `${engine}: connections besides the measuring one`);
                assert.deepStrictEqual([a.objects, b.objects], [{ count: 1, unit: "tables" }, { count: 2, unit: "tables" }], engine);
            }
            // Exactly the keys of each tenant's DB number: its secret, and app_b's 500.
            assert.deepStrictEqual([after["redis app_a"].objects, after["redis app_b"].objects], [{ count: 1, unit: "keys" }, { count: 1 + KEYS, unit: "keys" }]);
            assert.strictEqual(after["redis app_b"].bytes, undefined, "a tenant of a shared Redis cannot see its own memory");
            assert.ok(after["redis app_b"].server!.bytes! >= before["redis app_b"].server!.bytes! + KEYS * 1024, "the server's memory grew by the values");

            // app_b is the heaviest of each shared server; with floors of 0 it is the one to move.
            const servers = sharedServers(result.rows);
            assert.deepStrictEqual(servers.map((s) => [s.engine, s.sizeBy, s.tenants.map((t) => t.app)]), [
                ["postgresql", "bytes", ["app_b", "app_a"]],
                ["mysql", "bytes", ["app_b", "app_a"]],
                ["redis", "objects", ["app_b", "app_a"]],
            ]);
            assert.ok(servers.every((s) => s.tenants[0].sizeShare! > 0.5 && s.outside === undefined));
            const low = { ...DEFAULT_THRESHOLDS, minSize: 0, minConnections: 1, minObjects: 1 };
            assert.deepStrictEqual(recommend(servers, low).map((r) => [r.engine, r.app, r.reasons.length]), [
                ["postgresql", "app_b", 2],
                ["mysql", "app_b", 2],
                ["redis", "app_b", 1],
            ]);
            // With the defaults, nothing this small is worth a server of its own.
            assert.deepStrictEqual(recommend(servers, DEFAULT_THRESHOLDS), []);
        } finally {
            await Promise.all([...pg.map((c) => c.end()), ...my.map((c) => c.end())]);
            await pgRun(pgAs("app_b"), "DROP TABLE blobs");
            await myRun("DROP TABLE app_b.blobs");
            await keys.del(...Array.from({ length: KEYS }, (_, i) => `app_b:usage:${i}`));
            keys.disconnect();
        }
    });

    it("usage: app_b's look-alikes of catalog functions, views and operators, first on its search_path, neither change its figures nor run", async () => {
        // All within app_b's own rights: it owns its database, may set its role's and database's
        // search_path, and create functions, an operator and views named like the catalog's.
        const ran = "INSERT INTO public.trap_ran VALUES (current_user); RETURN";
        const traps = [
            "CREATE TABLE public.trap_ran (who name)",
            `CREATE FUNCTION public.pg_database_size(name) RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN ${ran} 1; END $$`,
            `CREATE FUNCTION public.current_database() RETURNS name LANGUAGE plpgsql AS $$ BEGIN ${ran} 'app_a'; END $$`,
            `CREATE FUNCTION public.pg_backend_pid() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN ${ran} 0; END $$`,
            `CREATE FUNCTION public.trap_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN ${ran} true; END $$`,
            "CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.trap_eq)",
            "CREATE VIEW public.pg_stat_activity AS SELECT s AS pid, 'app_b'::name AS usename, 0::oid AS usesysid, 'client backend'::text AS backend_type FROM generate_series(1, 1000) s",
            "CREATE VIEW public.pg_class AS SELECT 'r'::\"char\" AS relkind, 0::oid AS relnamespace FROM generate_series(1, 1000)",
            "ALTER ROLE app_b SET search_path = public, pg_catalog",
            "ALTER DATABASE app_b SET search_path = public, pg_catalog",
        ];
        for (const sql of traps) await pgRun(pgAs("app_b"), sql);
        try {
            // The traps work: a session that trusts the tenant's path is fooled.
            assert.deepStrictEqual(await pgRun(pgAs("app_b"), "SELECT pg_database_size(current_database()) AS size"), [{ size: "1" }]);
            await pgRun(pgAs("app_b"), "TRUNCATE public.trap_ran");
            await sessionsSettle("app_b", { postgresql: 0, mysql: 0 });

            const measured = figures(await measureStack(only("postgresql"), usages));
            const [truth] = await pgRun(pgAdmin(), "SELECT pg_database_size('app_b') AS size");
            assert.strictEqual(measured["postgresql app_b"].bytes, Number(truth.size));
            assert.strictEqual(measured["postgresql app_b"].connections, 0);
            assert.deepStrictEqual(measured["postgresql app_b"].objects, { count: 2, unit: "tables" }, "notes and trap_ran; views are not tables");
            assert.deepStrictEqual(await pgRun(pgAdmin("app_b"), "SELECT who FROM public.trap_ran"), [], "none of app_b's code ran");
        } finally {
            await pgRun(pgAdmin(), "ALTER ROLE app_b RESET search_path; ALTER DATABASE app_b RESET search_path");
            await pgRun(
                pgAs("app_b"),
                "DROP VIEW public.pg_class, public.pg_stat_activity; DROP OPERATOR public.= (oid, oid); DROP FUNCTION public.trap_eq(oid, oid), public.pg_backend_pid(), public.current_database(), public.pg_database_size(name); DROP TABLE public.trap_ran",
            );
        }
        assert.deepStrictEqual(await pgRun(pgAs("app_b"), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), [{ tablename: "notes" }], "restored");
    });

    it("usage: keys a tenant writes under a DB number no tenant has are named as the server's, not counted for anyone", async () => {
        // ACLs cannot bind app_a to its number: it may SELECT 3 and write under its own prefix there.
        const elsewhere = redisAs("app_a");
        try {
            assert.strictEqual(await elsewhere.select(3), "OK");
            await elsewhere.mset({ "app_a:hidden:1": "x", "app_a:hidden:2": "x" });
            const result = await measureStack(only("redis"), usages);
            const measured = figures(result);
            assert.deepStrictEqual([measured["redis app_a"].objects!.count, measured["redis app_b"].objects!.count], [1, 1]);
            const [server] = sharedServers(result.rows);
            assert.strictEqual(server.outside, 2);
        } finally {
            await elsewhere.del("app_a:hidden:1", "app_a:hidden:2");
            elsewhere.disconnect();
        }
    });

    it("usage: the command line prints the table, the shared servers and the recommendations, and fails naming an unreachable server or a login that fails, printing no secret", async () => {
        const file = path.join(path.dirname(redis.aclFile), "usage-apps.json");
        fs.writeFileSync(file, JSON.stringify(apps));
        const good = await runUsage(["--from", file, "--max-share", "0.4", "--min-size=0", "--min-objects", "1"]);
        assert.deepStrictEqual([good.code, good.err], [0, ""]);
        assert.match(good.out, /^app\s+engine\s+server\s+size\s+connections\s+objects\s+note\n/);
        assert.match(good.out, new RegExp(`\\napp_b\\s+postgresql\\s+127\\.0\\.0\\.1:${pgPort}\\s+[0-9.]+Mi\\s+0\\s+1 table\\n`));
        assert.match(good.out, new RegExp(`\\napp_a\\s+redis\\s+127\\.0\\.0\\.1:${redis.port}\\s+-\\s+-\\s+1 key\\n`));
        assert.match(good.out, new RegExp(`\\nredis 127\\.0\\.0\\.1:${redis.port}: 2 tenants measured, 2 keys; the whole server: memory [0-9.]+(Mi|Ki) of [0-9.]+Mi, \\d+ other clients?\\n`));
        // Equal tenants: 50% each of the SQL servers' sizes (about) and of Redis' keys, above --max-share 0.4.
        assert.match(good.out, /\nmove to dedicated \(thresholds: --max-share 0\.4 .*\):\n/);
        assert.match(good.out, new RegExp(`\\n  redis app_a on 127\\.0\\.0\\.1:${redis.port}: 50% of the server's keys > --max-share 0\\.4 \\(1 key ≥ --min-objects 1\\)\\n`));
        assert.match(good.out, /\nnotes:\n- postgresql: size is pg_database_size/);

        const closed = await freePort();
        const gone = { ...(apps.app_a.mysql as object), port: closed };
        const wrong = { ...(apps.app_b.postgresql as object), password: "not-the-password-0123" };
        fs.writeFileSync(file, JSON.stringify({ app_a: { mysql: gone, postgresql: apps.app_a.postgresql }, app_b: { postgresql: wrong } }));
        const bad = await runUsage(["--from", file]);
        assert.strictEqual(bad.code, 1);
        assert.match(bad.err, new RegExp(`- mysql server 127\\.0\\.0\\.1:${closed} is unreachable \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\); its tenants app_a were not measured`));
        assert.match(bad.err, new RegExp(`- postgresql 127\\.0\\.0\\.1:${pgPort}: app_b could not be measured: PostgreSQL at 127\\.0\\.0\\.1:${pgPort} as app_b in database "app_b": password authentication failed`));
        assert.match(bad.out, /\napp_b\s+postgresql\s+\S+\s+-\s+-\s+-\s+FAILED: see below\n/);
        for (const secret of [...Object.values(PASSWORDS), "not-the-password-0123"]) assert.ok(!bad.out.includes(secret) && !bad.err.includes(secret) && !good.out.includes(secret));
    });

    it("the descriptors load no client library until audit() or usage() is called", () => {
        const script = `
            const { ENGINES } = require("./components/engines");
            const loaded = () => Object.keys(require.cache).filter((f) => /node_modules\\/(pg|mysql2|redis|@redis)\\/|-(audit|usage)\\.ts$/.test(f)).length;
            const before = loaded();
            ENGINES.find((e) => e.name === "postgresql").audit();
            const audited = loaded();
            ENGINES.find((e) => e.name === "redis").usage();
            console.log(JSON.stringify([before, audited > 0, loaded() > audited]));
        `;
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(JSON.parse(result.stdout), [0, true, true]);
    });

    // The exporters' monitoring users, set up as the program sets them up, on the same servers.
    describe("monitoring users: the statistics each exporter reads, and no tenant data", () => {
        const MONITOR_PASSWORD = "monitor-pw-0123456789";

        it("postgresql: the monitoring role (pg_monitor) reads every database's size and connections, and no tenant's rows", async () => {
            // What PostgresqlServer registers with monitoring on: a login role, member of
            // POSTGRES_MONITOR_ROLES only, with its connection limit.
            await pgRun(
                pgAdmin(),
                `CREATE ROLE "${MONITOR_USER}" LOGIN PASSWORD '${MONITOR_PASSWORD}' CONNECTION LIMIT ${POSTGRES_MONITOR_CONNECTIONS} IN ROLE ${POSTGRES_MONITOR_ROLES.join(", ")}`,
            );
            const monitor = async (database: string) => {
                const c = new Client({ host: "127.0.0.1", port: pgPort, user: MONITOR_USER, password: MONITOR_PASSWORD, database });
                await c.connect();
                return c;
            };
            const tenant = await pgAs("app_a");
            try {
                // postgres_exporter's default collectors: database (sizes), stat_database (connections).
                const sizes = await pgRun(monitor("postgres"), "SELECT datname, pg_database_size(datname)::bigint AS size FROM pg_database WHERE datname IN ('app_a', 'app_b') ORDER BY 1");
                assert.deepStrictEqual(sizes.map((r) => r.datname), APPS);
                assert.ok(sizes.every((r) => Number(r.size) > 0), JSON.stringify(sizes));
                const backends = await pgRun(monitor("postgres"), "SELECT datname, numbackends FROM pg_stat_database WHERE datname = 'app_a'");
                assert.ok(Number(backends[0].numbackends) >= 1, "app_a's open session is counted");
                const sessions = await pgRun(monitor("postgres"), "SELECT usename FROM pg_stat_activity WHERE datname = 'app_a'");
                assert.ok(sessions.some((r) => r.usename === "app_a"), "sessions of every role are visible");
                // No tenant data: it cannot connect to a tenant's database at all.
                for (const app of APPS) await assert.rejects(monitor(app), new RegExp(`permission denied for database "${app}"|User does not have CONNECT privilege`));
                // Nor write or read files on the server.
                await assert.rejects(pgRun(monitor("postgres"), "CREATE TABLE probe (x int)"), /permission denied for schema public/);
                await assert.rejects(pgRun(monitor("postgres"), "SELECT pg_read_file('PG_VERSION')"), /permission denied for function pg_read_file/);
                await assert.rejects(pgRun(monitor("postgres"), "COPY (SELECT 1) TO '/tmp/x'"), /permission denied|must be superuser|pg_write_server_files/);
            } finally {
                await tenant.end();
                await pgRun(pgAdmin(), `DROP ROLE "${MONITOR_USER}"`);
            }
        });

        it("mysql: the monitoring account reads status, every schema's table sizes and every user's connections, and no row", async () => {
            // What MysqlServer registers with monitoring on: the account, MYSQL_MONITOR_GRANTS, its connection limit.
            await myRun(`CREATE USER '${MONITOR_USER}'@'%' IDENTIFIED BY '${MONITOR_PASSWORD}' WITH MAX_USER_CONNECTIONS ${MYSQL_MONITOR_CONNECTIONS}`);
            for (const g of MYSQL_MONITOR_GRANTS) {
                await myRun(`GRANT ${g.privileges.join(", ")} ON ${g.database === "*" ? "*" : `\`${g.database}\``}.* TO '${MONITOR_USER}'@'%'`);
            }
            const monitor = await mysql.createConnection({ host: "127.0.0.1", port: myPort, user: MONITOR_USER, password: MONITOR_PASSWORD });
            const tenant = await mysql.createConnection({ host: "127.0.0.1", port: myPort, user: "app_a", password: PASSWORDS.app_a, database: "app_a" });
            try {
                const q = async (sql: string) => (await monitor.query(sql))[0] as Record<string, unknown>[];
                assert.strictEqual((await q("SHOW GLOBAL STATUS LIKE 'Threads_connected'")).length, 1);
                // mysqld_exporter's info_schema.tables collector: every tenant's table sizes.
                const tables = await q("SELECT table_schema AS s, table_name AS t, data_length AS d FROM information_schema.tables WHERE table_schema IN ('app_a', 'app_b') ORDER BY 1");
                assert.deepStrictEqual(tables.map((r) => [r.s, r.t]), APPS.map((app) => [app, "notes"]));
                assert.ok(tables.every((r) => Number(r.d) > 0));
                // info_schema.processlist (PROCESS): connections of every user.
                const users = (await q("SELECT user FROM information_schema.processlist")).map((r) => r.user);
                assert.ok(users.includes("app_a"), JSON.stringify(users));
                // No tenant data, no account data, no writes.
                for (const app of APPS) {
                    await assert.rejects(monitor.query(`SELECT * FROM \`${app}\`.notes`), /SELECT command denied/);
                    await assert.rejects(monitor.query(`INSERT INTO \`${app}\`.notes VALUES ('x')`), /INSERT command denied/);
                }
                await assert.rejects(monitor.query("SELECT * FROM mysql.user"), /SELECT command denied/);
                await assert.rejects(monitor.query("CREATE DATABASE probe"), /Access denied/);
            } finally {
                await monitor.end();
                await tenant.end();
                await myRun(`DROP USER '${MONITOR_USER}'@'%'`);
            }
        });

        it("redis: the monitoring user counts and sizes every tenant's keys in a script, and reads no value", async () => {
            // The program's RedisServer with monitoring on creates this user through the real ACL provider.
            const created = await redisAclUserProvider.create!({
                host: "127.0.0.1",
                port: redis.port,
                adminUser: REDIS_ADMIN_USER,
                adminPassword: redis.adminPassword,
                user: MONITOR_USER,
                monitor: true,
                scripting: false,
                password: MONITOR_PASSWORD,
            } as never);
            const monitor = new Redis({ host: "127.0.0.1", port: redis.port, username: MONITOR_USER, password: MONITOR_PASSWORD, maxRetriesPerRequest: 0 });
            try {
                // The provider reads the user back as it wrote it.
                const read = await redisAclUserProvider.read!(MONITOR_USER, created.outs!);
                assert.strictEqual(read.props!.rules, created.outs!.rules);
                assert.match(String(await monitor.call("INFO", "keyspace")), /db1:keys=1/);
                assert.deepStrictEqual(await monitor.call("CONFIG", "GET", "databases"), ["databases", "4"]);
                // What redis_exporter's key groups do per batch: SCAN, MEMORY USAGE of each key, in
                // a script run as this user, first by digest.
                const script = "local b = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2]) local out = {} for _, k in ipairs(b[2]) do out[#out + 1] = {k, redis.call('MEMORY', 'USAGE', k)} end return {b[1], out}";
                await monitor.select(1);
                // Not loaded yet: NOSCRIPT (not NOPERM), on which the exporter sends the script itself.
                const sha = crypto.createHash("sha1").update(script).digest("hex");
                await assert.rejects(monitor.call("EVALSHA", sha, "0", "0", "1000"), /NOSCRIPT/);
                for (const call of [() => monitor.call("EVAL", script, "0", "0", "1000"), () => monitor.call("EVALSHA", sha, "0", "0", "1000")]) {
                    const [cursor, keys] = (await call()) as [string, [string, number][]];
                    assert.strictEqual(cursor, "0");
                    assert.deepStrictEqual(keys.map(([k]) => k), ["app_a:secret"]);
                    assert.ok(keys[0][1] > 0);
                }
                // No value, directly or in a script; no tenant's commands or clients; no writes.
                for (const args of [["GET", "app_a:secret"], ["DUMP", "app_a:secret"], ["SLOWLOG", "GET"], ["CLIENT", "LIST"], ["SET", "app_a:x", "1"], ["CONFIG", "SET", "maxmemory", "1"], ["ACL", "LIST"], ["KEYS", "*"], ["FLUSHALL"], ["MONITOR"]]) {
                    await assert.rejects(monitor.call(args[0], ...args.slice(1)), /NOPERM/, args.join(" "));
                }
                await assert.rejects(monitor.call("EVAL", "return redis.call('GET', 'app_a:secret')", "0"), /NOPERM|user executing the script can't run this command/);
            } finally {
                monitor.disconnect();
                await redisAclUserProvider.delete!(MONITOR_USER, created.outs!);
            }
        });
    });
});
