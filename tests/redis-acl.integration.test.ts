// Redis tenancy on a real redis-server: the server started by the program's own start command
// from the bootstrap ACL it renders, tenant users applied by the program's RedisAclUser provider,
// and apps connecting the way they do: node-redis and ioredis with default options, from the
// REDIS_URL they receive.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import IORedis from "ioredis";
import { createClient } from "redis";
import { appEnvironment } from "../components/environment";
import { RedisServer, redisReadinessCommand } from "../components/redis";
import { bootstrapAcl, redisStartScript } from "../components/redis-acl";
import { redisAclUserProvider } from "../components/redis-acl-user";
import { RunningServer, ServerRuntime, ServerSpec } from "../infra/runtime";
import { REDIS_ACL_USER, finder, runProgram, valueOf } from "./helpers/pulumi";
import { RunningTestServer, freePort, startRedis, tempDir } from "./helpers/servers";

/** A runtime that runs nothing: it captures what the engine asks for and answers with loopback. */
class CapturingRuntime implements ServerRuntime {
    readonly target = "docker" as const;
    spec?: ServerSpec;
    constructor(private readonly port: number) {}
    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer {
        this.spec = spec;
        const host = pulumi.output("127.0.0.1");
        const port = pulumi.output(this.port);
        // A stand-in for the started server (a component here would make tenants wait on themselves).
        const ready = new Ready(`${spec.name}-ready`, parent);
        return { host, port, adminHost: host, adminPort: port, ready };
    }
}

class Ready extends pulumi.CustomResource {
    constructor(name: string, parent: pulumi.Resource) {
        super("test:server:Ready", name, {}, { parent });
    }
}

type UserInputs = { host: string; port: number; adminUser: string; adminPassword: string; user: string };

const DATABASES = 16;

