// TLS required (issue 13) on real servers: PostgreSQL, Redis and MariaDB (for MySQL), each started
// once with exactly the TLS settings the program renders (postgresql-tls.ts, redis-tls.ts,
// mysql-tls.ts) and a CA and server certificates made here with openssl. On each: an app
// connects with exactly the variables it would receive and verifies the server; a plaintext
// client is refused; a certificate for another name, signed by the same CA, is rejected by the
// app's client; a renewed certificate is served after the rendered reload, and a key that does
// not match its certificate is refused with the previous pair still served.
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as mysql from "mysql2/promise";
import * as path from "path";
import { Client } from "pg";
import { createClient } from "redis";
import { credentialUrl } from "../components/credentials";
import { appEnvironment } from "../components/environment";
import { mysqlTlsEnvironment, mysqlTlsPaths, mysqlTlsReloadStatement, mysqlTlsServerArgs, MysqlTlsPaths, MYSQL_TLS_SSL_MODE } from "../components/mysql/mysql-tls";
import { postgresqlLivenessCommand } from "../components/postgresql/postgresql";
import {
    POSTGRES_ADMIN_USER,
    POSTGRES_DEFAULT_CONNECTION_LIMIT,
    POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    postgresqlRoleStatements,
    postgresqlServerArgs,
    postgresqlServerSettings,
} from "../components/postgresql/postgresql-settings";
import {
    POSTGRES_TLS_RELOAD_STATEMENT,
    PostgresqlTlsPaths,
    postgresqlTlsEnvironment,
    postgresqlTlsHba,
    postgresqlTlsPaths,
    postgresqlTlsServerArgs,
    postgresqlTlsSettings,
} from "../components/postgresql/postgresql-tls";
import { REDIS_ADMIN_USER, bootstrapAcl, tenantSetUserCommand } from "../components/redis/redis-acl";
import { RedisTlsPaths, redisCliTlsArgs, redisTlsEnvironment, redisTlsPaths, redisTlsReloadCommand, redisTlsServerArgs, redisTlsSettings, redisTlsUrl } from "../components/redis/redis-tls";
import { RunningPostgres, initPostgres, startPostgres } from "./helpers/postgres";
import { valueOf } from "./helpers/pulumi";
import { RunningTestServer, freePort, requireBinary, startMariadb, startRedis, tempDir } from "./helpers/servers";
import { CertificateFiles, LOOPBACK_NAMES, TestCa, certificatePem, installCertificate, makeTestCa, servedCertificate } from "./helpers/tls";

const APP = "app";
// Characters a URL must encode, so the appended TLS parameters are seen to leave the password intact.
const APP_PASSWORD = "p@ss:w/rd%?&=#";
// As other tests: their PostgreSQL data directory template (keyed by the admin password) serves this one too.
const ADMIN_PASSWORD = "admin-pw-0123456789";
const HOST = "127.0.0.1";

/** Runs an argv with only PATH and `env` in its environment; resolves with its exit code (or signal) and output. */
function run(argv: string[], env: Record<string, string | undefined>, timeoutMs = 10000): Promise<{ code: number | string; output: string }> {
    return new Promise((resolve) => {
        const child = spawn(argv[0], argv.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? String(signal), output });
        });
    });
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** A key that belongs to another certificate: the pair a half-done rotation would leave. */
const mismatched = (cert: CertificateFiles, other: CertificateFiles): CertificateFiles => ({ cert: cert.cert, key: other.key });

