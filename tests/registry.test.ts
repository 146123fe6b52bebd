// The engine registry: one descriptor per engine, listed once; validation and the plan script
// load no Pulumi module; descriptors agree with what their components do.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { adminError } from "../components/admin-connection";
import { ENGINES, ENGINE_NAMES, engineNamed } from "../components/engines";
import { environmentKeys } from "../components/environment";
import { parseMemoryMi, parseCpuMillis } from "../infra/quantities";
import { rawConfigSchema } from "../stacks/schema";

const ROOT = path.resolve(__dirname, "..");

describe("engine registry", () => {
    it("lists each engine once, each with its own folder and descriptor", () => {
        assert.deepStrictEqual(ENGINE_NAMES, ["postgresql", "mysql", "mongodb", "redis", "qdrant", "neo4j"]);
        for (const engine of ENGINES) {
            assert.ok(fs.existsSync(path.join(ROOT, "components", engine.name, "engine.ts")), `components/${engine.name}/engine.ts`);
            assert.strictEqual(engineNamed(engine.name), engine);
        }
        assert.throws(() => engineNamed("cassandra"), /no engine "cassandra"; engines: postgresql, mysql, mongodb, redis, qdrant, neo4j/);
    });

    it("builds the config schema from the descriptors: every engine's keys under engines and apps", () => {
        const engines = rawConfigSchema.shape.engines.shape as Record<string, unknown>;
        assert.deepStrictEqual(Object.keys(engines), [...ENGINE_NAMES]);
        const issuesAt = (raw: unknown, path: string) => {
            const parsed = rawConfigSchema.safeParse(raw);
            return parsed.success ? [] : parsed.error.issues.filter((i) => [...i.path, ...("keys" in i ? i.keys : [])].join(".").startsWith(path));
        };
        const bad = "not-a-valid-value-!";
        for (const engine of ENGINES) {
            const e = engine.name;
            for (const key of Object.keys(engine.engineKeys)) {
                assert.ok(issuesAt({ target: "docker", engines: { [e]: { [key]: bad } }, apps: {} }, `engines.${e}.${key}`).length > 0, `engines.${e}.${key} is validated`);
            }
            for (const key of Object.keys(engine.appKeys)) {
                assert.ok(issuesAt({ target: "docker", engines: { [e]: {} }, apps: { a: { [e]: { [key]: bad } } } }, `apps.a.${e}.${key}`).length > 0, `apps.a.${e}.${key} is validated`);
            }
            assert.ok(issuesAt({ target: "docker", engines: { [e]: { nosuchkey: 1 } }, apps: {} }, `engines.${e}.nosuchkey`).length > 0, `engines.${e}: unknown keys refused`);
            assert.ok(issuesAt({ target: "docker", engines: { [e]: {} }, apps: { a: { [e]: { nosuchkey: 1 } } } }, `apps.a.${e}.nosuchkey`).length > 0, `apps.a.${e}: unknown keys refused`);
        }
    });

    it("has defaults a server can start with: requests within limits, a port, a uid, an absolute data path", () => {
        for (const { name, defaults } of ENGINES) {
            const r = defaults.resources;
            assert.ok(parseMemoryMi(r.requests.memory) <= parseMemoryMi(r.limits.memory), `${name} memory`);
            assert.ok(parseCpuMillis(r.requests.cpu) <= parseCpuMillis(r.limits.cpu), `${name} cpu`);
            assert.ok(defaults.port > 0 && defaults.port < 65536 && defaults.uid > 0 && defaults.dataPath.startsWith("/"), name);
        }
    });

    it("gives an app exactly the variables each descriptor lists, in that order", () => {
        const sample = { host: "h", port: 1, user: "u", password: "p", url: "x://u:p@h:1/d", uri: "bolt://h:1", database: "d", db: 3, keyPrefix: "a", apiKey: "k", collectionPrefix: "a", collections: [] };
        for (const engine of ENGINES) {
            const env = engine.environment(sample as never);
            assert.deepStrictEqual(Object.keys(env), [...engine.envKeys], engine.name);
            assert.ok(Object.values(env).every((v) => typeof v === "string" && v !== "undefined"), `${engine.name}: every value set`);
        }
        assert.deepStrictEqual(environmentKeys(["redis", "postgresql"]).slice(0, 2), ["APP_TENANT_ID", "DATABASE_URL"], "registry order, not the caller's");
    });
});

describe("validation and npm run plan load no Pulumi module", function () {
    this.timeout(30000);

    it("parses, plans and sizes every stack file with no @pulumi module and no engine component loaded", () => {
        const script = `
            const { parseStackConfig } = require("./stacks/config");
            const { planTopology } = require("./stacks/plan");
            const { capacityOf } = require("./stacks/capacity");
            const { stackFileConfig, stackNames } = require("./stacks/files");
            const { environmentKeys } = require("./components/environment");
            for (const stack of stackNames()) capacityOf(planTopology(parseStackConfig(stackFileConfig(stack))));
            environmentKeys(["postgresql"]);
            const loaded = Object.keys(require.cache).map((f) => require("path").relative(process.cwd(), f));
            console.log(JSON.stringify(loaded));
        `;
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, encoding: "utf8" });
        assert.strictEqual(result.status, 0, result.stderr);
        const loaded = JSON.parse(result.stdout) as string[];
        assert.deepStrictEqual(loaded.filter((f) => f.includes("node_modules/@pulumi/")), []);
        // The descriptors are loaded; the components they build (and their providers) are not.
        assert.ok(loaded.includes(path.join("components", "postgresql", "engine.ts")));
        for (const engine of ENGINE_NAMES) assert.ok(!loaded.includes(path.join("components", engine, `${engine}.ts`)), `components/${engine}/${engine}.ts loaded`);
    });
});

describe("admin connection errors", () => {
    it("say where, as whom and what failed, and the likely fix", () => {
        const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
        assert.strictEqual(
            adminError("MySQL at 127.0.0.1:1", "root", "limit connections of lernmi", refused).message,
            "MySQL at 127.0.0.1:1 as root failed to limit connections of lernmi: connect ECONNREFUSED 127.0.0.1:1. " +
                "The server must be reachable from where `pulumi up` runs (see adminEndpoint).",
        );
        assert.match(adminError("Redis at h:1", "admin", "set ACL user a", new Error("WRONGPASS invalid username-password pair")).message, /does not accept the admin credentials/);
        assert.strictEqual(adminError("Qdrant at http://h:1", undefined, "read collection a_b", new Error("Bad Request")).message, "Qdrant at http://h:1 failed to read collection a_b: Bad Request");
    });
});
