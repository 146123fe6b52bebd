// MySQL on a real MariaDB server (Debian package, started by the test) run with the arguments the
// program renders for a MysqlServer, its tenants applied as `pulumi up` would (database, account
// and escaped grant as @pulumi/mysql issues them, max_user_connections by the program's own
// provider), and the tenants acting as attackers. MariaDB stands in for MySQL 8.4: what it cannot
// show is named in the test names and left pending.
import * as assert from "assert";
import { execFile } from "child_process";
import * as net from "net";
import * as mysql from "mysql2/promise";
import { appEnvironment } from "../components/environment";
import { MYSQL_PORT, MysqlServer, MysqlTenantSpec, grantDatabasePattern, mysqlLivenessCommand } from "../components/mysql/mysql";
import { MysqlConnectionLimitState, mysqlConnectionLimitProvider } from "../components/mysql/mysql-connection-limit";
import { MYSQL_ADMIN_RESERVED_CONNECTIONS, MYSQL_ONLY_OPTIONS, mysqlServerSettings } from "../components/mysql/mysql-settings";
import { ServerRuntime, ServerSpec } from "../infra/runtime";
import { finder, runProgram, valueOf } from "./helpers/pulumi";
import { RunningTestServer, freePort, requireBinary, startMariadb, tempDir } from "./helpers/servers";
import { CapturingRuntime } from "./helpers/capture";

const CONNECTION_LIMIT = "pulumi-nodejs:dynamic/mysql:ConnectionLimit";
const GIB = 1024 * 1024 * 1024;

/** `--name=value` as [name, value]. */
function option(arg: string): [string, string] {
    const match = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    assert.ok(match, `not a --name=value option: ${arg}`);
    return [match[1], match[2]];
}

/** `--some-name=…` → `some_name`, the server variable. */
const variable = (name: string) => name.replace(/-/g, "_");

interface Case {
    memory: string;
    tenants: MysqlTenantSpec[];
}

interface Server {
    memory: string;
    port: number;
    spec: ServerSpec;
    /** The rendered arguments MariaDB is started with: all but the binary and MYSQL_ONLY_OPTIONS. */
    kept: string[];
    dropped: string[];
    rootPassword: string;
    /** pulumi up's admin connection, open for the whole run. */
    root: mysql.Connection;
    /** MYSQL_URL of each app, as the app receives it. */
    urls: Record<string, string>;
    /** max_user_connections of each app, as the program set it. */
    limits: Record<string, number>;
    process: RunningTestServer;
}

function program(c: Case, runtime: ServerRuntime) {
    return () =>
        new MysqlServer("mysql", {
            runtime,
            version: "8.4",
            storageGi: 1,
            resources: { requests: { memory: c.memory, cpu: "250m" }, limits: { memory: c.memory, cpu: "500m" } },
            tenants: c.tenants,
        });
}

/** Exit code and output of a command, run with only PATH and `env` (like a container's probe). */
function runCommand(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) =>
        execFile(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 15000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
        ),
    );
}

async function scalar(c: mysql.Connection, sql: string, values?: unknown[]): Promise<unknown> {
    const [rows] = await c.query({ sql, rowsAsArray: true }, values);
    return (rows as unknown[][])[0][0];
}

