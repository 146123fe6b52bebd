// DatabasePlatform: every planned server with its tenants on one target. On Kubernetes each app
// also gets one Secret in its own namespace holding all its credentials; on Docker apps read the
// `apps` output (npm run env).
import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DockerRuntime } from "../infra/docker";
import { KubernetesRuntime } from "../infra/kubernetes";
import { appSecretName, dnsName } from "../infra/naming";
import { ServerRuntime } from "../infra/runtime";
import { Tenant } from "./credentials";
import { AppCredentials, appEnvironment } from "./environment";
import { MongodbServer } from "./mongodb/mongodb";
import { MysqlServer } from "./mysql/mysql";
import { Neo4jServer } from "./neo4j/neo4j";
import { QdrantServer } from "./qdrant/qdrant";
import { PostgresqlServer } from "./postgresql/postgresql";
import { RedisServer } from "./redis/redis";
import { Placement, ServerPlan, TenantPlan } from "./types";

export type { AppCredentials } from "./environment";

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
}

export interface DockerTarget {
    kind: "docker";
    /** Explicit provider for every Docker object. */
    provider: docker.Provider;
    /** Prefix of container, volume and network names, unique per stack on one Docker engine. */
    namePrefix: string;
}

export interface DatabasePlatformArgs {
    target: KubernetesTarget | DockerTarget;
    servers: ServerPlan[];
    /** Pulumi `protect` on everything that holds data. @default false */
    protect?: boolean;
    /** Apps whose data may really be dropped when they are removed. @default [] */
    decommission?: string[];
}

export interface ServerSummary {
    engine: string;
    name: string;
    placement: Placement;
    tenants: string[];
    host: string;
    port: number;
}

export class DatabasePlatform extends pulumi.ComponentResource {
    /** Secret: app -> engine -> credentials. */
    readonly apps: pulumi.Output<Record<string, AppCredentials>>;
    /** No secrets: where each server runs and whom it serves. */
    readonly servers: pulumi.Output<ServerSummary[]>;

    constructor(name: string, args: DatabasePlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:platform:DatabasePlatform", name, {}, opts);
        const protect = args.protect ?? false;
        const decommission = new Set(args.decommission ?? []);
        const target = args.target;
        const runtime = target.kind === "kubernetes" ? kubernetesRuntime(name, target, protect, this) : dockerRuntime(name, target, this);

        const tenants: Tenant[] = [];
        const summaries: pulumi.Output<ServerSummary>[] = [];
        for (const plan of args.servers) {
            const server = createServer(plan, runtime, protect, decommission, this);
            tenants.push(...Object.values(server.tenants));
            summaries.push(
                pulumi.all([server.host, server.port]).apply(([host, port]) => ({
                    engine: plan.engine,
                    name: plan.name,
                    placement: plan.placement,
                    tenants: plan.tenants.map((t) => t.app),
                    host,
                    port,
                })),
            );
        }

        const byApp = new Map<string, Tenant[]>();
        for (const t of tenants) byApp.set(t.app, [...(byApp.get(t.app) ?? []), t]);
        const credentials = new Map(
            [...byApp.entries()].map(([app, appTenants]) => [
                app,
                pulumi.all(Object.fromEntries(appTenants.map((t) => [t.engine, t.credentials]))) as pulumi.Output<AppCredentials>,
            ]),
        );

        if (target.kind === "kubernetes") {
            const namespaces = new Map(args.servers.flatMap((s) => s.tenants.map((t) => [t.app, t.namespace] as const)));
            for (const [app, appCredentials] of [...credentials.entries()].sort(([a], [b]) => a.localeCompare(b))) {
                new k8s.core.v1.Secret(
                    `${app}-databases`,
                    {
                        metadata: {
                            name: appSecretName(app),
                            namespace: namespaces.get(app)!,
                            labels: { "app.kubernetes.io/managed-by": "tenant-databases", "tenant-databases.io/app": dnsName(app) },
                        },
                        type: "Opaque",
                        stringData: pulumi.secret(appCredentials.apply((c) => appEnvironment(app, c))),
                    },
                    { parent: this, provider: target.provider },
                );
            }
        }

        this.apps = pulumi.secret(pulumi.all(Object.fromEntries(credentials)));
        this.servers = pulumi.all(summaries);
        this.registerOutputs({ apps: this.apps, servers: this.servers });
    }
}

function kubernetesRuntime(name: string, target: KubernetesTarget, protect: boolean, parent: pulumi.Resource): ServerRuntime {
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
    });
}

function dockerRuntime(name: string, target: DockerTarget, parent: pulumi.Resource): ServerRuntime {
    const network = new docker.Network(
        `${name}-network`,
        { name: target.namePrefix, labels: [{ label: "tenant-databases.io/managed", value: "true" }] },
        { parent, provider: target.provider },
    );
    return new DockerRuntime({ provider: target.provider, network: network.name, namePrefix: target.namePrefix });
}

function createServer(
    plan: ServerPlan,
    runtime: ServerRuntime,
    protect: boolean,
    decommission: Set<string>,
    parent: pulumi.Resource,
): { host: pulumi.Output<string>; port: pulumi.Output<number>; tenants: Record<string, Tenant> } {
    const s = plan.settings;
    const common = {
        runtime,
        version: s.version,
        image: s.image,
        storageGi: s.storageGi,
        resources: s.resources,
        adminEndpoint: s.adminEndpoint,
        hostPort: plan.hostPort,
        protect,
    };
    // The planned tenants of this server's engine, with the platform's decommission decision.
    const tenants = <E extends TenantPlan["engine"]>(engine: E) =>
        plan.tenants
            .filter((t): t is Extract<TenantPlan, { engine: E }> => t.engine === engine)
            .map((t) => ({ ...t, decommissioned: decommission.has(t.app) }));
    switch (plan.engine) {
        case "postgresql":
            return new PostgresqlServer(plan.name, { ...common, tuning: s.tuning.postgresql, tenants: tenants("postgresql") }, { parent });
        case "mysql":
            return new MysqlServer(plan.name, { ...common, tuning: s.tuning.mysql, tenants: tenants("mysql") }, { parent });
        case "mongodb":
            return new MongodbServer(plan.name, { ...common, tuning: s.tuning.mongodb, tenants: tenants("mongodb") }, { parent });
        case "qdrant":
            return new QdrantServer(plan.name, { ...common, tenants: tenants("qdrant") }, { parent });
        case "neo4j":
            return new Neo4jServer(plan.name, { ...common, edition: s.edition, tenants: tenants("neo4j") }, { parent });
        case "redis":
            return new RedisServer(plan.name, { ...common, databases: s.databases, tuning: s.tuning.redis, tenants: tenants("redis") }, { parent });
    }
}
