// Stack config: from the raw values of Pulumi.<stack>.yaml to a validated, defaulted StackConfig.
// Every problem is collected and reported at once, each naming the config path, the bad value
// and what is allowed. Nothing here touches Pulumi resources, so an invalid config registers nothing.
import { z } from "zod";
import { ENGINES, Engine, Placement, RawConfig, RawResources, Target, rawConfigSchema } from "./schema";
import { parseCpuMillis, parseMemoryMi } from "../infra/quantities";
import { dnsName, serverName, serverObjectNames } from "../infra/naming";
import { postgresMajor } from "../components/postgresql/postgresql";
import { QdrantCollectionSpec } from "../components/qdrant/qdrant";
import { EngineSettings, EngineTuning, Resources, Quantities } from "../components/types";
import { ConnectionBudget, connectionBudgetProblem } from "../components/connection-budget";
import { mongodbTuningProblems } from "../components/mongodb/mongodb-settings";
import { MYSQL_DEFAULT_MAX_USER_CONNECTIONS, mysqlConnectionBudget, mysqlServerSettings, mysqlTuningProblems } from "../components/mysql/mysql-settings";
import {
    POSTGRES_DEFAULT_CONNECTION_LIMIT,
    POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    postgresqlConnectionBudget,
    postgresqlServerSettings,
    postgresqlTuningProblems,
} from "../components/postgresql/postgresql-settings";
import { redisTuningProblems } from "../components/redis/redis-settings";

export type { EngineSettings, Resources, Quantities, Endpoint } from "../components/types";

export type { Engine, Placement, Target } from "./schema";
export { ENGINES } from "./schema";

/** An app's use of one engine, resolved: where it lives, and engine settings. */
export interface EngineUse {
    placement: Placement;
    /** Docker target, dedicated server: its loopback port. */
    hostPort?: number;
}
export interface PostgresqlUse extends EngineUse {
    connectionLimit: number;
    statementTimeoutSeconds: number;
    idleInTransactionTimeoutSeconds: number;
}
export interface MysqlUse extends EngineUse {
    maxConnections: number;
}
export type MongodbUse = EngineUse;
export interface QdrantUse extends EngineUse {
    collections: Record<string, QdrantCollectionSpec>;
}
export type Neo4jUse = EngineUse;
export interface RedisUse extends EngineUse {
    db: number;
    /** EVAL, FCALL, FUNCTION, SCRIPT: dedicated servers only. */
    scripting: boolean;
}
export interface AppConfig {
    name: string;
    /** Kubernetes namespace the app runs in; its credentials Secret goes there. */
    namespace: string;
    postgresql?: PostgresqlUse;
    mysql?: MysqlUse;
    redis?: RedisUse;
    neo4j?: Neo4jUse;
    mongodb?: MongodbUse;
    qdrant?: QdrantUse;
}

export interface StackConfig {
    target: Target;
    placement: Placement;
    kubernetes: { namespace: string; storageClass?: string; adminNamespaces: string[] };
    engines: Partial<Record<Engine, EngineSettings>>;
    apps: Record<string, AppConfig>;
    protect: boolean;
    decommission: string[];
}


/** Defaults from the seeds (DESIGN.md, "Stack config"). */
export const ENGINE_DEFAULTS: Record<Engine, { repository: string; version: string; storageGi: number; resources: Resources }> = {
    postgresql: {
        repository: "postgres",
        version: "18",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
    },
    // MySQL 8.4 (LTS) needs more than 512Mi with its default buffers and performance schema.
    mysql: {
        repository: "mysql",
        version: "8.4",
        storageGi: 2,
        resources: { requests: { memory: "512Mi", cpu: "250m" }, limits: { memory: "1Gi", cpu: "500m" } },
    },
    mongodb: {
        repository: "mongo",
        version: "8.0",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
    },
    qdrant: {
        repository: "qdrant/qdrant",
        version: "v1.17.0",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "1Gi", cpu: "1" } },
    },
    // Neo4j 5 LTS; a JVM: heap and page cache are sized from the memory limit.
    neo4j: {
        repository: "neo4j",
        version: "5.26",
        storageGi: 2,
        resources: { requests: { memory: "1Gi", cpu: "250m" }, limits: { memory: "2Gi", cpu: "1" } },
    },
    redis: {
        repository: "redis",
        version: "7.4",
        storageGi: 1,
        resources: { requests: { memory: "128Mi", cpu: "100m" }, limits: { memory: "256Mi", cpu: "250m" } },
    },
};
export const DEFAULT_REDIS_DATABASES = 16;
export const DEFAULT_SERVER_NAMESPACE = "databases";

