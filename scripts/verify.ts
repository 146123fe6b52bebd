// The isolation audit of a live stack: as each tenant, on each server it uses, writes, reads and
// deletes a probe in its own database or key space, and tries every other tenant's on the same
// server, which must be refused. Prints a table; exits non-zero on any breach, failed probe or
// unreachable server.
//
//   npm run -s verify -- <stack> [--from <file>|-]
//
// Reads the stack output `apps` with `pulumi stack output apps --show-secrets --json`, or from a
// file or standard input given with --from. It logs in with the apps' own credentials, at the
// hosts the apps use: run it where the apps run (or where their hosts resolve and are reachable).
import * as net from "net";
import type { AppCredentials } from "../components/environment";
import type { EngineAudit } from "../components/engine";
import type { TenantCredentials } from "../components/credentials";
import { readApps, runCommand } from "./stack-output";

export type Status = "ok" | "breach" | "failed" | "not audited";

/** One app on one server, as the table shows it. */
export interface VerifyRow {
    app: string;
    engine: string;
    /** `host:port` */
    server: string;
    /** `ok`, `failed: <why>`, `not run: <why>` or `not audited`. */
    probe: string;
    /** `refused n/n`, `BREACH: <what got through>`, `failed: <why>`, `not run` or `none (alone on the server)`. */
    intrusions: string;
    status: Status;
}

export interface VerifyResult {
    rows: VerifyRow[];
    /** Every breach, failed probe and unreachable server, each naming the server and apps: the run fails when there is any. */
    problems: string[];
}

/** Why `host:port` cannot be reached over TCP, or undefined. */
export type Reach = (host: string, port: number) => Promise<string | undefined>;

/** A TCP connection to the server, so an unreachable server is named once rather than per tenant. */
export const tcpReach: Reach = (host, port) =>
    new Promise((resolve) => {
        const socket = net.connect({ host, port });
        const done = (problem: string | undefined) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(problem);
        };
        const timer = setTimeout(() => done("no answer within 5 s"), 5000);
        socket.once("connect", () => done(undefined));
        socket.once("error", (err) => done(err.message));
    });

