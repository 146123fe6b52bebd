// TenantBackup: one app's scheduled backups of one engine, and its restore, on Kubernetes. The
// scripts are the engine's backup hook in the frame of components/backup.ts; infra/kubernetes-
// backup.ts runs them. On Docker there is nothing to register: `npm run backup` runs the same
// scripts (scripts/backup.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesBackupStore, tenantBackupJobs } from "../infra/kubernetes-backup";
import { kubernetesServiceHost } from "../infra/kubernetes";
import { EngineBackup, backupScript, restoreScript } from "./backup";
import { TenantBackupPlan, TenantRestorePlan, cronProblem, restoreFromProblem } from "./backup-plan";

export interface TenantBackupArgs<Options = unknown, TenantOptions = unknown> {
    /** The engine's backup hook (its descriptor's `backup`). */
    hook: EngineBackup<Options, TenantOptions>;
    engine: string;
    /** The server the app's data is on, as planned. */
    server: { name: string; image: string; uid: number; port: number; options: Options };
    tenant: { app: string; options: TenantOptions; backup?: TenantBackupPlan; restore?: TenantRestorePlan };
    kubernetes: { provider: k8s.Provider; namespace: string };
    store: KubernetesBackupStore;
    /** The tenant's resources: a restore runs once they exist. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** The app's own password (secret), for engines whose scripts log in as the app. */
    tenantPassword?: pulumi.Input<string>;
}

export class TenantBackup extends pulumi.ComponentResource {
    constructor(name: string, args: TenantBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:backup:TenantBackup", name, {}, opts);
        const { hook, server, tenant } = args;
        // What the stack config refuses, refused here too for a program using this component directly.
        const problems = [
            hook.problem?.(server.options),
            tenant.backup && cronProblem(tenant.backup.schedule),
            tenant.backup && !(Number.isInteger(tenant.backup.keep) && tenant.backup.keep >= 1) ? `keep ${tenant.backup.keep} is not a whole number of at least 1` : undefined,
            tenant.restore && restoreFromProblem(tenant.app, args.engine, hook.commands.extension, tenant.restore.from),
            hook.tenantPasswordEnv !== undefined && args.tenantPassword === undefined ? `${args.engine} backups log in as the app: tenantPassword is required` : undefined,
        ].filter((p): p is string => typeof p === "string");
        if (problems.length > 0) throw new Error(`TenantBackup ${name}: ${problems.join("; ")}`);
        // Backup pods reach the server inside the cluster, through its Service.
        const host = kubernetesServiceHost(server.name, args.kubernetes.namespace);
        tenantBackupJobs(
            name,
            {
                server: server.name,
                engine: args.engine,
                app: tenant.app,
                image: hook.clientImage ?? { image: server.image, uid: server.uid },
                env: hook.env({ host, port: server.port, options: server.options }, tenant),
                serverSecretEnv: hook.secretEnv,
                tenantLogin: hook.tenantPasswordEnv !== undefined ? { env: hook.tenantPasswordEnv, password: args.tenantPassword! } : undefined,
                extension: hook.commands.extension,
                store: args.store,
                backup: tenant.backup && { ...tenant.backup, script: backupScript(hook.commands) },
                restore: tenant.restore && { ...tenant.restore, script: restoreScript(hook.commands) },
                dependsOn: args.dependsOn ?? [],
            },
            args.kubernetes.namespace,
            args.kubernetes.provider,
            this,
        );
        this.registerOutputs({});
    }
}