/**
 * Names an app may not take on an engine, because the server uses them itself.
 * PostgreSQL: the admin role and maintenance databases, `public`, and the reserved `pg_` prefix.
 * Redis: the `default` user (disabled) and the `admin` user the platform manages the server with.
 */
export const RESERVED_NAMES: Record<Engine, { names: string[]; prefixes: string[] }> = {
    postgresql: { names: ["postgres", "template0", "template1", "public"], prefixes: ["pg_"] },
    mysql: { names: ["mysql", "sys", "information_schema", "performance_schema", "root"], prefixes: [] },
    neo4j: { names: ["neo4j", "system"], prefixes: [] },
    mongodb: { names: ["admin", "local", "config"], prefixes: [] },
    qdrant: { names: [], prefixes: [] },
    redis: { names: ["default", "admin"], prefixes: [] },
};

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`Invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` + problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigError";
    }
}

/** Validates raw stack config (the `tenant-databases:*` keys without prefix) and fills in defaults. */
export function parseStackConfig(raw: unknown): StackConfig {
    const parsed = rawConfigSchema.safeParse(raw, { reportInput: true });
    if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map(describeIssue));
    }
    const problems: string[] = [];
    const config = resolve(parsed.data, problems);
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return config;
}

function resolve(raw: RawConfig, problems: string[]): StackConfig {
    const stackPlacement = raw.placement ?? "shared";

    if (raw.target !== "kubernetes" && raw.kubernetes !== undefined) {
        problems.push(`kubernetes: only for target kubernetes; this stack's target is ${raw.target}`);
    }

    const engines: StackConfig["engines"] = {};
    for (const engine of ENGINES) {
        const settings = raw.engines[engine];
        if (settings === undefined) continue;
        const defaults = ENGINE_DEFAULTS[engine];
        const version = settings.version ?? defaults.version;
        engines[engine] = {
            engine,
            version,
            image: settings.image ?? `${defaults.repository}:${version}${imageSuffix(engine, raw)}`,
            storageGi: settings.storageGi ?? defaults.storageGi,
            resources: mergeResources(defaults.resources, settings.resources, `engines.${engine}.resources`, problems),
            placement: settings.placement ?? stackPlacement,
            adminEndpoint: settings.adminEndpoint,
            hostPort: settings.hostPort,
            databases: engine === "redis" ? (raw.engines.redis?.databases ?? DEFAULT_REDIS_DATABASES) : undefined,
            edition: engine === "neo4j" ? (raw.engines.neo4j?.edition ?? "community") : undefined,
            tuning: tuningOf(engine, raw),
        };
        const tuningProblems = tuningProblemsOf(engines[engine]!);
        problems.push(...tuningProblems.map((p) => `engines.${engine}.${p}`));
    }
    if (engines.postgresql && postgresMajor(engines.postgresql.version) === undefined) {
        problems.push(
            `engines.postgresql.version: ${JSON.stringify(engines.postgresql.version)} does not start with a PostgreSQL major version; ` +
                `expected a tag such as "18" or "17.6" (it decides where the image keeps its data)`,
        );
    }

    const apps: Record<string, AppConfig> = {};
    for (const name of Object.keys(raw.apps).sort()) {
        const rawApp = raw.apps[name];
        const app: AppConfig = { name, namespace: rawApp.namespace ?? dnsName(name) };
        for (const engine of ENGINES) {
            const use = rawApp[engine];
            if (use === undefined) continue;
            const path = `apps.${name}.${engine}`;
            const settings = engines[engine];
            if (settings === undefined) {
                const enabled = Object.keys(engines);
                problems.push(
                    `${path}: engine ${engine} is not enabled in this stack; add engines.${engine} ` +
                        `(enabled: ${enabled.length > 0 ? enabled.join(", ") : "none"})`,
                );
                continue;
            }
            checkReservedName(engine, name, path, problems);
            const placement = use.placement ?? rawApp.placement ?? settings.placement;
            const hostPort = use.hostPort;
            if (engine === "mysql") {
                // MySQL account names allow at most 32 characters.
                if (name.length > 32) problems.push(`${path}: the app name has ${name.length} characters; MySQL user names allow at most 32`);
                app.mysql = { placement, hostPort, maxConnections: rawApp.mysql?.maxConnections ?? MYSQL_DEFAULT_MAX_USER_CONNECTIONS };
            } else if (engine === "qdrant") {
                app.qdrant = { placement, hostPort, collections: rawApp.qdrant!.collections };
            } else if (engine === "mongodb") {
                app.mongodb = { placement, hostPort };
            } else if (engine === "neo4j") {
                app.neo4j = { placement, hostPort };
            } else if (engine === "postgresql") {
                const pg = rawApp.postgresql!;
                app.postgresql = {
                    placement,
                    hostPort,
                    connectionLimit: pg.connectionLimit ?? POSTGRES_DEFAULT_CONNECTION_LIMIT,
                    statementTimeoutSeconds: pg.statementTimeoutSeconds ?? POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
                    idleInTransactionTimeoutSeconds: pg.idleInTransactionTimeoutSeconds ?? POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
                };
            } else if (engine === "redis") {
                // db is checked against the other tenants of the server below.
                const scripting = rawApp.redis?.scripting ?? false;
                if (scripting && placement !== "dedicated") {
                    problems.push(
                        `${path}.scripting: true needs a dedicated Redis server; on a shared one a tenant's script runs unchecked until it ` +
                            `touches a key and can block every tenant (set apps.${name}.redis.placement: dedicated, or drop scripting)`,
                    );
                }
                app.redis = { placement, hostPort, db: rawApp.redis?.db ?? -1, scripting };
            }
        }
        apps[name] = app;
    }

    if (engines.neo4j) checkNeo4j(raw, engines.neo4j, apps, problems);
    if (engines.redis) checkRedisNumbers(apps, engines.redis.databases ?? DEFAULT_REDIS_DATABASES, problems);
    for (const settings of Object.values(engines)) if (settings) checkAdminEndpoint(settings, apps, problems);
    checkHostPorts(raw.target, engines, apps, problems);
    if (engines.postgresql) checkConnectionBudgets(engines.postgresql, apps, problems);
    if (engines.mysql) checkConnectionBudgets(engines.mysql, apps, problems);
    checkObjectNames(engines, apps, problems);

    const decommission = raw.decommission ?? [];
    const seen = new Set<string>();
    decommission.forEach((name, i) => {
        if (seen.has(name)) problems.push(`decommission[${i}]: ${JSON.stringify(name)} is listed twice`);
        seen.add(name);
    });

    return {
        target: raw.target,
        placement: stackPlacement,
        kubernetes: {
            namespace: raw.kubernetes?.namespace ?? DEFAULT_SERVER_NAMESPACE,
            storageClass: raw.kubernetes?.storageClass,
            adminNamespaces: raw.kubernetes?.adminNamespaces ?? [],
        },
        engines,
        apps,
        protect: raw.protect ?? false,
        decommission,
    };
}