interface Placed {
    app: string;
    engine: string;
    server: string;
    credentials: TenantCredentials;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The apps' tenants grouped by engine and server (`<engine> <host>:<port>`), in app order. */
export function tenantsByServer(apps: Record<string, AppCredentials>): Map<string, Placed[]> {
    const servers = new Map<string, Placed[]>();
    for (const app of Object.keys(apps).sort()) {
        for (const [engine, value] of Object.entries(apps[app] ?? {})) {
            const c = value as Partial<TenantCredentials> | undefined;
            if (typeof c?.host !== "string" || typeof c.port !== "number") {
                throw new Error(`apps.${app}.${engine} has no host and port; pass the output of \`pulumi stack output apps --show-secrets --json\``);
            }
            const server = `${c.host}:${c.port}`;
            const key = `${engine} ${server}`;
            servers.set(key, [...(servers.get(key) ?? []), { app, engine, server, credentials: c as TenantCredentials }]);
        }
    }
    return servers;
}

/**
 * Audits every tenant of `apps` with its engine's audit (`audits[engine]`; an engine without one
 * is listed as not audited). Servers are audited side by side, a server's tenants one after the
 * other (their connection limits are small).
 */
export async function verifyStack(apps: Record<string, AppCredentials>, audits: Record<string, EngineAudit | undefined>, reach: Reach = tcpReach): Promise<VerifyResult> {
    const servers = [...tenantsByServer(apps).values()];
    const results = await Promise.all(servers.map((tenants) => verifyServer(tenants, audits[tenants[0].engine], reach)));
    return { rows: results.flatMap((r) => r.rows), problems: results.flatMap((r) => r.problems) };
}

async function verifyServer(tenants: Placed[], audit: EngineAudit | undefined, reach: Reach): Promise<VerifyResult> {
    const { engine, server } = tenants[0];
    const row = (t: Placed, probe: string, intrusions: string, status: Status): VerifyRow => ({ app: t.app, engine, server, probe, intrusions, status });
    if (audit === undefined) return { rows: tenants.map((t) => row(t, "not audited", "not audited", "not audited")), problems: [] };

    const unreachable = await reach(tenants[0].credentials.host, tenants[0].credentials.port);
    if (unreachable !== undefined) {
        return {
            rows: tenants.map((t) => row(t, "not run: server unreachable", "not run", "failed")),
            problems: [`${engine} server ${server} is unreachable (${unreachable}); its tenants ${tenants.map((t) => t.app).join(", ")} were not checked`],
        };
    }

    const rows: VerifyRow[] = [];
    const problems: string[] = [];
    for (const own of tenants) {
        let probe = "ok";
        try {
            await audit.probe(own.credentials);
        } catch (err) {
            probe = `failed: ${messageOf(err)}`;
            problems.push(`${engine} ${server}: ${own.app}'s probe in its own data failed: ${messageOf(err)}`);
        }
        const others = tenants.filter((t) => t !== own);
        const breaches: string[] = [];
        const failures: string[] = [];
        for (const other of others) {
            try {
                const breach = await audit.intrude(own.credentials, other.credentials);
                if (breach !== undefined) {
                    breaches.push(`${other.app}: ${breach}`);
                    problems.push(`BREACH on ${engine} ${server}: ${own.app} got into ${other.app}'s data: ${breach}`);
                }
            } catch (err) {
                failures.push(`${other.app}: ${messageOf(err)}`);
                problems.push(`${engine} ${server}: ${own.app}'s attempts on ${other.app} could not be checked: ${messageOf(err)}`);
            }
        }
        const refused = others.length - breaches.length - failures.length;
        const intrusions =
            others.length === 0
                ? "none (alone on the server)"
                : [
                      ...(breaches.length > 0 ? [`BREACH: ${breaches.join(" | ")}`] : []),
                      ...(failures.length > 0 ? [`failed: ${failures.join(" | ")}`] : []),
                      `refused ${refused}/${others.length}`,
                  ].join("; ");
        const status: Status = breaches.length > 0 ? "breach" : failures.length > 0 || probe !== "ok" ? "failed" : "ok";
        rows.push(row(own, probe, intrusions, status));
    }
    return { rows, problems };
}

/** The rows as an aligned text table. */
export function formatTable(rows: VerifyRow[]): string {
    const header = ["app", "engine", "server", "own probe", "intrusions"];
    const lines = [header, ...rows.map((r) => [r.app, r.engine, r.server, r.probe, r.intrusions])];
    const widths = header.map((_, i) => Math.max(...lines.map((l) => (i === header.length - 1 ? 0 : l[i].length))));
    return lines.map((l) => l.map((cell, i) => (i === header.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")).join("\n") + "\n";
}

function fail(message: string): never {
    throw new Error(message);
}

/** The audits of the engines `apps` uses, from the registry (each loads its client library). */
export function auditsFor(apps: Record<string, AppCredentials>): Record<string, EngineAudit | undefined> {
    // Required here: the registry and the audits' clients load only when the command runs.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ENGINES } = require("../components/engines") as typeof import("../components/engines");
    const used = new Set(Object.values(apps).flatMap((a) => Object.keys(a ?? {})));
    return Object.fromEntries(ENGINES.filter((e) => used.has(e.name)).map((e) => [e.name, e.audit?.()]));
}

/** The command line `argv` run whole: the table and problems to print, and the exit code. */
export async function runVerify(argv: string[], audits?: (apps: Record<string, AppCredentials>) => Record<string, EngineAudit | undefined>): Promise<{ out: string; err: string; code: number }> {
    const positional: string[] = [];
    let from: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--from") from = argv[++i] ?? fail("--from needs a value");
        else if (argv[i].startsWith("-") && argv[i] !== "-") fail(`unknown option ${argv[i]}; usage: npm run -s verify -- <stack> [--from <file>|-]`);
        else positional.push(argv[i]);
    }
    if (positional.length > 1 || (positional.length === 0 && from === undefined)) fail("usage: npm run -s verify -- <stack> [--from <file>|-]");
    const apps = readApps(positional[0], from, "--from", fail);
    const result = await verifyStack(apps, (audits ?? auditsFor)(apps));
    const skipped = [...new Set(result.rows.filter((r) => r.status === "not audited").map((r) => r.engine))];
    const notes = skipped.length > 0 ? `not audited (no audit for ${skipped.join(", ")} yet)\n` : "";
    const err = result.problems.length > 0 ? `\n${result.problems.length} problem(s):\n${result.problems.map((p) => `- ${p}`).join("\n")}\n` : "";
    return { out: formatTable(result.rows) + notes, err, code: result.problems.length > 0 ? 1 : 0 };
}

if (require.main === module) runCommand(runVerify);
