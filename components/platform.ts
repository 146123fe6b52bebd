// DatabasePlatform: every planned server with its tenants on one target. On Kubernetes each app
// also gets one Secret in its own namespace holding all its credentials; on Docker apps read the
// `apps` output (npm run env). Engines are built through their descriptors (components/engines.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DockerTarget, dockerServerNetwork } from "../infra/docker";
import { DockerMoveSide, dockerMoveCommand } from "../infra/docker-move";
import { KubernetesRuntime, KubernetesTarget, kubernetesServerNamespace, kubernetesServiceHost } from "../infra/kubernetes";
import { KubernetesBackupStore, MoveSide, backupVolumeClaim, tenantMoveJob } from "../infra/kubernetes-backup";
import { copyInScript, copyOutScript, copyVariables, serverVariables } from "./backup";
import type { BackupDestination } from "./backup-plan";
import { TenantBackup } from "./tenant-backup";
import { appSecretName, dnsName, dockerContainerName, tenantName } from "../infra/naming";
import { Tenant, TenantCredentials } from "./credentials";
import { BuiltServer, Placement, ServerPlan, TenantPlan } from "./engine";
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
    /** Apps moving away whose old copy this server still holds (their login disabled once copied). */
    retired?: string[];
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

        // Moves: per app and engine moving, what resolves once its copy succeeded. The retired
        // tenancy's login is disabled then, so the copy Job is made after the servers.
        const moves = args.servers.flatMap((plan) => plan.tenants.filter((t) => t.moveFrom !== undefined).map((tenant) => ({ plan, tenant })));
        const copiedResolvers = new Map(moves.map(({ plan, tenant }) => [tenantName(tenant.app, plan.engine), pulumi.deferredOutput<unknown>()] as const));
        const copied = new Map([...copiedResolvers].map(([key, [output]]) => [key, output]));
        const moving = new Set(moves.map((m) => m.tenant.app));

        const tenants: Tenant[] = [];
        const summaries: pulumi.Output<ServerSummary>[] = [];
        const built = new Map<string, BuiltServer>();
        for (const plan of args.servers) {
            const server = engineNamed(plan.engine).createServer(plan, { runtime, protect, decommission, parent: this, copied, moving });
            built.set(plan.name, server);
            // A retired tenancy (an app moving away) keeps its data but gives the app nothing.
            const active = plan.tenants.filter((t) => !t.retired).map((t) => t.app);
            const retired = plan.tenants.filter((t) => t.retired).map((t) => t.app);
            tenants.push(...active.map((app) => server.tenants[app]));
            summaries.push(
                pulumi.all([server.host, server.port]).apply(([host, port]) => ({
                    engine: plan.engine,
                    name: plan.name,
                    placement: plan.placement,
                    tenants: active,
                    ...(retired.length > 0 && { retired }),
                    host,
                    port,
                })),
            );
        }

        // The app's credentials for an engine point at the new server only once its copy succeeded.
        const copies = new Map<string, { resource: pulumi.Resource; done: pulumi.Output<unknown> }>();
        for (const { plan, tenant } of moves) {
            const key = tenantName(tenant.app, plan.engine);
            const copy =
                target.kind === "kubernetes"
                    ? moveJob(plan, tenant, built, target, [tenant.moveFrom!.server, plan.name].flatMap((s) => (runtime as KubernetesRuntime).admissionOf(s) ?? []), this)
                    : dockerMove(plan, tenant, built, target, this);
            copies.set(key, copy);
            copiedResolvers.get(key)![1](copy.done);
        }
        const credentialsOf = (t: Tenant): pulumi.Output<TenantCredentials> => {
            const copy = copies.get(tenantName(t.app, t.engine));
            return copy === undefined ? t.credentials : pulumi.all([t.credentials, copy.done]).apply(([c]) => c);
        };

        // Backups of each app where it lives, from when its data is there (after its copy).
        if (store !== undefined && target.kind === "kubernetes") {
            for (const plan of args.servers) {
                const engine = engineNamed(plan.engine);
                for (const t of plan.tenants.filter((t) => t.backup !== undefined || t.restore !== undefined)) {
                    const tenant = built.get(plan.name)!.tenants[t.app];
                    const copy = copies.get(tenantName(t.app, plan.engine));
                    new TenantBackup(
                        `${tenantName(t.app, plan.engine)}-backups`,
                        {
                            hook: engine.backup!,
                            engine: plan.engine,
                            server: { name: plan.name, image: plan.settings.image, uid: engine.defaults.uid, port: engine.defaults.port, options: plan.settings.options },
                            tenant: t,
                            kubernetes: { provider: target.provider, namespace: target.namespace },
                            store,
                            dependsOn: [...(tenant instanceof pulumi.Resource ? [tenant] : []), ...(copy ? [copy.resource] : [])],
                            tenantPassword: tenant.credentials.apply((c) => c.password ?? ""),
                        },
                        { parent: this },
                    );
                }
            }
        }

        const byApp = new Map<string, Tenant[]>();
        for (const t of tenants) byApp.set(t.app, [...(byApp.get(t.app) ?? []), t]);
        const credentials = new Map(
            [...byApp.entries()].map(([app, appTenants]) => [
                app,
                pulumi.all(Object.fromEntries(appTenants.map((t) => [t.engine, credentialsOf(t)]))) as pulumi.Output<AppCredentials>,
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
                    // Also explicitly: the Secret points at a new server only after the copy there.
                    { parent: this, provider: target.provider, dependsOn: byApp.get(app)!.flatMap((t) => copies.get(tenantName(app, t.engine))?.resource ?? []) },
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

/**
 * The copy Job of an app moving to `plan`'s server from `t.moveFrom.server`: the engine's copy
 * scripts with each server's variables, the app's login on each. It waits for the new tenancy.
 * Of the old one it reads only the password: the old tenancy is live already (its data is what
 * moves), and its login is disabled after this Job, so waiting for all of it would wait for itself.
 */
function moveJob(
    plan: ServerPlan,
    t: TenantPlan,
    built: Map<string, BuiltServer>,
    target: KubernetesTarget,
    admissions: pulumi.Resource[],
    parent: pulumi.Resource,
): { resource: pulumi.Resource; done: pulumi.Output<unknown> } {
    const engine = engineNamed(plan.engine);
    const hook = engine.backup!;
    const oldTenant = built.get(t.moveFrom!.server)!.tenants[t.app];
    const newTenant = built.get(plan.name)!.tenants[t.app];
    const side = (server: string, password: pulumi.Output<string> | undefined, freeze: boolean): MoveSide => ({
        server,
        env: copyVariables(hook, { host: kubernetesServiceHost(server, target.namespace), port: engine.defaults.port, options: plan.settings.options }, t),
        password,
        serverSecretEnv: serverVariables(hook, { freeze }),
    });
    const job = tenantMoveJob(
        `${tenantName(t.app, plan.engine)}-move`,
        {
            engine: plan.engine,
            app: t.app,
            image: hook.clientImage ?? { image: plan.settings.image, uid: engine.defaults.uid },
            tenantPasswordEnv: hook.tenantPasswordEnv,
            from: side(t.moveFrom!.server, oldTenant.loginPassword, true),
            to: side(plan.name, newTenant.loginPassword, false),
            copyOut: copyOutScript(hook.commands),
            copyIn: copyInScript(hook.commands),
            // And both servers' NetworkPolicies: a copy that starts before it is admitted fails after the freeze.
            dependsOn: [...(newTenant instanceof pulumi.Resource ? [newTenant] : []), ...admissions],
        },
        target.namespace,
        target.provider,
        parent,
    );
    return { resource: job, done: job.metadata.uid };
}

/**
 * The same copy on Docker: one command `pulumi up` runs through the Docker CLI, each half in a
 * container of the server's image inside its server's network. Its ordering is the Job's.
 */
function dockerMove(plan: ServerPlan, t: TenantPlan, built: Map<string, BuiltServer>, target: DockerTarget, parent: pulumi.Resource): { resource: pulumi.Resource; done: pulumi.Output<unknown> } {
    const engine = engineNamed(plan.engine);
    const hook = engine.backup!;
    const newTenant = built.get(plan.name)!.tenants[t.app];
    const side = (server: string, tenant: Tenant, freeze: boolean): DockerMoveSide => ({
        container: dockerContainerName(target.namePrefix, server),
        vars: { ...copyVariables(hook, { host: "127.0.0.1", port: engine.defaults.port, options: plan.settings.options }, t), APP: t.app, ENGINE: plan.engine },
        serverVars: serverVariables(hook, { freeze }),
        password: tenant.loginPassword,
    });
    const command = dockerMoveCommand(
        `${tenantName(t.app, plan.engine)}-move`,
        {
            name: dockerContainerName(target.namePrefix, `move-${dnsName(t.app)}-${plan.engine}`),
            image: hook.clientImage?.image ?? plan.settings.image,
            passwordVar: hook.tenantPasswordEnv,
            from: side(t.moveFrom!.server, built.get(t.moveFrom!.server)!.tenants[t.app], true),
            to: side(plan.name, newTenant, false),
            copyOut: copyOutScript(hook.commands),
            copyIn: copyInScript(hook.commands),
        },
        newTenant instanceof pulumi.Resource ? [newTenant] : [],
        parent,
    );
    return { resource: command, done: command.stdout };
}

/** Where a Kubernetes stack's backups go: the bucket, or the one volume claim made for them. */
function kubernetesBackupStore(name: string, destination: BackupDestination, target: KubernetesTarget, parent: pulumi.Resource, protect: boolean): KubernetesBackupStore {
    if ("s3" in destination) return { s3: destination.s3 };
    if ("volume" in destination) return { claimName: backupVolumeClaim(name, destination.volume, target.namespace, target.provider, parent, protect) };
    throw new Error(`DatabasePlatform ${name}: backups on Kubernetes go to s3 or a volume, not a host directory`);
}
