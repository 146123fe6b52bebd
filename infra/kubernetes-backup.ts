// Per-tenant backups on Kubernetes: a CronJob per app and engine, and a restore Job named after
// the backup it restores, in the server namespace, under the restricted Pod Security profile.
// The scripts come from components/backup.ts; this file only decides where they run and where the
// files go: a volume claim mounted at BACKUP_DIR, or S3 through a second container sharing an
// emptyDir (the dump in an init container, so nothing is uploaded or pruned after a failed dump).
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { JobImage } from "../components/backup";
import { RCLONE_IMAGE, S3Destination, s3Env, s3FetchScript, s3UploadScript } from "../components/backup-s3";
import { COPY_TO_LABEL, JOB_FOR_LABEL, dnsName, serverObjectNames } from "./naming";

/** Where backup files live on Kubernetes. */
export type KubernetesBackupStore = { s3: S3Destination } | { claimName: pulumi.Input<string> };

export interface TenantBackupJobsSpec {
    /** The server the app's data is on: its admin Secret and network admission. */
    server: string;
    engine: string;
    app: string;
    /** The image with the engine's client tools, and its non-root uid. */
    image: JobImage;
    /** Plain variables the scripts read (admin address and user). */
    env: Record<string, pulumi.Input<string>>;
    /** Variables from the server's admin Secret: variable -> key. */
    serverSecretEnv: Record<string, string>;
    /** The app's own password, in a Secret of the server namespace, as this variable (the scripts log in as the app). */
    tenantLogin?: { env: string; password: pulumi.Input<string> };
    /** Backup file extension (the scripts' EXT). */
    extension: string;
    store: KubernetesBackupStore;
    backup?: { schedule: string; keep: number; script: string };
    restore?: { from: string; replace: boolean; script: string };
    /** Resources the restore must wait for (the tenant's database and user). */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Where backup files are mounted in the pods. */
export const BACKUP_DIR = "/backups";
/** The one group every backup pod shares, so the volume's ownership never changes between engines. */
export const BACKUP_GROUP = 65532;
const JOB_RESOURCES = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "512Mi" } };
/**
 * A backup running longer than this is stopped, and a restore too: a tenant holding a lock on its
 * own tables must not keep a pod (and, with a volume, the claim all apps share) forever.
 */
export const BACKUP_DEADLINE_SECONDS = 3 * 3600;
export const RESTORE_DEADLINE_SECONDS = 12 * 3600;

/**
 * A DNS label for a Job-owned object, at most `max` characters (CronJobs 52: the controller adds
 * 11 to its Jobs' names). A name too long keeps its start and ends in a hash of the whole.
 */
export function jobObjectName(parts: string[], max: number): string {
    const name = parts.map((p) => p.toLowerCase().replace(/[^a-z0-9-]/g, "-")).join("-");
    if (name.length <= max) return name;
    const hash = crypto.createHash("sha256").update(name).digest("hex").slice(0, 8);
    return `${name.slice(0, max - 9).replace(/-+$/, "")}-${hash}`;
}

/** `restore-<app>-<engine>-<backup time and extension, or latest>[-replace]`, a DNS label. */
export function restoreJobName(app: string, engine: string, from: string, replace: boolean): string {
    const backup = from === "latest" ? "latest" : from.slice(app.length + engine.length + 2);
    return jobObjectName(["restore", dnsName(app), engine, backup, ...(replace ? ["replace"] : [])], 63);
}

/** The CronJob (`<name>-cronjob`) and the restore Job (`<name>-restore`) of one app on one server. */
export function tenantBackupJobs(name: string, spec: TenantBackupJobsSpec, namespace: pulumi.Input<string>, provider: k8s.Provider, parent: pulumi.Resource): void {
    const opts = { parent, provider };
    const login = spec.tenantLogin && {
        env: spec.tenantLogin.env,
        secret: loginSecret(`${name}-login`, ["backup", dnsName(spec.app), spec.engine, "login"], spec.app, spec.tenantLogin.password, namespace, opts),
    };
    const labels = {
        "app.kubernetes.io/managed-by": "tenant-databases",
        "tenant-databases.io/app": dnsName(spec.app),
        "tenant-databases.io/engine": spec.engine,
        [JOB_FOR_LABEL]: spec.server,
    };
    if (spec.backup) {
        const b = spec.backup;
        const pod = podSpec(spec, login, "backup", b.script, { KEEP: String(b.keep) });
        new k8s.batch.v1.CronJob(
            `${name}-cronjob`,
            {
                metadata: { name: jobObjectName(["backup", dnsName(spec.app), spec.engine], 52), namespace, labels },
                spec: {
                    schedule: b.schedule,
                    timeZone: "Etc/UTC",
                    // A backup still running is never joined by a second one; a missed run is not made up hours later.
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 3600,
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: { metadata: { labels }, spec: { backoffLimit: 1, activeDeadlineSeconds: BACKUP_DEADLINE_SECONDS, template: { metadata: { labels }, spec: pod } } },
                },
            },
            opts,
        );
    }
    if (spec.restore) {
        const r = spec.restore;
        const pod = podSpec(spec, login, "restore", r.script, { FROM: r.from, REPLACE: String(r.replace) });
        // Named after the backup and `replace`: a new decision is a new Job, and only a new
        // decision. A Job's template cannot change, so a change to it (a new image, the app moved to
        // another server) would replace the Job and run the restore again over live data: ignored.
        // No TTL: a Job deleted by the cluster would be created again by the next `pulumi up`.
        new k8s.batch.v1.Job(
            `${name}-restore`,
            {
                metadata: { name: restoreJobName(spec.app, spec.engine, r.from, r.replace), namespace, labels },
                // A refused restore fails once, with its reason in the log, and fails `pulumi up`.
                spec: { backoffLimit: 0, activeDeadlineSeconds: RESTORE_DEADLINE_SECONDS, template: { metadata: { labels }, spec: pod } },
            },
            {
                ...opts,
                dependsOn: spec.dependsOn,
                ignoreChanges: ["spec", "metadata.labels"],
                // `pulumi up` waits for the restore, as long as its deadline.
                customTimeouts: { create: `${RESTORE_DEADLINE_SECONDS / 3600}h`, update: `${RESTORE_DEADLINE_SECONDS / 3600}h` },
            },
        );
    }
}

