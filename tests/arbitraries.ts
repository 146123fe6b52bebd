// fast-check generators for valid stack configs, shared by the planner and stability properties.
import * as fc from "fast-check";
import { isReservedName } from "../components/engine";
import { ENGINES } from "../components/engines";

/**
 * Valid app names that no engine reserves and whose servers' object names cannot collide (both
 * rejected by validation, tested there): only a name ending in "headless" can collide.
 */
export const appNameArb = fc
    .stringMatching(/^[a-z]([a-z0-9_]{0,10}[a-z0-9])?$/)
    .filter((name) => ENGINES.every((engine) => !isReservedName(engine, name)) && !name.endsWith("headless"));
const placementArb = fc.constantFrom("shared", "dedicated");
const backupArb = fc.oneof(fc.constant(false as const), fc.record({ keep: fc.integer({ min: 1, max: 30 }) }));

/** `moving`: the app's data of the engine moves to its placement from the other one (`moveFrom`). */
type Use = { placement?: "shared" | "dedicated"; moving?: boolean };

export interface AppSpec {
    name: string;
    placement?: "shared" | "dedicated";
    /** `backup` and a restore of `latest` count only in stacks with backups. */
    postgresql?: Use & { connectionLimit?: number; backup?: false | { keep: number }; restoreLatest?: boolean };
    redis?: Use & { backup?: false | { keep: number } };
    mysql?: Use;
    mongodb?: Use;
    qdrant?: Use;
    /** Neo4j Enterprise; used only by apps whose names are long enough for a Neo4j database. */
    neo4j?: Use;
}

/** Apps with unique names, each using any of the engines with optional placements. */
export const appsArb = (maxApps = 12, minApps = 1) =>
    fc.uniqueArray(
        fc.record(
            {
                name: appNameArb,
                placement: placementArb,
                postgresql: fc.record({ placement: placementArb, moving: fc.boolean(), connectionLimit: fc.integer({ min: 1, max: 8 }), backup: backupArb, restoreLatest: fc.boolean() }, { requiredKeys: [] }),
                redis: fc.record({ placement: placementArb, moving: fc.boolean(), backup: backupArb }, { requiredKeys: [] }),
                mysql: fc.record({ placement: placementArb, moving: fc.boolean() }, { requiredKeys: [] }),
                mongodb: fc.record({ placement: placementArb, moving: fc.boolean() }, { requiredKeys: [] }),
                qdrant: fc.record({ placement: placementArb, moving: fc.boolean() }, { requiredKeys: [] }),
                neo4j: fc.record({ placement: placementArb }, { requiredKeys: [] }),
            },
            { requiredKeys: ["name"] },
        ),
        { selector: (a) => a.name, minLength: minApps, maxLength: maxApps },
    ) as fc.Arbitrary<AppSpec[]>;

/** An edit of a stack's app list, as an operator makes it in the YAML. */
export interface AppsChange {
    before: AppSpec[];
    /** `before` without `removed`, plus `added`, in a new order. */
    after: AppSpec[];
    added: string[];
    removed: string[];
}

/**
 * Edits of a list of up to `maxApps` apps: any subset removed, up to `maxAdded` new apps added,
 * and the resulting list in any order. It shrinks towards no removal, no addition and the same
 * order, so a counterexample shows the smallest edit that moves something.
 */
export const appsChangeArb = (maxApps: number, maxAdded: number): fc.Arbitrary<AppsChange> =>
    fc
        .record({
            before: appsArb(maxApps),
            extra: appsArb(maxAdded, 0),
            // removed[i]: before[i] is removed (missing entries: kept).
            removed: fc.array(fc.boolean(), { maxLength: maxApps }),
            // Sort keys of the edited list (missing entries: 0; ties keep the list's order).
            order: fc.array(fc.nat(), { maxLength: maxApps + maxAdded }),
        })
        .map(({ before, extra, removed, order }) => {
            const added = extra.filter((e) => !before.some((a) => a.name === e.name));
            const kept = before.filter((_, i) => !removed[i]);
            const after = [...kept, ...added]
                .map((app, i) => ({ app, key: order[i] ?? 0, i }))
                .sort((a, b) => a.key - b.key || a.i - b.i)
                .map(({ app }) => app);
            return { before, after, added: added.map((a) => a.name), removed: before.filter((_, i) => removed[i]).map((a) => a.name) };
        });

