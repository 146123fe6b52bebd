// Resource-level stability under mocks: adding, removing or reordering apps never changes the
// URN or the inputs of another app's resources, and never moves a Redis db number.
import * as assert from "assert";
import * as fc from "fast-check";
import { RecordedResource } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { AppSpec, appsArb, dbNumbering, rawConfig, stackArb } from "./arbitraries";

/** The app a resource belongs to: through its tenant component, its app Secret or a dedicated server. */
function ownerOf(r: RecordedResource, byUrn: Map<string, RecordedResource>, dedicatedServers: Map<string, string>): string | undefined {
    for (let cur: RecordedResource | undefined = r; cur; cur = byUrn.get(cur.parent)) {
        const tenant = /^([a-z][a-z0-9_]*)-(postgresql|mysql|mongodb|redis|qdrant|neo4j)$/.exec(cur.name);
        if (tenant && cur.type.endsWith("Tenant")) return tenant[1];
        if (cur.type === "kubernetes:core/v1:Secret" && cur.name.endsWith("-databases")) return cur.name.slice(0, -"-databases".length);
        if (cur.type.endsWith("Server") && dedicatedServers.has(cur.name)) return dedicatedServers.get(cur.name);
        if (cur.type === "random:index/randomPassword:RandomPassword") {
            const own = /^([a-z][a-z0-9_]*)-(postgresql|mysql|mongodb|redis|qdrant|neo4j)-password$/.exec(cur.name);
            if (own) return own[1];
        }
    }
    return undefined;
}

async function resourcesByApp(stack: Parameters<typeof rawConfig>[0], apps: AppSpec[], dbOf: (a: string) => number) {
    const run = await runStackConfig(rawConfig(stack, apps, dbOf));
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    const servers = await new Promise<{ name: string; placement: string; tenants: string[] }[]>((resolve) => run.result.servers.apply(resolve));
    const dedicated = new Map(servers.filter((s) => s.placement === "dedicated").map((s) => [s.name, s.tenants[0]]));
    const owned = new Map<string, Map<string, unknown>>();
    for (const r of run.resources) {
        const owner = ownerOf(r, byUrn, dedicated);
        if (owner === undefined) continue;
        if (!owned.has(owner)) owned.set(owner, new Map());
        owned.get(owner)!.set(r.urn, r.inputs);
    }
    return owned;
}

describe("stability of other apps' resources (property, under mocks)", function () {
    this.timeout(120000);

    it("adding, removing or reordering apps changes no other app's URNs or inputs", async () => {
        await fc.assert(
            fc.asyncProperty(stackArb, appsArb(5), appsArb(2), async (stack, apps, extra) => {
                const added = extra.filter((e) => !apps.some((a) => a.name === e.name));
                const dbOf = dbNumbering([...apps, ...added].map((a) => a.name));
                const before = await resourcesByApp(stack, apps, dbOf);
                const variants: [string, AppSpec[]][] = [
                    ["added", [...apps, ...added]],
                    ["removed", apps.slice(1)],
                    ["reordered", [...apps].reverse()],
                ];
                for (const [change, variant] of variants) {
                    const after = await resourcesByApp(stack, variant, dbOf);
                    for (const [app, resources] of after) {
                        const old = before.get(app);
                        if (old === undefined) continue; // the app that was added
                        assert.deepStrictEqual([...resources.keys()].sort(), [...old.keys()].sort(), `${change}: URNs of ${app}`);
                        for (const [urn, inputs] of resources) assert.deepStrictEqual(inputs, old.get(urn), `${change}: inputs of ${urn}`);
                    }
                }
            }),
            { numRuns: 10 },
        );
    });
});
