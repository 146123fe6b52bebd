// The backup keys of the stack config: how schedule and keep resolve (app > engine > stack >
// default), and every combination refused before any resource exists.
import * as assert from "assert";
import { BACKUP_DEFAULTS, cronProblem, defaultSchedule, restoreFromProblem } from "../components/backup-plan";
import { parseStackConfig } from "../stacks/config";
import { planTopology } from "../stacks/plan";
import { backupsOf } from "../stacks/backups";
import { problemsOf } from "./helpers/config";

const S3 = { s3: { bucket: "tenant-backups", prefix: "prod/", credentialsSecret: "backup-s3" } };

function k8s(extra: Record<string, unknown>) {
    return { target: "kubernetes", engines: { postgresql: {}, redis: {} }, apps: { app_a: { postgresql: {}, redis: { db: 0 } } }, ...extra };
}

describe("backup config", () => {
    it("resolves schedule and keep per app and engine: app over engine over stack over the defaults", () => {
        const config = parseStackConfig({
            target: "kubernetes",
            engines: { postgresql: { backup: { schedule: "0 */6 * * *" } }, redis: { backup: { keep: 3 } }, mysql: { backup: { enabled: false } } },
            apps: {
                app_a: { postgresql: { backup: { keep: 30 } }, redis: { db: 0 }, mysql: {} },
                app_b: { postgresql: { backup: false }, redis: { db: 1, backup: { schedule: "@hourly" } } },
            },
            backup: { keep: 14, destination: S3 },
        });
        assert.deepStrictEqual(config.backup, { destination: S3 });
        assert.deepStrictEqual(config.apps.app_a.uses.postgresql.backup, { schedule: "0 */6 * * *", keep: 30 });
        assert.deepStrictEqual(config.apps.app_a.uses.redis.backup, { schedule: defaultSchedule("app_a", "redis"), keep: 3 });
        assert.strictEqual(config.apps.app_a.uses.mysql.backup, undefined, "engines.mysql.backup.enabled: false");
        assert.strictEqual(config.apps.app_b.uses.postgresql.backup, undefined, "apps.app_b.postgresql.backup: false");
        assert.deepStrictEqual(config.apps.app_b.uses.redis.backup, { schedule: "@hourly", keep: 3 });
        // The planner hands them to the tenants.
        const redis = planTopology(config).servers.find((s) => s.engine === "redis")!;
        assert.deepStrictEqual(
            redis.tenants.map((t) => [t.app, t.backup]),
            [
                ["app_a", { schedule: defaultSchedule("app_a", "redis"), keep: 3 }],
                ["app_b", { schedule: "@hourly", keep: 3 }],
            ],
        );
    });

    it("spreads the default schedules of a server's tenants over the 03:00 UTC hour", () => {
        const apps = Array.from({ length: 20 }, (_, i) => `app_${i}`);
        const minutes = apps.map((a) => defaultSchedule(a, "redis"));
        for (const m of minutes) assert.match(m, /^([0-9]|[1-5][0-9]) 3 \* \* \*$/);
        assert.ok(new Set(minutes).size >= 10, `20 apps get ${new Set(minutes).size} different minutes`);
        assert.strictEqual(defaultSchedule("app_1", "redis"), defaultSchedule("app_1", "redis"), "stable across runs");
        assert.notStrictEqual(defaultSchedule("app_1", "redis"), defaultSchedule("app_1", "postgresql"));
    });

    it("has no backups, and no backup fields, without tenant-databases:backup", () => {
        const config = parseStackConfig(k8s({}));
        assert.strictEqual(config.backup, undefined);
        assert.ok(Object.values(config.apps.app_a.uses).every((u) => !("backup" in u) && !("restore" in u)));
        assert.ok(Object.values(config.engines).every((e) => !("backup" in e)));
        assert.ok(planTopology(config).servers.every((s) => s.tenants.every((t) => !("backup" in t) && !("restore" in t))));
    });

    it("keeps a restore, with replace false unless set", () => {
        const config = parseStackConfig(k8s({ backup: { destination: S3 }, apps: { app_a: { postgresql: { restore: { from: "app_a-postgresql-20261101T030000Z.pgdump" } }, redis: { db: 0, restore: { from: "latest", replace: true } } } } }));
        assert.deepStrictEqual(config.apps.app_a.uses.postgresql.restore, { from: "app_a-postgresql-20261101T030000Z.pgdump", replace: false });
        assert.deepStrictEqual(config.apps.app_a.uses.redis.restore, { from: "latest", replace: true });
    });

    const refused: [string, Record<string, unknown>, RegExp][] = [
        ["a bad cron expression", { backup: { schedule: "every night", destination: S3 } }, /^backup\.schedule: .*has 2 fields; expected five/],
        ["a minute out of range", { backup: { schedule: "61 * * * *", destination: S3 } }, /^backup\.schedule: .*minute "61".*expected 0-59/],
        ["keep below 1", { backup: { keep: 0, destination: S3 } }, /^backup\.keep: 0 is too small; expected at least 1/],
        ["two destinations", { backup: { destination: { ...S3, volume: { sizeGi: 5 } } } }, /^backup\.destination: .*exactly one destination, not s3 and volume/],
        ["no destination", { backup: { destination: {} } }, /^backup\.destination: .*exactly one destination, not none/],
        ["a host directory on Kubernetes", { backup: { destination: { directory: "./backups" } } }, /^backup\.destination\.directory: not on target kubernetes; expected s3 or volume/],
        ["engine settings without a stack destination", { engines: { postgresql: { backup: { keep: 3 } }, redis: {} } }, /^engines\.postgresql\.backup: the stack has no backup destination/],
        [
            "an app's backup with its engine turned off",
            { backup: { destination: S3 }, engines: { postgresql: { backup: { enabled: false } }, redis: {} }, apps: { app_a: { postgresql: { backup: { keep: 2 } } } } },
            /^apps\.app_a\.postgresql\.backup: postgresql is not backed up in this stack/,
        ],
        ["a restore without backups", { apps: { app_a: { postgresql: { restore: { from: "latest" } } } } }, /^apps\.app_a\.postgresql\.restore: app_a has no postgresql backups to restore from \(the stack has no tenant-databases:backup\)/],
        [
            "a restore of an app whose backups are off",
            { backup: { destination: S3 }, apps: { app_a: { postgresql: { backup: false, restore: { from: "latest" } } } } },
            /^apps\.app_a\.postgresql\.restore: app_a has no postgresql backups to restore from \(apps\.app_a\.postgresql\.backup is false\)/,
        ],
        [
            "a restore of an engine whose backups are off",
            { backup: { destination: S3 }, engines: { postgresql: { backup: { enabled: false } }, redis: {} }, apps: { app_a: { postgresql: { restore: { from: "latest" } } } } },
            /^apps\.app_a\.postgresql\.restore: app_a has no postgresql backups to restore from \(engines\.postgresql\.backup\.enabled is false\)/,
        ],
        [
            "a restore of another app's backup",
            { backup: { destination: S3 }, apps: { app_a: { postgresql: { restore: { from: "app_b-postgresql-20261101T030000Z.pgdump" } } } } },
            /^apps\.app_a\.postgresql\.restore\.from: "app_b-postgresql-20261101T030000Z\.pgdump" is not a backup of app_a's postgresql data; expected latest or an id such as app_a-postgresql-/,
        ],
        [
            "Neo4j Community, which cannot dump one database while it runs",
            { backup: { destination: S3 }, engines: { neo4j: {} }, apps: { app_a: { neo4j: {} } } },
            /^engines\.neo4j\.backup: .*Community.*; set engines\.neo4j\.backup\.enabled: false to run neo4j without backups/,
        ],
    ];
    for (const [what, extra, expected] of refused) {
        it(`refuses ${what}, naming the key`, () => {
            const problems = problemsOf(k8s(extra));
            assert.ok(problems.some((p) => expected.test(p)), problems.join("\n"));
        });
    }

    it("refuses a declarative restore and s3 on the Docker target, naming the command to use", () => {
        const docker = { target: "docker", engines: { postgresql: {} }, backup: { destination: { directory: "./backups" } } };
        const problems = problemsOf({ ...docker, apps: { app_a: { postgresql: { restore: { from: "latest" } } } } });
        assert.deepStrictEqual(problems, ["apps.app_a.postgresql.restore: not on target docker; run npm run restore -- app_a --engine postgresql --from latest"]);
        assert.deepStrictEqual(problemsOf({ ...docker, backup: { destination: S3 }, apps: { app_a: { postgresql: {} } } }), ["backup.destination.s3: not on target docker; expected directory"]);
        assert.ok(parseStackConfig({ ...docker, apps: { app_a: { postgresql: {} } } }).apps.app_a.uses.postgresql.backup);
    });

    it("refuses a schedule on the Docker target, where nothing runs one", () => {
        const problems = problemsOf({
            target: "docker",
            engines: { postgresql: { backup: { schedule: "@daily" } } },
            apps: { app_a: { postgresql: { backup: { schedule: "@hourly" } } } },
            backup: { schedule: "@daily", destination: { directory: "./backups" } },
        });
        assert.deepStrictEqual(
            problems.map((p) => p.split(":")[0]),
            ["backup.schedule", "engines.postgresql.backup.schedule", "apps.app_a.postgresql.backup.schedule"],
        );
        assert.match(problems[0], /no scheduler runs; run npm run backup -- <app> \(from cron for a schedule\)/);
    });

    it("lists each app's backups for the `backups` output and npm run plan, without secrets", () => {
        const config = parseStackConfig(k8s({ backup: { destination: S3 }, apps: { app_a: { postgresql: { restore: { from: "latest" } }, redis: { db: 0, backup: false } } } }));
        assert.deepStrictEqual(backupsOf(config, planTopology(config)), {
            app_a: { postgresql: { schedule: defaultSchedule("app_a", "postgresql"), keep: BACKUP_DEFAULTS.keep, destination: "s3://tenant-backups/prod", server: "postgresql", restore: { from: "latest", replace: false } } },
        });
        const docker = parseStackConfig({ target: "docker", engines: { redis: {} }, apps: { app_a: { redis: { db: 0 } } }, backup: { destination: { directory: "./backups" } } });
        assert.deepStrictEqual(backupsOf(docker, planTopology(docker)).app_a.redis, { keep: 7, destination: "directory ./backups (npm run backup)", server: "redis" });
        assert.deepStrictEqual(backupsOf(parseStackConfig(k8s({})), planTopology(parseStackConfig(k8s({})))), {});
    });

    it("knows cron as a CronJob does: fields, lists, ranges, steps, names, macros", () => {
        for (const ok of ["0 */6 * * *", "30 2 * * 1-5", "0 0 1,15 * *", "15 3 * JAN-MAR sun", "0 0 ? * 6", "@daily", "@hourly", "*/5 0-23/2 * * *"]) {
            assert.strictEqual(cronProblem(ok), undefined, ok);
        }
        for (const bad of ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "@every 5m", "@reboot", "? * * * *", "1-2-3 * * * *"]) {
            assert.ok(cronProblem(bad), `${JSON.stringify(bad)} is refused`);
        }
    });

    it("takes as restore source only latest or this app's and engine's backup ids", () => {
        assert.strictEqual(restoreFromProblem("app_a", "redis", "redis", "latest"), undefined);
        assert.strictEqual(restoreFromProblem("app_a", "redis", "redis", "app_a-redis-20261123T030000Z.redis"), undefined);
        for (const bad of ["app_a-redis-20261123T030000Z.pgdump", "app_ab-redis-20261123T030000Z.redis", "app_a-redis-20261123T030000Z.redis.partial", "../app_a-redis-20261123T030000Z.redis", "app_a-redis-2026-11-23.redis"]) {
            assert.ok(restoreFromProblem("app_a", "redis", "redis", bad), bad);
        }
    });
});