/** The pod of a backup (dump, then upload) or a restore (download, then restore). */
function podSpec(
    spec: TenantBackupJobsSpec,
    login: { env: string; secret: pulumi.Output<string> } | undefined,
    kind: "backup" | "restore",
    script: string,
    own: Record<string, string>,
): k8s.types.input.core.v1.PodSpec {
    const common = { APP: spec.app, ENGINE: spec.engine, BACKUP_DIR, HOME: "/tmp", ...own };
    const engineContainer = serverContainer(kind === "backup" ? "dump" : "restore", spec.image, script, { ...spec.env, ...common }, spec.server, spec.serverSecretEnv, login);
    const podBasics = jobPod("s3" in spec.store ? { emptyDir: {} } : { persistentVolumeClaim: { claimName: spec.store.claimName } });
    if (!("s3" in spec.store)) return { ...podBasics, containers: [engineContainer] };

    const s3 = spec.store.s3;
    const rclone = {
        name: kind === "backup" ? "upload" : "fetch",
        image: RCLONE_IMAGE,
        command: ["sh", "-c", kind === "backup" ? s3UploadScript(spec.extension) : s3FetchScript(spec.extension)],
        env: [
            ...envList({ ...s3Env(s3), ...common }),
            ...["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((name) => ({ name, valueFrom: { secretKeyRef: { name: s3.credentialsSecret, key: name } } })),
        ],
        // As the engine container's user: the frame writes backups readable by their owner only (umask 077).
        ...containerBasics(spec.image.uid),
    };
    // Init containers run in order and stop the pod at the first failure.
    return kind === "backup"
        ? { ...podBasics, initContainers: [engineContainer], containers: [rclone] }
        : { ...podBasics, initContainers: [rclone], containers: [engineContainer] };
}

/** A container running `script` in an engine's image, its secret variables by reference: the server's admin Secret's keys, and the app's login. */
function serverContainer(
    name: string,
    image: JobImage,
    script: string,
    env: Record<string, pulumi.Input<string>>,
    server: string,
    serverSecretEnv: Record<string, string>,
    login: { env: string; secret: pulumi.Input<string> } | undefined,
) {
    const adminSecret = serverObjectNames(server).Secret[0];
    return {
        name,
        image: image.image,
        command: ["sh", "-c", script],
        env: [
            ...envList(env),
            ...Object.entries(serverSecretEnv).map(([variable, key]) => ({ name: variable, valueFrom: { secretKeyRef: { name: adminSecret, key } } })),
            ...(login ? [{ name: login.env, valueFrom: { secretKeyRef: { name: login.secret, key: "password" } } }] : []),
        ],
        ...containerBasics(image.uid),
    };
}

/** What every backup, restore and copy pod has; `backups` is the volume mounted at BACKUP_DIR. */
function jobPod(backups: Record<string, unknown>) {
    return {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { runAsNonRoot: true, fsGroup: BACKUP_GROUP, seccompProfile: { type: "RuntimeDefault" } },
        volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "backups", ...backups },
        ],
    };
}

/** The app's own password in a Secret of the server namespace, for Jobs that log in as the app. */
function loginSecret(resourceName: string, objectName: string[], app: string, password: pulumi.Input<string>, namespace: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
    return new k8s.core.v1.Secret(
        resourceName,
        {
            metadata: { name: jobObjectName(objectName, 63), namespace, labels: { "app.kubernetes.io/managed-by": "tenant-databases", "tenant-databases.io/app": dnsName(app) } },
            type: "Opaque",
            stringData: pulumi.secret(pulumi.output(password).apply((p) => ({ password: p }))),
        },
        opts,
    ).metadata.name;
}