/** The overrides of derived server settings an engine's config carries. */
function tuningOf(engine: Engine, raw: RawConfig): EngineTuning {
    const e = raw.engines;
    switch (engine) {
        case "postgresql":
            return { postgresql: pick(e.postgresql, ["maxConnections", "sharedBuffers", "workMem", "tempFileLimit"]) };
        case "mysql":
            return { mysql: pick(e.mysql, ["maxConnections", "innodbBufferPoolSize"]) };
        case "mongodb":
            return { mongodb: pick(e.mongodb, ["wiredTigerCacheSizeGB"]) };
        case "redis":
            return { redis: pick(e.redis, ["maxmemory", "maxmemoryPolicy", "maxClients", "idleTimeoutSeconds"]) };
        default:
            return {};
    }
}

function pick<T extends object, K extends keyof T>(from: T | undefined, keys: K[]): Pick<T, K> {
    return Object.fromEntries(keys.filter((k) => from?.[k] !== undefined).map((k) => [k, from![k]])) as Pick<T, K>;
}

/** The same rules the server components apply, reported against the config. */
function tuningProblemsOf(settings: EngineSettings): string[] {
    const memory = settings.resources.limits.memory;
    const t = settings.tuning;
    if (t.postgresql) return postgresqlTuningProblems(memory, settings.storageGi, t.postgresql);
    if (t.mysql) return mysqlTuningProblems(memory, t.mysql);
    if (t.mongodb) return mongodbTuningProblems(memory, t.mongodb);
    if (t.redis) return redisTuningProblems(memory, t.redis);
    return [];
}

/**
 * Every server's tenants' connection limits, plus the admin's reserved slots, must fit its
 * max_connections: the shared server's, and each dedicated one's.
 */
