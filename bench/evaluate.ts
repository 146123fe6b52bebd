// Benchmark (not a test): evaluates the program under Pulumi mocks for 50 and 500 apps in shared
// placement (PostgreSQL + Redis) and prints time per app, custom resources per app, and the
// dependency depth of the resource graph. Run: npm run bench
import { performance } from "perf_hooks";
import { RecordedResource } from "../tests/helpers/pulumi";
import { runStackConfig } from "../tests/helpers/stacks";
import { benchConfig as config } from "./config";

/** Longest chain of custom resources, following explicit, input and provider dependencies. */
function dependencyDepth(resources: RecordedResource[]): number {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const memo = new Map<string, number>();
    const depth = (r: RecordedResource): number => {
        const known = memo.get(r.urn);
        if (known !== undefined) return known;
        const providerUrn = r.provider ? r.provider.split("::").slice(0, -1).join("::") : "";
        const deps = [...r.dependencies, providerUrn].map((u) => byUrn.get(u)).filter((d): d is RecordedResource => d !== undefined && d.custom);
        const d = 1 + Math.max(0, ...deps.map(depth));
        memo.set(r.urn, d);
        return d;
    };
    return Math.max(...resources.filter((r) => r.custom).map(depth));
}

/** Custom resources that exist for one app: its tenants' resources, passwords and Secret. */
function perAppCustom(resources: RecordedResource[], app: string): number {
    return resources.filter((r) => r.custom && r.name.startsWith(`${app}-`)).length;
}

async function measure(apps: number) {
    const start = performance.now();
    const run = await runStackConfig(config(apps), "bench");
    const ms = performance.now() - start;
    const custom = run.resources.filter((r) => r.custom);
    const perApp = Array.from({ length: apps }, (_, i) => perAppCustom(run.resources, `app${String(i).padStart(4, "0")}`));
    return {
        apps,
        ms: Math.round(ms),
        msPerApp: +(ms / apps).toFixed(2),
        resources: run.resources.length,
        custom: custom.length,
        customPerAppMax: Math.max(...perApp),
        customPerAppMin: Math.min(...perApp),
        serverCustom: custom.length - perApp.reduce((a, b) => a + b, 0),
        depth: dependencyDepth(run.resources),
    };
}

async function main() {
    await measure(5); // warm-up: module loading and JIT
    const rows = [await measure(50), await measure(500)];
    console.table(rows);
    const [small, large] = rows;
    console.log(`time per app, 500 vs 50 apps: x${(large.msPerApp / small.msPerApp).toFixed(2)} (1.00 = linear)`);
    console.log(`custom resources per app (PostgreSQL + Redis, shared, Secret included): ${large.customPerAppMax} (target <= 6)`);
    console.log(`dependency depth: ${small.depth} at 50 apps, ${large.depth} at 500 apps (target: equal)`);
    const ok = large.customPerAppMax <= 6 && small.depth === large.depth;
    if (!ok) process.exitCode = 1;
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