describe("MySQL on a real MariaDB server started with the program's rendered arguments", function () {
    this.timeout(60000);
    // 256Mi: max_connections 32, filled by three tenants of 10 plus the 2 the admin keeps.
    const small: Case = {
        memory: "256Mi",
        tenants: [
            { app: "digi_core", maxConnections: 10 },
            { app: "lernmi", maxConnections: 10 },
            { app: "shop", maxConnections: 10 },
        ],
    };
    const large: Case = { memory: "1Gi", tenants: [{ app: "digi_core" }] };
    const servers: Record<string, Server> = {};
    const open: mysql.Connection[] = [];
    const sockets: net.Socket[] = [];
    /** Registered as soon as there is something to undo; after() runs them last first. */
    const cleanups: (() => unknown)[] = [];

    /** Every connection a test opens is closed by closeAll() or after(), whatever the test's outcome. */
    const connect = async (to: string | mysql.ConnectionOptions) => {
        const c = typeof to === "string" ? await mysql.createConnection(to) : await mysql.createConnection(to);
        open.push(c);
        return c;
    };
    const closeAll = () => Promise.allSettled(open.splice(0).map((c) => c.end()));
    const liveness = (s: Server, password = s.rootPassword) => runCommand(mysqlLivenessCommand(s.port), { MYSQL_ROOT_PASSWORD: password });
    /** Waits until the server has only `n` client connections (closed ones end asynchronously). */
    async function settle(s: Server, n: number) {
        const deadline = Date.now() + 5000;
        for (;;) {
            const connected = Number(await scalar(s.root, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'"));
            if (connected === n) return;
            if (Date.now() > deadline) throw new Error(`${connected} connections, expected ${n}`);
            await new Promise((r) => setTimeout(r, 20));
        }
    }

    before(async () => {
        requireBinary("mysql", "the liveness command runs `mysql`; apt-get install -y mariadb-client");
        // First runs: what each server is started with. Then the servers, together.
        const captured: { c: Case; port: number; spec: ServerSpec }[] = [];
        for (const c of [small, large]) {
            const port = await freePort();
            const runtime = new CapturingRuntime(port);
            await runProgram(program(c, runtime));
            captured.push({ c, port, spec: runtime.spec! });
        }
        const starts = await Promise.allSettled(
            captured.map(async ({ c, port, spec }) => {
                const args = spec.args!;
                const dropped = args.slice(1).filter((a) => MYSQL_ONLY_OPTIONS.includes(option(a)[0]));
                const kept = args.slice(1).filter((a) => !dropped.includes(a));
                const tmp = tempDir(`mariadb-${c.memory}`);
                cleanups.push(() => tmp.remove());
                const started = await startMariadb({ port, dir: tmp.dir, serverArgs: kept });
                cleanups.push(() => started.stop());
                const rootPassword = await valueOf(spec.secretEnv!.MYSQL_ROOT_PASSWORD);
                // What the official image's entrypoint does with MYSQL_ROOT_PASSWORD.
                const bare = await connect({ host: "127.0.0.1", port, user: "root", password: "" });
                const [roots] = await bare.query("SELECT User, Host FROM mysql.user WHERE User = 'root'");
                for (const r of roots as { User: string; Host: string }[]) await bare.query("ALTER USER ?@? IDENTIFIED BY ?", [r.User, r.Host, rootPassword]);
                const root = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", password: rootPassword });
                cleanups.push(() => root.end().catch(() => undefined));
                servers[c.memory] = { memory: c.memory, port, spec, kept, dropped, rootPassword, root, urls: {}, limits: {}, process: started };
            }),
        );
        await closeAll();
        // Every start has settled (and registered its cleanup) before a failure ends the hook.
        for (const result of starts) if (result.status === "rejected") throw result.reason;
        // Second runs: the program's tenants applied to those servers.
        for (const { c, port } of captured) {
            const s = servers[c.memory];
            const runtime = new CapturingRuntime(port);
            const run = await runProgram(program(c, runtime), {
                liveState: async (type, inputs) => {
                    const i = inputs as Record<string, any>;
                    // The SQL the bridged @pulumi/mysql provider issues for these inputs.
                    if (type === "mysql:index/database:Database") await s.root.query(`CREATE DATABASE ${s.root.escapeId(i.name)}`);
                    else if (type === "mysql:index/user:User") await s.root.query("CREATE USER ?@? IDENTIFIED BY ?", [i.user, i.host, i.plaintextPassword]);
                    else if (type === "mysql:index/grant:Grant") {
                        const privileges = (i.privileges as string[]).join(", ");
                        assert.match(privileges, /^[A-Z ,]+$/);
                        await s.root.query(`GRANT ${privileges} ON ${s.root.escapeId(i.database)}.* TO ?@?`, [i.user, i.host]);
                    } else if (type === CONNECTION_LIMIT) return { ...(await mysqlConnectionLimitProvider.create!(i as MysqlConnectionLimitState)).outs };
                    else return undefined;
                    return { ...i };
                },
            });
            assert.deepStrictEqual(runtime.spec!.args, s.spec.args, "the same program renders the same arguments");
            for (const [app, tenant] of Object.entries(run.result.tenants)) {
                s.urls[app] = appEnvironment(app, { mysql: await valueOf(tenant.credentials) }).MYSQL_URL;
            }
            for (const r of finder(run.resources).all(CONNECTION_LIMIT)) s.limits[r.inputs.user] = r.inputs.maxUserConnections;
            assert.deepStrictEqual(Object.keys(s.urls).sort(), c.tenants.map((t) => t.app).sort());
        }
    });

    after(async () => {
        sockets.forEach((s) => s.destroy());
        await closeAll();
        for (const cleanup of cleanups.reverse()) await cleanup();
    });

    describe("the rendered arguments", () => {
        it("MariaDB gets every rendered argument but the binary and exactly MYSQL_ONLY_OPTIONS, which it rejects as unknown", async () => {
            const mariadbd = requireBinary("mariadbd", "apt-get install -y mariadb-server");
            for (const s of Object.values(servers)) {
                assert.strictEqual(s.spec.args![0], "mysqld");
                assert.deepStrictEqual(s.dropped.map((a) => option(a)[0]).sort(), [...MYSQL_ONLY_OPTIONS].sort(), s.memory);
                assert.strictEqual(s.kept.length + s.dropped.length + 1, s.spec.args!.length);
                // The server started with `kept`; each dropped one alone makes MariaDB refuse to start.
                for (const arg of s.dropped) {
                    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
                    const result = await runCommand([mariadbd, "--no-defaults", ...asRoot, arg, "--help", "--verbose"], {});
                    assert.notStrictEqual(result.code, 0, arg);
                    assert.ok(result.stderr.includes(`unknown variable '${arg.slice(2)}'`), `${arg}: ${result.stderr}`);
                }
            }
        });

        for (const c of [small, large]) {
            it(`${c.memory}: every rendered setting is in effect (SELECT @@GLOBAL.<name> equals the rendered value)`, async () => {
                const s = servers[c.memory];
                const settings = s.kept.map(option).filter(([name]) => !name.startsWith("maximum-"));
                const names = settings.map(([name]) => variable(name));
                for (const required of ["max_connections", "innodb_buffer_pool_size", "connect_timeout", "tmp_table_size", "max_heap_table_size"]) {
                    assert.ok(names.includes(required), `${required} is rendered`);
                }
                for (const [name, value] of settings) {
                    assert.strictEqual(String(await scalar(s.root, `SELECT @@GLOBAL.${variable(name)}`)), value, name);
                }
            });
        }
    });

    describe("a hostile tenant", () => {
        for (const c of [small, large]) {
            it(`${c.memory}: SET SESSION <buffer> = 1 GiB ends at each rendered --maximum-* ceiling, and SET GLOBAL is refused`, async () => {
                const s = servers[c.memory];
                const ceilings = s.kept.map(option).filter(([name]) => name.startsWith("maximum-")).map(([name, value]) => [variable(name.slice(8)), Number(value)] as const);
                const names = ceilings.map(([name]) => name);
                for (const required of ["max_heap_table_size", "tmp_table_size", "sort_buffer_size", "join_buffer_size"]) assert.ok(names.includes(required), required);
                const app = await connect(s.urls.digi_core);
                for (const [name, ceiling] of ceilings) {
                    assert.ok(ceiling < GIB, name);
                    await app.query(`SET SESSION ${name} = ${GIB}`);
                    assert.strictEqual(Number(await scalar(app, `SELECT @@SESSION.${name}`)), ceiling, name);
                    await app.query(`SET @@${name} = ${GIB}`);
                    assert.strictEqual(Number(await scalar(app, `SELECT @@SESSION.${name}`)), ceiling, `${name} with SET @@`);
                    await assert.rejects(app.query(`SET GLOBAL ${name} = ${GIB}`), /Access denied/, name);
                }
                await closeAll();
            });

            it(`${c.memory}: a MEMORY table stops at the rendered max_heap_table_size ("table is full"), whatever the session asks (SET SESSION 1 GiB, MAX_ROWS)`, async () => {
                const s = servers[c.memory];
                const ceiling = Number(s.kept.map(option).find(([name]) => name === "maximum-max-heap-table-size")![1]);
                const app = await connect(s.urls.digi_core);
                await app.query(`SET SESSION max_heap_table_size = ${GIB}`);
                await app.query("CREATE TABLE mem (id INT AUTO_INCREMENT PRIMARY KEY, v CHAR(255)) ENGINE=MEMORY MAX_ROWS=1000000000");
                assert.strictEqual(await scalar(app, "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'mem'"), "MEMORY");
                await app.query("INSERT INTO mem (v) VALUES (REPEAT('x', 255))");
                let full: Error | undefined;
                for (let i = 0; i < 40 && !full; i++) {
                    await app.query("INSERT INTO mem (v) SELECT v FROM mem").catch((err: Error) => (full = err));
                }
                assert.ok(full, "the table never filled");
                assert.strictEqual((full as { code?: string }).code, "ER_RECORD_FILE_FULL", full.message);
                const size = Number(await scalar(app, "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'mem'"));
                // The engine refuses a row once the table reaches the ceiling; the last block allocated may pass it a little.
                assert.ok(size >= ceiling * 0.9 && size <= ceiling * 1.1, `${size} bytes, ceiling ${ceiling}`);
                await app.query("DROP TABLE mem");
                await closeAll();
            });
        }

        it("MEMORY tables are refused (--disabled-storage-engines=MEMORY): MySQL only, not tested on a real server here");
        it("the TempTable engine's RAM is capped (--temptable-max-ram): MySQL only, not tested on a real server here");

        it("sees only its own database, not another tenant's data, accounts or sessions", async () => {
            const s = servers[small.memory];
            const owner = await connect(s.urls.digi_core);
            await owner.query("CREATE TABLE secrets (v TEXT)");
            const app = await connect(s.urls.lernmi);
            const [dbs] = await app.query({ sql: "SHOW DATABASES", rowsAsArray: true });
            assert.deepStrictEqual((dbs as string[][]).map((r) => r[0]).sort(), ["information_schema", "lernmi"]);
            const [schemas] = await app.query({ sql: "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", rowsAsArray: true });
            assert.deepStrictEqual((schemas as string[][]).map((r) => r[0]).sort(), ["information_schema", "lernmi"]);
            assert.strictEqual(await scalar(app, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'digi_core'"), 0);
            await assert.rejects(app.query("SELECT * FROM digi_core.secrets"), /denied/);
            await assert.rejects(app.query("SELECT User FROM mysql.user"), /denied/);
            const [processes] = await app.query("SHOW PROCESSLIST");
            assert.deepStrictEqual([...new Set((processes as { User: string }[]).map((p) => p.User))], ["lernmi"]);
            await owner.query("DROP TABLE secrets");
            await closeAll();
        });

        it("GET_LOCK names are server-wide: a tenant sees which connection holds another's lock and cannot take it, but cannot KILL that connection (README)", async () => {
            const s = servers[small.memory];
            const holder = await connect(s.urls.digi_core);
            const other = await connect(s.urls.lernmi);
            assert.strictEqual(Number(await scalar(holder, "SELECT GET_LOCK('deploy', 0)")), 1);
            const holderId = Number(await scalar(holder, "SELECT CONNECTION_ID()"));
            assert.strictEqual(Number(await scalar(other, "SELECT IS_USED_LOCK('deploy')")), holderId);
            assert.strictEqual(Number(await scalar(other, "SELECT GET_LOCK('deploy', 0)")), 0);
            await assert.rejects(other.query(`KILL ${holderId}`), /not owner of thread/);
            await assert.rejects(other.query(`KILL QUERY ${holderId}`), /not owner of thread/);
            assert.strictEqual(Number(await scalar(holder, "SELECT 1")), 1);
            await closeAll();
        });

        it("an escaped grant covers the app's database and not one its name matches as a pattern", async () => {
            const s = servers[small.memory];
            assert.strictEqual(grantDatabasePattern("digi_core"), "digi\\_core");
            await s.root.query("CREATE DATABASE `digiXcore`");
            const app = await connect(s.urls.digi_core);
            await app.query("CREATE TABLE t (id INT)");
            await assert.rejects(app.query("CREATE TABLE digiXcore.t (id INT)"), /denied/);
            // Unescaped, `_` is a wildcard: the same grant would reach digiXcore.
            await s.root.query("CREATE USER 'loose'@'%' IDENTIFIED BY 'pw-loose'");
            await s.root.query("GRANT ALL PRIVILEGES ON `digi_core`.* TO 'loose'@'%'");
            const loose = await connect(`mysql://loose:pw-loose@127.0.0.1:${s.port}`);
            await loose.query("CREATE TABLE digiXcore.t (id INT)");
            await s.root.query("DROP USER 'loose'@'%'");
            await closeAll();
        });

        it(`with every tenant at its max_user_connections (together max_connections − ${MYSQL_ADMIN_RESERVED_CONNECTIONS}), one more is refused, and the admin and the liveness command still connect`, async () => {
            const s = servers[small.memory];
            const maxConnections = Number(await scalar(s.root, "SELECT @@max_connections"));
            const sum = Object.values(s.limits).reduce((a, b) => a + b, 0);
            assert.deepStrictEqual(s.limits, { digi_core: 10, lernmi: 10, shop: 10 });
            assert.strictEqual(sum + MYSQL_ADMIN_RESERVED_CONNECTIONS, maxConnections, "the tenants fill the budget exactly");
            await settle(s, 1);
            for (const [app, limit] of Object.entries(s.limits)) {
                await Promise.all(Array.from({ length: limit }, () => connect(s.urls[app])));
                await assert.rejects(connect(s.urls[app]), /max_user_connections/, app);
            }
            // The admin's connection (pulumi up) holds one reserved slot; the probe takes the other.
            await settle(s, sum + 1);
            const probe = await liveness(s);
            assert.strictEqual(probe.code, 0, probe.stderr);
            await closeAll();
        });

        const renderedTimeout = mysqlServerSettings(small.memory).connectTimeoutSeconds;
        it(`unfinished handshakes count against max_connections: silent sockets lock out new admin, readiness and liveness connections until the rendered connect_timeout (${renderedTimeout} s) closes them`, async function () {
            this.timeout(30000);
            const s = servers[small.memory];
            const connectTimeout = Number(s.kept.map(option).find(([name]) => name === "connect-timeout")![1]);
            assert.strictEqual(connectTimeout, renderedTimeout, "the test name tells the rendered value");
            const maxConnections = Number(await scalar(s.root, "SELECT @@max_connections"));
            await settle(s, 1);
            // MariaDB and MySQL admit max_connections + 1 connections (the last for an admin) before authentication.
            const greeted: Promise<{ first: number; at: number }>[] = [];
            const closed: Promise<number>[] = [];
            for (let i = 0; i < maxConnections; i++) {
                const socket = net.connect(s.port, "127.0.0.1");
                socket.on("error", () => undefined);
                sockets.push(socket);
                greeted.push(new Promise((resolve) => socket.once("data", (d: Buffer) => resolve({ first: d[4], at: Date.now() }))));
                closed.push(new Promise((resolve) => socket.once("close", () => resolve(Date.now()))));
            }
            try {
                const greetings = await Promise.all(greeted);
                assert.ok(greetings.every((g) => g.first === 0x0a), "every socket got the server's handshake, none an error");

                assert.strictEqual(Number(await scalar(s.root, "SELECT 1")), 1, "an open admin connection keeps working");
                await assert.rejects(connect({ host: "127.0.0.1", port: s.port, user: "root", password: s.rootPassword }), /Too many connections/);
                const probe = await liveness(s);
                assert.notStrictEqual(probe.code, 0);
                assert.match(probe.stderr, /Too many connections/);
                const readiness = s.spec.readinessCommand.map((a, i, all) => (all[i - 1] === "-P" && a === String(MYSQL_PORT) ? String(s.port) : a));
                assert.notDeepStrictEqual(readiness, s.spec.readinessCommand, "the readiness command names the port");
                assert.notStrictEqual((await runCommand(readiness, {})).code, 0, "readiness fails during the flood");

                const closedAt = await Promise.all(closed);
                const waited = closedAt.map((at, i) => at - greetings[i].at);
                assert.ok(Math.min(...waited) >= connectTimeout * 1000 - 100, `closed after ${Math.min(...waited)} ms`);
                assert.ok(Math.max(...waited) <= connectTimeout * 1000 + 1500, `closed after ${Math.max(...waited)} ms`);
            } finally {
                // On failure, free the slots for the tests that follow.
                sockets.splice(0).forEach((socket) => socket.destroy());
            }
            await settle(s, 1);
            const after = await liveness(s);
            assert.strictEqual(after.code, 0, after.stderr);
        });
    });

    describe("the liveness command (exact argv of mysqlLivenessCommand, `mysql` is MariaDB's client here)", () => {
        it("exits 0 with root's password", async () => {
            const probe = await liveness(servers[small.memory]);
            assert.strictEqual(probe.code, 0, probe.stderr);
        });

        it("exits non-zero with a wrong password", async () => {
            const probe = await liveness(servers[small.memory], "wrong");
            assert.notStrictEqual(probe.code, 0);
            assert.match(probe.stderr, /Access denied/);
        });
    });

    describe("the MysqlConnectionLimit provider (on an account of its own)", () => {
        let limit: MysqlConnectionLimitState;
        before(async () => {
            const s = servers[small.memory];
            await s.root.query("CREATE USER 'probe'@'%' IDENTIFIED BY 'pw-probe'");
            limit = { host: "127.0.0.1", port: s.port, adminUser: "root", adminPassword: s.rootPassword, user: "probe", maxUserConnections: 2 };
        });

        it("sets max_user_connections, and the server enforces it", async () => {
            const s = servers[small.memory];
            const created = await mysqlConnectionLimitProvider.create!(limit);
            assert.strictEqual(created.id, "probe@%");
            assert.strictEqual(Number(await scalar(s.root, "SELECT max_user_connections FROM mysql.user WHERE User = 'probe' AND Host = '%'")), 2);
            const url = `mysql://probe:pw-probe@127.0.0.1:${s.port}`;
            await connect(url);
            await connect(url);
            await assert.rejects(connect(url), /max_user_connections/);
            await closeAll();
        });

        it("updates, reads back and resets the limit on delete", async () => {
            const created = await mysqlConnectionLimitProvider.create!(limit);
            assert.deepStrictEqual(await mysqlConnectionLimitProvider.diff!("probe@%", created.outs!, { ...limit, maxUserConnections: 5 }), {
                changes: true,
                replaces: [],
            });
            await mysqlConnectionLimitProvider.update!("probe@%", created.outs!, { ...limit, maxUserConnections: 5 });
            const read = await mysqlConnectionLimitProvider.read!("probe@%", created.outs!);
            assert.strictEqual(read.props?.maxUserConnections, 5);
            await mysqlConnectionLimitProvider.delete!("probe@%", { ...limit, maxUserConnections: 5 });
            const after = await mysqlConnectionLimitProvider.read!("probe@%", created.outs!);
            assert.strictEqual(after.props?.maxUserConnections, 0);
        });

        it("deletes quietly when the account is already gone, and reads it as gone", async () => {
            const s = servers[small.memory];
            await s.root.query("CREATE USER 'gone'@'%' IDENTIFIED BY 'x'");
            const state = { ...limit, user: "gone" };
            await mysqlConnectionLimitProvider.create!(state);
            await s.root.query("DROP USER 'gone'@'%'");
            await mysqlConnectionLimitProvider.delete!("gone@%", state);
            assert.deepStrictEqual(await mysqlConnectionLimitProvider.read!("gone@%", state), {});
        });

        it("says clearly when the server cannot be reached", async () => {
            const closed = await freePort();
            await assert.rejects(mysqlConnectionLimitProvider.create!({ ...limit, port: closed }), (err: Error) =>
                err.message.startsWith(`MySQL at 127.0.0.1:${closed} as root failed to limit connections of probe`) && err.message.includes("adminEndpoint"),
            );
        });
    });

    // Last (mocha runs a suite's own tests before its nested suites, so this is a suite too): it stops the server.
    describe("once the server is stopped", () => {
        it("the liveness command exits non-zero", async () => {
            const s = servers[small.memory];
            await s.root.end();
            await s.process.stop();
            const probe = await liveness(s);
            assert.notStrictEqual(probe.code, 0);
            assert.match(probe.stderr, /Can't connect/);
        });
    });
});
