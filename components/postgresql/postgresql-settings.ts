// PostgreSQL server settings sized to the container, and the limits each tenant role gets (pure:
// no Pulumi). Memory: shared_buffers a quarter of the limit; work_mem such that every allowed
// connection sorting with the default at once still fits (a default, not a cap: hash nodes may
// use twice it, and PostgreSQL lets every role raise work_mem, statement_timeout and
// idle_in_transaction_session_timeout in its own session); max_connections from memory. A tenant
// cannot raise temp_file_limit (superuser-only).
import { KIB, MIB, formatBytes, parseMemoryBytes } from "../../infra/quantities";
import type { ConnectionBudget } from "../connection-budget";
import { POSTGRES_MONITOR_CONNECTIONS } from "./postgresql-metrics";

/** The superuser the official image creates; `pulumi up` and backups log in as it. */
export const POSTGRES_ADMIN_USER = "postgres";

/** Operator overrides (`engines.postgresql.*`). */
export interface PostgresqlTuning {
    /** @default one per 5 MiB of the memory limit, at least 20 */
    maxConnections?: number;
    /** Memory quantity. @default 25 % of the memory limit */
    sharedBuffers?: string;
    /** Memory quantity. @default (limit - shared_buffers) / 2 / max_connections */
    workMem?: string;
    /** Temporary files one session may write (memory quantity). @default a quarter of the volume */
    tempFileLimit?: string;
}

/** Per tenant role, `apps.<app>.postgresql.*`: defaults of the role's sessions. */
export interface PostgresqlRoleLimits {
    connectionLimit: number;
    /** 0: no limit (the role's setting is reset; no server-wide statement_timeout is set). */
    statementTimeoutSeconds: number;
    /** At least 1 (the provider would reset 0 to the server's 60 s). */
    idleInTransactionTimeoutSeconds: number;
}

export const POSTGRES_DEFAULT_CONNECTION_LIMIT = 20;
export const POSTGRES_DEFAULT_STATEMENT_TIMEOUT_SECONDS = 300;
export const POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60;
/**
 * PostgreSQL admits a non-superuser only while this many slots stay free, whoever holds the
 * others: the admin can still connect when everything else is taken.
 */
export const POSTGRES_SUPERUSER_RESERVED_CONNECTIONS = 3;
/**
 * Connections the admin itself holds at the most: `pulumi up` (the provider's maxConnections,
 * 2) and the liveness probe (1). They count against what tenants may hold, so they are budgeted.
 */
export const POSTGRES_PROVIDER_MAX_CONNECTIONS = 2;
export const POSTGRES_ADMIN_CONNECTIONS = POSTGRES_PROVIDER_MAX_CONNECTIONS + 1;
/** A connection that has not authenticated by then is closed. */
export const POSTGRES_AUTHENTICATION_TIMEOUT_SECONDS = 10;

export interface PostgresqlServerSettings {
    maxConnections: number;
    superuserReservedConnections: number;
    sharedBuffersBytes: number;
    effectiveCacheSizeBytes: number;
    workMemBytes: number;
    maintenanceWorkMemBytes: number;
    tempFileLimitBytes: number;
    authenticationTimeoutSeconds: number;
    idleInTransactionTimeoutSeconds: number;
}

export function postgresqlServerSettings(memoryLimit: string, storageGi: number, tuning: PostgresqlTuning = {}): PostgresqlServerSettings {
    const limit = parseMemoryBytes(memoryLimit);
    const maxConnections = tuning.maxConnections ?? defaultPostgresqlMaxConnections(memoryLimit);
    const sharedBuffers = tuning.sharedBuffers !== undefined ? parseMemoryBytes(tuning.sharedBuffers) : kbFloor(limit / 4);
    // Half of what shared_buffers leaves, spread over every connection: the other half is for each
    // backend's own memory (catalog caches, plans) and maintenance.
    const workMem = tuning.workMem !== undefined ? parseMemoryBytes(tuning.workMem) : Math.max(64 * KIB, kbFloor((limit - sharedBuffers) / 2 / maxConnections));
    return {
        maxConnections,
        superuserReservedConnections: POSTGRES_SUPERUSER_RESERVED_CONNECTIONS,
        sharedBuffersBytes: sharedBuffers,
        effectiveCacheSizeBytes: kbFloor(limit * 0.75),
        workMemBytes: workMem,
        maintenanceWorkMemBytes: Math.max(16 * MIB, kbFloor(limit / 16)),
        tempFileLimitBytes: tuning.tempFileLimit !== undefined ? parseMemoryBytes(tuning.tempFileLimit) : kbFloor((storageGi * 1024 * MIB) / 4),
        authenticationTimeoutSeconds: POSTGRES_AUTHENTICATION_TIMEOUT_SECONDS,
        idleInTransactionTimeoutSeconds: POSTGRES_DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    };
}

export function defaultPostgresqlMaxConnections(memoryLimit: string): number {
    return Math.max(20, Math.floor(parseMemoryBytes(memoryLimit) / MIB / 5));
}

