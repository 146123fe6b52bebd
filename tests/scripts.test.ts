// The operator commands: npm run plan and npm run env, run as a user would.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { benchConfig } from "../bench/config";
import { formatDotenv } from "../components/environment";
import { parseStackConfig } from "../stacks/config";
import { parseArgs } from "../scripts/backup";
import { main as planMain } from "../scripts/plan";
import { envText } from "../scripts/env";

const ROOT = path.resolve(__dirname, "..");

/** `npm run plan` in this process (ts-node starts in 1.5 s a time): what it prints, and its exit code. */
function planInProcess(stack: string): { status: number; stdout: string; stderr: string } {
    const out: string[] = [];
    const err: string[] = [];
    const { log, error } = console;
    console.log = (...a: unknown[]) => void out.push(a.join(" ") + "\n");
    console.error = (...a: unknown[]) => void err.push(a.join(" ") + "\n");
    try {
        return { status: planMain(stack), stdout: out.join(""), stderr: err.join("") };
    } finally {
        Object.assign(console, { log, error });
    }
}

function runScript(script: string, args: string[], input?: string) {
    return spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(ROOT, "scripts", script), ...args], {
        cwd: ROOT,
        input,
        encoding: "utf8",
    });
}

describe("operator scripts", function () {
    this.timeout(60000);

    describe("npm run backup / restore (Docker), with a stand-in docker command", () => {
        let tmp: string;
        let log: string;
        const apps = { lernmi: { postgresql: { password: "app-pg-secret" }, redis: { password: "app-redis-secret" } } };
        const backup = (args: string[], env: Record<string, string> = {}) =>
            spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(ROOT, "scripts", "backup.ts"), ...args], {
                cwd: ROOT,
                input: JSON.stringify(apps),
                encoding: "utf8",
                env: { ...process.env, PATH: `${tmp}:${process.env.PATH}`, FAKE_DOCKER_LOG: log, ...env },
            });
        before(() => {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
            log = path.join(tmp, "log");
            // Answers `inspect` with a server container's environment; records each `run`, with a copy of its env file.
            fs.writeFileSync(
                path.join(tmp, "docker"),
                [
                    "#!/bin/sh",
                    'case "$1" in',
                    `inspect) echo '["REDISCLI_AUTH=admin-redis-secret","POSTGRES_PASSWORD=admin-pg-secret","PATH=/usr/bin"]' ;;`,
                    'run) n=$(ls "$FAKE_DOCKER_LOG".* 2>/dev/null | wc -l)',
                    '  for a in "$@"; do case "$a" in --env-file=*) f=${a#--env-file=}; cp "$f" "$FAKE_DOCKER_LOG.$n.env"; stat -c %a "$f" > "$FAKE_DOCKER_LOG.$n.mode"; echo "$f" > "$FAKE_DOCKER_LOG.$n.path" ;; esac; done',
                    '  printf "%s\\n" "$*" > "$FAKE_DOCKER_LOG.$n.args"; exit "${FAKE_DOCKER_STATUS:-0}" ;;',
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
        });
        after(() => fs.rmSync(tmp, { recursive: true, force: true }));
        beforeEach(() => {
            for (const f of fs.readdirSync(tmp).filter((f) => f.startsWith("log."))) fs.rmSync(path.join(tmp, f));
        });
        const runs = () =>
            fs
                .readdirSync(tmp)
                .filter((f) => f.endsWith(".args"))
                .sort()
                .map((f) => {
                    const base = path.join(tmp, f.replace(/\.args$/, ""));
                    return { args: fs.readFileSync(`${base}.args`, "utf8"), env: fs.readFileSync(`${base}.env`, "utf8"), mode: fs.readFileSync(`${base}.mode`, "utf8").trim(), path: fs.readFileSync(`${base}.path`, "utf8").trim() };
                });

        it("backs up each engine as the config says, the app's or the admin's password only in a private env file, deleted afterwards", () => {
            const dir = path.join(tmp, "backups");
            const result = backup(["backup", "lernmi", "--stack", "dev", "--dir", dir, "--apps", "-"]);
            assert.strictEqual(result.status, 0, result.stderr);
            const [pg, redis] = runs();
            assert.match(pg.args, /^run --rm --network=container:tenant-databases-dev-postgresql /);
            assert.match(redis.args, /--network=container:tenant-databases-dev-redis /);
            assert.match(pg.env, /^PGUSER=lernmi$/m);
            assert.match(pg.env, /^PGPASSWORD=app-pg-secret$/m, "PostgreSQL logs in as the app");
            assert.match(redis.env, /^REDISCLI_AUTH=admin-redis-secret$/m, "Redis as the admin, from the server container");
            assert.doesNotMatch(pg.env, /admin-pg-secret/);
            for (const r of [pg, redis]) {
                assert.doesNotMatch(r.args, /secret/, "no password on the command line");
                assert.strictEqual(r.mode, "600");
                assert.ok(!fs.existsSync(r.path), "the env file is deleted");
                assert.ok(r.args.includes(`--volume=${dir}:/backups`));
            }
            assert.ok(fs.statSync(dir).isDirectory());
        });

        it("parses its command line, refusing a flag without a value and unknown options", () => {
            assert.deepStrictEqual(parseArgs("restore", ["lernmi", "--engine", "redis", "--from", "latest", "--replace", "--stack", "dev", "--apps", "-"]), {
                mode: "restore",
                stack: "dev",
                app: "lernmi",
                engine: "redis",
                dir: undefined,
                from: "latest",
                replace: true,
                apps: "-",
            });
            assert.strictEqual(parseArgs("backup", ["lernmi"]).stack, "dev", "the repo's one Docker stack");
            assert.throws(() => parseArgs("backup", ["lernmi", "--engine", "--dir", "x"]), /--engine needs a value/);
            assert.throws(() => parseArgs("backup", ["lernmi", "--bogus"]), /unknown option --bogus/);
            assert.throws(() => parseArgs("backup", ["lernmi", "--from", "latest"]), /unknown option --from/, "--from is the restore's");
            assert.throws(() => parseArgs("backup", []), /usage: npm run backup/);
        });

        it("fails when docker fails", () => {
            const failed = backup(["backup", "lernmi", "--stack", "dev", "--dir", tmp, "--apps", "-", "--engine", "redis"], { FAKE_DOCKER_STATUS: "3" });
            assert.strictEqual(failed.status, 1);
            assert.match(failed.stderr, /backup of lernmi's redis data failed/);
            assert.strictEqual(runs().length, 1, "one engine, one docker run");
            // Refusals of the command line and of the plan are tested in-process (parseArgs above, tests/docker-backup.test.ts).
        });
    });

    it("env prints an app's variables as .env from the apps output", () => {
        const apps = {
            lernmi: {
                postgresql: { host: "127.0.0.1", port: 15432, database: "lernmi", user: "lernmi", password: "pw1", url: "postgresql://lernmi:pw1@127.0.0.1:15432/lernmi" },
                redis: { host: "127.0.0.1", port: 16379, db: 1, user: "lernmi", password: "pw2", url: "redis://lernmi:pw2@127.0.0.1:16379/1", keyPrefix: "lernmi" },
            },
        };
        const result = runScript("env.ts", ["lernmi", "--from", "-"], JSON.stringify(apps));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(
            result.stdout,
            [
                "APP_TENANT_ID=lernmi",
                "DATABASE_URL=postgresql://lernmi:pw1@127.0.0.1:15432/lernmi",
                "PGHOST=127.0.0.1",
                "PGPORT=15432",
                "PGDATABASE=lernmi",
                "PGUSER=lernmi",
                "PGPASSWORD=pw1",
                "REDIS_URL=redis://lernmi:pw2@127.0.0.1:16379/1",
                "REDIS_KEY_PREFIX=lernmi",
                "REDIS_DB=1",
                "",
            ].join("\n"),
        );
    });

    it("env names the apps it knows when asked for another", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "env-"));
        try {
            fs.writeFileSync(path.join(dir, "apps.json"), JSON.stringify({ a: {}, b: {} }));
            assert.throws(() => envText(["nope", "--from", path.join(dir, "apps.json")]), /^Error: no app "nope" in the stack output; apps: a, b$/);
            assert.throws(() => envText(["nope", "--from"]), /--from needs a value/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("quotes .env values that are not URL-safe", () => {
        assert.strictEqual(formatDotenv({ A: "x y", B: "it's", C: "a:b@c/d" }), "A='x y'\nB='it'\\''s'\nC=a:b@c/d\n");
    });

    it("plan prints servers, tenants, what apps receive and capacity for a stack file", () => {
        const result = runScript("plan.ts", ["prod"]);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /postgresql-digi-core\s+dedicated\s+postgres:18\s+10Gi\s+digi_core/);
        assert.match(result.stdout, /redis\s+shared\s+redis:7\.4\s+2Gi\s+beep_boop \(db 2\), digi_core \(db 0\), lernmi \(db 1\)/);
        assert.match(result.stdout, /lernmi: Secret lernmi\/lernmi-databases: APP_TENANT_ID DATABASE_URL/);
        assert.match(result.stdout, /total\s+4 servers/);
    });

    it("plan shows Docker ports and the .env command for a Docker stack", () => {
        const result = planInProcess("dev");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /servers on the local Docker engine, ports on 127\.0\.0\.1/);
        assert.match(result.stdout, /postgresql\s+shared\s+postgres:18\s+2Gi\s+beep_boop, digi_core, lernmi {2}port 15432/);
        assert.match(result.stdout, /lernmi: APP_TENANT_ID DATABASE_URL PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD REDIS_URL REDIS_KEY_PREFIX REDIS_DB/);
    });

    it("plan reports an invalid stack file's problems and fails, without a stack trace", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
        try {
            const file = path.join(dir, "Pulumi.broken.yaml");
            fs.writeFileSync(
                file,
                ["config:", "  tenant-databases:target: docker", "  tenant-databases:engines: { redis: {} }", "  tenant-databases:apps:", "    lernmi: { redis: { db: 99 }, mysql: {} }", ""].join("\n"),
            );
            const result = planInProcess(file);
            assert.strictEqual(result.status, 1, result.stdout);
            assert.match(result.stderr, /^\S*Pulumi\.broken\.yaml: Invalid stack config \(2 problems\):/);
            assert.match(result.stderr, /apps\.lernmi\.mysql: engine mysql is not enabled in this stack/);
            assert.match(result.stderr, /apps\.lernmi\.redis\.db: 99 is out of range/);
            assert.doesNotMatch(result.stderr, /\bat \w+ \(/, "no stack trace");
            assert.strictEqual(result.stdout, "");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("plan names the stacks there are when a stack has no file", () => {
        const result = planInProcess("nosuchstack");
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /^no stack file .*Pulumi\.nosuchstack\.yaml; stacks: dev, prod, staging\n$/);
    });
});

describe("npm run bench", () => {
    // The benchmark itself is run by hand (npm run bench); this keeps its input valid.
    it("its stack is valid at both of its sizes", () => {
        for (const apps of [50, 500]) assert.doesNotThrow(() => parseStackConfig(benchConfig(apps)), `${apps} apps`);
    });
});
