// `npm run backup` / `npm run restore` on the Docker target: the docker command lines they build
// (no secret on them, the engine's rendered script, the server container's network), what they
// refuse, and the built script with its variables run against a real PostgreSQL.
import * as assert from "assert";
import { spawnSync } from "child_process";
import { Client } from "pg";
import { backupEnvironment, backupScript, restoreScript } from "../components/backup";
import { POSTGRESQL_BACKUP } from "../components/postgresql/engine";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import { REDIS_BACKUP } from "../components/redis/engine";
import { parseStackConfig } from "../stacks/config";
import { CONTAINER_BACKUP_DIR, DockerBackupRequest, dockerBackupRuns, dockerEnvFile } from "../stacks/docker-backup";
import { initPostgres, startPostgres } from "./helpers/postgres";
import { freePort, tempDir } from "./helpers/servers";

const DOCKER = {
    target: "docker",
    engines: { postgresql: { backup: { keep: 5 } }, redis: { databases: 4 } },
    apps: { app_a: { postgresql: {}, redis: { db: 0 } }, app_b: { postgresql: { placement: "dedicated" } } },
    backup: { destination: { directory: "./backups" } },
};
const config = parseStackConfig(DOCKER);
const request = (r: Partial<DockerBackupRequest>): DockerBackupRequest => ({ mode: "backup", stack: "dev", app: "app_a", ...r });
const scriptOf = (args: string[]) => args[args.indexOf("-c") + 1];

