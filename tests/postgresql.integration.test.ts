// PostgreSQL on a real server (Debian package `postgresql`, started by the test), as the program
// renders it: the server runs with the exact `postgres` arguments a PostgresqlServer asks its
// runtime for; each tenant gets exactly the SQL of postgresqlRoleStatements, checked against the
// inputs the program registers for @pulumi/postgresql's Role (the provider cannot run here); apps
// connect with node-postgres from the URL they receive and then act as hostile tenants; the
// liveness command runs as rendered.
import * as assert from "assert";
import { spawn } from "child_process";
import * as net from "net";
import { Client } from "pg";
import { POSTGRES_ADMIN_USER, POSTGRES_PORT, PostgresqlServer, PostgresqlTenantSpec, postgresqlLivenessCommand } from "../components/postgresql/postgresql";
import {
    POSTGRES_ADMIN_CONNECTIONS,
    POSTGRES_DEFAULT_CONNECTION_LIMIT,
    POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    PostgresqlRoleLimits,
    postgresqlRoleStatements,
} from "../components/postgresql/postgresql-settings";
import { ServerRuntime, ServerSpec } from "../infra/runtime";
import { RunningPostgres, initPostgres, startPostgres } from "./helpers/postgres";
import { RecordedResource, finder, runProgram, valueOf } from "./helpers/pulumi";
import { freePort, tempDir } from "./helpers/servers";
import { CapturingRuntime } from "./helpers/capture";

const ROLE = "postgresql:index/role:Role";
const DATABASE = "postgresql:index/database:Database";
const GRANT = "postgresql:index/grant:Grant";

// Tenant limits exactly fill the connection budget: 2 + 2 + 3 reserved + 3 held by the admin = max_connections 10.
const MAX_CONNECTIONS = 10;
const TENANTS: PostgresqlTenantSpec[] = [
    { app: "app_a", connectionLimit: 2, statementTimeoutSeconds: 1, idleInTransactionTimeoutSeconds: 1 },
    { app: "app_b", connectionLimit: 2 },
];

function program(runtime: ServerRuntime) {
    return () =>
        new PostgresqlServer("postgresql", {
            runtime,
            version: "15",
            storageGi: 2,
            resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
            // A small temp_file_limit, so a test sort exceeds it quickly.
            tuning: { maxConnections: MAX_CONNECTIONS, tempFileLimit: "1Mi" },
            tenants: TENANTS,
        });
}

/** The limits the component gives a tenant spec (its documented defaults). */
function limitsOf(t: PostgresqlTenantSpec): PostgresqlRoleLimits {
    return {
        connectionLimit: t.connectionLimit ?? POSTGRES_DEFAULT_CONNECTION_LIMIT,
        statementTimeoutSeconds: t.statementTimeoutSeconds ?? POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
        idleInTransactionTimeoutSeconds: t.idleInTransactionTimeoutSeconds ?? POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    };
}

/** `-c name=value` pairs of a `postgres` command line. */
function settingPairs(args: string[]): [string, string][] {
    const pairs: [string, string][] = [];
    for (let i = 0; i < args.length; i += 2) {
        assert.strictEqual(args[i], "-c", `expected only -c name=value pairs after "postgres", got ${JSON.stringify(args)}`);
        const match = /^([a-z_]+)=(.+)$/.exec(args[i + 1] ?? "");
        assert.ok(match, `not a name=value setting: ${JSON.stringify(args[i + 1])}`);
        pairs.push([match[1], match[2]]);
    }
    return pairs;
}

const UNIT_FACTORS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4, us: 0.001, ms: 1, s: 1000, min: 60000, h: 3600000, d: 86400000 };

/** A value with a PostgreSQL unit ("131072kB", "10s", "1000") in bytes or milliseconds; `unit` from pg_settings is the default. */
function inBaseUnits(value: string, defaultUnit: string): number {
    const match = /^(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
    assert.ok(match, `not a number with a unit: ${value}`);
    // pg_settings units may carry a multiplier ("8kB": shared_buffers counts 8 kB pages).
    const unitMatch = /^(\d*)([a-zA-Z]+)$/.exec(match[2] || defaultUnit);
    assert.ok(unitMatch && UNIT_FACTORS[unitMatch[2]] !== undefined, `unknown unit in ${value} (default ${defaultUnit})`);
    return Number(match[1]) * Number(unitMatch[1] || 1) * UNIT_FACTORS[unitMatch[2]];
}

function sleep(ms: number) {
    return new Promise((r) => setTimeout(r, ms));
}

/** What `promise` settles to, or `fallback` if it has not settled within `ms` (the timer is then cleared, not left running). */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
    let timer: NodeJS.Timeout | undefined;
    try {
        return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
    } finally {
        clearTimeout(timer);
    }
}

