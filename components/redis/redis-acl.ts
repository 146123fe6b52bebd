// Redis ACLs. The server starts from a bootstrap ACL file that holds only the disabled `default`
// user and the `admin` user; tenant users are added and removed on the running server through
// `ACL SETUSER`/`ACL DELUSER` and persisted with `ACL SAVE` to an ACL file on the data volume. So
// adding or removing a tenant never restarts or replaces a shared server.
//
// A tenant's rights are an allow-list: `-@all`, then each command by name (`container|subcommand`
// for single subcommands), never a category, so a command a newer Redis adds is refused until it is
// added here on purpose. Every allowed command takes keys or channels, which the user's patterns
// `~<app>:*` and `&<app>:*` check, except the few keyless ones in TENANT_KEYLESS_COMMANDS, which
// act on the connection itself or show statistics, never another tenant's names or values
// (tests/redis-attacks.integration.test.ts asks a real server about every command it knows).
// Redis 7.0 itself shows and saves the rules folded into categories (`+@string -...`), which a newer
// version reading the saved file would widen; the provider compares users by what they allow and
// rewrites them (see redis-acl-user.ts). Passwords are stored as SHA-256 digests only.
import * as crypto from "crypto";

export const REDIS_ADMIN_USER = "admin";

/** The bootstrap ACL file: `default` disabled, `admin` with every right. */
export function bootstrapAcl(adminPassword: string): string {
    return ["user default off resetpass resetkeys resetchannels -@all", `user ${REDIS_ADMIN_USER} on #${sha256(adminPassword)} ~* &* +@all`].join("\n") + "\n";
}

/**
 * The keyless commands a tenant may run, each with why it reveals nothing about other tenants.
 * Any other allowed command takes keys (or shard channels) that the user's patterns check.
 */
export const TENANT_KEYLESS_COMMANDS: Readonly<Record<string, string>> = {
    // Connection
    auth: "logs the connection in; needs that user's password",
    hello: "protocol handshake (RESP version, AUTH, SETNAME); shows the server's version and mode only",
    ping: "answers the connection itself",
    echo: "answers the connection itself",
    select: "switches the connection's DB number; the number only separates names, the key prefix is the boundary",
    quit: "closes the connection",
    reset: "resets the connection and logs it out",
    "client|setname": "names the connection itself",
    "client|getname": "the connection's own name",
    "client|id": "the connection's own id",
    "client|info": "the connection's own state, never other clients'",
    "client|setinfo": "library name and version of the connection itself (Redis 7.2+)",
    // Transactions: each queued command is checked when queued and again when run.
    multi: "starts a transaction of the connection's own commands",
    exec: "runs the connection's own queued commands, each checked",
    discard: "drops the connection's own queued commands",
    unwatch: "forgets the connection's own WATCHed keys",
    // Pub/Sub: channel names are checked against `&<app>:*`; PSUBSCRIBE patterns literally, so
    // only the pattern `<app>:*` itself is allowed.
    subscribe: "channels checked against the tenant's channel pattern",
    psubscribe: "patterns checked literally against the tenant's channel pattern",
    publish: "channel checked against the tenant's channel pattern; answers its own subscriber count",
    unsubscribe: "ends the connection's own subscriptions",
    punsubscribe: "ends the connection's own pattern subscriptions",
    ssubscribe: "shard channels checked against the tenant's channel pattern",
    sunsubscribe: "ends the connection's own shard subscriptions",
    spublish: "shard channel checked against the tenant's channel pattern",
    // Server
    info:
        "client libraries run it on connect (ioredis' ready check, BullMQ's version check); it shows server " +
        "statistics (memory, clients, command counts, key counts per DB), never key names or values",
};

/** Commands on the list that Redis 7.0 does not know, with the version that added them. */
export const TENANT_COMMANDS_SINCE: Readonly<Record<string, string>> = {
    "client|setinfo": "7.2",
    hexpire: "7.4",
    hexpireat: "7.4",
    hexpiretime: "7.4",
    hpersist: "7.4",
    hpexpire: "7.4",
    hpexpireat: "7.4",
    hpexpiretime: "7.4",
    hpttl: "7.4",
    httl: "7.4",
    hgetdel: "8.0",
    hgetex: "8.0",
    hsetex: "8.0",
};

