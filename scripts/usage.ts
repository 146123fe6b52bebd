// Who uses what: per tenant and engine, its size, connections and objects (tables, keys, ...),
// measured on the live servers with each app's own credentials (never the admin's); per shared
// server its tenants heaviest first with their share; and which tenants to move to a dedicated
// server against thresholds. Exits non-zero when a tenant could not be measured or a server was
// unreachable; recommendations do not fail the run.
//
//   npm run -s usage -- <stack> [--from <file>|-] [--max-share 0.5] [--min-size 1Gi]
//       [--min-connections 10] [--min-objects 1000000] [--max-size 5Gi] [--max-connections 50]
//       [--max-objects 10000000]
//
// Reads the stack output `apps` like `npm run verify` (scripts/verify.ts), and connects where the
// apps connect: run it where their hosts resolve and are reachable.
import type { AppCredentials } from "../components/environment";
import type { EngineUsage, TenantUsage, UsageFigures } from "../components/engine";
import { formatBytes, parseMemoryMi, MIB } from "../infra/quantities";
import { readApps, runCommand } from "./stack-output";
import { Reach, tcpReach, tenantsByServer } from "./verify";

/** When a tenant of a shared server should move to a dedicated one. */
export interface Thresholds {
    /** A share of its shared server's size (bytes, or objects where bytes are not visible) or connections above this, ... */
    maxShare: number;
    /** ... for a tenant of at least this many bytes, ... */
    minSize: number;
    /** ... or of at least this many connections, ... */
    minConnections: number;
    /** ... or (where its bytes are not visible: Redis keys) of at least this many objects. */
    minObjects: number;
    /** Bytes above this, whatever the share. */
    maxSize: number;
    /** Connections above this, whatever the share. */
    maxConnections: number;
    /** Objects above this where bytes are not visible, whatever the share. */
    maxObjects: number;
}

type Parser = (value: string) => number | undefined;

