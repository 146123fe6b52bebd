// Shared servers that one tenant cannot break, as far as config and rendering go: settings
// derived from each server's memory limit, the connection budget, scripting only on dedicated
// Redis, and object names that never collide. Real servers enforce these in *.integration.test.ts.
import * as assert from "assert";
import * as fc from "fast-check";
import { PostgresqlServer, PostgresqlTenant } from "../components/postgresql/postgresql";
import { MysqlServer } from "../components/mysql/mysql";
import { RedisServer, RedisTenant } from "../components/redis/redis";
import { DatabasePlatform } from "../components/platform";
import { MongodbServer } from "../components/mongodb/mongodb";
import { Neo4jServer } from "../components/neo4j/neo4j";
import { QdrantServer, QdrantTenant, QdrantTenantSpec } from "../components/qdrant/qdrant";
import { mongodbServerSettings } from "../components/mongodb/mongodb-settings";
import { mysqlServerSettings } from "../components/mysql/mysql-settings";
import { postgresqlServerSettings } from "../components/postgresql/postgresql-settings";
import { redisServerSettings } from "../components/redis/redis-settings";
import { serverName, serverObjectNames } from "../infra/naming";
import { GIB, MIB, parseMemoryBytes } from "../infra/quantities";
import { ServerRuntime } from "../infra/runtime";
import { capacityOf } from "../stacks/capacity";
import { ConfigError, parseStackConfig } from "../stacks/config";
import { planTopology } from "../stacks/plan";
import { runProgram } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { problemsOf } from "./helpers/config";

const LIMITS = ["256Mi", "512Mi", "1Gi", "4Gi", "16Gi"];

function config(engines: Record<string, unknown>, apps: Record<string, unknown>): Record<string, unknown> {
    return { target: "kubernetes", placement: "shared", kubernetes: { namespace: "databases" }, engines, apps };
}

/** n apps named a0, a1, … using `use` on one engine. */
function apps(n: number, use: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, use]));
}

