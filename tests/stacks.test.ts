// Each Pulumi.<stack>.yaml of the repo, run whole under mocks, plus invariants that hold for
// every stack: no plaintext secret anywhere, unique names, explicit providers, readiness ordering
// (also on a stack with several servers of each engine).
import * as assert from "assert";
import { MONITOR_USER } from "../infra/metrics";
import { StackOutputs } from "../stacks/program";
import { MockRun, RecordedResource, finder, isSecretOutput, isSecretWrapper, plaintextOccurrences, valueOf } from "./helpers/pulumi";
import { stackFileConfig, stackNames } from "../stacks/files";
import { runStackConfig, runStackFile } from "./helpers/stacks";

const T = {
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    secret: "kubernetes:core/v1:Secret",
    service: "kubernetes:core/v1:Service",
    namespace: "kubernetes:core/v1:Namespace",
    role: "postgresql:index/role:Role",
    database: "postgresql:index/database:Database",
    grant: "postgresql:index/grant:Grant",
    pgProvider: "pulumi:providers:postgresql",
    k8sProvider: "pulumi:providers:kubernetes",
};

const PG_KEYS = ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"];
const REDIS_KEYS = ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_DB"];
const MYSQL_KEYS = ["MYSQL_URL", "MYSQL_HOST", "MYSQL_PORT", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD"];
const NEO4J_KEYS = ["NEO4J_URI", "NEO4J_DATABASE", "NEO4J_USERNAME", "NEO4J_PASSWORD"];
const MONGODB_KEYS = ["MONGODB_URI", "MONGODB_DATABASE"];
const QDRANT_KEYS = ["QDRANT_URL", "QDRANT_API_KEY", "QDRANT_COLLECTION_PREFIX"];
const APPS = ["beep_boop", "digi_core", "lernmi"];

const runs = new Map<string, MockRun<StackOutputs>>();
async function run(stack: string): Promise<MockRun<StackOutputs>> {
    if (!runs.has(stack)) runs.set(stack, await runStackFile(stack));
    return runs.get(stack)!;
}

function providerUrn(ref: string): string {
    return ref.split("::").slice(0, -1).join("::");
}

/**
 * Every resource that manages tenancy on a server (the admin providers' resources and the dynamic
 * ones) belongs to one of the server's own tenants (component `<app>-<engine>`, children
 * `<app>-<engine>-…`), waits for that server's workload and reaches it at that server's admin
 * address; none is left unchecked.
 */
async function assertTenancyManagedByItsServer(stack: MockRun<StackOutputs>, options: { neo4jCommunity: boolean }) {
    const { resources } = stack;
    const find = finder(resources);
    /** Waits for `urn`: directly, or through the resources and providers it waits for. */
    const waitsFor = (r: RecordedResource, urn: string): boolean => {
        const seen = new Set<string>();
        const next = (x: RecordedResource) => [...x.dependencies, ...(x.provider ? [providerUrn(x.provider)] : [])];
        for (let queue = next(r); queue.length > 0; ) {
            const u = queue.pop()!;
            if (u === urn) return true;
            const dep = seen.has(u) ? undefined : find.byUrn(u);
            seen.add(u);
            if (dep) queue.push(...next(dep));
        }
        return false;
    };
    const underComponent = (r: RecordedResource, urn: string): boolean => {
        for (let cur = find.byUrn(r.parent); cur; cur = find.byUrn(cur.parent)) if (cur.urn === urn) return true;
        return false;
    };
    const managing = resources.filter((r) => r.custom && (r.type.startsWith("pulumi-nodejs:dynamic/") || /^(postgresql|mysql):/.test(r.type)));
    const checked = new Set<string>();
    for (const server of await valueOf(stack.result.servers)) {
        const workload = resources.find((r) => (r.type === T.statefulSet || r.type === "docker:index/container:Container") && r.name === server.name)!;
        const docker = workload.type !== T.statefulSet;
        const host = docker ? "127.0.0.1" : `${server.name}.${workload.inputs.metadata.namespace}.svc.cluster.local`;
        assert.strictEqual(server.host, host);
        // The server's own tenants: its tenant components and the resources under them.
        const serverComponent = resources.find((r) => !r.custom && r.type.startsWith(`tenant-databases:${server.engine}:`) && r.name === server.name);
        assert.ok(serverComponent, `the component of ${server.name}`);
        const own: RecordedResource[] = [];
        for (const app of server.tenants) {
            const tenant = resources.filter((r) => !r.custom && r.name === `${server.name}/${app}` && r.type.endsWith("Tenant"));
            assert.deepStrictEqual(tenant.map((t) => t.parent), [serverComponent.urn], `${app}'s ${server.engine} tenant is a child of ${server.name}`);
            const mine = managing.filter((r) => underComponent(r, tenant[0].urn));
            for (const r of mine) assert.ok(r.name.startsWith(`${server.name}/${app}-`), `${r.name} is named after its tenant`);
            own.push(...mine);
        }
        // With metrics on, the server's monitoring user: the server's own, named after it.
        own.push(...managing.filter((r) => r.parent === serverComponent.urn && r.name.startsWith(`${server.name}-monitor`)));
        for (const r of own) {
            checked.add(r.urn);
            assert.ok(waitsFor(r, workload.urn), `${r.type} ${r.name} waits for ${server.name}`);
        }
        // The admin providers (PostgreSQL, MySQL) wait for the server and point at it.
        let adminProvider: RecordedResource | undefined;
        if (server.engine === "mysql") {
            adminProvider = find.one("pulumi:providers:mysql", `${server.name}-admin`);
            assert.strictEqual(adminProvider.inputs.endpoint, `${host}:${server.port}`);
        } else if (server.engine === "postgresql") {
            adminProvider = find.one(T.pgProvider, `${server.name}-admin`);
            assert.deepStrictEqual([adminProvider.inputs.host, adminProvider.inputs.port], [host, String(server.port)]);
            assert.strictEqual(adminProvider.inputs.sslmode, "disable");
        }
        if (adminProvider) {
            assert.ok(adminProvider.dependencies.includes(workload.urn), `${adminProvider.name} waits for ${server.name}`);
            assert.ok(isSecretWrapper(adminProvider.rawInputs.password));
        }
        for (const r of own) {
            if (r.type.startsWith(`${server.engine}:`)) assert.strictEqual(providerUrn(r.provider), adminProvider?.urn, `${r.type} ${r.name} uses ${server.name}-admin`);
            else if (server.engine === "qdrant") assert.strictEqual(r.inputs.url, `http://${host}:${server.port}`, `${r.type} ${r.name}`);
            else if (server.engine === "neo4j") assert.strictEqual(r.inputs.uri, `bolt://${host}:${server.port}`, `${r.type} ${r.name}`);
            else assert.deepStrictEqual([r.inputs.host, r.inputs.port], [host, server.port], `${r.type} ${r.name}`);
        }
        // What each tenant has whatever its settings.
        for (const app of server.tenants) {
            const expected = {
                mysql: ["mysql:index/user:User", "pulumi-nodejs:dynamic/mysql:ConnectionLimit"],
                postgresql: [T.role],
                mongodb: ["pulumi-nodejs:dynamic/mongodb:User"],
                redis: ["pulumi-nodejs:dynamic/redis:AclUser"],
            }[server.engine] ?? [];
            for (const type of expected) assert.ok(own.some((r) => r.type === type && r.name.startsWith(`${server.name}/${app}-`)), `${app} has its ${type} on ${server.name}`);
        }
        // Community (the stack files' Neo4j edition) has no tenancy to manage: nothing connects.
        if (server.engine === "neo4j" && options.neo4jCommunity) assert.deepStrictEqual(own, []);
    }
    assert.deepStrictEqual(
        managing.filter((r) => !checked.has(r.urn)).map((r) => `${r.type} ${r.name}`),
        [],
        "resources that manage tenancy but belong to no server's tenant",
    );
}

describe("stack files run whole under mocks", () => {
    it("the repo has the dev, staging and prod stacks", () => {
        assert.deepStrictEqual(stackNames(), ["dev", "prod", "staging"]);
    });

    describe("Pulumi.staging.yaml (Kubernetes, shared)", () => {
        it("runs one server per engine holding its apps, and a dedicated Neo4j", async () => {
            const { resources, result } = await run("staging");
            const find = finder(resources);
            assert.deepStrictEqual(find.all(T.statefulSet).map((r) => r.name).sort(), ["mongodb", "mysql", "neo4j-digi-core", "postgresql", "qdrant", "redis"]);
            const servers = await valueOf(result.servers);
            assert.deepStrictEqual(
                servers.map((s) => [s.engine, s.name, s.placement, s.tenants, s.host, s.port]),
                [
                    ["mongodb", "mongodb", "shared", ["lernmi"], "mongodb.databases-staging.svc.cluster.local", 27017],
                    ["mysql", "mysql", "shared", ["beep_boop"], "mysql.databases-staging.svc.cluster.local", 3306],
                    ["neo4j", "neo4j-digi-core", "dedicated", ["digi_core"], "neo4j-digi-core.databases-staging.svc.cluster.local", 7687],
                    ["postgresql", "postgresql", "shared", APPS, "postgresql.databases-staging.svc.cluster.local", 5432],
                    ["qdrant", "qdrant", "shared", ["lernmi"], "qdrant.databases-staging.svc.cluster.local", 6333],
                    ["redis", "redis", "shared", APPS, "redis.databases-staging.svc.cluster.local", 6379],
                ],
            );
        });

        it("gives a MySQL app its database, account '<app>'@'%', a grant on exactly that database and its connection limit", async () => {
            const find = finder((await run("staging")).resources);
            const c = find.one(T.statefulSet, "mysql").inputs.spec.template.spec.containers[0];
            assert.strictEqual(c.image, "mysql:8.4");
            assert.deepStrictEqual(c.readinessProbe.exec.command, ["mysqladmin", "ping", "-h", "127.0.0.1", "-P", "3306", "--silent"]);
            assert.deepStrictEqual(
                c.volumeMounts.map((m: { mountPath: string }) => m.mountPath),
                ["/var/lib/mysql", "/var/run/mysqld", "/tmp"],
            );
            const db = find.one("mysql:index/database:Database", "mysql/beep_boop-database");
            assert.strictEqual(db.inputs.name, "beep_boop");
            assert.ok(db.retainOnDelete);
            const user = find.one("mysql:index/user:User", "mysql/beep_boop-user");
            assert.deepStrictEqual([user.inputs.user, user.inputs.host], ["beep_boop", "%"]);
            assert.ok(isSecretWrapper(user.rawInputs.plaintextPassword));
            assert.ok(!user.retainOnDelete, "the account goes with its app: access is revoked");
            const grant = find.one("mysql:index/grant:Grant", "mysql/beep_boop-grant");
            assert.deepStrictEqual(
                [grant.inputs.user, grant.inputs.host, grant.inputs.database, grant.inputs.privileges],
                ["beep_boop", "%", "beep\\_boop", ["ALL PRIVILEGES"]],
            );
            const limit = find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", "mysql/beep_boop-connection-limit");
            assert.deepStrictEqual([limit.inputs.user, limit.inputs.maxUserConnections], ["beep_boop", 10]);
            assert.ok(limit.dependencies.includes(user.urn), "the limit waits for the account");
            assert.ok(isSecretWrapper(limit.rawInputs.adminPassword));
        });

        it("gives every app its own role (with its connection limit) and a database it owns, closed to PUBLIC", async () => {
            const find = finder((await run("staging")).resources);
            const limits: Record<string, number> = { beep_boop: 20, digi_core: 20, lernmi: 10 };
            for (const app of APPS) {
                const role = find.one(T.role, `postgresql/${app}-role`);
                assert.deepStrictEqual(
                    { name: role.inputs.name, login: role.inputs.login, connectionLimit: role.inputs.connectionLimit },
                    { name: app, login: true, connectionLimit: limits[app] },
                );
                assert.ok(isSecretWrapper(role.rawInputs.password), "role password is secret");
                const db = find.one(T.database, `postgresql/${app}-database`);
                assert.deepStrictEqual({ name: db.inputs.name, owner: db.inputs.owner }, { name: app, owner: app });
                assert.ok(db.dependencies.includes(role.urn), "database waits for its owner role");
                const grant = find.one(T.grant, `postgresql/${app}-revoke-public`);
                assert.deepStrictEqual(grant.inputs, { database: app, role: "public", objectType: "database", privileges: [] });
            }
        });

        it("writes one Secret per app in the app's namespace with exactly the documented keys", async () => {
            const { resources, result } = await run("staging");
            const find = finder(resources);
            const apps = await valueOf(result.apps);
            for (const app of APPS) {
                const secret = find.one(T.secret, `${app}-databases`);
                assert.deepStrictEqual(secret.inputs.metadata.name, `${app.replace(/_/g, "-")}-databases`);
                assert.deepStrictEqual(secret.inputs.metadata.namespace, app.replace(/_/g, "-"));
                assert.ok(isSecretWrapper(secret.rawInputs.stringData), "the whole payload is secret");
                const data = secret.inputs.stringData as Record<string, string>;
                const expected = [
                    ...PG_KEYS,
                    ...REDIS_KEYS,
                    ...(app === "beep_boop" ? MYSQL_KEYS : []),
                    ...(app === "digi_core" ? NEO4J_KEYS : []),
                    ...(app === "lernmi" ? [...MONGODB_KEYS, ...QDRANT_KEYS] : []),
                    "APP_TENANT_ID",
                ];
                assert.deepStrictEqual(Object.keys(data).sort(), expected.sort());
                const pg = apps[app].postgresql!;
                const redis = apps[app].redis!;
                assert.strictEqual(data.APP_TENANT_ID, app);
                assert.strictEqual(data.DATABASE_URL, `postgresql://${app}:${pg.password}@postgresql.databases-staging.svc.cluster.local:5432/${app}`);
                assert.deepStrictEqual([data.PGHOST, data.PGPORT, data.PGDATABASE, data.PGUSER, data.PGPASSWORD], [pg.host, "5432", app, app, pg.password]);
                assert.strictEqual(data.REDIS_URL, `redis://${app}:${redis.password}@redis.databases-staging.svc.cluster.local:6379/${redis.db}`);
                assert.deepStrictEqual([data.REDIS_KEY_PREFIX, data.REDIS_DB], [app, String(redis.db)]);
            }
            assert.deepStrictEqual(
                APPS.map((a) => apps[a].redis?.db),
                [2, 0, 1],
                "db numbers are the configured ones",
            );
        });

        it("keeps data of removed apps by default and protects nothing in staging", async () => {
            const find = finder((await run("staging")).resources);
            for (const r of [...find.all(T.database), ...find.all(T.role), ...find.all(T.namespace)]) {
                assert.ok(r.retainOnDelete, `${r.name} is retained on delete`);
                assert.ok(!r.protect, `${r.name} is not protected in staging`);
            }
        });
    });

    describe("Pulumi.prod.yaml (dedicated PostgreSQL, shared Redis, protected)", () => {
        it("runs a PostgreSQL server per app and one shared Redis", async () => {
            const { resources, result } = await run("prod");
            const find = finder(resources);
            assert.deepStrictEqual(
                find.all(T.statefulSet).map((r) => r.name).sort(),
                ["postgresql-beep-boop", "postgresql-digi-core", "postgresql-lernmi", "redis"],
            );
            const servers = await valueOf(result.servers);
            for (const s of servers.filter((s) => s.engine === "postgresql")) {
                assert.strictEqual(s.placement, "dedicated");
                assert.strictEqual(s.tenants.length, 1);
                assert.strictEqual(s.name, `postgresql-${s.tenants[0].replace(/_/g, "-")}`);
            }
            const apps = await valueOf(result.apps);
            assert.strictEqual(apps.lernmi.postgresql?.host, "postgresql-lernmi.databases.svc.cluster.local");
            assert.strictEqual(apps.lernmi.redis?.host, "redis.databases.svc.cluster.local");
        });

        it("sizes PostgreSQL servers as configured", async () => {
            const sts = finder((await run("prod")).resources).one(T.statefulSet, "postgresql-lernmi");
            const claim = sts.inputs.spec.volumeClaimTemplates[0];
            assert.strictEqual(claim.spec.resources.requests.storage, "10Gi");
            assert.strictEqual(claim.spec.storageClassName, "standard");
            assert.deepStrictEqual(sts.inputs.spec.template.spec.containers[0].resources, {
                requests: { memory: "512Mi", cpu: "250m" },
                limits: { memory: "1Gi", cpu: "1" },
            });
        });

        it("protects every data-bearing resource", async () => {
            const find = finder((await run("prod")).resources);
            const [tenantRoles, monitorRoles] = [find.all(T.role).filter((r) => r.inputs.name !== MONITOR_USER), find.all(T.role).filter((r) => r.inputs.name === MONITOR_USER)];
            const data = [...find.all(T.database), ...tenantRoles, ...find.all(T.statefulSet), ...find.all(T.namespace)];
            assert.strictEqual(data.length, 3 + 3 + 4 + 1);
            for (const r of data) assert.ok(r.protect, `${r.type} ${r.name} is protected`);
            // The monitoring roles own nothing: turning metrics off drops them.
            assert.strictEqual(monitorRoles.length, 3);
            for (const r of monitorRoles) assert.deepStrictEqual([r.protect, r.retainOnDelete], [false, false], r.name);
        });

        it("lifts retain and protect only for a decommissioned app's data", async () => {
            const config = { ...stackFileConfig("prod"), decommission: ["lernmi"] };
            const find = finder((await runStackConfig(config, "prod")).resources);
            for (const type of [T.database, T.role]) {
                for (const r of find.all(type).filter((r) => r.inputs.name !== MONITOR_USER)) {
                    const dropped = r.inputs.name === "lernmi";
                    assert.deepStrictEqual([r.retainOnDelete, r.protect], [!dropped, !dropped], `${r.name}`);
                }
            }
        });

        it("reports capacity for the planned servers", async () => {
            const { capacity } = (await run("prod")).result;
            assert.deepStrictEqual(capacity.engines.postgresql, {
                servers: 3,
                // Three servers, each with its exporter beside it.
                requests: { memoryMi: 1536 + 3 * 32, cpuMillis: 750 + 3 * 20 },
                limits: { memoryMi: 3072 + 3 * 128, cpuMillis: 3000 + 3 * 200 },
                storageGi: 30,
            });
            assert.strictEqual(capacity.total.servers, 4);
            assert.strictEqual(capacity.total.storageGi, 32);
        });
    });

    for (const stack of stackNames()) {
        describe(`invariants of Pulumi.${stack}.yaml`, () => {
            it("no generated password appears outside a secret, in any input or output", async () => {
                const { resources, result, passwords } = await run(stack);
                assert.ok(passwords.length >= 7, "the run generated passwords");
                for (const r of resources) {
                    assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, passwords), [], `${r.type} ${r.name}`);
                }
                assert.ok(await isSecretOutput(result.apps), "output apps is secret");
                assert.ok(!(await isSecretOutput(result.servers)), "output servers is plain");
                const plainOutputs = JSON.stringify({ servers: await valueOf(result.servers), capacity: result.capacity, backups: result.backups });
                assert.deepStrictEqual(passwords.filter((p) => plainOutputs.includes(p)), []);
                // The secret output does carry them: the audit would notice a leak.
                const apps = JSON.stringify(await valueOf(result.apps));
                assert.ok(passwords.some((p) => apps.includes(p)));
            });

            it("every resource has a unique URN, and Kubernetes and Docker objects unique names", async () => {
                const { resources } = await run(stack);
                const urns = resources.map((r) => r.urn);
                assert.strictEqual(new Set(urns).size, urns.length);
                const objectNames = resources
                    .filter((r) => r.type.startsWith("kubernetes:") || (r.type.startsWith("docker:") && r.inputs.name))
                    .map((r) => `${r.type.split(":")[2]}/${r.inputs.metadata?.namespace ?? ""}/${r.inputs.metadata?.name ?? r.inputs.name}`);
                assert.strictEqual(new Set(objectNames).size, objectNames.length, objectNames.join("\n"));
            });

            it("passes explicit providers to every resource", async () => {
                const { resources } = await run(stack);
                const find = finder(resources);
                for (const [prefix, providerType] of [
                    ["kubernetes:", T.k8sProvider],
                    ["docker:", "pulumi:providers:docker"],
                    ["postgresql:", T.pgProvider],
                    ["mysql:", "pulumi:providers:mysql"],
                ]) {
                    for (const r of resources.filter((r) => r.custom && r.type.startsWith(prefix))) {
                        assert.strictEqual(find.byUrn(providerUrn(r.provider))?.type, providerType, `${r.type} ${r.name}`);
                    }
                }
            });

            it("manages tenancy only once the server is ready, at the server's admin address", async () => {
                const neo4j = (stackFileConfig(stack) as { engines: { neo4j?: { edition?: string } } }).engines.neo4j;
                await assertTenancyManagedByItsServer(await run(stack), { neo4jCommunity: (neo4j?.edition ?? "community") === "community" });
            });
        });
    }

    describe("a stack with shared and dedicated servers of every engine", () => {
        it("manages each server's tenancy only once that server is ready, at that server's admin address", async () => {
            const uses = { postgresql: {}, mysql: {}, mongodb: {}, qdrant: { collections: { docs: { size: 8, distance: "Cosine" } } }, neo4j: {} };
            const config = {
                target: "kubernetes",
                placement: "shared",
                kubernetes: { namespace: "db" },
                engines: { postgresql: {}, mysql: {}, mongodb: {}, qdrant: {}, neo4j: { edition: "enterprise", acceptLicenseAgreement: true }, redis: {} },
                apps: {
                    // Two apps share a server of each engine; two more have one each of their own.
                    digi_core: { ...uses, redis: { db: 0 } },
                    lernmi: { ...uses, redis: { db: 1 } },
                    beep_boop: { placement: "dedicated", ...uses, redis: {} },
                    shop: { placement: "dedicated", ...uses, redis: {} },
                },
            };
            const stack = await runStackConfig(config);
            const servers = await valueOf(stack.result.servers);
            for (const engine of ["postgresql", "mysql", "mongodb", "qdrant", "neo4j", "redis"]) {
                assert.deepStrictEqual(
                    servers.filter((s) => s.engine === engine).map((s) => [s.name, s.tenants]),
                    [
                        [engine, ["digi_core", "lernmi"]],
                        [`${engine}-beep-boop`, ["beep_boop"]],
                        [`${engine}-shop`, ["shop"]],
                    ],
                );
            }
            await assertTenancyManagedByItsServer(stack, { neo4jCommunity: false });
        });
    });
});