const share: Parser = (v) => (/^(?:0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/.test(v) ? Number(v) : undefined);
const size: Parser = (v) => {
    if (!/^\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(v)) return undefined;
    const bytes = Math.round(parseMemoryMi(v) * MIB);
    return Number.isSafeInteger(bytes) ? bytes : undefined;
};
const whole: Parser = (v) => (/^\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined);

/** The threshold flags: what each sets, its default as written, what a value must be, and what it means. */
export const THRESHOLD_FLAGS: Record<string, { key: keyof Thresholds; parse: Parser; default: string; expects: string; means: string }> = {
    "--max-share": {
        key: "maxShare",
        parse: share,
        default: "0.5",
        expects: "a share from 0 to 1, such as 0.5",
        means: "move a tenant holding more than this share of its shared server's size or connections (each counted from the --min-* below)",
    },
    "--min-size": { key: "minSize", parse: size, default: "1Gi", expects: "a size such as 1Gi, 500Mi or 1073741824 (bytes)", means: "a share of size counts for a tenant of at least this size" },
    "--min-connections": { key: "minConnections", parse: whole, default: "10", expects: "a whole number", means: "a share of connections counts for a tenant with at least this many" },
    "--min-objects": {
        key: "minObjects",
        parse: whole,
        default: "1000000",
        expects: "a whole number",
        means: "where a tenant's bytes are not visible (Redis on a shared server), its share of the server's objects (keys) stands for its size, from this many",
    },
    "--max-size": { key: "maxSize", parse: size, default: "5Gi", expects: "a size such as 5Gi, 500Mi or 5368709120 (bytes)", means: "move a tenant larger than this on a shared server" },
    "--max-connections": { key: "maxConnections", parse: whole, default: "50", expects: "a whole number", means: "move a tenant with more open connections than this on a shared server" },
    "--max-objects": { key: "maxObjects", parse: whole, default: "10000000", expects: "a whole number", means: "where bytes are not visible: move a tenant with more objects (keys) than this" },
};

export const DEFAULT_THRESHOLDS: Thresholds = Object.fromEntries(Object.values(THRESHOLD_FLAGS).map((f) => [f.key, f.parse(f.default)!])) as unknown as Thresholds;

export const USAGE_SYNOPSIS = `usage: npm run -s usage -- <stack> [--from <file>|-] ${Object.keys(THRESHOLD_FLAGS)
    .map((f) => `[${f} <value>]`)
    .join(" ")}`;

export function usageHelp(): string {
    const width = Math.max(...Object.keys(THRESHOLD_FLAGS).map((f) => f.length));
    return [
        USAGE_SYNOPSIS,
        "",
        "Measures each app's tenants with the app's own credentials from the stack output `apps`",
        "(`pulumi stack output apps --show-secrets --json`, or the file given with --from; - reads standard input).",
        "",
        "thresholds (default):",
        ...Object.entries(THRESHOLD_FLAGS).map(([flag, f]) => `  ${flag.padEnd(width)}  ${f.means} (${f.default})`),
        "",
    ].join("\n");
}

export interface UsageArgs {
    stack?: string;
    from?: string;
    thresholds: Thresholds;
    help: boolean;
}

/** The command line; throws with a message naming the flag and what it takes. */
export function parseUsageArgs(argv: string[]): UsageArgs {
    const positional: string[] = [];
    const thresholds = { ...DEFAULT_THRESHOLDS };
    const seen = new Set<string>();
    let from: string | undefined;
    let help = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "-h" || arg === "--help") {
            help = true;
            continue;
        }
        if (!arg.startsWith("-") || arg === "-") {
            positional.push(arg);
            continue;
        }
        const eq = arg.indexOf("=");
        const flag = eq > 0 ? arg.slice(0, eq) : arg;
        if (flag !== "--from" && !(flag in THRESHOLD_FLAGS)) throw new Error(`unknown option ${flag}; ${USAGE_SYNOPSIS}`);
        if (seen.has(flag)) throw new Error(`${flag} is given twice`);
        seen.add(flag);
        const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
        if (value === undefined || value === "" || (value.startsWith("--") && eq < 0)) throw new Error(`${flag} needs a value`);
        if (flag === "--from") {
            from = value;
            continue;
        }
        const f = THRESHOLD_FLAGS[flag];
        const parsed = f.parse(value);
        if (parsed === undefined) throw new Error(`${flag}: ${JSON.stringify(value)} is not ${f.expects}`);
        thresholds[f.key] = parsed;
    }
    if (help) return { thresholds, help };
    if (positional.length > 1 || (positional.length === 0 && from === undefined)) throw new Error(USAGE_SYNOPSIS);
    return { stack: positional[0], from, thresholds, help };
}

export type UsageStatus = "measured" | "not measured" | "failed";

/** One app on one server. */
export interface UsageRow {
    app: string;
    engine: string;
    /** `host:port` */
    server: string;
    status: UsageStatus;
    /** Measured: the tenant's figures (with the server's where it is alone on it and lacks its own). */
    usage?: TenantUsage;
    /** The figures taken from the server's, the tenant being alone on it. */
    fromServer?: (keyof UsageFigures)[];
    /** Not measured or failed: why. */
    reason?: string;
}

export interface UsageResult {
    rows: UsageRow[];
    /** Each tenant that could not be measured and each unreachable server, named: the run fails when there is any. */
    problems: string[];
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Measures every tenant of `apps` with its engine's usage (`usages[engine]`; an engine without one
 * is listed as not measured). Servers side by side, a server's tenants one after the other.
 */
