// MongoDB: a server with auth on, and per tenant a user with readWrite on its own database only.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { tenantName } from "../../infra/naming";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { MongoDatabase, MongoUser } from "./mongodb-admin";
import { assertServerName, dataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, adminAddress, clientNamespaces } from "../server";
import { MongodbTuning, mongodbServerArgs, mongodbServerSettings, mongodbTuningProblems } from "./mongodb-settings";

export const MONGODB_PORT = 27017;
export const MONGODB_ADMIN_USER = "admin";
/** The official image's mongodb user. */
const MONGODB_UID = 999;

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
        assertServerName(name);
        const protect = args.protect ?? false;
        const tuningProblems = mongodbTuningProblems(args.resources.limits.memory, args.tuning ?? {});
        if (tuningProblems.length > 0) throw new Error(`MongodbServer ${name}: ${tuningProblems.join("; ")}`);
        const settings = mongodbServerSettings(args.resources.limits.memory, args.tuning);
        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        const running = args.runtime.run(
            {
                engine: "mongodb",
                name,
                image: args.image ?? `mongo:${args.version}`,
                port: MONGODB_PORT,
                hostPort: args.hostPort,
                args: mongodbServerArgs(settings),
                // Auth is on: the image creates this root user on first start.
                env: { MONGO_INITDB_ROOT_USERNAME: MONGODB_ADMIN_USER },
                secretEnv: { MONGO_INITDB_ROOT_PASSWORD: adminPassword.result },
                data: { mountPath: "/data/db", storageGi: args.storageGi },
                writablePaths: ["/tmp", "/data/configdb"],
                resources: args.resources,
                // The image's init phase binds 127.0.0.1 only: probing the container's own address
                // keeps the server unready until the real start.
                readinessCommand: ["sh", "-c", `mongosh --quiet --host "$(hostname -i)" --port ${MONGODB_PORT} --eval "db.adminCommand({ ping: 1 }).ok" | grep -q 1`],
                clientNamespaces: clientNamespaces(args.tenants),
                uid: MONGODB_UID,
                protect,
            },
            this,
        );
        this.host = running.host;
        this.port = running.port;
        const admin = {
            ...adminAddress(name, args.adminEndpoint, running),
            password: pulumi.secret(adminPassword.result),
            ready: running.ready,
        };
        this.tenants = Object.fromEntries(
            args.tenants.map((t) => [
                t.app,
                new MongodbTenant(tenantName(t.app, "mongodb"), { ...t, admin, protect, host: this.host, port: this.port }, { parent: this }),
            ]),
        );
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
        this.app = args.app;
        const connection = { host: args.admin.host, port: args.admin.port, adminUser: MONGODB_ADMIN_USER, adminPassword: args.admin.password };
        const database = new MongoDatabase(
            `${name}-database`,
            { ...connection, database: args.app },
            { parent: this, dependsOn: [args.admin.ready], ...dataOptions(args.decommissioned ?? false, args.protect ?? false) },
        );
        const password = pulumi.secret(generatedPassword(`${name}-password`, { parent: this }).result);
        const user = new MongoUser(`${name}-user`, { ...connection, user: args.app, database: args.app, password }, { parent: this, dependsOn: [database] });

        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        // The user is defined in the app's own database: authSource is that database.
        const url = credentialUrl("mongodb", user.user, password, host, port, `${args.app}?authSource=${args.app}`);
        this.credentials = pulumi.output({ host, port, database: args.app, user: user.user, password, url });
        this.registerOutputs({ credentials: this.credentials });
    }
}
