// MySQL: a server, and per tenant a database, an account `'<app>'@'%'` with a generated password
// and a connection limit, and ALL privileges on that database only.
import * as mysql from "@pulumi/mysql";
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { MysqlConnectionLimit } from "./mysql-connection-limit";
import { tenancyDataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, assertNoProblems, startServer, tenantsOf, checkServerArgs, checkTenantArgs } from "../server";
import { defaultImage } from "../engine";
import { mysqlEngine } from "./engine";
import { connectionBudgetProblem } from "../connection-budget";
import { MONITOR_USER } from "../../infra/metrics";
import { MYSQL_MONITOR_CONNECTIONS, MYSQL_MONITOR_GRANTS, mysqlMetrics } from "./mysql-metrics";
import {
    MYSQL_DEFAULT_MAX_USER_CONNECTIONS,
    MysqlTuning,
    mysqlConnectionBudget,
    mysqlServerArgs,
    mysqlServerSettings,
    mysqlTuningProblems,
} from "./mysql-settings";

export const MYSQL_PORT = mysqlEngine.defaults.port;
export { MYSQL_ADMIN_USER } from "./mysql-settings";
import { MYSQL_ADMIN_USER } from "./mysql-settings";

export interface MysqlTenantSpec extends TenantSpecBase {
    /** `max_user_connections` of the app's account. @default 20 */
    maxConnections?: number;
}

/** `version` is the image tag, e.g. "8.4". */
export interface MysqlServerArgs extends ServerArgsBase<MysqlTenantSpec> {
    /** Overrides of the settings derived from `resources.limits.memory`. */
    tuning?: MysqlTuning;
}

/** How tenants reach the server as its admin, once it is ready. */
export interface MysqlAdmin {
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    password: pulumi.Input<string>;
    provider: mysql.Provider;
}