/** The commands of the tenant's own keys, by data type. */
export const TENANT_KEY_COMMANDS: readonly string[] = [
    // Strings. (LCS's working memory is bounded by proto-max-bulk-len.)
    "append", "decr", "decrby", "get", "getdel", "getex", "getrange", "getset", "incr", "incrby", "incrbyfloat",
    "lcs", "mget", "mset", "msetnx", "psetex", "set", "setex", "setnx", "setrange", "strlen", "substr",
    // Bitmaps (offsets bounded by proto-max-bulk-len)
    "bitcount", "bitfield", "bitfield_ro", "bitop", "bitpos", "getbit", "setbit",
    // HyperLogLog. Not PFMERGE: Redis 7.0 checks no key for `PFMERGE <destkey>` without source
    // keys, so it would create or rewrite any tenant's key. PFCOUNT of several keys counts their union.
    "pfadd", "pfcount",
    // Hashes (the field-TTL commands from 7.4, HGETDEL/HGETEX/HSETEX from 8.0)
    "hdel", "hexists", "hget", "hgetall", "hincrby", "hincrbyfloat", "hkeys", "hlen", "hmget", "hmset", "hrandfield",
    "hscan", "hset", "hsetnx", "hstrlen", "hvals",
    "hexpire", "hexpireat", "hexpiretime", "hpersist", "hpexpire", "hpexpireat", "hpexpiretime", "hpttl", "httl",
    "hgetdel", "hgetex", "hsetex",
    // Lists
    "blmove", "blmpop", "blpop", "brpop", "brpoplpush", "lindex", "linsert", "llen", "lmove", "lmpop", "lpop", "lpos",
    "lpush", "lpushx", "lrange", "lrem", "lset", "ltrim", "rpop", "rpoplpush", "rpush", "rpushx",
    // Sets
    "sadd", "scard", "sdiff", "sdiffstore", "sinter", "sintercard", "sinterstore", "sismember", "smembers", "smismember",
    "smove", "spop", "srandmember", "srem", "sscan", "sunion", "sunionstore",
    // Sorted sets
    "bzmpop", "bzpopmax", "bzpopmin", "zadd", "zcard", "zcount", "zdiff", "zdiffstore", "zincrby", "zinter", "zintercard",
    "zinterstore", "zlexcount", "zmpop", "zmscore", "zpopmax", "zpopmin", "zrandmember", "zrange", "zrangebylex",
    "zrangebyscore", "zrangestore", "zrank", "zrem", "zremrangebylex", "zremrangebyrank", "zremrangebyscore", "zrevrange",
    "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscan", "zscore", "zunion", "zunionstore",
    // Streams: the key-taking subcommands of XGROUP and XINFO only (not their HELP)
    "xack", "xadd", "xautoclaim", "xclaim", "xdel", "xlen", "xpending", "xrange", "xread", "xreadgroup", "xrevrange",
    "xsetid", "xtrim",
    "xgroup|create", "xgroup|createconsumer", "xgroup|delconsumer", "xgroup|destroy", "xgroup|setid",
    "xinfo|consumers", "xinfo|groups", "xinfo|stream",
    // Geo. Not GEORADIUS/GEORADIUSBYMEMBER: with `STORE <own key> STORE <other key>` Redis 7.0 checks
    // the first destination and writes (or, for an empty source, deletes) the last one. Their _RO
    // forms and GEOSEARCH/GEOSEARCHSTORE (fixed key positions) do the same work.
    "geoadd", "geodist", "geohash", "geopos", "georadius_ro", "georadiusbymember_ro", "geosearch", "geosearchstore",
    // Generic key commands. COPY and MOVE may name another DB number, but only keys under the
    // prefix. SORT and SORT_RO refuse BY and GET patterns for a user without access to every key
    // (Redis 7.0+), so they sort only their own key. OBJECT: the key-taking subcommands only.
    "copy", "del", "exists", "expire", "expireat", "expiretime", "move", "persist", "pexpire", "pexpireat", "pexpiretime",
    "pttl", "rename", "renamenx", "sort", "sort_ro", "touch", "ttl", "type", "unlink",
    "object|encoding", "object|freq", "object|idletime", "object|refcount", "memory|usage",
    // Transactions
    "watch",
];