/** Runs an argv with a clean environment; resolves with its exit code (or signal), output and duration. */
function runCommand(argv: string[], env: Record<string, string>, timeoutMs = 15000): Promise<{ code: number | string; output: string; ms: number }> {
    return new Promise((resolve) => {
        const started = Date.now();
        const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("exit", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? String(signal), output, ms: Date.now() - started });
        });
    });
}

describe("PostgreSQL tenancy on a real server, as the program renders it", function () {
    this.timeout(30000);
    let tmp: ReturnType<typeof tempDir>;
    let port: number;
    let spec: ServerSpec;
    let serverArgs: string[];
    let adminPassword: string;
    let server: RunningPostgres | undefined;
    let roles: Record<string, RecordedResource>;
    let find: ReturnType<typeof finder>;
    /** What each app receives: DATABASE_URL. */
    let urls: Record<string, string>;
    /** Clients a test opened; closed after each test. */
    let open: Client[] = [];

    async function connect(config: string | { user: string; password: string; database: string }): Promise<Client> {
        const client = new Client(typeof config === "string" ? { connectionString: config } : { host: "127.0.0.1", port, ...config });
        client.on("error", () => undefined); // errors of idle clients are asserted where they matter
        open.push(client);
        await client.connect();
        return client;
    }

    const admin = () => connect({ user: POSTGRES_ADMIN_USER, password: adminPassword, database: "postgres" });

    /** The URL of an app, pointed at another database. */
    function urlTo(app: string, database: string): string {
        const url = new URL(urls[app]);
        url.pathname = `/${database}`;
        return url.toString();
    }

    /**
     * A connection that must succeed although the backends of a test's just-closed clients may
     * still be exiting (they hold their slots for a few milliseconds).
     */
    async function connectSoon(config: Parameters<typeof connect>[0]): Promise<Client> {
        const deadline = Date.now() + 3000;
        for (;;) {
            try {
                return await connect(config);
            } catch (err) {
                if (Date.now() > deadline || !/too many|remaining connection slots/.test((err as Error).message)) throw err;
                await sleep(50);
            }
        }
    }

    async function closeAll() {
        const clients = open;
        open = [];
        await Promise.allSettled(clients.map((c) => c.end()));
    }

    async function show(client: Client, name: string): Promise<string> {
        return (await client.query(`SHOW ${name}`)).rows[0][name];
    }

    function liveness(password: string) {
        return runCommand(postgresqlLivenessCommand(port), { PATH: `${server!.binDir}:${process.env.PATH}`, POSTGRES_PASSWORD: password });
    }

    before(async () => {
        tmp = tempDir("postgresql");
        port = await freePort();
        const runtime = new CapturingRuntime(port);
        const run = await runProgram(program(runtime));
        spec = runtime.spec!;
        find = finder(run.resources);
        adminPassword = await valueOf(spec.secretEnv!.POSTGRES_PASSWORD);
        assert.strictEqual(spec.args?.[0], "postgres", `the rendered command line starts with the server binary: ${JSON.stringify(spec.args)}`);
        serverArgs = spec.args.slice(1);

        // The cluster the image's entrypoint would make: admin `postgres` with POSTGRES_PASSWORD.
        await initPostgres({ dir: tmp.dir, adminPassword });
        server = await startPostgres({ port, dir: tmp.dir, adminPassword, args: serverArgs });

        // Each tenant as the provider would make it, through exactly the documented statements.
        roles = Object.fromEntries(find.all(ROLE).map((r) => [r.inputs.name, r]));
        assert.deepStrictEqual(Object.keys(roles).sort(), ["app_a", "app_b"]);
        const root = await admin();
        for (const t of TENANTS) {
            for (const sql of postgresqlRoleStatements(t.app, roles[t.app].inputs.password, limitsOf(t))) await root.query(sql);
        }
        urls = Object.fromEntries(
            await Promise.all(Object.entries(run.result.tenants).map(async ([app, tenant]) => [app, (await valueOf(tenant.credentials)).url])),
        );
        await closeAll();
    });

    afterEach(closeAll);

    after(async () => {
        await closeAll();
        await server?.stop();
        tmp?.remove();
    });

    describe("server settings", () => {
        it("every setting in the rendered `postgres -c name=value` arguments is in effect (SHOW, units normalised through pg_settings)", async () => {
            const pairs = settingPairs(serverArgs);
            const names = pairs.map(([name]) => name);
            for (const expected of [
                "max_connections",
                "superuser_reserved_connections",
                "shared_buffers",
                "work_mem",
                "temp_file_limit",
                "authentication_timeout",
                "idle_in_transaction_session_timeout",
            ]) {
                assert.ok(names.includes(expected), `${expected} is rendered: ${names.join(", ")}`);
            }
            const root = await admin();
            for (const [name, value] of pairs) {
                const row = (await root.query("SELECT setting, unit, source FROM pg_settings WHERE name = $1", [name])).rows[0];
                assert.ok(row, `${name} is a PostgreSQL setting`);
                const shown = await show(root, name);
                assert.strictEqual(row.source, "command line", `${name}: set by the command line (SHOW ${name}: ${shown})`);
                if (row.unit === null) {
                    assert.strictEqual(row.setting, value, `${name}: rendered ${value}, SHOW ${shown}`);
                } else {
                    assert.strictEqual(inBaseUnits(row.setting, row.unit), inBaseUnits(value, row.unit), `${name}: rendered ${value}, SHOW ${shown}`);
                }
            }
            assert.strictEqual(await show(root, "max_connections"), String(MAX_CONNECTIONS));
            assert.strictEqual(await show(root, "temp_file_limit"), "1MB");
            assert.strictEqual(await show(root, "authentication_timeout"), "10s");
        });
    });

    describe("tenants", () => {
        it("the role statements and the registered postgresql.Role, Database and Grant inputs agree, and the server holds them", async () => {
            const root = await admin();
            for (const t of TENANTS) {
                const role = roles[t.app].inputs;
                const [create, statementTimeout, idleTimeout, createDb, revoke] = postgresqlRoleStatements(t.app, role.password, limitsOf(t));
                const number = (sql: string, re: RegExp) => Number(re.exec(sql)?.[1] ?? NaN);
                assert.strictEqual(role.login, true);
                assert.ok(create.includes(`'${role.password}'`), "the statements use the Role's password");
                assert.strictEqual(role.connectionLimit, number(create, /CONNECTION LIMIT (\d+)$/), `${t.app}: connectionLimit`);
                assert.strictEqual(role.statementTimeout, number(statementTimeout, /SET statement_timeout = (\d+)$/), `${t.app}: statementTimeout (ms)`);
                assert.strictEqual(
                    role.idleInTransactionSessionTimeout,
                    number(idleTimeout, /SET idle_in_transaction_session_timeout = (\d+)$/),
                    `${t.app}: idleInTransactionSessionTimeout (ms)`,
                );
                assert.strictEqual(createDb, `CREATE DATABASE "${t.app}" OWNER "${t.app}"`);
                assert.strictEqual(revoke, `REVOKE ALL ON DATABASE "${t.app}" FROM PUBLIC`);
                const database = find.all(DATABASE).find((d) => d.inputs.name === t.app);
                assert.deepStrictEqual({ name: database?.inputs.name, owner: database?.inputs.owner }, { name: t.app, owner: t.app });
                const grant = find.all(GRANT).find((g) => g.inputs.database === t.app);
                assert.deepStrictEqual(
                    { role: grant?.inputs.role, objectType: grant?.inputs.objectType, privileges: grant?.inputs.privileges },
                    { role: "public", objectType: "database", privileges: [] },
                );

                const held = (
                    await root.query(
                        "SELECT r.rolconnlimit, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolconfig, d.datacl::text[] AS datacl " +
                            "FROM pg_roles r JOIN pg_database d ON d.datdba = r.oid WHERE r.rolname = $1",
                        [t.app],
                    )
                ).rows[0];
                assert.strictEqual(held.rolconnlimit, role.connectionLimit);
                assert.deepStrictEqual([held.rolsuper, held.rolcreatedb, held.rolcreaterole], [false, false, false]);
                assert.deepStrictEqual([...held.rolconfig].sort(), [
                    `idle_in_transaction_session_timeout=${role.idleInTransactionSessionTimeout}`,
                    `statement_timeout=${role.statementTimeout}`,
                ]);
                // Only the owner has privileges on its database: nothing for PUBLIC ("=…/owner").
                assert.deepStrictEqual(held.datacl, [`${t.app}=CTc/${t.app}`]);
            }
        });

        it("an app connects with the URL it receives and creates tables in its own database", async () => {
            assert.match(urls.app_a, /^postgresql:\/\/app_a:[A-Za-z0-9]+@127\.0\.0\.1:\d+\/app_a$/);
            const a = await connect(urls.app_a);
            await a.query("CREATE TABLE notes (id int PRIMARY KEY, body text)");
            await a.query("INSERT INTO notes VALUES (1, 'secret of a')");
            assert.strictEqual((await a.query("SELECT body FROM notes")).rows[0].body, "secret of a");
            assert.strictEqual(await show(a, "statement_timeout"), "1s", "the role's default from the statements");
        });

        it("the (limit+1)-th connection of a tenant is refused, and the tenant cannot raise its own limit", async () => {
            const first = await connectSoon(urls.app_a);
            await connectSoon(urls.app_a);
            await assert.rejects(connect(urls.app_a), (err: Error & { code?: string }) => err.code === "53300" && /too many connections for role "app_a"/.test(err.message));
            await assert.rejects(first.query(`ALTER ROLE app_a CONNECTION LIMIT 100`), /permission denied/);
        });

        it("the role's statement_timeout and idle_in_transaction_session_timeout (1 s each) cancel a long query and end a session idle in a transaction", async () => {
            const [running, idle] = [await connect(urls.app_a), await connect(urls.app_a)];
            const errors: Error[] = [];
            idle.removeAllListeners("error");
            idle.on("error", (err) => errors.push(err));
            const ended = new Promise<void>((resolve) => idle.once("end", () => resolve()));
            const started = Date.now();
            const since = () => Date.now() - started;
            // Both at once: each is the server's doing, in its own backend.
            const [cancelledAfter, endedAfter] = await Promise.all([
                assert
                    .rejects(running.query("SELECT pg_sleep(10)"), (err: Error & { code?: string }) => err.code === "57014" && /statement timeout/.test(err.message))
                    .then(since),
                (async () => {
                    await idle.query("BEGIN");
                    await idle.query("SELECT 1");
                    await within(ended, 5000, undefined);
                    return since();
                })(),
            ]);
            assert.ok(cancelledAfter >= 900 && cancelledAfter < 3000, `query cancelled after ${cancelledAfter} ms`);
            assert.ok(endedAfter >= 900 && endedAfter < 3000, `idle transaction ended after ${endedAfter} ms`);
            assert.match(errors.map((e) => e.message).join("; "), /terminating connection due to idle-in-transaction timeout/);
            await assert.rejects(idle.query("SELECT 1"));
            assert.strictEqual((await running.query("SELECT 1 AS one")).rows[0].one, 1, "a cancelled statement leaves the session usable");
        });

        it("temp_file_limit: a sort spilling more than the limit (1 MiB) fails, and the tenant can neither SET nor ALTER ROLE it", async () => {
            const a = await connect(urls.app_a);
            await a.query("SET work_mem = '64kB'"); // so the sort spills to disk
            await assert.rejects(
                a.query("SELECT count(*) FROM (SELECT g FROM generate_series(1, 1000000) g ORDER BY g DESC) s"),
                (err: Error & { code?: string }) => err.code === "53400" && /temporary file size exceeds temp_file_limit \(1024kB\)/.test(err.message),
            );
            await assert.rejects(a.query("SET temp_file_limit = '10GB'"), /permission denied to set parameter "temp_file_limit"/);
            await assert.rejects(a.query("SET temp_file_limit = -1"), /permission denied to set parameter "temp_file_limit"/);
            await assert.rejects(a.query("ALTER ROLE app_a SET temp_file_limit = -1"), /permission denied to set parameter "temp_file_limit"/);
            assert.strictEqual(await show(a, "temp_file_limit"), "1MB");
        });

        it("FACT for the README: a tenant CAN raise work_mem, statement_timeout and idle_in_transaction_session_timeout for its own sessions (SET, and ALTER ROLE itself SET): server and role values are defaults, not caps", async () => {
            const a = await connect(urls.app_a);
            await a.query("SET work_mem = '1GB'");
            await a.query("SET statement_timeout = 0");
            await a.query("SET idle_in_transaction_session_timeout = 0");
            assert.deepStrictEqual([await show(a, "work_mem"), await show(a, "statement_timeout"), await show(a, "idle_in_transaction_session_timeout")], ["1GB", "0", "0"]);
            // Persistently, for every later session of the role.
            await a.query("ALTER ROLE app_a SET work_mem = '1GB'");
            await a.query("ALTER ROLE app_a SET statement_timeout = 0");
            const later = await connectSoon(urls.app_a);
            assert.deepStrictEqual([await show(later, "work_mem"), await show(later, "statement_timeout")], ["1GB", "0"]);
            // Back to what the program sets (re-running its statement), for the other tests.
            const root = await admin();
            await root.query("ALTER ROLE app_a RESET work_mem");
            await root.query(postgresqlRoleStatements("app_a", roles.app_a.inputs.password, limitsOf(TENANTS[0]))[1]);
        });

        it("a tenant cannot connect to another tenant's database (CONNECT revoked from PUBLIC), so cannot read its tables", async () => {
            const b = await connect(urls.app_b);
            await b.query("CREATE TABLE secrets (v text)");
            await b.query("INSERT INTO secrets VALUES ('secret of b')");
            await assert.rejects(
                connect(urlTo("app_a", "app_b")),
                (err: Error & { code?: string }) => err.code === "42501" && /permission denied for database "app_b"/.test(err.message),
            );
            await assert.rejects(connect(urlTo("app_b", "app_a")), /permission denied for database "app_a"/);
            // Nor can it reach them another way: no cross-database queries, no extensions, no roles.
            const a = await connect(urls.app_a);
            await assert.rejects(a.query("SELECT * FROM app_b.public.secrets"), /cross-database references are not implemented/);
            await assert.rejects(a.query("CREATE EXTENSION dblink"), /permission denied|not available|could not open extension control file/);
            await assert.rejects(a.query("SET ROLE app_b"), /permission denied to set role "app_b"/);
            await assert.rejects(a.query("GRANT app_b TO app_a"), /permission denied|must have admin option/);
            await assert.rejects(a.query("ALTER ROLE app_b PASSWORD 'mine'"), /permission denied/);
        });

        it("a tenant cannot read password hashes, see another tenant's queries, or cancel or terminate its sessions", async () => {
            const b = await connect(urls.app_b);
            const bPid: number = (await b.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            await b.query("SELECT 'query text of b'");
            const a = await connect(urls.app_a);
            await assert.rejects(a.query("SELECT rolpassword FROM pg_authid"), /permission denied for table pg_authid/);
            await assert.rejects(a.query("SELECT * FROM pg_shadow"), /permission denied/);
            const seen = (await a.query("SELECT query, client_addr FROM pg_stat_activity WHERE pid = $1", [bPid])).rows[0];
            assert.deepStrictEqual(seen, { query: "<insufficient privilege>", client_addr: null });
            await assert.rejects(a.query("SELECT pg_cancel_backend($1)", [bPid]), /permission denied to cancel query|must be a member of the role/);
            await assert.rejects(a.query("SELECT pg_terminate_backend($1)", [bPid]), /permission denied to terminate process|must be a member of the role/);
            assert.strictEqual((await b.query("SELECT 1 AS one")).rows[0].one, 1);
        });

        it("FACT for the README: a tenant sees the other tenants' database and role names in the catalogs, and which of them are connected", async () => {
            await connect(urls.app_b);
            const a = await connect(urls.app_a);
            const databases = (await a.query("SELECT datname FROM pg_database ORDER BY 1")).rows.map((r) => r.datname);
            assert.ok(databases.includes("app_b"), databases.join(", "));
            const roleNames = (await a.query("SELECT rolname FROM pg_roles")).rows.map((r) => r.rolname);
            assert.ok(roleNames.includes("app_b"), roleNames.join(", "));
            const sessions = (await a.query("SELECT DISTINCT usename, datname FROM pg_stat_activity WHERE usename = 'app_b'")).rows;
            assert.deepStrictEqual(sessions, [{ usename: "app_b", datname: "app_b" }]);
        });

        it("FACT: a tenant can connect to the admin's `postgres` database (PUBLIC keeps CONNECT there) but cannot create tables in it", async () => {
            const a = await connect(urlTo("app_a", "postgres"));
            await assert.rejects(a.query("CREATE TABLE squat (v text)"), /permission denied for schema public/);
        });

        it("with every tenant at its limit and the admin holding its budgeted share (pulumi up 2, probe 1), the admin still connects and other non-superusers are refused", async () => {
            // Another non-superuser login, standing for anything that is not a tenant.
            const root = await admin();
            await root.query("DROP ROLE IF EXISTS intruder");
            await root.query("CREATE ROLE intruder LOGIN PASSWORD 'intruder-pw'");
            await closeAll();
            for (let i = 0; i < POSTGRES_ADMIN_CONNECTIONS; i++) await connectSoon({ user: POSTGRES_ADMIN_USER, password: adminPassword, database: "postgres" });
            // The budget holds: every tenant gets all its connections while the admin holds its share.
            for (const app of ["app_a", "app_a", "app_b", "app_b"]) await connectSoon(urls[app]);
            await assert.rejects(
                connect({ user: "intruder", password: "intruder-pw", database: "postgres" }),
                (err: Error & { code?: string }) => err.code === "53300" && /remaining connection slots are reserved/.test(err.message),
            );
            const again = await admin();
            assert.strictEqual((await again.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")).rows[0].n, 4 + POSTGRES_ADMIN_CONNECTIONS + 1);
            await again.query("DROP ROLE intruder");
        });

        it("FACT: admin sessions count against the tenants' share (why the budget keeps slots for them): beyond its budgeted share, each admin connection costs a tenant one", async () => {
            await closeAll();
            for (let i = 0; i < POSTGRES_ADMIN_CONNECTIONS + 1; i++) await connectSoon({ user: POSTGRES_ADMIN_USER, password: adminPassword, database: "postgres" });
            for (const app of ["app_a", "app_a", "app_b"]) await connectSoon(urls[app]);
            await assert.rejects(connect(urls.app_b), /remaining connection slots are reserved/);
        });
    });

    describe("liveness command", () => {
        it("the server's liveness command is postgresqlLivenessCommand(5432): psql as the admin over TCP", () => {
            assert.deepStrictEqual(spec.livenessCommand, postgresqlLivenessCommand(POSTGRES_PORT));
            assert.deepStrictEqual(postgresqlLivenessCommand(port), [
                spec.livenessCommand![0],
                spec.livenessCommand![1],
                spec.livenessCommand![2].replace(`-p ${POSTGRES_PORT} `, `-p ${port} `),
            ]);
        });

        it("exits 0 on the healthy server with the admin password from POSTGRES_PASSWORD", async () => {
            const probe = await liveness(adminPassword);
            assert.strictEqual(probe.code, 0, probe.output);
        });

        it("exits non-zero with a wrong password", async () => {
            const probe = await liveness("wrong-password");
            assert.notStrictEqual(probe.code, 0, probe.output);
            assert.ok(probe.ms < 3000, `${probe.ms} ms`);
        });

        it("exits non-zero within PGCONNECT_TIMEOUT (3 s) when the server is hung (postmaster SIGSTOPped)", async () => {
            process.kill(server!.pid, "SIGSTOP");
            try {
                const probe = await liveness(adminPassword);
                assert.notStrictEqual(probe.code, 0, probe.output);
                assert.ok(probe.ms >= 2000 && probe.ms < 5000, `gave up after ${probe.ms} ms: ${probe.output}`);
            } finally {
                process.kill(server!.pid, "SIGCONT");
            }
            const probe = await liveness(adminPassword);
            assert.strictEqual(probe.code, 0, `after SIGCONT: ${probe.output}`);
        });

        it("the readiness command (pg_isready over TCP) exits 0 on the running server", async () => {
            const argv = spec.readinessCommand.map((a) => (a === String(POSTGRES_PORT) ? String(port) : a));
            assert.deepStrictEqual(argv.slice(0, 5), ["pg_isready", "-h", "127.0.0.1", "-p", String(port)]);
            const probe = await runCommand(argv, { PATH: `${server!.binDir}:${process.env.PATH}` });
            assert.strictEqual(probe.code, 0, probe.output);
        });
    });

    describe("authentication_timeout (rendered 10 s; the server restarted with the rendered arguments plus -c authentication_timeout=1s)", () => {
        /** A TCP connection that never sends a startup packet, opened as soon as the server runs (its wait overlaps the tests before it). */
        let silent: ReturnType<typeof rawSocket>;

        before(async () => {
            await server!.stop();
            server = await startPostgres({ port, dir: tmp.dir, adminPassword, args: [...serverArgs, "-c", "authentication_timeout=1s"] });
            silent = rawSocket();
        });

        after(() => silent?.socket.destroy());

        /** A raw TCP connection to the server; `closed` resolves with the ms from open to close. */
        function rawSocket() {
            const socket = net.connect(port, "127.0.0.1");
            const opened = Date.now();
            const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - opened)));
            socket.on("error", () => undefined);
            return { socket, closed };
        }

        /** Sends a startup packet for app_a and waits for the server's first message: its type byte. */
        function startAuthenticating(): Promise<{ type: string; closed: Promise<number>; destroy(): void }> {
            const { socket, closed } = rawSocket();
            const params = Buffer.from("user\0app_a\0database\0app_a\0\0");
            const packet = Buffer.alloc(8 + params.length);
            packet.writeInt32BE(packet.length, 0);
            packet.writeInt32BE(196608, 4); // protocol 3.0
            params.copy(packet, 8);
            return new Promise((resolve, reject) => {
                socket.once("connect", () => socket.write(packet));
                socket.once("data", (d) => resolve({ type: String.fromCharCode(d[0]), closed, destroy: () => socket.destroy() }));
                socket.once("error", reject);
            });
        }

        it("the restarted server runs with authentication_timeout 1s", async () => {
            assert.strictEqual(await show(await admin(), "authentication_timeout"), "1s");
        });

        it("FACT for the README: connections that start authenticating and stall take every slot, the admin's included, until authentication_timeout; the liveness command fails meanwhile", async () => {
            const stalled: Awaited<ReturnType<typeof startAuthenticating>>[] = [];
            try {
                const deadline = Date.now() + 3000;
                while (stalled.length < MAX_CONNECTIONS) {
                    const conn = await startAuthenticating();
                    if (conn.type === "R") stalled.push(conn); // the server asks for the password, holding a slot
                    else if (Date.now() > deadline) assert.fail(`the server answered ${conn.type} instead of asking for a password`);
                    else await sleep(50); // a closing backend still held a slot
                }
                await assert.rejects(admin(), (err: Error & { code?: string }) => err.code === "53300" && /sorry, too many clients already/.test(err.message));
                const probe = await liveness(adminPassword);
                assert.notStrictEqual(probe.code, 0, `liveness during the flood: ${probe.output}`);
                const closedAfter = await within(Promise.all(stalled.map((s) => s.closed)), 5000, undefined);
                assert.ok(closedAfter, "the server closes stalled authentications");
                assert.ok(Math.max(...closedAfter) < 3000, `closed after ${closedAfter.join(", ")} ms`);
                await connectSoon({ user: POSTGRES_ADMIN_USER, password: adminPassword, database: "postgres" });
            } finally {
                stalled.forEach((s) => s.destroy());
            }
        });

        it("a TCP connection that never sends a startup packet is closed after about authentication_timeout", async () => {
            const ms = await within(silent.closed, 5000, -1);
            assert.ok(ms >= 900 && ms < 3000, `closed ${ms} ms after it opened (-1: still open 5 s later)`);
        });
    });

    describe("after the server stopped", () => {
        before(async () => {
            await closeAll();
            await server!.stop();
        });

        it("the liveness command exits non-zero at once when nothing listens", async () => {
            const probe = await liveness(adminPassword);
            assert.notStrictEqual(probe.code, 0, probe.output);
            assert.ok(probe.ms < 3000, `${probe.ms} ms`);
        });
    });
});
