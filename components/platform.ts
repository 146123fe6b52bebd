// DatabasePlatform: every planned server with its tenants on one target, and per app one Secret
// in the app's own namespace holding all its credentials.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesRuntime } from "../infra/kubernetes";
import { appSecretName } from "../infra/naming";
import { ServerRuntime } from "../infra/runtime";
import { Tenant } from "./credentials";
import { PostgresqlCredentials, PostgresqlServer } from "./postgresql";
import { RedisCredentials, RedisServer } from "./redis";
import { Placement, ServerPlan } from "./types";

export interface DatabasePlatformArgs {
    kubernetes: {
        /** Explicit provider for every Kubernetes object. */
        provider: k8s.Provider;
        /** Namespace the servers run in; created and labelled for the restricted Pod Security profile. */
        namespace: string;
        /** @default the cluster's default StorageClass */
        storageClass?: string;
        /** Namespaces where `pulumi up` runs in-cluster; they may reach every server. @default [] */
        adminNamespaces?: string[];
    };
    servers: ServerPlan[];
    /** Pulumi `protect` on everything that holds data. @default false */
    protect?: boolean;
    /** Apps whose data may really be dropped when they are removed. @default [] */
    decommission?: string[];
}

/** What one app receives, per engine it uses. `password` and `url` are secret. */
export interface AppCredentials {
    postgresql?: PostgresqlCredentials;
    redis?: RedisCredentials;
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
        const provider = args.kubernetes.provider;

        // Deleting a namespace deletes its volume claims: it is data, never deleted by Pulumi.
        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: args.kubernetes.namespace,
                    labels: {
                        "app.kubernetes.io/managed-by": "tenant-databases",
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                },
            },
            { parent: this, provider, retainOnDelete: true, protect },
        );
        const runtime: ServerRuntime = new KubernetesRuntime({
            provider,
            namespace: namespace.metadata.name,
            storageClass: args.kubernetes.storageClass,
            adminNamespaces: args.kubernetes.adminNamespaces,
        });
        // Nothing reaches a server unless a server's own policy admits it.
        new k8s.networking.v1.NetworkPolicy(
            `${name}-default-deny`,
            {
                metadata: { name: "default-deny-ingress", namespace: namespace.metadata.name, labels: { "app.kubernetes.io/managed-by": "tenant-databases" } },
                spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [] },
            },
            { parent: this, provider },
        );

        const tenants: Tenant[] = [];
        const appNamespaces = new Map<string, string>();
        const summaries: pulumi.Output<ServerSummary>[] = [];
        for (const plan of args.servers) {
            const server = createServer(plan, runtime, protect, decommission, this);
            tenants.push(...Object.values(server.tenants));
            for (const t of plan.tenants) appNamespaces.set(t.app, t.namespace);
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

        for (const [app, appTenants] of [...byApp.entries()].sort(([a], [b]) => a.localeCompare(b))) {
            const env: Record<string, pulumi.Input<string>> = { APP_TENANT_ID: app };
            for (const t of appTenants) Object.assign(env, t.env);
            new k8s.core.v1.Secret(
                `${app}-databases`,
                {
                    metadata: {
                        name: appSecretName(app),
                        namespace: appNamespaces.get(app)!,
                        labels: { "app.kubernetes.io/managed-by": "tenant-databases", "tenant-databases.io/app": app.replace(/_/g, "-") },
                    },
                    type: "Opaque",
                    stringData: pulumi.secret(pulumi.all(env)),
                },
                { parent: this, provider },
            );
        }

        this.apps = pulumi.secret(
            pulumi.all(
                Object.fromEntries(
                    [...byApp.entries()].map(([app, appTenants]) => [
                        app,
                        pulumi.all(Object.fromEntries(appTenants.map((t) => [t.engine, t.credentials]))) as pulumi.Output<AppCredentials>,
                    ]),
                ),
            ),
        );
        this.servers = pulumi.all(summaries);
        this.registerOutputs({ apps: this.apps, servers: this.servers });
    }
}

function createServer(
    plan: ServerPlan,
    runtime: ServerRuntime,
    protect: boolean,
    decommission: Set<string>,
    parent: pulumi.Resource,
): { host: pulumi.Output<string>; port: pulumi.Output<number>; tenants: Record<string, Tenant> } {
    const s = plan.settings;
    const common = { runtime, version: s.version, image: s.image, storageGi: s.storageGi, resources: s.resources, protect };
    switch (plan.engine) {
        case "postgresql":
            return new PostgresqlServer(
                plan.name,
                {
                    ...common,
                    adminEndpoint: s.adminEndpoint,
                    tenants: plan.tenants.map((t) => ({
                        app: t.app,
                        namespace: t.namespace,
                        connectionLimit: t.engine === "postgresql" ? t.connectionLimit : undefined,
                        decommissioned: decommission.has(t.app),
                    })),
                },
                { parent },
            );
        case "redis":
            return new RedisServer(
                plan.name,
                { ...common, databases: s.databases, tenants: plan.tenants.map((t) => ({ app: t.app, namespace: t.namespace, db: t.engine === "redis" ? t.db : 0 })) },
                { parent },
            );
    }
}
