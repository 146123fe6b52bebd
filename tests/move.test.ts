// Moving an app between shared and dedicated, as config and a whole Kubernetes stack under mocks:
// what is refused, the old tenancy kept beside the new one, the copy Job running the engine's copy
// scripts between the two servers, and the app's Secret and outputs waiting for that Job.
import * as assert from "assert";
import { copyInScript, copyOutScript } from "../components/backup";
import { DOCKER_MOVE_SCRIPT } from "../infra/docker-move";
import * as docker from "@pulumi/docker";
import { DatabasePlatform } from "../components/platform";
import { engineNamed } from "../components/engines";
import { kubernetesServiceHost } from "../infra/kubernetes";
import { COPY_TO_LABEL, JOB_FOR_LABEL } from "../infra/naming";
import { parseStackConfig } from "../stacks/config";
import { planTopology } from "../stacks/plan";
import { StackOutputs, loadStackConfig, runStack } from "../stacks/program";
import { problemsOf } from "./helpers/config";
import { MockRun, REDIS_ACL_USER, RecordedResource, finder, isSecretWrapper, plaintextOccurrences, runProgram, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";

const JOB = "kubernetes:batch/v1:Job";
const SECRET = "kubernetes:core/v1:Secret";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

function stack(app_a: Record<string, unknown>) {
    return {
        target: "kubernetes",
        engines: { postgresql: {}, redis: {} },
        apps: { app_a: { postgresql: {}, redis: { db: 0 }, ...app_a }, app_b: { postgresql: {}, redis: { db: 1 } } },
    };
}
const MOVING = stack({ postgresql: { placement: "dedicated", moveFrom: "shared" } });
/** app_a moves its PostgreSQL and MySQL to dedicated servers and its Redis back to the shared one. */
const MOVING_ALL = {
    target: "kubernetes",
    engines: { postgresql: {}, redis: {}, mysql: {} },
    apps: {
        app_a: {
            postgresql: { placement: "dedicated", moveFrom: "shared" },
            mysql: { placement: "dedicated", moveFrom: "shared" },
            redis: { db: 0, placement: "shared", moveFrom: "dedicated" },
        },
        app_b: { postgresql: {}, redis: { db: 1 }, mysql: {} },
    },
};

type Container = { name: string; command: string[]; env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[] };

/** A container's variables, Secret references resolved against the stack's own Secrets. */
function envOf(c: Container, resources: RecordedResource[]): Record<string, string> {
    const secrets = new Map(resources.filter((r) => r.type === SECRET).map((r) => [r.inputs.metadata.name as string, r.inputs.stringData as Record<string, string>]));
    return Object.fromEntries(c.env.map((e) => [e.name, e.value ?? secrets.get(e.valueFrom!.secretKeyRef.name)![e.valueFrom!.secretKeyRef.key]]));
}

describe("moving an app between shared and dedicated", function () {
    this.timeout(60000);

    describe("config", () => {
        const refused: [string, Record<string, unknown>, RegExp][] = [
            ["moveFrom where the app already is", { postgresql: { moveFrom: "shared" } }, /^apps\.app_a\.postgresql\.moveFrom: shared is where app_a's postgresql data is to be; set placement to the other one, or remove moveFrom$/],
            ["a move together with a restore", { postgresql: { placement: "dedicated", moveFrom: "shared", restore: { from: "latest" } } }, /^apps\.app_a\.postgresql\.moveFrom: a move and a restore at once; move first, then restore$/],
            ["a Redis move that does not keep the db number", { redis: { placement: "shared", moveFrom: "dedicated" } }, /^apps\.app_a\.redis\.moveFrom: set db to the number the app has now/],
        ];
        for (const [what, app_a, message] of refused) {
            it(`refuses ${what}`, () => {
                const problems = problemsOf(stack(app_a));
                assert.ok(problems.some((p) => message.test(p)), problems.join("\n"));
            });
        }
        it("refuses a move of an engine that cannot copy one tenant", () => {
            const neo4j = problemsOf({ target: "kubernetes", engines: { neo4j: {} }, apps: { app_a: { neo4j: { placement: "dedicated", moveFrom: "shared" } } } });
            assert.ok(neo4j.some((p) => /^apps\.app_a\.neo4j\.moveFrom: Neo4j Community cannot back up .*so its data cannot be copied; move it by hand$/.test(p)), neo4j.join("\n"));
            const enterprise = problemsOf({
                target: "kubernetes",
                engines: { neo4j: { edition: "enterprise", acceptLicenseAgreement: true } },
                apps: { app_a: { neo4j: { placement: "dedicated", moveFrom: "shared" } } },
            });
            assert.ok(enterprise.some((p) => /^apps\.app_a\.neo4j\.moveFrom: .*so its data cannot be copied; move it by hand$/.test(p)), enterprise.join("\n"));
        });

        it("plans the app on its new server, and keeps its retired tenancy where its data is now", () => {
            const servers = planTopology(parseStackConfig(MOVING)).servers.filter((s) => s.engine === "postgresql");
            assert.deepStrictEqual(
                servers.map((s) => [s.name, s.tenants.map((t) => [t.app, t.retired ?? false, t.moveFrom?.server ?? null])]),
                [
                    ["postgresql", [["app_a", true, null], ["app_b", false, null]]],
                    ["postgresql-app-a", [["app_a", false, "postgresql"]]],
                ],
            );
            // And the other way: dedicated back to shared.
            const back = planTopology(parseStackConfig(stack({ postgresql: { placement: "shared", moveFrom: "dedicated" } }))).servers.filter((s) => s.engine === "postgresql");
            assert.deepStrictEqual(
                back.map((s) => [s.name, s.tenants.map((t) => [t.app, t.retired ?? false, t.moveFrom?.server ?? null])]),
                [
                    ["postgresql", [["app_a", false, "postgresql-app-a"], ["app_b", false, null]]],
                    ["postgresql-app-a", [["app_a", true, null]]],
                ],
            );
        });
    });

    describe("on Kubernetes (rendered under mocks)", () => {
        let unmoved: MockRun<StackOutputs>;
        let moving: MockRun<StackOutputs>;
        let after: MockRun<StackOutputs>;
        before(async () => {
            unmoved = await runStackConfig(stack({}));
            moving = await runStackConfig(MOVING);
            after = await runStackConfig(stack({ postgresql: { placement: "dedicated" } }));
        });

        it("runs one copy Job: the engine's copy scripts, out of the old server and into the new, each as the app there", async () => {
            const find = finder(moving.resources);
            const job = find.one(JOB, "app_a-postgresql-move-copy");
            assert.strictEqual(job.inputs.metadata.name, "move-app-a-postgresql-to-postgresql-app-a");
            const pod = job.inputs.spec.template.spec as { initContainers: Container[]; containers: Container[] };
            const hook = engineNamed("postgresql").backup!;
            const [out] = pod.initContainers;
            const [into] = pod.containers;
            assert.deepStrictEqual(out.command, ["sh", "-c", copyOutScript(hook.commands)]);
            assert.deepStrictEqual(into.command, ["sh", "-c", copyInScript(hook.commands)]);
            const outEnv = envOf(out, moving.resources);
            const inEnv = envOf(into, moving.resources);
            assert.strictEqual(outEnv.PGHOST, kubernetesServiceHost("postgresql", "databases"));
            assert.strictEqual(inEnv.PGHOST, kubernetesServiceHost("postgresql-app-a", "databases"));
            assert.strictEqual(outEnv.PGUSER, "app_a");
            // Each side with the app's password on that server: the new one is what the app receives.
            const apps = (await valueOf(moving.result.apps)) as Record<string, Record<string, { password: string; host: string }>>;
            assert.strictEqual(inEnv.PGPASSWORD, apps.app_a.postgresql.password);
            assert.notStrictEqual(outEnv.PGPASSWORD, inEnv.PGPASSWORD);
            assert.strictEqual(job.inputs.spec.backoffLimit, 0);
            assert.deepStrictEqual(job.ignoreChanges, ["spec", "metadata.labels"], "a move is one run");
            assert.deepStrictEqual(plaintextOccurrences(job.rawInputs, moving.passwords), []);
        });

        it("starts the copy once the new tenancy exists, and points the app's Secret and outputs at the new server only after it", async () => {
            const find = finder(moving.resources);
            const job = find.one(JOB, "app_a-postgresql-move-copy");
            const tenant = find.one("tenant-databases:postgresql:PostgresqlTenant", "postgresql-app-a/app_a");
            const children = moving.resources.filter((r) => r.custom && r.parent === tenant.urn);
            assert.ok(children.length >= 4);
            for (const child of children) assert.ok(job.dependencies.includes(child.urn), `the copy waits for ${child.urn}`);
            const secret = find.one(SECRET, "app_a-databases");
            assert.ok(secret.dependencies.includes(job.urn), "the app's Secret waits for the copy");
            assert.strictEqual(secret.inputs.stringData.PGHOST, kubernetesServiceHost("postgresql-app-a", "databases"));
            // The other app's Secret does not wait for app_a's move.
            assert.ok(!find.one(SECRET, "app_b-databases").dependencies.includes(job.urn));
            const apps = (await valueOf(moving.result.apps)) as Record<string, Record<string, { host: string }>>;
            assert.strictEqual(apps.app_a.postgresql.host, kubernetesServiceHost("postgresql-app-a", "databases"));
        });

        it("disables the app's login on the old server once the copy succeeded, and keeps its data there", async () => {
            const run = await runStackConfig(MOVING_ALL);
            const find = finder(run.resources);
            const job = (engine: string) => find.one(JOB, `app_a-${engine}-move-copy`);
            const role = find.one("postgresql:index/role:Role", "postgresql/app_a-role");
            assert.strictEqual(role.inputs.login, false);
            assert.ok(role.dependencies.includes(job("postgresql").urn), "the role loses its login only after the copy");
            assert.ok(role.retainOnDelete && find.one("postgresql:index/database:Database", "postgresql/app_a-database").retainOnDelete, "the old copy stays");
            const limit = find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", "mysql/app_a-connection-limit");
            assert.strictEqual(limit.inputs.locked, true);
            assert.ok(limit.dependencies.includes(job("mysql").urn));
            const user = find.one(REDIS_ACL_USER, "redis-app-a/app_a-user");
            assert.strictEqual(user.inputs.enabled, false);
            assert.ok(user.dependencies.includes(job("redis").urn));
            // The new tenancies' logins are enabled, and nothing of theirs waits for a copy.
            assert.strictEqual(find.one("postgresql:index/role:Role", "postgresql-app-a/app_a-role").inputs.login, true);
            assert.strictEqual(find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", "mysql-app-a/app_a-connection-limit").inputs.locked, false);
            assert.strictEqual(find.one(REDIS_ACL_USER, "redis/app_a-user").inputs.enabled, undefined);
            // Each copy reads the old login's password (a Secret), not the old tenancy's user.
            for (const engine of ["postgresql", "mysql", "redis"]) {
                assert.ok(!job(engine).dependencies.some((d) => d.includes("Role::postgresql/") || d.includes("::mysql/app_a") || d.includes("::redis-app-a/")), `${engine}: the copy does not wait for the old tenancy`);
            }
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });

        it("admits the copy Job to both servers: to the old as its Job, to the new as a copy target", () => {
            const find = finder(moving.resources);
            const labels = find.one(JOB, "app_a-postgresql-move-copy").inputs.spec.template.metadata.labels;
            assert.strictEqual(labels[JOB_FOR_LABEL], "postgresql");
            assert.strictEqual(labels[COPY_TO_LABEL], "postgresql-app-a");
            const selectors = (server: string) =>
                (find.one(NETPOL, `${server}-clients`).inputs.spec.ingress as { from: { podSelector?: { matchLabels: Record<string, string> } }[] }[]).flatMap((r) =>
                    r.from.flatMap((f) => (f.podSelector ? [f.podSelector.matchLabels] : [])),
                );
            assert.deepStrictEqual(selectors("postgresql"), [{ [JOB_FOR_LABEL]: "postgresql" }]);
            assert.deepStrictEqual(selectors("postgresql-app-a"), [{ [JOB_FOR_LABEL]: "postgresql-app-a" }, { [COPY_TO_LABEL]: "postgresql-app-a" }]);
        });

        it("keeps the old tenancy as it was, and changes nothing of the other app", () => {
            const underOldServer = (run: MockRun<StackOutputs>, app: string) => {
                const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
                const server = run.resources.find((r) => r.type === "tenant-databases:postgresql:PostgresqlServer" && r.name === "postgresql")!;
                const tenant = run.resources.find((r) => r.name === `postgresql/${app}` && r.parent === server.urn)!;
                return run.resources.filter((r) => {
                    for (let cur: RecordedResource | undefined = r; cur; cur = byUrn.get(cur.parent)) if (cur.urn === tenant.urn) return true;
                    return false;
                });
            };
            // The old tenancy differs in its login only (disabled after the copy, above).
            const loginAside = (r: RecordedResource) => [r.urn, r.type === "postgresql:index/role:Role" ? { ...r.inputs, login: "(aside)" } : r.inputs];
            for (const app of ["app_a", "app_b"]) {
                const was = underOldServer(unmoved, app).map(loginAside);
                assert.ok(was.length >= 4);
                assert.deepStrictEqual(underOldServer(moving, app).map(loginAside), was, `${app}'s tenancy on the shared server`);
            }
            const appB = (run: MockRun<StackOutputs>) => finder(run.resources).one(SECRET, "app_b-databases").inputs;
            assert.deepStrictEqual(appB(moving), appB(unmoved));
        });

        it("registers no copy Job and no old tenancy once moveFrom is removed; the new tenancy stays as the move made it", () => {
            assert.deepStrictEqual(after.resources.filter((r) => r.type === JOB), []);
            const shared = planTopology(parseStackConfig(stack({ postgresql: { placement: "dedicated" } }))).servers.find((s) => s.name === "postgresql")!;
            assert.deepStrictEqual(shared.tenants.map((t) => t.app), ["app_b"]);
            const tenancy = (run: MockRun<StackOutputs>) =>
                run.resources.filter((r) => r.name.startsWith("postgresql-app-a/app_a")).map((r) => ({ urn: r.urn, inputs: r.inputs, retainOnDelete: r.retainOnDelete }));
            assert.ok(tenancy(moving).length >= 4);
            assert.deepStrictEqual(tenancy(after), tenancy(moving));
        });

        it("gives the old name's alias to the tenancy that holds the data: no URN is claimed twice", async () => {
            const run = await runProgram(() => runStack(loadStackConfig()), { config: MOVING, aliasUrns: true });
            const claimed = new Map<string, string>();
            for (const r of run.resources) {
                for (const urn of [r.urn, ...r.aliases]) {
                    // The mocks' URNs carry the parent's last type only, the SDK's aliases the whole chain.
                    const [, , types, name] = urn.split("::");
                    const key = `${types.split("$").pop()}::${name}`;
                    assert.ok(!claimed.has(key) || claimed.get(key) === r.urn, `${urn}: ${claimed.get(key)} and ${r.urn}`);
                    claimed.set(key, r.urn);
                }
            }
            const aliased = (name: string) => run.resources.find((r) => r.name === name && r.type.endsWith("Tenant"))!.aliases.map((a) => a.slice(a.lastIndexOf("::") + 2));
            assert.deepStrictEqual(aliased("postgresql/app_a"), ["app_a-postgresql"], "the retired tenancy is the one created under the old name");
            assert.deepStrictEqual(aliased("postgresql-app-a/app_a"), [], "the tenancy the move creates never had it");
            assert.deepStrictEqual(aliased("redis/app_a"), ["app_a-redis"]);
        });

        it("drops only the old copy when a moving app is listed in decommission", async () => {
            const run = await runStackConfig({ ...MOVING, decommission: ["app_a"] });
            const databases = run.resources.filter((r) => r.type === "postgresql:index/database:Database" && r.inputs.name === "app_a");
            assert.deepStrictEqual(
                databases.map((d) => [d.name, d.retainOnDelete]).sort(),
                [
                    ["postgresql-app-a/app_a-database", true],
                    ["postgresql/app_a-database", false],
                ],
            );
        });
    });
    describe("on Docker (rendered under mocks)", () => {
        const DOCKER_MOVING = { ...MOVING_ALL, target: "docker", engines: { ...MOVING_ALL.engines, postgresql: { hostPort: 15432 } } };
        const COMMAND = "command:local:Command";
        let run: MockRun<StackOutputs>;
        before(async () => {
            run = await runStackConfig(DOCKER_MOVING, "dev");
        });

        it("runs each copy once as a command of the Docker CLI: the engine's copy scripts, each half in its server's network, the app's passwords as secrets", () => {
            const find = finder(run.resources);
            for (const [engine, from, to] of [
                ["postgresql", "postgresql", "postgresql-app-a"],
                ["mysql", "mysql", "mysql-app-a"],
                ["redis", "redis-app-a", "redis"],
            ] as const) {
                const cmd = find.one(COMMAND, `app_a-${engine}-move`);
                const hook = engineNamed(engine).backup!;
                assert.strictEqual(cmd.inputs.create, DOCKER_MOVE_SCRIPT);
                const env = cmd.inputs.environment as Record<string, string>;
                assert.deepStrictEqual([env.MOVE_FROM_CONTAINER, env.MOVE_TO_CONTAINER], [`tenant-databases-dev-${from}`, `tenant-databases-dev-${to}`]);
                assert.deepStrictEqual([env.MOVE_COPY_OUT, env.MOVE_COPY_IN], [copyOutScript(hook.commands), copyInScript(hook.commands)]);
                assert.ok(env.MOVE_FROM_VARS.split("\n").includes("APP=app_a") && env.MOVE_TO_VARS.split("\n").includes("BACKUP_DIR=/backups"));
                assert.deepStrictEqual(cmd.ignoreChanges.sort(), ["create", "delete", "dir", "environment", "interpreter", "triggers", "update"], "a move is one run");
                // The admin's variables come from the server container, never from this state.
                assert.deepStrictEqual(plaintextOccurrences(cmd.rawInputs, run.passwords), []);
                if (hook.tenantPasswordEnv !== undefined) {
                    assert.strictEqual(env.MOVE_PASSWORD_VAR, hook.tenantPasswordEnv);
                    const raw = cmd.rawInputs.environment;
                    // Secret itself, or inside an environment that is secret as a whole.
                    const secret = (key: string) => isSecretWrapper(raw) || isSecretWrapper((raw as Record<string, unknown>)[key]);
                    assert.ok(secret("MOVE_FROM_PASSWORD") && secret("MOVE_TO_PASSWORD"), "the app's passwords are secrets");
                }
            }
            const mysql = find.one(COMMAND, "app_a-mysql-move").inputs.environment as Record<string, string>;
            assert.strictEqual(mysql.MOVE_FROM_SERVER_VARS, "MYSQL_ADMIN_PASSWORD=MYSQL_ROOT_PASSWORD", "the freeze as the admin, on the old server only");
            assert.strictEqual(mysql.MOVE_TO_SERVER_VARS, "");
        });

        it("points the apps output at the new servers and disables the old logins only after the copy; keeps the old server's host port while the move lasts", async () => {
            const find = finder(run.resources);
            const cmd = find.one(COMMAND, "app_a-postgresql-move");
            const tenancy = find.one("tenant-databases:postgresql:PostgresqlTenant", "postgresql-app-a/app_a");
            for (const child of run.resources.filter((r) => r.custom && r.parent === tenancy.urn)) assert.ok(cmd.dependencies.includes(child.urn), `the copy waits for ${child.name}`);
            const role = find.one("postgresql:index/role:Role", "postgresql/app_a-role");
            assert.ok(role.inputs.login === false && role.dependencies.includes(cmd.urn));
            assert.ok(find.one(REDIS_ACL_USER, "redis-app-a/app_a-user").dependencies.includes(find.one(COMMAND, "app_a-redis-move").urn));
            const apps = (await valueOf(run.result.apps)) as Record<string, Record<string, { host: string; port: number }>>;
            assert.strictEqual(apps.app_a.postgresql.host, "127.0.0.1");
            const containers = new Map(run.resources.filter((r) => r.type === "docker:index/container:Container").map((r) => [r.inputs.name, r.inputs.ports]));
            assert.deepStrictEqual(containers.get("tenant-databases-dev-postgresql")[0].external, 15432, "the shared server the app leaves keeps its port");
        });
    });
});

describe("moving MongoDB and Qdrant (config, and rendered under mocks on Kubernetes and Docker)", function () {
    this.timeout(60000);
    const MONGO_USER = "pulumi-nodejs:dynamic/mongodb:User";
    const COMMAND = "command:local:Command";
    const collections = { docs: { size: 4, distance: "Cosine" } };
    /** app_a moves its MongoDB to a dedicated server and its Qdrant back from its dedicated one to the shared one. */
    const moving = (target: string) => ({
        target,
        engines: { mongodb: {}, qdrant: {} },
        apps: {
            app_a: { mongodb: { placement: "dedicated", moveFrom: "shared" }, qdrant: { collections, placement: "shared", moveFrom: "dedicated" } },
            app_b: { mongodb: {}, qdrant: { collections } },
        },
    });

    it("config accepts both moves on both targets, and plans each retired tenancy beside the new one", () => {
        for (const target of ["kubernetes", "docker"]) {
            const servers = planTopology(parseStackConfig(moving(target))).servers;
            const tenancies = (engine: string) =>
                servers.filter((s) => s.engine === engine).map((s) => [s.name, s.tenants.map((t) => [t.app, t.retired ?? false, t.moveFrom?.server ?? null])]);
            assert.deepStrictEqual(
                tenancies("mongodb"),
                [
                    ["mongodb", [["app_a", true, null], ["app_b", false, null]]],
                    ["mongodb-app-a", [["app_a", false, "mongodb"]]],
                ],
                target,
            );
            assert.deepStrictEqual(
                tenancies("qdrant"),
                [
                    ["qdrant", [["app_a", false, "qdrant-app-a"], ["app_b", false, null]]],
                    ["qdrant-app-a", [["app_a", true, null]]],
                ],
                target,
            );
        }
    });

    describe("on Kubernetes", () => {
        let run: MockRun<StackOutputs>;
        before(async () => {
            run = await runStackConfig(moving("kubernetes"));
        });

        it("runs each copy as a Job of the engine's copy scripts: MongoDB as each server's admin, Qdrant in the curl image with the app's collections", () => {
            const find = finder(run.resources);
            for (const [engine, from, to, image] of [
                ["mongodb", "mongodb", "mongodb-app-a", "mongo:8.0"],
                ["qdrant", "qdrant-app-a", "qdrant", "curlimages/curl:8.11.1"],
            ] as const) {
                const job = find.one(JOB, `app_a-${engine}-move-copy`);
                const hook = engineNamed(engine).backup!;
                const pod = job.inputs.spec.template.spec as { initContainers: (Container & { image: string })[]; containers: (Container & { image: string })[] };
                const [out] = pod.initContainers;
                const [into] = pod.containers;
                assert.deepStrictEqual(out.command, ["sh", "-c", copyOutScript(hook.commands)]);
                assert.deepStrictEqual(into.command, ["sh", "-c", copyInScript(hook.commands)]);
                assert.deepStrictEqual([out.image, into.image], [image, image]);
                const outEnv = envOf(out, run.resources);
                const inEnv = envOf(into, run.resources);
                const host = engine === "mongodb" ? "MONGO_HOST" : "QDRANT_HOST";
                assert.deepStrictEqual([outEnv[host], inEnv[host]], [kubernetesServiceHost(from, "databases"), kubernetesServiceHost(to, "databases")]);
                assert.deepStrictEqual(plaintextOccurrences(job.rawInputs, run.passwords), [], engine);
            }
            const mongo = find.one(JOB, "app_a-mongodb-move-copy").inputs.spec.template.spec as { initContainers: Container[]; containers: Container[] };
            const [outEnv, inEnv] = [envOf(mongo.initContainers[0], run.resources), envOf(mongo.containers[0], run.resources)];
            assert.strictEqual(outEnv.MONGO_USER, "admin");
            assert.ok(outEnv.MONGO_PASSWORD && inEnv.MONGO_PASSWORD && outEnv.MONGO_PASSWORD !== inEnv.MONGO_PASSWORD, "each side with its own server's admin password");
            const qdrant = find.one(JOB, "app_a-qdrant-move-copy").inputs.spec.template.spec as { containers: Container[] };
            assert.strictEqual(envOf(qdrant.containers[0], run.resources).QDRANT_COLLECTIONS, "app_a_docs");
        });

        it("disables the MongoDB retired tenancy's user once its copy Job succeeded; no other user names enabled", async () => {
            const find = finder(run.resources);
            const job = find.one(JOB, "app_a-mongodb-move-copy");
            const retired = find.one(MONGO_USER, "mongodb/app_a-user");
            assert.strictEqual(retired.inputs.enabled, false);
            assert.ok(retired.dependencies.includes(job.urn), "the user loses its roles only after the copy");
            assert.ok(!job.dependencies.includes(retired.urn), "the copy does not wait for the old user");
            assert.ok(find.one("pulumi-nodejs:dynamic/mongodb:Database", "mongodb/app_a-database").retainOnDelete, "the old copy stays");
            for (const name of ["mongodb-app-a/app_a-user", "mongodb/app_b-user"]) {
                const user = find.one(MONGO_USER, name);
                assert.ok(!("enabled" in user.rawInputs), name);
                assert.ok(!user.dependencies.includes(job.urn), name);
            }
            // The app's Secret points at the new servers once each copy succeeded.
            const secret = find.one(SECRET, "app_a-databases");
            for (const engine of ["mongodb", "qdrant"]) assert.ok(secret.dependencies.includes(find.one(JOB, `app_a-${engine}-move-copy`).urn), engine);
            assert.match(secret.inputs.stringData.MONGODB_URI, new RegExp(`@${kubernetesServiceHost("mongodb-app-a", "databases").replace(/\./g, "\\.")}:27017/app_a\\?authSource=app_a$`));
            assert.strictEqual(secret.inputs.stringData.QDRANT_URL, `http://${kubernetesServiceHost("qdrant", "databases")}:6333`);
            // Qdrant's old collections stay where they are, kept.
            assert.ok(find.one("pulumi-nodejs:dynamic/qdrant:Collection", "qdrant-app-a/app_a-docs").retainOnDelete);
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });
    });

    describe("on Docker", () => {
        let run: MockRun<StackOutputs>;
        before(async () => {
            run = await runStackConfig(moving("docker"), "dev");
        });

        it("runs each copy once through the Docker CLI: MongoDB's admin password from each server container, Qdrant's copy in the curl image", () => {
            const find = finder(run.resources);
            for (const [engine, from, to, image] of [
                ["mongodb", "mongodb", "mongodb-app-a", "mongo:8.0"],
                ["qdrant", "qdrant-app-a", "qdrant", "curlimages/curl:8.11.1"],
            ] as const) {
                const cmd = find.one(COMMAND, `app_a-${engine}-move`);
                const hook = engineNamed(engine).backup!;
                assert.strictEqual(cmd.inputs.create, DOCKER_MOVE_SCRIPT);
                const env = cmd.inputs.environment as Record<string, string>;
                assert.strictEqual(env.MOVE_IMAGE, image);
                assert.deepStrictEqual([env.MOVE_FROM_CONTAINER, env.MOVE_TO_CONTAINER], [`tenant-databases-dev-${from}`, `tenant-databases-dev-${to}`]);
                assert.deepStrictEqual([env.MOVE_COPY_OUT, env.MOVE_COPY_IN], [copyOutScript(hook.commands), copyInScript(hook.commands)]);
                assert.strictEqual(env.MOVE_PASSWORD_VAR, undefined, "both log in with the server's own key or admin");
                assert.deepStrictEqual(plaintextOccurrences(cmd.rawInputs, run.passwords), [], engine);
            }
            const mongo = find.one(COMMAND, "app_a-mongodb-move").inputs.environment as Record<string, string>;
            assert.deepStrictEqual([mongo.MOVE_FROM_SERVER_VARS, mongo.MOVE_TO_SERVER_VARS], ["MONGO_PASSWORD=MONGO_INITDB_ROOT_PASSWORD", "MONGO_PASSWORD=MONGO_INITDB_ROOT_PASSWORD"]);
            const qdrant = find.one(COMMAND, "app_a-qdrant-move").inputs.environment as Record<string, string>;
            assert.deepStrictEqual([qdrant.MOVE_FROM_SERVER_VARS, qdrant.MOVE_TO_SERVER_VARS], ["QDRANT_API_KEY=QDRANT__SERVICE__API_KEY", "QDRANT_API_KEY=QDRANT__SERVICE__API_KEY"]);
            assert.ok(qdrant.MOVE_FROM_VARS.split("\n").includes("QDRANT_COLLECTIONS=app_a_docs") && qdrant.MOVE_FROM_VARS.split("\n").includes("QDRANT_HOST=127.0.0.1"));
        });

        it("disables the MongoDB retired tenancy's user only after its copy command", () => {
            const find = finder(run.resources);
            const retired = find.one(MONGO_USER, "mongodb/app_a-user");
            assert.strictEqual(retired.inputs.enabled, false);
            assert.ok(retired.dependencies.includes(find.one(COMMAND, "app_a-mongodb-move").urn));
            assert.ok(!("enabled" in find.one(MONGO_USER, "mongodb-app-a/app_a-user").rawInputs));
        });
    });
    describe("safety of the move's objects (review)", () => {
        it("starts the copy Job only once both servers admit it, and runs a failed one again on the next pulumi up", async () => {
            const run = await runStackConfig(MOVING);
            const find = finder(run.resources);
            const job = find.one(JOB, "app_a-postgresql-move-copy");
            for (const server of ["postgresql", "postgresql-app-a"]) assert.ok(job.dependencies.includes(find.one(NETPOL, `${server}-clients`).urn), `the copy waits for ${server}'s admission`);
            assert.deepStrictEqual(job.inputs.metadata.annotations, { "pulumi.com/replaceUnready": "true" });
        });

        it("in a protected stack, keeps the old copy retained but not protected, so finishing the move can remove it; the new one is protected", async () => {
            const run = await runStackConfig({ ...stack({ postgresql: { placement: "shared", moveFrom: "dedicated" } }), protect: true });
            const find = finder(run.resources);
            const old = find.one("postgresql:index/database:Database", "postgresql-app-a/app_a-database");
            assert.deepStrictEqual([old.retainOnDelete, old.protect], [true, false]);
            const live = find.one("postgresql:index/database:Database", "postgresql/app_a-database");
            assert.deepStrictEqual([live.retainOnDelete, live.protect], [true, true]);
            // The dedicated server it leaves holds only the old copy: not protected either (its volume claim is kept by the StatefulSet's retention policy).
            assert.strictEqual(find.one("kubernetes:apps/v1:StatefulSet", "postgresql-app-a").protect, false);
            assert.strictEqual(find.one("kubernetes:apps/v1:StatefulSet", "postgresql").protect, true);
        });

        it("refuses a PostgreSQL move below 14 (the freeze ends sessions with a timeout)", () => {
            const problems = problemsOf({ ...MOVING, engines: { postgresql: { version: "13" }, redis: {} } });
            assert.ok(problems.includes("apps.app_a.postgresql.moveFrom: a move needs PostgreSQL 14 or newer; this server runs 13"), problems.join("\n"));
        });

        it("with the moving app in decommission, drops only its old copies: its data of engines it does not move stays retained and protected", async () => {
            const run = await runStackConfig({
                target: "kubernetes",
                protect: true,
                decommission: ["app_a"],
                engines: { postgresql: {}, mysql: {}, mongodb: {}, qdrant: {} },
                apps: {
                    app_a: {
                        postgresql: { placement: "dedicated", moveFrom: "shared" },
                        mongodb: { placement: "dedicated", moveFrom: "shared" },
                        qdrant: { placement: "dedicated", moveFrom: "shared", collections: { docs: { size: 4, distance: "Cosine" } } },
                        mysql: {},
                    },
                    app_b: { postgresql: {}, mysql: {}, mongodb: {}, qdrant: { collections: { docs: { size: 4, distance: "Cosine" } } } },
                },
            });
            const options = (type: string, name: string) => {
                const r = finder(run.resources).one(type, name);
                return [r.retainOnDelete, r.protect];
            };
            // The old copies: dropped with the app's decommission.
            assert.deepStrictEqual(options("postgresql:index/database:Database", "postgresql/app_a-database"), [false, false]);
            assert.deepStrictEqual(options("pulumi-nodejs:dynamic/mongodb:Database", "mongodb/app_a-database"), [false, false]);
            assert.deepStrictEqual(options("pulumi-nodejs:dynamic/qdrant:Collection", "qdrant/app_a-docs"), [false, false]);
            // Its data everywhere else: kept and protected.
            assert.deepStrictEqual(options("postgresql:index/database:Database", "postgresql-app-a/app_a-database"), [true, true]);
            assert.deepStrictEqual(options("pulumi-nodejs:dynamic/mongodb:Database", "mongodb-app-a/app_a-database"), [true, true]);
            assert.deepStrictEqual(options("pulumi-nodejs:dynamic/qdrant:Collection", "qdrant-app-a/app_a-docs"), [true, true]);
            assert.deepStrictEqual(options("mysql:index/database:Database", "mysql/app_a-database"), [true, true], "the engine it does not move");
        });

        it("without decommission, keeps every engine's old copy retained but not protected", async () => {
            const run = await runStackConfig({
                target: "kubernetes",
                protect: true,
                engines: { mongodb: {}, qdrant: {}, mysql: {} },
                apps: {
                    app_a: {
                        mongodb: { placement: "dedicated", moveFrom: "shared" },
                        qdrant: { placement: "dedicated", moveFrom: "shared", collections: { docs: { size: 4, distance: "Cosine" } } },
                        mysql: { placement: "dedicated", moveFrom: "shared" },
                    },
                },
            });
            const find = finder(run.resources);
            for (const [type, name] of [
                ["pulumi-nodejs:dynamic/mongodb:Database", "mongodb/app_a-database"],
                ["pulumi-nodejs:dynamic/qdrant:Collection", "qdrant/app_a-docs"],
                ["mysql:index/database:Database", "mysql/app_a-database"],
            ]) {
                const r = find.one(type, name);
                assert.deepStrictEqual([r.retainOnDelete, r.protect], [true, false], name);
            }
        });

        it("refuses, as a library, a retired tenancy that no move copies", async () => {
            const servers = planTopology(parseStackConfig(MOVING)).servers.map((s) => ({ ...s, tenants: s.tenants.map((t) => ({ ...t, moveFrom: undefined })) }));
            await assert.rejects(
                runProgram(() => new DatabasePlatform("p", { target: { kind: "docker", provider: new docker.Provider("d", {}), namePrefix: "p" }, servers })),
                /app_a's tenancy on server postgresql is retired, but no move copies it anywhere/,
            );
        });

        it("refuses, as a library, a plan that moves an app from a server it does not hold", async () => {
            const servers = planTopology(parseStackConfig(MOVING)).servers.filter((s) => s.name !== "postgresql");
            await assert.rejects(
                runProgram(() => new DatabasePlatform("p", { target: { kind: "docker", provider: new docker.Provider("d", {}), namePrefix: "p" }, servers })),
                /^Error: DatabasePlatform p: app_a moves its postgresql data from server postgresql, which is not planned with app_a's retired tenancy$/,
            );
        });
    });
});