/**
 * Scripting, for a tenant alone on its server: scripts are checked only when they touch a key,
 * functions and the script cache are server-wide, and a long script blocks every client.
 */
export const TENANT_SCRIPTING_COMMANDS: readonly string[] = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function", "script"];

/** What a tenant may run on a shared server: the key commands and the keyless ones, each by name. */
export const TENANT_COMMANDS: readonly string[] = [...TENANT_KEY_COMMANDS, ...Object.keys(TENANT_KEYLESS_COMMANDS)];

/**
 * Left out on purpose, with why (documentation; the allow-list is what counts, and the tests check
 * that each of these is refused).
 */
export const TENANT_EXCLUDED_COMMANDS: Readonly<Record<string, string>> = {
    scan: "lists key names of the selected DB, which may be another tenant's",
    keys: "lists key names",
    randomkey: "shows a key name",
    dbsize: "counts another tenant's keys",
    eval: "scripts run unchecked until they touch a key and can block the server (dedicated servers: `scripting`)",
    evalsha: "scripting",
    eval_ro: "scripting",
    evalsha_ro: "scripting",
    fcall: "runs server-wide functions, loaded by anyone",
    fcall_ro: "runs server-wide functions",
    function: "FUNCTION LOAD REPLACE/DELETE/FLUSH/LIST WITHCODE/DUMP act on the server-wide function libraries",
    script: "SCRIPT FLUSH/KILL act on the server-wide script cache and running scripts",
    "client|tracking": "BCAST PREFIX <other tenant> reports other tenants' key names as they change",
    "client|caching": "client-side caching (tracking)",
    "client|getredir": "client-side caching (tracking)",
    "client|trackinginfo": "client-side caching (tracking)",
    "client|list": "shows every client's address, name and last command",
    "client|kill": "ends other tenants' connections",
    "client|pause": "stops every client",
    "client|unpause": "server-wide",
    "client|unblock": "unblocks other clients",
    "client|no-evict": "exempts a connection from maxmemory-clients",
    "client|reply": "not needed by clients",
    "client|no-touch": "not needed by clients (Redis 7.2+)",
    pubsub: "PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB show other tenants' channel names",
    "memory|stats": "server internals",
    "memory|purge": "server-wide",
    "memory|doctor": "server internals",
    "memory|malloc-stats": "server internals",
    debug: "can crash or block the server",
    migrate: "moves keys to another server",
    dump: "serialized values feed RESTORE",
    restore: "crafted payloads",
    wait: "blocks on replication, which tenants do not use",
    waitaof: "blocks on persistence (Redis 7.2+)",
    swapdb: "swaps another tenant's DB",
    flushall: "deletes every tenant's keys",
    flushdb: "deletes every key of a DB",
    config: "server settings",
    acl: "users and their rights",
    monitor: "shows every client's commands and arguments",
    slowlog: "shows other tenants' commands and arguments",
    latency: "server internals",
    shutdown: "stops the server",
    save: "blocks the server", bgsave: "server-wide", bgrewriteaof: "server-wide", lastsave: "server-wide",
    module: "loads code into the server",
    replicaof: "makes the server a replica", slaveof: "makes the server a replica", failover: "replication",
    sync: "replication", psync: "replication", replconf: "replication", role: "replication",
    cluster: "cluster administration", readonly: "cluster", readwrite: "cluster", asking: "cluster",
    command: "not needed by clients",
    pfmerge: "Redis 7.0 checks no key for `PFMERGE <destkey>` alone: it would create or rewrite any key",
    georadius: "Redis 7.0 checks only the first of two STORE options: it would write or delete any key",
    georadiusbymember: "as GEORADIUS",
    pfdebug: "debugging", pfselftest: "debugging",
    "object|help": "not needed", lolwut: "not needed", time: "not needed",
};

