// PostgreSQL: a server, and per tenant a login role with a connection limit and a database owned
// by that role, with CONNECT and TEMP revoked from PUBLIC so no other tenant can even connect.
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { tenancyDataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, assertNoProblems, startServer, tenantsOf, checkServerArgs, checkTenantArgs, loginDisabledAfter } from "../server";
import { defaultImage } from "../engine";
import { postgresMajor, postgresqlEngine, postgresqlVersionProblem } from "./engine";
import { connectionBudgetProblem } from "../connection-budget";
import { MONITOR_USER } from "../../infra/metrics";
import { POSTGRES_MONITOR_CONNECTIONS, POSTGRES_MONITOR_ROLES, postgresqlMetrics } from "./postgresql-metrics";
import {
    POSTGRES_DEFAULT_CONNECTION_LIMIT,
    POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    POSTGRES_PROVIDER_MAX_CONNECTIONS,
    PostgresqlTuning,
    postgresqlConnectionBudget,
    postgresqlServerArgs,
    postgresqlServerSettings,
    postgresqlTuningProblems,
} from "./postgresql-settings";

export const POSTGRES_PORT = postgresqlEngine.defaults.port;
export { POSTGRES_ADMIN_USER } from "./postgresql-settings";
import { POSTGRES_ADMIN_USER } from "./postgresql-settings";

export interface PostgresqlTenantSpec extends TenantSpecBase {
    /** @default 20 */
    connectionLimit?: number;
    /** The role's default statement_timeout (0: none); the app may change it in its session. @default 300 */
    statementTimeoutSeconds?: number;
    /** The role's default idle_in_transaction_session_timeout (at least 1). @default 60 */
    idleInTransactionTimeoutSeconds?: number;
}

/** `version` is the image tag, e.g. "18" or "17.6"; its major version decides the data path. */
export interface PostgresqlServerArgs extends ServerArgsBase<PostgresqlTenantSpec> {
    /** Overrides of the settings derived from `resources.limits.memory` and `storageGi`. */
    tuning?: PostgresqlTuning;
}

export class PostgresqlServer extends pulumi.ComponentResource {
    /** Where apps reach the server. */
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    /** Connects as the admin through the admin endpoint, once the server is ready. */
    readonly provider: postgresql.Provider;
    readonly tenants: Record<string, PostgresqlTenant>;