describe("guardrails: server settings derived from the memory limit", () => {
    for (const limit of LIMITS) {
        const bytes = parseMemoryBytes(limit);
        it(`Redis at ${limit}: maxmemory 70 % of the limit, client buffers inside it, noeviction`, () => {
            const s = redisServerSettings(limit);
            assert.strictEqual(s.maxmemoryBytes, Math.floor(bytes * 0.7));
            assert.strictEqual(s.maxmemoryPolicy, "noeviction");
            assert.ok(s.maxmemoryClientsBytes < s.maxmemoryBytes);
            assert.ok(s.clientQueryBufferLimitBytes >= s.protoMaxBulkLenBytes && s.protoMaxBulkLenBytes >= MIB);
            assert.ok(s.outputBufferLimits.normal[0] <= s.maxmemoryClientsBytes);
            assert.ok(s.maxClients >= 64 && s.maxClients <= 10000);
            assert.strictEqual(s.idleTimeoutSeconds, 300);
        });

        it(`PostgreSQL at ${limit}: shared_buffers a quarter, and every connection's work_mem fits the limit`, () => {
            const s = postgresqlServerSettings(limit, 2);
            assert.ok(Math.abs(s.sharedBuffersBytes - bytes / 4) < 1024);
            assert.ok(s.sharedBuffersBytes + s.maxConnections * s.workMemBytes <= bytes, "max_connections × work_mem + shared_buffers exceed the limit");
            assert.strictEqual(s.maxConnections, Math.max(20, Math.floor(bytes / MIB / 5)));
            assert.strictEqual(s.authenticationTimeoutSeconds, 10);
            assert.strictEqual(s.tempFileLimitBytes, (2 * GIB) / 4);
        });

        it(`MySQL at ${limit}: buffer pool half the limit in 128Mi chunks, session ceilings far below the limit`, () => {
            const s = mysqlServerSettings(limit);
            assert.strictEqual(s.innodbBufferPoolBytes % (128 * MIB), 0);
            assert.ok(s.innodbBufferPoolBytes <= bytes / 2);
            assert.ok(s.tmpTableBytes <= 64 * MIB && s.sessionBufferCeilingBytes <= 16 * MIB);
            assert.ok(s.maxConnections * (s.tmpTableBytes + s.sessionBufferCeilingBytes) > 0);
        });

        it(`MongoDB at ${limit}: WiredTiger cache max(0.25, 0.5 × (limit − 1 GiB))`, () => {
            const expected = Math.max(0.25, Math.floor(0.5 * (bytes / GIB - 1) * 100) / 100);
            assert.strictEqual(mongodbServerSettings(limit).wiredTigerCacheSizeGB, expected);
        });
    }

    it("MySQL below 256Mi: the buffer pool stays half the limit, never the whole container", () => {
        assert.strictEqual(mysqlServerSettings("128Mi").innodbBufferPoolBytes, 64 * MIB);
        assert.strictEqual(mysqlServerSettings("200Mi").innodbBufferPoolBytes, 100 * MIB);
    });

    it("takes operator overrides, and rejects ones that do not fit the container", () => {
        const ok = parseStackConfig(
            config(
                { redis: { maxmemory: "100Mi", maxmemoryPolicy: "allkeys-lru", maxClients: 500, idleTimeoutSeconds: 0 }, postgresql: { maxConnections: 50, workMem: "4Mi" } },
                { a: { redis: { db: 0 }, postgresql: {} } },
            ),
        );
        assert.deepStrictEqual(ok.engines.redis?.options, { databases: 16, tuning: { maxmemory: "100Mi", maxmemoryPolicy: "allkeys-lru", maxClients: 500, idleTimeoutSeconds: 0 } });
        const capacity = capacityOf(planTopology(ok));
        const redis = capacity.servers.find((s) => s.name === "redis")!;
        assert.strictEqual(redis.settings.maxmemory, "100Mi");
        assert.strictEqual(redis.settings["maxmemory-policy"], "allkeys-lru");
        assert.strictEqual(capacity.servers.find((s) => s.name === "postgresql")!.settings.work_mem, "4Mi");

        const problems = problemsOf(
            config(
                { redis: { maxmemory: "256Mi" }, postgresql: { workMem: "64Mi" }, mysql: { innodbBufferPoolSize: "1Gi" }, mongodb: { wiredTigerCacheSizeGB: 0.1 } },
                { a: { redis: { db: 0 }, postgresql: {}, mysql: {}, mongodb: {} } },
            ),
        );
        const expect = (...fragments: string[]) =>
            assert.ok(problems.some((p) => fragments.every((f) => p.includes(f))), `no problem mentions ${fragments.join(", ")}:\n${problems.join("\n")}`);
        expect("engines.redis.maxmemory: 256Mi is not below resources.limits.memory 256Mi");
        expect("engines.postgresql.", "work_mem 64Mi", "more than resources.limits.memory 512Mi");
        expect("engines.mysql.innodbBufferPoolSize: 1Gi leaves less than 20 %");
        expect("engines.mongodb.wiredTigerCacheSizeGB: 0.1 is below MongoDB's minimum of 0.25");
        assert.ok(problemsOf(config({ redis: { maxmemoryPolicy: "lru" } }, { a: { redis: { db: 0 } } }))[0].startsWith("engines.redis.maxmemoryPolicy: \"lru\" is not allowed"));
    });

    it("shows the derived settings and the connection budget in `capacity`", () => {
        const capacity = capacityOf(planTopology(parseStackConfig(config({ postgresql: {}, mysql: {} }, { a: { postgresql: { connectionLimit: 30 }, mysql: {} }, b: { postgresql: {} } }))));
        const pg = capacity.servers.find((s) => s.name === "postgresql")!;
        assert.deepStrictEqual(pg.connections, { tenants: 50, reserved: 6, max: 102 });
        assert.strictEqual(pg.settings.shared_buffers, "128Mi");
        assert.deepStrictEqual(capacity.servers.find((s) => s.name === "mysql")!.connections, { tenants: 20, reserved: 2, max: 128 });
    });
});

