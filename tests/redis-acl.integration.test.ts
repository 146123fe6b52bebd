// Redis tenancy on a real redis-server: the server started by the program's own start command
// from the bootstrap ACL it renders, tenant users applied by the program's RedisAclUser provider,
// and apps connecting the way they do: node-redis and ioredis with default options, from the
// REDIS_URL they receive. (What a hostile tenant tries: tests/redis-attacks.integration.test.ts.)
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import IORedis from "ioredis";
import { createClient } from "redis";
import { redisReadinessCommand } from "../components/redis/redis";
import { aclUserFields, allowedCommands, bootstrapAcl, knownRules, ruleCategories, tenantAclRules, tenantSetUserCommand } from "../components/redis/redis-acl";
import { RedisAclUserState, redisAclUserProvider } from "../components/redis/redis-acl-user";
import { freePort } from "./helpers/servers";
import { ProgramRedis, UserInputs, createProgramTenants, redisProgram, startProgramRedis } from "./helpers/redis-server";

const DATABASES = 16;

describe("Redis tenancy on a real redis-server", function () {
    this.timeout(60000);
    let redis: ProgramRedis;
    let port: number;
    let urls: Record<string, string>;
    let users: Record<string, UserInputs>;
    let states: Record<string, RedisAclUserState>;
    let adminPassword: string;
    /** Every client the tests opened. */
    const clients: { close(): void }[] = [];

    /** Closes every client the tests opened, without waiting for replies (closed ones too). */
    function closeClients() {
        for (const c of clients.splice(0)) {
            try {
                c.close();
            } catch {
                // already closed
            }
        }
    }

    const program = redisProgram({
        databases: DATABASES,
        tenants: [
            { app: "lernmi", db: 1 },
            { app: "digi_core", db: 0 },
        ],
    });

    before(async () => {
        // First run: what the server is started with; the server, from that. Second run: the
        // program's ACL users created by the real provider on it, and the URLs apps receive.
        redis = await startProgramRedis(program, "redis-acl");
        port = redis.port;
        adminPassword = redis.adminPassword;
        ({ users, urls, states } = await createProgramTenants(program, port));
        assert.deepStrictEqual(Object.keys(users).sort(), ["digi_core", "lernmi"]);
        assert.ok(Object.values(users).every((u) => u.scripting === false), "shared tenants have no scripting");
        for (const url of Object.values(urls)) assert.match(url, /^redis:\/\/\w+:[A-Za-z0-9]{32}@127\.0\.0\.1:\d+\/\d$/);
    });

    after(async () => {
        closeClients();
        await redis?.remove();
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

    it("node-redis works normally on the allow-list: data types, pipeline, MULTI/WATCH, Pub/Sub, client name, RESP3", async () => {
        const app = await nodeRedis(urls.lernmi);
        // Auto-pipelined: all sent before the first reply.
        const [hset, lpush, sadd, zadd, xadd] = await Promise.all([
            app.hSet("lernmi:h", { a: "1", b: "2" }),
            app.lPush("lernmi:l", ["x", "y"]),
            app.sAdd("lernmi:s", ["m", "n"]),
            app.zAdd("lernmi:z", [{ score: 1, value: "one" }, { score: 2, value: "two" }]),
            app.xAdd("lernmi:x", "*", { f: "v" }),
        ]);
        assert.deepStrictEqual([hset, lpush, sadd, zadd], [2, 2, 2, 2]);
        assert.match(xadd, /^\d+-\d+$/);
        assert.deepStrictEqual({ ...(await app.hGetAll("lernmi:h")) }, { a: "1", b: "2" });
        assert.deepStrictEqual(await app.lRange("lernmi:l", 0, -1), ["y", "x"]);
        assert.deepStrictEqual((await app.sMembers("lernmi:s")).sort(), ["m", "n"]);
        assert.deepStrictEqual(await app.zRange("lernmi:z", 0, -1), ["one", "two"]);
        assert.strictEqual((await app.xRange("lernmi:x", "-", "+")).length, 1);
        assert.strictEqual(await app.expire("lernmi:h", 60), 1);
        assert.ok((await app.ttl("lernmi:h")) > 0);
        assert.strictEqual(await app.type("lernmi:z"), "zset");
        assert.deepStrictEqual(await app.multi().set("lernmi:m", "1").incr("lernmi:m").exec(), ["OK", 2]);
        assert.deepStrictEqual(await app.multi().set("lernmi:p", "a").get("lernmi:p").execAsPipeline(), ["OK", "a"]);
        await app.watch("lernmi:m");
        assert.deepStrictEqual(await app.multi().get("lernmi:m").exec(), ["2"]);

        // Pub/Sub on the app's channels; PSUBSCRIBE patterns must be exactly `<app>:*`.
        const sub = app.duplicate();
        sub.on("error", () => undefined);
        await sub.connect();
        clients.push({ close: () => sub.destroy() });
        const got: string[] = [];
        await sub.subscribe("lernmi:events", (m) => void got.push(`sub ${m}`));
        await sub.pSubscribe("lernmi:*", (m, ch) => void got.push(`psub ${ch} ${m}`));
        await sub.sSubscribe("lernmi:shard", (m) => void got.push(`ssub ${m}`));
        assert.strictEqual(await app.publish("lernmi:events", "hi"), 2);
        assert.strictEqual(await app.sPublish("lernmi:shard", "sh"), 1);
        for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
        // (Shard channels never reach pattern subscribers.)
        assert.deepStrictEqual(got.sort(), ["psub lernmi:events hi", "ssub sh", "sub hi"]);
        sub.destroy();

        // A named connection, and RESP3 (HELLO 3 AUTH ... SETNAME ...).
        const named = createClient({ url: urls.lernmi, name: "lernmi-web", RESP: 3 });
        named.on("error", () => undefined);
        await named.connect();
        clients.push({ close: () => named.destroy() });
        assert.strictEqual(await named.clientGetName(), "lernmi-web");
        assert.strictEqual(await named.get("lernmi:p"), "a");
        assert.match(String(await named.sendCommand(["CLIENT", "INFO"])), /name=lernmi-web .*user=lernmi /);
    });

    it("ioredis works normally on the allow-list: pipeline, MULTI, Pub/Sub, connection name, no warnings", async () => {
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
        try {
            const client = new IORedis(urls.lernmi, { connectionName: "lernmi-worker", maxRetriesPerRequest: 1 });
            const sub = new IORedis(urls.lernmi, { maxRetriesPerRequest: 1 });
            clients.push({ close: () => client.disconnect() }, { close: () => sub.disconnect() });
            const results = await client.pipeline().set("lernmi:io:a", "1").hset("lernmi:io:h", "f", "v").lpush("lernmi:io:l", "x").get("lernmi:io:a").exec();
            assert.deepStrictEqual(results, [[null, "OK"], [null, 1], [null, 1], [null, "1"]]);
            assert.deepStrictEqual(await client.multi().incr("lernmi:io:n").incr("lernmi:io:n").exec(), [[null, 1], [null, 2]]);
            assert.strictEqual(await client.client("GETNAME"), "lernmi-worker");

            const got: string[] = [];
            sub.on("message", (ch: string, m: string) => void got.push(`${ch} ${m}`));
            sub.on("pmessage", (p: string, ch: string, m: string) => void got.push(`${p} ${ch} ${m}`));
            await sub.subscribe("lernmi:jobs");
            await sub.psubscribe("lernmi:*");
            assert.strictEqual(await client.publish("lernmi:jobs", "go"), 2);
            for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
            assert.deepStrictEqual(got.sort(), ["lernmi:* lernmi:jobs go", "lernmi:jobs go"]);
            await assert.rejects(sub.subscribe("digi_core:jobs"), /NOPERM/);
        } finally {
            console.warn = warn;
        }
        assert.deepStrictEqual(warnings, []);
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
            const saved = fs.readFileSync(redis.aclFile, "utf8");
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
            const upgraded = await redisAclUserProvider.diff!("beep_boop", { ...created.outs!, serverImage: "redis:7.0" }, { ...extra(), serverImage: "redis:7.4" });
            assert.deepStrictEqual(upgraded, { changes: true, replaces: [] }, "a new server image rewrites the user");
            const outdated = await redisAclUserProvider.diff!("beep_boop", { ...created.outs!, rules: "+@all" }, extra());
            assert.deepStrictEqual(outdated, { changes: true, replaces: [] }, "rules from an older version are updated");
            const updated = await redisAclUserProvider.update!("beep_boop", created.outs!, extra());
            assert.strictEqual(updated.outs!.password, created.outs!.password);
            await nodeRedis(url(created.outs!.password));
        });

        it("changes scripting by an update (same user, same password), never a replace", async () => {
            const created = await redisAclUserProvider.create!(extra());
            const scripted = { ...extra(), scripting: true };
            assert.deepStrictEqual(await redisAclUserProvider.diff!("beep_boop", created.outs!, scripted), { changes: true, replaces: [] });
            const client = await nodeRedis(url(created.outs!.password));
            await expectNoPerm(client.eval("return 1"), "EVAL without scripting");
            const updated = await redisAclUserProvider.update!("beep_boop", created.outs!, scripted);
            assert.strictEqual(updated.outs!.password, created.outs!.password);
            assert.strictEqual(updated.outs!.scripting, true);
            assert.strictEqual(await client.eval("return redis.call('SET', KEYS[1], 'v')", { keys: ["beep_boop:e"] }), "OK");
            assert.deepStrictEqual(await redisAclUserProvider.diff!("beep_boop", updated.outs!, scripted), { changes: false, replaces: [] });
            const back = await redisAclUserProvider.update!("beep_boop", updated.outs!, extra());
            assert.strictEqual(back.outs!.scripting, false);
            await expectNoPerm(client.eval("return 1"), "EVAL after scripting was turned off");
        });

        it("grants only the listed commands this server knows; a full list naming newer commands would be refused whole", async () => {
            const admin = await nodeRedis(redis.adminUrl());
            // Why the provider asks: Redis 7.0 refuses the whole ACL SETUSER for one unknown command.
            await assert.rejects(admin.sendCommand(tenantSetUserCommand("beep_boop", "pw", { scripting: false })), /Unknown command/);
            const created = await redisAclUserProvider.create!(extra());
            const full = tenantAclRules("beep_boop", { scripting: false });
            assert.strictEqual(created.outs!.rules, full.join(" "), "the state keeps the full list, so diff does not depend on the server");
            const known = new Set(((await admin.sendCommand(["COMMAND", "LIST"])) as string[]).map((n) => n.toLowerCase()));
            const granted = knownRules(full, known).filter((r) => r.startsWith("+"));
            assert.ok(granted.length > 150 && granted.length < full.length, "some listed commands are newer than this server");
            // Redis 7.0 shows (and saves) the rules folded into categories: compare what they allow.
            const live = String(aclUserFields(await admin.sendCommand(["ACL", "GETUSER", "beep_boop"])).get("commands")).split(" ");
            const categories = new Map<string, string[]>();
            for (const c of ruleCategories(live)) categories.set(c, (await admin.sendCommand(["ACL", "CAT", c])) as string[]);
            assert.deepStrictEqual([...allowedCommands(live, known, categories)].sort(), granted.map((g) => g.slice(1)).sort());
        });

        it("read notices a user whose rights differ on the server, and the update that follows restores them", async () => {
            const created = await redisAclUserProvider.create!(extra());
            assert.deepStrictEqual(await redisAclUserProvider.read!("beep_boop", created.outs!), { id: "beep_boop", props: created.outs! });
            const admin = await nodeRedis(redis.adminUrl());
            for (const tamper of [["+@all"], ["~*"], ["&*"], ["nopass"], [">another-password"]]) {
                await admin.sendCommand(["ACL", "SETUSER", "beep_boop", ...tamper]);
                const read = await redisAclUserProvider.read!("beep_boop", created.outs!);
                assert.match(String(read.props!.rules), /^differs on the server: /, `ACL SETUSER ${tamper.join(" ")} must be noticed`);
                assert.deepStrictEqual(await redisAclUserProvider.diff!("beep_boop", read.props as never, extra()), { changes: true, replaces: [] });
                await redisAclUserProvider.update!("beep_boop", read.props as never, extra());
                assert.deepStrictEqual((await redisAclUserProvider.read!("beep_boop", created.outs!)).props, created.outs!, "rewritten");
            }
            const client = await nodeRedis(url(created.outs!.password));
            await expectNoPerm(client.get("digi_core:secret"), "after the rewrite");
        });

        it("deletes the user, and read then reports it gone", async () => {
            const created = await redisAclUserProvider.create!(extra());
            await redisAclUserProvider.delete!("beep_boop", created.outs!);
            await refusedLogin(url(created.outs!.password));
            assert.deepStrictEqual(await redisAclUserProvider.read!("beep_boop", created.outs!), {});
            assert.ok(!fs.readFileSync(redis.aclFile, "utf8").includes("user beep_boop "));
        });

        it("says clearly when the server cannot be reached", async () => {
            const closed = await freePort();
            await assert.rejects(redisAclUserProvider.create!({ ...extra(), port: closed }), (err: Error) =>
                err.message.startsWith(`Redis at 127.0.0.1:${closed} as admin failed to set ACL user beep_boop`) && err.message.includes("adminEndpoint"),
            );
        });

        it("says clearly when the admin password is refused", async () => {
            await assert.rejects(redisAclUserProvider.create!({ ...extra(), adminPassword: "wrong" }), (err: Error) =>
                err.message.includes("WRONGPASS") && err.message.includes("does not accept the admin credentials"),
            );
        });
    });

    describe("restart", () => {
    it("after a restart, tenant users persist and a new admin password from the bootstrap file applies", async () => {
        closeClients();
        await redis.stop();
        const newAdmin = "rotated-admin-password";
        fs.writeFileSync(redis.bootstrapFile, bootstrapAcl(newAdmin));
        await redis.start();
        const lernmi = await nodeRedis(urls.lernmi);
        assert.strictEqual(await lernmi.ping(), "PONG");
        await expectNoPerm(lernmi.get("digi_core:x"), "the tenant's rules persisted too");
        await nodeRedis(`redis://admin:${newAdmin}@127.0.0.1:${port}`);
        await refusedLogin(`redis://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}`);
        // The rules Redis saved (in its own words) and loaded again allow exactly what the program grants.
        const read = await redisAclUserProvider.read!("lernmi", { ...states.lernmi, adminPassword: newAdmin });
        assert.deepStrictEqual(read, { id: "lernmi", props: { ...states.lernmi, adminPassword: newAdmin } });
        const lines = fs.readFileSync(redis.aclFile, "utf8").trim().split("\n");
        assert.strictEqual(lines.filter((l) => l.startsWith("user admin ")).length, 1);
        assert.strictEqual(lines.filter((l) => l.startsWith("user default ")).length, 1);
    });
    });
});
