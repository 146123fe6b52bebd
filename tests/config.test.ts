import * as assert from "assert";
import { ConfigError, parseStackConfig } from "../stacks/config";
import { loadStackConfig, runStack } from "../stacks/program";
import { readRawConfig } from "../stacks/read";
import { runProgram } from "./helpers/pulumi";
import { problemsOf } from "./helpers/config";

function base(): Record<string, any> {
    return {
        target: "kubernetes",
        placement: "shared",
        kubernetes: { namespace: "databases" },
        engines: { postgresql: {}, redis: {} },
        apps: {
            digi_core: { postgresql: {}, redis: { db: 0 } },
            lernmi: { postgresql: {}, redis: { db: 1 } },
        },
    };
}

function expectProblem(raw: unknown, ...fragments: string[]): void {
    const problems = problemsOf(raw);
    const hit = problems.find((p) => fragments.every((f) => p.includes(f)));
    assert.ok(hit, `no problem mentions ${JSON.stringify(fragments)}; got:\n${problems.join("\n")}`);
}

describe("stack config", () => {
    it("accepts the contract and fills in the defaults from the seeds", () => {
        const config = parseStackConfig(base());
        assert.strictEqual(config.engines.postgresql?.image, "postgres:18");
        assert.deepStrictEqual(config.engines.postgresql?.resources, {
            requests: { memory: "256Mi", cpu: "250m" },
            limits: { memory: "512Mi", cpu: "500m" },
        });
        assert.strictEqual(config.engines.postgresql?.storageGi, 2);
        assert.deepStrictEqual(config.engines.redis?.resources, {
            requests: { memory: "128Mi", cpu: "100m" },
            limits: { memory: "256Mi", cpu: "250m" },
        });
        assert.strictEqual(config.engines.redis?.storageGi, 1);
        assert.strictEqual((config.engines.redis?.options as { databases: number }).databases, 16);
        assert.strictEqual(config.apps.digi_core.namespace, "digi-core");
        assert.strictEqual((config.apps.digi_core.uses.postgresql?.options as { connectionLimit: number }).connectionLimit, 20);
        assert.strictEqual(config.protect, false);
        assert.deepStrictEqual(config.decommission, []);
    });

    it("gives MySQL its defaults: 8.4, 512Mi/250m requests, 1Gi/500m limits, 2Gi, 20 connections", () => {
        const raw = base();
        raw.engines.mysql = {};
        raw.apps.lernmi.mysql = {};
        const config = parseStackConfig(raw);
        assert.strictEqual(config.engines.mysql?.image, "mysql:8.4");
        assert.deepStrictEqual(config.engines.mysql?.resources, {
            requests: { memory: "512Mi", cpu: "250m" },
            limits: { memory: "1Gi", cpu: "500m" },
        });
        assert.strictEqual(config.engines.mysql?.storageGi, 2);
        assert.deepStrictEqual(config.apps.lernmi.uses.mysql, { placement: "shared", hostPort: undefined, options: { maxConnections: 20 } });
    });

    it("resolves placement with app+engine > app > engine > stack", () => {
        const raw = base();
        raw.placement = "shared";
        raw.engines.postgresql = { placement: "dedicated" };
        raw.apps.digi_core = { placement: "shared", postgresql: {}, redis: { db: 0 } };
        raw.apps.lernmi = { placement: "shared", postgresql: { placement: "dedicated" }, redis: { db: 1, placement: "dedicated" } };
        raw.apps.beep_boop = { postgresql: {}, redis: { db: 2 } };
        const apps = parseStackConfig(raw).apps;
        assert.strictEqual(apps.digi_core.uses.postgresql?.placement, "shared", "app beats engine");
        assert.strictEqual(apps.lernmi.uses.postgresql?.placement, "dedicated", "app+engine beats app");
        assert.strictEqual(apps.lernmi.uses.redis?.placement, "dedicated", "app+engine beats app");
        assert.strictEqual(apps.beep_boop.uses.postgresql?.placement, "dedicated", "engine beats stack");
        assert.strictEqual(apps.beep_boop.uses.redis?.placement, "shared", "stack is the fallback");
    });

    it("merges partial resources over the engine defaults", () => {
        const raw = base();
        raw.engines.postgresql = { resources: { limits: { memory: "2Gi" } } };
        const r = parseStackConfig(raw).engines.postgresql!.resources;
        assert.deepStrictEqual(r, { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "2Gi", cpu: "500m" } });
    });

    it("gives a dedicated Redis tenant db 0 when none is set", () => {
        const raw = base();
        raw.apps.lernmi.redis = { placement: "dedicated" };
        assert.deepStrictEqual(parseStackConfig(raw).apps.lernmi.uses.redis?.options, { db: 0, scripting: false });
    });

    describe("rejects, naming the path, the value and what is allowed", () => {
        it("an unknown top-level key", () => {
            const raw = { ...base(), extra: 1 };
            expectProblem(raw, "extra: unknown key", "allowed: target, placement, kubernetes, engines, apps, protect, decommission, backup");
        });
        it("an unknown key inside an app and inside an engine", () => {
            const raw = base();
            raw.apps.lernmi.postgresql = { connectionLimt: 5 };
            raw.engines.redis = { databses: 4 };
            const problems = problemsOf(raw);
            assert.ok(problems.some((p) => p.startsWith("apps.lernmi.postgresql.connectionLimt: unknown key; allowed: placement, hostPort, backup, restore, moveFrom, connectionLimit")), problems.join("\n"));
            assert.ok(problems.some((p) => p.startsWith("engines.redis.databses: unknown key") && p.includes("databases")), problems.join("\n"));
        });
        it("an unknown engine", () => {
            const raw = base();
            raw.engines.cassandra = {};
            expectProblem(raw, "engines.cassandra: unknown key", "postgresql, mysql, mongodb, redis, qdrant, neo4j");
        });
        it("Qdrant apps without collections, or with bad names, sizes or distances", () => {
            const raw = base();
            raw.engines.qdrant = {};
            raw.apps.lernmi.qdrant = {};
            expectProblem(raw, "apps.lernmi.qdrant.collections: missing; expected a map of keys");
            raw.apps.lernmi.qdrant = { collections: {} };
            expectProblem(raw, "apps.lernmi.qdrant.collections: {}: at least one collection");
            raw.apps.lernmi.qdrant = { collections: { Docs: { size: 768, distance: "Cosine" } } };
            expectProblem(raw, 'apps.lernmi.qdrant.collections: "Docs" is not a valid name; expected a collection name');
            raw.apps.lernmi.qdrant = { collections: { docs: { size: 0, distance: "cosine" } } };
            expectProblem(raw, "apps.lernmi.qdrant.collections.docs.size: 0 is too small; expected at least 1");
            expectProblem(raw, 'apps.lernmi.qdrant.collections.docs.distance: "cosine" is not allowed; expected one of Cosine, Dot, Euclid, Manhattan');
        });
        it("Kubernetes settings on the Docker target", () => {
            expectProblem({ ...base(), target: "docker" }, "kubernetes: only for target kubernetes; this stack's target is docker");
        });
        it("host ports off the Docker target, on the wrong placement, or used twice", () => {
            const raw = base();
            raw.engines.postgresql = { hostPort: 5432 };
            expectProblem(raw, "engines.postgresql.hostPort: only for target docker; this stack's target is kubernetes");

            const docker = { ...base(), target: "docker" } as Record<string, any>;
            delete docker.kubernetes;
            docker.engines = { postgresql: { hostPort: 15432 }, redis: { hostPort: 16379 } };
            docker.apps.lernmi.postgresql = { hostPort: 15433 };
            expectProblem(docker, "apps.lernmi.postgresql.hostPort: lernmi is on the shared postgresql server; set engines.postgresql.hostPort instead");
            docker.apps.lernmi.postgresql = { placement: "dedicated", hostPort: 16379 };
            expectProblem(docker, "apps.lernmi.postgresql.hostPort: 16379 is already used by engines.redis.hostPort");
            docker.apps.lernmi.postgresql = { placement: "dedicated", hostPort: 15433 };
            assert.doesNotThrow(() => parseStackConfig(docker));
            docker.engines.redis = { placement: "dedicated", hostPort: 16379 };
            expectProblem(docker, "engines.redis.hostPort: no app is on a shared redis server");
            docker.engines.redis = { hostPort: 70000 };
            expectProblem(docker, "engines.redis.hostPort: 70000 is too big; expected at most 65535");
        });
        it("a bad target or placement", () => {
            expectProblem({ ...base(), target: "nomad" }, "target: \"nomad\" is not allowed; expected one of kubernetes, docker");
            expectProblem({ ...base(), placement: "sharde" }, "placement: \"sharde\" is not allowed; expected one of shared, dedicated");
            const raw = base();
            raw.apps.lernmi.redis.placement = "private";
            expectProblem(raw, "apps.lernmi.redis.placement: \"private\" is not allowed; expected one of shared, dedicated");
        });
        it("a missing target", () => {
            const raw = base();
            delete raw.target;
            expectProblem(raw, "target: missing");
        });
        it("an app using an engine that is not enabled", () => {
            const raw = base();
            delete raw.engines.redis;
            expectProblem(raw, "apps.digi_core.redis: engine redis is not enabled", "add engines.redis", "enabled: postgresql");
        });
        it("bad app names", () => {
            for (const name of ["Lernmi", "1app", "beep-boop", "a".repeat(41), "_x", "lernmi_"]) {
                const raw = base();
                raw.apps[name] = { postgresql: {} };
                expectProblem(raw, `apps: ${JSON.stringify(name)} is not a valid app name`, "lowercase letter");
            }
        });
        it("app names an engine reserves for itself", () => {
            const raw = base();
            raw.apps.postgres = { postgresql: {} };
            raw.apps.pg_stats = { postgresql: {} };
            raw.apps.admin = { redis: { db: 5 } };
            raw.apps.default = { redis: { db: 6 } };
            const problems = problemsOf(raw);
            for (const path of ["apps.postgres.postgresql", "apps.pg_stats.postgresql", "apps.admin.redis", "apps.default.redis"]) {
                assert.ok(problems.some((p) => p.startsWith(`${path}: the app name`) && p.includes("reserved")), `${path}:\n${problems.join("\n")}`);
            }
        });
        it("MySQL app names MySQL keeps or cannot hold, and bad connection limits", () => {
            const raw = base();
            raw.engines.mysql = {};
            raw.apps.mysql = { mysql: {} };
            raw.apps["a".repeat(33)] = { mysql: {} };
            expectProblem(raw, "apps.mysql.mysql: the app name \"mysql\" is reserved by mysql");
            expectProblem(raw, `apps.${"a".repeat(33)}.mysql: the app name has 33 characters; MySQL user names allow at most 32`);
            raw.apps.lernmi.mysql = { maxConnections: 0 };
            expectProblem(raw, "apps.lernmi.mysql.maxConnections: 0 is too small; expected at least 1");
        });
        it("a bad namespace", () => {
            const raw = base();
            raw.apps.lernmi.namespace = "Lernmi_NS";
            expectProblem(raw, "apps.lernmi.namespace: \"Lernmi_NS\" is not allowed; expected a DNS label");
            expectProblem({ ...base(), kubernetes: { namespace: "-db" } }, "kubernetes.namespace: \"-db\"");
        });
        it("a Redis db already used on the shared server, listing the free numbers", () => {
            const raw = base();
            raw.apps.beep_boop = { redis: { db: 0 } };
            raw.apps.lernmi.redis.db = 3;
            expectProblem(raw, "apps.digi_core.redis.db: 0 is already used by apps.beep_boop; free numbers: 1-2, 4-15");
        });
        it("a Redis db out of range, with the configured number of databases", () => {
            const raw = base();
            raw.engines.redis = { databases: 4 };
            raw.apps.lernmi.redis.db = 4;
            expectProblem(raw, "apps.lernmi.redis.db: 4 is out of range", "engines.redis.databases is 4", "allowed: 0-3");
            raw.apps.lernmi.redis.db = -1;
            expectProblem(raw, "apps.lernmi.redis.db: -1 is too small; expected at least 0");
        });
        it("a shared Redis tenant without a db number", () => {
            const raw = base();
            raw.apps.lernmi.redis = {};
            expectProblem(raw, "apps.lernmi.redis.db: missing", "free numbers: 1-15");
        });
        it("non-positive sizes and limits", () => {
            const raw = base();
            raw.engines.postgresql = { storageGi: 0 };
            raw.apps.lernmi.postgresql = { connectionLimit: 0 };
            raw.engines.redis = { databases: 0 };
            expectProblem(raw, "engines.postgresql.storageGi: 0 is too small; expected more than 0");
            expectProblem(raw, "apps.lernmi.postgresql.connectionLimit: 0 is too small; expected at least 1");
            expectProblem(raw, "engines.redis.databases: 0 is too small; expected at least 1");
        });
        it("non-integer numbers where integers are needed", () => {
            const raw = base();
            raw.apps.lernmi.redis.db = 1.5;
            expectProblem(raw, "apps.lernmi.redis.db: 1.5 is not an integer");
        });
        it("bad resource quantities and requests above limits", () => {
            const raw = base();
            raw.engines.postgresql = { resources: { requests: { memory: "lots" } } };
            expectProblem(raw, "engines.postgresql.resources.requests.memory: \"lots\" is not allowed; expected a memory quantity");
            raw.engines.postgresql = { resources: { requests: { memory: "1Gi", cpu: "0" } } };
            const problems = problemsOf(raw);
            assert.ok(problems.some((p) => p.includes("requests.memory: 1Gi is more than limits.memory 512Mi")), problems.join("\n"));
            assert.ok(problems.some((p) => p.includes("requests.cpu: 0 must be more than 0")), problems.join("\n"));
        });
        it("a PostgreSQL version without a major version", () => {
            const raw = base();
            raw.engines.postgresql = { version: "latest" };
            expectProblem(raw, "engines.postgresql.version: \"latest\" does not start with a PostgreSQL major version");
        });
        it("one admin endpoint for several dedicated servers", () => {
            const raw = base();
            raw.engines.postgresql = { placement: "dedicated", adminEndpoint: { host: "db.example.com", port: 5432 } };
            expectProblem(raw, "engines.postgresql.adminEndpoint.host: \"db.example.com\" would point 2 postgresql servers at one address", "{server}");
            raw.engines.postgresql.adminEndpoint.host = "{server}.db.example.com";
            assert.doesNotThrow(() => parseStackConfig(raw));
        });
        it("bad decommission entries", () => {
            expectProblem({ ...base(), decommission: ["lernmi", "lernmi"] }, "decommission[1]: \"lernmi\" is listed twice");
            expectProblem({ ...base(), decommission: ["Bad"] }, "decommission[0]: \"Bad\" is not allowed");
        });
        it("a value of the wrong type", () => {
            expectProblem({ ...base(), protect: "yes" }, "protect: \"yes\" is not true or false");
            expectProblem({ ...base(), apps: [] }, "apps: [] is not a map of keys");
        });
        it("every problem at once", () => {
            const raw = base();
            raw.apps.lernmi.redis.db = 0;
            raw.apps.digi_core.postgresql = { placement: "dedicated" };
            raw.engines.postgresql = { version: "x" };
            assert.strictEqual(problemsOf(raw).length, 2);
        });
    });

    it("reads this project's keys from the stack config, JSON values parsed, strings kept", () => {
        const raw = readRawConfig({
            "tenant-databases:target": "kubernetes",
            "tenant-databases:protect": "true",
            "tenant-databases:apps": JSON.stringify({ a: { redis: { db: 1 } } }),
            "other-project:target": "docker",
        });
        assert.deepStrictEqual(raw, { target: "kubernetes", protect: true, apps: { a: { redis: { db: 1 } } } });
    });

    it("registers nothing when the config is invalid", async () => {
        const raw = base();
        raw.apps.lernmi.redis.db = 0;
        const run = runProgram(() => runStack(loadStackConfig()), { config: raw });
        await assert.rejects(run, (err: unknown) => err instanceof ConfigError && err.message.includes("apps.lernmi.redis.db: 0 is already used"));
        // A second run with a recorder shows the failing program registered no resource at all.
        let registered = -1;
        await runProgram(
            () => {
                try {
                    runStack(loadStackConfig());
                } catch {
                    /* expected */
                }
            },
            { config: raw },
        ).then((r) => (registered = r.resources.length));
        assert.strictEqual(registered, 0);
    });
});