describe("backups on Docker (npm run backup / restore)", () => {
    it("runs each engine's rendered script in the server container's network, the directory mounted, nothing secret on the command line", () => {
        const runs = dockerBackupRuns(config, request({}), "/repo", "1000:1000");
        assert.deepStrictEqual(runs.map((r) => [r.engine, r.container]), [["postgresql", "tenant-databases-dev-postgresql"], ["redis", "tenant-databases-dev-redis"]]);
        const [pg, redis] = runs;
        assert.deepStrictEqual(pg.args.slice(0, -3), [
            "run",
            "--rm",
            "--network=container:tenant-databases-dev-postgresql",
            "--user=1000:1000",
            "--env-file={envFile}",
            `--volume=/repo/backups:${CONTAINER_BACKUP_DIR}`,
            "--entrypoint=sh",
        ]);
        assert.strictEqual(pg.args.at(-3), "postgres:18");
        assert.strictEqual(scriptOf(pg.args), backupScript(POSTGRESQL_BACKUP.commands));
        assert.strictEqual(scriptOf(redis.args), backupScript(REDIS_BACKUP.commands));
        const serverEnv = { POSTGRES_PASSWORD: "s3cret-admin" };
        assert.strictEqual(pg.needsTenantPassword, true);
        assert.throws(() => pg.env(serverEnv), /app_a's own password is needed \(as PGPASSWORD\)/);
        const env = pg.env(serverEnv, "s3cret-app");
        // The app's own login: PostgreSQL backups read nothing of the admin's.
        assert.strictEqual(env.PGPASSWORD, "s3cret-app");
        assert.strictEqual(env.PGUSER, "app_a");
        assert.deepStrictEqual(env, {
            ...backupEnvironment(POSTGRESQL_BACKUP, { host: "127.0.0.1", port: 5432, options: config.engines.postgresql.options as never }, { app: "app_a", options: undefined }, {}, "s3cret-app"),
            APP: "app_a",
            ENGINE: "postgresql",
            BACKUP_DIR: CONTAINER_BACKUP_DIR,
            HOME: "/tmp",
            KEEP: "5",
        });
        assert.ok(!pg.args.join(" ").includes("s3cret"));
        assert.strictEqual(redis.env({ REDISCLI_AUTH: "x" }).REDIS_DATABASES, "4");
        assert.strictEqual(dockerBackupRuns(config, request({ app: "app_b" }), "/repo", "0:0")[0].container, "tenant-databases-dev-postgresql-app-b");
    });

    it("restores one engine, from latest unless told, refusing what names no backup of the app", () => {
        const [run] = dockerBackupRuns(config, request({ mode: "restore", engine: "postgresql", from: "app_a-postgresql-20261101T030000Z.pgdump", replace: true }), "/repo", "0:0");
        assert.strictEqual(scriptOf(run.args), restoreScript(POSTGRESQL_BACKUP.commands));
        assert.deepStrictEqual([run.env({}, "p").FROM, run.env({}, "p").REPLACE], ["app_a-postgresql-20261101T030000Z.pgdump", "true"]);
        assert.strictEqual(dockerBackupRuns(config, request({ mode: "restore", engine: "redis" }), "/repo", "0:0")[0].env({ REDISCLI_AUTH: "x" }).FROM, "latest");
        const refused: [Partial<DockerBackupRequest>, RegExp][] = [
            [{ mode: "restore" }, /app_a uses postgresql, redis: say which one to restore with --engine/],
            [{ mode: "restore", engine: "postgresql", from: "app_b-postgresql-20261101T030000Z.pgdump" }, /--from: .* is not a backup of app_a's postgresql data/],
            [{ engine: "mysql" }, /app_a does not use mysql; it uses postgresql, redis/],
            [{ app: "nobody" }, /no app "nobody" in stack dev; apps: app_a, app_b/],
        ];
        for (const [r, message] of refused) assert.throws(() => dockerBackupRuns(config, request(r), "/repo", "0:0"), message);
        assert.throws(() => dockerBackupRuns(parseStackConfig({ ...DOCKER, engines: { postgresql: {} }, apps: { app_a: { postgresql: {} } }, backup: undefined }), request({}), "/repo", "0:0"), /no backup directory: pass --dir <path>, or set tenant-databases:backup\.destination\.directory/);
        const k8s = parseStackConfig({ ...DOCKER, target: "kubernetes", backup: { destination: { volume: { sizeGi: 1 } } } });
        assert.throws(() => dockerBackupRuns(k8s, request({}), "/repo", "0:0"), /runs on kubernetes: backups run as CronJobs there/);
    });

    it("backs up what the config backs up, with its keep, and names the key that turned an engine off", () => {
        const some = parseStackConfig({
            ...DOCKER,
            engines: { postgresql: { backup: { keep: 3 } }, redis: { databases: 4, backup: { enabled: false } }, mysql: {} },
            apps: { app_a: { postgresql: {}, redis: { db: 0 }, mysql: { backup: false } } },
        });
        const runs = dockerBackupRuns(some, request({}), "/repo", "0:0");
        assert.deepStrictEqual(runs.map((r) => r.engine), ["postgresql"]);
        assert.strictEqual(runs[0].env({}, "p").KEEP, "3");
        assert.throws(() => dockerBackupRuns(some, request({ engine: "redis" }), "/repo", "0:0"), /app_a's redis data is not backed up: engines\.redis\.backup\.enabled is false/);
        assert.throws(() => dockerBackupRuns(some, request({ engine: "mysql" }), "/repo", "0:0"), /app_a's mysql data is not backed up: apps\.app_a\.mysql\.backup is false/);
        // A restore may use any backup there is.
        assert.strictEqual(dockerBackupRuns(some, request({ mode: "restore", engine: "redis" }), "/repo", "0:0").length, 1);
        const none = parseStackConfig({ ...DOCKER, engines: { postgresql: {} }, apps: { app_a: { postgresql: {} } }, backup: undefined });
        assert.throws(() => dockerBackupRuns(none, request({ dir: "/tmp/x" }), "/repo", "0:0"), /app_a has no backups in stack dev: the stack has no tenant-databases:backup/);
        assert.throws(() => dockerBackupRuns(config, request({ dir: "/tmp/a:b" }), "/repo", "0:0"), /holds a ':', which docker --volume cannot mount/);
    });

    it("writes an env file Docker reads literally, and refuses a value it cannot carry", () => {
        assert.strictEqual(dockerEnvFile({ A: "x y 'z'", B: "" }), "A=x y 'z'\nB=\n");
        assert.throws(() => dockerEnvFile({ A: "x\ny" }), /A: a value with a line break/);
    });

    it("the built script and variables back up and restore on a real PostgreSQL (its port and directory as Docker would map them)", async function () {
        this.timeout(30000);
        const tmp = tempDir("docker-backup-");
        const backupTmp = tempDir("docker-backup-files-");
        const admin = "admin-pw-0123456789";
        const port = await freePort();
        const data = tmp.dir;
        const backups = backupTmp.dir;
        await initPostgres({ dir: data, adminPassword: admin });
        const server = await startPostgres({ port, dir: data, adminPassword: admin, args: [] });
        try {
            const root = new Client({ host: "127.0.0.1", port, user: "postgres", password: admin, database: "postgres" });
            await root.connect();
            for (const sql of postgresqlRoleStatements("app_a", "pw-a-0123456789", { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 })) await root.query(sql);
            await root.end();
            const asApp = async (sql: string) => {
                const c = new Client({ host: "127.0.0.1", port, user: "app_a", password: "pw-a-0123456789", database: "app_a" });
                await c.connect();
                try {
                    return (await c.query(sql)).rows;
                } finally {
                    await c.end();
                }
            };
            await asApp("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
            const run = (mode: "backup" | "restore", extra: Partial<DockerBackupRequest> = {}) => {
                const [r] = dockerBackupRuns(config, request({ mode, engine: "postgresql", ...extra }), "/repo", "0:0");
                // What the container sees through Docker: the server on its port in the shared network, the directory at /backups.
                const env = { ...r.env({}, "pw-a-0123456789"), PGPORT: String(port), BACKUP_DIR: backups };
                return spawnSync("sh", ["-c", scriptOf(r.args)], { encoding: "utf8", env: { PATH: `${server.binDir}:${process.env.PATH}`, ...env } });
            };
            const backup = run("backup");
            assert.strictEqual(backup.status, 0, backup.stderr);
            assert.match(backup.stdout, /^backup app_a-postgresql-\d{8}T\d{6}Z\.pgdump$/m);
            await asApp("UPDATE notes SET body = 'changed'");
            const refused = run("restore");
            assert.strictEqual(refused.status, 1, "refuses a database holding data without --replace");
            assert.match(refused.stderr, /holds data; pass --replace to replace it/);
            const restore = run("restore", { replace: true });
            assert.strictEqual(restore.status, 0, restore.stderr);
            assert.deepStrictEqual(await asApp("SELECT body FROM notes"), [{ body: "kept" }]);
        } finally {
            await server.stop();
            tmp.remove();
            backupTmp.remove();
        }
    });
});
