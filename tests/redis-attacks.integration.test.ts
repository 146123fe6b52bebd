// A hostile tenant on a shared Redis, on a real redis-server started from the program's own
// command, with the program's tenants created by the real provider. The victim (digi_core) has
// keys, subscriptions, a function library and a cached script; the attacker (lernmi) speaks raw
// RESP with its own credentials, so no client library filters or retries anything.
//
// Then the allow-list property: the server is asked about every command and subcommand it knows
// whether the tenant may run it (ACL DRYRUN), and every allowed one must take keys that the
// tenant's pattern checks, or be one of the few documented keyless ones.
import * as assert from "assert";
import { createClient } from "redis";
import { TENANT_COMMANDS_SINCE, TENANT_EXCLUDED_COMMANDS, TENANT_KEYLESS_COMMANDS, knownRules, tenantAclRules } from "../components/redis/redis-acl";
import { RawRedis, ReplyError } from "./helpers/redis-raw";
import { ProgramRedis, createProgramTenants, redisProgram, startProgramRedis } from "./helpers/redis-server";

const sharedProgram = redisProgram({
    tenants: [
        { app: "lernmi", db: 1 },
        { app: "digi_core", db: 0 },
    ],
});

/** A server with one tenant that has scripting (the only way the program allows it). */
const dedicatedScriptingProgram = redisProgram({ tenants: [{ app: "solo", db: 3, scripting: true }] });

const VICTIM_LIBRARY = "#!lua name=digi_core\nredis.register_function('digi_core_hello', function() return 'original' end)";
const EVIL_LIBRARY = "#!lua name=digi_core\nredis.register_function('digi_core_hello', function() return 'attacker' end)";

type Admin = ReturnType<typeof createClient>;