describe("guardrails: connection budget", () => {
    it("rejects a shared PostgreSQL server whose tenants' limits exceed max_connections, naming server, sum, limit and tenants", () => {
        // 512Mi: max_connections 102; 3 reserved + 3 the admin holds (pulumi up 2, probe 1): 5 × 20 = 100 does not fit.
        const problems = problemsOf(config({ postgresql: {} }, apps(5, { postgresql: {} })));
        assert.deepStrictEqual(problems, [
            "engines.postgresql.maxConnections: server postgresql: the tenants' connection limits add up to 100 (a0 20, a1 20, a2 20, a3 20, a4 20), " +
                "plus 6 kept for the admin, 106 > max_connections 102; lower the apps' limits, raise maxConnections or the memory limit, or move an app to a dedicated server",
        ]);
        assert.doesNotThrow(() => parseStackConfig(config({ postgresql: {} }, apps(4, { postgresql: {} }))));
        assert.doesNotThrow(() => parseStackConfig(config({ postgresql: { maxConnections: 106 } }, apps(5, { postgresql: {} }))));
        assert.doesNotThrow(() => parseStackConfig(config({ postgresql: { placement: "dedicated" } }, apps(5, { postgresql: {} }))));
    });

    it("checks each dedicated server and MySQL the same way", () => {
        const dedicated = problemsOf(config({ postgresql: { placement: "dedicated" } }, { big: { postgresql: { connectionLimit: 100 } } }));
        assert.match(dedicated[0], /^engines\.postgresql\.maxConnections: server postgresql-big: .* 106 > max_connections 102/);
        // MySQL at 1Gi: max_connections 128, 2 kept: 7 × 20 = 140 does not fit.
        const mysql = problemsOf(config({ mysql: {} }, apps(7, { mysql: {} })));
        assert.match(mysql[0], /^engines\.mysql\.maxConnections: server mysql: the tenants' connection limits add up to 140 .* 142 > max_connections 128/);
    });

    it("components used as a library apply the same rule before creating anything", async () => {
        const runtime = { target: "docker", run: () => assert.fail("no server may start") } as unknown as ServerRuntime;
        const resources = { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } };
        const tenants = Array.from({ length: 5 }, (_, i) => ({ app: `a${i}` }));
        await assert.rejects(
            runProgram(() => new PostgresqlServer("postgresql", { runtime, version: "18", storageGi: 2, resources, tenants })),
            /PostgresqlServer postgresql: the tenants' connection limits add up to 100/,
        );
        const mysqlResources = { ...resources, limits: { memory: "1Gi", cpu: "500m" } };
        await assert.rejects(
            runProgram(() => new MysqlServer("mysql", { runtime, version: "8.4", storageGi: 2, resources: mysqlResources, tenants: [...tenants, { app: "a5" }, { app: "a6" }] })),
            /MysqlServer mysql: .* 142 > max_connections 128/,
        );
        await assert.rejects(
            runProgram(() => new RedisServer("redis", { runtime, version: "7.4", storageGi: 1, resources, tenants: [{ app: "a", db: 0, scripting: true }, { app: "b", db: 1 }] })),
            /RedisServer redis: scripting \(a\) is allowed only on a server with one tenant; it has 2/,
        );
    });
});