function checkConnectionBudgets(settings: EngineSettings, apps: Record<string, AppConfig>, problems: string[]): void {
    const engine = settings.engine;
    const memory = settings.resources.limits.memory;
    const budget = (tenants: AppConfig[]): ConnectionBudget =>
        engine === "postgresql"
            ? postgresqlConnectionBudget(
                  postgresqlServerSettings(memory, settings.storageGi, settings.tuning.postgresql),
                  tenants.map((a) => ({ app: a.name, connectionLimit: a.postgresql!.connectionLimit })),
              )
            : mysqlConnectionBudget(
                  mysqlServerSettings(memory, settings.tuning.mysql),
                  tenants.map((a) => ({ app: a.name, maxConnections: a.mysql!.maxConnections })),
              );
    const users = Object.values(apps).filter((a) => a[engine] !== undefined);
    const groups = [
        { server: serverName(engine), apps: users.filter((a) => a[engine]!.placement === "shared") },
        ...users.filter((a) => a[engine]!.placement === "dedicated").map((a) => ({ server: serverName(engine, a.name), apps: [a] })),
    ];
    for (const group of groups) {
        if (group.apps.length === 0) continue;
        const problem = connectionBudgetProblem(group.server, budget(group.apps));
        if (problem !== undefined) problems.push(`engines.${engine}.maxConnections: ${problem}`);
    }
}

/**
 * Two servers must never derive the same Kubernetes object name: a dedicated server for app
 * `x_headless` is named `<engine>-x-headless`, which is also the headless Service of app `x`'s
 * server. Checked on every target, so a stack can move from Docker to Kubernetes.
 */
function checkObjectNames(engines: StackConfig["engines"], apps: Record<string, AppConfig>, problems: string[]): void {
    const owners = new Map<string, string>();
    for (const engine of ENGINES) {
        if (engines[engine] === undefined) continue;
        const users = Object.values(apps).filter((a) => a[engine] !== undefined);
        const servers = [
            ...(users.some((a) => a[engine]!.placement === "shared") ? [{ name: serverName(engine), owner: `the shared ${engine} server` }] : []),
            ...users.filter((a) => a[engine]!.placement === "dedicated").map((a) => ({ name: serverName(engine, a.name), owner: `apps.${a.name}'s dedicated ${engine} server` })),
        ];
        for (const server of servers) {
            for (const [kind, names] of Object.entries(serverObjectNames(server.name))) {
                for (const name of names) {
                    const key = `${kind} ${name}`;
                    const other = owners.get(key);
                    if (other === undefined) owners.set(key, server.owner);
                    else if (other !== server.owner) {
                        problems.push(`${server.owner} and ${other} would both own the Kubernetes ${key}; rename one of the apps`);
                    }
                }
            }
        }
    }
}

/** Neo4j Enterprise and Qdrant's non-root images are tag variants. */
function imageSuffix(engine: Engine, raw: RawConfig): string {
    if (engine === "neo4j" && raw.engines.neo4j?.edition === "enterprise") return "-enterprise";
    if (engine === "qdrant") return "-unprivileged";
    return "";
}

/** True when an engine keeps `app` for itself (see RESERVED_NAMES). */
export function isReservedName(engine: Engine, app: string): boolean {
    const reserved = RESERVED_NAMES[engine];
    return reserved.names.includes(app) || reserved.prefixes.some((p) => app.startsWith(p));
}

function checkReservedName(engine: Engine, app: string, path: string, problems: string[]): void {
    const reserved = RESERVED_NAMES[engine];
    if (isReservedName(engine, app)) {
        const taken = [...reserved.names, ...reserved.prefixes.map((p) => `${p}*`)].join(", ");
        problems.push(`${path}: the app name ${JSON.stringify(app)} is reserved by ${engine} (reserved: ${taken}); rename the app`);
    }
}

/**
 * Redis DB numbers: on a shared server every tenant needs its own fixed number (ACLs cannot
 * restrict DB numbers, so the numbers only keep names apart and must never move); a dedicated
 * server defaults to 0. Every number must be below `databases`.
 */
