// Components on their own, as another Pulumi program would use them: their resources and inputs.
import * as assert from "assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import { credentialUrl } from "../components/credentials";
import { PostgresqlServer, PostgresqlServerArgs, PostgresqlTenant, postgresqlLivenessCommand } from "../components/postgresql/postgresql";
import { postgresqlServerArgs, postgresqlServerSettings } from "../components/postgresql/postgresql-settings";
import { redisServerArgs, redisServerSettings } from "../components/redis/redis-settings";
import { appEnvironment } from "../components/environment";
import { RedisServer, RedisServerArgs, redisLivenessCommand } from "../components/redis/redis";
import { redisStartScript } from "../components/redis/redis-acl";
import { CONFIG_HASH_ANNOTATION, KubernetesRuntime } from "../infra/kubernetes";
import { RecordedResource, finder, isSecretWrapper, runProgram, valueOf } from "./helpers/pulumi";

const RESOURCES = { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } };
const STS = "kubernetes:apps/v1:StatefulSet";
const SECRET = "kubernetes:core/v1:Secret";
const SERVICE = "kubernetes:core/v1:Service";

function kubernetesRuntime(storageClass?: string) {
    const provider = new k8s.Provider("k8s", {});
    return new KubernetesRuntime({ provider, namespace: "db", storageClass });
}

function postgres(args: Partial<PostgresqlServerArgs> = {}) {
    return runProgram(
        () =>
            new PostgresqlServer("postgresql", {
                runtime: kubernetesRuntime(),
                version: "18",
                storageGi: 2,
                resources: RESOURCES,
                tenants: [{ app: "lernmi" }],
                ...args,
            }),
    );
}

function redis(args: Partial<RedisServerArgs> = {}) {
    return runProgram(
        () =>
            new RedisServer("redis", {
                runtime: kubernetesRuntime(),
                version: "7.4",
                storageGi: 1,
                resources: RESOURCES,
                tenants: [
                    { app: "lernmi", db: 1 },
                    { app: "digi_core", db: 0 },
                ],
                ...args,
            }),
    );
}

function container(sts: RecordedResource) {
    return sts.inputs.spec.template.spec.containers[0];
}

