// MySQL as the program knows it: defaults, names it keeps, its config keys, what an app receives,
// and the rules config and components share. Pure: the components load on demand.
import { z } from "zod";
import { connections, memory } from "../config-keys";
import type { EngineBackup } from "../backup";
import { EngineDescriptor, pick, serverArgsOf, tenantSpecsOf } from "../engine";
import type { MysqlCredentials } from "./mysql";
import { MYSQL_ADMIN_USER, MYSQL_DEFAULT_MAX_USER_CONNECTIONS, MysqlTuning, describeMysqlSettings, mysqlConnectionBudget, mysqlServerSettings, mysqlTuningProblems } from "./mysql-settings";

/** MySQL account names allow at most 32 characters. */
export const MYSQL_MAX_USER_NAME_LENGTH = 32;

const engineKeys = {
    maxConnections: connections.optional(),
    innodbBufferPoolSize: memory.optional(),
};
const appKeys = {
    maxConnections: z.number().int().min(1).optional(),
};
type EngineRaw = { [K in keyof typeof engineKeys]?: z.infer<(typeof engineKeys)[K]> };
type AppRaw = { [K in keyof typeof appKeys]?: z.infer<(typeof appKeys)[K]> };

export interface MysqlOptions {
    tuning: MysqlTuning;
}
export interface MysqlTenantOptions {
    maxConnections: number;
}

/**
 * Backup of one app's database with the server's own tools (MySQL's mysqldump and mysql; MariaDB
 * ships them under the same names), logged in as the app's own account at MYSQL_HOST:MYSQL_PORT
 * with MYSQL_PASSWORD, given through an option file so it is on no command line. Never as root:
 * the mysql client reads a dump as its own command language, and a routine body in a multi-byte
 * character set can end a string where the server sees none and smuggle statements in. As the
 * app they reach only its database; `--binary-mode` reads no client commands besides. The dump
 * has no `CREATE DATABASE`, so it restores under any name.
 */
export const MYSQL_BACKUP: EngineBackup<MysqlOptions, MysqlTenantOptions> = {
    env: (server, tenant) => ({ MYSQL_HOST: server.host, MYSQL_PORT: String(server.port), MYSQL_USER: tenant.app }),
    secretEnv: {},
    tenantPasswordEnv: "MYSQL_PASSWORD",
    commands: {
    extension: "sql",
    prelude: [
        'MYCNF=$(mktemp)',
        'cleanup="$cleanup $MYCNF"',
        `printf '[client]\\nuser=%s\\npassword=%s\\nhost=%s\\nport=%s\\n' "$MYSQL_USER" "$MYSQL_PASSWORD" "$MYSQL_HOST" "$MYSQL_PORT" > "$MYCNF"`,
        'sql() { mysql --defaults-extra-file="$MYCNF" -N -B "$@"; }',
    ].join("\n"),
    dump: 'mysqldump --defaults-extra-file="$MYCNF" --single-transaction --routines --triggers --events --no-tablespaces --result-file="$OUT" "$APP"',
    // Tables and views, routines and events: app names are [a-z0-9_], safe in a string literal.
    isEmpty:
        `test "$(sql -e "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$APP') + ` +
        `(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '$APP') + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '$APP')")" = 0`,
    // A new, empty database of the same character set; grants name the database and stay.
    clear: [
        `charset=$(sql -e "SELECT CONCAT('CHARACTER SET ', DEFAULT_CHARACTER_SET_NAME, ' COLLATE ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$APP'")`,
        'sql -e "DROP DATABASE \\`$APP\\`; CREATE DATABASE \\`$APP\\` $charset"',
    ].join("\n"),
    restore: 'sql --binary-mode "$APP" < "$IN"',
    // Each base table (and MariaDB's system-versioned ones: their current rows) with its exact
    // COUNT(*), in one statement built and run on the server: the client never parses a table name.
    count: [
        `sql "$APP" <<'SQL'`,
        "SET SESSION group_concat_max_len = 4294967295;",
        "SET @counts = (SELECT COALESCE(GROUP_CONCAT(CONCAT('SELECT CONCAT(', QUOTE(TABLE_NAME), ', '' '', COUNT(*)) FROM `', REPLACE(TABLE_NAME, '`', '``'), '`') SEPARATOR ' UNION ALL '), 'SELECT 1 FROM DUAL WHERE FALSE')",
        "  FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED'));",
        "PREPARE counts FROM @counts;",
        "EXECUTE counts;",
        "DEALLOCATE PREPARE counts;",
        "SQL",
    ].join("\n"),
    // The app cannot take its own rights away (ALL on its database has no GRANT OPTION): the
    // admin keeps it to reading and dumping its data (SELECT, SHOW VIEW, EXECUTE; TRIGGER and EVENT
    // so the dump keeps its triggers and events), with fixed statements naming only the app (a
    // checked [a-z0-9_] name), then ends its connections, which keep their rights until their
    // next USE (their open transactions roll back). Writes then fail with `INSERT command denied
    // to user ...`.
    freezeAsAdmin: true,
    freeze: [
        'case "$APP" in "" | *[!a-z0-9_]*) echo "freeze: $APP is not an app name" >&2; exit 1;; esac',
        "ADMINCNF=$(mktemp)",
        'cleanup="$cleanup $ADMINCNF"',
        `printf '[client]\\nuser=%s\\npassword=%s\\nhost=%s\\nport=%s\\n' ${MYSQL_ADMIN_USER} "$MYSQL_ADMIN_PASSWORD" "$MYSQL_HOST" "$MYSQL_PORT" > "$ADMINCNF"`,
        // Nothing after the freeze runs with the admin's password.
        "unset MYSQL_ADMIN_PASSWORD",
        'admin() { mysql --defaults-extra-file="$ADMINCNF" -N -B "$@"; }',
        // The tenant's grant names its database as a pattern, `_` escaped (grantDatabasePattern).
        "grant=$(printf '%s' \"$APP\" | sed 's/_/\\\\_/g')",
        'admin -e "REVOKE ALL PRIVILEGES ON \\`$grant\\`.* FROM \'$APP\'@\'%\'; GRANT SELECT, SHOW VIEW, EXECUTE, TRIGGER, EVENT ON \\`$grant\\`.* TO \'$APP\'@\'%\'"',
        'ids=$(admin -e "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = \'$APP\'")',
        "for id in $ids; do",
        '  case "$id" in *[!0-9]*) echo "freeze: $id is not a connection id" >&2; exit 1;; esac',
        // A connection may have ended since.
        '  admin -e "KILL CONNECTION $id" 2>/dev/null || true',
        "done",
        'rm -f "$ADMINCNF"',
    ].join("\n"),
    },
    freezeSecretEnv: { MYSQL_ADMIN_PASSWORD: "MYSQL_ROOT_PASSWORD" },
};

