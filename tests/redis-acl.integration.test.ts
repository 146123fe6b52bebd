// The ACL file the program renders, loaded into a real redis-server, used by apps the way they
// connect: node-redis and ioredis with their default options, from the REDIS_URL they receive.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import IORedis from "ioredis";
import { createClient } from "redis";
import { RedisServer, redisReadinessCommand } from "../components/redis";
import { RunningServer, ServerRuntime, ServerSpec } from "../infra/runtime";
import { runProgram, valueOf } from "./helpers/pulumi";
import { RunningTestServer, freePort, startRedis } from "./helpers/servers";

/** A runtime that runs nothing: it captures what the engine asks for and answers with loopback. */
class CapturingRuntime implements ServerRuntime {
    readonly target = "docker" as const;
    spec?: ServerSpec;
    constructor(private readonly port: number) {}
    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer {
        this.spec = spec;
        const host = pulumi.output("127.0.0.1");
        const port = pulumi.output(this.port);
        return { host, port, adminHost: host, adminPort: port, ready: parent };
    }
}

const DATABASES = 16;

describe("Redis tenancy on a real redis-server", function () {
    this.timeout(60000);
    let server: RunningTestServer;
    let urls: Record<string, string>;
    let adminPassword: string;
    let readiness: string[];
    const clients: { quit(): Promise<unknown> }[] = [];

    before(async () => {
        const port = await freePort();
        const runtime = new CapturingRuntime(port);
        const run = await runProgram(
            () =>
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
                }),
        );
        const spec = runtime.spec!;
        const aclFile = await valueOf(spec.secretFiles!.files["users.acl"]);
        adminPassword = await valueOf(spec.secretEnv!.REDISCLI_AUTH);
        for (const p of run.passwords) assert.ok(!aclFile.includes(p), "the ACL file holds digests, not passwords");
        urls = Object.fromEntries(
            await Promise.all(Object.entries(run.result.tenants).map(async ([app, t]) => [app, await valueOf(t.env.REDIS_URL)])),
        );
        readiness = redisReadinessCommand(port);
        server = await startRedis({ port, aclFile, databases: DATABASES });
    });

    after(async () => {
        await Promise.allSettled(clients.map((c) => c.quit()));
        await server?.stop();
    });

    async function nodeRedis(url: string) {
        const client = createClient({ url });
        client.on("error", () => undefined);
        await client.connect();
        clients.push({ quit: () => client.quit() });
        return client;
    }

    async function expectNoPerm(action: Promise<unknown>, what: string) {
        await assert.rejects(action, (err: Error) => /NOPERM/.test(err.message), `${what} must be refused with NOPERM`);
    }

    it("an app connects with node-redis and uses its own keys in its own DB", async () => {
        const lernmi = await nodeRedis(urls.lernmi);
        assert.strictEqual(await lernmi.set("lernmi:session:1", "hello"), "OK");
        assert.strictEqual(await lernmi.get("lernmi:session:1"), "hello");
        assert.strictEqual(await lernmi.incr("lernmi:counter"), 1);

        const admin = await nodeRedis(`redis://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${server.port}/1`);
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
        const anonymous = await nodeRedis(`redis://127.0.0.1:${server.port}`);
        await assert.rejects(anonymous.get("lernmi:session:1"), /NOAUTH/);
        await assert.rejects(anonymous.sendCommand(["AUTH", "default", ""]), /WRONGPASS/);
        await assert.rejects(anonymous.sendCommand(["AUTH", "lernmi", "wrong"]), /WRONGPASS/);
    });

    it("an app connects with ioredis from the same URL, including its ready check", async () => {
        const client = new IORedis(urls.lernmi, { lazyConnect: true, maxRetriesPerRequest: 1 });
        clients.push({ quit: () => client.quit() });
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
        const [cmd, ...args] = readiness;
        assert.doesNotThrow(() => execFileSync(cmd, args, { env: { ...process.env, REDISCLI_AUTH: adminPassword }, stdio: "pipe" }));
        assert.throws(() => execFileSync(cmd, args, { env: { ...process.env, REDISCLI_AUTH: "wrong" }, stdio: "pipe" }));
    });
});
