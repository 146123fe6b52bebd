// Stack config: from the raw values of Pulumi.<stack>.yaml to a validated, defaulted StackConfig.
// Every problem is collected and reported at once, each naming the config path, the bad value
// and what is allowed. Engines' own keys and rules come from their descriptors (the registry,
// components/engines.ts). Nothing here loads a Pulumi module, so an invalid config registers nothing.
import { z } from "zod";
import { Placement, RawConfig, RawEngine, RawResources, RawUse, Target, rawConfigSchema } from "./schema";
import { parseCpuMillis, parseMemoryMi } from "../infra/quantities";
import { dnsName } from "../infra/naming";
import { objectNameClashes, sharedAdminEndpoints } from "../components/topology";
import { ENGINES, engineNamed } from "../components/engines";
import { connectionBudgetProblem } from "../components/connection-budget";
import { EngineDescriptor, ServerSettings, appNameProblem, defaultImage } from "../components/engine";
import { BACKUP_DEFAULTS, BackupDestination, TenantBackupPlan, TenantRestorePlan, defaultSchedule, restoreFromProblem } from "../components/backup-plan";
import type { Quantities, Resources } from "../infra/runtime";
import { planTopology } from "./plan";

export type { Placement, Target } from "./schema";
export type { Endpoint, ServerSettings } from "../components/engine";
export type { Quantities, Resources } from "../infra/runtime";

/** `engines.<engine>`, resolved: the servers' settings, and where the engine's apps go by default. */
export interface EngineConfig extends ServerSettings {
    /** The engine's default placement (apps may override it). */
    placement: Placement;
    /** Docker target: the shared server's loopback port. */
    hostPort?: number;
    /** The engine's backup defaults for its apps (no schedule: each app's default); absent when the engine is not backed up. */
    backup?: { schedule?: string; keep: number };
}

/** An app's use of one engine, resolved: where it lives, and the engine's own per-app settings. */
export interface EngineUse {
    placement: Placement;
    /** Docker target, dedicated server: its loopback port. */
    hostPort?: number;
    options: unknown;
    /** Scheduled backups of the app's data of this engine. */
    backup?: TenantBackupPlan;
    /** A restore to run once. */
    restore?: TenantRestorePlan;
    /** The placement the app's data is copied from, to this one (a move). */
    moveFrom?: Placement;
}

export interface AppConfig {
    name: string;
    /** Kubernetes namespace the app runs in; its credentials Secret goes there. */
    namespace: string;
    /** Engine name -> the app's use of it. */
    uses: Record<string, EngineUse>;
}

export interface StackConfig {
    target: Target;
    placement: Placement;
    kubernetes: { namespace: string; storageClass?: string; adminNamespaces: string[] };
    /** Engine name -> settings, for the engines the stack lists. */
    engines: Record<string, EngineConfig>;
    apps: Record<string, AppConfig>;
    protect: boolean;
    decommission: string[];
    /** Where backups go; absent when the stack has none. */
    backup?: { destination: BackupDestination };
    /** Kubernetes: metrics of every server that has them; absent when off. */
    monitoring?: MonitoringConfig;
}

export interface MonitoringConfig {
    /** PodMonitor objects; false: prometheus.io scrape annotations on the server pods. */
    podMonitor: boolean;
    /** Namespaces admitted to the metrics ports. */
    namespaces: string[];
    /** Labels on each PodMonitor. */
    podMonitorLabels: Record<string, string>;
    /** The namespace of the dashboard's ConfigMap. */
    dashboardNamespace: string;
}