    constructor(name: string, args: PostgresqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:postgresql:PostgresqlServer", name, {}, opts);
        checkServerArgs(postgresqlEngine, name, args);
        assertNoProblems("PostgresqlServer", name, [postgresqlVersionProblem(args.version)]);
        const major = postgresMajor(args.version)!;
        const tuning = args.tuning ?? {};
        assertNoProblems("PostgresqlServer", name, postgresqlTuningProblems(args.resources.limits.memory, args.storageGi, tuning));
        const settings = postgresqlServerSettings(args.resources.limits.memory, args.storageGi, tuning);
        const monitored = args.monitoring ?? false;
        assertNoProblems("PostgresqlServer", name, [connectionBudgetProblem(postgresqlConnectionBudget(settings, args.tenants, monitored))]);

        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        const monitorPassword = monitored ? generatedPassword(`${name}-monitor-password`, { parent: this }) : undefined;
        // PostgreSQL 18+ images keep data under /var/lib/postgresql/<major>/docker; older ones
        // under /var/lib/postgresql/data, where a subdirectory avoids the volume's lost+found.
        const layout =
            major >= 18
                ? { mountPath: "/var/lib/postgresql", env: {} as Record<string, string> }
                : { mountPath: postgresqlEngine.defaults.dataPath, env: { PGDATA: `${postgresqlEngine.defaults.dataPath}/pgdata` } };

        const { running, admin, protect } = startServer(this, name, postgresqlEngine, args, {
            defaultImage: defaultImage(postgresqlEngine, args.version),
            dataPath: layout.mountPath,
            args: postgresqlServerArgs(settings),
            env: { POSTGRES_USER: POSTGRES_ADMIN_USER, ...layout.env },
            secretEnv: { POSTGRES_PASSWORD: adminPassword.result },
            // Over TCP: during the image's init phase the server listens on its socket only.
            readinessCommand: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", POSTGRES_ADMIN_USER, "-d", "postgres"],
            livenessCommand: postgresqlLivenessCommand(),
            // The socket and lock directory, and scratch space: the root filesystem is read-only.
            writablePaths: ["/var/run/postgresql", "/tmp"],
            metrics: monitorPassword && postgresqlMetrics(POSTGRES_PORT, monitorPassword.result),
        });
        this.host = running.host;
        this.port = running.port;

        this.provider = new postgresql.Provider(
            `${name}-admin`,
            {
                ...admin,
                username: POSTGRES_ADMIN_USER,
                password: pulumi.secret(adminPassword.result),
                database: "postgres",
                sslmode: "disable",
                superuser: true,
                // Budgeted: what the admin holds counts against the tenants' share (postgresqlConnectionBudget).
                maxConnections: POSTGRES_PROVIDER_MAX_CONNECTIONS,
                connectTimeout: 30,
            },
            { parent: this, dependsOn: [running.ready] },
        );

        if (monitorPassword) {
            new postgresql.Role(
                `${name}-monitor`,
                {
                    name: MONITOR_USER,
                    login: true,
                    password: pulumi.secret(monitorPassword.result),
                    roles: POSTGRES_MONITOR_ROLES,
                    connectionLimit: POSTGRES_MONITOR_CONNECTIONS,
                },
                { parent: this, provider: this.provider },
            );
        }

        this.tenants = tenantsOf("postgresql", { name, component: this }, args.tenants, (tenant, t, opts) => new PostgresqlTenant(tenant, { server: this, protect, ...t }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

/**
 * Runs `SELECT 1` as the admin over TCP (password from the server's own POSTGRES_PASSWORD): fails
 * when the server accepts connections but cannot run a query. The admin has reserved slots, so
 * tenants using all theirs do not fail it.
 */
export function postgresqlLivenessCommand(port = POSTGRES_PORT): string[] {
    return [
        "sh",
        "-c",
        `PGPASSWORD="$POSTGRES_PASSWORD" PGCONNECT_TIMEOUT=3 psql -w -X -q -h 127.0.0.1 -p ${port} -U ${POSTGRES_ADMIN_USER} -d postgres -tAc 'SELECT 1' | grep -qx 1`,
    ];
}

export interface PostgresqlTenantArgs extends PostgresqlTenantSpec {
    /** The server, or anything with its address and an admin provider. */
    server: { host: pulumi.Input<string>; port: pulumi.Input<number>; provider: postgresql.Provider };
    /** Pulumi `protect` on the database and role (ignored when decommissioned). @default false */
    protect?: boolean;
}

export interface PostgresqlCredentials extends PasswordCredentials {
    database: string;
    url: string;
}

export class PostgresqlTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "postgresql";
    readonly credentials: pulumi.Output<PostgresqlCredentials>;
    readonly loginPassword: pulumi.Output<string>;

    constructor(name: string, args: PostgresqlTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:postgresql:PostgresqlTenant", name, {}, opts);
        checkTenantArgs(postgresqlEngine, name, args);
        this.app = args.app;
        const provider = args.server.provider;
        // The role owns the database (and through it the app's tables), so both are data.
        const data = { provider, ...tenancyDataOptions(args) };

        const password = generatedPassword(`${name}-password`, { parent: this });
        const role = new postgresql.Role(
            `${name}-role`,
            {
                name: args.app,
                // A retired tenancy (the app moved away) keeps its role, which owns the data, without its login.
                login: loginDisabledAfter(args.retiredAfter) ?? true,
                password: pulumi.secret(password.result),
                connectionLimit: args.connectionLimit ?? POSTGRES_DEFAULT_CONNECTION_LIMIT,
                // Milliseconds; defaults of the role's sessions (postgresqlRoleStatements).
                statementTimeout: (args.statementTimeoutSeconds ?? POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS) * 1000,
                idleInTransactionSessionTimeout: (args.idleInTransactionTimeoutSeconds ?? POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS) * 1000,
            },
            { parent: this, ...data },
        );
        // Owning the database is what lets the app create tables (PostgreSQL 15+ no longer
        // grants CREATE on schema public to PUBLIC).
        const database = new postgresql.Database(`${name}-database`, { name: args.app, owner: role.name }, { parent: this, ...data });
        new postgresql.Grant(
            `${name}-revoke-public`,
            { database: database.name, role: "public", objectType: "database", privileges: [] },
            { parent: this, provider },
        );

        const host = pulumi.output(args.server.host);
        const port = pulumi.output(args.server.port);
        const secretPassword = pulumi.secret(password.result);
        this.loginPassword = secretPassword;
        const url = credentialUrl("postgresql", role.name, secretPassword, host, port, database.name);
        this.credentials = pulumi.output({ host, port, database: database.name, user: role.name, password: secretPassword, url });
        this.registerOutputs({ credentials: this.credentials });
    }
}
