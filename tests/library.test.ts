// The built package as another Pulumi program uses it. `npm pack` (package.json `files`) is
// unpacked into a scratch program's node_modules next to the package's production dependencies
// only (from package-lock.json, no devDependencies), and child node processes run plain CommonJS
// programs there with --preserve-symlinks, so every module resolves as in a real install,
// including the modules Pulumi serializes into dynamic providers. A strict TypeScript consumer is
// compiled against the package's declarations.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const REPO = path.resolve(__dirname, "..");
const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");

/** What a consumer needs from the package root; the index may export more. */
const EXPECTED_EXPORTS = [
    "PostgresqlServer",
    "PostgresqlTenant",
    "MysqlServer",
    "MysqlTenant",
    "MongodbServer",
    "MongodbTenant",
    "RedisServer",
    "RedisTenant",
    "QdrantServer",
    "QdrantTenant",
    "Neo4jServer",
    "Neo4jTenant",
    "DatabasePlatform",
    "KubernetesRuntime",
    "DockerRuntime",
    "parseStackConfig",
    "ConfigError",
    "planTopology",
];

// Any read of the Pulumi config (new pulumi.Config().get, runtime.allConfig) parses this and throws.
const UNREADABLE_CONFIG = "{reading the Pulumi config while importing tenant-databases is a bug";

// Shared by the child programs: mocks that record every registration (with its parent's and
// provider's type, as the engine receives them) and settle once every registration is done.
const RECORDER = `
const pulumi = require("@pulumi/pulumi");
const registered = [];
const serializedProviders = [];
const typeOf = (urn) => (urn ? urn.split("::")[2].split("$").pop() : "");
pulumi.runtime.setMocks(
    {
        newResource(args) {
            if (typeof args.inputs.__provider === "string") serializedProviders.push({ type: args.type, code: args.inputs.__provider });
            const state = { ...args.inputs };
            if (args.type === "random:index/randomPassword:RandomPassword") state.result = "MockPassword0123456789";
            if (args.type === "docker:index/container:Container") state.ports = (args.inputs.ports || []).map((p) => ({ ...p, external: p.external || 32768 }));
            return { id: args.name + "-id", state };
        },
        call(args) {
            registered.push({ type: "call " + args.token });
            return {};
        },
    },
    "consumer",
    "dev",
    false,
);
const monitor = pulumi.runtime.getMonitor();
const register = monitor.registerResource.bind(monitor);
monitor.registerResource = (req, cb) => {
    registered.push({ type: req.getType(), name: req.getName(), parent: typeOf(req.getParent()), provider: typeOf(req.getProvider()) });
    return register(req, cb);
};
const settle = () => pulumi.runtime.waitForRPCs();
const valueOf = (output) => new Promise((resolve) => output.apply(resolve));
`;

// (a) Importing the package: its exports, and what it registers or loads.
const IMPORT_PROGRAM = `${RECORDER}
const path = require("path");
const lib = require("tenant-databases");
settle().then(() => {
    const dist = path.dirname(require.resolve("tenant-databases"));
    const loaded = Object.keys(require.cache).filter((f) => f.startsWith(dist + path.sep)).map((f) => path.relative(dist, f));
    const exports = Object.fromEntries(Object.keys(lib).sort().map((k) => [k, typeof lib[k]]));
    console.log(JSON.stringify({ exports, registered, loaded, dist: path.relative(process.cwd(), dist) }));
});
`;

// (b) A PostgreSQL server with one tenant on the Docker runtime.
const SERVER_PROGRAM = `${RECORDER}
const docker = require("@pulumi/docker");
const { DockerRuntime, PostgresqlServer } = require("tenant-databases");

const provider = new docker.Provider("docker", {});
const network = new docker.Network("network", { name: "consumer-dev" }, { provider });
const runtime = new DockerRuntime({ provider, network: network.name, namePrefix: "consumer-dev" });
const resources = { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } };
const server = new PostgresqlServer("postgresql", { runtime, version: "18", storageGi: 2, resources, tenants: [{ app: "shop", connectionLimit: 10 }] });

Promise.all([valueOf(server.tenants.shop.credentials), settle()]).then(([{ user, database, host }]) => {
    console.log(JSON.stringify({ registered, credentials: { user, database, host } }));
});
`;

