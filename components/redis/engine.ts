// Redis as the program knows it: defaults, names it keeps, its config keys, what an app receives,
// and the rules config and components share. Pure: the components load on demand.
import { z } from "zod";
import { connections, memory, seconds } from "../config-keys";
import { COPY_DEADLINE_SECONDS, type EngineBackup } from "../backup";
import { REDIS_ADMIN_USER } from "./redis-acl";
import { EngineDescriptor, pick, serverArgsOf, tenantSpecsOf } from "../engine";
import type { RedisCredentials } from "./redis";
import { REDIS_EVICTION_POLICIES, RedisTuning, describeRedisSettings, redisServerSettings, redisTuningProblems } from "./redis-settings";

/** Logical databases of a server, fixed at its start. */
export const REDIS_DEFAULT_DATABASES = 16;

/** A tenant whose db number breaks the rules: outside 0..databases-1, or another tenant's on the same server. */
export type RedisDbProblem = { app: string; db: number; outOfRange: true } | { app: string; db: number; outOfRange: false; usedBy: string };

/**
 * The db-number rules of one server: every number below `databases`, none used twice. ACLs cannot
 * restrict DB numbers, so numbers only keep names apart, and must never move.
 */
export function redisDbProblems(databases: number, tenants: { app: string; db: number }[]): RedisDbProblem[] {
    const problems: RedisDbProblem[] = [];
    const usedBy = new Map<number, string>();
    for (const t of tenants) {
        if (t.db < 0 || t.db >= databases) problems.push({ app: t.app, db: t.db, outOfRange: true });
        else if (usedBy.has(t.db)) problems.push({ app: t.app, db: t.db, outOfRange: false, usedBy: usedBy.get(t.db)! });
        else usedBy.set(t.db, t.app);
    }
    return problems;
}

/** Scripts run with no key checks until they touch a key and can block the server: one tenant only. */
export function redisScriptingProblem(tenants: { app: string; scripting?: boolean }[]): string | undefined {
    const scripting = tenants.filter((t) => t.scripting).map((t) => t.app);
    return scripting.length > 0 && tenants.length > 1
        ? `scripting (${scripting.join(", ")}) is allowed only on a server with one tenant; it has ${tenants.length}`
        : undefined;
}

const engineKeys = {
    databases: z.number().int().min(1).max(10000).optional(),
    maxmemory: memory.optional(),
    maxmemoryPolicy: z.enum(REDIS_EVICTION_POLICIES).optional(),
    maxClients: connections.optional(),
    idleTimeoutSeconds: seconds.optional(),
};
const appKeys = {
    db: z.number().int().min(0).optional(),
    /** EVAL, FCALL, FUNCTION, SCRIPT: only on a dedicated server. */
    scripting: z.boolean().optional(),
};
type EngineRaw = { [K in keyof typeof engineKeys]?: z.infer<(typeof engineKeys)[K]> };
type AppRaw = { [K in keyof typeof appKeys]?: z.infer<(typeof appKeys)[K]> };

export interface RedisOptions {
    databases: number;
    tuning: RedisTuning;
}
export interface RedisTenantOptions {
    /** -1 until config has checked it: a shared server's tenant must name its number. */
    db: number;
    scripting: boolean;
}

/**
 * Backup of one app's keys (every key under `<app>:` in every logical database: ACLs cannot keep
 * a tenant to its own number), never the whole server. As the admin with redis-cli at
 * REDIS_HOST:REDIS_PORT (password in REDISCLI_AUTH), over REDIS_DATABASES databases. Short Lua
 * scripts walk the key space 200 keys at a time, so no call blocks the server for long; keys and
 * DUMP payloads are written hex-encoded, one `<db> <key> <expiry> <payload>` line per key, with
 * the absolute expiry (PEXPIRETIME), restored with RESTORE ... ABSTTL REPLACE. redis-cli exits 0
 * on error replies, so every reply is checked. Needs Redis 7.0 (PEXPIRETIME).
 *
 * The server holds a dumped value up to three times while it is dumped (DUMP, its hex form, the
 * reply), above maxmemory, and tenants' backups may run at once. So a call dumps at most a 64th of maxmemory (MEMORY USAGE, at least
 * 1 MiB): a batch defers the keys beyond it to calls of their own, and a key larger than that
 * fails the backup with its name. A tenant's huge key must not take a shared server down.
 */
