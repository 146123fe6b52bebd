// Redis: a server started from a bootstrap ACL (default user off, an admin user), and per tenant
// an ACL user on the running server with key prefix `<app>:`. DB numbers keep names apart but are
// not a boundary (Redis ACLs cannot restrict SELECT): the key patterns are.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { REDIS_ADMIN_USER, bootstrapAcl, redisStartScript } from "./redis-acl";
import { RedisAclUser } from "./redis-acl-user";
import { MONITOR_USER } from "../../infra/metrics";
import { redisMetrics } from "./redis-metrics";
import { ServerArgsBase, TenantSpecBase, assertNoProblems, startServer, tenantsOf, checkServerArgs, checkTenantArgs, loginDisabledAfter } from "../server";
import { defaultImage } from "../engine";
import { REDIS_DEFAULT_DATABASES, redisDbProblems, redisEngine, redisScriptingProblem } from "./engine";
import { RedisTuning, redisServerArgs, redisServerSettings, redisTuningProblems } from "./redis-settings";

export const REDIS_PORT = redisEngine.defaults.port;
const BOOTSTRAP_DIR = "/etc/redis/bootstrap";
const BOOTSTRAP_FILE = "users.acl";
const DATA_DIR = redisEngine.defaults.dataPath;

export interface RedisTenantSpec extends TenantSpecBase {
    /** The app's logical database; unique per shared server, never moved. */
    db: number;
    /**
     * EVAL, FCALL, FUNCTION and SCRIPT for this tenant. Scripts run with no key checks until they
     * touch a key and can block the server, so only a server with this one tenant allows it. @default false
     */
    scripting?: boolean;
}

/** `version` is the image tag, e.g. "7.4". */
export interface RedisServerArgs extends ServerArgsBase<RedisTenantSpec> {
    /** Number of logical databases, fixed at start. @default 16 */
    databases?: number;
    /** Overrides of the settings derived from `resources.limits.memory` (maxmemory, maxclients, ...). */
    tuning?: RedisTuning;
}

/** How tenants manage their ACL users: the admin address and password, once the server is ready. */
export interface RedisAdminConnection {
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    password: pulumi.Input<string>;
    ready: pulumi.Resource;
}

