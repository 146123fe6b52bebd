// Backups on Kubernetes, as a whole stack renders them under mocks: a CronJob per app and engine
// running the engine's rendered script with the variables it reads (the secret ones from the
// server's admin Secret), a restore Job named after its backup and waiting for the tenant, the
// restricted Pod Security profile, admission to the server's port, and valid objects.
import * as assert from "assert";
import { backupEnvironment, backupScript, restoreScript } from "../components/backup";
import { s3Env, s3FetchScript, s3UploadScript } from "../components/backup-s3";
import { engineNamed } from "../components/engines";
import { parseStackConfig } from "../stacks/config";
import { planTopology } from "../stacks/plan";
import { kubernetesServiceHost } from "../infra/kubernetes";
import { JOB_FOR_LABEL } from "../infra/naming";
import { MockRun, RecordedResource, finder, plaintextOccurrences, runProgram, valueOf } from "./helpers/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { TenantBackup } from "../components/tenant-backup";
import { neo4jEngine } from "../components/neo4j/engine";
import { POSTGRESQL_BACKUP } from "../components/postgresql/engine";
import { runStackConfig } from "./helpers/stacks";
import type { StackOutputs } from "../stacks/program";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const JOB = "kubernetes:batch/v1:Job";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const SECRET = "kubernetes:core/v1:Secret";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

const VOLUME = { volume: { sizeGi: 20, storageClass: "standard" } };
const S3 = { s3: { bucket: "tenant-backups", prefix: "prod/", endpoint: "https://s3.example.com", region: "eu-central-1", credentialsSecret: "backup-s3" } };

function stack(destination: object) {
    return {
        target: "kubernetes",
        engines: { postgresql: {}, mysql: { backup: { schedule: "15 * * * *" } }, redis: { databases: 4 }, mongodb: {}, qdrant: {} },
        apps: {
            app_a: {
                postgresql: { restore: { from: "app_a-postgresql-20261101T030000Z.pgdump", replace: true } },
                mysql: {},
                redis: { db: 0, restore: { from: "latest" } },
                mongodb: {},
                qdrant: { collections: { docs: { size: 4, distance: "Cosine" } } },
            },
            app_b: { postgresql: { placement: "dedicated", backup: { keep: 3 } }, redis: { db: 1 } },
            app_c: { postgresql: { backup: false } },
        },
        backup: { schedule: "0 */6 * * *", keep: 28, destination },
    };
}

type Container = { name: string; image: string; command: string[]; env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[]; securityContext: Record<string, unknown> };

function podOf(r: RecordedResource) {
    const template = r.type === CRONJOB ? r.inputs.spec.jobTemplate.spec.template : r.inputs.spec.template;
    return template as { metadata: { labels: Record<string, string> }; spec: { initContainers?: Container[]; containers: Container[]; securityContext: Record<string, unknown>; volumes: Record<string, any>[] } };
}

/** A container's variables as the pod sees them: plain values, and the keys of Secrets resolved from the stack's own Secrets. */
function envOf(c: Container, resources: RecordedResource[]): Record<string, string> {
    const secrets = new Map(resources.filter((r) => r.type === SECRET).map((r) => [r.inputs.metadata.name as string, r.inputs.stringData as Record<string, string>]));
    return Object.fromEntries(
        c.env.map((e) => {
            if (e.value !== undefined) return [e.name, e.value];
            const ref = e.valueFrom!.secretKeyRef;
            const data = secrets.get(ref.name);
            assert.ok(data, `${c.name}: Secret ${ref.name} exists in the stack`);
            assert.ok(ref.key in data, `${c.name}: Secret ${ref.name} has ${ref.key}`);
            return [e.name, data[ref.key]];
        }),
    );
}