// Lookup tables: gsub with a table is several times faster than with a function, and a script blocks the server while it runs.
const HEX = 'local hx = {} for i = 0, 255 do hx[string.char(i)] = string.format("%02x", i) end local function hex(s) return (string.gsub(s, ".", hx)) end';
/** size(key, cap): the key's memory, nil if it is gone; an error naming it (hex) when it is more than cap. */
const SIZE_LUA =
    'local function size(k, cap) local n = redis.call("MEMORY", "USAGE", k, "SAMPLES", "0") if n and n > tonumber(cap) then ' +
    'return error({err = "key " .. hex(k) .. " (hex) uses " .. n .. " bytes; a backup dumps at most " .. cap .. " bytes per key (a 64th of maxmemory): raise the memory limit, or split the value"}) end return n end';
const UNHEX = 'local ux = {} for i = 0, 255 do ux[string.format("%02x", i)] = string.char(i) end local function unhex(h) return (string.gsub(h, "..", ux)) end';
export const REDIS_BACKUP: EngineBackup<RedisOptions, RedisTenantOptions> = {
    env: (server) => ({ REDIS_HOST: server.host, REDIS_PORT: String(server.port), REDIS_USER: REDIS_ADMIN_USER, REDIS_DATABASES: String(server.options.databases) }),
    secretEnv: { REDISCLI_AUTH: "REDISCLI_AUTH" },
    copyEnv: (tenant) => ({ REDIS_APP_DB: String(tenant.options.db) }),
    commands: {
    extension: "redis",
    prelude: [
        'rc() { redis_db=$1; shift; redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --user "$REDIS_USER" --no-auth-warning -n "$redis_db" "$@"; }',
        // A cursor walk: runs $2 (a Lua script taking cursor and pattern, returning the next cursor first) in database $1, appending the other lines of its replies to $3.
        'walk() { cursor=0; while :; do reply=$(rc "$1" EVAL "$2" 0 "$cursor" "${APP}:*" "$cap" "${expiring_before:-0}"); cursor=$(printf "%s\\n" "$reply" | head -n 1)',
        '  case "$cursor" in ""|*[!0-9]*) echo "redis: $reply" >&2; exit 1;; esac',
        '  printf "%s\\n" "$reply" | tail -n +2 | sed "s/^/$1 /" >> "$3"; [ "$cursor" = 0 ] && break; done; }',
        // Each key's size first; within the batch's budget dumped here, beyond it listed as `<key> later`.
        `DUMP_LUA='${HEX} ${SIZE_LUA} local r = redis.call("SCAN", ARGV[1], "MATCH", ARGV[2], "COUNT", 200) local out = {r[1]} local used = 0 ` +
            `for _, k in ipairs(r[2]) do local n = size(k, ARGV[3]) if n then if used + n > tonumber(ARGV[3]) then out[#out + 1] = hex(k) .. " later" else used = used + n ` +
            `local d = redis.call("DUMP", k) if d then out[#out + 1] = hex(k) .. " " .. redis.call("PEXPIRETIME", k) .. " " .. hex(d) end end end end return out'`,
        // One deferred key (hex) on its own: `<key> <expiry> <payload>`, or nothing if it is gone.
        `ONE_LUA='${HEX} ${UNHEX} ${SIZE_LUA} local k = unhex(ARGV[1]) if not size(k, ARGV[2]) then return "" end local d = redis.call("DUMP", k) if not d then return "" end ` +
            `return ARGV[1] .. " " .. redis.call("PEXPIRETIME", k) .. " " .. hex(d)'`,
        // A line per key, but for keys that expire before ARGV[4] (ms since the epoch; 0: none left out).
        `COUNT_LUA='local r = redis.call("SCAN", ARGV[1], "MATCH", ARGV[2], "COUNT", 200) local out = {r[1]} local before = tonumber(ARGV[4]) ` +
            `for _, k in ipairs(r[2]) do local at = redis.call("PEXPIRETIME", k) if at == -1 or (at > 0 and at >= before) then out[#out + 1] = "k" end end return out'`,
        `CLEAR_LUA='local r = redis.call("SCAN", ARGV[1], "MATCH", ARGV[2], "COUNT", 200) if #r[2] > 0 then redis.call("UNLINK", unpack(r[2])) end return {r[1]}'`,
        // The first argument is the app's prefix: a restore writes no key outside it, whatever the file holds.
        `RESTORE_LUA='${UNHEX} local p = ARGV[1] local n = 0 for i = 2, #ARGV, 3 do local k = unhex(ARGV[i]) if string.sub(k, 1, #p) ~= p then return redis.error_reply("key outside " .. p) end local at = tonumber(ARGV[i + 1]) if at < 0 then at = 0 end redis.call("RESTORE", k, at, unhex(ARGV[i + 2]), "ABSTTL", "REPLACE") n = n + 1 end return n'`,
        'databases=$(seq 0 $((REDIS_DATABASES - 1)))',
        'maxmemory=$(rc 0 CONFIG GET maxmemory | tail -n 1)',
        'case "$maxmemory" in ""|*[!0-9]*) echo "redis: $maxmemory" >&2; exit 1;; esac',
        // No maxmemory (not one of this program's servers): 32 MiB per call.
        '[ "$maxmemory" -gt 0 ] || maxmemory=2147483648',
        'cap=$((maxmemory / 64)); [ "$cap" -ge 1048576 ] || cap=1048576',
        'SCRATCH=$(mktemp)',
        'cleanup="$cleanup $SCRATCH"',
    ].join("\n"),
    dump: [
        ': > "$OUT"',
        "for db in $databases; do",
        '  : > "$SCRATCH"; walk "$db" "$DUMP_LUA" "$SCRATCH"',
        // grep, not `read`, for the long lines: sh reads a line a byte at a time.
        '  grep -v " later$" "$SCRATCH" >> "$OUT" || true',
        '  grep " later$" "$SCRATCH" | while read -r d key _; do',
        '    one=$(rc "$d" EVAL "$ONE_LUA" 0 "$key" "$cap")',
        '    case "$one" in "") ;; [0-9a-f]*" "*" "*) printf "%s %s\\n" "$d" "$one" >> "$OUT";; *) echo "redis: $one" >&2; exit 1;; esac',
        "  done",
        "done",
    ].join("\n"),
    isEmpty: ': > "$SCRATCH"; for db in $databases; do walk "$db" "$COUNT_LUA" "$SCRATCH"; done; test ! -s "$SCRATCH"',
    clear: 'for db in $databases; do walk "$db" "$CLEAR_LUA" /dev/null; done',
    // Every key an EVAL of its own, pipelined in the Redis protocol (redis-cli --pipe): no command
    // line to outgrow, no batch for xargs to split. --pipe exits non-zero on any error reply.
    restore: [
        "for db in $databases; do",
        '  grep "^$db " "$IN" | RESTORE_LUA="$RESTORE_LUA" PREFIX="${APP}:" LC_ALL=C awk \'function bulk(s) { printf "$%d\\r\\n%s\\r\\n", length(s), s } ' +
            '{ printf "*7\\r\\n"; bulk("EVAL"); bulk(ENVIRON["RESTORE_LUA"]); bulk("0"); bulk(ENVIRON["PREFIX"]); bulk($2); bulk($3); bulk($4) }\' > "$SCRATCH"',
        '  if [ -s "$SCRATCH" ]; then',
        '    out=$(rc "$db" --pipe < "$SCRATCH") || { echo "redis: $out" >&2; exit 1; }',
        "  fi",
        "done",
    ].join("\n"),
    // The app's keys in each logical database that holds any: `db<n> <keys>`, as of COUNTED_AT: a
    // key that expires before a copy can have ended (COPY_DEADLINE_SECONDS later) is copied but
    // not counted, or it would fail a good copy by expiring on the way.
    count: [
        `expiring_before=$(((COUNTED_AT + ${COPY_DEADLINE_SECONDS}) * 1000))`,
        'for db in $databases; do : > "$SCRATCH"; walk "$db" "$COUNT_LUA" "$SCRATCH"; n=$(wc -l < "$SCRATCH"); [ "$n" -eq 0 ] || echo "db$db $((n))"; done',
        "expiring_before=0",
    ].join("\n"),
    // The app's user loses every write command (its allow-list minus @write), at once for its
    // connections too; reads, SELECT and PUBLISH go on. Writes fail with `NOPERM this user has no
    // permissions to run the 'set' command`. Saved, so a restart keeps it. A user that does not
    // exist is refused: ACL SETUSER would create one.
    freeze: [
        'user=$(rc 0 ACL GETUSER "$APP")',
        'if [ -z "$user" ]; then echo "freeze: the server has no user $APP" >&2; exit 1; fi',
        // A user that is off is an old copy the app moved away from: never the source of a copy.
        `if printf '%s\\n' "$user" | sed -n '/^flags$/,/^passwords$/p' | grep -qx off; then echo "freeze: $APP's user on this server is off: its keys here are an old copy, not what the app uses; is moveFrom the placement its data is on now?" >&2; exit 1; fi`,
        // The keys go back into the databases they came from: the app's number must be the one its keys are in.
        'if [ -z "$(rc "$REDIS_APP_DB" --scan --pattern "${APP}:*" | head -n 1)" ]; then for db in $databases; do',
        '  if [ -n "$(rc "$db" --scan --pattern "${APP}:*" | head -n 1)" ]; then echo "freeze: $APP has keys on this server but none in db $REDIS_APP_DB, its db in the config: set db to the number it uses now (a move keeps each key in its database)" >&2; exit 1; fi',
        "done; fi",
        'out=$(rc 0 ACL SETUSER "$APP" -@write); [ "$out" = OK ] || { echo "redis: $out" >&2; exit 1; }',
        'out=$(rc 0 ACL SAVE); [ "$out" = OK ] || { echo "redis: $out" >&2; exit 1; }',
    ].join("\n"),
    },
};