export const DEFAULT_SERVER_NAMESPACE = "databases";

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
    const config = resolve(parsed.data as RawConfig, problems);
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
        const settings = raw.engines[engine.name];
        if (settings === undefined) continue;
        const resolved = resolveEngine(engine, settings, stackPlacement, problems);
        const backup = resolveEngineBackup(raw, engine, resolved, problems);
        engines[engine.name] = backup ? { ...resolved, backup } : resolved;
    }
    const backupDestination = raw.backup && resolveDestination(raw.target, raw.backup.destination as BackupDestination, problems);
    if (raw.target === "docker") {
        // Nothing runs backups on a schedule there: a schedule would promise what does not happen.
        const scheduled = [
            ...(raw.backup?.schedule !== undefined ? ["backup.schedule"] : []),
            ...Object.entries(raw.engines).flatMap(([e, s]) => (s?.backup?.schedule !== undefined ? [`engines.${e}.backup.schedule`] : [])),
            ...Object.entries(raw.apps).flatMap(([a, app]) =>
                Object.entries(app).flatMap(([e, use]) => (typeof use === "object" && use.backup && use.backup.schedule !== undefined ? [`apps.${a}.${e}.backup.schedule`] : [])),
            ),
        ];
        for (const path of scheduled) problems.push(`${path}: not on target docker, where no scheduler runs; run npm run backup -- <app> (from cron for a schedule)`);
    }

    const apps: Record<string, AppConfig> = {};
    for (const name of Object.keys(raw.apps).sort()) {
        const rawApp = raw.apps[name];
        const app: AppConfig = { name, namespace: rawApp.namespace ?? dnsName(name), uses: {} };
        for (const engine of ENGINES) {
            const use = rawApp[engine.name] as RawUse | undefined;
            if (use === undefined) continue;
            const path = `apps.${name}.${engine.name}`;
            const settings = engines[engine.name];
            if (settings === undefined) {
                const enabled = Object.keys(engines);
                problems.push(
                    `${path}: engine ${engine.name} is not enabled in this stack; add engines.${engine.name} ` +
                        `(enabled: ${enabled.length > 0 ? enabled.join(", ") : "none"})`,
                );
                continue;
            }
            const nameProblem = appNameProblem(engine, name, settings.options);
            if (nameProblem !== undefined) problems.push(`${path}: ${nameProblem}`);
            const placement = use.placement ?? rawApp.placement ?? settings.placement;
            const tenant = engine.resolveTenant(use, { app: name, placement, settings: settings.options }, path);
            problems.push(...tenant.problems);
            app.uses[engine.name] = {
                placement,
                hostPort: use.hostPort,
                options: tenant.options,
                ...resolveTenantBackup(raw.target, engine, name, use, settings.backup, raw.backup !== undefined, path, problems),
                ...resolveMove(engine, name, use, placement, settings, path, problems),
            };
        }
        apps[name] = app;
    }

    const decommission = raw.decommission ?? [];
    const seen = new Set<string>();
    decommission.forEach((name, i) => {
        if (seen.has(name)) problems.push(`decommission[${i}]: ${JSON.stringify(name)} is listed twice`);
        seen.add(name);
    });

    const monitoringConfig = resolveMonitoring(raw, problems);
    const config: StackConfig = {
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
        ...(backupDestination && { backup: { destination: backupDestination } }),
        ...(monitoringConfig && { monitoring: monitoringConfig }),
    };

    // Rules of whole servers, on the servers the planner will build.
    const { servers } = planTopology(config);
    for (const server of servers) {
        const engine = engineNamed(server.engine);
        problems.push(...(engine.serverProblems?.(server) ?? []));
        // Every engine with a connection budget: the tenants' limits and the admin's must fit.
        const budget = engine.figures?.(server).connections;
        const overBudget = budget && connectionBudgetProblem(budget);
        if (overBudget) problems.push(`engines.${engine.name}.maxConnections: server ${server.name}: ${overBudget}`);
    }
    for (const e of sharedAdminEndpoints(servers)) {
        problems.push(
            `engines.${e.engine}.adminEndpoint.host: ${JSON.stringify(e.host)} would point ${e.servers} ${e.engine} servers at one address; ` +
                `include {server} in the host (e.g. "{server}.db.example.com")`,
        );
    }
    checkHostPorts(raw.target, engines, apps, problems);
    problems.push(...objectNameClashes(servers));
    return config;
}

/**
 * `monitoring`: on Kubernetes only, with somewhere Prometheus scrapes from that is no app's
 * namespace (whoever reaches the metrics ports sees every tenant's names and sizes, and can ask
 * the exporters to scrape elsewhere with their login).
 */
