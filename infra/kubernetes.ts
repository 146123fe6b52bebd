// The Kubernetes target: per server a StatefulSet with a volume claim template, a headless and a
// ClusterIP Service, a Secret for its admin environment and one for its config files.
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EXPORTER_RESOURCES, MetricsSpec, MonitoringTarget, SCRAPE_INTERVAL, appRelabelings, scrapeAnnotations } from "./metrics";
import { COPY_TO_LABEL, JOB_FOR_LABEL, serverLabels, serverObjectNames } from "./naming";
import { RunningServer, ServerRuntime, ServerSpec } from "./runtime";

export interface KubernetesRuntimeArgs {
    provider: k8s.Provider;
    /** The namespace servers run in; pass the Namespace resource's name so objects wait for it. */
    namespace: pulumi.Input<string>;
    /** StorageClass of the data volumes. @default the cluster's default StorageClass */
    storageClass?: string;
    /** Namespaces where `pulumi up` runs in-cluster (e.g. the Pulumi Kubernetes Operator's): they may reach every server. @default [] */
    adminNamespaces?: string[];
    /** How Prometheus finds and reaches servers that export metrics. @default servers may not export metrics */
    monitoring?: MonitoringTarget;
}

/** Pod annotation whose change rolls the server when its secret env or files change. */
export const CONFIG_HASH_ANNOTATION = "tenant-databases.io/config-hash";

const DATA_VOLUME = "data";
const FILES_VOLUME = "config";
const SCRATCH_VOLUME = "scratch";
const METRICS_PORT_NAME = "metrics";

export class KubernetesRuntime implements ServerRuntime {
    readonly target = "kubernetes" as const;
    /** Each server's NetworkPolicy, by server: a Job that reaches a server waits for its admission. */
    private readonly admissions = new Map<string, pulumi.Resource>();

    constructor(private readonly args: KubernetesRuntimeArgs) {}