const ENV_KEYS = ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_DB"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./redis") as typeof import("./redis");
const loadUsage = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./redis-usage") as typeof import("./redis-usage");
const loadAudit = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./redis-audit") as typeof import("./redis-audit");

export const redisEngine: EngineDescriptor<"redis", EngineRaw, AppRaw, RedisOptions, RedisTenantOptions, RedisCredentials> = {
    name: "redis",
    title: "Redis",
    defaults: {
        repository: "redis",
        version: "7.4",
        storageGi: 1,
        resources: { requests: { memory: "128Mi", cpu: "100m" }, limits: { memory: "256Mi", cpu: "250m" } },
        port: 6379,
        uid: 999,
        dataPath: "/data",
    },
    engineKeys,
    appKeys,
    // The `default` user (disabled) and the `admin` user the platform manages the server with.
    reserved: { names: ["default", "admin"], prefixes: [] },
    resolveSettings(raw, base, path) {
        const tuning = pick(raw, ["maxmemory", "maxmemoryPolicy", "maxClients", "idleTimeoutSeconds"]);
        const problems = redisTuningProblems(base.resources.limits.memory, tuning).map((p) => `${path}.${p}`);
        return { options: { databases: raw.databases ?? REDIS_DEFAULT_DATABASES, tuning }, problems };
    },
    // The copy restores each key into the database it came from: the app's number must not change.
    moveProblem: (raw) => (raw.db === undefined ? "set db to the number the app has now: a move keeps its keys in that database" : undefined),
    resolveTenant(raw, use, path) {
        const scripting = raw.scripting ?? false;
        const problems =
            scripting && use.placement !== "dedicated"
                ? [
                      `${path}.scripting: true needs a dedicated Redis server; on a shared one a tenant's script runs unchecked until it ` +
                          `touches a key and can block every tenant (set ${path}.placement: dedicated, or drop scripting)`,
                  ]
                : [];
        // A dedicated server has one tenant: its number may default to 0.
        return { options: { db: raw.db ?? (use.placement === "dedicated" ? 0 : -1), scripting }, problems };
    },
    serverProblems(server) {
        const databases = server.settings.options.databases;
        const path = (app: string) => `apps.${app}.redis.db`;
        const missing = server.tenants.filter((t) => t.options.db < 0);
        const numbered = server.tenants.filter((t) => t.options.db >= 0).map((t) => ({ app: t.app, db: t.options.db }));
        const problems = redisDbProblems(databases, numbered);
        const used = new Set(numbered.map((t) => t.db));
        const free = describeFree(databases, used);
        return [
            ...missing.map((t) => `${path(t.app)}: missing; every app on the shared Redis server needs a fixed db number; free numbers: ${free}`),
            ...problems.map((p) =>
                p.outOfRange
                    ? `${path(p.app)}: ${p.db} is out of range; engines.redis.databases is ${databases}, so allowed: 0-${databases - 1}`
                    : `${path(p.app)}: ${p.db} is already used by apps.${p.usedBy}; free numbers: ${free}`,
            ),
        ];
    },
    figures: (server) => ({ settings: describeRedisSettings(redisServerSettings(server.settings.resources.limits.memory, server.settings.options.tuning)) }),
    describeTenant: (t) => `${t.app} (db ${t.options.db})`,
    backup: REDIS_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({ REDIS_URL: c.url, REDIS_KEY_PREFIX: c.keyPrefix, REDIS_DB: String(c.db) }),
    audit: () => loadAudit().redisAudit,
    metricsSource: () => "exporter",
    usage: () => loadUsage().redisUsage,
    createServer(plan, context) {
        const { databases, tuning } = plan.settings.options;
        const args = { ...serverArgsOf(plan, context), databases, tuning, tenants: tenantSpecsOf(plan, context) };
        return new (load().RedisServer)(plan.name, args, { parent: context.parent });
    },
};

/** Free numbers as ranges: `1-2, 4-15`. */
function describeFree(databases: number, used: Set<number>): string {
    const ranges: string[] = [];
    let start = -1;
    for (let n = 0; n <= databases; n++) {
        const isFree = n < databases && !used.has(n);
        if (isFree && start < 0) start = n;
        if (!isFree && start >= 0) {
            ranges.push(start === n - 1 ? `${start}` : `${start}-${n - 1}`);
            start = -1;
        }
    }
    return ranges.length > 0 ? ranges.join(", ") : `none (raise engines.redis.databases above ${databases})`;
}