const ENV_KEYS = ["MYSQL_URL", "MYSQL_HOST", "MYSQL_PORT", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./mysql") as typeof import("./mysql");
const loadUsage = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./mysql-usage") as typeof import("./mysql-usage");
const loadAudit = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./mysql-audit") as typeof import("./mysql-audit");

export const mysqlEngine: EngineDescriptor<"mysql", EngineRaw, AppRaw, MysqlOptions, MysqlTenantOptions, MysqlCredentials> = {
    name: "mysql",
    title: "MySQL",
    // MySQL 8.4 (LTS) needs more than 512Mi with its default buffers and performance schema.
    defaults: {
        repository: "mysql",
        version: "8.4",
        storageGi: 2,
        resources: { requests: { memory: "512Mi", cpu: "250m" }, limits: { memory: "1Gi", cpu: "500m" } },
        port: 3306,
        // The official image's mysql user.
        uid: 999,
        dataPath: "/var/lib/mysql",
    },
    engineKeys,
    appKeys,
    reserved: { names: ["mysql", "sys", "information_schema", "performance_schema", "root"], prefixes: [] },
    resolveSettings(raw, base, path) {
        const tuning = pick(raw, ["maxConnections", "innodbBufferPoolSize"]);
        return { options: { tuning }, problems: mysqlTuningProblems(base.resources.limits.memory, tuning).map((p) => `${path}.${p}`) };
    },
    nameProblem: (app) =>
        app.length > MYSQL_MAX_USER_NAME_LENGTH ? `the app name has ${app.length} characters; MySQL user names allow at most ${MYSQL_MAX_USER_NAME_LENGTH}` : undefined,
    resolveTenant: (raw) => ({ options: { maxConnections: raw.maxConnections ?? MYSQL_DEFAULT_MAX_USER_CONNECTIONS }, problems: [] }),
    figures(server) {
        const settings = mysqlServerSettings(server.settings.resources.limits.memory, server.settings.options.tuning);
        const tenants = server.tenants.map((t) => ({ app: t.app, maxConnections: t.options.maxConnections }));
        return { settings: describeMysqlSettings(settings), connections: mysqlConnectionBudget(settings, tenants, server.monitored) };
    },
    backup: MYSQL_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({
        MYSQL_URL: c.url,
        MYSQL_HOST: c.host,
        MYSQL_PORT: String(c.port),
        MYSQL_DATABASE: c.database,
        MYSQL_USER: c.user,
        MYSQL_PASSWORD: c.password,
    }),
    audit: () => loadAudit().mysqlAudit,
    metricsSource: () => "exporter",
    usage: () => loadUsage().mysqlUsage,
    createServer(plan, context) {
        const args = { ...serverArgsOf(plan, context), tuning: plan.settings.options.tuning, tenants: tenantSpecsOf(plan, context) };
        return new (load().MysqlServer)(plan.name, args, { parent: context.parent });
    },
};