export class RedisServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, RedisTenant>;

    constructor(name: string, args: RedisServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:redis:RedisServer", name, {}, opts);
        checkServerArgs(redisEngine, name, args);
        const databases = args.databases ?? REDIS_DEFAULT_DATABASES;
        assertNoProblems(
            "RedisServer",
            name,
            redisDbProblems(databases, args.tenants).map((p) =>
                p.outOfRange ? `${p.app} has db ${p.db}, allowed 0-${databases - 1}` : `db ${p.db} is used by ${p.usedBy} and ${p.app}`,
            ),
        );
        assertNoProblems("RedisServer", name, [redisScriptingProblem(args.tenants)]);
        assertNoProblems("RedisServer", name, redisTuningProblems(args.resources.limits.memory, args.tuning ?? {}));
        const settings = redisServerSettings(args.resources.limits.memory, args.tuning);

        const image = args.image ?? defaultImage(redisEngine, args.version);
        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        const monitor = args.monitoring ? generatedPassword(`${name}-monitor-password`, { parent: this }) : undefined;
        const { running, admin: address } = startServer(this, name, redisEngine, args, {
            defaultImage: image,
            // The ACL file on the data volume is seeded from the bootstrap file (see redisStartScript).
            args: [
                "sh", "-c", redisStartScript(`${BOOTSTRAP_DIR}/${BOOTSTRAP_FILE}`, `${DATA_DIR}/users.acl`), "redis-server",
                "--port", String(REDIS_PORT),
                "--aclfile", `${DATA_DIR}/users.acl`,
                "--databases", String(databases),
                "--dir", DATA_DIR,
                "--appendonly", "yes",
                ...redisServerArgs(settings),
            ],
            // redis-cli reads the admin password from REDISCLI_AUTH (never on a command line).
            secretEnv: { REDISCLI_AUTH: adminPassword.result },
            // Only the admin password is in it: tenants never restart or replace the server.
            secretFiles: { mountPath: BOOTSTRAP_DIR, files: { [BOOTSTRAP_FILE]: pulumi.secret(adminPassword.result.apply(bootstrapAcl)) } },
            readinessCommand: redisReadinessCommand(),
            // PING is refused with BUSY while a script runs, and with LOADING during a restart's
            // replay (the startup probe allows for that): a TCP check would pass both.
            livenessCommand: redisLivenessCommand(),
            metrics: monitor && redisMetrics(REDIS_PORT, monitor.result),
        });
        this.host = running.host;
        this.port = running.port;
        const admin: RedisAdminConnection = {
            ...address,
            password: adminPassword.result,
            ready: running.ready,
        };

        if (monitor) {
            new RedisAclUser(
                `${name}-monitor`,
                {
                    host: admin.host,
                    port: admin.port,
                    adminUser: REDIS_ADMIN_USER,
                    adminPassword: pulumi.secret(admin.password),
                    user: MONITOR_USER,
                    monitor: true,
                    scripting: false,
                    password: pulumi.secret(monitor.result),
                    serverImage: image,
                },
                { parent: this, dependsOn: [running.ready] },
            );
        }

        this.tenants = tenantsOf("redis", { name, component: this }, args.tenants, (tenant, t, opts) => new RedisTenant(tenant, { ...t, admin, serverImage: image, host: this.host, port: this.port }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

/** Authenticates as the admin (password from REDISCLI_AUTH) over TCP and expects PONG. */
export function redisReadinessCommand(port = REDIS_PORT): string[] {
    return ["sh", "-c", `redis-cli -h 127.0.0.1 -p ${port} --user ${REDIS_ADMIN_USER} ping | grep -q PONG`];
}

/**
 * Like readiness, but a server that refuses the probe because every client slot is taken still
 * answers: restarting it would hand anyone who can open sockets a way to restart it for all.
 */
export function redisLivenessCommand(port = REDIS_PORT): string[] {
    return [
        "sh",
        "-c",
        `out=$(redis-cli -h 127.0.0.1 -p ${port} --user ${REDIS_ADMIN_USER} ping 2>&1); case "$out" in *PONG*|*"max number of clients reached"*) exit 0;; esac; exit 1`,
    ];
}

export interface RedisCredentials extends PasswordCredentials {
    url: string;
    db: number;
    keyPrefix: string;
}

export interface RedisTenantArgs extends RedisTenantSpec {
    /** The server's image: when it changes, the tenant's ACL user is written anew. */
    serverImage?: string;
    /** Where apps reach the server. */
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    admin: RedisAdminConnection;
}

/** An app's ACL user on a Redis server, and its credentials. */
export class RedisTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "redis";
    readonly credentials: pulumi.Output<RedisCredentials>;

    constructor(name: string, args: RedisTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:redis:RedisTenant", name, {}, opts);
        checkTenantArgs(redisEngine, name, args);
        this.app = args.app;
        // The ACL user generates and keeps its password: one resource per tenant.
        const user = new RedisAclUser(
            `${name}-user`,
            {
                host: args.admin.host,
                port: args.admin.port,
                adminUser: REDIS_ADMIN_USER,
                adminPassword: pulumi.secret(args.admin.password),
                user: args.app,
                scripting: args.scripting ?? false,
                // A new image rewrites the users with the explicit list (an older Redis saved them as categories).
                serverImage: args.serverImage,
                ...(args.retiredAfter !== undefined && { enabled: loginDisabledAfter(args.retiredAfter) }),
            },
            { parent: this, dependsOn: [args.admin.ready] },
        );
        const password = pulumi.secret(user.password);
        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        const url = credentialUrl("redis", user.user, password, host, port, String(args.db));
        this.credentials = pulumi.output({ host, port, db: args.db, user: user.user, password, url, keyPrefix: args.app });
        this.registerOutputs({ credentials: this.credentials });
    }
}