export async function measureStack(apps: Record<string, AppCredentials>, usages: Record<string, EngineUsage | undefined>, reach: Reach = tcpReach): Promise<UsageResult> {
    const results = await Promise.all(
        [...tenantsByServer(apps).values()].map(async (tenants): Promise<UsageResult> => {
            const { engine, server } = tenants[0];
            const usage = usages[engine];
            const row = (app: string, status: UsageStatus, rest: Partial<UsageRow> = {}): UsageRow => ({ app, engine, server, status, ...rest });
            if (usage === undefined) return { rows: tenants.map((t) => row(t.app, "not measured", { reason: `no usage measurement for ${engine} yet` })), problems: [] };
            const unreachable = await reach(tenants[0].credentials.host, tenants[0].credentials.port);
            if (unreachable !== undefined) {
                return {
                    rows: tenants.map((t) => row(t.app, "failed", { reason: "server unreachable" })),
                    problems: [`${engine} server ${server} is unreachable (${unreachable}); its tenants ${tenants.map((t) => t.app).join(", ")} were not measured`],
                };
            }
            const rows: UsageRow[] = [];
            const problems: string[] = [];
            for (const t of tenants) {
                try {
                    const measured = await usage.measure(t.credentials);
                    const fromServer = tenants.length === 1 ? (["bytes", "connections"] as const).filter((k) => measured[k] === undefined && measured.server?.[k] !== undefined) : [];
                    const credited = { ...measured, ...Object.fromEntries(fromServer.map((k) => [k, measured.server![k]])) };
                    rows.push(row(t.app, "measured", { usage: credited, ...(fromServer.length > 0 ? { fromServer } : {}) }));
                } catch (err) {
                    rows.push(row(t.app, "failed", { reason: messageOf(err) }));
                    problems.push(`${engine} ${server}: ${t.app} could not be measured: ${messageOf(err)}`);
                }
            }
            return { rows, problems };
        }),
    );
    return { rows: results.flatMap((r) => r.rows), problems: results.flatMap((r) => r.problems) };
}

/** One tenant of a shared server, with its shares of the server's measured totals. */
export interface TenantShare {
    app: string;
    usage: TenantUsage;
    /** Its share of the server's size (bytes, or objects where bytes are not visible). */
    sizeShare?: number;
    connectionShare?: number;
}

/** A server with two tenants or more, its measured tenants heaviest first. */
export interface SharedServer {
    engine: string;
    server: string;
    /** What `sizeShare` is a share of: bytes, objects where bytes are not visible, or nothing comparable. */
    sizeBy?: "bytes" | "objects";
    /** The unit of objects (keys, points, ...). */
    unit?: string;
    tenants: TenantShare[];
    total: { bytes?: number; connections?: number; objects?: number };
    /** Tenants of the server that were not measured: the shares leave them out. */
    unmeasured: string[];
    /** Whole-server figures its tenants' logins see (Redis INFO), the latest measured. */
    serverFigures?: TenantUsage["server"];
    /** Objects the server holds that no tenant's figure counts (Redis: keys in DB numbers no tenant has). */
    outside?: number;
}

const sum = (values: (number | undefined)[]): number | undefined => (values.every((v) => v !== undefined) ? values.reduce((a: number, b) => a + b!, 0) : undefined);
const shareOf = (part: number | undefined, total: number | undefined) => (part !== undefined && total !== undefined && total > 0 ? part / total : undefined);

