// Backups on the Docker target, where no scheduler runs: `npm run backup` and `npm run restore`
// run the engine's rendered scripts (the same text a Kubernetes Job runs) in a one-off container
// of the server's image that shares the server container's network, with a host directory
// mounted as BACKUP_DIR. The server's own environment (its admin password) is read from the
// running container. Pure: computes the docker command lines, runs nothing.
import * as path from "path";
import { EngineBackup, backupEnvironment, backupScript, restoreScript } from "../components/backup";
import { restoreFromProblem } from "../components/backup-plan";
import { engineNamed } from "../components/engines";
import type { ServerPlan, TenantPlan } from "../components/engine";
import { CONTAINER_BACKUP_DIR } from "../infra/docker-env";
import { dockerContainerName } from "../infra/naming";
import type { StackConfig } from "./config";
import { dockerNamePrefix } from "./files";
import { planTopology } from "./plan";

export { CONTAINER_BACKUP_DIR, dockerEnvFile } from "../infra/docker-env";

export interface DockerBackupRequest {
    mode: "backup" | "restore";
    stack: string;
    app: string;
    /** @default every engine the app uses that can be backed up */
    engine?: string;
    /** Host directory. @default backup.destination.directory of the stack, relative to `root` */
    dir?: string;
    /** Restore: a backup id or `latest`. */
    from?: string;
    replace?: boolean;
}

/** One docker run: its argv (no secret on it) and the variables to pass through an env file. */
export interface DockerBackupRun {
    engine: string;
    /** The server's container, whose environment holds the admin's secrets. */
    container: string;
    /** The host directory mounted as BACKUP_DIR. */
    dir: string;
    /** `docker` arguments, the env file's path given as `{envFile}`. */
    args: string[];
    /** The script logs in as the app: `env` needs the app's password (from the stack output `apps`). */
    needsTenantPassword: boolean;
    /** Every variable the script reads: secret ones from the server container's environment, or the app's own password. */
    env(serverEnv: Record<string, string | undefined>, tenantPassword?: string): Record<string, string>;
}

/** The runs a request needs, or an error naming what is wrong. `root`: where relative directories start. */
export function dockerBackupRuns(config: StackConfig, request: DockerBackupRequest, root: string, user: string): DockerBackupRun[] {
    if (config.target !== "docker") {
        throw new Error(
            `stack ${request.stack} runs on ${config.target}: backups run as CronJobs there ` +
                `(kubectl create job --from=cronjob/<name>), and a restore is apps.${request.app}.<engine>.restore in the stack config`,
        );
    }
    const app = config.apps[request.app];
    if (app === undefined) throw new Error(`no app ${JSON.stringify(request.app)} in stack ${request.stack}; apps: ${Object.keys(config.apps).sort().join(", ") || "none"}`);
    const destination = config.backup?.destination;
    const dirGiven = request.dir ?? (destination && "directory" in destination ? destination.directory : undefined);
    if (dirGiven === undefined) throw new Error(`no backup directory: pass --dir <path>, or set tenant-databases:backup.destination.directory in Pulumi.${request.stack}.yaml`);
    const dir = path.resolve(root, dirGiven);
    if (dir.includes(":")) throw new Error(`the backup directory ${dir} holds a ':', which docker --volume cannot mount; choose another`);

    const used = Object.keys(app.uses);
    if (request.engine !== undefined && !used.includes(request.engine)) {
        throw new Error(`${request.app} does not use ${request.engine}; it uses ${used.join(", ") || "no engine"}`);
    }
    // Backups follow the config (which engines, how many kept); a restore may use any backup there is.
    const backedUp = used.filter((e) => app.uses[e].backup !== undefined);
    const engines = request.engine !== undefined ? [request.engine] : request.mode === "backup" ? backedUp : used;
    if (request.mode === "backup") {
        if (engines.length === 0) throw new Error(`${request.app} has no backups in stack ${request.stack}: ${whyNoBackup(config, request.app, used[0])}`);
        for (const e of engines) if (!backedUp.includes(e)) throw new Error(`${request.app}'s ${e} data is not backed up: ${whyNoBackup(config, request.app, e)}`);
    }
    if (request.mode === "restore" && engines.length !== 1) throw new Error(`${request.app} uses ${engines.join(", ")}: say which one to restore with --engine`);

    const servers = planTopology(config).servers;
    return engines.map((name) => {
        const engine = engineNamed(name);
        const server = servers.find((s) => s.engine === name && s.tenants.some((t) => t.app === request.app))!;
        const tenant = server.tenants.find((t) => t.app === request.app)!;
        const hook = engine.backup;
        const cannot = hook === undefined ? `${engine.title} has no per-tenant backup` : hook.problem?.(server.settings.options);
        if (cannot !== undefined) throw new Error(`${request.app}'s ${name} data cannot be backed up on its own: ${cannot}`);
        return oneRun(request, hook!, server, tenant, dir, user);
    });
}

/** Which config key keeps an app's data of an engine from being backed up. */
function whyNoBackup(config: StackConfig, app: string, engine: string | undefined): string {
    if (config.backup === undefined) return `the stack has no tenant-databases:backup (add one with destination.directory)`;
    if (engine === undefined) return "it uses no engine";
    if (config.engines[engine]?.backup === undefined) return `engines.${engine}.backup.enabled is false`;
    return `apps.${app}.${engine}.backup is false`;
}

function oneRun(request: DockerBackupRequest, hook: EngineBackup, server: ServerPlan, tenant: TenantPlan, dir: string, user: string): DockerBackupRun {
    const engine = engineNamed(server.engine);
    let own: Record<string, string>;
    if (request.mode === "backup") {
        own = { KEEP: String(tenant.backup!.keep) };
    } else {
        const from = request.from ?? "latest";
        const bad = restoreFromProblem(tenant.app, server.engine, hook.commands.extension, from);
        if (bad !== undefined) throw new Error(`--from: ${bad}`);
        own = { FROM: from, REPLACE: String(request.replace ?? false), REPLACE_HINT: "pass --replace" };
    }
    const container = dockerContainerName(dockerNamePrefix(request.stack), server.name);
    const script = request.mode === "backup" ? backupScript(hook.commands) : restoreScript(hook.commands);
    return {
        engine: server.engine,
        container,
        dir,
        args: [
            "run",
            "--rm",
            // The server's network namespace: its port on 127.0.0.1, nothing published.
            `--network=container:${container}`,
            // As the operator's user, so the files on the host are theirs (umask 077 in the script).
            `--user=${user}`,
            "--env-file={envFile}",
            `--volume=${dir}:${CONTAINER_BACKUP_DIR}`,
            "--entrypoint=sh",
            hook.clientImage?.image ?? server.settings.image,
            "-c",
            script,
        ],
        needsTenantPassword: hook.tenantPasswordEnv !== undefined,
        env: (serverEnv, tenantPassword) => ({
            ...backupEnvironment(hook, { host: "127.0.0.1", port: engine.defaults.port, options: server.settings.options }, tenant, serverEnv, tenantPassword),
            APP: tenant.app,
            ENGINE: server.engine,
            BACKUP_DIR: CONTAINER_BACKUP_DIR,
            HOME: "/tmp",
            ...own,
        }),
    };
}

