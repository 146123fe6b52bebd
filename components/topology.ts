// Rules over a whole set of planned servers, for the stack config and for DatabasePlatform used
// as a library: no two servers may own one Kubernetes object, be reached at one admin address,
// or publish one host port.
import { serverObjectNames } from "../infra/naming";
import type { ServerPlan } from "./engine";

function ownerOf(server: ServerPlan): string {
    return server.placement === "shared" ? `the shared ${server.engine} server` : `apps.${server.tenants[0]?.app}'s dedicated ${server.engine} server`;
}

/**
 * Two servers must never derive the same Kubernetes object name: a dedicated server for app
 * `x_headless` is named `<engine>-x-headless`, which is also the headless Service of app `x`'s
 * server. Checked on every target, so a stack can move from Docker to Kubernetes.
 */
export function objectNameClashes(servers: ServerPlan[]): string[] {
    const problems: string[] = [];
    const owners = new Map<string, string>();
    for (const server of servers) {
        const owner = ownerOf(server);
        for (const [kind, names] of Object.entries(serverObjectNames(server.name))) {
            for (const name of names) {
                const key = `${kind} ${name}`;
                const other = owners.get(key);
                if (other === undefined) owners.set(key, owner);
                else if (other !== owner) problems.push(`${owner} and ${other} would both own the Kubernetes ${key}; rename one of the apps`);
            }
        }
    }
    return problems;
}

/** An admin endpoint several servers of an engine share must tell them apart with `{server}`. */
export function sharedAdminEndpoints(servers: ServerPlan[]): { engine: string; host: string; servers: number }[] {
    const byEngine = new Map<string, { host: string; servers: number }>();
    for (const s of servers) {
        const endpoint = s.settings.adminEndpoint;
        if (endpoint === undefined || endpoint.host.includes("{server}")) continue;
        const seen = byEngine.get(s.engine);
        byEngine.set(s.engine, { host: endpoint.host, servers: (seen?.servers ?? 0) + 1 });
    }
    return [...byEngine.entries()].filter(([, v]) => v.servers > 1).map(([engine, v]) => ({ engine, ...v }));
}

/**
 * A move needs both ends planned: the server it copies from holds the app's retired tenancy of
 * that engine, and every retired tenancy is the source of one move.
 */
export function moveProblems(servers: ServerPlan[]): string[] {
    const problems: string[] = [];
    const sources = new Set<string>();
    for (const server of servers) {
        for (const t of server.tenants.filter((t) => t.moveFrom !== undefined)) {
            const from = servers.find((s) => s.name === t.moveFrom!.server && s.engine === server.engine);
            if (from === undefined || !from.tenants.some((o) => o.app === t.app && o.retired)) {
                problems.push(`${t.app} moves its ${server.engine} data from server ${t.moveFrom!.server}, which is not planned with ${t.app}'s retired tenancy`);
            }
            sources.add(`${t.moveFrom!.server}/${t.app}`);
        }
    }
    for (const server of servers) {
        for (const t of server.tenants.filter((t) => t.retired && !sources.has(`${server.name}/${t.app}`))) {
            problems.push(`${t.app}'s tenancy on server ${server.name} is retired, but no move copies it anywhere`);
        }
    }
    return problems;
}

/** Every problem of a set of planned servers, as DatabasePlatform reports them. */
export function topologyProblems(servers: ServerPlan[]): string[] {
    const ports = new Map<number, string>();
    const problems = [...objectNameClashes(servers), ...moveProblems(servers)];
    for (const e of sharedAdminEndpoints(servers)) {
        problems.push(`the admin endpoint ${JSON.stringify(e.host)} would point ${e.servers} ${e.engine} servers at one address; include {server} in the host`);
    }
    for (const s of servers) {
        if (s.hostPort === undefined) continue;
        const other = ports.get(s.hostPort);
        if (other !== undefined) problems.push(`servers ${other} and ${s.name} would both publish host port ${s.hostPort}`);
        else ports.set(s.hostPort, s.name);
    }
    return problems;
}
