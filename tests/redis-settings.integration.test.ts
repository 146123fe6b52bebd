// The server settings derived from the container's memory limit (components/redis/redis-settings.ts), on
// a real redis-server started with exactly the arguments the program renders for a small server
// (64Mi, maxClients 20, idle timeout 1 s): what a tenant, or anyone who can connect, runs into.
// And the liveness command, as Kubernetes runs it.
import * as assert from "assert";
import { execFileSync } from "child_process";
import { redisLivenessCommand } from "../components/redis/redis";
import { RedisServerSettings, redisServerArgs, redisServerSettings } from "../components/redis/redis-settings";
import { RawRedis, Reply, ReplyError, encode } from "./helpers/redis-raw";
import { ProgramRedis, createProgramTenants, redisProgram, startProgramRedis } from "./helpers/redis-server";

const MEMORY_LIMIT = "64Mi";
const TUNING = { maxClients: 20, idleTimeoutSeconds: 1 };

const program = redisProgram({
    resources: { requests: { memory: "32Mi", cpu: "50m" }, limits: { memory: MEMORY_LIMIT, cpu: "250m" } },
    tuning: TUNING,
    tenants: [
        { app: "lernmi", db: 0 },
        { app: "digi_core", db: 1 },
    ],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await sleep(20);
    }
}

const isError = (reply: Reply, pattern: RegExp) => reply instanceof ReplyError && pattern.test(reply.message);