describe("Redis: a hostile tenant on a shared server (real redis-server)", function () {
    this.timeout(30000);
    let redis: ProgramRedis;
    let urls: Record<string, string>;
    let admin: Admin;
    let attacker: RawRedis;
    const closers: (() => void)[] = [];

    const passwordOf = (app: string) => decodeURIComponent(new URL(urls[app]).password);

    async function client(url: string) {
        const c = createClient({ url, socket: { reconnectStrategy: false } });
        c.on("error", () => undefined);
        await c.connect();
        closers.push(() => c.destroy());
        return c;
    }

    async function login(app: string, db?: number) {
        const conn = await RawRedis.login(redis.port, app, passwordOf(app), db);
        closers.push(() => conn.close());
        return conn;
    }

    /** The attacker's command must be refused by the ACL (NOPERM), whatever its arguments. */
    async function refused(args: string[], conn: RawRedis = attacker) {
        const reply = await conn.call(...args);
        assert.ok(reply instanceof ReplyError && /^NOPERM /.test(reply.message), `${args.join(" ")} must be refused with NOPERM, got ${JSON.stringify(reply instanceof Error ? reply.message : reply)}`);
    }

    let victimSha: string;

    before(async () => {
        redis = await startProgramRedis(sharedProgram, "redis-attacks");
        ({ urls } = await createProgramTenants(sharedProgram, redis.port));
        admin = await client(redis.adminUrl());
        // The victim's data, in its DB, and server-wide things the admin put there for it.
        const victim = await client(urls.digi_core);
        await victim.set("digi_core:secret", "mine");
        await victim.set("digi_core:canary", "alive");
        await victim.hSet("digi_core:profile", { name: "x" });
        await victim.rPush("digi_core:queue", ["job"]);
        assert.strictEqual(await admin.sendCommand(["FUNCTION", "LOAD", VICTIM_LIBRARY]), "digi_core");
        victimSha = String(await admin.sendCommand(["SCRIPT", "LOAD", "return 'cached'"]));
        const listener = victim.duplicate();
        listener.on("error", () => undefined);
        await listener.connect();
        closers.push(() => listener.destroy());
        await listener.subscribe("digi_core:events", () => undefined);
        await listener.pSubscribe("digi_core:*", () => undefined);
        await listener.sSubscribe("digi_core:shard", () => undefined);
        attacker = await login("lernmi");
        assert.strictEqual(await attacker.call("SET", "lernmi:mine", "1"), "OK");
    });

    after(async () => {
        for (const close of closers.splice(0)) {
            try {
                close();
            } catch {
                // already closed
            }
        }
        await redis?.remove();
    });

    async function victimIntact() {
        await admin.select(0);
        assert.strictEqual(await admin.get("digi_core:secret"), "mine");
        assert.strictEqual(await admin.get("digi_core:canary"), "alive");
        assert.deepStrictEqual(await admin.sendCommand(["FCALL", "digi_core_hello", "0"]), "original");
    }

    describe("attacks", () => {
        it("cannot replace, delete, list, dump, restore or call another tenant's functions", async () => {
            for (const attack of [
                ["FUNCTION", "LOAD", "REPLACE", EVIL_LIBRARY],
                ["FUNCTION", "LOAD", "#!lua name=lernmi\nredis.register_function('lernmi_x', function() return 1 end)"],
                ["FUNCTION", "DELETE", "digi_core"],
                ["FUNCTION", "FLUSH"],
                ["FUNCTION", "FLUSH", "ASYNC"],
                ["FUNCTION", "LIST", "WITHCODE"],
                ["FUNCTION", "LIST"],
                ["FUNCTION", "DUMP"],
                ["FUNCTION", "RESTORE", "payload", "REPLACE"],
                ["FUNCTION", "STATS"],
                ["FUNCTION", "KILL"],
                ["FCALL", "digi_core_hello", "0"],
                ["FCALL_RO", "digi_core_hello", "0"],
            ]) {
                await refused(attack);
            }
            await victimIntact();
        });

        it("cannot run, flush or kill scripts: a looping EVAL is refused, so nobody gets BUSY", async () => {
            for (const attack of [
                ["EVAL", "while true do end", "0"],
                ["EVAL_RO", "while true do end", "0"],
                ["EVALSHA", victimSha, "0"],
                ["EVALSHA_RO", victimSha, "0"],
                ["SCRIPT", "LOAD", "while true do end"],
                ["SCRIPT", "EXISTS", victimSha],
                ["SCRIPT", "FLUSH"],
                ["SCRIPT", "KILL"],
                ["SCRIPT", "DEBUG", "YES"],
            ]) {
                await refused(attack);
            }
            const victim = await login("digi_core");
            const started = Date.now();
            assert.strictEqual(await victim.call("PING"), "PONG");
            assert.ok(Date.now() - started < 1000);
            assert.deepStrictEqual(await admin.sendCommand(["SCRIPT", "EXISTS", victimSha]), [1], "the script cache was not flushed");
        });

        it("cannot list another tenant's key names: SELECT works, SCAN/KEYS/RANDOMKEY/DBSIZE do not", async () => {
            const conn = await login("lernmi");
            assert.strictEqual(await conn.call("SELECT", "0"), "OK", "Redis ACLs cannot restrict SELECT");
            for (const attack of [["SCAN", "0"], ["SCAN", "0", "MATCH", "digi_core:*"], ["SCAN", "0", "TYPE", "string"], ["KEYS", "*"], ["RANDOMKEY"], ["DBSIZE"]]) {
                await refused(attack, conn);
            }
            // Nor probe names one by one: every key-taking command checks the name first.
            for (const probe of [
                ["EXISTS", "digi_core:secret"],
                ["TYPE", "digi_core:secret"],
                ["TTL", "digi_core:secret"],
                ["PTTL", "digi_core:secret"],
                ["EXPIRETIME", "digi_core:secret"],
                ["TOUCH", "digi_core:secret"],
                ["OBJECT", "ENCODING", "digi_core:secret"],
                ["OBJECT", "FREQ", "digi_core:secret"],
                ["OBJECT", "IDLETIME", "digi_core:secret"],
                ["OBJECT", "REFCOUNT", "digi_core:secret"],
                ["MEMORY", "USAGE", "digi_core:secret"],
                ["STRLEN", "digi_core:secret"],
                ["WATCH", "digi_core:secret"],
                ["DUMP", "digi_core:secret"],
            ]) {
                await refused(probe, conn);
            }
        });

        it("cannot read, copy, move, rename, sort by or overwrite another tenant's keys, from any DB", async () => {
            const conn = await login("lernmi", 0);
            await conn.call("RPUSH", "lernmi:list", "1", "2");
            for (const attack of [
                ["GET", "digi_core:secret"],
                ["GETRANGE", "digi_core:secret", "0", "-1"],
                ["LCS", "digi_core:secret", "lernmi:mine"],
                ["HGETALL", "digi_core:profile"],
                ["LRANGE", "digi_core:queue", "0", "-1"],
                ["LMOVE", "digi_core:queue", "lernmi:stolen", "LEFT", "LEFT"],
                ["COPY", "digi_core:secret", "lernmi:stolen"],
                ["COPY", "lernmi:list", "digi_core:secret", "DB", "0", "REPLACE"],
                ["MOVE", "digi_core:secret", "1"],
                ["RENAME", "digi_core:secret", "lernmi:stolen"],
                ["RENAME", "lernmi:list", "digi_core:secret"],
                ["SET", "digi_core:canary", "dead"],
                ["DEL", "digi_core:canary"],
                ["UNLINK", "digi_core:canary"],
                ["EXPIRE", "digi_core:canary", "1"],
                ["SORT", "lernmi:list", "STORE", "digi_core:canary"],
                ["SUNIONSTORE", "digi_core:canary", "lernmi:list"],
                ["BITOP", "OR", "digi_core:canary", "lernmi:mine"],
                ["RESTORE", "digi_core:canary", "0", "payload", "REPLACE"],
                ["MIGRATE", "127.0.0.1", "1", "digi_core:secret", "0", "1000"],
                ["PFMERGE", "digi_core:canary"],
                ["PFMERGE", "digi_core:canary", "lernmi:mine"],
                ["GEORADIUS", "lernmi:nothing", "0", "0", "1", "km", "STORE", "lernmi:ok", "STORE", "digi_core:canary"],
                ["GEORADIUSBYMEMBER", "lernmi:nothing", "m", "1", "km", "STORE", "lernmi:ok", "STORE", "digi_core:canary"],
                ["SWAPDB", "0", "1"],
                ["FLUSHDB"],
                ["FLUSHALL"],
            ]) {
                await refused(attack, conn);
            }
            // SORT refuses BY and GET patterns to a user without access to every key.
            for (const option of [
                ["BY", "digi_core:*"],
                ["GET", "digi_core:*"],
                ["GET", "#"],
                ["BY", "lernmi:*"],
            ]) {
                for (const sort of ["SORT", "SORT_RO"]) {
                    const reply = await conn.call(sort, "lernmi:list", ...option);
                    assert.ok(reply instanceof ReplyError && /option of SORT denied due to insufficient ACL permissions/.test(reply.message), `${sort} ${option.join(" ")}: ${String(reply)}`);
                }
            }
            assert.deepStrictEqual(await conn.call("SORT", "lernmi:list", "BY", "nosort"), ["1", "2"], "a plain sort of its own key works");
            // A refused command inside MULTI aborts the transaction.
            assert.strictEqual(await conn.call("MULTI"), "OK");
            await refused(["GET", "digi_core:secret"], conn);
            const exec = await conn.call("EXEC");
            assert.ok(exec instanceof ReplyError && /^EXECABORT/.test(exec.message));
            await victimIntact();
        });

        it("shows why PFMERGE and GEORADIUS are left out: on Redis 7.0 a user allowed them writes outside its pattern", async function () {
            const version = /redis_version:(\S+)/.exec(String(await admin.sendCommand(["INFO", "server"])))![1];
            if (!version.startsWith("7.0.")) this.skip();
            await admin.sendCommand(["ACL", "SETUSER", "gapcheck", "reset", "on", ">gapcheck-pw", "~gapcheck:*", "-@all", "+pfmerge", "+georadius"]);
            try {
                const conn = await RawRedis.login(redis.port, "gapcheck", "gapcheck-pw", 0);
                closers.push(() => conn.close());
                await admin.set("digi_core:doomed", "precious");
                assert.strictEqual(await conn.call("GEORADIUS", "gapcheck:none", "0", "0", "1", "km", "STORE", "gapcheck:ok", "STORE", "digi_core:doomed"), 0);
                assert.strictEqual(await admin.exists("digi_core:doomed"), 0, "the other tenant's key was deleted");
                assert.strictEqual(await conn.call("PFMERGE", "digi_core:planted"), "OK");
                assert.strictEqual(await admin.exists("digi_core:planted"), 1, "a key was created in the other tenant's namespace");
            } finally {
                await admin.sendCommand(["ACL", "DELUSER", "gapcheck"]);
                await admin.del(["digi_core:planted", "digi_core:doomed"]);
            }
        });

        it("cannot watch other tenants' key names through client-side caching (CLIENT TRACKING)", async () => {
            const conn = await login("lernmi", 0);
            const id = String(await conn.call("CLIENT", "ID"));
            for (const attack of [
                ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "digi_core:"],
                ["CLIENT", "TRACKING", "ON", "BCAST"],
                ["CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", "PREFIX", "digi_core:"],
                ["CLIENT", "TRACKING", "ON"],
                ["CLIENT", "CACHING", "YES"],
                ["CLIENT", "GETREDIR"],
                ["CLIENT", "TRACKINGINFO"],
            ]) {
                await refused(attack, conn);
            }
            // And over RESP3, where invalidations would arrive on the same connection.
            const resp3 = await RawRedis.connect(redis.port);
            closers.push(() => resp3.close());
            assert.ok(Array.isArray(await resp3.call("HELLO", "2", "AUTH", "lernmi", passwordOf("lernmi"))));
            await refused(["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "digi_core:"], resp3);
        });

        it("cannot list, count or listen to another tenant's channels", async () => {
            for (const attack of [
                ["PUBSUB", "CHANNELS"],
                ["PUBSUB", "CHANNELS", "digi_core:*"],
                ["PUBSUB", "NUMSUB", "digi_core:events"],
                ["PUBSUB", "NUMPAT"],
                ["PUBSUB", "SHARDCHANNELS"],
                ["PUBSUB", "SHARDNUMSUB", "digi_core:shard"],
                ["SUBSCRIBE", "digi_core:events"],
                ["SUBSCRIBE", "lernmi:ok", "digi_core:events"],
                ["PSUBSCRIBE", "*"],
                ["PSUBSCRIBE", "digi_core:*"],
                ["PSUBSCRIBE", "lernmi:*", "d*"],
                ["SSUBSCRIBE", "digi_core:shard"],
                ["SUBSCRIBE", "__keyspace@0__:digi_core:secret"],
                ["PSUBSCRIBE", "__key*__:*"],
                ["PUBLISH", "digi_core:events", "forged"],
                ["SPUBLISH", "digi_core:shard", "forged"],
            ]) {
                await refused(attack);
            }
            assert.strictEqual(await attacker.call("PING"), "PONG", "still a normal connection (never entered subscribe mode)");
        });

        it("cannot read server internals, other clients, their commands, or stop the server", async () => {
            for (const attack of [
                ["MEMORY", "STATS"],
                ["MEMORY", "PURGE"],
                ["MEMORY", "DOCTOR"],
                ["MEMORY", "MALLOC-STATS"],
                ["CLIENT", "LIST"],
                ["CLIENT", "KILL", "USER", "digi_core"],
                ["CLIENT", "PAUSE", "10000"],
                ["CLIENT", "UNPAUSE"],
                ["CLIENT", "UNBLOCK", "1"],
                ["CLIENT", "NO-EVICT", "ON"],
                ["CLIENT", "REPLY", "OFF"],
                ["SLOWLOG", "GET"],
                ["LATENCY", "LATEST"],
                ["MONITOR"],
                ["CONFIG", "GET", "*"],
                ["CONFIG", "SET", "maxmemory", "1"],
                ["ACL", "LIST"],
                ["ACL", "WHOAMI"],
                ["ACL", "LOG"],
                ["COMMAND"],
                ["WAIT", "0", "0"],
                ["SAVE"],
                ["BGSAVE"],
                ["BGREWRITEAOF"],
                ["LASTSAVE"],
                ["SHUTDOWN", "NOSAVE"],
                ["MODULE", "LIST"],
                ["REPLICAOF", "127.0.0.1", "1"],
                ["FAILOVER"],
                ["ROLE"],
                ["CLUSTER", "INFO"],
                ["PFDEBUG", "GETREG", "lernmi:mine"],
                ["LOLWUT"],
            ]) {
                await refused(attack);
            }
            // DEBUG is refused before the ACL is asked (enable-debug-command), and by the ACL too.
            const debug = await attacker.call("DEBUG", "SLEEP", "0");
            assert.ok(debug instanceof ReplyError && /^(NOPERM|ERR DEBUG command not allowed)/.test(debug.message), String(debug));
            // What remains, as the README says: INFO shows statistics (key counts per DB among
            // them), never key or channel names.
            const info = String(await attacker.call("INFO", "everything"));
            assert.match(info, /^db0:keys=\d+/m);
            assert.ok(!/digi_core/.test(info), "INFO names no key, channel or user");
            assert.strictEqual(await admin.ping(), "PONG");
        });

        it("scripting is only for a tenant alone on its server: it runs EVAL and FCALL on its own keys, and no further", async () => {
            // The program allows scripting only on a server with one tenant; here its user is
            // created by the program's provider on this server to compare it with a shared tenant.
            const solo = await createProgramTenants(dedicatedScriptingProgram, redis.port);
            assert.strictEqual(solo.users.solo.scripting, true);
            const conn = await RawRedis.login(redis.port, "solo", decodeURIComponent(new URL(solo.urls.solo).password), 3);
            closers.push(() => conn.close());
            assert.strictEqual(await conn.call("EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "solo:k", "v"), "OK");
            assert.strictEqual(await conn.call("EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "solo:k"), "v");
            const denied = await conn.call("EVAL", "return redis.call('GET', 'digi_core:secret')", "0");
            assert.ok(denied instanceof ReplyError && /NOPERM|can't access at least one of the keys/i.test(denied.message), String(denied));
            assert.strictEqual(await conn.call("FUNCTION", "LOAD", "#!lua name=solo\nredis.register_function('solo_get', function(keys) return redis.call('GET', keys[1]) end)"), "solo");
            assert.strictEqual(await conn.call("FCALL", "solo_get", "1", "solo:k"), "v");
            const sha = String(await conn.call("SCRIPT", "LOAD", "return 1"));
            assert.strictEqual(await conn.call("EVALSHA", sha, "0"), 1);
            // The same commands for a shared tenant: refused.
            await refused(["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "lernmi:k", "v"]);
            await refused(["FCALL", "solo_get", "1", "lernmi:k"]);
            await refused(["EVALSHA", sha, "0"]);
            assert.strictEqual(await conn.call("FUNCTION", "DELETE", "solo"), "OK");
            await admin.sendCommand(["ACL", "DELUSER", "solo"]);
        });
    });

    describe("the allow-list, asked of the server about every command it knows", () => {
        interface CommandInfo {
            name: string;
            arity: number;
            flags: string[];
            firstKey: number;
            keySpecFlags: string[][];
            subcommands: string[];
        }
        interface DocArg {
            name: string;
            type: string;
            token?: string;
            flags: string[];
            arguments: DocArg[];
        }
        let commands: Map<string, CommandInfo>;
        let docs: Map<string, DocArg[]>;
        /** Runnable names: commands without subcommands, and `container|subcommand`. */
        let leaves: string[];
        let known: Set<string>;

        const pairs = (list: unknown): Map<string, unknown> => {
            const m = new Map<string, unknown>();
            const a = list as unknown[];
            for (let i = 0; i + 1 < a.length; i += 2) m.set(String(a[i]), a[i + 1]);
            return m;
        };

        function parseInfo(entry: unknown[]): CommandInfo[] {
            const [name, arity, flags, firstKey, , , , , keySpecs, subs] = entry as [string, number, string[], number, number, number, string[], string[], unknown[][], unknown[][]];
            const info: CommandInfo = {
                name: String(name).toLowerCase(),
                arity: Number(arity),
                flags: flags.map(String),
                firstKey: Number(firstKey),
                keySpecFlags: (keySpecs ?? []).map((spec) => ((pairs(spec).get("flags") as string[]) ?? []).map(String)),
                subcommands: (subs ?? []).map((s) => String(s[0]).toLowerCase()),
            };
            return [info, ...(subs ?? []).flatMap((s) => parseInfo(s))];
        }

        function parseArgs(list: unknown): DocArg[] {
            return ((list as unknown[]) ?? []).map((raw) => {
                const f = pairs(raw);
                return {
                    name: String(f.get("name")),
                    type: String(f.get("type")),
                    token: f.has("token") ? String(f.get("token")) : undefined,
                    flags: ((f.get("flags") as string[]) ?? []).map(String),
                    arguments: parseArgs(f.get("arguments")),
                };
            });
        }

        function parseDocs(list: unknown, into: Map<string, DocArg[]>) {
            for (const [name, fields] of pairs(list)) {
                const f = pairs(fields);
                into.set(name.toLowerCase(), parseArgs(f.get("arguments")));
                if (f.has("subcommands")) parseDocs(f.get("subcommands"), into);
            }
        }

        /** Takes keys (not only channels): a key spec without NOT_KEY, or legacy key positions. */
        function takesKeys(c: CommandInfo): boolean {
            if (c.keySpecFlags.length > 0) return c.keySpecFlags.some((f) => !f.includes("not_key"));
            return c.firstKey > 0 || c.flags.includes("movablekeys");
        }

        /** Arguments of the right arity, with the tenant's own names: the question is the command. */
        function arityArgs(name: string, fill: string): string[] {
            const words = name.split("|");
            const arity = Math.abs(commands.get(name)!.arity);
            const args = [...words];
            while (args.length < arity) args.push(fill);
            return args;
        }

        type Verdict = "allowed" | "command denied" | "key denied" | "channel denied";

        async function dryRun(user: string, args: string[]): Promise<Verdict> {
            const reply = String(await admin.sendCommand(["ACL", "DRYRUN", user, ...args]));
            if (reply === "OK") return "allowed";
            if (/has no permissions to run the '.*' command/.test(reply)) return "command denied";
            if (/has no permissions to access the '.*' key/.test(reply)) return "key denied";
            if (/has no permissions to access the '.*' channel/.test(reply)) return "channel denied";
            throw new Error(`ACL DRYRUN ${user} ${args.join(" ")}: unexpected reply ${reply}`);
        }

        /** The runnable commands `user` may run (ACL DRYRUN reports a command denial first). */
        async function allowedFor(user: string): Promise<Set<string>> {
            const verdicts = await Promise.all(leaves.map(async (l) => [l, await dryRun(user, arityArgs(l, `${user}:k`))] as const));
            return new Set(verdicts.filter(([, v]) => v !== "command denied").map(([l]) => l));
        }

        /** Allowed commands that break the property: neither key-taking nor a listed keyless command. */
        function violations(allowed: Set<string>): string[] {
            return [...allowed].filter((c) => !takesKeys(commands.get(c)!) && !(c in TENANT_KEYLESS_COMMANDS)).sort();
        }

        /**
         * Invocations built from COMMAND DOCS: the required arguments (one of each `multiple`, the
         * first of each `oneof`), optionally with one optional argument that holds a key. Returns
         * the words and, per key placeholder, whether it belongs to that optional argument.
         */
        function invocation(args: DocArg[], target?: DocArg): { words: (string | { key: number; inTarget: boolean })[]; keys: number } {
            const words: (string | { key: number; inTarget: boolean })[] = [];
            let keys = 0;
            const contains = (a: DocArg, t?: DocArg): boolean => t !== undefined && (a === t || a.arguments.some((s) => contains(s, t)));
            const emit = (a: DocArg, inTarget: boolean) => {
                const inside = inTarget || a === target;
                if (a.token) words.push(a.token);
                switch (a.type) {
                    case "pure-token":
                        break;
                    case "key":
                        words.push({ key: keys++, inTarget: inside });
                        break;
                    case "integer":
                    case "double":
                    case "unix-time":
                        words.push("1");
                        break;
                    case "oneof":
                        emit(a.arguments.find((s) => contains(s, target)) ?? a.arguments[0], inside);
                        break;
                    case "block":
                        for (const s of a.arguments) if (!s.flags.includes("optional") || contains(s, target)) emit(s, inside);
                        break;
                    default:
                        words.push("x");
                }
            };
            for (const a of args) if (!a.flags.includes("optional") || contains(a, target)) emit(a, false);
            return { words, keys };
        }

        /** Every optional argument (at any depth) that holds a key. */
        function optionalKeyArgs(args: DocArg[]): DocArg[] {
            const holdsKey = (a: DocArg): boolean => a.type === "key" || a.arguments.some(holdsKey);
            return args.flatMap((a) => [...(a.flags.includes("optional") && holdsKey(a) ? [a] : []), ...optionalKeyArgs(a.arguments)]);
        }

        const render = (name: string, inv: ReturnType<typeof invocation>, keyName: (i: number, inTarget: boolean) => string) => [
            ...name.split("|"),
            ...inv.words.map((w) => (typeof w === "string" ? w : keyName(w.key, w.inTarget))),
        ];

        const fits = (name: string, argc: number) => {
            const arity = commands.get(name)!.arity;
            return arity >= 0 ? argc === arity : argc >= -arity;
        };

        before(async () => {
            commands = new Map(((await admin.sendCommand(["COMMAND"])) as unknown[][]).flatMap(parseInfo).map((c) => [c.name, c]));
            docs = new Map();
            parseDocs(await admin.sendCommand(["COMMAND", "DOCS"]), docs);
            leaves = [...commands.values()].filter((c) => c.subcommands.length === 0).map((c) => c.name).sort();
            known = new Set(((await admin.sendCommand(["COMMAND", "LIST"])) as string[]).map((n) => n.toLowerCase()));
            assert.ok(leaves.length > 300, `the server knows ${leaves.length} commands`);
        });

        it("every command a tenant may run takes keys, or is one of the documented keyless ones", async () => {
            const allowed = await allowedFor("lernmi");
            assert.deepStrictEqual(violations(allowed), [], "keyless commands allowed without being in TENANT_KEYLESS_COMMANDS");
            // The listed keyless ones really are keyless (or take only channels), and are allowed.
            for (const name of Object.keys(TENANT_KEYLESS_COMMANDS).filter((n) => known.has(n))) {
                assert.ok(!takesKeys(commands.get(name)!), `${name} takes keys: it does not belong in TENANT_KEYLESS_COMMANDS`);
                assert.ok(allowed.has(name), `${name} is listed as allowed but is refused`);
            }
        });

        it("allows exactly the listed commands this server knows: no dead entries, nothing else", async () => {
            const allowed = await allowedFor("lernmi");
            const listed = knownRules(tenantAclRules("lernmi", { scripting: false }), known)
                .filter((r) => r.startsWith("+"))
                .map((r) => r.slice(1));
            assert.deepStrictEqual([...allowed].sort(), [...new Set(listed)].sort());
            // Listed names this server does not know are exactly the newer ones, declared as such.
            const version = /redis_version:(\d+)\.(\d+)/.exec(String(await admin.sendCommand(["INFO", "server"])))!;
            const newer = (since: string) => since.split(".").map(Number).reduce((a, n, i) => (a !== 0 ? a : n - Number(version[i + 1])), 0) > 0;
            const unknown = tenantAclRules("lernmi", { scripting: false })
                .filter((r) => r.startsWith("+") && !known.has(r.slice(1)))
                .map((r) => r.slice(1));
            assert.deepStrictEqual(unknown.sort(), Object.keys(TENANT_COMMANDS_SINCE).filter((n) => newer(TENANT_COMMANDS_SINCE[n])).sort());
        });

        it("refuses every command left out on purpose (the attacks' commands among them)", async () => {
            const allowed = await allowedFor("lernmi");
            const excluded = Object.keys(TENANT_EXCLUDED_COMMANDS).filter((n) => known.has(n));
            assert.ok(excluded.length > 60);
            for (const name of excluded) {
                const covered = leaves.filter((l) => l === name || l.startsWith(`${name}|`));
                assert.deepStrictEqual(covered.filter((l) => allowed.has(l)), [], `${name} must be refused`);
            }
            for (const name of tenantAclRules("lernmi", { scripting: false }).filter((r) => r.startsWith("+")).map((r) => r.slice(1))) {
                assert.ok(!(name in TENANT_EXCLUDED_COMMANDS), `${name} is both allowed and excluded`);
            }
        });

        /** Allowed key-taking commands of `user` whose keys are not each checked against its pattern. */
        async function keyCheckProblems(user: string, allowed: string[]): Promise<string[]> {
            const own = `${user}:k`;
            const other = user === "digi_core" ? "lernmi:k" : "digi_core:k";
            const problems: string[] = [];
            const expectDenied = async (words: string[]) => {
                const verdict = await dryRun(user, words);
                if (verdict !== "key denied") problems.push(`${words.join(" ")}: ${verdict}`);
            };
            await Promise.all(
                allowed.map(async (name) => {
                    const args = docs.get(name);
                    if (args === undefined) return void problems.push(`${name}: no COMMAND DOCS`);
                    const minimal = invocation(args);
                    if (minimal.keys === 0) return void problems.push(`${name}: no key argument in its documented form`);
                    const words = render(name, minimal, () => own);
                    const verdict = await dryRun(user, words);
                    if (verdict !== "allowed") problems.push(`${words.join(" ")}: ${verdict}`);
                    // Each key of the documented form, one at a time, named in another tenant's space.
                    for (let i = 0; i < minimal.keys; i++) await expectDenied(render(name, minimal, (k) => (k === i ? other : own)));
                    // Each optional argument that holds a key (STORE destinations, ...).
                    for (const target of optionalKeyArgs(args)) {
                        await expectDenied(render(name, invocation(args, target), (_k, inTarget) => (inTarget ? other : own)));
                    }
                    // The shortest forms the arity allows: a required `multiple` argument may still
                    // be absent (PFMERGE <destkey> alone, which Redis 7.0 checks no key of).
                    for (const drop of args.filter((a) => a.flags.includes("multiple") && !a.flags.includes("optional"))) {
                        const shorter = render(name, invocation(args.filter((a) => a !== drop)), () => other);
                        if (fits(name, shorter.length)) await expectDenied(shorter);
                    }
                }),
            );
            return problems.sort();
        }

        it("every allowed key-taking command checks each of its keys against the tenant's pattern", async () => {
            const allowed = [...(await allowedFor("lernmi"))].filter((c) => takesKeys(commands.get(c)!));
            assert.ok(allowed.length > 150);
            assert.deepStrictEqual(await keyCheckProblems("lernmi", allowed), []);
        });

        it("the allowed channel commands check channel names; PSUBSCRIBE only the pattern `<app>:*` itself", async () => {
            for (const [cmd, ...rest] of [["publish", "x"], ["subscribe"], ["spublish", "x"], ["ssubscribe"]]) {
                assert.strictEqual(await dryRun("lernmi", [cmd, "lernmi:c", ...rest]), "allowed");
                assert.strictEqual(await dryRun("lernmi", [cmd, "digi_core:c", ...rest]), "channel denied", cmd);
            }
            assert.strictEqual(await dryRun("lernmi", ["psubscribe", "lernmi:*"]), "allowed");
            for (const pattern of ["*", "digi_core:*", "lernmi:events:*", "l*"]) {
                assert.strictEqual(await dryRun("lernmi", ["psubscribe", pattern]), "channel denied", pattern);
            }
        });

        it("has teeth: the previous deny-list rules (+@all -@dangerous +info) fail both properties", async () => {
            await admin.sendCommand(["ACL", "SETUSER", "denylist", "reset", "on", ">denylist-pw", "~denylist:*", "&denylist:*", "-@all", "+@all", "-@dangerous", "+info"]);
            try {
                const found = violations(await allowedFor("denylist"));
                for (const leak of ["client|tracking", "pubsub|channels", "pubsub|numsub", "function|load", "function|delete", "script|flush", "memory|stats", "randomkey", "scan", "dbsize"]) {
                    assert.ok(found.includes(leak), `${leak} is found: ${found.join(" ")}`);
                }
                const unchecked = await keyCheckProblems("denylist", ["pfmerge", "get", "copy"]);
                assert.deepStrictEqual(unchecked, ["pfmerge digi_core:k: allowed"], "the key check finds PFMERGE's gap");
            } finally {
                await admin.sendCommand(["ACL", "DELUSER", "denylist"]);
            }
        });

        it("with scripting, a dedicated tenant gets exactly the scripting commands in addition", async () => {
            await admin.sendCommand(["ACL", "SETUSER", "scripted", "reset", "on", ">scripted-pw", ...knownRules(tenantAclRules("scripted", { scripting: true }), known)]);
            try {
                const plain = await allowedFor("lernmi");
                const scripted = await allowedFor("scripted");
                const added = [...scripted].filter((c) => !plain.has(c)).sort();
                assert.deepStrictEqual(added, leaves.filter((l) => /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$|^(function|script)\|/.test(l)));
                assert.deepStrictEqual([...plain].filter((c) => !scripted.has(c)), []);
            } finally {
                await admin.sendCommand(["ACL", "DELUSER", "scripted"]);
            }
        });
    });
});
