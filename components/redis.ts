// Redis: tenancy is server configuration. The server renders one ACL file holding every tenant's
// user (key prefix `<app>:`), mounts it, and restarts when it changes. DB numbers keep names apart
// but are not a boundary (Redis ACLs cannot restrict SELECT): the key patterns are.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../infra/passwords";
import { dnsName, tenantName } from "../infra/naming";
import { Resources, ServerRuntime } from "../infra/runtime";
import { Tenant, TenantCredentials, credentialUrl } from "./credentials";
import { REDIS_ADMIN_USER, renderRedisAcl } from "./redis-acl";
import { assertServerName } from "./options";

export const REDIS_PORT = 6379;
export const REDIS_DEFAULT_DATABASES = 16;
/** The keys a Redis tenant adds to its app's Secret. */
export const REDIS_ENV_KEYS = ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_DB"] as const;
const REDIS_UID = 999;
const ACL_DIR = "/etc/redis/acl";
const ACL_FILE = "users.acl";

export interface RedisTenantSpec {
    app: string;
    /** The app's Kubernetes namespace: it may connect to the server. @default the app name with `-` for `_` */
    namespace?: string;
    /** The app's logical database; unique per shared server, never moved. */
    db: number;
}

export interface RedisServerArgs {
    runtime: ServerRuntime;
    /** Image tag. @default used only to build `image` */
    version: string;
    /** @default `redis:<version>` */
    image?: string;
    storageGi: number;
    resources: Resources;
    /** Number of logical databases, fixed at start. @default 16 */
    databases?: number;
    tenants: RedisTenantSpec[];
    /** Pulumi `protect` on the server's data. @default false */
    protect?: boolean;
}

export class RedisServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, RedisTenant>;

    constructor(name: string, args: RedisServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:redis:RedisServer", name, {}, opts);
        assertServerName(name);
        const databases = args.databases ?? REDIS_DEFAULT_DATABASES;
        const used = new Map<number, string>();
        for (const t of args.tenants) {
            if (t.db < 0 || t.db >= databases) throw new Error(`RedisServer ${name}: ${t.app} has db ${t.db}, allowed 0-${databases - 1}`);
            if (used.has(t.db)) throw new Error(`RedisServer ${name}: db ${t.db} is used by ${used.get(t.db)} and ${t.app}`);
            used.set(t.db, t.app);
        }

        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        // The tenants' passwords are the server's: they are part of its ACL file.
        const passwords = Object.fromEntries(
            args.tenants.map((t) => [t.app, generatedPassword(`${tenantName(t.app, "redis")}-password`, { parent: this })]),
        );
        const acl = pulumi
            .all([adminPassword.result, pulumi.all(Object.fromEntries(Object.entries(passwords).map(([app, p]) => [app, p.result])))])
            .apply(([admin, byApp]) => renderRedisAcl(admin, Object.entries(byApp).map(([user, password]) => ({ user, password }))));

        const running = args.runtime.run(
            {
                engine: "redis",
                name,
                image: args.image ?? `redis:${args.version}`,
                port: REDIS_PORT,
                args: [
                    "redis-server",
                    "--port", String(REDIS_PORT),
                    "--aclfile", `${ACL_DIR}/${ACL_FILE}`,
                    "--databases", String(databases),
                    "--dir", "/data",
                    "--appendonly", "yes",
                ],
                // redis-cli reads the admin password from REDISCLI_AUTH (never on a command line).
                secretEnv: { REDISCLI_AUTH: adminPassword.result },
                secretFiles: { mountPath: ACL_DIR, files: { [ACL_FILE]: pulumi.secret(acl) } },
                data: { mountPath: "/data", storageGi: args.storageGi },
                resources: args.resources,
                readinessCommand: redisReadinessCommand(),
                clientNamespaces: args.tenants.map((t) => t.namespace ?? dnsName(t.app)),
                uid: REDIS_UID,
                protect: args.protect ?? false,
            },
            this,
        );
        this.host = running.host;
        this.port = running.port;

        this.tenants = Object.fromEntries(
            args.tenants.map((t) => [
                t.app,
                new RedisTenant(
                    tenantName(t.app, "redis"),
                    { app: t.app, db: t.db, namespace: t.namespace, password: passwords[t.app].result, host: this.host, port: this.port },
                    { parent: this },
                ),
            ]),
        );
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

/** Authenticates as the admin (password from REDISCLI_AUTH) and expects PONG. */
export function redisReadinessCommand(port = REDIS_PORT): string[] {
    return ["sh", "-c", `redis-cli -p ${port} --user ${REDIS_ADMIN_USER} ping | grep -q PONG`];
}

export interface RedisTenantArgs extends RedisTenantSpec {
    password: pulumi.Input<string>;
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
}

export interface RedisCredentials extends TenantCredentials {
    db: number;
    keyPrefix: string;
}

/** An app's credentials on a Redis server; its ACL user lives in the server's ACL file. */
export class RedisTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "redis";
    readonly credentials: pulumi.Output<RedisCredentials>;
    readonly env: Record<(typeof REDIS_ENV_KEYS)[number], pulumi.Output<string>>;

    constructor(name: string, args: RedisTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:redis:RedisTenant", name, {}, opts);
        this.app = args.app;
        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        const password = pulumi.secret(args.password);
        const url = credentialUrl("redis", args.app, password, host, port, String(args.db));
        this.credentials = pulumi.output({ host, port, db: args.db, user: args.app, password, url, keyPrefix: args.app });
        this.env = {
            REDIS_URL: url,
            REDIS_KEY_PREFIX: pulumi.output(args.app),
            REDIS_DB: pulumi.output(String(args.db)),
        };
        this.registerOutputs({ credentials: this.credentials });
    }
}