function resolveMonitoring(raw: RawConfig, problems: string[]): MonitoringConfig | undefined {
    const m = raw.monitoring;
    if (m === undefined) return undefined;
    const podMonitor = m.podMonitor ?? false;
    if (!podMonitor && m.podMonitorLabels !== undefined) problems.push("monitoring.podMonitorLabels: only with podMonitor: true");
    if (!m.enabled) return undefined;
    if (raw.target !== "kubernetes") {
        problems.push(`monitoring.enabled: only for target kubernetes (exporters run beside the servers in their pods); on ${raw.target}, npm run usage reports each tenant's figures`);
        return undefined;
    }
    const namespaces = [...new Set(m.namespaces ?? [])].sort();
    if (namespaces.length === 0) {
        problems.push("monitoring.namespaces: list the namespaces Prometheus scrapes from (e.g. [monitoring]); the server namespace denies every other ingress, so no scrape would get through");
    }
    const appNamespaces = new Map(Object.entries(raw.apps).map(([name, app]) => [app.namespace ?? dnsName(name), name]));
    for (const ns of namespaces.filter((n) => appNamespaces.has(n))) {
        problems.push(
            `monitoring.namespaces: ${ns} is app ${appNamespaces.get(ns)}'s namespace; its pods would reach every server's metrics (every tenant's names and sizes), ` +
                "so list only the namespace Prometheus runs in",
        );
    }
    return { podMonitor, namespaces, podMonitorLabels: m.podMonitorLabels ?? {}, dashboardNamespace: m.dashboardNamespace ?? raw.kubernetes?.namespace ?? DEFAULT_SERVER_NAMESPACE };
}

/** The destination, if the target can use it: a bucket or a volume claim on Kubernetes, a host directory on Docker. */
function resolveDestination(target: Target, destination: BackupDestination, problems: string[]): BackupDestination | undefined {
    const kinds: Record<Target, string[]> = { kubernetes: ["s3", "volume"], docker: ["directory"] };
    const kind = Object.keys(destination)[0];
    if (kinds[target].includes(kind)) return destination;
    problems.push(`backup.destination.${kind}: not on target ${target}; expected ${kinds[target].join(" or ")}`);
    return undefined;
}

/**
 * The engine's backup defaults: on when the stack has backups, unless `enabled: false`. An engine
 * that cannot back up one tenant's data (no hook, or not with these settings) must be turned off
 * explicitly, so running without backups is a decision in the config.
 */
function resolveEngineBackup(raw: RawConfig, engine: EngineDescriptor, settings: EngineConfig, problems: string[]): EngineConfig["backup"] {
    const own = raw.engines[engine.name]?.backup;
    const path = `engines.${engine.name}.backup`;
    if (raw.backup === undefined) {
        if (own !== undefined) problems.push(`${path}: the stack has no backup destination; add tenant-databases:backup with a destination`);
        return undefined;
    }
    if (own?.enabled === false) return undefined;
    const cannot = engine.backup === undefined ? `${engine.title} has no per-tenant backup` : engine.backup.problem?.(settings.options);
    if (cannot !== undefined) {
        problems.push(`${path}: ${cannot}; set ${path}.enabled: false to run ${engine.name} without backups`);
        return undefined;
    }
    const schedule = own?.schedule ?? raw.backup.schedule;
    return { ...(schedule !== undefined && { schedule }), keep: own?.keep ?? raw.backup.keep ?? BACKUP_DEFAULTS.keep };
}

/**
 * A move of the app's data from `moveFrom` to its placement, if the engine can copy one tenant:
 * never onto the placement it has, never with a restore at once.
 */
function resolveMove(engine: EngineDescriptor, app: string, use: RawUse, placement: Placement, settings: EngineConfig, path: string, problems: string[]): { moveFrom?: Placement } {
    const moveFrom = use.moveFrom as Placement | undefined;
    if (moveFrom === undefined) return {};
    const at = `${path}.moveFrom`;
    const cannot = engine.backup === undefined ? `${engine.title} has no per-tenant dump` : engine.backup.problem?.(settings.options);
    if (moveFrom === placement) problems.push(`${at}: ${moveFrom} is where ${app}'s ${engine.name} data is to be; set placement to the other one, or remove moveFrom`);
    else if (cannot !== undefined) problems.push(`${at}: ${cannot}, so its data cannot be copied; move it by hand`);
    else if (engine.backup!.commands.count === undefined) problems.push(`${at}: ${engine.title} cannot check a copy yet (no count); move it by hand`);
    else if (use.restore !== undefined) problems.push(`${at}: a move and a restore at once; move first, then restore`);
    else if (engine.moveProblem?.(use, settings) !== undefined) problems.push(`${at}: ${engine.moveProblem(use, settings)}`);
    return { moveFrom };
}