describe("TLS required on real servers (issue 13): PostgreSQL, Redis, MariaDB for MySQL", function () {
    this.timeout(30000);
    let pki: ReturnType<typeof tempDir>;
    let ca: TestCa;
    let good: CertificateFiles;
    let renewed: CertificateFiles;
    let wrongName: CertificateFiles;

    before(async () => {
        pki = tempDir("tls-ca");
        ca = await makeTestCa(pki.dir);
        [good, renewed, wrongName] = await Promise.all([ca.issue("localhost", LOOPBACK_NAMES), ca.issue("localhost", LOOPBACK_NAMES), ca.issue("wrong.example", ["DNS:wrong.example"])]);
    });
    after(() => pki?.remove());

    describe("PostgreSQL", () => {
        let tmp: ReturnType<typeof tempDir>;
        let port: number;
        let paths: PostgresqlTlsPaths;
        let server: RunningPostgres | undefined;
        /** The admin on the server's socket (the `local` line), for reloads. */
        let admin: Client;
        /** As root the server runs as `postgres`: its key is root's, readable by that group (0640), as in a Secret volume with fsGroup. */
        let group: number | undefined;
        let plainUrl: string;
        /** The app's variables with TLS. */
        let env: Record<string, string>;

        const served = () => servedCertificate(port, "postgres");
        async function install(pair: CertificateFiles) {
            installCertificate(pair, paths, group);
            await admin.query(POSTGRES_TLS_RELOAD_STATEMENT);
        }
        /** Installs and reloads, then waits until new connections get `pair` (the postmaster reloads after the statement returns). */
        async function rotateTo(pair: CertificateFiles) {
            await install(pair);
            const expected = certificatePem(pair.cert);
            await until("the server presents the new certificate", async () => (await served()) === expected);
        }
        async function connectApp(connectionString: string): Promise<{ ssl: boolean; user: string }> {
            const client = new Client({ connectionString, connectionTimeoutMillis: 5000 });
            client.on("error", () => undefined);
            try {
                await client.connect();
                const row = (await client.query("SELECT s.ssl, current_user AS user FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()")).rows[0];
                return { ssl: row.ssl, user: row.user };
            } finally {
                await client.end().catch(() => undefined);
            }
        }
        const psql = (vars: Record<string, string>, ...args: string[]) =>
            run([path.join(server!.binDir, "psql"), "-X", "-w", "-tA", ...args, "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], vars);

        before(async () => {
            tmp = tempDir("tls-postgresql");
            port = await freePort();
            // The system user helpers/postgres.ts runs the server as, when we are root.
            group = process.getuid?.() === 0 ? Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()) : undefined;
            await initPostgres({ dir: tmp.dir, adminPassword: ADMIN_PASSWORD });
            paths = postgresqlTlsPaths(path.join(tmp.dir, "tls"), tmp.dir);
            fs.mkdirSync(path.join(tmp.dir, "tls"));
            fs.writeFileSync(paths.hbaFile, postgresqlTlsHba(), { mode: 0o644 });
            installCertificate(good, paths, group);
            // The program's other settings too, for a small server: TLS's arguments follow them.
            const args = [...postgresqlServerArgs(postgresqlServerSettings("256Mi", 1)).slice(1), ...postgresqlTlsServerArgs(paths)];
            server = await startPostgres({ port, dir: tmp.dir, adminPassword: ADMIN_PASSWORD, args, ssl: { ca: fs.readFileSync(ca.caFile) } });
            admin = new Client({ host: tmp.dir, port, user: POSTGRES_ADMIN_USER, password: ADMIN_PASSWORD, database: "postgres" });
            admin.on("error", () => undefined);
            await admin.connect();
            const limits = {
                connectionLimit: POSTGRES_DEFAULT_CONNECTION_LIMIT,
                statementTimeoutSeconds: POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
                idleInTransactionTimeoutSeconds: POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
            };
            for (const sql of postgresqlRoleStatements(APP, APP_PASSWORD, limits)) await admin.query(sql);
            plainUrl = await valueOf(credentialUrl("postgresql", APP, APP_PASSWORD, HOST, port, APP));
            const credentials = { host: HOST, port, database: APP, user: APP, password: APP_PASSWORD, url: plainUrl };
            env = { ...appEnvironment(APP, { postgresql: credentials }), ...postgresqlTlsEnvironment(credentials, ca.caFile) };
        });

        after(async () => {
            await admin?.end().catch(() => undefined);
            await server?.stop();
            tmp?.remove();
        });

        it("runs with the rendered settings, and pg_hba.conf admits TCP only as hostssl", async () => {
            for (const [name, value] of postgresqlTlsSettings(paths)) assert.strictEqual((await admin.query(`SHOW ${name}`)).rows[0][name], value, name);
            const rules = (await admin.query("SELECT type, error FROM pg_hba_file_rules ORDER BY line_number")).rows;
            assert.deepStrictEqual(rules, [
                { type: "local", error: null },
                { type: "hostssl", error: null },
            ]);
        });

        it("an app connects with DATABASE_URL (node-postgres), and psql with it or with the PG* variables, verifying the server", async () => {
            assert.strictEqual(env.PGSSLMODE, "verify-full");
            assert.deepStrictEqual(await connectApp(env.DATABASE_URL), { ssl: true, user: APP });
            for (const result of await Promise.all([psql({}, env.DATABASE_URL), psql(env)])) assert.deepStrictEqual(result, { code: 0, output: "t\n" });
        });

        it("the rendered liveness command still passes (psql negotiates TLS on 127.0.0.1 by itself)", async () => {
            const result = await run(postgresqlLivenessCommand(port), { PATH: `${server!.binDir}:${process.env.PATH}`, POSTGRES_PASSWORD: ADMIN_PASSWORD });
            assert.strictEqual(result.code, 0, result.output);
        });

        it("a plaintext client is refused, with the app's own credentials", async () => {
            const refused = /no pg_hba\.conf entry for host "127\.0\.0\.1", user "app", database "app", no encryption/;
            await assert.rejects(connectApp(plainUrl), refused);
            const result = await psql({ ...env, PGSSLMODE: "disable" });
            assert.notStrictEqual(result.code, 0);
            assert.match(result.output, refused);
        });

        it("a certificate for another name, signed by the same CA, is rejected by the app's clients", async () => {
            await rotateTo(wrongName);
            try {
                await assert.rejects(connectApp(env.DATABASE_URL), (err: NodeJS.ErrnoException) => err.code === "ERR_TLS_CERT_ALTNAME_INVALID");
                const result = await psql(env);
                assert.notStrictEqual(result.code, 0);
                assert.match(result.output, /server certificate for "wrong\.example"( \(and \d+ other names?\))? does not match host name "127\.0\.0\.1"/);
                // Only the name is wrong: verify-ca, which skips it, gets in.
                assert.deepStrictEqual(await psql({ ...env, PGSSLMODE: "verify-ca" }), { code: 0, output: "t\n" });
            } finally {
                await rotateTo(good);
            }
        });

        it("a renewed certificate is served after the reload statement; a key that does not match is not loaded and the previous pair stays", async () => {
            try {
                installCertificate(renewed, paths, group);
                assert.strictEqual(await served(), certificatePem(good.cert), "the files alone change nothing");
                await rotateTo(renewed);
                assert.deepStrictEqual(await connectApp(env.DATABASE_URL), { ssl: true, user: APP });

                const logged = server!.log().length;
                await install(mismatched(good, renewed));
                await until("the server logs the failed reload", async () => /SSL configuration was not reloaded/.test(server!.log().slice(logged)));
                assert.strictEqual(await served(), certificatePem(renewed.cert));
                assert.deepStrictEqual(await connectApp(env.DATABASE_URL), { ssl: true, user: APP });
            } finally {
                await rotateTo(good);
            }
        });
    });

    describe("Redis", () => {
        let tmp: ReturnType<typeof tempDir>;
        let port: number;
        let paths: RedisTlsPaths;
        let server: RunningTestServer | undefined;
        /** The admin, logged in over TLS before any rotation: its connection outlives them. */
        let admin: ReturnType<typeof createClient>;
        let plainUrl: string;
        let env: Record<string, string>;

        const served = () => servedCertificate(port);
        /**
         * node-redis as an app configures it from REDIS_URL and REDIS_CACERT (`tls: true` is what
         * rediss:// says already: node-redis refuses a URL that disagrees).
         */
        async function connectApp(vars: Record<string, string>) {
            const client = createClient({ url: vars.REDIS_URL, socket: { tls: true, ca: fs.readFileSync(vars.REDIS_CACERT), reconnectStrategy: false, connectTimeout: 5000 } });
            client.on("error", () => undefined);
            try {
                await client.connect();
                await client.set(`${APP}:k`, "v");
                return await client.get(`${APP}:k`);
            } finally {
                if (client.isOpen) client.destroy();
            }
        }
        const reload = () => admin.sendCommand(redisTlsReloadCommand(paths));
        /** redis-cli as the probes run it: the admin (REDISCLI_AUTH) on 127.0.0.1 with the CA. */
        const probe = () => run(["redis-cli", "-h", HOST, "-p", String(port), ...redisCliTlsArgs(ca.caFile), "--user", REDIS_ADMIN_USER, "ping"], { REDISCLI_AUTH: ADMIN_PASSWORD });
        async function rotateTo(pair: CertificateFiles) {
            installCertificate(pair, paths);
            assert.strictEqual(await reload(), "OK");
        }

        before(async () => {
            tmp = tempDir("tls-redis");
            port = await freePort();
            paths = redisTlsPaths(path.join(tmp.dir, "tls"));
            fs.mkdirSync(path.join(tmp.dir, "tls"));
            installCertificate(good, paths);
            const aclFile = path.join(tmp.dir, "users.acl");
            fs.writeFileSync(aclFile, bootstrapAcl(ADMIN_PASSWORD));
            // The TLS arguments last: they close the plaintext port.
            const command = ["redis-server", "--aclfile", aclFile, "--dir", tmp.dir, "--save", "", "--appendonly", "no", "--bind", HOST, ...redisTlsServerArgs(port, paths)];
            server = await startRedis({ port, command });
            const adminUrl = redisTlsUrl(`redis://${REDIS_ADMIN_USER}:${encodeURIComponent(ADMIN_PASSWORD)}@${HOST}:${port}/0`);
            admin = createClient({ url: adminUrl, socket: { tls: true, ca: fs.readFileSync(ca.caFile), reconnectStrategy: false } });
            admin.on("error", () => undefined);
            await admin.connect();
            // The app's ACL user as the provider makes it: only the commands this Redis knows.
            const known = new Set(((await admin.sendCommand(["COMMAND", "LIST"])) as string[]).map((c) => c.toLowerCase()));
            await admin.sendCommand(tenantSetUserCommand(APP, APP_PASSWORD, { scripting: false }, known));
            plainUrl = await valueOf(credentialUrl("redis", APP, APP_PASSWORD, HOST, port, "3"));
            const credentials = { host: HOST, port, db: 3, user: APP, password: APP_PASSWORD, url: plainUrl, keyPrefix: APP };
            env = { ...appEnvironment(APP, { redis: credentials }), ...redisTlsEnvironment(credentials, ca.caFile) };
        });

        after(async () => {
            admin?.destroy();
            await server?.stop();
            tmp?.remove();
        });

        it("runs with the rendered settings: no plaintext port, TLS without client certificates", async () => {
            for (const [name, value] of redisTlsSettings(port, paths)) assert.deepStrictEqual(await admin.sendCommand(["CONFIG", "GET", name]), [name, value], name);
        });

        it("an app connects with REDIS_URL (rediss://) and REDIS_CACERT, verifying the server; the probes' redis-cli too", async () => {
            assert.ok(env.REDIS_URL.startsWith("rediss://"), "rediss://");
            assert.strictEqual(await connectApp(env), "v");
            assert.deepStrictEqual(await probe(), { code: 0, output: "PONG\n" });
        });

        it("a plaintext client is refused, with the app's own credentials", async () => {
            const client = createClient({ url: plainUrl, socket: { reconnectStrategy: false, connectTimeout: 5000 } });
            client.on("error", () => undefined);
            await assert.rejects(client.connect(), (err: NodeJS.ErrnoException) => err.code === "ECONNRESET");
            if (client.isOpen) client.destroy();
            const cli = await run(["redis-cli", "-h", HOST, "-p", String(port), "--user", REDIS_ADMIN_USER, "ping"], { REDISCLI_AUTH: ADMIN_PASSWORD });
            assert.strictEqual(cli.code, 1);
            assert.match(cli.output, /Connection reset by peer/);
            assert.doesNotMatch(cli.output, /PONG/);
        });

        it("a certificate for another name, signed by the same CA, is rejected by the app's client (redis-cli checks no name: fine for probes on 127.0.0.1 only)", async () => {
            await rotateTo(wrongName);
            try {
                assert.strictEqual(await served(), certificatePem(wrongName.cert));
                await assert.rejects(connectApp(env), (err: NodeJS.ErrnoException) => err.code === "ERR_TLS_CERT_ALTNAME_INVALID");
                assert.deepStrictEqual(await probe(), { code: 0, output: "PONG\n" });
            } finally {
                await rotateTo(good);
            }
        });

        it("a renewed certificate is served after the rendered CONFIG SET (Redis 7.0 re-reads unchanged paths); a key that does not match is refused and the previous pair stays", async () => {
            try {
                installCertificate(renewed, paths);
                assert.strictEqual(await served(), certificatePem(good.cert), "the files alone change nothing");
                await rotateTo(renewed);
                assert.strictEqual(await served(), certificatePem(renewed.cert));
                assert.strictEqual(await connectApp(env), "v");

                installCertificate(mismatched(good, renewed), paths);
                await assert.rejects(reload(), /Unable to update TLS configuration/);
                assert.strictEqual(await served(), certificatePem(renewed.cert));
                assert.strictEqual(await connectApp(env), "v");
            } finally {
                await rotateTo(good);
            }
        });
    });

    describe("MySQL, on MariaDB", () => {
        let tmp: ReturnType<typeof tempDir>;
        let port: number;
        let paths: MysqlTlsPaths;
        let server: RunningTestServer | undefined;
        /** root over TLS, opened before any rotation. */
        let admin: mysql.Connection;
        let env: Record<string, string>;

        const served = () => servedCertificate(port, "mysql");
        /**
         * mysql2 as an app configures it from the MYSQL_* variables: VERIFY_IDENTITY is mysql2's
         * `verifyIdentity` (for an IP address as host, mysql2 checks the name "localhost").
         */
        function appOptions(vars: Record<string, string>): mysql.ConnectionOptions {
            const ssl = { ca: fs.readFileSync(vars.MYSQL_SSL_CA), verifyIdentity: vars.MYSQL_SSL_MODE === "VERIFY_IDENTITY" };
            return { host: vars.MYSQL_HOST, port: Number(vars.MYSQL_PORT), user: vars.MYSQL_USER, password: vars.MYSQL_PASSWORD, database: vars.MYSQL_DATABASE, ssl, connectTimeout: 5000 };
        }
        async function connectApp(options: mysql.ConnectionOptions): Promise<string> {
            const conn = await mysql.createConnection(options);
            try {
                const [rows] = await conn.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
                return rows[0].Value;
            } finally {
                await conn.end().catch(() => undefined);
            }
        }
        /** The mariadb CLI from the same variables: `--ssl-verify-server-cert` is its VERIFY_IDENTITY. */
        function cli(vars: Record<string, string>, ...tls: string[]) {
            const client = requireBinary("mariadb", "run .ci/run, or: apt-get install -y mariadb-client");
            const login = [`--host=${vars.MYSQL_HOST}`, `--port=${vars.MYSQL_PORT}`, `--user=${vars.MYSQL_USER}`, ...tls];
            return run([client, "--no-defaults", ...login, "-N", "-B", "-e", "SHOW SESSION STATUS LIKE 'Ssl_version'", vars.MYSQL_DATABASE], { MYSQL_PWD: vars.MYSQL_PASSWORD });
        }
        const verifyingCli = (vars: Record<string, string>) => cli(vars, `--ssl-ca=${vars.MYSQL_SSL_CA}`, "--ssl-verify-server-cert");
        async function rotateTo(pair: CertificateFiles) {
            installCertificate(pair, paths);
            await admin.query(mysqlTlsReloadStatement("mariadb"));
        }

        before(async () => {
            tmp = tempDir("tls-mariadb");
            port = await freePort();
            paths = mysqlTlsPaths(path.join(tmp.dir, "tls"));
            fs.mkdirSync(path.join(tmp.dir, "tls"));
            installCertificate(good, paths);
            server = await startMariadb({ port, dir: tmp.dir, serverArgs: mysqlTlsServerArgs(paths) });
            admin = await mysql.createConnection({ host: HOST, port, user: "root", ssl: { ca: fs.readFileSync(ca.caFile), verifyIdentity: true } });
            await admin.query(`CREATE DATABASE ${APP}`);
            await admin.query(`CREATE USER '${APP}'@'%' IDENTIFIED BY ?`, [APP_PASSWORD]);
            await admin.query(`GRANT ALL PRIVILEGES ON ${APP}.* TO '${APP}'@'%'`);
            const url = await valueOf(credentialUrl("mysql", APP, APP_PASSWORD, HOST, port, APP));
            const credentials = { host: HOST, port, database: APP, user: APP, password: APP_PASSWORD, url };
            env = { ...appEnvironment(APP, { mysql: credentials }), ...mysqlTlsEnvironment(credentials, ca.caFile) };
        });

        after(async () => {
            await admin?.end().catch(() => undefined);
            await server?.stop();
            tmp?.remove();
        });

        it("runs with the rendered options", async () => {
            const [rows] = await admin.query<mysql.RowDataPacket[]>("SELECT @@require_secure_transport AS rst, @@have_ssl AS have, @@ssl_cert AS cert, @@ssl_key AS `key`, @@tls_version AS tls");
            assert.deepStrictEqual({ ...rows[0] }, { rst: 1, have: "YES", cert: paths.cert, key: paths.key, tls: "TLSv1.2,TLSv1.3" });
        });

        it("an app connects with the MYSQL_* variables (mysql2, the mariadb CLI), verifying the server; MYSQL_URL carries the same mode and CA", async () => {
            const url = new URL(env.MYSQL_URL);
            assert.deepStrictEqual([url.searchParams.get("ssl-mode"), url.searchParams.get("ssl-ca"), decodeURIComponent(url.password)], [MYSQL_TLS_SSL_MODE, env.MYSQL_SSL_CA, APP_PASSWORD]);
            assert.match(await connectApp(appOptions(env)), /^TLSv1\.[23]$/);
            const result = await verifyingCli(env);
            assert.strictEqual(result.code, 0, result.output);
            assert.match(result.output, /^Ssl_version\tTLSv1\.[23]\n$/);
        });

        it("a plaintext client is refused, with the app's own credentials (MariaDB says access denied); allowed once require_secure_transport is off", async () => {
            const plain = { ...appOptions(env), ssl: undefined };
            await assert.rejects(connectApp(plain), /Access denied for user 'app'/);
            const result = await cli(env, "--skip-ssl");
            assert.notStrictEqual(result.code, 0);
            assert.match(result.output, /Access denied for user 'app'/);
            // Control: the refusal is the setting's, not the account's.
            await admin.query("SET GLOBAL require_secure_transport = OFF");
            try {
                assert.strictEqual(await connectApp(plain), "");
            } finally {
                await admin.query("SET GLOBAL require_secure_transport = ON");
            }
        });

        it("a certificate for another name, signed by the same CA, is rejected by the app's clients (with the CA alone, mysql2 would accept it)", async () => {
            await rotateTo(wrongName);
            try {
                assert.strictEqual(await served(), certificatePem(wrongName.cert));
                await assert.rejects(connectApp(appOptions(env)), /Hostname\/IP does not match certificate's altnames/);
                const result = await verifyingCli(env);
                assert.notStrictEqual(result.code, 0);
                assert.match(result.output, /certificate|verif/i);
                // Why MYSQL_SSL_MODE matters: the chain alone is no check of whom the app talks to.
                assert.match(await connectApp(appOptions({ ...env, MYSQL_SSL_MODE: "VERIFY_CA" })), /^TLSv1\.[23]$/);
            } finally {
                await rotateTo(good);
            }
        });

        it("a renewed certificate is served after FLUSH SSL (MariaDB refuses MySQL's ALTER INSTANCE RELOAD TLS); a key that does not match is refused and the previous pair stays", async () => {
            try {
                installCertificate(renewed, paths);
                assert.strictEqual(await served(), certificatePem(good.cert), "the files alone change nothing");
                await assert.rejects(admin.query(mysqlTlsReloadStatement("mysql")), /SQL syntax/);
                await rotateTo(renewed);
                assert.strictEqual(await served(), certificatePem(renewed.cert));
                assert.match(await connectApp(appOptions(env)), /^TLSv1\.[23]$/);

                installCertificate(mismatched(good, renewed), paths);
                await assert.rejects(admin.query(mysqlTlsReloadStatement("mariadb")), /Failed to refresh SSL/);
                assert.strictEqual(await served(), certificatePem(renewed.cert));
                assert.match(await connectApp(appOptions(env)), /^TLSv1\.[23]$/);
            } finally {
                await rotateTo(good);
            }
        });
    });
});