describe("components", () => {
    describe("KubernetesRuntime through PostgresqlServer", () => {
        it("runs a StatefulSet that keeps its volume claims and follows the restricted profile", async () => {
            const find = finder((await postgres()).resources);
            const sts = find.one(STS, "postgresql");
            const spec = sts.inputs.spec;
            assert.strictEqual(spec.replicas, 1);
            assert.strictEqual(spec.serviceName, "postgresql-headless");
            assert.deepStrictEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
            assert.deepStrictEqual(spec.template.spec.securityContext, {
                runAsNonRoot: true,
                runAsUser: 999,
                runAsGroup: 999,
                fsGroup: 999,
                seccompProfile: { type: "RuntimeDefault" },
            });
            assert.deepStrictEqual(container(sts).securityContext, {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
            });
            // The root filesystem is read-only: PostgreSQL gets its socket directory and /tmp as emptyDirs.
            assert.deepStrictEqual(container(sts).volumeMounts.slice(1), [
                { name: "scratch-0", mountPath: "/var/run/postgresql" },
                { name: "scratch-1", mountPath: "/tmp" },
            ]);
            assert.deepStrictEqual(spec.template.spec.volumes, [
                { name: "scratch-0", emptyDir: {} },
                { name: "scratch-1", emptyDir: {} },
            ]);
            assert.strictEqual(spec.template.spec.automountServiceAccountToken, false);
            const claim = spec.volumeClaimTemplates[0];
            assert.deepStrictEqual(claim.spec.resources.requests, { storage: "2Gi" });
            assert.deepStrictEqual(container(sts).resources, RESOURCES);
        });

        it("probes PostgreSQL over TCP, so the init phase (socket only) is not ready; liveness runs a query", async () => {
            const sts = finder((await postgres()).resources).one(STS, "postgresql");
            const c = container(sts);
            assert.deepStrictEqual(c.readinessProbe.exec.command, ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]);
            // The command itself runs against a real server in postgresql.integration.test.ts.
            const liveness = { exec: { command: postgresqlLivenessCommand() }, timeoutSeconds: 5 };
            assert.deepStrictEqual(c.livenessProbe, { ...liveness, periodSeconds: 10, failureThreshold: 6 });
            // Startup allows five minutes (initdb, recovery) before liveness takes over.
            assert.deepStrictEqual(c.startupProbe, { ...liveness, periodSeconds: 5, failureThreshold: 60 });
        });

        it("starts PostgreSQL with the settings derived from its memory limit and volume", async () => {
            const c = container(finder((await postgres()).resources).one(STS, "postgresql"));
            assert.deepStrictEqual(c.args, postgresqlServerArgs(postgresqlServerSettings("512Mi", 2)));
            assert.ok(c.args.includes("max_connections=102") && c.args.includes("shared_buffers=131072kB"), c.args.join(" "));
        });

        it("passes the admin password by reference to a Secret whose payload is secret", async () => {
            const find = finder((await postgres()).resources);
            const c = container(find.one(STS, "postgresql"));
            const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));
            assert.deepStrictEqual(env.POSTGRES_PASSWORD.valueFrom, { secretKeyRef: { name: "postgresql-admin", key: "POSTGRES_PASSWORD" } });
            assert.strictEqual(env.POSTGRES_USER.value, "postgres");
            const secret = find.one(SECRET, "postgresql-admin");
            assert.ok(isSecretWrapper(secret.rawInputs.stringData));
        });

        it("mounts data where each PostgreSQL major keeps it", async () => {
            const v18 = container(finder((await postgres({ version: "18" })).resources).one(STS, "postgresql"));
            assert.strictEqual(v18.volumeMounts[0].mountPath, "/var/lib/postgresql");
            assert.ok(!v18.env.some((e: { name: string }) => e.name === "PGDATA"));
            const v17 = container(finder((await postgres({ version: "17.6" })).resources).one(STS, "postgresql"));
            assert.strictEqual(v17.volumeMounts[0].mountPath, "/var/lib/postgresql/data");
            assert.deepStrictEqual(v17.env.find((e: { name: string }) => e.name === "PGDATA"), { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" });
            assert.strictEqual(v17.image, "postgres:17.6");
        });

        it("selects the server's pod from both Services", async () => {
            const find = finder((await postgres()).resources);
            const labels = find.one(STS, "postgresql").inputs.spec.template.metadata.labels;
            const headless = find.one(SERVICE, "postgresql-headless").inputs.spec;
            const service = find.one(SERVICE, "postgresql-service").inputs.spec;
            assert.strictEqual(headless.clusterIP, "None");
            assert.strictEqual(service.type, "ClusterIP");
            assert.deepStrictEqual(headless.selector, labels);
            assert.deepStrictEqual(service.selector, labels);
            assert.deepStrictEqual(service.ports, [{ name: "postgresql", port: 5432, targetPort: 5432 }]);
        });

        it("does not restart PostgreSQL when its tenants change", async () => {
            // The pod template: any change to it restarts the pod.
            const template = async (args: Partial<PostgresqlServerArgs>) => finder((await postgres(args)).resources).one(STS, "postgresql").inputs.spec.template;
            const one = await template({ tenants: [{ app: "a" }] });
            assert.match(one.metadata.annotations[CONFIG_HASH_ANNOTATION], /^[0-9a-f]{64}$/);
            assert.deepStrictEqual(await template({ tenants: [{ app: "a", connectionLimit: 5 }, { app: "b" }] }), one, "a tenant added, another's limit changed");
            assert.deepStrictEqual(await template({ tenants: [] }), one, "every tenant removed");
            // Its own settings do change it.
            assert.notDeepStrictEqual(await template({ tenants: [{ app: "a" }], tuning: { maxConnections: 50 } }), one);
        });
    });

    describe("PostgresqlServer", () => {
        it("reaches the server through the admin endpoint when one is set", async () => {
            const find = finder((await postgres({ adminEndpoint: { host: "{server}.db.example.com", port: 15432 } })).resources);
            const provider = find.one("pulumi:providers:postgresql", "postgresql-admin");
            assert.strictEqual(provider.inputs.host, "postgresql.db.example.com");
            assert.strictEqual(provider.inputs.port, "15432");
        });

        it("rejects a version without a major number and a name that is no DNS label", () => {
            assert.throws(() => new PostgresqlServer("postgresql", { runtime: kubernetesRuntime(), version: "latest", storageGi: 1, resources: RESOURCES, tenants: [] }), /major version/);
            assert.throws(() => new PostgresqlServer("Postgres_1", { runtime: kubernetesRuntime(), version: "18", storageGi: 1, resources: RESOURCES, tenants: [] }), /DNS label/);
        });
    });

    describe("PostgresqlTenant", () => {
        const server = () => ({ host: "pg.example", port: 5432, provider: new postgresql.Provider("pg", {}) });

        it("keeps and protects its role and database unless decommissioned", async () => {
            const kept = finder(
                (await runProgram(() => new PostgresqlTenant("lernmi-postgresql", { server: server(), app: "lernmi", protect: true }))).resources,
            );
            for (const type of ["postgresql:index/role:Role", "postgresql:index/database:Database"]) {
                const r = kept.all(type)[0];
                assert.deepStrictEqual([r.retainOnDelete, r.protect], [true, true], type);
            }
            const dropped = finder(
                (await runProgram(() => new PostgresqlTenant("lernmi-postgresql", { server: server(), app: "lernmi", protect: true, decommissioned: true })))
                    .resources,
            );
            for (const type of ["postgresql:index/role:Role", "postgresql:index/database:Database"]) {
                const r = dropped.all(type)[0];
                assert.deepStrictEqual([r.retainOnDelete, r.protect], [false, false], type);
            }
        });

        it("gives credentials of the documented shape with secret password and URL", async () => {
            const run = await runProgram(() => new PostgresqlTenant("a-postgresql", { server: server(), app: "a" }));
            const tenant = run.result;
            const creds = await valueOf(tenant.credentials);
            assert.deepStrictEqual(Object.keys(creds).sort(), ["database", "host", "password", "port", "url", "user"]);
            assert.strictEqual(creds.url, `postgresql://a:${creds.password}@pg.example:5432/a`);
            assert.ok(await pulumi.isSecret(tenant.credentials));
            assert.strictEqual(finder(run.resources).one("postgresql:index/role:Role", "a-postgresql-role").inputs.connectionLimit, 20);
        });
    });

    describe("RedisServer", () => {
        it("starts redis-server from the bootstrap ACL, with its ACL file on the data volume", async () => {
            const find = finder((await redis({ databases: 32 })).resources);
            const c = container(find.one(STS, "redis"));
            assert.deepStrictEqual(c.args, [
                "sh", "-c", redisStartScript("/etc/redis/bootstrap/users.acl", "/data/users.acl"), "redis-server",
                "--port", "6379", "--aclfile", "/data/users.acl", "--databases", "32", "--dir", "/data", "--appendonly", "yes",
                ...redisServerArgs(redisServerSettings(RESOURCES.limits.memory)),
            ]);
            assert.deepStrictEqual(c.livenessProbe.exec.command, redisLivenessCommand());
            assert.deepStrictEqual(c.volumeMounts, [
                { name: "data", mountPath: "/data" },
                { name: "config", mountPath: "/etc/redis/bootstrap", readOnly: true },
            ]);
            const volumes = find.one(STS, "redis").inputs.spec.template.spec.volumes;
            assert.deepStrictEqual(volumes, [{ name: "config", secret: { secretName: "redis-config", defaultMode: 0o440 } }]);
            assert.deepStrictEqual(c.env, [{ name: "REDISCLI_AUTH", valueFrom: { secretKeyRef: { name: "redis-admin", key: "REDISCLI_AUTH" } } }]);
        });

        it("bootstraps with the default user off and the admin user only, passwords as digests", async () => {
            const run = await redis();
            const secret = finder(run.resources).one(SECRET, "redis-config");
            assert.ok(isSecretWrapper(secret.rawInputs.stringData));
            const acl: string = secret.inputs.stringData["users.acl"];
            const lines = acl.trim().split("\n");
            assert.deepStrictEqual(lines.length, 2);
            assert.strictEqual(lines[0], "user default off resetpass resetkeys resetchannels -@all");
            assert.match(lines[1], /^user admin on #[0-9a-f]{64} ~\* &\* \+@all$/);
            for (const p of run.passwords) assert.ok(!acl.includes(p));
        });

        it("manages each tenant's ACL user through the admin, once the server is ready", async () => {
            const find = finder((await redis()).resources);
            const sts = find.one(STS, "redis");
            for (const app of ["lernmi", "digi_core"]) {
                const user = find.one("pulumi-nodejs:dynamic/redis:AclUser", `redis/${app}-user`);
                assert.deepStrictEqual(
                    [user.inputs.user, user.inputs.adminUser, user.inputs.host, user.inputs.port],
                    [app, "admin", "redis.db.svc.cluster.local", 6379],
                );
                assert.ok(isSecretWrapper(user.rawInputs.adminPassword));
                assert.strictEqual(user.inputs.password, undefined, "the user generates its own password");
                assert.ok(user.dependencies.includes(sts.urn), `${app}'s user waits for the server`);
            }
        });

        it("never restarts for a tenant change, only for its own config", async () => {
            // The pod template: any change to it restarts the pod.
            const template = async (args: Partial<RedisServerArgs>) => finder((await redis(args)).resources).one(STS, "redis").inputs.spec.template;
            const two = await template({});
            assert.match(two.metadata.annotations[CONFIG_HASH_ANNOTATION], /^[0-9a-f]{64}$/);
            assert.deepStrictEqual(await template({ tenants: [{ app: "lernmi", db: 1 }] }), two, "a tenant removed");
            assert.deepStrictEqual(await template({ tenants: [] }), two, "every tenant removed");
            assert.deepStrictEqual(
                await template({ tenants: [{ app: "new_app", db: 3 }, { app: "lernmi", db: 2 }, { app: "digi_core", db: 0 }] }),
                two,
                "a tenant added, another's db moved",
            );
            // Its own config does change it.
            assert.notDeepStrictEqual(await template({ databases: 32 }), two);
        });

        it("gives each tenant its URL with its db number and key prefix", async () => {
            const run = await redis();
            const creds = await valueOf(run.result.tenants.lernmi.credentials);
            assert.strictEqual(creds.url, `redis://lernmi:${creds.password}@redis.db.svc.cluster.local:6379/1`);
            assert.deepStrictEqual([creds.user, creds.db, creds.keyPrefix], ["lernmi", 1, "lernmi"]);
            assert.ok(await pulumi.isSecret(run.result.tenants.lernmi.credentials));
        });

        it("rejects duplicate and out-of-range db numbers", () => {
            const args = { runtime: kubernetesRuntime(), version: "7.4", storageGi: 1, resources: RESOURCES };
            assert.throws(() => new RedisServer("r1", { ...args, tenants: [{ app: "a", db: 1 }, { app: "b", db: 1 }] }), /db 1 is used by a and b/);
            assert.throws(() => new RedisServer("r2", { ...args, databases: 4, tenants: [{ app: "a", db: 4 }] }), /allowed 0-3/);
        });
    });

    it("derives the app environment from its credentials, the same for Secret and .env", () => {
        const env = appEnvironment("lernmi", {
            postgresql: { host: "h", port: 5432, database: "lernmi", user: "lernmi", password: "pw", url: "postgresql://lernmi:pw@h:5432/lernmi" },
            redis: { host: "r", port: 6379, db: 3, user: "lernmi", password: "rpw", url: "redis://lernmi:rpw@r:6379/3", keyPrefix: "lernmi" },
        });
        assert.deepStrictEqual(env, {
            APP_TENANT_ID: "lernmi",
            DATABASE_URL: "postgresql://lernmi:pw@h:5432/lernmi",
            PGHOST: "h",
            PGPORT: "5432",
            PGDATABASE: "lernmi",
            PGUSER: "lernmi",
            PGPASSWORD: "pw",
            REDIS_URL: "redis://lernmi:rpw@r:6379/3",
            REDIS_KEY_PREFIX: "lernmi",
            REDIS_DB: "3",
        });
        assert.deepStrictEqual(appEnvironment("x", {}), { APP_TENANT_ID: "x" });
    });

    it("percent-encodes user and password in URLs", async () => {
        const url = await runProgram(() => credentialUrl("postgresql", "a", "p@ss:w/rd%", "h", 1, "db"));
        assert.strictEqual(await valueOf(url.result), "postgresql://a:p%40ss%3Aw%2Frd%25@h:1/db");
        assert.ok(await pulumi.isSecret(url.result));
    });
});