/**
 * What the monitoring user (redis_exporter, logging in as MONITOR_USER) may run, each with why.
 * It reads server statistics, and key names and sizes for the per-tenant key groups, never a
 * value: its key pattern `%R~*` allows reading any key, but only through these commands.
 */
export const MONITOR_COMMANDS: Readonly<Record<string, string>> = {
    auth: "logs the connection in",
    hello: "protocol handshake",
    ping: "answers the connection itself",
    select: "the exporter visits each DB number for its key groups",
    info: "server statistics: memory, clients, commands, keys per DB",
    "config|get":
        "server settings (the number of DBs, maxmemory, maxclients); tenants have no password in them (the `default` user is off, " +
        "the others' passwords are digests in the ACL file)",
    "client|setname": "names the exporter's own connection",
    "latency|latest": "latency spikes by event, server-wide",
    "latency|histogram": "latency per command name, without arguments",
    scan: "key names, batch by batch, for the key groups",
    "memory|usage": "a key's size in bytes, never its value",
    eval: "redis_exporter counts key groups in a Lua script; the script runs as this user, so it can call only these commands",
    evalsha: "the same script, by digest (tried first)",
};

/**
 * The monitoring user's rules, after its password. Not SLOWLOG or CLIENT LIST, which show the
 * arguments of tenants' commands; not DUMP, GET or any other value read.
 */
export function monitorAclRules(): string[] {
    return ["resetkeys", "resetchannels", "%R~*", "-@all", ...Object.keys(MONITOR_COMMANDS).map((c) => `+${c}`)];
}

/** The ACL rules of a tenant user, after its password: the full list, whatever the server knows. */
export function tenantAclRules(user: string, options: { scripting: boolean }): string[] {
    const prefix = `${user}:*`;
    const commands = [...TENANT_COMMANDS, ...(options.scripting ? TENANT_SCRIPTING_COMMANDS : [])];
    return ["resetkeys", "resetchannels", `~${prefix}`, `&${prefix}`, "-@all", ...commands.map((c) => `+${c}`)];
}

/**
 * The rules without `+command` grants the server does not know (a Redis older than the list:
 * `ACL SETUSER` refuses the whole user for one unknown name). `known`: `COMMAND LIST` of the server
 * (lower-case names, `container|subcommand` for subcommands).
 */
export function knownRules(rules: string[], known: ReadonlySet<string>): string[] {
    return rules.filter((r) => !r.startsWith("+") || known.has(r.slice(1).toLowerCase()));
}

/**
 * `ACL SETUSER` arguments that make `user` exactly a tenant with this password, whatever it was
 * before. With `known` (the server's `COMMAND LIST`), only the commands the server knows.
 */
export function tenantSetUserCommand(user: string, password: string, options: { scripting: boolean; enabled?: boolean }, known?: ReadonlySet<string>): string[] {
    const rules = tenantAclRules(user, options);
    return ["ACL", "SETUSER", user, "reset", options.enabled === false ? "off" : "on", `#${sha256(password)}`, ...(known ? knownRules(rules, known) : rules)];
}

/** The fields of an `ACL GETUSER` reply (RESP2: name, value, name, value, ...). */
export function aclUserFields(reply: unknown): Map<string, unknown> {
    const fields = new Map<string, unknown>();
    if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
    return fields;
}

/** The categories (`@name`, without `@all`) that command rules name. */
export function ruleCategories(rules: string[]): string[] {
    return [...new Set(rules.filter((r) => /^[+-]@/.test(r) && r.slice(2) !== "all").map((r) => r.slice(2)))];
}

/**
 * What command rules allow, as single commands and `container|subcommand` names: Redis shows and
 * saves a user's rules in its own words (7.0 folds them into categories, `+@string -...`), so rules
 * are compared by what they allow. `known`: the server's `COMMAND LIST`; `categories`: `ACL CAT
 * <name>` of each category the rules name.
 */