    /** The NetworkPolicy that admits clients to `server`, once run. */
    admissionOf(server: string): pulumi.Resource | undefined {
        return this.admissions.get(server);
    }

    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer {
        const opts = { parent, provider: this.args.provider };
        const namespace = this.args.namespace;
        const labels = serverLabels(spec.engine, spec.name);
        const names = serverObjectNames(spec.name);
        const metadata = (name: string) => ({ name, namespace, labels });
        const liveness = spec.livenessCommand
            ? { exec: { command: spec.livenessCommand }, timeoutSeconds: 5 }
            : { tcpSocket: { port: spec.port } };
        const scratch = (spec.writablePaths ?? []).map((path, i) => ({ name: `${SCRATCH_VOLUME}-${i}`, path }));
        const metrics = spec.metrics;
        const monitoring = this.args.monitoring;
        if (metrics !== undefined && monitoring === undefined) {
            throw new Error(`KubernetesRuntime: server ${spec.name} exports metrics, but the runtime has no monitoring settings (the namespaces Prometheus scrapes from)`);
        }

        const envSecret = new k8s.core.v1.Secret(
            `${spec.name}-admin`,
            { metadata: metadata(names.Secret[0]), type: "Opaque", stringData: secretMap(spec.secretEnv ?? {}) },
            opts,
        );
        // The exporter's login, apart from the server's: the server container never sees it.
        const exporterSecret = metrics?.exporter
            ? new k8s.core.v1.Secret(
                  `${spec.name}-metrics`,
                  { metadata: metadata(names.Secret[2]), type: "Opaque", stringData: secretMap(metrics.exporter.secretEnv) },
                  opts,
              )
            : undefined;
        const filesSecret = spec.secretFiles
            ? new k8s.core.v1.Secret(
                  `${spec.name}-config`,
                  { metadata: metadata(names.Secret[1]), type: "Opaque", stringData: secretMap(spec.secretFiles.files) },
                  opts,
              )
            : undefined;

        const headless = new k8s.core.v1.Service(
            `${spec.name}-headless`,
            {
                metadata: metadata(names.Service[1]),
                spec: {
                    clusterIP: "None",
                    selector: labels,
                    ports: [{ name: spec.engine, port: spec.port, targetPort: spec.port }],
                    publishNotReadyAddresses: true,
                },
            },
            opts,
        );

        const statefulSet = new k8s.apps.v1.StatefulSet(
            spec.name,
            {
                metadata: metadata(names.StatefulSet[0]),
                spec: {
                    serviceName: headless.metadata.name,
                    replicas: 1,
                    selector: { matchLabels: labels },
                    // PVCs outlive the StatefulSet and scale-downs: data goes only by an explicit decision.
                    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
                    template: {
                        metadata: {
                            labels,
                            annotations: {
                                [CONFIG_HASH_ANNOTATION]: configHash(spec),
                                ...(metrics && !monitoring!.podMonitor ? scrapeAnnotations(metrics) : {}),
                            },
                        },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: {
                                runAsNonRoot: true,
                                runAsUser: spec.uid,
                                runAsGroup: spec.uid,
                                fsGroup: spec.uid,
                                seccompProfile: { type: "RuntimeDefault" },
                            },
                            containers: [
                                {
                                    name: spec.engine,
                                    image: spec.image,
                                    args: spec.args,
                                    ports: [
                                        { name: spec.engine, containerPort: spec.port },
                                        // The engine's own metrics endpoint, named for the PodMonitor.
                                        ...(metrics && !metrics.exporter ? [{ name: METRICS_PORT_NAME, containerPort: metrics.port }] : []),
                                    ],
                                    env: [
                                        ...Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
                                        ...Object.keys(spec.secretEnv ?? {}).map((name) => ({
                                            name,
                                            valueFrom: { secretKeyRef: { name: envSecret.metadata.name, key: name } },
                                        })),
                                    ],
                                    resources: { requests: { ...spec.resources.requests }, limits: { ...spec.resources.limits } },
                                    securityContext: {
                                        allowPrivilegeEscalation: false,
                                        readOnlyRootFilesystem: !spec.writableRoot,
                                        capabilities: { drop: ["ALL"] },
                                    },
                                    volumeMounts: [
                                        { name: DATA_VOLUME, mountPath: spec.data.mountPath },
                                        ...(spec.secretFiles ? [{ name: FILES_VOLUME, mountPath: spec.secretFiles.mountPath, readOnly: true }] : []),
                                        ...scratch.map(({ name, path }) => ({ name, mountPath: path })),
                                    ],
                                    // Slow first starts (initdb, AOF replay) are covered by the startup probe (5
                                    // minutes), so liveness can stay strict afterwards: a minute of failures.
                                    startupProbe: { ...liveness, periodSeconds: 5, failureThreshold: 60 },
                                    livenessProbe: { ...liveness, periodSeconds: 10, failureThreshold: 6 },
                                    readinessProbe: { exec: { command: spec.readinessCommand }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
                                },
                                ...(metrics?.exporter ? [exporterContainer(metrics, exporterSecret!)] : []),
                            ],
                            volumes: [
                                ...(filesSecret ? [{ name: FILES_VOLUME, secret: { secretName: filesSecret.metadata.name, defaultMode: 0o440 } }] : []),
                                ...scratch.map(({ name }) => ({ name, emptyDir: {} })),
                            ],
                        },
                    },
                    volumeClaimTemplates: [
                        {
                            metadata: { name: DATA_VOLUME, labels },
                            spec: {
                                accessModes: ["ReadWriteOnce"],
                                storageClassName: this.args.storageClass,
                                resources: { requests: { storage: `${spec.data.storageGi}Gi` } },
                            },
                        },
                    ],
                },
            },
            // The provider waits for the StatefulSet's pod to be ready before this resolves.
            { ...opts, protect: spec.protect },
        );

        const service = new k8s.core.v1.Service(
            `${spec.name}-service`,
            {
                metadata: metadata(names.Service[0]),
                spec: { type: "ClusterIP", selector: labels, ports: [{ name: spec.engine, port: spec.port, targetPort: spec.port }] },
            },
            opts,
        );

        // With the namespace's default-deny policy, only the server's tenants (and where Pulumi
        // runs in-cluster) reach its port. Requires a CNI that enforces NetworkPolicy.
        const clients = [...new Set([...spec.clientNamespaces, ...(this.args.adminNamespaces ?? [])])].sort();
        const ports = [{ protocol: "TCP", port: spec.port }];
        // The server's own backup and restore Jobs, in the server namespace.
        const jobs = spec.jobs
            ? [{ from: [JOB_FOR_LABEL, ...(spec.copyTarget ? [COPY_TO_LABEL] : [])].map((label) => ({ podSelector: { matchLabels: { [label]: spec.name } } })), ports }]
            : [];
        // Prometheus, to the metrics port only (which is the client port where the engine serves its own).
        const scrapers = metrics ? [{ from: namespaceSelectors(monitoring!.namespaces), ports: [{ protocol: "TCP", port: metrics.port }] }] : [];
        const admission = new k8s.networking.v1.NetworkPolicy(
            `${spec.name}-clients`,
            {
                metadata: metadata(names.NetworkPolicy[0]),
                spec: {
                    podSelector: { matchLabels: labels },
                    policyTypes: ["Ingress"],
                    // An ingress rule with an empty `from` admits everyone: with no clients, no rule at all.
                    ingress: [
                        ...(clients.length === 0 ? [] : [{ from: namespaceSelectors(clients), ports }]),
                        ...jobs,
                        ...scrapers,
                    ],
                },
            },
            opts,
        );
        this.admissions.set(spec.name, admission);

        if (metrics && monitoring!.podMonitor) {
            const monitorMetadata = { name: names.PodMonitor[0], namespace, labels: { ...(monitoring!.podMonitorLabels ?? {}), ...labels } };
            podMonitor(spec.name, monitorMetadata, labels, metrics, opts);
        }

        const host = pulumi.all([service.metadata.name, service.metadata.namespace]).apply(([n, ns]) => kubernetesServiceHost(n, ns));
        const port = pulumi.output(spec.port);
        return { host, port, adminHost: host, adminPort: port, ready: statefulSet };
    }
}