describe("guardrails: app names in components used as a library", () => {
    const runtime = { target: "docker", run: () => assert.fail("no server may start") } as unknown as ServerRuntime;
    const resources = { requests: { memory: "1Gi", cpu: "250m" }, limits: { memory: "2Gi", cpu: "1" } };
    const common = { runtime, version: "1", storageGi: 1, resources };

    it("refuse a tenant named like the server's own role, user or database, as config does", async () => {
        // A tenant `postgres` would be handed the admin role; `admin` the Redis admin user.
        await assert.rejects(runProgram(() => new PostgresqlServer("postgresql", { ...common, version: "18", tenants: [{ app: "postgres" }] })), /PostgreSQL server postgresql: the app name "postgres" is reserved by postgresql/);
        await assert.rejects(runProgram(() => new PostgresqlServer("postgresql", { ...common, version: "18", tenants: [{ app: "pg_monitor" }] })), /reserved by postgresql \(reserved: .*pg_\*\)/);
        await assert.rejects(runProgram(() => new RedisServer("redis", { ...common, tenants: [{ app: "admin", db: 0 }] })), /Redis server redis: the app name "admin" is reserved by redis/);
        await assert.rejects(runProgram(() => new MongodbServer("mongodb", { ...common, tenants: [{ app: "config" }] })), /MongoDB server mongodb: the app name "config" is reserved/);
    });

    it("refuse names the engine cannot hold, and names that are no app name", async () => {
        await assert.rejects(runProgram(() => new MysqlServer("mysql", { ...common, tenants: [{ app: "a".repeat(33) }] })), /MySQL user names allow at most 32/);
        await assert.rejects(
            runProgram(() => new Neo4jServer("neo4j", { ...common, edition: "enterprise", tenants: [{ app: "ab" }] })),
            /Neo4j server neo4j: Neo4j database names need at least 3 characters; "ab" has 2/,
        );
        await assert.rejects(runProgram(() => new QdrantServer("qdrant", { ...common, tenants: [{ app: "a;DROP", collections: { c: { size: 1, distance: "Dot" } } }] })), /the app name "a;DROP" is not a lowercase letter/);
    });

    it("refuse what config's schema refuses: a connection limit PostgreSQL or MySQL would read as unlimited", async () => {
        await assert.rejects(runProgram(() => new PostgresqlServer("postgresql", { ...common, version: "18", tenants: [{ app: "a", connectionLimit: -1 }] })), /PostgreSQL server postgresql: a\.connectionLimit: Too small/);
        await assert.rejects(runProgram(() => new MysqlServer("mysql", { ...common, tenants: [{ app: "a", maxConnections: 0 }] })), /MySQL server mysql: a\.maxConnections: Too small/);
        await assert.rejects(runProgram(() => new RedisServer("redis", { ...common, tenants: [{ app: "a", db: 1.5 }] })), /Redis server redis: a\.db: /);
    });

    it("check a tenant component used on its own too", async () => {
        const admin = { host: "h", port: 1, password: "p", ready: undefined as never };
        // `ACL SETUSER admin reset ...` would overwrite the platform's own admin user.
        await assert.rejects(runProgram(() => new RedisTenant("admin-redis", { app: "admin", db: 0, admin, host: "h", port: 1 })), /Redis tenant admin-redis: the app name "admin" is reserved by redis/);
        const server = { host: "h", port: 1, provider: undefined as never };
        await assert.rejects(runProgram(() => new PostgresqlTenant("postgres-postgresql", { server, app: "postgres" })), /PostgreSQL tenant postgres-postgresql: the app name "postgres" is reserved/);
        // A token without collections would have no `access` claim: a global one.
        const qdrantAdmin = { url: "http://h:1", apiKey: "k", ready: undefined as never };
        await assert.rejects(runProgram(() => new QdrantTenant("a-qdrant", { app: "a", collections: {}, admin: qdrantAdmin, host: "h", port: 1 })), /Qdrant tenant a-qdrant: a\.collections: at least one collection/);
    });

    it("register nothing before refusing", async () => {
        const run = await runProgram(() => {
            try {
                return new PostgresqlServer("Bad_Name", { ...common, version: "18", tenants: [{ app: "a" }] });
            } catch (err) {
                return err as Error;
            }
        });
        assert.match(String(run.result), /not a DNS label/);
        assert.deepStrictEqual(run.resources.filter((r) => r.custom).map((r) => r.type), []);
    });
});