describe("Redis server settings on a real redis-server (64Mi, maxClients 20, idle timeout 1 s)", function () {
    this.timeout(30000);
    let redis: ProgramRedis;
    let settings: RedisServerSettings;
    let passwords: Record<string, string>;
    const opened: RawRedis[] = [];

    // Every test opens its own connections: the 1 s idle timeout closes idle ones between tests.
    async function connect() {
        const conn = await RawRedis.connect(redis.port);
        opened.push(conn);
        return conn;
    }
    async function login(user: string, db?: number) {
        const conn = await RawRedis.login(redis.port, user, user === "admin" ? redis.adminPassword : passwords[user], db);
        opened.push(conn);
        return conn;
    }
    async function info(section: string): Promise<Record<string, string>> {
        const admin = await login("admin");
        const text = String(await admin.call("INFO", section));
        admin.close();
        return Object.fromEntries(text.split("\r\n").filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]));
    }
    function liveness(): number {
        const [cmd, ...args] = redisLivenessCommand(redis.port);
        try {
            execFileSync(cmd, args, { env: { ...process.env, REDISCLI_AUTH: redis.adminPassword }, stdio: "pipe", timeout: 5000 });
            return 0;
        } catch (err) {
            return (err as { status?: number }).status ?? -1;
        }
    }

    before(async () => {
        redis = await startProgramRedis(program, "redis-settings");
        settings = redisServerSettings(MEMORY_LIMIT, TUNING);
        const args = redisServerArgs(settings);
        const rendered = redis.spec.args!.join("\n");
        assert.ok(rendered.includes(args.join("\n")), "the server runs with the program's settings");
        assert.deepStrictEqual(redis.spec.livenessCommand, redisLivenessCommand());
        const { urls } = await createProgramTenants(program, redis.port);
        passwords = Object.fromEntries(Object.entries(urls).map(([app, url]) => [app, decodeURIComponent(new URL(url).password)]));
    });

    afterEach(() => {
        for (const c of opened.splice(0)) c.close();
    });

    after(async () => {
        await redis?.remove();
    });

    it("Redis takes every rendered setting as given", async () => {
        const admin = await login("admin");
        const get = async (name: string) => ((await admin.call("CONFIG", "GET", name)) as string[])[1];
        assert.strictEqual(await get("maxmemory"), String(settings.maxmemoryBytes));
        assert.strictEqual(await get("maxmemory-policy"), settings.maxmemoryPolicy);
        assert.strictEqual(await get("maxmemory-clients"), String(settings.maxmemoryClientsBytes));
        assert.strictEqual(await get("maxclients"), String(settings.maxClients));
        assert.strictEqual(await get("timeout"), String(settings.idleTimeoutSeconds));
        assert.strictEqual(await get("proto-max-bulk-len"), String(settings.protoMaxBulkLenBytes));
        assert.strictEqual(await get("client-query-buffer-limit"), String(settings.clientQueryBufferLimitBytes));
        const { normal, pubsub } = settings.outputBufferLimits;
        assert.match(await get("client-output-buffer-limit"), new RegExp(`^normal ${normal.join(" ")} slave \\d+ \\d+ \\d+ pubsub ${pubsub.join(" ")}$`));
    });

    it("writes past maxmemory are refused with OOM (for every tenant), memory stays bounded, nothing is evicted", async () => {
        const app = await login("lernmi", 0);
        const admin = await login("admin", 0);
        let stored = 0;
        /** Writes values of `size` bytes, `batch` at a time (pipelined), until one is refused. */
        async function fill(size: number, batch: number) {
            const value = Buffer.alloc(size, 120);
            for (let round = 0; round < Math.ceil((2 * settings.maxmemoryBytes) / size / batch); round++) {
                app.write(Buffer.concat(Array.from({ length: batch }, (_, i) => encode(["SET", `lernmi:big:${stored + i}`, value]))));
                const replies: Reply[] = [];
                for (let i = 0; i < batch; i++) replies.push(await app.next());
                stored += replies.filter((r) => r === "OK").length;
                const refused = replies.filter((r) => r !== "OK");
                if (refused.length > 0) {
                    assert.ok(refused.every((r) => isError(r, /^OOM command not allowed when used memory > 'maxmemory'/)), String(refused[0]));
                    return;
                }
            }
            assert.fail(`writes of ${size} bytes were never refused`);
        }
        try {
            await fill(512 * 1024, 4);
            await fill(4 * 1024, 16); // up to the last few KiB
            const memory = await info("memory");
            // At most one write (and the clients' buffers) beyond maxmemory: the check comes before each write.
            assert.ok(Number(memory.used_memory) <= settings.maxmemoryBytes + 1024 * 1024, `used_memory ${memory.used_memory} vs maxmemory ${settings.maxmemoryBytes}`);
            assert.ok(Number(memory.used_memory) > settings.maxmemoryBytes * 0.9);
            // noeviction: every stored key is still there; the other tenant cannot write either.
            assert.strictEqual(await admin.call("DBSIZE"), stored);
            const other = await login("digi_core", 1);
            assert.ok(isError(await other.call("SET", "digi_core:k", "v".repeat(64 * 1024)), /^OOM /), "a full server refuses every tenant's writes");
            assert.strictEqual(await other.call("GET", "digi_core:k"), null, "reads still work");
            // Deleting frees memory; then writes work again.
            assert.strictEqual(await app.call("DEL", ...Array.from({ length: stored }, (_, i) => `lernmi:big:${i}`)), stored);
            assert.strictEqual(await other.call("SET", "digi_core:k", "v"), "OK");
        } finally {
            await admin.call("FLUSHALL");
        }
    });

    it("strings cannot outgrow proto-max-bulk-len: SETRANGE, SETBIT, BITFIELD, APPEND, and LCS's working memory", async () => {
        const app = await login("lernmi");
        const beyond = String(settings.protoMaxBulkLenBytes + 1);
        assert.ok(isError(await app.call("SETRANGE", "lernmi:s", beyond, "x"), /string exceeds maximum allowed size \(proto-max-bulk-len\)/));
        assert.ok(isError(await app.call("SETBIT", "lernmi:b", String(8 * settings.protoMaxBulkLenBytes + 8), "1"), /bit offset is not an integer or out of range/));
        assert.ok(isError(await app.call("BITFIELD", "lernmi:f", "SET", "u8", `#${settings.protoMaxBulkLenBytes + 1}`, "1"), /bit offset is not an integer or out of range/));
        assert.strictEqual(await app.call("SETRANGE", "lernmi:s", String(settings.protoMaxBulkLenBytes - 2), "x"), settings.protoMaxBulkLenBytes - 1);
        assert.ok(isError(await app.call("APPEND", "lernmi:s", "xyz"), /string exceeds maximum allowed size \(proto-max-bulk-len\)/));
        // LCS needs (a+1)*(b+1) cells: two 3000-byte strings would take 36 MB.
        await app.call("SET", "lernmi:a", "a".repeat(3000));
        await app.call("SET", "lernmi:c", "c".repeat(3000));
        assert.ok(isError(await app.call("LCS", "lernmi:a", "lernmi:c"), /transient memory for LCS exceeds proto-max-bulk-len/));
        assert.strictEqual(await app.call("DEL", "lernmi:s", "lernmi:a", "lernmi:c"), 3);
    });

    it("a bulk longer than proto-max-bulk-len is refused and the connection closed; unauthenticated clients may not send big bulks at all", async () => {
        const app = await login("lernmi");
        app.write(`*3\r\n$3\r\nSET\r\n$8\r\nlernmi:x\r\n$${settings.protoMaxBulkLenBytes + 1}\r\n`);
        assert.ok(isError(await app.next(), /Protocol error: invalid bulk length/));
        await app.closed;
        const anonymous = await connect();
        anonymous.write("*2\r\n$4\r\nAUTH\r\n$100000\r\n");
        assert.ok(isError(await anonymous.next(), /Protocol error: unauthenticated bulk length/));
        await anonymous.closed;
    });

    it("clients holding huge unfinished bulks are evicted once all clients together pass maxmemory-clients", async () => {
        const before = Number((await info("stats")).evicted_clients);
        const bulk = settings.protoMaxBulkLenBytes - 100;
        const count = Math.ceil(settings.maxmemoryClientsBytes / bulk) + 1;
        const hogs = await Promise.all(Array.from({ length: count }, () => login("lernmi")));
        for (const hog of hogs) {
            hog.write(`*3\r\n$3\r\nSET\r\n$8\r\nlernmi:q\r\n$${bulk}\r\n`);
            hog.write(Buffer.alloc(bulk - 1000, 113)); // never finished
        }
        await until("a hog evicted", () => hogs.some((h) => h.isClosed), 5000);
        const stats = await info("stats");
        assert.ok(Number(stats.evicted_clients) > before, `evicted_clients ${stats.evicted_clients}`);
        assert.ok(hogs.some((h) => !h.isClosed), "only as many as needed");
        assert.ok(Number((await info("memory")).used_memory) < settings.maxmemoryBytes);
    });

    it("a client blocked in BLPOP that keeps sending is disconnected (query buffer / client memory), the server stays responsive", async () => {
        const app = await login("lernmi");
        app.write(encode(["BLPOP", "lernmi:never", "0"]));
        const chunk = Buffer.from("*1\r\n$4\r\nPING\r\n".repeat(100000)); // 1.4 MB of commands Redis does not read while blocked
        for (let i = 0; i < 20 && !app.isClosed; i++) {
            app.write(chunk);
            await sleep(20);
        }
        await until("the sender disconnected", () => app.isClosed, 5000);
        assert.strictEqual(await (await login("digi_core")).call("PING"), "PONG");
    });

    it("a reply bigger than the output buffer limit closes the client at once (SRANDMEMBER with a huge negative count)", async () => {
        const app = await login("lernmi");
        await app.call("SADD", "lernmi:set", "a", "b");
        const started = Date.now();
        await assert.rejects(app.call("SRANDMEMBER", "lernmi:set", "-2000000000"), /connection closed/);
        assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
        assert.strictEqual(await (await login("lernmi")).call("DEL", "lernmi:set"), 1);
    });

    it("connections beyond maxclients get 'max number of clients reached'", async () => {
        const connected = Number((await info("clients")).connected_clients) - 1; // without INFO's own
        const flood: RawRedis[] = [];
        let refusedAt = -1;
        for (let i = 0; i < settings.maxClients + 5 && refusedAt < 0; i++) {
            const conn = await connect();
            flood.push(conn);
            const reply = await conn.call("PING").catch(() => new ReplyError("closed"));
            if (isError(reply, /max number of clients reached/)) refusedAt = i;
            else assert.ok(isError(reply, /^NOAUTH/), String(reply));
        }
        assert.strictEqual(refusedAt, settings.maxClients - connected, "exactly maxclients connections are accepted");
        for (const c of flood) c.close();
        await until("room again", async () => isError(await (await connect()).call("PING").catch(() => new ReplyError("closed")), /^NOAUTH/), 3000);
    });

    it("silent connections without credentials that fill maxclients do not fail liveness: the server still answers (no restart for anyone who can open sockets)", async () => {
        const connected = Number((await info("clients")).connected_clients) - 1;
        const flood = await Promise.all(Array.from({ length: settings.maxClients - connected }, () => connect()));
        try {
            assert.strictEqual(liveness(), 0);
        } finally {
            for (const c of flood) c.close();
        }
    });

    it("idle connections, authenticated or not, are closed after the idle timeout; Pub/Sub subscribers stay", async () => {
        const anonymous = await connect();
        const app = await login("lernmi");
        const subscriber = await login("digi_core");
        assert.deepStrictEqual(await subscriber.call("SUBSCRIBE", "digi_core:events"), ["subscribe", "digi_core:events", 1]);
        const started = Date.now();
        await until("idle connections closed", () => anonymous.isClosed && app.isClosed, (settings.idleTimeoutSeconds + 3) * 1000);
        assert.ok(Date.now() - started >= settings.idleTimeoutSeconds * 1000 - 100);
        assert.ok(!subscriber.isClosed, "a subscriber waits for messages, it is not idle");
    });

    it("liveness: passes normally, fails while a script keeps the server BUSY, passes again after SCRIPT KILL", async () => {
        assert.strictEqual(liveness(), 0);
        const admin = await login("admin");
        // Test only: Redis answers BUSY once a script has run busy-reply-threshold ms (default
        // 5000, which the program keeps); shortened here so the test does not wait 5 s.
        assert.strictEqual(await admin.call("CONFIG", "SET", "busy-reply-threshold", "100"), "OK");
        try {
            const looping = admin.call("EVAL", "while true do end", "0");
            const probe = await login("admin");
            await until("BUSY", async () => isError(await probe.call("PING"), /^BUSY /), 3000);
            assert.notStrictEqual(liveness(), 0, "a server stuck in a script is not live");
            assert.strictEqual(await probe.call("SCRIPT", "KILL"), "OK");
            assert.ok(isError(await looping, /Script killed by user with SCRIPT KILL/));
            assert.strictEqual(liveness(), 0);
        } finally {
            const restore = await login("admin");
            await restore.call("CONFIG", "SET", "busy-reply-threshold", "5000");
        }
    });
});