/** The servers with two tenants or more, in the rows' order, their tenants heaviest first. */
export function sharedServers(rows: UsageRow[]): SharedServer[] {
    const byServer = new Map<string, UsageRow[]>();
    for (const r of rows) {
        if (r.status === "not measured") continue;
        const key = `${r.engine} ${r.server}`;
        byServer.set(key, [...(byServer.get(key) ?? []), r]);
    }
    const servers: SharedServer[] = [];
    for (const group of byServer.values()) {
        if (group.length < 2) continue;
        const measured = group.filter((r) => r.status === "measured" && r.usage !== undefined);
        const usages = measured.map((r) => r.usage!);
        const units = new Set(usages.map((u) => u.objects?.unit));
        const bytes = sum(usages.map((u) => u.bytes));
        const objects = units.size === 1 ? sum(usages.map((u) => u.objects?.count)) : undefined;
        const connections = sum(usages.map((u) => u.connections));
        const sizeBy = measured.length === 0 ? undefined : bytes !== undefined ? "bytes" : objects !== undefined ? "objects" : undefined;
        const sizeOf = (u: TenantUsage) => (sizeBy === "bytes" ? u.bytes : sizeBy === "objects" ? u.objects?.count : undefined);
        const tenants = measured
            .map((r) => ({
                app: r.app,
                usage: r.usage!,
                sizeShare: shareOf(sizeOf(r.usage!), sizeBy === "bytes" ? bytes : objects),
                connectionShare: shareOf(r.usage!.connections, connections),
            }))
            .sort((a, b) => (sizeOf(b.usage) ?? 0) - (sizeOf(a.usage) ?? 0) || (b.usage.connections ?? 0) - (a.usage.connections ?? 0) || a.app.localeCompare(b.app));
        const serverFigures = [...usages].reverse().find((u) => u.server !== undefined)?.server;
        const outside =
            serverFigures?.objects !== undefined && objects !== undefined && serverFigures.objects.unit === [...units][0] && measured.length === group.length
                ? Math.max(0, serverFigures.objects.count - objects)
                : undefined;
        servers.push({
            engine: group[0].engine,
            server: group[0].server,
            ...(sizeBy !== undefined ? { sizeBy } : {}),
            ...(units.size === 1 && [...units][0] !== undefined ? { unit: [...units][0] } : {}),
            tenants,
            total: { bytes, connections, objects },
            unmeasured: group.filter((r) => r.status !== "measured").map((r) => r.app),
            ...(serverFigures !== undefined ? { serverFigures } : {}),
            ...(outside ? { outside } : {}),
        });
    }
    return servers;
}

/** A tenant to move to a dedicated server, and why. */
export interface Recommendation {
    app: string;
    engine: string;
    server: string;
    reasons: string[];
}

const percent = (x: number): string => `${Number((x * 100).toFixed(1))}%`;

export function showBytes(bytes: number): string {
    return bytes < 1024 ? `${bytes}B` : formatBytes(bytes);
}

/** The tenants of shared servers above a threshold, heaviest server order kept. */
export function recommend(servers: SharedServer[], t: Thresholds): Recommendation[] {
    const out: Recommendation[] = [];
    for (const s of servers) {
        for (const tenant of s.tenants) {
            const u = tenant.usage;
            const reasons: string[] = [];
            if (s.sizeBy === "bytes" || (s.sizeBy === undefined && u.bytes !== undefined)) {
                if (u.bytes !== undefined && u.bytes > t.maxSize) reasons.push(`size ${showBytes(u.bytes)} > --max-size ${formatBytes(t.maxSize)}`);
                if (tenant.sizeShare !== undefined && tenant.sizeShare > t.maxShare && u.bytes! >= t.minSize) {
                    reasons.push(`${percent(tenant.sizeShare)} of the server's size > --max-share ${t.maxShare} (size ${showBytes(u.bytes!)} ≥ --min-size ${formatBytes(t.minSize)})`);
                }
            } else if (s.sizeBy === "objects" && u.objects !== undefined) {
                const { count, unit } = u.objects;
                if (count > t.maxObjects) reasons.push(`${counted(count, unit)} > --max-objects ${t.maxObjects}`);
                if (tenant.sizeShare !== undefined && tenant.sizeShare > t.maxShare && count >= t.minObjects) {
                    reasons.push(`${percent(tenant.sizeShare)} of the server's ${unit} > --max-share ${t.maxShare} (${counted(count, unit)} ≥ --min-objects ${t.minObjects})`);
                }
            }
            if (u.connections !== undefined) {
                if (u.connections > t.maxConnections) reasons.push(`${counted(u.connections, "connections")} > --max-connections ${t.maxConnections}`);
                if (tenant.connectionShare !== undefined && tenant.connectionShare > t.maxShare && u.connections >= t.minConnections) {
                    reasons.push(`${percent(tenant.connectionShare)} of the server's connections > --max-share ${t.maxShare} (${u.connections} ≥ --min-connections ${t.minConnections})`);
                }
            }
            if (reasons.length > 0) out.push({ app: tenant.app, engine: s.engine, server: s.server, reasons });
        }
    }
    return out;
}