// (c) This repo's config format through the planner to a DatabasePlatform with every engine; then
// every module the dynamic providers' serialized code requires at \`pulumi up\` is loaded from here.
const PLATFORM_PROGRAM = `${RECORDER}
const docker = require("@pulumi/docker");
const { ConfigError, DatabasePlatform, parseStackConfig, planTopology } = require("tenant-databases");

const config = {
    target: "docker",
    placement: "shared",
    engines: { postgresql: { version: "18" }, mysql: { version: "8.4" }, mongodb: { version: "8.0" }, redis: { version: "7.4" }, qdrant: { version: "v1.17.0" }, neo4j: { version: "5.26", edition: "enterprise", acceptLicenseAgreement: true } },
    apps: { shop: { postgresql: {}, mysql: {}, mongodb: {}, redis: { db: 0 }, qdrant: { collections: { items: { size: 4, distance: "Cosine" } } }, neo4j: {} } },
};
const topology = planTopology(parseStackConfig(config));
const platform = new DatabasePlatform("databases", {
    target: { kind: "docker", provider: new docker.Provider("docker", {}), namePrefix: "consumer-dev" },
    servers: topology.servers,
});
let configError = "";
try {
    parseStackConfig({ ...config, engines: {} });
} catch (err) {
    configError = (err instanceof ConfigError ? "ConfigError: " : "other: ") + err.message;
}

Promise.all([valueOf(platform.apps), settle()]).then(([apps]) => {
    const modules = [...new Set(serializedProviders.flatMap((p) => [...p.code.matchAll(/require\\("([^"]+)"\\)/g)].map((m) => m[1])))].sort();
    const unresolved = [];
    for (const m of modules) {
        try {
            require(m);
        } catch (err) {
            unresolved.push(m + ": " + String(err.message).split("\\n")[0]);
        }
    }
    console.log(JSON.stringify({
        servers: topology.servers.map((s) => s.engine + ":" + s.name + ":" + s.tenants.map((t) => t.app).join(",")),
        apps: Object.fromEntries(Object.entries(apps).map(([app, engines]) => [app, Object.keys(engines).sort()])),
        dynamicTypes: [...new Set(serializedProviders.map((p) => p.type))].sort(),
        modules,
        unresolved,
        configError,
    }));
});
`;

// (d) The declarations, strict: a typed consumer, and mistakes the types must catch.
const TYPED_PROGRAM = `
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesRuntime, PostgresqlCredentials, PostgresqlServer, PostgresqlServerArgs, StackConfig, planTopology } from "tenant-databases";

const runtime = new KubernetesRuntime({ provider: new k8s.Provider("k8s", {}), namespace: "databases" });
const args: PostgresqlServerArgs = {
    runtime,
    version: "18",
    storageGi: 2,
    resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
    tenants: [{ app: "shop", connectionLimit: 10 }],
};
const server = new PostgresqlServer("postgresql", args);
export const host: pulumi.Output<string> = server.host;
export const credentials: pulumi.Output<PostgresqlCredentials> = server.tenants["shop"].credentials;
export const servers = (config: StackConfig): number => planTopology(config).servers.length;

// @ts-expect-error the version is an image tag, a string
new PostgresqlServer("wrong", { ...args, version: 18 });
// @ts-expect-error tenants are objects with an app name
new PostgresqlServer("wrong", { ...args, tenants: ["shop"] });
// @ts-expect-error the runtime is a ServerRuntime
new PostgresqlServer("wrong", { ...args, runtime: "docker" });
// @ts-expect-error the package root is the API: package.json "exports" hides modules by path
export type Deep = typeof import("tenant-databases/dist/components/postgresql/postgresql");
`;

interface Registered {
    type: string;
    name?: string;
    parent?: string;
    provider?: string;
}

interface Result {
    status: number | null;
    stdout: string;
    stderr: string;
}

function childEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_CONFIG: UNREADABLE_CONFIG, PULUMI_CONFIG_SECRET_KEYS: UNREADABLE_CONFIG };
    // Resolve through the scratch program's node_modules only, never this process's setup.
    delete env.NODE_OPTIONS;
    delete env.NODE_PATH;
    return env;
}

function run(command: string, args: string[], cwd: string): Result {
    const result = spawnSync(command, args, { cwd, env: childEnv(), encoding: "utf8", timeout: 120_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same, without blocking: the consumer's programs run side by side. */
function start(command: string, args: string[], cwd: string): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd, env: childEnv(), timeout: 120_000 });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

/** Runs a program of the scratch consumer as `node` would in a real install; its last line of output is JSON. */
function startProgram(program: string, cwd: string): Promise<Result> {
    return start(process.execPath, ["--preserve-symlinks", "--preserve-symlinks-main", program], cwd);
}

async function jsonOf<T>(program: string, running: Promise<Result>): Promise<T> {
    const result = await running;
    assert.strictEqual(result.status, 0, `node ${program} exited ${result.status}:\n${result.stderr}${result.stdout}`);
    const lines = result.stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1]) as T;
}

