import * as assert from "assert";
import * as fc from "fast-check";
import { capacityOf } from "../stacks/capacity";
import { parseStackConfig } from "../stacks/config";
import { ENGINE_NAMES as ENGINES } from "../components/engines";
import { Topology, planTopology } from "../stacks/plan";
import { AppSpec, appsArb, dbNumbering, rawConfig, stackArb } from "./arbitraries";

function plan(stack: Parameters<typeof rawConfig>[0], apps: AppSpec[], dbOf = dbNumbering(apps.map((a) => a.name))): Topology {
    return planTopology(parseStackConfig(rawConfig(stack, apps, dbOf)));
}

/** (app, engine) -> the server it lives on. */
function placementMap(topology: Topology): Map<string, string> {
    const map = new Map<string, string>();
    for (const server of topology.servers) for (const t of server.tenants) map.set(`${t.app}/${t.engine}`, server.name);
    return map;
}

describe("planner", () => {
    it("shared: one server per engine holding every tenant", () => {
        const topology = plan({ placement: "shared" }, [
            { name: "digi_core", postgresql: {}, redis: {} },
            { name: "lernmi", postgresql: {}, redis: {} },
            { name: "beep_boop", postgresql: {} },
        ]);
        assert.deepStrictEqual(
            topology.servers.map((s) => [s.name, s.placement, s.tenants.map((t) => t.app)]),
            [
                ["postgresql", "shared", ["beep_boop", "digi_core", "lernmi"]],
                ["redis", "shared", ["digi_core", "lernmi"]],
            ],
        );
    });

    it("dedicated: one server per engine and app, named from both", () => {
        const topology = plan({ placement: "dedicated" }, [
            { name: "digi_core", postgresql: {}, redis: {} },
            { name: "lernmi", postgresql: {} },
        ]);
        assert.deepStrictEqual(
            topology.servers.map((s) => [s.name, s.placement, s.tenants.map((t) => t.app)]),
            [
                ["postgresql-digi-core", "dedicated", ["digi_core"]],
                ["postgresql-lernmi", "dedicated", ["lernmi"]],
                ["redis-digi-core", "dedicated", ["digi_core"]],
            ],
        );
    });

    it("mixes placements per engine and app", () => {
        const topology = plan({ placement: "shared", postgresqlPlacement: "dedicated" }, [
            { name: "a", postgresql: {}, redis: {} },
            { name: "b", postgresql: { placement: "shared" }, redis: { placement: "dedicated" } },
            { name: "c", placement: "shared", postgresql: {}, redis: {} },
        ]);
        assert.deepStrictEqual(
            topology.servers.map((s) => [s.name, s.tenants.map((t) => t.app)]),
            [
                ["postgresql", ["b", "c"]],
                ["postgresql-a", ["a"]],
                ["redis", ["a", "c"]],
                ["redis-b", ["b"]],
            ],
        );
    });

    it("carries tenant settings: connection limits and Redis db numbers", () => {
        const topology = plan({ placement: "shared" }, [{ name: "a", postgresql: { connectionLimit: 7 }, redis: {} }], () => 9);
        const pg = topology.servers.find((s) => s.engine === "postgresql")!.tenants[0];
        const redis = topology.servers.find((s) => s.engine === "redis")!.tenants[0];
        assert.deepStrictEqual(pg, {
            engine: "postgresql",
            app: "a",
            namespace: "a",
            options: { connectionLimit: 7, statementTimeoutSeconds: 300, idleInTransactionTimeoutSeconds: 60 },
        });
        assert.deepStrictEqual(redis, { engine: "redis", app: "a", namespace: "a", options: { db: 9, scripting: false } });
    });

    it("sums capacity per engine and in total", () => {
        const topology = plan({ placement: "dedicated" }, [
            { name: "a", postgresql: {}, redis: {} },
            { name: "b", postgresql: {} },
        ]);
        const capacity = capacityOf(topology);
        assert.deepStrictEqual(capacity.engines.postgresql, {
            servers: 2,
            requests: { memoryMi: 512, cpuMillis: 500 },
            limits: { memoryMi: 1024, cpuMillis: 1000 },
            storageGi: 4,
        });
        assert.deepStrictEqual(capacity.total, {
            servers: 3,
            requests: { memoryMi: 640, cpuMillis: 600 },
            limits: { memoryMi: 1280, cpuMillis: 1250 },
            storageGi: 5,
        });
    });

    describe("properties", () => {
        it("every tenant lives on exactly one server (a moving one also keeps its retired tenancy on the server it leaves); shared means one server per engine, dedicated one tenant per server", () => {
            fc.assert(
                fc.property(stackArb, appsArb(), (stack, apps) => {
                    const config = parseStackConfig(rawConfig(stack, apps, dbNumbering(apps.map((a) => a.name))));
                    const topology = planTopology(config);
                    const wanted = new Set<string>();
                    for (const app of Object.values(config.apps)) {
                        for (const engine of ENGINES) if (app.uses[engine]) wanted.add(`${app.name}/${engine}`);
                    }
                    const seen: string[] = topology.servers.flatMap((s) => s.tenants.filter((t) => !t.retired).map((t) => `${t.app}/${t.engine}`));
                    assert.strictEqual(seen.length, new Set(seen).size, "a tenant is on two servers");
                    assert.deepStrictEqual(new Set(seen), wanted);
                    for (const s of topology.servers) {
                        for (const t of s.tenants) {
                            assert.strictEqual(t.engine, s.engine);
                            const use = config.apps[t.app].uses[s.engine];
                            // A retired tenancy is where the app's data is now: the placement it moves from.
                            assert.strictEqual(t.retired ? use.moveFrom : use.placement, s.placement);
                            if (t.moveFrom) assert.ok(topology.servers.some((o) => o.name === t.moveFrom!.server && o.tenants.some((r) => r.app === t.app && r.retired)));
                        }
                        if (s.placement === "dedicated") assert.strictEqual(s.tenants.length, 1);
                    }
                    for (const engine of ENGINES) {
                        assert.ok(topology.servers.filter((s) => s.engine === engine && s.placement === "shared").length <= 1);
                    }
                    const names = topology.servers.map((s) => s.name);
                    assert.strictEqual(names.length, new Set(names).size, "server names collide");
                    for (const name of names) assert.match(name, /^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$/);
                }),
            );
        });

        it("adding, removing or reordering apps changes no other app's server or names", () => {
            fc.assert(
                fc.property(stackArb, appsArb(10), appsArb(3), fc.integer({ min: 0, max: 1000 }), (stack, apps, extra, seed) => {
                    const added = extra.filter((e) => !apps.some((a) => a.name === e.name));
                    const dbOf = dbNumbering([...apps, ...added].map((a) => a.name));
                    const before = placementMap(plan(stack, apps, dbOf));
                    const reordered = [...apps].sort((a, b) => ((a.name.charCodeAt(0) * seed) % 7) - ((b.name.charCodeAt(0) * seed) % 7));
                    const variants = [
                        [...apps, ...added], // added
                        apps.slice(1), // removed the first
                        reordered,
                    ];
                    for (const variant of variants) {
                        const after = placementMap(plan(stack, variant, dbOf));
                        for (const [key, server] of after) {
                            if (before.has(key)) assert.strictEqual(server, before.get(key), `${key} moved`);
                        }
                    }
                }),
            );
        });
    });
});