/** One side of a move: a server, the hook's variables for it, and the app's login there. */
export interface MoveSide {
    server: string;
    env: Record<string, pulumi.Input<string>>;
    /** The app's own password on that server, for engines whose commands log in as the app. */
    password?: pulumi.Input<string>;
    /** Variables from that server's admin Secret: variable -> key. */
    serverSecretEnv: Record<string, string>;
}

export interface TenantMoveJobSpec {
    engine: string;
    app: string;
    image: JobImage;
    /** The variable that carries the app's password, when the commands log in as the app. */
    tenantPasswordEnv?: string;
    from: MoveSide;
    to: MoveSide;
    copyOut: string;
    copyIn: string;
    /** Both tenants' resources. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The copy Job of a move (`<name>-copy`): an init container freezes the app's writes on the old
 * server and dumps and counts its data into an emptyDir, then a container loads it on the new
 * server and checks the counts. Named after both servers: a move is one Job, run once when it
 * succeeds; `pulumi up` waits for it and fails when the copy does not check out, and the next one
 * runs it again.
 */
export function tenantMoveJob(name: string, spec: TenantMoveJobSpec, namespace: pulumi.Input<string>, provider: k8s.Provider, parent: pulumi.Resource): k8s.batch.v1.Job {
    const opts = { parent, provider };
    const login = (side: "from" | "to") => {
        const s = spec[side];
        if (spec.tenantPasswordEnv === undefined) return undefined;
        if (s.password === undefined) throw new Error(`${name}: the app's password on ${s.server} is required`);
        return { env: spec.tenantPasswordEnv, secret: loginSecret(`${name}-${side}-login`, ["move", dnsName(spec.app), spec.engine, s.server, "login"], spec.app, s.password, namespace, opts) };
    };
    const common = { APP: spec.app, ENGINE: spec.engine, BACKUP_DIR, HOME: "/tmp" };
    const labels = {
        "app.kubernetes.io/managed-by": "tenant-databases",
        "tenant-databases.io/app": dnsName(spec.app),
        "tenant-databases.io/engine": spec.engine,
    };
    // Each container reaches its own server: the pod carries both servers' admission labels.
    const podLabels = { ...labels, [JOB_FOR_LABEL]: spec.from.server, [COPY_TO_LABEL]: spec.to.server };
    const pod = {
        ...jobPod({ emptyDir: {} }),
        // Stopped (its deadline, an eviction), the copy-in empties what it loaded: time to do it.
        terminationGracePeriodSeconds: 300,
        initContainers: [serverContainer("copy-out", spec.image, spec.copyOut, { ...spec.from.env, ...common }, spec.from.server, spec.from.serverSecretEnv, login("from"))],
        containers: [serverContainer("copy-in", spec.image, spec.copyIn, { ...spec.to.env, ...common }, spec.to.server, spec.to.serverSecretEnv, login("to"))],
    };
    return new k8s.batch.v1.Job(
        `${name}-copy`,
        {
            metadata: {
                name: jobObjectName(["move", dnsName(spec.app), spec.engine, "to", spec.to.server], 63),
                namespace,
                labels,
                // A copy that failed is run again by the next `pulumi up` (by default Pulumi would
                // wait on the failed Job again): safe, since a copy only fills an empty target and
                // empties it again when it fails.
                annotations: { "pulumi.com/replaceUnready": "true" },
            },
            spec: { backoffLimit: 0, activeDeadlineSeconds: RESTORE_DEADLINE_SECONDS, template: { metadata: { labels: podLabels }, spec: pod } },
        },
        { ...opts, dependsOn: spec.dependsOn, ignoreChanges: ["spec", "metadata.labels"], customTimeouts: { create: `${RESTORE_DEADLINE_SECONDS / 3600}h`, update: `${RESTORE_DEADLINE_SECONDS / 3600}h` } },
    );
}

function containerBasics(uid: number) {
    return {
        resources: JOB_RESOURCES,
        securityContext: {
            runAsUser: uid,
            runAsGroup: uid,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        },
        volumeMounts: [
            { name: "tmp", mountPath: "/tmp" },
            { name: "backups", mountPath: BACKUP_DIR },
        ],
    };
}

function envList(env: Record<string, pulumi.Input<string>>) {
    return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** The volume claim every backup of the stack goes to (destination `volume`); never deleted by Pulumi. */
export function backupVolumeClaim(
    name: string,
    volume: { sizeGi: number; storageClass?: string },
    namespace: pulumi.Input<string>,
    provider: k8s.Provider,
    parent: pulumi.Resource,
    protect: boolean,
): pulumi.Output<string> {
    const claim = new k8s.core.v1.PersistentVolumeClaim(
        `${name}-backups`,
        {
            metadata: { name: "tenant-backups", namespace, labels: { "app.kubernetes.io/managed-by": "tenant-databases" } },
            spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: volume.storageClass,
                resources: { requests: { storage: `${volume.sizeGi}Gi` } },
            },
        },
        // Backups outlive everything else: never deleted by Pulumi.
        { parent, provider, retainOnDelete: true, protect },
    );
    return claim.metadata.name;
}
