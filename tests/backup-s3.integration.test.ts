// Backups to S3 on real servers, running exactly the scripts the program renders, as the Jobs run
// them: backupScript then s3UploadScript on one directory (the emptyDir), and s3FetchScript then
// restoreScript on a fresh one. PostgreSQL from its Debian package, rclone from its Debian
// package, and s3rver (npm) as the S3 service on loopback.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { backupEnvironment, backupScript, restoreScript } from "../components/backup";
import { S3Destination, s3Env, s3FetchScript, s3UploadScript } from "../components/backup-s3";
import { POSTGRESQL_BACKUP } from "../components/postgresql/engine";
import { postgresqlRoleStatements } from "../components/postgresql/postgresql-settings";
import { RunningPostgres, initPostgres, startPostgres } from "./helpers/postgres";
import { freePort, requireBinary, tempDir } from "./helpers/servers";

/**
 * s3rver (npm) on 127.0.0.1, a port of its choosing, data in `dir`, with `bucket`. In its own
 * process: the scripts run through spawnSync, which blocks this process's event loop.
 */
async function startS3rver(dir: string, bucket: string): Promise<{ port: number; stop(): Promise<void> }> {
    const bin = require.resolve("s3rver/bin/s3rver.js");
    const child = spawn(process.execPath, [bin, "--directory", dir, "--address", "127.0.0.1", "--port", "0", "--silent", "--configure-bucket", bucket], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const onExit = () => child.kill("SIGKILL");
    process.once("exit", onExit);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
        process.removeListener("exit", onExit);
    };
    try {
        const port = await new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s:\n${output}`)), 15000);
            const seen = (d: Buffer) => {
                output += d;
                const m = /S3rver listening on 127\.0\.0\.1:(\d+)/.exec(output);
                if (m) {
                    clearTimeout(timer);
                    resolve(Number(m[1]));
                }
            };
            child.stdout!.on("data", seen);
            child.stderr!.on("data", seen);
            child.once("exit", (code) => {
                clearTimeout(timer);
                reject(new Error(`s3rver exited with ${code}:\n${output}`));
            });
        });
        return { port, stop };
    } catch (err) {
        await stop();
        throw err;
    }
}

const APPS = ["app_a", "app_b"];
const PASSWORDS: Record<string, string> = { app_a: "pw-a-0123456789", app_b: "pw-b-0123456789" };
const ADMIN = "admin-pw-0123456789";
const PG = POSTGRESQL_BACKUP.commands;
const EXT = PG.extension;
const BUCKET = "backups";
const PREFIX = "team/tenant-dbs";

describe("s3Env", () => {
    it("normalizes bucket and prefix into S3_PATH and holds no secret", () => {
        const env = s3Env({ bucket: "b", prefix: "/x//y/", credentialsSecret: "s" });
        assert.strictEqual(env.S3_PATH, "b/x/y");
        assert.strictEqual(s3Env({ bucket: "b", credentialsSecret: "s" }).S3_PATH, "b");
        assert.strictEqual(s3Env({ bucket: "b", prefix: "/", credentialsSecret: "s" }).S3_PATH, "b");
        assert.strictEqual(env.RCLONE_CONFIG_BACKUP_PROVIDER, "AWS");
        assert.ok(!("RCLONE_CONFIG_BACKUP_ENDPOINT" in env));
        const other = s3Env({ bucket: "b", endpoint: "https://minio.example:9000", region: "eu-1", credentialsSecret: "s" });
        assert.strictEqual(other.RCLONE_CONFIG_BACKUP_PROVIDER, "Other");
        assert.strictEqual(other.RCLONE_CONFIG_BACKUP_ENDPOINT, "https://minio.example:9000");
        assert.strictEqual(other.RCLONE_CONFIG_BACKUP_REGION, "eu-1");
        assert.ok(!Object.keys(other).some((k) => /SECRET|ACCESS_KEY|PASSWORD/.test(k)), "credentials come from the Secret");
        assert.throws(() => s3Env({ bucket: "b/c", credentialsSecret: "s" }), /bucket name without '\/'/);
        assert.throws(() => s3Env({ bucket: " ", credentialsSecret: "s" }), /bucket/);
    });
});

describe("postgresql: backups to S3 (s3rver) with the rendered scripts", function () {
    this.timeout(60000);
    let tmp: { dir: string; remove(): void };
    let pg: RunningPostgres;
    let s3: { port: number; stop(): Promise<void> };
    let rcloneEnv: Record<string, string>;
    let rcloneBin: string;
    let pgPort = 0;
    let dirs = 0;
    // The first backup uploaded, and its bytes.
    let first: string;
    let firstBytes: Buffer;

    const connect = async (app: string) => {
        const c = new Client({ host: "127.0.0.1", port: pgPort, user: app, password: PASSWORDS[app], database: app });
        await c.connect();
        return c;
    };
    const query = async (app: string, sql: string) => {
        const c = await connect(app);
        try {
            return (await c.query(sql)).rows;
        } finally {
            await c.end();
        }
    };
    const rows = async (app: string) => (await query(app, "SELECT id, note FROM notes ORDER BY id")).map((r) => `${r.id}:${r.note}`);

    /** A new empty directory, as a Job's emptyDir. */
    const emptyDir = () => {
        const dir = path.join(tmp.dir, `job-${++dirs}`);
        fs.mkdirSync(dir);
        return dir;
    };
    // Only what a Job gives the script: this process's environment may hold AWS_CA_BUNDLE and the
    // like, which rclone would obey.
    const run = (script: string, env: Record<string, string>, pathPrefix = "") => {
        const result = spawnSync("sh", ["-c", script], {
            encoding: "utf8",
            env: {
                PATH: [pathPrefix, pg.binDir, process.env.PATH].filter(Boolean).join(":"),
                // As a Job logs in: the app's own role and password.
                ...backupEnvironment(POSTGRESQL_BACKUP, { host: "127.0.0.1", port: pgPort, options: undefined as never }, { app: env.APP, options: undefined as never }, {}, PASSWORDS[env.APP] ?? "no-such-app"),
                ENGINE: "postgresql",
                ...rcloneEnv,
                ...env,
            },
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const backup = (app: string, dir: string, env: Record<string, string> = {}) => run(backupScript(PG), { APP: app, KEEP: "28", BACKUP_DIR: dir, ...env });
    const upload = (app: string, dir: string, keep: number, pathPrefix = "") => run(s3UploadScript(EXT), { APP: app, KEEP: String(keep), BACKUP_DIR: dir }, pathPrefix);
    const fetch = (app: string, from: string, dir: string) => run(s3FetchScript(EXT), { APP: app, FROM: from, BACKUP_DIR: dir });
    const restore = (app: string, dir: string) => run(restoreScript(PG), { APP: app, FROM: "latest", REPLACE: "true", BACKUP_DIR: dir });
    const nameIn = (stdout: string) => /^backup (\S+)$/m.exec(stdout)![1];

    /** Every object in the bucket, as keys; read with rclone directly, not through the scripts. */
    const objects = () => {
        const result = spawnSync(rcloneBin, ["lsf", "-R", "--files-only", `backup:${BUCKET}`], { encoding: "utf8", env: rcloneEnv });
        assert.strictEqual(result.status, 0, result.stderr);
        return result.stdout.split("\n").filter(Boolean).sort();
    };
    const key = (name: string) => `${PREFIX}/${name}`;
    const mine = () => objects().filter((k) => k.startsWith(key("app_a-postgresql-")) && k.endsWith(`.${EXT}`));

    // Objects the retention of app_a's PostgreSQL backups must never touch.
    const others = [
        key(`app_b-postgresql-20200101T000000Z.${EXT}`),
        key(`app_a_x-postgresql-20200101T000000Z.${EXT}`),
        key(`app_a-mysql-20200101T000000Z.sql`),
        key(`app_a-postgresql-20200101T000000Z.sql`),
        key(`sub/app_a-postgresql-20190101T000000Z.${EXT}`),
        `elsewhere/app_a-postgresql-20190101T000000Z.${EXT}`,
    ];
    const olderOfA = ["20200101T000000Z", "20210101T000000Z"].map((t) => key(`app_a-postgresql-${t}.${EXT}`));

    before(async () => {
        rcloneBin = requireBinary("rclone", "run .ci/run, or: apt-get install -y rclone");
        tmp = tempDir("backup-s3");
        pgPort = await freePort();
        // The cluster in tmp.dir itself (initPostgres hands it to the server user); the rest in subdirectories.
        await initPostgres({ dir: tmp.dir, adminPassword: ADMIN });
        pg = await startPostgres({ port: pgPort, dir: tmp.dir, adminPassword: ADMIN, args: [] });
        const root = new Client({ host: "127.0.0.1", port: pgPort, user: "postgres", password: ADMIN, database: "postgres" });
        await root.connect();
        for (const app of APPS) {
            for (const sql of postgresqlRoleStatements(app, PASSWORDS[app], { connectionLimit: 5, statementTimeoutSeconds: 60, idleInTransactionTimeoutSeconds: 60 })) await root.query(sql);
        }
        await root.end();
        for (const app of APPS) {
            await query(app, "CREATE TABLE notes (id int PRIMARY KEY, note text)");
            await query(app, `INSERT INTO notes VALUES (1, '${app} first'), (2, '${app} secret')`);
        }

        s3 = await startS3rver(path.join(tmp.dir, "s3"), BUCKET);
        // Slashes on purpose: the scripts must see the normalized path.
        const dest: S3Destination = { bucket: BUCKET, prefix: `/${PREFIX.replace("/", "//")}/`, endpoint: `http://127.0.0.1:${s3.port}`, credentialsSecret: "unused-here" };
        // s3rver's built-in account; the Job takes these from the Secret.
        rcloneEnv = { ...s3Env(dest), AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };
        assert.strictEqual(rcloneEnv.S3_PATH, `${BUCKET}/${PREFIX}`);

        // Old objects ("old" is no pg_dump file: restoring one would fail).
        const seed = path.join(tmp.dir, "seed");
        for (const k of [...others, ...olderOfA]) {
            fs.mkdirSync(path.dirname(path.join(seed, k)), { recursive: true });
            fs.writeFileSync(path.join(seed, k), "old");
        }
        const copied = spawnSync(rcloneBin, ["copy", seed, `backup:${BUCKET}`], { encoding: "utf8", env: rcloneEnv });
        assert.strictEqual(copied.status, 0, copied.stderr);
        assert.deepStrictEqual(objects(), [...others, ...olderOfA].sort());
    });

    after(async () => {
        await s3?.stop();
        await pg?.stop();
        tmp?.remove();
    });

    it("uploads the new backup under the prefix; with KEEP above the count, deletes nothing", () => {
        const dir = emptyDir();
        const dumped = backup("app_a", dir);
        assert.strictEqual(dumped.status, 0, dumped.stderr);
        first = nameIn(dumped.stdout);
        firstBytes = fs.readFileSync(path.join(dir, first));
        const result = upload("app_a", dir, 3);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^uploaded s3://${BUCKET}/${PREFIX}/${first.replace(/\./g, "\\.")}$`, "m"));
        assert.doesNotMatch(result.stdout, /deleted/);
        assert.deepStrictEqual(objects(), [...others, ...olderOfA, key(first)].sort());
    });

    it("fetches `latest` into an empty directory, and restoreScript brings the data back with REPLACE=true", async () => {
        await query("app_a", "DELETE FROM notes WHERE id = 2");
        await query("app_a", "INSERT INTO notes VALUES (3, 'written after the backup')");
        const dir = emptyDir();
        const fetched = fetch("app_a", "latest", dir);
        assert.strictEqual(fetched.status, 0, fetched.stderr);
        assert.match(fetched.stdout, new RegExp(`^fetched ${first.replace(/\./g, "\\.")}$`, "m"), "the newest, not an older one");
        assert.deepStrictEqual(fs.readdirSync(dir), [first], "one file, no partial left");
        assert.ok(fs.readFileSync(path.join(dir, first)).equals(firstBytes), "the bytes uploaded");
        const restored = restore("app_a", dir);
        assert.strictEqual(restored.status, 0, restored.stderr);
        assert.deepStrictEqual(await rows("app_a"), ["1:app_a first", "2:app_a secret"]);
        assert.deepStrictEqual(await rows("app_b"), ["1:app_b first", "2:app_b secret"], "the other tenant is untouched");
    });

    it("fetches a backup by name", () => {
        const dir = emptyDir();
        const name = path.basename(olderOfA[0]);
        const result = fetch("app_a", name, dir);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(fs.readFileSync(path.join(dir, name), "utf8"), "old");
    });

    it("refuses another app's backup, and names that are no backup, even when S3 holds them", () => {
        for (const from of [path.basename(others[0]), path.basename(others[1]), path.basename(others[2]), `${first}\n${first}`, "../elsewhere/" + first]) {
            const dir = emptyDir();
            const result = fetch("app_a", from, dir);
            assert.strictEqual(result.status, 1, `${from}: ${result.stderr}`);
            assert.match(result.stderr, /^fetch: [^]* is not a backup of app_a \(postgresql\)$/m);
            assert.deepStrictEqual(fs.readdirSync(dir), []);
        }
    });

    it("fails clearly on a backup that is not in S3, and on an app with none", () => {
        const dir = emptyDir();
        const missing = `app_a-postgresql-20300101T000000Z.${EXT}`;
        const result = fetch("app_a", missing, dir);
        assert.strictEqual(result.status, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`^fetch: no backup ${missing.replace(/\./g, "\\.")} in s3://${BUCKET}/${PREFIX}$`, "m"));
        const none = fetch("app_c", "latest", dir);
        assert.strictEqual(none.status, 1, none.stderr);
        assert.match(none.stderr, new RegExp(`^fetch: no backup of app_c \\(postgresql\\) in s3://${BUCKET}/${PREFIX}$`, "m"));
        assert.deepStrictEqual(fs.readdirSync(dir), []);
    });

    it("keeps exactly KEEP of app_a's PostgreSQL backups in S3, and no other object is touched", () => {
        const dir = emptyDir();
        const dumped = backup("app_a", dir);
        assert.strictEqual(dumped.status, 0, dumped.stderr);
        const newest = nameIn(dumped.stdout);
        const before = mine();
        const result = upload("app_a", dir, 2);
        assert.strictEqual(result.status, 0, result.stderr);
        // The two newest names; `newest` may equal `first` when both ran within the same second.
        const kept = [...new Set([...before, key(newest)])].sort().slice(-2);
        assert.deepStrictEqual(mine(), kept);
        assert.ok(kept.includes(key(newest)), "the new backup is kept");
        const deleted = [...result.stdout.matchAll(/^deleted s3:\/\/backups\/(\S+)$/gm)].map((m) => m[1]).sort();
        assert.deepStrictEqual(deleted, before.filter((k) => !kept.includes(k)).sort());
        assert.ok(deleted.includes(olderOfA[0]), "the oldest is gone");
        assert.deepStrictEqual(objects(), [...others, ...kept].sort(), "nothing else deleted or added");
    });

    it("deletes nothing when the dump failed (no backup in BACKUP_DIR)", () => {
        const before = objects();
        const dir = emptyDir();
        // A backup of another app in the directory is not this app's.
        fs.writeFileSync(path.join(dir, `app_b-postgresql-20990101T000000Z.${EXT}`), "not app_a's");
        const dumped = backup("app_a", dir, { PGPASSWORD: "wrong" });
        assert.notStrictEqual(dumped.status, 0);
        const result = upload("app_a", dir, 1);
        assert.strictEqual(result.status, 1, result.stderr);
        assert.match(result.stderr, /upload: no backup of app_a \(postgresql\) in .*; nothing uploaded, nothing deleted/);
        assert.deepStrictEqual(objects(), before);
    });

    it("deletes nothing when the upload fails, or leaves no object behind", () => {
        const before = objects();
        const dir = emptyDir();
        const dumped = backup("app_a", dir);
        assert.strictEqual(dumped.status, 0, dumped.stderr);
        // A name S3 cannot hold yet (the last test's backup may have been made in the same second).
        const fresh = `app_a-postgresql-20990101T000000Z.${EXT}`;
        fs.renameSync(path.join(dir, nameIn(dumped.stdout)), path.join(dir, fresh));
        // rclones whose uploads fail, or do nothing and exit 0 (listing and deleting work): the script must stop there.
        const shims = {
            failing: { copyto: 'echo "rclone: upload failed (test)" >&2; exit 1', stderr: /upload failed \(test\)/ },
            silent: { copyto: "exit 0", stderr: /upload: app_a-postgresql-20990101T000000Z\.pgdump is not in s3:\/\/backups\/team\/tenant-dbs after the upload; nothing deleted/ },
        };
        for (const [name, shim] of Object.entries(shims)) {
            const bin = path.join(tmp.dir, `${name}-rclone`);
            fs.mkdirSync(bin, { recursive: true });
            fs.writeFileSync(path.join(bin, "rclone"), `#!/bin/sh\nif [ "$1" = copyto ]; then ${shim.copyto}; fi\nexec ${rcloneBin} "$@"\n`, { mode: 0o755 });
            const result = upload("app_a", dir, 1, bin);
            assert.strictEqual(result.status, 1, `${name}: ${result.stderr}`);
            assert.match(result.stderr, shim.stderr);
            if (name === "failing") assert.doesNotMatch(result.stdout, /uploaded/, "no upload claimed");
            assert.deepStrictEqual(objects(), before, name);
        }
        // The same directory with the real rclone: uploaded, and now KEEP=1 applies.
        const retried = upload("app_a", dir, 1);
        assert.strictEqual(retried.status, 0, retried.stderr);
        assert.deepStrictEqual(mine(), [key(fresh)]);
    });

    it("refuses a KEEP below 1 before it uploads or deletes anything", () => {
        const before = objects();
        const dir = emptyDir();
        fs.writeFileSync(path.join(dir, `app_a-postgresql-20980101T000000Z.${EXT}`), "x");
        for (const keep of [0, -1]) {
            const result = upload("app_a", dir, keep);
            assert.strictEqual(result.status, 1, result.stderr);
            assert.match(result.stderr, /KEEP must be a whole number of at least 1/);
        }
        assert.deepStrictEqual(objects(), before);
    });
});
