// Each Pulumi.<stack>.yaml of the repo, run whole under mocks, plus invariants that hold for
// every stack: no plaintext secret anywhere, unique names, explicit providers, readiness ordering.
import * as assert from "assert";
import { StackOutputs } from "../stacks/program";
import { MockRun, finder, isSecretOutput, isSecretWrapper, plaintextOccurrences, valueOf } from "./helpers/pulumi";
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
            const db = find.one("mysql:index/database:Database", "beep_boop-mysql-database");
            assert.strictEqual(db.inputs.name, "beep_boop");
            assert.ok(db.retainOnDelete);
            const user = find.one("mysql:index/user:User", "beep_boop-mysql-user");
            assert.deepStrictEqual([user.inputs.user, user.inputs.host], ["beep_boop", "%"]);
            assert.ok(isSecretWrapper(user.rawInputs.plaintextPassword));
            assert.ok(!user.retainOnDelete, "the account goes with its app: access is revoked");
            const grant = find.one("mysql:index/grant:Grant", "beep_boop-mysql-grant");
            assert.deepStrictEqual(
                [grant.inputs.user, grant.inputs.host, grant.inputs.database, grant.inputs.privileges],
                ["beep_boop", "%", "beep\\_boop", ["ALL PRIVILEGES"]],
            );
            const limit = find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", "beep_boop-mysql-connection-limit");
            assert.deepStrictEqual([limit.inputs.user, limit.inputs.maxUserConnections], ["beep_boop", 10]);
            assert.ok(limit.dependencies.includes(user.urn), "the limit waits for the account");
            assert.ok(isSecretWrapper(limit.rawInputs.adminPassword));
        });

        it("gives every app its own role (with its connection limit) and a database it owns, closed to PUBLIC", async () => {
            const find = finder((await run("staging")).resources);
            const limits: Record<string, number> = { beep_boop: 20, digi_core: 20, lernmi: 10 };
            for (const app of APPS) {
                const role = find.one(T.role, `${app}-postgresql-role`);
                assert.deepStrictEqual(
                    { name: role.inputs.name, login: role.inputs.login, connectionLimit: role.inputs.connectionLimit },
                    { name: app, login: true, connectionLimit: limits[app] },
                );
                assert.ok(isSecretWrapper(role.rawInputs.password), "role password is secret");
                const db = find.one(T.database, `${app}-postgresql-database`);
                assert.deepStrictEqual({ name: db.inputs.name, owner: db.inputs.owner }, { name: app, owner: app });
                assert.ok(db.dependencies.includes(role.urn), "database waits for its owner role");
                const grant = find.one(T.grant, `${app}-postgresql-revoke-public`);
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
            const data = [...find.all(T.database), ...find.all(T.role), ...find.all(T.statefulSet), ...find.all(T.namespace)];
            assert.strictEqual(data.length, 3 + 3 + 4 + 1);
            for (const r of data) assert.ok(r.protect, `${r.type} ${r.name} is protected`);
        });

        it("lifts retain and protect only for a decommissioned app's data", async () => {
            const config = { ...stackFileConfig("prod"), decommission: ["lernmi"] };
            const find = finder((await runStackConfig(config, "prod")).resources);
            for (const type of [T.database, T.role]) {
                for (const r of find.all(type)) {
                    const dropped = r.name.startsWith("lernmi-");
                    assert.deepStrictEqual([r.retainOnDelete, r.protect], [!dropped, !dropped], `${r.name}`);
                }
            }
        });

        it("reports capacity for the planned servers", async () => {
            const { capacity } = (await run("prod")).result;
            assert.deepStrictEqual(capacity.engines.postgresql, {
                servers: 3,
                requests: { memoryMi: 1536, cpuMillis: 750 },
                limits: { memoryMi: 3072, cpuMillis: 3000 },
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
                const plainOutputs = JSON.stringify({ servers: await valueOf(result.servers), capacity: result.capacity });
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
                const { resources } = await run(stack);
                const find = finder(resources);
                const servers = await valueOf((await run(stack)).result.servers);
                for (const server of servers) {
                    const workload = resources.find((r) => (r.type === T.statefulSet || r.type === "docker:index/container:Container") && r.name === server.name)!;
                    const docker = workload.type !== T.statefulSet;
                    const host = docker ? "127.0.0.1" : `${server.name}.${workload.inputs.metadata.namespace}.svc.cluster.local`;
                    assert.strictEqual(server.host, host);
                    if (server.engine === "mysql") {
                        const provider = find.one("pulumi:providers:mysql", `${server.name}-admin`);
                        assert.ok(provider.dependencies.includes(workload.urn), `${provider.name} waits for ${server.name}`);
                        assert.strictEqual(provider.inputs.endpoint, `${host}:${server.port}`);
                        assert.ok(isSecretWrapper(provider.rawInputs.password));
                        for (const app of server.tenants) {
                            const limit = find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", `${app}-mysql-connection-limit`);
                            assert.deepStrictEqual([limit.inputs.host, limit.inputs.port], [host, server.port]);
                        }
                    } else if (server.engine === "postgresql") {
                        const provider = find.one(T.pgProvider, `${server.name}-admin`);
                        assert.ok(provider.dependencies.includes(workload.urn), `${provider.name} waits for ${server.name}`);
                        assert.deepStrictEqual([provider.inputs.host, provider.inputs.port], [host, String(server.port)]);
                        assert.strictEqual(provider.inputs.sslmode, "disable");
                        assert.ok(isSecretWrapper(provider.rawInputs.password));
                    } else if (server.engine === "mongodb" || server.engine === "qdrant") {
                        const type = server.engine === "mongodb" ? "pulumi-nodejs:dynamic/mongodb:User" : "pulumi-nodejs:dynamic/qdrant:Collection";
                        const managed = resources.filter((r) => r.type === type);
                        assert.ok(managed.length > 0);
                        for (const r of managed) {
                            assert.ok(r.dependencies.some((d) => d === workload.urn || find.byUrn(d)?.dependencies.includes(workload.urn)), `${r.name} waits for ${server.name}`);
                            const address: unknown[] = server.engine === "mongodb" ? [r.inputs.host, r.inputs.port] : [r.inputs.url];
                            assert.deepStrictEqual(address, server.engine === "mongodb" ? [host, server.port] : [`http://${host}:${server.port}`]);
                        }
                    } else if (server.engine === "neo4j") {
                        // Community (the stack files' edition) has no tenancy to manage: nothing connects.
                        assert.deepStrictEqual(resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/neo4j")), []);
                    } else {
                        for (const app of server.tenants) {
                            const user = find.one("pulumi-nodejs:dynamic/redis:AclUser", `${app}-redis-user`);
                            assert.ok(user.dependencies.includes(workload.urn), `${app}'s ACL user waits for ${server.name}`);
                            assert.deepStrictEqual([user.inputs.host, user.inputs.port], [host, server.port]);
                        }
                    }
                }
            });
        });
    }
});
