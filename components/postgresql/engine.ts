// PostgreSQL as the program knows it: defaults, names it keeps, its config keys, what an app
// receives, and the rules config and components share. Pure: the components load on demand.
import { z } from "zod";
import { connections, memory, seconds } from "../config-keys";
import type { EngineBackup } from "../backup";
import { EngineDescriptor, pick, serverArgsOf, tenantSpecsOf } from "../engine";
import type { PostgresqlCredentials } from "./postgresql";
import {
    POSTGRES_DEFAULT_CONNECTION_LIMIT,
    POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    PostgresqlTuning,
    describePostgresqlSettings,
    postgresqlConnectionBudget,
    postgresqlServerSettings,
    postgresqlTuningProblems,
} from "./postgresql-settings";

/** The major version from an image tag such as "18", "17.6" or "16-alpine". */
export function postgresMajor(version: string): number | undefined {
    const match = /^(\d+)/.exec(version);
    return match ? Number(match[1]) : undefined;
}

/** The tag decides where the image keeps its data, so it must start with a major version. */
export function postgresqlVersionProblem(version: string): string | undefined {
    return postgresMajor(version) === undefined
        ? `${JSON.stringify(version)} does not start with a PostgreSQL major version; expected a tag such as "18" or "17.6" (it decides where the image keeps its data)`
        : undefined;
}

const engineKeys = {
    maxConnections: connections.optional(),
    sharedBuffers: memory.optional(),
    workMem: memory.optional(),
    tempFileLimit: memory.optional(),
};
const appKeys = {
    connectionLimit: z.number().int().min(1).optional(),
    statementTimeoutSeconds: seconds.optional(),
    idleInTransactionTimeoutSeconds: seconds.min(1).optional(),
};
type EngineRaw = { [K in keyof typeof engineKeys]?: z.infer<(typeof engineKeys)[K]> };
type AppRaw = { [K in keyof typeof appKeys]?: z.infer<(typeof appKeys)[K]> };

export interface PostgresqlOptions {
    tuning: PostgresqlTuning;
}
export interface PostgresqlTenantOptions {
    connectionLimit: number;
    statementTimeoutSeconds: number;
    idleInTransactionTimeoutSeconds: number;
}

/**
 * Backup of one app's database with the server's own tools, logged in as the app's own role
 * (PGHOST, PGPORT, PGUSER, PGPASSWORD), never as the superuser: a restore runs the tenant's own
 * functions (a CHECK, a default), and under `SET ROLE` they could `RESET ROLE` back to the
 * superuser. The role owns its database and everything in it, so it can dump, empty and load it.
 * The dump is custom format without owners or grants; what a restore creates the app owns.
 */
export const POSTGRESQL_BACKUP: EngineBackup<PostgresqlOptions, PostgresqlTenantOptions> = {
    env: (server, tenant) => ({ PGHOST: server.host, PGPORT: String(server.port), PGUSER: tenant.app, PGDATABASE: tenant.app }),
    secretEnv: {},
    tenantPasswordEnv: "PGPASSWORD",
    commands: {
    extension: "pgdump",
    // Only the system catalogs on the search path, whatever the database's own setting: the checks
    // below name no object a tenant could shadow.
    prelude: "export PGOPTIONS='-c search_path=pg_catalog,pg_temp'",
    // A lock held on the app's own table fails its backup after 5 minutes instead of holding the Job.
    dump: 'pg_dump --format=custom --no-owner --no-privileges --lock-wait-timeout=5min --dbname="$APP" --file="$OUT"',
    // Empty: the role owns nothing in its database (what DROP OWNED BY in `clear` would drop):
    // tables, sequences, functions, types, schemas, large objects alike, from the catalog of
    // owners; the database itself is a shared object (dbid 0), not counted.
    // SESSION_USER: the login, whatever role a session sets. And what is owned by
    // pg_database_owner, the role the database's owner is a member of: PostgreSQL records no
    // owner rows for it (a built-in role), and the app can hand its objects to it.
    isEmpty: [
        'test "$(psql -X -q -tA -v ON_ERROR_STOP=1 --dbname="$APP" <<\'SQL\'',
        "WITH o AS (SELECT oid AS id FROM pg_catalog.pg_roles WHERE rolname = 'pg_database_owner')",
        "SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_shdepend d WHERE d.deptype = 'o'",
        "    AND d.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",
        "    AND d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass AND d.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = SESSION_USER))",
        "  + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c, o WHERE c.relowner = o.id)",
        "  + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t, o WHERE t.typowner = o.id)",
        "  + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p, o WHERE p.proowner = o.id)",
        "  + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace n, o WHERE n.nspowner = o.id AND n.nspname <> 'public')",
        "  + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_largeobject_metadata l, o WHERE l.lomowner = o.id)",
        "SQL",
        ')" = 0',
    ].join("\n"),
    // Everything the app's role owns in its database; the database and its grants stay.
    clear: 'psql -X -q -v ON_ERROR_STOP=1 --dbname="$APP" -c "DROP OWNED BY \\"$APP\\" CASCADE"',
    // One transaction: a restore that fails or is stopped leaves nothing of itself behind.
    restore: 'pg_restore --single-transaction --exit-on-error --no-owner --no-privileges --dbname="$APP" "$IN"',
    // Every table of the app's (any schema but the system ones) with its rows, counted exactly in
    // one snapshot: ONLY counts each row in its own table (inheritance, partitions), and without
    // row-level security a policy fails the count rather than hide rows. Then its large objects.
    count: [
        `psql -X -q -tA -v ON_ERROR_STOP=1 --dbname="$APP" <<'SQL'`,
        "SET row_security = off;",
        "SET statement_timeout = 0;",
        "SET lock_timeout = '5min';",
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
        "SELECT pg_catalog.format('SELECT %L || '' '' || pg_catalog.count(*) FROM ONLY %I.%I', pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname, c.relname)",
        "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
        "  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' \\gexec",
        "SELECT 'large objects ' || n FROM (SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_largeobject_metadata) l WHERE n > 0;",
        "COMMIT;",
        "SQL",
    ].join("\n"),
    // As the app (an ordinary role may set its own defaults and end its own sessions): new sessions
    // start read-only, the role-in-database setting being the most specific; sessions begun before
    // end after a pause (one may have read the settings just before they changed), their open
    // transactions rolled back. Binds a well-behaved app only (a session may SET
    // default_transaction_read_only = off): such writes make the counts differ and fail the copy.
    // pg_terminate_backend's timeout needs PostgreSQL 14+.
    freeze: [
        `psql -X -q -v ON_ERROR_STOP=1 --dbname="$APP" <<'SQL'`,
        // A second run (a copy tried again) starts read-only itself.
        "SET default_transaction_read_only = off;",
        "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on;",
        "SELECT pg_catalog.format('ALTER ROLE CURRENT_USER IN DATABASE %I SET default_transaction_read_only = on', pg_catalog.current_database()) \\gexec",
        "DO $$ DECLARE alive bigint; BEGIN",
        "  PERFORM pg_catalog.pg_sleep(0.2);",
        "  SELECT pg_catalog.count(*) FILTER (WHERE NOT pg_catalog.pg_terminate_backend(pid, 10000)) INTO alive FROM pg_catalog.pg_stat_activity",
        "    WHERE usename = CURRENT_USER AND pid <> pg_catalog.pg_backend_pid() AND backend_start < pg_catalog.statement_timestamp();",
        "  IF alive > 0 THEN RAISE EXCEPTION 'freeze: % sessions of % did not end within 10 seconds', alive, CURRENT_USER; END IF;",
        "END $$;",
        "SQL",
    ].join("\n"),
    },
};