/**
 * The package's production dependencies as `npm install tenant-databases` would place them: every
 * top-level package of the lockfile that is not dev-only, linked from this repo's node_modules.
 */
function linkProductionDependencies(nodeModules: string): void {
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    for (const [key, entry] of Object.entries(lock.packages)) {
        const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
        if (!match || entry.dev) continue;
        const installed = path.join(REPO, "node_modules", match[1]);
        if (!fs.existsSync(installed)) continue; // an optional dependency for another platform
        const link = path.join(nodeModules, match[1]);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.symlinkSync(installed, link, "dir");
    }
}

describe("the built package, used by another Pulumi program", function () {
    // The consumer's programs run side by side, started in before(); each test waits for its own.
    this.timeout(90_000);
    let scratch = "";
    let running: Record<"import" | "server" | "platform" | "typed", Promise<Result>> | undefined;
    const started = () => {
        assert.ok(running, "before() started the consumer's programs");
        return running;
    };

    before(function () {
        this.timeout(180_000);
        // Builds dist (incrementally): npm test builds it only after mocha, so this test cannot rely on it.
        const build = run(process.execPath, [TSC, "-b", path.join(REPO, "tsconfig.build.json")], REPO);
        assert.strictEqual(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);

        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-consumer-"));
        const nodeModules = path.join(scratch, "node_modules");
        const installed = path.join(nodeModules, "tenant-databases");
        fs.mkdirSync(installed, { recursive: true });
        // What `npm install` of the package gets: the files `npm pack` puts in the tarball.
        const pack = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], REPO);
        assert.strictEqual(pack.status, 0, `npm pack failed:\n${pack.stderr}`);
        const [{ filename }] = JSON.parse(pack.stdout) as { filename: string }[];
        const untar = run("tar", ["-xzf", path.join(scratch, filename), "-C", installed, "--strip-components=1"], scratch);
        assert.strictEqual(untar.status, 0, `tar failed:\n${untar.stderr}`);
        linkProductionDependencies(nodeModules);

        fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, dependencies: { "tenant-databases": "0.1.0" } }));
        fs.writeFileSync(path.join(scratch, "import.js"), IMPORT_PROGRAM);
        fs.writeFileSync(path.join(scratch, "server.js"), SERVER_PROGRAM);
        fs.writeFileSync(path.join(scratch, "platform.js"), PLATFORM_PROGRAM);
        fs.writeFileSync(path.join(scratch, "typed.ts"), TYPED_PROGRAM);
        fs.writeFileSync(
            path.join(scratch, "tsconfig.json"),
            JSON.stringify({
                compilerOptions: {
                    target: "ES2022",
                    module: "node16",
                    moduleResolution: "node16",
                    strict: true,
                    noEmit: true,
                    types: [],
                    // The SDKs' own declarations are checked by this repo's typecheck; here only
                    // the consumer against the package's declarations.
                    skipLibCheck: true,
                },
                files: ["typed.ts"],
            }),
        );
        running = {
            import: startProgram("import.js", scratch),
            server: startProgram("server.js", scratch),
            platform: startProgram("platform.js", scratch),
            typed: start(process.execPath, [TSC, "-p", scratch], scratch),
        };
        // Each test awaits its own; a failure to start is reported there, not as unhandled.
        for (const r of Object.values(running)) r.catch(() => undefined);
    });

    after(async function () {
        this.timeout(120_000);
        if (running) await Promise.allSettled(Object.values(running));
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("packs dist/ with declarations and no build or test leftovers", function () {
        const files = fs.readdirSync(path.join(scratch, "node_modules", "tenant-databases"), { recursive: true }).map(String);
        for (const file of ["package.json", "dist/index.js", "dist/index.d.ts", "dist/components/platform.js", "dist/infra/docker.d.ts"]) {
            assert.ok(files.includes(file.split("/").join(path.sep)), `the package holds ${file}`);
        }
        const leftovers = files.filter((f) => f.endsWith(".tsbuildinfo") || f.startsWith(`tests${path.sep}`) || /\.ts$/.test(f.replace(/\.d\.ts$/, "")));
        assert.deepStrictEqual(leftovers, [], "no tsbuildinfo, tests or TypeScript sources in the package");
    });

    it("exports every engine's components, the platform, the runtimes and the config parser, and registers nothing, reads no config and loads no stack when imported", async function () {
        const { exports, registered, loaded, dist } = await jsonOf<{ exports: Record<string, string>; registered: Registered[]; loaded: string[]; dist: string }>("import.js", started().import);
        assert.strictEqual(dist, path.join("node_modules", "tenant-databases", "dist"), "the package resolves to its dist/");
        for (const name of EXPECTED_EXPORTS) assert.strictEqual(exports[name], "function", `tenant-databases exports ${name}`);
        assert.deepStrictEqual(registered, [], "importing registers no resource and calls no provider");
        assert.ok(loaded.includes("index.js"), `dist/index.js is the entry; loaded: ${loaded.join(", ")}`);
        for (const stack of ["stacks/index.js", "stacks/program.js"]) assert.ok(!loaded.includes(stack.split("/").join(path.sep)), `importing does not load dist/${stack}`);
    });

    it("registers a PostgreSQL server's container and volume, its admin provider, and the tenant's role and database, under mocks", async function () {
        const { registered, credentials } = await jsonOf<{ registered: Registered[]; credentials: { user: string; database: string; host: string } }>("server.js", started().server);
        const one = (type: string) => {
            const found = registered.filter((r) => r.type === type);
            assert.strictEqual(found.length, 1, `one ${type}; registered: ${registered.map((r) => r.type).join(", ")}`);
            return found[0];
        };
        assert.strictEqual(one("tenant-databases:postgresql:PostgresqlServer").name, "postgresql");
        for (const type of ["docker:index/container:Container", "docker:index/volume:Volume", "docker:index/remoteImage:RemoteImage"]) {
            const r = one(type);
            assert.strictEqual(r.parent, "tenant-databases:postgresql:PostgresqlServer", `${type} is a child of the server`);
            assert.strictEqual(r.provider, "pulumi:providers:docker", `${type} uses the consumer's Docker provider`);
        }
        assert.strictEqual(one("pulumi:providers:postgresql").parent, "tenant-databases:postgresql:PostgresqlServer");
        assert.strictEqual(one("tenant-databases:postgresql:PostgresqlTenant").parent, "tenant-databases:postgresql:PostgresqlServer");
        for (const type of ["postgresql:index/role:Role", "postgresql:index/database:Database"]) {
            const r = one(type);
            assert.strictEqual(r.parent, "tenant-databases:postgresql:PostgresqlTenant", `${type} is a child of the tenant`);
            assert.strictEqual(r.provider, "pulumi:providers:postgresql", `${type} is managed through the server's admin provider`);
        }
        assert.deepStrictEqual(
            registered.filter((r) => r.type.startsWith("call ")),
            [],
            "no provider function is called",
        );
        assert.deepStrictEqual(credentials, { user: "shop", database: "shop", host: "127.0.0.1" });
    });

    it("plans this repo's config format into a DatabasePlatform with every engine, and every module its dynamic providers require at `pulumi up` resolves in the consumer", async function () {
        const { servers, apps, dynamicTypes, modules, unresolved, configError } = await jsonOf<{
            servers: string[];
            apps: Record<string, string[]>;
            dynamicTypes: string[];
            modules: string[];
            unresolved: string[];
            configError: string;
        }>("platform.js", started().platform);
        assert.deepStrictEqual(servers.map((s) => s.split(":")[0]).sort(), ["mongodb", "mysql", "neo4j", "postgresql", "qdrant", "redis"]);
        assert.deepStrictEqual(apps, { shop: ["mongodb", "mysql", "neo4j", "postgresql", "qdrant", "redis"] });
        // Neo4j Enterprise, so that every engine's dynamic providers are serialized.
        assert.deepStrictEqual([...new Set(dynamicTypes)].sort(), [
            "pulumi-nodejs:dynamic/mongodb:Database",
            "pulumi-nodejs:dynamic/mongodb:User",
            "pulumi-nodejs:dynamic/mysql:ConnectionLimit",
            "pulumi-nodejs:dynamic/neo4j:Database",
            "pulumi-nodejs:dynamic/neo4j:User",
            "pulumi-nodejs:dynamic/qdrant:Collection",
            "pulumi-nodejs:dynamic/redis:AclUser",
        ]);
        assert.ok(
            modules.some((m) => m.startsWith("tenant-databases/")),
            `the serialized providers require the package's own modules (through package.json "exports"); got ${modules.join(", ")}`,
        );
        assert.deepStrictEqual(unresolved, [], "modules a dynamic provider requires, missing from the consumer's install (a dependency in devDependencies, or a path package.json \"exports\" hides)");
        assert.match(configError, /^ConfigError: /, "an invalid config throws the exported ConfigError");
    });

    it("type-checks a strict TypeScript consumer against the package's declarations, and its types catch wrong arguments", async function () {
        const result = await started().typed;
        assert.strictEqual(result.status, 0, `tsc -p <consumer> failed:\n${result.stdout}${result.stderr}`);
    });
});
