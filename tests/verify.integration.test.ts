// `npm run verify` against real servers: one PostgreSQL, one MariaDB (for MySQL) and one
// redis-server (started from the program's own command), each with two tenants set up as the
// program sets them up, and the `apps` credentials as the program builds them. The audit passes
// on that setup, names the breach when a grant is widened on purpose, names an unreachable
// server, and leaves no probe behind.
import * as assert from "assert";
import { spawnSync } from "child_process";
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

    it("the descriptors load no client library until audit() is called", () => {
        const script = `
            const { ENGINES } = require("./components/engines");
            const loaded = () => Object.keys(require.cache).filter((f) => /node_modules\\/(pg|mysql2|redis|@redis)\\/|-audit\\.ts$/.test(f)).length;
            const before = loaded();
            ENGINES.find((e) => e.name === "postgresql").audit();
            console.log(JSON.stringify([before, loaded() > 0]));
        `;
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(JSON.parse(result.stdout), [0, true]);
    });
});