describe("Redis tenancy on a real redis-server", function () {
    this.timeout(60000);
    const tmp = tempDir("redis");
    const bootstrapFile = path.join(tmp.dir, "bootstrap", "users.acl");
    const aclFile = path.join(tmp.dir, "data", "users.acl");
    let port: number;
    let spec: ServerSpec;
    let server: RunningTestServer | undefined;
    let urls: Record<string, string>;
    let users: Record<string, UserInputs>;
    let adminPassword: string;
    /** Closes every client the tests opened, without waiting for replies. */
    const clients: { close(): void }[] = [];

    /** The program's start command, with the container's paths mapped into the temporary directory. */
    function startCommand(): string[] {
        const args = spec.args!;
        assert.deepStrictEqual(args.slice(0, 2), ["sh", "-c"]);
        assert.strictEqual(args[2], redisStartScript("/etc/redis/bootstrap/users.acl", "/data/users.acl"));
        const rest = args.slice(3).map((a) => (a === "/data/users.acl" ? aclFile : a === "/data" ? path.dirname(aclFile) : a));
        return ["sh", "-c", redisStartScript(bootstrapFile, aclFile), ...rest, "--port", String(port), "--bind", "127.0.0.1", "--appendonly", "no", "--save", ""];
    }

    async function start() {
        server = await startRedis({ port, command: startCommand() });
    }

    function program(runtime: ServerRuntime) {
        return () =>
            new RedisServer("redis", {
                runtime,
                version: "7.4",
                storageGi: 1,
                resources: { requests: { memory: "128Mi", cpu: "100m" }, limits: { memory: "256Mi", cpu: "250m" } },
                databases: DATABASES,
                tenants: [
                    { app: "lernmi", db: 1 },
                    { app: "digi_core", db: 0 },
                ],
            });
    }

    before(async () => {
        port = await freePort();
        // First run: what the server is started with. Then the server, from that.
        const runtime = new CapturingRuntime(port);
        await runProgram(program(runtime));
        spec = runtime.spec!;
        adminPassword = await valueOf(spec.secretEnv!.REDISCLI_AUTH);
        const bootstrap = await valueOf(spec.secretFiles!.files["users.acl"]);
        fs.mkdirSync(path.dirname(bootstrapFile), { recursive: true });
        fs.mkdirSync(path.dirname(aclFile), { recursive: true });
        fs.writeFileSync(bootstrapFile, bootstrap);
        await start();

        // Second run: the program's ACL users created by the real provider on that server, and
        // the URLs apps receive, with the passwords the provider generated.
        const run = await runProgram(program(new CapturingRuntime(port)), {
            liveState: async (type, inputs) =>
                type === REDIS_ACL_USER ? { ...(await redisAclUserProvider.create!(inputs as UserInputs)).outs } : undefined,
        });
        users = Object.fromEntries(finder(run.resources).all(REDIS_ACL_USER).map((r) => [r.inputs.user, r.inputs as UserInputs]));
        assert.deepStrictEqual(Object.keys(users).sort(), ["digi_core", "lernmi"]);
        urls = Object.fromEntries(
            await Promise.all(
                Object.entries(run.result.tenants).map(async ([app, t]) => [app, appEnvironment(app, { redis: await valueOf(t.credentials) }).REDIS_URL]),
            ),
        );
        for (const url of Object.values(urls)) assert.match(url, /^redis:\/\/\w+:[A-Za-z0-9]{32}@127\.0\.0\.1:\d+\/\d$/);
    });

    after(async () => {
        clients.forEach((c) => c.close());
        await server?.stop();
        tmp.remove();
    });

    async function nodeRedis(url: string) {
        const client = createClient({ url });
        client.on("error", () => undefined);
        await client.connect();
        clients.push({ close: () => client.destroy() });
        return client;
    }

    /** For connections that must fail: node-redis would otherwise retry forever. */
    async function refusedLogin(url: string) {
        const client = createClient({ url, socket: { reconnectStrategy: false } });
        client.on("error", () => undefined);
        await assert.rejects(client.connect(), /WRONGPASS/, `login as ${url.replace(/:[^:@]*@/, ":***@")} must fail`);
    }

    async function expectNoPerm(action: Promise<unknown>, what: string) {
        await assert.rejects(action, (err: Error) => /NOPERM/.test(err.message), `${what} must be refused with NOPERM`);
    }

    describe("apps", () => {
    it("an app connects with node-redis and uses its own keys in its own DB", async () => {
        const lernmi = await nodeRedis(urls.lernmi);
        assert.strictEqual(await lernmi.set("lernmi:session:1", "hello"), "OK");
        assert.strictEqual(await lernmi.get("lernmi:session:1"), "hello");
        assert.strictEqual(await lernmi.incr("lernmi:counter"), 1);

        const admin = await nodeRedis(`redis://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}/1`);
        assert.strictEqual(await admin.get("lernmi:session:1"), "hello", "the key is in DB 1, the app's number");
        await admin.select(0);
        assert.strictEqual(await admin.get("lernmi:session:1"), null);
    });

    it("an app gets NOPERM on another app's keys and channels", async () => {
        const digi = await nodeRedis(urls.digi_core);
        await digi.set("digi_core:secret", "mine");
        const lernmi = await nodeRedis(urls.lernmi);
        await lernmi.select(0); // Redis ACLs cannot restrict DB numbers: key patterns are the boundary
        await expectNoPerm(lernmi.get("digi_core:secret"), "GET of another app's key");
        await expectNoPerm(lernmi.set("digi_core:secret", "stolen"), "SET of another app's key");
        await expectNoPerm(lernmi.del("digi_core:secret"), "DEL of another app's key");
        await expectNoPerm(lernmi.get("unprefixed"), "a key outside the app's prefix");
        await expectNoPerm(lernmi.publish("digi_core:events", "x"), "PUBLISH on another app's channel");
        assert.strictEqual(await lernmi.publish("lernmi:events", "x"), 0);
        assert.strictEqual(await digi.get("digi_core:secret"), "mine");
    });

    it("dangerous commands are refused: FLUSHALL, FLUSHDB, KEYS, CONFIG, ACL", async () => {
        const lernmi = await nodeRedis(urls.lernmi);
        await expectNoPerm(lernmi.flushAll(), "FLUSHALL");
        await expectNoPerm(lernmi.flushDb(), "FLUSHDB");
        await expectNoPerm(lernmi.keys("*"), "KEYS");
        await expectNoPerm(lernmi.configGet("*"), "CONFIG GET");
        await expectNoPerm(lernmi.sendCommand(["ACL", "LIST"]), "ACL LIST");
    });

    it("a client without credentials can read nothing", async () => {
        const anonymous = await nodeRedis(`redis://127.0.0.1:${port}`);
        await assert.rejects(anonymous.get("lernmi:session:1"), /NOAUTH/);
        await assert.rejects(anonymous.sendCommand(["AUTH", "default", ""]), /WRONGPASS/);
        await assert.rejects(anonymous.sendCommand(["AUTH", "lernmi", "wrong"]), /WRONGPASS/);
    });

    it("an app connects with ioredis from the same URL, its ready check included", async () => {
        const client = new IORedis(urls.lernmi, { lazyConnect: true, maxRetriesPerRequest: 1 });
        clients.push({ close: () => client.disconnect() });
        // ioredis' ready check runs INFO; when INFO is refused it warns and skips the check.
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
        try {
            await client.connect();
        } finally {
            console.warn = warn;
        }
        assert.strictEqual(client.status, "ready");
        assert.deepStrictEqual(warnings, []);
        assert.match(await client.info("server"), /redis_version:/);
        await client.set("lernmi:io", "1");
        assert.strictEqual(await client.get("lernmi:io"), "1");
        await expectNoPerm(client.get("digi_core:secret"), "GET of another app's key through ioredis");
    });

    it("the readiness probe succeeds with the admin password and fails without it", () => {
        const [cmd, ...args] = redisReadinessCommand(port);
        assert.doesNotThrow(() => execFileSync(cmd, args, { env: { ...process.env, REDISCLI_AUTH: adminPassword }, stdio: "pipe" }));
        assert.throws(() => execFileSync(cmd, args, { env: { ...process.env, REDISCLI_AUTH: "wrong" }, stdio: "pipe" }));
    });

    });

    describe("the ACL user provider", () => {
        const extra = (): UserInputs => ({ ...users.lernmi, user: "beep_boop" });
        const url = (password: string) => `redis://beep_boop:${password}@127.0.0.1:${port}/2`;

        it("creates with a generated password, persists with ACL SAVE, and reads the user back", async () => {
            const created = await redisAclUserProvider.create!(extra());
            assert.strictEqual(created.id, "beep_boop");
            const password = created.outs!.password;
            assert.match(password, /^[A-Za-z0-9]{32}$/);
            // ACL SAVE writes the rules as Redis expands them, with the password's digest only.
            const saved = fs.readFileSync(aclFile, "utf8");
            assert.match(saved, /^user beep_boop on .*#[0-9a-f]{64} ~beep_boop:\* .*&beep_boop:\*/m);
            assert.ok(!saved.includes(password));
            assert.strictEqual((await redisAclUserProvider.read!("beep_boop", created.outs!)).id, "beep_boop");
            const client = await nodeRedis(url(password));
            assert.strictEqual(await client.set("beep_boop:k", "v"), "OK");
        });

        it("creates idempotently: a second create rewrites the user with its new password", async () => {
            const first = await redisAclUserProvider.create!(extra());
            const second = await redisAclUserProvider.create!(extra());
            assert.notStrictEqual(first.outs!.password, second.outs!.password);
            await refusedLogin(url(first.outs!.password));
            await nodeRedis(url(second.outs!.password));
        });

        it("keeps the password on update and changes nothing for new connection details", async () => {
            const created = await redisAclUserProvider.create!(extra());
            const same = await redisAclUserProvider.diff!("beep_boop", created.outs!, { ...extra(), adminPassword: "rotated", host: "localhost" });
            assert.deepStrictEqual(same, { changes: false, replaces: [] });
            const renamed = await redisAclUserProvider.diff!("beep_boop", created.outs!, { ...extra(), user: "beep_boop2" });
            assert.deepStrictEqual(renamed, { changes: true, replaces: ["user"] });
            const outdated = await redisAclUserProvider.diff!("beep_boop", { ...created.outs!, rules: "+@all" }, extra());
            assert.deepStrictEqual(outdated, { changes: true, replaces: [] }, "rules from an older version are updated");
            const updated = await redisAclUserProvider.update!("beep_boop", created.outs!, extra());
            assert.strictEqual(updated.outs!.password, created.outs!.password);
            await nodeRedis(url(created.outs!.password));
        });

        it("deletes the user, and read then reports it gone", async () => {
            const created = await redisAclUserProvider.create!(extra());
            await redisAclUserProvider.delete!("beep_boop", created.outs!);
            await refusedLogin(url(created.outs!.password));
            assert.deepStrictEqual(await redisAclUserProvider.read!("beep_boop", created.outs!), {});
            assert.ok(!fs.readFileSync(aclFile, "utf8").includes("user beep_boop "));
        });

        it("says clearly when the server cannot be reached", async () => {
            const closed = await freePort();
            await assert.rejects(redisAclUserProvider.create!({ ...extra(), port: closed }), (err: Error) =>
                err.message.startsWith(`cannot connect to Redis at 127.0.0.1:${closed} as admin to set ACL user beep_boop`) && err.message.includes("adminEndpoint"),
            );
        });

        it("says clearly when the admin password is refused", async () => {
            await assert.rejects(redisAclUserProvider.create!({ ...extra(), adminPassword: "wrong" }), (err: Error) =>
                err.message.includes("WRONGPASS") && err.message.includes("does not accept the admin password"),
            );
        });
    });

    describe("restart", () => {
    it("after a restart, tenant users persist and a new admin password from the bootstrap file applies", async () => {
        clients.splice(0).forEach((c) => c.close());
        await server!.stop();
        const newAdmin = "rotated-admin-password";
        fs.writeFileSync(bootstrapFile, bootstrapAcl(newAdmin));
        await start();
        const lernmi = await nodeRedis(urls.lernmi);
        assert.strictEqual(await lernmi.ping(), "PONG");
        await expectNoPerm(lernmi.get("digi_core:x"), "the tenant's rules persisted too");
        await nodeRedis(`redis://admin:${newAdmin}@127.0.0.1:${port}`);
        await refusedLogin(`redis://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}`);
        const lines = fs.readFileSync(aclFile, "utf8").trim().split("\n");
        assert.strictEqual(lines.filter((l) => l.startsWith("user admin ")).length, 1);
        assert.strictEqual(lines.filter((l) => l.startsWith("user default ")).length, 1);
    });
    });
});