function checkRedisNumbers(apps: Record<string, AppConfig>, databases: number, problems: string[]): void {
    const usedBy = new Map<number, string>();
    const sharedTenants = Object.values(apps).filter((a) => a.redis?.placement === "shared");
    for (const app of sharedTenants) {
        const db = app.redis!.db;
        if (db >= 0) usedBy.set(db, usedBy.has(db) ? usedBy.get(db)! : app.name);
    }
    const free = () => describeFree(databases, new Set(usedBy.keys()));
    for (const app of Object.values(apps)) {
        const use = app.redis;
        if (use === undefined) continue;
        const path = `apps.${app.name}.redis.db`;
        if (use.db < 0) {
            if (use.placement === "dedicated") {
                use.db = 0;
                continue;
            }
            problems.push(`${path}: missing; every app on the shared Redis server needs a fixed db number; free numbers: ${free()}`);
            continue;
        }
        if (use.db >= databases) {
            problems.push(`${path}: ${use.db} is out of range; engines.redis.databases is ${databases}, so allowed: 0-${databases - 1}`);
            continue;
        }
        if (use.placement === "shared" && usedBy.get(use.db) !== app.name) {
            problems.push(`${path}: ${use.db} is already used by apps.${usedBy.get(use.db)}; free numbers: ${free()}`);
        }
    }
}

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

/**
 * Neo4j: Community has one user database and no per-user rights, so a shared Community server
 * holds at most one app; Enterprise needs its license accepted, and database names of 3+ characters.
 */
function checkNeo4j(raw: RawConfig, settings: EngineSettings, apps: Record<string, AppConfig>, problems: string[]): void {
    const shared = Object.values(apps).filter((a) => a.neo4j?.placement === "shared").map((a) => a.name);
    if (settings.edition === "community" && shared.length > 1) {
        problems.push(
            `engines.neo4j: a shared Neo4j Community server cannot hold ${shared.length} apps (${shared.join(", ")}): Community has one user ` +
                "database and no per-user rights; set engines.neo4j.edition: enterprise, or placement: dedicated",
        );
    }
    if (settings.edition === "enterprise") {
        if (raw.engines.neo4j?.acceptLicenseAgreement !== true) {
            problems.push("engines.neo4j.acceptLicenseAgreement: Neo4j Enterprise runs only once you accept its license (https://neo4j.com/terms/licensing/); set it to true");
        }
        for (const app of Object.values(apps)) {
            if (app.neo4j && app.name.length < 3) {
                problems.push(`apps.${app.name}.neo4j: Neo4j database names need at least 3 characters; ${JSON.stringify(app.name)} has ${app.name.length}`);
            }
        }
    } else if (raw.engines.neo4j?.acceptLicenseAgreement !== undefined) {
        problems.push("engines.neo4j.acceptLicenseAgreement: only for edition enterprise");
    }
}

/** An admin endpoint shared by several servers must tell them apart with `{server}`. */
function checkAdminEndpoint(settings: EngineSettings, apps: Record<string, AppConfig>, problems: string[]): void {
    if (!settings.adminEndpoint || settings.adminEndpoint.host.includes("{server}")) return;
    const uses = Object.values(apps).map((a) => a[settings.engine]).filter((u) => u !== undefined);
    const dedicated = uses.filter((u) => u.placement === "dedicated").length;
    const shared = uses.some((u) => u.placement === "shared") ? 1 : 0;
    if (dedicated + shared > 1) {
        problems.push(
            `engines.${settings.engine}.adminEndpoint.host: ${JSON.stringify(settings.adminEndpoint.host)} would point ${dedicated + shared} ` +
                `${settings.engine} servers at one address; include {server} in the host (e.g. "{server}.db.example.com")`,
        );
    }
}

/**
 * Docker host ports: the shared server's from `engines.<e>.hostPort`, a dedicated server's from
 * `apps.<a>.<e>.hostPort`. Only on the Docker target, only where that server exists, no two alike.
 */
function checkHostPorts(target: Target, engines: StackConfig["engines"], apps: Record<string, AppConfig>, problems: string[]): void {
    const owners = new Map<number, string>();
    const claim = (port: number, path: string) => {
        const other = owners.get(port);
        if (other !== undefined) problems.push(`${path}: ${port} is already used by ${other}; each server needs its own host port`);
        else owners.set(port, path);
    };
    for (const settings of Object.values(engines)) {
        if (settings.hostPort === undefined) continue;
        const path = `engines.${settings.engine}.hostPort`;
        const uses = Object.values(apps).map((a) => a[settings.engine]);
        if (target !== "docker") problems.push(`${path}: only for target docker; this stack's target is ${target}`);
        else if (!uses.some((u) => u?.placement === "shared")) {
            problems.push(`${path}: no app is on a shared ${settings.engine} server; set apps.<app>.${settings.engine}.hostPort for dedicated servers`);
        } else claim(settings.hostPort, path);
    }
    for (const app of Object.values(apps)) {
        for (const engine of ENGINES) {
            const use = app[engine];
            if (use?.hostPort === undefined) continue;
            const path = `apps.${app.name}.${engine}.hostPort`;
            if (target !== "docker") problems.push(`${path}: only for target docker; this stack's target is ${target}`);
            else if (use.placement !== "dedicated") {
                problems.push(`${path}: ${app.name} is on the shared ${engine} server; set engines.${engine}.hostPort instead`);
            } else claim(use.hostPort, path);
        }
    }
}