/** NetworkPolicy peers: every pod of these namespaces. */
function namespaceSelectors(namespaces: string[]) {
    return namespaces.map((ns) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } }));
}

/**
 * The exporter beside the server: restricted like the server, a read-only root filesystem, no
 * probes (an exporter that fails must not make the server unready for its apps).
 */
function exporterContainer(metrics: MetricsSpec, secret: k8s.core.v1.Secret) {
    const exporter = metrics.exporter!;
    return {
        name: exporter.name,
        image: exporter.image,
        args: exporter.args,
        ports: [{ name: METRICS_PORT_NAME, containerPort: metrics.port }],
        env: [
            ...Object.entries(exporter.env).map(([name, value]) => ({ name, value })),
            ...Object.keys(exporter.secretEnv).map((name) => ({ name, valueFrom: { secretKeyRef: { name: secret.metadata.name, key: name } } })),
        ],
        resources: { requests: { ...EXPORTER_RESOURCES.requests }, limits: { ...EXPORTER_RESOURCES.limits } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
    };
}

/** A Prometheus Operator PodMonitor for one server's pod, copying each app-bearing label to `app`. */
function podMonitor(server: string, metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, string> }, labels: Record<string, string>, metrics: MetricsSpec, opts: pulumi.CustomResourceOptions) {
    return new k8s.apiextensions.CustomResource(
        `${server}-metrics`,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata,
            spec: {
                selector: { matchLabels: labels },
                podMetricsEndpoints: [
                    {
                        // The exporter's port, or the engine's own endpoint: either container names it so.
                        port: METRICS_PORT_NAME,
                        path: metrics.path,
                        interval: SCRAPE_INTERVAL,
                        metricRelabelings: appRelabelings(metrics),
                    },
                ],
            },
        },
        opts,
    );
}

/** A server's address inside the cluster: its ClusterIP Service's DNS name. */
export function kubernetesServiceHost(server: string, namespace: string): string {
    return `${serverObjectNames(server).Service[0]}.${namespace}.svc.cluster.local`;
}

function secretMap(values: Record<string, pulumi.Input<string>>): pulumi.Output<Record<string, string>> {
    return pulumi.secret(pulumi.all(values));
}

/**
 * A digest of everything the server reads at start from its Secrets. It is a one-way hash of
 * generated high-entropy values, so it is safe in plain state and keeps diffs readable.
 */
function configHash(spec: ServerSpec): pulumi.Output<string> {
    const inputs = pulumi.all({ env: pulumi.all(spec.secretEnv ?? {}), files: pulumi.all(spec.secretFiles?.files ?? {}) });
    return pulumi.unsecret(inputs.apply((v) => crypto.createHash("sha256").update(stableJson(v)).digest("hex")));
}

function stableJson(value: unknown): string {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
}

export interface KubernetesTarget {
    kind: "kubernetes";
    /** Explicit provider for every Kubernetes object. */
    provider: k8s.Provider;
    /** Namespace the servers run in; created, labelled for the restricted Pod Security profile, default-deny ingress. */
    namespace: string;
    /** @default the cluster's default StorageClass */
    storageClass?: string;
    /** Namespaces where `pulumi up` runs in-cluster; they may reach every server. @default [] */
    adminNamespaces?: string[];
    /** Metrics: how Prometheus finds and reaches the servers, and where the Grafana dashboard goes. @default no metrics */
    monitoring?: MonitoringTarget & { dashboardNamespace: string };
}

/**
 * The server namespace, restricted Pod Security enforced and ingress denied unless a server's
 * own policy admits it, and a runtime whose servers run in it.
 */
export function kubernetesServerNamespace(name: string, target: KubernetesTarget, protect: boolean, parent: pulumi.Resource): KubernetesRuntime {
    const provider = target.provider;
    // Deleting a namespace deletes its volume claims: it is data, never deleted by Pulumi.
    const namespace = new k8s.core.v1.Namespace(
        `${name}-namespace`,
        {
            metadata: {
                name: target.namespace,
                labels: {
                    "app.kubernetes.io/managed-by": "tenant-databases",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
        },
        { parent, provider, retainOnDelete: true, protect },
    );
    // Nothing reaches a server unless a server's own policy admits it.
    new k8s.networking.v1.NetworkPolicy(
        `${name}-default-deny`,
        {
            metadata: { name: "default-deny-ingress", namespace: namespace.metadata.name, labels: { "app.kubernetes.io/managed-by": "tenant-databases" } },
            spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [] },
        },
        { parent, provider },
    );
    return new KubernetesRuntime({
        provider,
        namespace: namespace.metadata.name,
        storageClass: target.storageClass,
        adminNamespaces: target.adminNamespaces,
        monitoring: target.monitoring,
    });
}