export class MysqlServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, MysqlTenant>;

    constructor(name: string, args: MysqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:mysql:MysqlServer", name, {}, opts);
        checkServerArgs(mysqlEngine, name, args);
        const tuning = args.tuning ?? {};
        assertNoProblems("MysqlServer", name, mysqlTuningProblems(args.resources.limits.memory, tuning));
        const settings = mysqlServerSettings(args.resources.limits.memory, tuning);
        const monitored = args.monitoring ?? false;
        assertNoProblems("MysqlServer", name, [connectionBudgetProblem(mysqlConnectionBudget(settings, args.tenants, monitored))]);
        const rootPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        const monitorPassword = monitored ? pulumi.secret(generatedPassword(`${name}-monitor-password`, { parent: this }).result) : undefined;

        const { running, admin: address, protect } = startServer(this, name, mysqlEngine, args, {
            defaultImage: defaultImage(mysqlEngine, args.version),
            args: mysqlServerArgs(settings),
            secretEnv: { MYSQL_ROOT_PASSWORD: rootPassword.result },
            // The socket directory and scratch space: the root filesystem is read-only.
            writablePaths: ["/var/run/mysqld", "/tmp"],
            // Over TCP: the image's init phase runs the server with networking off. `ping`
            // answers once the server accepts connections, without credentials.
            readinessCommand: ["mysqladmin", "ping", "-h", "127.0.0.1", "-P", String(MYSQL_PORT), "--silent"],
            livenessCommand: mysqlLivenessCommand(),
            metrics: monitorPassword && mysqlMetrics(MYSQL_PORT, monitorPassword),
        });
        this.host = running.host;
        this.port = running.port;

        const { host: adminHost, port: adminPort } = address;
        const provider = new mysql.Provider(
            `${name}-admin`,
            {
                endpoint: pulumi.interpolate`${adminHost}:${adminPort}`,
                username: MYSQL_ADMIN_USER,
                password: pulumi.secret(rootPassword.result),
                // Budgeted with the liveness probe's (MYSQL_ADMIN_RESERVED_CONNECTIONS).
                maxOpenConns: 1,
            },
            { parent: this, dependsOn: [running.ready] },
        );
        const admin: MysqlAdmin = { host: adminHost, port: adminPort, password: rootPassword.result, provider };

        if (monitorPassword) mysqlMonitor(name, admin, monitorPassword, this);

        this.tenants = tenantsOf("mysql", { name, component: this }, args.tenants, (tenant, t, opts) => new MysqlTenant(tenant, { ...t, admin, protect, host: this.host, port: this.port }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

/** The monitoring account (MYSQL_MONITOR_GRANTS), with its connection limit. */
function mysqlMonitor(server: string, admin: MysqlAdmin, password: pulumi.Output<string>, parent: pulumi.Resource): void {
    const provider = admin.provider;
    const user = new mysql.User(`${server}-monitor`, { user: MONITOR_USER, host: "%", plaintextPassword: password }, { parent, provider });
    for (const grant of MYSQL_MONITOR_GRANTS) {
        const suffix = grant.database === "*" ? "global" : grant.database.replace(/_/g, "-");
        new mysql.Grant(
            `${server}-monitor-${suffix}`,
            { user: user.user, host: user.host, database: grant.database, table: "*", privileges: grant.privileges },
            { parent, provider },
        );
    }
    new MysqlConnectionLimit(
        `${server}-monitor-connection-limit`,
        { host: admin.host, port: admin.port, adminUser: MYSQL_ADMIN_USER, adminPassword: pulumi.secret(admin.password), user: user.user, maxUserConnections: MYSQL_MONITOR_CONNECTIONS },
        { parent, dependsOn: [user] },
    );
}

/**
 * Runs `SELECT 1` as root over TCP: fails when the server accepts connections but cannot run a
 * query. The password goes through an option file on stdin, never on the command line.
 */
export function mysqlLivenessCommand(port = MYSQL_PORT): string[] {
    return [
        "sh",
        "-c",
        `printf '[client]\npassword=%s\n' "$MYSQL_ROOT_PASSWORD" | mysql --defaults-extra-file=/dev/stdin -h 127.0.0.1 -P ${port} -u ${MYSQL_ADMIN_USER} --connect-timeout=3 -N -B -e 'SELECT 1' | grep -qx 1`,
    ];
}

export interface MysqlCredentials extends PasswordCredentials {
    database: string;
    url: string;
}

export interface MysqlTenantArgs extends MysqlTenantSpec {
    /** Where apps reach the server. */
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    admin: MysqlAdmin;
    /** Pulumi `protect` on the database (ignored when decommissioned). @default false */
    protect?: boolean;
}

/**
 * In a database-level GRANT, `_` and `%` are wildcards: `GRANT ... ON digi_core.*` would also
 * cover a database `digiXcore`. Escaping them confines the grant to exactly this database.
 */
export function grantDatabasePattern(database: string): string {
    return database.replace(/[_%]/g, (c) => `\\${c}`);
}

export class MysqlTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "mysql";
    readonly credentials: pulumi.Output<MysqlCredentials>;
    readonly loginPassword: pulumi.Output<string>;

    constructor(name: string, args: MysqlTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:mysql:MysqlTenant", name, {}, opts);
        checkTenantArgs(mysqlEngine, name, args);
        this.app = args.app;
        const provider = args.admin.provider;
        const password = pulumi.secret(generatedPassword(`${name}-password`, { parent: this }).result);
        this.loginPassword = password;

        // Only the database holds data; the account is dropped with its app, which revokes access.
        const database = new mysql.Database(
            `${name}-database`,
            { name: args.app },
            { parent: this, provider, ...tenancyDataOptions(args) },
        );
        const user = new mysql.User(`${name}-user`, { user: args.app, host: "%", plaintextPassword: password }, { parent: this, provider });
        new mysql.Grant(
            `${name}-grant`,
            { user: user.user, host: user.host, database: database.name.apply(grantDatabasePattern), privileges: ["ALL PRIVILEGES"] },
            { parent: this, provider },
        );
        new MysqlConnectionLimit(
            `${name}-connection-limit`,
            {
                host: args.admin.host,
                port: args.admin.port,
                adminUser: MYSQL_ADMIN_USER,
                adminPassword: pulumi.secret(args.admin.password),
                user: user.user,
                maxUserConnections: args.maxConnections ?? MYSQL_DEFAULT_MAX_USER_CONNECTIONS,
                // A retired tenancy (the app moved away) keeps its data; its account is locked once
                // the copy succeeded. Any other is unlocked, so a move given up unlocks it again.
                locked: args.retiredAfter === undefined ? false : pulumi.output(args.retiredAfter).apply(() => true),
            },
            { parent: this, dependsOn: [user] },
        );

        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        const url = credentialUrl("mysql", user.user, password, host, port, database.name);
        this.credentials = pulumi.output({ host, port, database: database.name, user: user.user, password, url });
        this.registerOutputs({ credentials: this.credentials });
    }
}