/** Lines as an aligned table, the last column not padded. */
function align(lines: string[][], indent = ""): string[] {
    const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => (i === l.length - 1 ? 0 : l[i].length))));
    return lines.map((l) => indent + l.map((cell, i) => (i === l.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd());
}

/** `1 key`, `2 keys`: a count and its unit (plural in the figures). */
export const counted = (count: number, unit: string): string => `${count} ${count === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit}`;

const showObjects = (o: UsageFigures["objects"]) => (o === undefined ? "-" : counted(o.count, o.unit));

/** The per-tenant table. */
export function formatTable(rows: UsageRow[]): string {
    const lines = [["app", "engine", "server", "size", "connections", "objects", "note"]];
    for (const r of rows) {
        const u = r.usage;
        const note =
            r.status === "not measured"
                ? `not measured (${r.reason})`
                : r.status === "failed"
                  ? `FAILED: ${r.reason === "server unreachable" ? r.reason : "see below"}`
                  : r.fromServer
                    ? `${r.fromServer.map((k) => (k === "bytes" ? "size" : k)).join(" and ")}: the server's (alone on it)`
                    : "";
        lines.push([r.app, r.engine, r.server, u?.bytes !== undefined ? showBytes(u.bytes) : "-", u?.connections !== undefined ? String(u.connections) : "-", showObjects(u?.objects), note]);
    }
    return align(lines).join("\n") + "\n";
}

/** Per shared server, its tenants heaviest first with their shares. */
export function formatShared(servers: SharedServer[]): string {
    if (servers.length === 0) return "shared servers: none (every server has one tenant)\n";
    const out: string[] = ["shared servers, heaviest tenant first:"];
    for (const s of servers) {
        const totals = [
            s.total.bytes !== undefined ? showBytes(s.total.bytes) : undefined,
            s.sizeBy !== "bytes" && s.total.objects !== undefined ? counted(s.total.objects, s.unit ?? "objects") : undefined,
            s.total.connections !== undefined ? counted(s.total.connections, "connections") : undefined,
        ].filter((x) => x !== undefined);
        const f = s.serverFigures;
        const server = f
            ? [
                  f.bytes !== undefined ? `memory ${showBytes(f.bytes)}${f.maxBytes !== undefined ? ` of ${showBytes(f.maxBytes)}` : ""}` : undefined,
                  f.connections !== undefined ? counted(f.connections, "other clients") : undefined,
                  s.outside ? `${counted(s.outside, s.unit ?? "objects")} that no tenant's figure counts` : undefined,
              ].filter((x) => x !== undefined)
            : [];
        out.push(
            `${s.engine} ${s.server}: ${counted(s.tenants.length, "tenants")} measured${totals.length > 0 ? `, ${totals.join(", ")}` : ""}` +
                (server.length > 0 ? `; the whole server: ${server.join(", ")}` : "") +
                (s.unmeasured.length > 0 ? `; not measured: ${s.unmeasured.join(", ")} (left out of the shares)` : ""),
        );
        const show = (x: number | undefined) => (x === undefined ? "-" : percent(x));
        const lines = [["app", s.sizeBy === "objects" ? (s.unit ?? "objects") : "size", "share", "connections", "share"]];
        for (const t of s.tenants) {
            const size = s.sizeBy === "objects" ? String(t.usage.objects?.count ?? "-") : t.usage.bytes !== undefined ? showBytes(t.usage.bytes) : "-";
            lines.push([t.app, size, show(t.sizeShare), t.usage.connections !== undefined ? String(t.usage.connections) : "-", show(t.connectionShare)]);
        }
        out.push(...align(lines, "  "));
    }
    return out.join("\n") + "\n";
}

export function formatRecommendations(recommendations: Recommendation[], t: Thresholds): string {
    const thresholds =
        `--max-share ${t.maxShare} counted from --min-size ${formatBytes(t.minSize)}, --min-connections ${t.minConnections}, --min-objects ${t.minObjects}; ` +
        `--max-size ${formatBytes(t.maxSize)}; --max-connections ${t.maxConnections}; --max-objects ${t.maxObjects}`;
    const lines = recommendations.map((r) => `  ${r.engine} ${r.app} on ${r.server}: ${r.reasons.join("; ")}`);
    return `move to dedicated (thresholds: ${thresholds}):\n${lines.length > 0 ? lines.join("\n") : "  none"}\n`;
}

/** Every secret string of `apps` (passwords, URLs, tokens), longest first. */
function secretsOf(apps: Record<string, AppCredentials>): string[] {
    const secrets = new Set<string>();
    for (const engines of Object.values(apps)) {
        for (const c of Object.values(engines ?? {})) {
            for (const [key, value] of Object.entries((c ?? {}) as unknown as Record<string, unknown>)) {
                if (/password|url|uri|key|token|secret/i.test(key) && key !== "keyPrefix" && typeof value === "string" && value.length >= 4) secrets.add(value);
            }
        }
    }
    return [...secrets].sort((a, b) => b.length - a.length);
}

/** `text` with every secret of `apps` replaced by `***` (a driver's message might quote one). */
export function redact(text: string, apps: Record<string, AppCredentials>): string {
    return secretsOf(apps).reduce((t, s) => t.split(s).join("***"), text);
}

/** The usage measurements of the engines `apps` uses, from the registry (each loads its client library). */
export function usagesFor(apps: Record<string, AppCredentials>): Record<string, EngineUsage | undefined> {
    // Required here: the registry and the clients load only when the command runs.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ENGINES } = require("../components/engines") as typeof import("../components/engines");
    const used = new Set(Object.values(apps).flatMap((a) => Object.keys(a ?? {})));
    return Object.fromEntries(ENGINES.filter((e) => used.has(e.name)).map((e) => [e.name, e.usage?.()]));
}

/** The command line `argv` run whole: what to print, and the exit code. */
export async function runUsage(
    argv: string[],
    usages: (apps: Record<string, AppCredentials>) => Record<string, EngineUsage | undefined> = usagesFor,
    reach: Reach = tcpReach,
): Promise<{ out: string; err: string; code: number }> {
    const args = parseUsageArgs(argv);
    if (args.help) return { out: usageHelp(), err: "", code: 0 };
    const apps = readApps(args.stack, args.from, "--from", (message) => {
        throw new Error(message);
    });
    const engines = usages(apps);
    const result = await measureStack(apps, engines, reach);
    const servers = sharedServers(result.rows);
    const measuredEngines = [...new Set(result.rows.filter((r) => r.status === "measured").map((r) => r.engine))];
    const unmeasuredEngines = [...new Set(result.rows.filter((r) => r.status === "not measured").map((r) => r.engine))];
    const notes = [
        ...measuredEngines.map((e) => `- ${engines[e]!.note}`),
        ...(unmeasuredEngines.length > 0 ? [`- not measured: ${unmeasuredEngines.join(", ")} (no usage measurement for them yet)`] : []),
    ];
    const out = [formatTable(result.rows), formatShared(servers), formatRecommendations(recommend(servers, args.thresholds), args.thresholds), notes.length > 0 ? `notes:\n${notes.join("\n")}\n` : ""]
        .filter((s) => s !== "")
        .join("\n");
    const err = result.problems.length > 0 ? `\n${result.problems.length} problem(s):\n${result.problems.map((p) => `- ${p}`).join("\n")}\n` : "";
    return { out: redact(out, apps), err: redact(err, apps), code: result.problems.length > 0 ? 1 : 0 };
}

if (require.main === module) runCommand(runUsage);
