// PostgreSQL: a server, and per tenant a login role with a connection limit and a database owned
// by that role, with CONNECT and TEMP revoked from PUBLIC so no other tenant can even connect.
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { tenantName } from "../../infra/naming";
import { Tenant, PasswordCredentials, credentialUrl } from "../credentials";
import { assertServerName, dataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, adminAddress, clientNamespaces } from "../server";
import { connectionBudgetProblem } from "../connection-budget";
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

export const POSTGRES_PORT = 5432;
export const POSTGRES_ADMIN_USER = "postgres";
/** The official images run as this uid (Debian variants). */
const POSTGRES_UID = 999;

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

/** The major version from an image tag such as "18", "17.6" or "16-alpine". */
export function postgresMajor(version: string): number | undefined {
    const match = /^(\d+)/.exec(version);
    return match ? Number(match[1]) : undefined;
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
        assertServerName(name);
        const major = postgresMajor(args.version);
        if (major === undefined) {
            throw new Error(`PostgresqlServer ${name}: version ${JSON.stringify(args.version)} does not start with a major version`);
        }
        const protect = args.protect ?? false;
        const tuning = args.tuning ?? {};
        const tuningProblems = postgresqlTuningProblems(args.resources.limits.memory, args.storageGi, tuning);
        if (tuningProblems.length > 0) throw new Error(`PostgresqlServer ${name}: ${tuningProblems.join("; ")}`);
        const settings = postgresqlServerSettings(args.resources.limits.memory, args.storageGi, tuning);
        const budget = connectionBudgetProblem(name, postgresqlConnectionBudget(settings, args.tenants));
        if (budget !== undefined) throw new Error(`PostgresqlServer ${budget}`);

        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        // PostgreSQL 18+ images keep data under /var/lib/postgresql/<major>/docker; older ones
        // under /var/lib/postgresql/data, where a subdirectory avoids the volume's lost+found.
        const layout =
            major >= 18
                ? { mountPath: "/var/lib/postgresql", env: {} as Record<string, string> }
                : { mountPath: "/var/lib/postgresql/data", env: { PGDATA: "/var/lib/postgresql/data/pgdata" } };

        const running = args.runtime.run(
            {
                engine: "postgresql",
                name,
                image: args.image ?? `postgres:${args.version}`,
                port: POSTGRES_PORT,
                hostPort: args.hostPort,
                args: postgresqlServerArgs(settings),
                env: { POSTGRES_USER: POSTGRES_ADMIN_USER, ...layout.env },
                secretEnv: { POSTGRES_PASSWORD: adminPassword.result },
                data: { mountPath: layout.mountPath, storageGi: args.storageGi },
                resources: args.resources,
                // Over TCP: during the image's init phase the server listens on its socket only.
                readinessCommand: ["pg_isready", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", POSTGRES_ADMIN_USER, "-d", "postgres"],
                livenessCommand: postgresqlLivenessCommand(),
                // The socket and lock directory, and scratch space: the root filesystem is read-only.
                writablePaths: ["/var/run/postgresql", "/tmp"],
                clientNamespaces: clientNamespaces(args.tenants),
                uid: POSTGRES_UID,
                protect,
            },
            this,
        );
        this.host = running.host;
        this.port = running.port;

        this.provider = new postgresql.Provider(
            `${name}-admin`,
            {
                ...adminAddress(name, args.adminEndpoint, running),
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

        this.tenants = Object.fromEntries(
            args.tenants.map((t) => [
                t.app,
                new PostgresqlTenant(tenantName(t.app, "postgresql"), { server: this, protect, ...t }, { parent: this }),
            ]),
        );
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

    constructor(name: string, args: PostgresqlTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:postgresql:PostgresqlTenant", name, {}, opts);
        this.app = args.app;
        const provider = args.server.provider;
        // The role owns the database (and through it the app's tables), so both are data.
        const data = { provider, ...dataOptions(args.decommissioned ?? false, args.protect ?? false) };

        const password = generatedPassword(`${name}-password`, { parent: this });
        const role = new postgresql.Role(
            `${name}-role`,
            {
                name: args.app,
                login: true,
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
        const url = credentialUrl("postgresql", role.name, secretPassword, host, port, database.name);
        this.credentials = pulumi.output({ host, port, database: database.name, user: role.name, password: secretPassword, url });
        this.registerOutputs({ credentials: this.credentials });
    }
}