describe("guardrails: Qdrant collection names", () => {
    it("refuses two apps whose collections get one full name, in config and in the component", async () => {
        const raw = config({ qdrant: {} }, { a: { qdrant: { collections: { b_c: { size: 4, distance: "Dot" } } } }, a_b: { qdrant: { collections: { c: { size: 4, distance: "Dot" } } } } });
        assert.deepStrictEqual(problemsOf(raw), [
            "apps.a_b.qdrant.collections: collection c is named a_b_c on the server, as is a (b_c)'s; an app's token would open the other's: rename one",
        ]);
        const dedicated = config({ qdrant: { placement: "dedicated" } }, { a: { qdrant: { collections: { b_c: { size: 4, distance: "Dot" } } } }, a_b: { qdrant: { collections: { c: { size: 4, distance: "Dot" } } } } });
        assert.doesNotThrow(() => parseStackConfig(dedicated), "on servers of their own the names do not meet");
        const runtime = { target: "docker", run: () => assert.fail("no server may start") } as unknown as ServerRuntime;
        const tenants: QdrantTenantSpec[] = [
            { app: "a", collections: { b_c: { size: 4, distance: "Dot" } } },
            { app: "a_b", collections: { c: { size: 4, distance: "Dot" } } },
        ];
        await assert.rejects(
            runProgram(() => new QdrantServer("qdrant", { runtime, version: "v1.17.0", storageGi: 1, resources: { requests: { memory: "1Gi", cpu: "1" }, limits: { memory: "1Gi", cpu: "1" } }, tenants })),
            /Qdrant server qdrant: a_b: collection c is named a_b_c on the server/,
        );
    });
});

describe("guardrails: DatabasePlatform used as a library", () => {
    it("refuses planned servers that would share Kubernetes objects or a host port, as config does", async () => {
        const [server] = planTopology(parseStackConfig({ target: "docker", engines: { postgresql: {} }, apps: { x: { postgresql: {} } } })).servers;
        // The shared server `postgresql` owns the Service postgresql-headless; so would this one.
        const clash = { ...server, name: "postgresql-headless", placement: "dedicated" as const, tenants: [{ ...server.tenants[0], app: "y" }] };
        const target = { kind: "docker" as const, provider: undefined as never, namePrefix: "t" };
        await assert.rejects(runProgram(() => new DatabasePlatform("p", { target, servers: [server, clash] })), /DatabasePlatform p: .* would both own the Kubernetes Service postgresql-headless/);
        await assert.rejects(
            runProgram(() => new DatabasePlatform("p", { target, servers: [{ ...server, hostPort: 5000 }, { ...clash, name: "postgresql-y", hostPort: 5000 }] })),
            /servers postgresql and postgresql-y would both publish host port 5000/,
        );
    });
});

describe("guardrails: Redis scripting", () => {
    it("is rejected for an app on a shared server, with what to do instead", () => {
        const problems = problemsOf(config({ redis: {} }, { a: { redis: { db: 0, scripting: true } } }));
        assert.deepStrictEqual(problems, [
            "apps.a.redis.scripting: true needs a dedicated Redis server; on a shared one a tenant's script runs unchecked until it touches a key " +
                "and can block every tenant (set apps.a.redis.placement: dedicated, or drop scripting)",
        ]);
    });

    it("reaches the ACL user of an app on its dedicated server", async () => {
        const run = await runStackConfig(config({ redis: {} }, { a: { redis: { db: 0, placement: "dedicated", scripting: true } }, b: { redis: { db: 1 } } }));
        const users = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/redis:AclUser");
        assert.deepStrictEqual(Object.fromEntries(users.map((u) => [u.inputs.user, u.inputs.scripting])), { a: true, b: false });
    });
});

