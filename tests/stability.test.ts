// Stability of other apps: adding, removing or reordering apps never changes the URN or the
// inputs of another app's resources, and never moves a Redis db number.
//
// Proved in two steps, each where it is cheapest:
// 1. The planner (config -> topology), pure, on many and large edits: every other app keeps
//    exactly its tenancies: the same server (name, engine, placement, settings, port) and the same
//    tenant plan (namespace, Redis db, connection limit, collections).
// 2. The whole program under mocks, on fewer and smaller edits: what the components build for an
//    app depends on nothing else, so the URNs and inputs of its resources do not move either.
import * as assert from "assert";
import * as fc from "fast-check";
import { parseStackConfig } from "../stacks/config";
import { Topology, planTopology } from "../stacks/plan";
import { RecordedResource, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { AppSpec, AppsChange, appsChangeArb, dbNumbering, rawConfig, stackArb } from "./arbitraries";

type Stack = Parameters<typeof rawConfig>[0];
/** app -> key -> value: what belongs to each app, to compare between two versions of a stack. */
type ByApp = Map<string, Map<string, unknown>>;

/** Redis db numbers fixed per app name for both sides of a change, as an operator fixes them in the YAML. */
const numberingOf = (change: AppsChange) => dbNumbering([...change.before, ...change.after].map((a) => a.name));

/** Each app's tenancies, by engine: its server (without the other tenants) and its own tenant plan. */
function tenanciesByApp(topology: Topology): ByApp {
    const byApp: ByApp = new Map();
    for (const { tenants, ...server } of topology.servers) {
        for (const tenant of tenants) {
            if (!byApp.has(tenant.app)) byApp.set(tenant.app, new Map());
            byApp.get(tenant.app)!.set(tenant.engine, { server, tenant });
        }
    }
    return byApp;
}

/** The app a resource belongs to: through its tenant component, its app Secret or a dedicated server. */
function ownerOf(r: RecordedResource, byUrn: Map<string, RecordedResource>, dedicatedServers: Map<string, string>): string | undefined {
    for (let cur: RecordedResource | undefined = r; cur; cur = byUrn.get(cur.parent)) {
        // A tenant component: type tenant-databases:<engine>:<Engine>Tenant, named <server>/<app>.
        const tenant = /^tenant-databases:[a-z0-9]+:[A-Za-z0-9]+Tenant$/.test(cur.type) && /^[a-z0-9-]+\/([a-z][a-z0-9_]*)$/.exec(cur.name);
        if (tenant) return tenant[1];
        if (cur.type === "kubernetes:core/v1:Secret" && cur.name.endsWith("-databases")) return cur.name.slice(0, -"-databases".length);
        // An app's move of an engine: its copy Job or command, and the login Secrets of the Job.
        const move = /^([a-z][a-z0-9_]*)-(postgresql|mysql|mongodb|redis|qdrant|neo4j)-move(-|$)/.exec(cur.name);
        if (move && !cur.type.startsWith("tenant-databases:")) return move[1];
        // An app's backups: its CronJob, restore Job and login Secret.
        const backups = /^([a-z][a-z0-9_]*)-(postgresql|mysql|mongodb|redis|qdrant|neo4j)-backups$/.exec(cur.name);
        if (cur.type === "tenant-databases:backup:TenantBackup" && backups) return backups[1];
        if (cur.type.endsWith("Server") && dedicatedServers.has(cur.name)) return dedicatedServers.get(cur.name);
        if (cur.type === "random:index/randomPassword:RandomPassword") {
            const own = /^([a-z][a-z0-9_]*)-(postgresql|mysql|mongodb|redis|qdrant|neo4j)-password$/.exec(cur.name);
            if (own) return own[1];
        }
    }
    return undefined;
}

/** Each app's resources, their inputs by URN, from a whole run of the stack under mocks. */
async function resourcesByApp(stack: Stack, apps: AppSpec[], dbOf: (app: string) => number): Promise<ByApp> {
    const run = await runStackConfig(rawConfig(stack, apps, dbOf));
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    const servers = await valueOf(run.result.servers);
    const dedicated = new Map(servers.filter((s) => s.placement === "dedicated").map((s) => [s.name, s.tenants[0]]));
    const owned: ByApp = new Map();
    for (const r of run.resources) {
        const owner = ownerOf(r, byUrn, dedicated);
        if (owner === undefined) continue;
        if (!owned.has(owner)) owned.set(owner, new Map());
        owned.get(owner)!.set(r.urn, r.inputs);
    }
    // Not vacuous: every app's backups are attributed to it, and every tenancy the program built.
    for (const r of run.resources.filter((r) => r.type === "tenant-databases:backup:TenantBackup")) {
        assert.ok(owned.get(r.name.replace(/-[a-z0-9]+-backups$/, ""))?.has(r.urn), `${r.name} is attributed to its app`);
    }
    for (const s of servers) {
        for (const app of s.tenants) {
            const urns = [...(owned.get(app)?.keys() ?? [])];
            assert.ok(
                urns.some((urn) => urn.endsWith(`Tenant::${s.name}/${app}`)),
                `the tenant component ${s.name}/${app} is not attributed to ${app}`,
            );
        }
    }
    return owned;
}

/** Every app on both sides of the change has exactly the same keys, with deep-equal values. */
function assertOthersUnchanged(before: ByApp, after: ByApp, change: AppsChange, what: string) {
    const edit = `added [${change.added}], removed [${change.removed}], now in order [${change.after.map((a) => a.name)}]`;
    for (const { name: app } of change.after) {
        if (change.added.includes(app)) continue;
        const old = before.get(app) ?? new Map<string, unknown>();
        const now = after.get(app) ?? new Map<string, unknown>();
        assert.deepStrictEqual([...now.keys()].sort(), [...old.keys()].sort(), `${edit}: ${what} of ${app}`);
        for (const [key, value] of now) assert.deepStrictEqual(value, old.get(key), `${edit}: ${what} of ${app}: ${key}`);
    }
}

describe("stability of other apps (properties)", () => {
    it("planner: adding, removing or reordering apps leaves every other app's servers and tenant plans as they were, Redis db numbers included", () => {
        fc.assert(
            fc.property(stackArb, appsChangeArb(12, 4), (stack, change) => {
                const dbOf = numberingOf(change);
                const plan = (apps: AppSpec[]) => tenanciesByApp(planTopology(parseStackConfig(rawConfig(stack, apps, dbOf))));
                const after = plan(change.after);
                assertOthersUnchanged(plan(change.before), after, change, "tenancies");
                // Not only unchanged: each Redis tenant has the db number its YAML gives it.
                for (const [app, tenancies] of after) {
                    const redis = tenancies.get("redis") as { tenant: { options: { db: number } } } | undefined;
                    if (redis) assert.strictEqual(redis.tenant.options.db, dbOf(app), `Redis db of ${app}`);
                }
            }),
            { numRuns: 300 },
        );
    });

    it("whole program under mocks: adding, removing or reordering apps changes no other app's URNs or inputs", async function () {
        this.timeout(60000);
        // Besides the random edits: an app alone on a shared server of every engine, then joined
        // by apps sorting before and after it (its tenants' positions and counts all change).
        const everyEngine = { postgresql: {}, redis: {}, mysql: {}, mongodb: {}, qdrant: {}, neo4j: {} };
        const joined: AppsChange = {
            before: [{ name: "lernmi", ...everyEngine }],
            after: [{ name: "zeta", ...everyEngine }, { name: "lernmi", ...everyEngine }, { name: "alpha", ...everyEngine }, { name: "beta", ...everyEngine }],
            added: ["zeta", "alpha", "beta"],
            removed: [],
        };
        await fc.assert(
            fc.asyncProperty(stackArb, appsChangeArb(4, 2), async (stack, change) => {
                const dbOf = numberingOf(change);
                const before = await resourcesByApp(stack, change.before, dbOf);
                const after = await resourcesByApp(stack, change.after, dbOf);
                assertOthersUnchanged(before, after, change, "resources");
            }),
            { numRuns: 6, examples: [[{ placement: "shared", postgresqlPlacement: undefined, redisPlacement: undefined, backups: true }, joined]] },
        );
    });
});