export const stackArb = fc.record({
    placement: placementArb,
    postgresqlPlacement: fc.option(placementArb, { nil: undefined }),
    redisPlacement: fc.option(placementArb, { nil: undefined }),
    backups: fc.boolean(),
});

/**
 * A raw stack config for these apps. Redis db numbers are fixed per app name by `dbOf`, as an
 * operator fixes them in the YAML: they never depend on the app's position in the list.
 */
export function rawConfig(stack: { placement: string; postgresqlPlacement?: string; redisPlacement?: string; backups?: boolean }, apps: AppSpec[], dbOf: (app: string) => number) {
    const rawApps: Record<string, unknown> = {};
    const enginePlacement: Record<string, string | undefined> = { postgresql: stack.postgresqlPlacement, redis: stack.redisPlacement };
    for (const app of apps) {
        const entry: Record<string, unknown> = {};
        if (app.placement) entry.placement = app.placement;
        // A move names the other placement than the one the app's engine ends up on.
        const use = (engine: string, given: Use) => {
            const { moving, ...rest } = given;
            const placement = rest.placement ?? app.placement ?? enginePlacement[engine] ?? stack.placement;
            return { ...rest, ...(moving && { moveFrom: placement === "shared" ? "dedicated" : "shared" }) };
        };
        if (app.postgresql) {
            const { backup, restoreLatest, ...given } = app.postgresql;
            // A move and a restore at once are refused.
            const restore = stack.backups && backup !== false && restoreLatest && !given.moving ? { restore: { from: "latest" } } : {};
            entry.postgresql = { ...use("postgresql", given), ...(stack.backups && backup !== undefined ? { backup } : {}), ...restore };
        }
        if (app.redis) {
            const { backup, ...given } = app.redis;
            entry.redis = { ...use("redis", given), db: dbOf(app.name), ...(stack.backups && backup !== undefined ? { backup } : {}) };
        }
        if (app.mysql) entry.mysql = use("mysql", app.mysql);
        if (app.mongodb) entry.mongodb = use("mongodb", app.mongodb);
        if (app.qdrant) entry.qdrant = { ...use("qdrant", app.qdrant), collections: { docs: { size: 8, distance: "Cosine" } } };
        if (app.neo4j && app.name.length >= 3) entry.neo4j = { ...app.neo4j };
        rawApps[app.name] = entry;
    }
    return {
        target: "kubernetes",
        placement: stack.placement,
        kubernetes: { namespace: "databases" },
        engines: {
            // 12 apps at the default 20 connections fit (the budget itself is tested in guardrails.test.ts).
            postgresql: { maxConnections: 300, ...(stack.postgresqlPlacement ? { placement: stack.postgresqlPlacement } : {}) },
            redis: { databases: 64, ...(stack.redisPlacement ? { placement: stack.redisPlacement } : {}) },
            // 12 apps × 20 connections fit: the budget itself is tested in guardrails.test.ts.
            mysql: { maxConnections: 300 },
            mongodb: {},
            qdrant: {},
            neo4j: { edition: "enterprise", acceptLicenseAgreement: true, ...(stack.backups ? { backup: { enabled: false } } : {}) },
        },
        apps: rawApps,
        ...(stack.backups ? { backup: { destination: { volume: { sizeGi: 5 } } } } : {}),
    };
}

/** A stable, collision-free db number per app within one generated config (max 64 apps). */
export function dbNumbering(names: string[]): (app: string) => number {
    const sorted = [...new Set(names)].sort();
    return (app) => sorted.indexOf(app);
}
