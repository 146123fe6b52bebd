// DatabasePlatform: every planned server with its tenants on one target. On Kubernetes each app
// also gets one Secret in its own namespace holding all its credentials; on Docker apps read the
// `apps` output (npm run env). Engines are built through their descriptors (components/engines.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DockerTarget, dockerServerNetwork } from "../infra/docker";
import { KubernetesTarget, kubernetesServerNamespace } from "../infra/kubernetes";
import { KubernetesBackupStore, backupVolumeClaim } from "../infra/kubernetes-backup";
import type { BackupDestination } from "./backup-plan";
import { TenantBackup } from "./tenant-backup";
import { appSecretName, dnsName, tenantName } from "../infra/naming";
import { Tenant } from "./credentials";
import { Placement, ServerPlan } from "./engine";
import { engineNamed } from "./engines";
import { topologyProblems } from "./topology";
import { AppCredentials, appEnvironment } from "./environment";
import { DASHBOARD_FILE, tenantDatabasesDashboard } from "./dashboard";

export type { AppCredentials } from "./environment";
export type { DockerTarget } from "../infra/docker";
export type { KubernetesTarget } from "../infra/kubernetes";

export interface DatabasePlatformArgs {
    target: KubernetesTarget | DockerTarget;
    servers: ServerPlan[];
    /** Pulumi `protect` on everything that holds data. @default false */
    protect?: boolean;
    /** Apps whose data may really be dropped when they are removed. @default [] */
    decommission?: string[];
    /**
     * Where the tenants' backups go (their `backup` and `restore` plans). Kubernetes: `s3` or
     * `volume`, run by CronJobs and Jobs; Docker: `directory`, used by `npm run backup`, nothing
     * registered. @default no backups
     */
    backup?: { destination: BackupDestination };
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
        const problems = topologyProblems(args.servers);
        if (problems.length > 0) throw new Error(`DatabasePlatform ${name}: ${problems.join("; ")}`);
        const runtime = target.kind === "kubernetes" ? kubernetesServerNamespace(name, target, protect, this) : dockerServerNetwork(name, target, this);
        const backedUp = args.servers.some((s) => s.tenants.some((t) => t.backup !== undefined || t.restore !== undefined));
        if (backedUp && args.backup === undefined) throw new Error(`DatabasePlatform ${name}: tenants have backups or restores but args.backup gives no destination`);
        const store = target.kind === "kubernetes" && backedUp ? kubernetesBackupStore(name, args.backup!.destination, target, this, protect) : undefined;

        const tenants: Tenant[] = [];
        const summaries: pulumi.Output<ServerSummary>[] = [];
        for (const plan of args.servers) {
            const server = engineNamed(plan.engine).createServer(plan, { runtime, protect, decommission, parent: this });
            tenants.push(...Object.values(server.tenants));
            if (store !== undefined && target.kind === "kubernetes") {
                const engine = engineNamed(plan.engine);
                for (const t of plan.tenants.filter((t) => t.backup !== undefined || t.restore !== undefined)) {
                    const tenant = server.tenants[t.app];
                    new TenantBackup(
                        `${tenantName(t.app, plan.engine)}-backups`,
                        {
                            hook: engine.backup!,
                            engine: plan.engine,
                            server: { name: plan.name, image: plan.settings.image, uid: engine.defaults.uid, port: engine.defaults.port, options: plan.settings.options },
                            tenant: t,
                            kubernetes: { provider: target.provider, namespace: target.namespace },
                            store,
                            dependsOn: tenant instanceof pulumi.Resource ? [tenant] : [],
                            tenantPassword: tenant.credentials.apply((c) => c.password ?? ""),
                        },
                        { parent: this },
                    );
                }
            }
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

        if (target.kind === "kubernetes" && target.monitoring !== undefined) {
            // Grafana's dashboard sidecar loads every ConfigMap labelled grafana_dashboard.
            new k8s.core.v1.ConfigMap(
                `${name}-dashboard`,
                {
                    metadata: {
                        name: "tenant-databases-dashboard",
                        namespace: target.monitoring.dashboardNamespace,
                        labels: { "app.kubernetes.io/managed-by": "tenant-databases", grafana_dashboard: "1" },
                    },
                    data: { [DASHBOARD_FILE]: JSON.stringify(tenantDatabasesDashboard()) },
                },
                { parent: this, provider: target.provider },
            );
        }

        this.apps = pulumi.secret(pulumi.all(Object.fromEntries(credentials)));
        this.servers = pulumi.all(summaries);
        this.registerOutputs({ apps: this.apps, servers: this.servers });
    }
}

/** Where a Kubernetes stack's backups go: the bucket, or the one volume claim made for them. */
function kubernetesBackupStore(name: string, destination: BackupDestination, target: KubernetesTarget, parent: pulumi.Resource, protect: boolean): KubernetesBackupStore {
    if ("s3" in destination) return { s3: destination.s3 };
    if ("volume" in destination) return { claimName: backupVolumeClaim(name, destination.volume, target.namespace, target.provider, parent, protect) };
    throw new Error(`DatabasePlatform ${name}: backups on Kubernetes go to s3 or a volume, not a host directory`);
}