/** Problems with the overrides, each naming its key (relative to `engines.postgresql`). */
export function postgresqlTuningProblems(memoryLimit: string, storageGi: number, tuning: PostgresqlTuning): string[] {
    const problems: string[] = [];
    const limit = parseMemoryBytes(memoryLimit);
    const s = postgresqlServerSettings(memoryLimit, storageGi, tuning);
    const admin = s.superuserReservedConnections + POSTGRES_ADMIN_CONNECTIONS;
    if (s.maxConnections <= admin) {
        problems.push(`maxConnections: ${s.maxConnections} leaves no connection for tenants; the admin keeps ${admin}`);
    }
    if (tuning.sharedBuffers !== undefined && s.sharedBuffersBytes < 128 * KIB) problems.push(`sharedBuffers: ${tuning.sharedBuffers} is below PostgreSQL's minimum of 128Ki`);
    if (tuning.workMem !== undefined && s.workMemBytes < 64 * KIB) problems.push(`workMem: ${tuning.workMem} is below PostgreSQL's minimum of 64Ki`);
    if (tuning.tempFileLimit !== undefined && s.tempFileLimitBytes < KIB) problems.push(`tempFileLimit: ${tuning.tempFileLimit} is below 1Ki`);
    const committed = s.sharedBuffersBytes + s.maxConnections * s.workMemBytes;
    if (committed > limit) {
        problems.push(
            `shared_buffers ${formatBytes(s.sharedBuffersBytes)} + max_connections ${s.maxConnections} × work_mem ${formatBytes(s.workMemBytes)} = ` +
                `${formatBytes(committed)}, more than resources.limits.memory ${memoryLimit}; lower sharedBuffers, workMem or maxConnections, or raise the limit`,
        );
    }
    return problems;
}

/** What the server's tenants may hold, against what it allows. */
export function postgresqlConnectionBudget(s: PostgresqlServerSettings, tenants: { app: string; connectionLimit?: number }[], monitored = false): ConnectionBudget {
    return {
        maxConnections: s.maxConnections,
        reserved: s.superuserReservedConnections + POSTGRES_ADMIN_CONNECTIONS + (monitored ? POSTGRES_MONITOR_CONNECTIONS : 0),
        tenants: tenants.map((t) => ({ app: t.app, limit: t.connectionLimit ?? POSTGRES_DEFAULT_CONNECTION_LIMIT })),
    };
}

/** `postgres` command-line arguments (the official image passes them on to the server). */
export function postgresqlServerArgs(s: PostgresqlServerSettings): string[] {
    const settings: [string, string][] = [
        ["max_connections", String(s.maxConnections)],
        ["superuser_reserved_connections", String(s.superuserReservedConnections)],
        ["shared_buffers", kb(s.sharedBuffersBytes)],
        ["effective_cache_size", kb(s.effectiveCacheSizeBytes)],
        ["work_mem", kb(s.workMemBytes)],
        ["maintenance_work_mem", kb(s.maintenanceWorkMemBytes)],
        ["temp_file_limit", kb(s.tempFileLimitBytes)],
        ["authentication_timeout", `${s.authenticationTimeoutSeconds}s`],
        ["idle_in_transaction_session_timeout", `${s.idleInTransactionTimeoutSeconds}s`],
    ];
    return ["postgres", ...settings.flatMap(([name, value]) => ["-c", `${name}=${value}`])];
}

/**
 * What the tenant's `postgresql.Role` sets, as the SQL it amounts to (the provider's own
 * statements differ in form). Tests run exactly these on a real server; README lists them.
 */
export function postgresqlRoleStatements(role: string, password: string, limits: PostgresqlRoleLimits): string[] {
    const name = quoteIdent(role);
    return [
        `CREATE ROLE ${name} LOGIN PASSWORD ${quoteLiteral(password)} CONNECTION LIMIT ${limits.connectionLimit}`,
        // The provider resets a 0 (the server default: none) rather than setting it.
        limits.statementTimeoutSeconds === 0
            ? `ALTER ROLE ${name} RESET statement_timeout`
            : `ALTER ROLE ${name} SET statement_timeout = ${limits.statementTimeoutSeconds * 1000}`,
        `ALTER ROLE ${name} SET idle_in_transaction_session_timeout = ${limits.idleInTransactionTimeoutSeconds * 1000}`,
        `CREATE DATABASE ${name} OWNER ${name}`,
        `REVOKE ALL ON DATABASE ${name} FROM PUBLIC`,
    ];
}

/** For `npm run plan` and the `capacity` output. */
export function describePostgresqlSettings(s: PostgresqlServerSettings): Record<string, string | number> {
    return {
        max_connections: s.maxConnections,
        superuser_reserved_connections: s.superuserReservedConnections,
        shared_buffers: formatBytes(s.sharedBuffersBytes),
        work_mem: formatBytes(s.workMemBytes),
        temp_file_limit: formatBytes(s.tempFileLimitBytes),
        authentication_timeout: `${s.authenticationTimeoutSeconds}s`,
    };
}

function kbFloor(bytes: number): number {
    return Math.floor(bytes / KIB) * KIB;
}

function kb(bytes: number): string {
    return `${Math.floor(bytes / KIB)}kB`;
}

function quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}