function mergeResources(defaults: Resources, given: RawResources | undefined, path: string, problems: string[]): Resources {
    const merged: Resources = {
        requests: { ...defaults.requests, ...given?.requests },
        limits: { ...defaults.limits, ...given?.limits },
    };
    if (parseMemoryMi(merged.requests.memory) > parseMemoryMi(merged.limits.memory)) {
        problems.push(`${path}.requests.memory: ${merged.requests.memory} is more than limits.memory ${merged.limits.memory}; requests must not exceed limits`);
    }
    if (parseCpuMillis(merged.requests.cpu) > parseCpuMillis(merged.limits.cpu)) {
        problems.push(`${path}.requests.cpu: ${merged.requests.cpu} is more than limits.cpu ${merged.limits.cpu}; requests must not exceed limits`);
    }
    for (const [kind, q] of Object.entries(merged) as [string, Quantities][]) {
        if (parseMemoryMi(q.memory) <= 0) problems.push(`${path}.${kind}.memory: ${q.memory} must be more than 0`);
        if (parseCpuMillis(q.cpu) <= 0) problems.push(`${path}.${kind}.cpu: ${q.cpu} must be more than 0`);
    }
    return merged;
}

// ---- zod issues as operator-facing messages ----

function describeIssue(issue: z.core.$ZodIssue): string {
    const path = formatPath(issue.path);
    const input = (issue as { input?: unknown }).input;
    const value = formatValue(input);
    switch (issue.code) {
        case "unrecognized_keys": {
            const allowed = allowedKeysAt(issue.path);
            return issue.keys
                .map((key) => `${formatPath([...issue.path, key])}: unknown key${allowed ? `; allowed: ${allowed.join(", ")}` : ""}`)
                .join("\n  - ");
        }
        case "invalid_key": {
            const parent = formatPath(issue.path.slice(0, -1));
            const what = issue.path.length === 2 && issue.path[0] === "apps" ? "app name" : "name";
            return `${parent}: ${value} is not a valid ${what}; expected ${issue.issues[0]?.message ?? "a valid name"}`;
        }
        case "invalid_value": {
            const allowed = `one of ${issue.values.map((v) => String(v)).join(", ")}`;
            return input === undefined ? `${path}: missing; expected ${allowed}` : `${path}: ${value} is not allowed; expected ${allowed}`;
        }
        case "invalid_type":
            if (input === undefined) return `${path}: missing; expected ${describeType(issue.expected)}`;
            return `${path}: ${value} is not ${describeType(issue.expected)}`;
        case "too_small":
            return `${path}: ${value} is too small; expected ${issue.inclusive ? "at least" : "more than"} ${String(issue.minimum)}`;
        case "too_big":
            return `${path}: ${value} is too big; expected ${issue.inclusive ? "at most" : "less than"} ${String(issue.maximum)}`;
        case "invalid_format":
            return `${path}: ${value} is not allowed; expected ${issue.message}`;
        default:
            return `${path}: ${value}: ${issue.message}`;
    }
}

function describeType(expected: string): string {
    const names: Record<string, string> = {
        int: "an integer",
        number: "a number",
        string: "a string",
        boolean: "true or false",
        object: "a map of keys",
        array: "a list",
        record: "a map of keys",
    };
    return names[expected] ?? expected;
}

function formatPath(path: PropertyKey[]): string {
    if (path.length === 0) return "(stack config)";
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function formatValue(value: unknown): string {
    if (value === undefined) return "nothing";
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The keys the schema allows at a path, for "unknown key" messages. */
function allowedKeysAt(path: PropertyKey[]): string[] | undefined {
    let schema: z.ZodType | undefined = rawConfigSchema;
    for (const segment of path) {
        schema = unwrap(schema);
        if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
        else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
        else return undefined;
    }
    schema = unwrap(schema);
    return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined;
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
    return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}