describe("guardrails: object names never collide", () => {
    it("rejects an app whose dedicated server would take another server's object names, naming both", () => {
        assert.deepStrictEqual(problemsOf(config({ postgresql: { placement: "dedicated" } }, { x: { postgresql: {} }, x_headless: { postgresql: {} } })), [
            "apps.x_headless's dedicated postgresql server and apps.x's dedicated postgresql server would both own the Kubernetes Service postgresql-x-headless; rename one of the apps",
        ]);
        assert.deepStrictEqual(problemsOf(config({ redis: {} }, { a: { redis: { db: 0 } }, headless: { redis: { placement: "dedicated" } } })), [
            "apps.headless's dedicated redis server and the shared redis server would both own the Kubernetes Service redis-headless; rename one of the apps",
        ]);
    });

    const nameArb = fc.oneof(
        fc.stringMatching(/^[a-z]([a-z0-9_]{0,6}[a-z0-9])?$/),
        // Names built from the suffixes the program appends, to make collisions likely.
        fc
            .tuple(fc.constantFrom("x", "a_b", "headless", "admin", "config", "clients", "data"), fc.constantFrom("", "_headless", "_admin", "_config", "_clients", "_0", "_data"))
            .map(([a, b]) => a + b),
    );

    it("property: an accepted config gives every server's Kubernetes objects names of their own", () => {
        fc.assert(
            fc.property(fc.uniqueArray(fc.tuple(nameArb, fc.constantFrom("shared", "dedicated")), { selector: ([n]) => n, minLength: 1, maxLength: 8 }), (drawn) => {
                const raw = config(
                    { postgresql: {}, redis: { databases: 16 } },
                    Object.fromEntries(drawn.map(([name, placement], i) => [name, { postgresql: { placement, connectionLimit: 1 }, redis: { placement, db: i } }])),
                );
                let accepted;
                try {
                    accepted = parseStackConfig(raw);
                } catch (err) {
                    assert.ok(err instanceof ConfigError);
                    // Rejected only for a collision (or a name an engine reserves), and the message names the apps.
                    for (const p of err.problems) assert.match(p, /would both own the Kubernetes|is reserved by/, p);
                    return;
                }
                const owners = new Map<string, string>();
                for (const server of planTopology(accepted).servers) {
                    for (const [kind, names] of Object.entries(serverObjectNames(server.name))) {
                        for (const name of names) {
                            const other = owners.get(`${kind}/${name}`);
                            assert.strictEqual(other, undefined, `${kind} ${name} of ${server.name} is also ${other}'s`);
                            owners.set(`${kind}/${name}`, server.name);
                        }
                    }
                }
            }),
            { numRuns: 400 },
        );
    });

    it("a whole run with near-colliding names registers unique URNs and Kubernetes names", async () => {
        // Accepted: none of these names ends in a suffix the program appends to another server's objects.
        const names = ["x", "x_0", "admin_x", "x_hl", "headless_x", "config", "data_x"];
        const run = await runStackConfig(
            config(
                { postgresql: { placement: "dedicated" }, redis: {} },
                Object.fromEntries(names.map((n, i) => [n, { postgresql: { connectionLimit: 1 }, redis: { db: i, placement: i % 2 ? "dedicated" : "shared" } }])),
            ),
        );
        const urns = run.resources.map((r) => r.urn);
        assert.strictEqual(new Set(urns).size, urns.length);
        const objects = run.resources
            .filter((r) => r.type.startsWith("kubernetes:") && r.inputs.metadata)
            .map((r) => `${r.type}/${r.inputs.metadata.namespace ?? ""}/${r.inputs.metadata.name}`);
        assert.strictEqual(new Set(objects).size, objects.length, objects.join("\n"));
        // And the runtime names objects exactly as serverObjectNames says (the rule config checks).
        const services = run.resources.filter((r) => r.type === "kubernetes:core/v1:Service").map((r) => r.inputs.metadata.name);
        assert.ok(services.includes(serverObjectNames(serverName("postgresql", "x")).Service[1]));
    });
});