export function allowedCommands(rules: string[], known: ReadonlySet<string>, categories: ReadonlyMap<string, readonly string[]>): Set<string> {
    const leaves = [...known].filter((n) => ![...known].some((m) => m.startsWith(`${n}|`)));
    const allowed = new Set<string>();
    const apply = (add: boolean, names: Iterable<string>) => {
        for (const n of names) {
            if (add) allowed.add(n);
            else allowed.delete(n);
        }
    };
    for (const rule of rules) {
        const add = rule.startsWith("+");
        if (rule === "allcommands" || rule === "+@all") apply(true, leaves);
        else if (rule === "nocommands" || rule === "-@all") allowed.clear();
        else if (/^[+-]@/.test(rule)) {
            const members = categories.get(rule.slice(2));
            if (members === undefined) throw new Error(`unknown ACL category in ${rule}`);
            apply(add, members);
        } else if (/^[+-]/.test(rule)) {
            const name = rule.slice(1).toLowerCase();
            apply(add, name.includes("|") ? [name] : leaves.filter((l) => l === name || l.startsWith(`${name}|`)));
        }
    }
    return allowed;
}

/**
 * How the live user (an `ACL GETUSER` reply) differs from a tenant `user` allowed exactly
 * `expected` (see allowedCommands) with this password digest; empty when it is exactly that.
 * `liveAllowed`: what the user's `commands` field allows.
 */
export function tenantUserDifferences(
    reply: unknown,
    user: string,
    passwordDigest: string,
    expected: ReadonlySet<string>,
    liveAllowed: ReadonlySet<string>,
    patterns: { keys: string[]; channels: string[] } = { keys: [`~${user}:*`], channels: [`&${user}:*`] },
    enabled = true,
): string[] {
    const fields = aclUserFields(reply);
    const list = (name: string) => (Array.isArray(fields.get(name)) ? (fields.get(name) as unknown[]).map(String) : undefined);
    const words = (name: string) => String(fields.get(name) ?? "").split(" ").filter((w) => w !== "");
    const same = (a: readonly string[] | undefined, b: readonly string[]) => a !== undefined && a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");
    const differences: string[] = [];
    const flags = list("flags");
    if (!flags?.includes(enabled ? "on" : "off") || flags.includes("nopass")) differences.push(`flags ${JSON.stringify(flags)}`);
    if (!same(list("passwords"), [passwordDigest])) differences.push("password");
    const extra = [...liveAllowed].filter((c) => !expected.has(c));
    const missing = [...expected].filter((c) => !liveAllowed.has(c));
    if (extra.length > 0) differences.push(`also allows ${extra.sort().join(" ")}`);
    if (missing.length > 0) differences.push(`does not allow ${missing.sort().join(" ")}`);
    if (!same(words("keys"), patterns.keys)) differences.push(`keys ${JSON.stringify(fields.get("keys"))}`);
    if (!same(words("channels"), patterns.channels)) differences.push(`channels ${JSON.stringify(fields.get("channels"))}`);
    if (!same(list("selectors") ?? [], [])) differences.push("selectors");
    return differences;
}

/**
 * The server's start command: seeds the writable ACL file on the data volume from the bootstrap
 * file on first start, and on later starts replaces only its `default` and `admin` lines (so an
 * admin password change applies, and tenant users persist). Then runs redis-server with the
 * arguments that follow.
 */
export function redisStartScript(bootstrapFile: string, aclFile: string): string {
    return [
        "set -e",
        `boot='${bootstrapFile}'; acl='${aclFile}'`,
        'if [ -f "$acl" ]; then',
        `  { cat "$boot"; grep -v -e "^user default " -e "^user ${REDIS_ADMIN_USER} " "$acl" || true; } > "$acl.new"`,
        '  mv "$acl.new" "$acl"',
        "else",
        '  cp "$boot" "$acl"',
        "fi",
        'exec redis-server "$@"',
    ].join("\n");
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}