describe("backups on Kubernetes (rendered under mocks)", function () {
    this.timeout(60000);
    let volume: MockRun<StackOutputs>;
    let s3: MockRun<StackOutputs>;
    before(async () => {
        volume = await runStackConfig(stack(VOLUME));
        s3 = await runStackConfig(stack(S3));
    });

    it("schedules one CronJob per backed-up app and engine, at its resolved schedule and keep, in UTC", () => {
        const jobs = finder(volume.resources).all(CRONJOB);
        const seen = jobs.map((j) => [j.inputs.metadata.name, j.inputs.spec.schedule, envOf(podOf(j).spec.containers[0], volume.resources).KEEP]).sort();
        assert.deepStrictEqual(seen, [
            ["backup-app-a-mongodb", "0 */6 * * *", "28"],
            ["backup-app-a-mysql", "15 * * * *", "28"],
            ["backup-app-a-postgresql", "0 */6 * * *", "28"],
            ["backup-app-a-qdrant", "0 */6 * * *", "28"],
            ["backup-app-a-redis", "0 */6 * * *", "28"],
            ["backup-app-b-postgresql", "0 */6 * * *", "3"],
            ["backup-app-b-redis", "0 */6 * * *", "28"],
        ]);
        for (const j of jobs) {
            assert.strictEqual(j.inputs.spec.timeZone, "Etc/UTC");
            assert.strictEqual(j.inputs.spec.concurrencyPolicy, "Forbid");
            assert.strictEqual(j.inputs.spec.jobTemplate.spec.activeDeadlineSeconds, 3 * 3600, "a stalled dump cannot hold its pod forever");
            assert.strictEqual(j.inputs.metadata.namespace, "databases");
        }
    });

    it("runs exactly the engine's rendered scripts, with every variable they read: secrets from the server's admin Secret, or the app's own login", async () => {
        const config = parseStackConfig(stack(VOLUME));
        const find = finder(volume.resources);
        const apps = (await valueOf(volume.result.apps)) as Record<string, Record<string, { password?: string }>>;
        for (const server of planTopology(config).servers) {
            const engine = engineNamed(server.engine);
            const hook = engine.backup!;
            const adminEnv = find.one(SECRET, `${server.name}-admin`).inputs.stringData as Record<string, string>;
            for (const tenant of server.tenants) {
                const password = apps[tenant.app][server.engine].password;
                const expectedEnv = backupEnvironment(hook, { host: kubernetesServiceHost(server.name, "databases"), port: engine.defaults.port, options: server.settings.options }, tenant, adminEnv, password);
                // PostgreSQL and MySQL log in as the app, and read nothing of the admin's.
                if (hook.tenantPasswordEnv) assert.deepStrictEqual(hook.secretEnv, {}, server.engine);
                const frame = { APP: tenant.app, ENGINE: server.engine, BACKUP_DIR: "/backups", HOME: "/tmp" };
                if (tenant.backup) {
                    const [dump] = podOf(find.one(CRONJOB, `${tenant.app}-${server.engine}-backups-cronjob`)).spec.containers;
                    assert.deepStrictEqual(dump.command, ["sh", "-c", backupScript(hook.commands)]);
                    assert.strictEqual(dump.image, hook.clientImage?.image ?? server.settings.image);
                    assert.strictEqual(dump.securityContext.runAsUser, hook.clientImage?.uid ?? engine.defaults.uid);
                    assert.deepStrictEqual(envOf(dump, volume.resources), { ...expectedEnv, ...frame, KEEP: String(tenant.backup.keep) });
                } else {
                    assert.strictEqual(find.all(CRONJOB).filter((j) => j.name.startsWith(`${tenant.app}-${server.engine}-`)).length, 0, `${tenant.app} ${server.engine}: no CronJob`);
                }
                if (tenant.restore) {
                    const [restore] = podOf(find.one(JOB, `${tenant.app}-${server.engine}-backups-restore`)).spec.containers;
                    assert.deepStrictEqual(restore.command, ["sh", "-c", restoreScript(hook.commands)]);
                    assert.deepStrictEqual(envOf(restore, volume.resources), { ...expectedEnv, ...frame, FROM: tenant.restore.from, REPLACE: String(tenant.restore.replace) });
                }
            }
        }
        assert.strictEqual(find.all(JOB).length, 2, "restores only where configured");
    });

    it("names a restore Job after its backup, and waits for the tenant before it runs", () => {
        const find = finder(volume.resources);
        const pg = find.one(JOB, "app_a-postgresql-backups-restore");
        assert.strictEqual(pg.inputs.metadata.name, "restore-app-a-postgresql-20261101t030000z-pgdump-replace");
        assert.strictEqual(find.one(JOB, "app_a-redis-backups-restore").inputs.metadata.name, "restore-app-a-redis-latest");
        assert.strictEqual(pg.inputs.spec.backoffLimit, 0, "a refused restore fails once");
        assert.strictEqual(pg.inputs.spec.activeDeadlineSeconds, 12 * 3600);
        // Only a new decision (a new name) runs a restore again: not a new image, nor the app moved to another server.
        assert.deepStrictEqual(pg.ignoreChanges, ["spec", "metadata.labels"]);
        // `pulumi up` waits for it as long as the deadline, not the provider's 10 minutes.
        assert.deepStrictEqual([pg.customTimeouts.create, pg.customTimeouts.update], ["12h", "12h"]);
        assert.strictEqual(pg.inputs.spec.ttlSecondsAfterFinished, undefined, "a finished Job stays, so the same config never runs it again");
        const tenant = find.all("tenant-databases:postgresql:PostgresqlTenant").find((t) => t.name === "postgresql/app_a")!;
        // dependsOn a component waits for every resource under it.
        const children = volume.resources.filter((r) => r.custom && r.parent === tenant.urn).map((r) => r.type);
        assert.ok(children.includes("postgresql:index/database:Database") && children.includes("postgresql:index/role:Role"));
        for (const child of volume.resources.filter((r) => r.custom && r.parent === tenant.urn)) {
            assert.ok(pg.dependencies.includes(child.urn), `the restore waits for ${child.name}`);
        }
    });

    it("keeps an app's backup objects, and its restore Job's name, when the app moves between shared and dedicated", async () => {
        const moved = stack(VOLUME);
        (moved.apps.app_a.postgresql as Record<string, unknown>).placement = "dedicated";
        const other = finder((await runStackConfig(moved)).resources);
        const find = finder(volume.resources);
        for (const [type, name] of [[CRONJOB, "app_a-postgresql-backups-cronjob"], [JOB, "app_a-postgresql-backups-restore"], [SECRET, "app_a-postgresql-backups-login"]]) {
            assert.strictEqual(other.one(type, name).urn, find.one(type, name).urn, name);
            assert.strictEqual(other.one(type, name).inputs.metadata.name, find.one(type, name).inputs.metadata.name, name);
        }
        // The Job's pod now reaches the dedicated server: a change its ignoreChanges keeps from running the restore again.
        assert.notDeepStrictEqual(podOf(other.one(JOB, "app_a-postgresql-backups-restore")).metadata.labels, podOf(find.one(JOB, "app_a-postgresql-backups-restore")).metadata.labels);
    });

    it("admits the Job pods of a server, and only those, to that server's port", () => {
        const find = finder(volume.resources);
        for (const server of ["postgresql", "postgresql-app-b", "mysql", "redis", "mongodb", "qdrant"]) {
            const rules = find.one(NETPOL, `${server}-clients`).inputs.spec.ingress as { from: Record<string, any>[]; ports: unknown[] }[];
            const jobRules = rules.filter((r) => r.from.some((f) => f.podSelector));
            assert.deepStrictEqual(jobRules.map((r) => r.from), [[{ podSelector: { matchLabels: { [JOB_FOR_LABEL]: server } } }]], server);
            assert.deepStrictEqual(jobRules[0].ports, rules[0].ports);
        }
        for (const job of [...find.all(CRONJOB), ...find.all(JOB)]) {
            const labels = podOf(job).metadata.labels;
            assert.ok(["postgresql", "postgresql-app-b", "mysql", "redis", "mongodb", "qdrant"].includes(labels[JOB_FOR_LABEL]), job.name);
        }
        assert.strictEqual(podOf(find.one(CRONJOB, "app_b-postgresql-backups-cronjob")).metadata.labels[JOB_FOR_LABEL], "postgresql-app-b");
    });

    it("runs every backup container under the restricted Pod Security profile", () => {
        for (const run of [volume, s3]) {
            for (const job of [...finder(run.resources).all(CRONJOB), ...finder(run.resources).all(JOB)]) {
                const pod = podOf(job).spec;
                assert.strictEqual(pod.securityContext.runAsNonRoot, true);
                assert.deepStrictEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
                for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
                    assert.strictEqual(c.securityContext.allowPrivilegeEscalation, false, `${job.name} ${c.name}`);
                    assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
                    assert.deepStrictEqual(c.securityContext.capabilities, { drop: ["ALL"] });
                    assert.ok((c.securityContext.runAsUser as number) > 0);
                }
            }
        }
    });

    it("keeps backups on one retained volume claim in the server namespace", () => {
        const find = finder(volume.resources);
        const claim = find.one(PVC, "tenant-databases-backups");
        assert.deepStrictEqual(claim.inputs.spec, { accessModes: ["ReadWriteOnce"], storageClassName: "standard", resources: { requests: { storage: "20Gi" } } });
        assert.strictEqual(claim.retainOnDelete, true);
        for (const job of find.all(CRONJOB)) {
            assert.deepStrictEqual(podOf(job).spec.volumes.find((v) => v.name === "backups"), { name: "backups", persistentVolumeClaim: { claimName: "tenant-backups" } });
        }
    });

    it("S3: dumps in an init container, then uploads and prunes with rclone; a restore downloads first", () => {
        const find = finder(s3.resources);
        assert.strictEqual(find.all(PVC).filter((c) => c.name.endsWith("backups")).length, 0);
        const cron = podOf(find.one(CRONJOB, "app_a-postgresql-backups-cronjob")).spec;
        assert.deepStrictEqual(cron.initContainers!.map((c) => c.name), ["dump"]);
        assert.deepStrictEqual(cron.containers.map((c) => c.name), ["upload"]);
        assert.deepStrictEqual(cron.containers[0].command, ["sh", "-c", s3UploadScript("pgdump")]);
        assert.strictEqual(cron.containers[0].securityContext.runAsUser, cron.initContainers![0].securityContext.runAsUser, "rclone reads the dump its owner wrote");
        const upload = envOf(cron.containers[0], s3.resources.concat([{ type: SECRET, inputs: { metadata: { name: "backup-s3" }, stringData: { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" } } } as unknown as RecordedResource]));
        // What tests/backup-s3.integration.test.ts runs the upload script with, and the credentials from the operator's Secret, by reference.
        assert.strictEqual(upload.S3_PATH, "tenant-backups/prod");
        assert.deepStrictEqual(upload, { ...s3Env(S3.s3), APP: "app_a", ENGINE: "postgresql", BACKUP_DIR: "/backups", HOME: "/tmp", KEEP: "28", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" });
        assert.deepStrictEqual(cron.volumes.find((v) => v.name === "backups"), { name: "backups", emptyDir: {} });

        const restore = podOf(find.one(JOB, "app_a-postgresql-backups-restore")).spec;
        assert.deepStrictEqual(restore.initContainers!.map((c) => [c.name, c.command[2]]), [["fetch", s3FetchScript("pgdump")]]);
        assert.deepStrictEqual(restore.containers.map((c) => c.name), ["restore"]);
    });

    it("puts no password in plain text in any backup object", () => {
        for (const run of [volume, s3]) {
            const objects = run.resources.filter((r) => r.type === CRONJOB || r.type === JOB || r.type === PVC);
            assert.ok(objects.length >= 7);
            assert.deepStrictEqual(plaintextOccurrences(objects.map((o) => o.rawInputs), run.passwords), []);
        }
    });

    it("TenantBackup used on its own refuses what the stack config refuses", async () => {
        const args = (tenant: object) => ({
            hook: POSTGRESQL_BACKUP,
            engine: "postgresql",
            server: { name: "postgresql", image: "postgres:18", uid: 999, port: 5432, options: { tuning: {} } },
            tenant: { app: "app_a", options: { connectionLimit: 20, statementTimeoutSeconds: 300, idleInTransactionTimeoutSeconds: 60 }, ...tenant },
            kubernetes: { provider: new k8s.Provider("k8s", {}), namespace: "databases" },
            store: { claimName: "tenant-backups" },
            tenantPassword: "app-password",
        });
        const refused: [object, RegExp][] = [
            [{ backup: { schedule: "every day", keep: 7 } }, /TenantBackup app_a-postgresql-backups: "every day" has 2 fields/],
            [{ backup: { schedule: "@daily", keep: 0 } }, /keep 0 is not a whole number of at least 1/],
            [{ backup: { schedule: "@daily", keep: 7 }, restore: { from: "app_b-postgresql-20260101T000000Z.pgdump", replace: false } }, /is not a backup of app_a's postgresql data/],
        ];
        // The hook's own refusal: Neo4j Community cannot dump one database while it runs.
        await assert.rejects(
            () => runProgram(() => new TenantBackup("app_a-neo4j-backups", { ...args({ backup: { schedule: "@daily", keep: 7 } }), hook: neo4jEngine.backup!, engine: "neo4j", server: { name: "neo4j", image: "neo4j:5.26", uid: 7474, port: 7687, options: { edition: "community" } } } as never)),
            /TenantBackup app_a-neo4j-backups: Neo4j Community cannot back up a database while the server runs/,
        );
        for (const [tenant, message] of refused) {
            await assert.rejects(() => runProgram(() => new TenantBackup("app_a-postgresql-backups", args(tenant))), message);
        }
        const ok = await runProgram(() => new TenantBackup("app_a-postgresql-backups", args({ backup: { schedule: "@daily", keep: 7 } })));
        assert.deepStrictEqual(ok.resources.filter((r) => r.custom && r.type !== "pulumi:providers:kubernetes").map((r) => r.name), ["app_a-postgresql-backups-login", "app_a-postgresql-backups-cronjob"]);
        const without = { ...args({ backup: { schedule: "@daily", keep: 7 } }), tenantPassword: undefined };
        await assert.rejects(() => runProgram(() => new TenantBackup("app_a-postgresql-backups", without)), /postgresql backups log in as the app: tenantPassword is required/);
    });

    it("every backup object is valid against the Kubernetes schemas", async () => {
        // The Jobs, the volume claim, the login Secrets and the server policies that admit the Jobs.
        const objects = [...volume.resources, ...s3.resources].filter((r) => [CRONJOB, JOB, PVC, SECRET, NETPOL].includes(r.type));
        assert.ok(objects.some((r) => r.type === SECRET && r.name.endsWith("-backups-login")));
        for (const r of objects) {
            const [group, version] = (r.inputs.apiVersion as string).includes("/") ? (r.inputs.apiVersion as string).split("/") : ["", r.inputs.apiVersion];
            const mod = (await import(group ? `kubernetes-models/${group}/${version}/${r.inputs.kind}` : `kubernetes-models/${version}/${r.inputs.kind}`)) as Record<string, new (d: unknown) => { validate(): void }>;
            assert.doesNotThrow(() => new mod[r.inputs.kind](r.inputs).validate(), `${r.inputs.kind} ${r.inputs.metadata.name}`);
            assert.ok((r.inputs.metadata.name as string).length <= (r.type === CRONJOB ? 52 : 63));
        }
    });
});
