// The operator commands: npm run plan and npm run env, run as a user would.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { benchConfig } from "../bench/config";
import { formatDotenv } from "../components/environment";
import { parseStackConfig } from "../stacks/config";

const ROOT = path.resolve(__dirname, "..");

function runScript(script: string, args: string[], input?: string) {
    return spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(ROOT, "scripts", script), ...args], {
        cwd: ROOT,
        input,
        encoding: "utf8",
    });
}

describe("operator scripts", function () {
    this.timeout(60000);

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
        const result = runScript("env.ts", ["nope", "--from", "-"], JSON.stringify({ a: {}, b: {} }));
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /no app "nope" in the stack output; apps: a, b/);
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
        const result = runScript("plan.ts", ["dev"]);
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
            const result = runScript("plan.ts", [file]);
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
        const result = runScript("plan.ts", ["nosuchstack"]);
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