/** An app's backups of one engine (the engine's, overridden by the app's, or off), and its restore. */
function resolveTenantBackup(
    target: Target,
    engine: EngineDescriptor,
    app: string,
    use: RawUse,
    engineBackup: EngineConfig["backup"],
    stackHasBackups: boolean,
    path: string,
    problems: string[],
): { backup?: TenantBackupPlan; restore?: TenantRestorePlan } {
    const own = use.backup as { schedule?: string; keep?: number } | false | undefined;
    if (own && engineBackup === undefined) problems.push(`${path}.backup: ${engine.name} is not backed up in this stack (see tenant-databases:backup and engines.${engine.name}.backup)`);
    const backup =
        own === false || engineBackup === undefined
            ? undefined
            : { schedule: own?.schedule ?? engineBackup.schedule ?? defaultSchedule(app, engine.name), keep: own?.keep ?? engineBackup.keep };
    const restore = use.restore as { from: string; replace?: boolean } | undefined;
    if (restore === undefined) return backup ? { backup } : {};
    if (target === "docker") {
        problems.push(`${path}.restore: not on target docker; run npm run restore -- ${app} --engine ${engine.name} --from ${restore.from}`);
    } else if (backup === undefined) {
        const off = own === false ? `${path}.backup is false` : !stackHasBackups ? "the stack has no tenant-databases:backup" : `engines.${engine.name}.backup.enabled is false`;
        problems.push(`${path}.restore: ${app} has no ${engine.name} backups to restore from (${off}); turn backups on for it first`);
    } else {
        const bad = restoreFromProblem(app, engine.name, engine.backup!.commands.extension, restore.from);
        if (bad !== undefined) problems.push(`${path}.restore.from: ${bad}`);
    }
    return { backup, restore: { from: restore.from, replace: restore.replace ?? false } };
}

function resolveEngine(engine: EngineDescriptor, settings: RawEngine, stackPlacement: Placement, problems: string[]): EngineConfig {
    const defaults = engine.defaults;
    const path = `engines.${engine.name}`;
    const version = settings.version ?? defaults.version;
    const storageGi = settings.storageGi ?? defaults.storageGi;
    const resources = mergeResources(defaults.resources, settings.resources, `${path}.resources`, problems);
    const own = engine.resolveSettings(settings, { version, storageGi, resources }, path);
    problems.push(...own.problems);
    return {
        engine: engine.name,
        version,
        image: settings.image ?? defaultImage(engine, version, engine.imageSuffix?.(settings)),
        storageGi,
        resources,
        placement: settings.placement ?? stackPlacement,
        adminEndpoint: settings.adminEndpoint,
        hostPort: settings.hostPort,
        options: own.options,
    };
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
        const uses = Object.values(apps).map((a) => a.uses[settings.engine]);
        if (target !== "docker") problems.push(`${path}: only for target docker; this stack's target is ${target}`);
        else if (!uses.some((u) => u?.placement === "shared" || u?.moveFrom === "shared")) {
            problems.push(`${path}: no app is on a shared ${settings.engine} server; set apps.<app>.${settings.engine}.hostPort for dedicated servers`);
        } else claim(settings.hostPort, path);
    }
    for (const app of Object.values(apps)) {
        for (const [engine, use] of Object.entries(app.uses)) {
            if (use.hostPort === undefined) continue;
            const path = `apps.${app.name}.${engine}.hostPort`;
            if (target !== "docker") problems.push(`${path}: only for target docker; this stack's target is ${target}`);
            // Moving away from its dedicated server, the app's port is that server's while it stays.
            else if (use.placement !== "dedicated" && use.moveFrom !== "dedicated") {
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
