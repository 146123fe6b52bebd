// MongoDB: a server with auth on, and per tenant a user with readWrite on its own database only.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { MongoDatabase, MongoUser } from "./mongodb-admin";
import { tenancyDataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, assertNoProblems, startServer, tenantsOf, checkServerArgs, checkTenantArgs, loginDisabledAfter } from "../server";
import { defaultImage } from "../engine";
import { mongodbEngine } from "./engine";
import { MONITOR_USER } from "../../infra/metrics";
import { MONGODB_MONITOR_ROLES, mongodbMetrics } from "./mongodb-metrics";
import { MongodbTuning, mongodbServerArgs, mongodbServerSettings, mongodbTuningProblems } from "./mongodb-settings";

export const MONGODB_PORT = mongodbEngine.defaults.port;
export { MONGODB_ADMIN_USER } from "./mongodb-settings";
import { MONGODB_ADMIN_USER } from "./mongodb-settings";

export type MongodbTenantSpec = TenantSpecBase;

/** `version` is the image tag, e.g. "8.0". */
export interface MongodbServerArgs extends ServerArgsBase<MongodbTenantSpec> {
    /** Overrides of the settings derived from `resources.limits.memory`. */
    tuning?: MongodbTuning;
}

export interface MongodbCredentials extends PasswordCredentials {
    url: string;
    database: string;
}

export class MongodbServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, MongodbTenant>;

    constructor(name: string, args: MongodbServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:mongodb:MongodbServer", name, {}, opts);
        checkServerArgs(mongodbEngine, name, args);
        const tuning = args.tuning ?? {};
        assertNoProblems("MongodbServer", name, mongodbTuningProblems(args.resources.limits.memory, tuning));
        const settings = mongodbServerSettings(args.resources.limits.memory, tuning);
        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        const monitorPassword = args.monitoring ? pulumi.secret(generatedPassword(`${name}-monitor-password`, { parent: this }).result) : undefined;
        const { running, admin: address, protect } = startServer(this, name, mongodbEngine, args, {
            defaultImage: defaultImage(mongodbEngine, args.version),
            args: mongodbServerArgs(settings),
            // Auth is on: the image creates this root user on first start.
            env: { MONGO_INITDB_ROOT_USERNAME: MONGODB_ADMIN_USER },
            secretEnv: { MONGO_INITDB_ROOT_PASSWORD: adminPassword.result },
            writablePaths: ["/tmp", "/data/configdb"],
            // The image's init phase binds 127.0.0.1 only: probing the container's own address
            // keeps the server unready until the real start.
            readinessCommand: ["sh", "-c", `mongosh --quiet --host "$(hostname -i)" --port ${MONGODB_PORT} --eval "db.adminCommand({ ping: 1 }).ok" | grep -q 1`],
            metrics: monitorPassword && mongodbMetrics(MONGODB_PORT, monitorPassword),
        });
        this.host = running.host;
        this.port = running.port;
        const admin = { ...address, password: pulumi.secret(adminPassword.result), ready: running.ready };
        if (monitorPassword) {
            new MongoUser(
                `${name}-monitor`,
                { host: admin.host, port: admin.port, adminUser: MONGODB_ADMIN_USER, adminPassword: admin.password, user: MONITOR_USER, database: "admin", password: monitorPassword, roles: MONGODB_MONITOR_ROLES },
                { parent: this, dependsOn: [running.ready] },
            );
        }

        this.tenants = tenantsOf("mongodb", { name, component: this }, args.tenants, (tenant, t, opts) => new MongodbTenant(tenant, { ...t, admin, protect, host: this.host, port: this.port }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

export interface MongodbTenantArgs extends MongodbTenantSpec {
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    admin: { host: pulumi.Input<string>; port: pulumi.Input<number>; password: pulumi.Input<string>; ready: pulumi.Resource };
    protect?: boolean;
}

export class MongodbTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "mongodb";
    readonly credentials: pulumi.Output<MongodbCredentials>;

    constructor(name: string, args: MongodbTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:mongodb:MongodbTenant", name, {}, opts);
        checkTenantArgs(mongodbEngine, name, args);
        this.app = args.app;
        const connection = { host: args.admin.host, port: args.admin.port, adminUser: MONGODB_ADMIN_USER, adminPassword: args.admin.password };
        const database = new MongoDatabase(
            `${name}-database`,
            { ...connection, database: args.app },
            { parent: this, dependsOn: [args.admin.ready], ...tenancyDataOptions(args) },
        );
        const password = pulumi.secret(generatedPassword(`${name}-password`, { parent: this }).result);
        const user = new MongoUser(
            `${name}-user`,
            {
                ...connection,
                user: args.app,
                database: args.app,
                password,
                // A retired tenancy (the app moved away) keeps its data; its user loses every role
                // once the copy succeeded. Other tenants' inputs do not name `enabled` at all.
                ...(args.retiredAfter !== undefined && { enabled: loginDisabledAfter(args.retiredAfter) }),
            },
            { parent: this, dependsOn: [database] },
        );

        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        // The user is defined in the app's own database: authSource is that database.
        const url = credentialUrl("mongodb", user.user, password, host, port, `${args.app}?authSource=${args.app}`);
        this.credentials = pulumi.output({ host, port, database: args.app, user: user.user, password, url });
        this.registerOutputs({ credentials: this.credentials });
    }
}