const ENV_KEYS = ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./postgresql") as typeof import("./postgresql");
const loadUsage = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./postgresql-usage") as typeof import("./postgresql-usage");
const loadAudit = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./postgresql-audit") as typeof import("./postgresql-audit");

export const postgresqlEngine: EngineDescriptor<"postgresql", EngineRaw, AppRaw, PostgresqlOptions, PostgresqlTenantOptions, PostgresqlCredentials> = {
    name: "postgresql",
    title: "PostgreSQL",
    defaults: {
        repository: "postgres",
        version: "18",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
        port: 5432,
        // The official images run as this uid (Debian variants).
        uid: 999,
        // Before 18; 18+ images keep it under /var/lib/postgresql/<major>/docker.
        dataPath: "/var/lib/postgresql/data",
    },
    engineKeys,
    appKeys,
    // The admin role and maintenance databases, `public`, and the reserved `pg_` prefix.
    reserved: { names: ["postgres", "template0", "template1", "public"], prefixes: ["pg_"] },
    resolveSettings(raw, base, path) {
        const tuning = pick(raw, ["maxConnections", "sharedBuffers", "workMem", "tempFileLimit"]);
        const problems = postgresqlTuningProblems(base.resources.limits.memory, base.storageGi, tuning).map((p) => `${path}.${p}`);
        const version = postgresqlVersionProblem(base.version);
        if (version !== undefined) problems.push(`${path}.version: ${version}`);
        return { options: { tuning }, problems };
    },
    resolveTenant(raw) {
        return {
            options: {
                connectionLimit: raw.connectionLimit ?? POSTGRES_DEFAULT_CONNECTION_LIMIT,
                statementTimeoutSeconds: raw.statementTimeoutSeconds ?? POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS,
                idleInTransactionTimeoutSeconds: raw.idleInTransactionTimeoutSeconds ?? POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
            },
            problems: [],
        };
    },
    figures(server) {
        const s = server.settings;
        const settings = postgresqlServerSettings(s.resources.limits.memory, s.storageGi, s.options.tuning);
        const tenants = server.tenants.map((t) => ({ app: t.app, connectionLimit: t.options.connectionLimit }));
        return { settings: describePostgresqlSettings(settings), connections: postgresqlConnectionBudget(settings, tenants, server.monitored) };
    },
    backup: POSTGRESQL_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({
        DATABASE_URL: c.url,
        PGHOST: c.host,
        PGPORT: String(c.port),
        PGDATABASE: c.database,
        PGUSER: c.user,
        PGPASSWORD: c.password,
    }),
    audit: () => loadAudit().postgresqlAudit,
    metricsSource: () => "exporter",
    usage: () => loadUsage().postgresqlUsage,
    // The freeze ends the role's sessions with pg_terminate_backend(pid, timeout), new in 14.
    moveProblem: (_raw, server) => ((postgresMajor(server.version) ?? 0) < 14 ? `a move needs PostgreSQL 14 or newer; this server runs ${server.version}` : undefined),
    createServer(plan, context) {
        const args = { ...serverArgsOf(plan, context), tuning: plan.settings.options.tuning, tenants: tenantSpecsOf(plan, context) };
        return new (load().PostgresqlServer)(plan.name, args, { parent: context.parent });
    },
};


