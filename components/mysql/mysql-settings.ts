// MySQL 8.4 server settings sized to the container (pure: no Pulumi). Session variables that a
// tenant may raise in its own session (max_heap_table_size, sort_buffer_size, ...) are capped
// with `--maximum-<name>`, which bounds what `SET SESSION` can reach. MEMORY tables are disabled:
// they live in the server's RAM, outside the buffer pool.
import { MIB, formatBytes, parseMemoryBytes } from "../../infra/quantities";
import type { ConnectionBudget } from "../connection-budget";
import { MYSQL_MONITOR_CONNECTIONS } from "./mysql-metrics";

/** The account the official image creates from MYSQL_ROOT_PASSWORD; `pulumi up` and backups log in as it. */
export const MYSQL_ADMIN_USER = "root";

/** Operator overrides (`engines.mysql.*`). */
export interface MysqlTuning {
    /** @default one per 8 MiB of the memory limit, at least 20 */
    maxConnections?: number;
    /** Memory quantity. @default half the memory limit, in 128Mi chunks from a 256Mi limit up */
    innodbBufferPoolSize?: string;
}

export const MYSQL_DEFAULT_MAX_USER_CONNECTIONS = 20;
/**
 * Connections kept for the admin beyond the tenants' limits: the provider's one (maxOpenConns)
 * and the liveness probe's. MySQL lets root take one more when all are in use (CONNECTION_ADMIN).
 */
export const MYSQL_ADMIN_RESERVED_CONNECTIONS = 2;
const BUFFER_POOL_CHUNK = 128 * MIB;

export interface MysqlServerSettings {
    maxConnections: number;
    innodbBufferPoolBytes: number;
    /** tmp_table_size and max_heap_table_size, and their session ceiling. */
    tmpTableBytes: number;
    /** sort/join/read buffers: the session ceiling. */
    sessionBufferCeilingBytes: number;
    /** The TempTable engine's RAM for all sessions together (MySQL only). */
    temptableMaxRamBytes: number;
    connectTimeoutSeconds: number;
}

export function mysqlServerSettings(memoryLimit: string, tuning: MysqlTuning = {}): MysqlServerSettings {
    const limit = parseMemoryBytes(memoryLimit);
    const pool =
        tuning.innodbBufferPoolSize !== undefined
            ? parseMemoryBytes(tuning.innodbBufferPoolSize)
            : defaultBufferPool(limit);
    return {
        maxConnections: tuning.maxConnections ?? defaultMysqlMaxConnections(memoryLimit),
        innodbBufferPoolBytes: pool,
        tmpTableBytes: clamp(Math.floor(limit / 64 / MIB) * MIB, MIB, 64 * MIB),
        sessionBufferCeilingBytes: clamp(Math.floor(limit / 128 / MIB) * MIB, MIB, 16 * MIB),
        temptableMaxRamBytes: clamp(Math.floor(limit / 16 / MIB) * MIB, 2 * MIB, 1024 * MIB),
        connectTimeoutSeconds: 5,
    };
}

/** Half the limit: in whole 128Mi chunks from 256Mi up, in MiB below (never the whole container). */
function defaultBufferPool(limit: number): number {
    const half = limit / 2;
    return half >= BUFFER_POOL_CHUNK ? Math.floor(half / BUFFER_POOL_CHUNK) * BUFFER_POOL_CHUNK : Math.max(5 * MIB, Math.floor(half / MIB) * MIB);
}

export function defaultMysqlMaxConnections(memoryLimit: string): number {
    return Math.max(20, Math.floor(parseMemoryBytes(memoryLimit) / MIB / 8));
}

/** Problems with the overrides, each naming its key (relative to `engines.mysql`). */
export function mysqlTuningProblems(memoryLimit: string, tuning: MysqlTuning): string[] {
    const problems: string[] = [];
    const s = mysqlServerSettings(memoryLimit, tuning);
    if (s.maxConnections <= MYSQL_ADMIN_RESERVED_CONNECTIONS) {
        problems.push(`maxConnections: ${s.maxConnections} leaves no connection for tenants; the admin keeps ${MYSQL_ADMIN_RESERVED_CONNECTIONS}`);
    }
    const pool = tuning.innodbBufferPoolSize ?? `${s.innodbBufferPoolBytes / MIB}Mi (derived)`;
    if (s.innodbBufferPoolBytes < 5 * MIB) problems.push(`innodbBufferPoolSize: ${pool} is below MySQL's minimum of 5Mi`);
    if (s.innodbBufferPoolBytes >= parseMemoryBytes(memoryLimit) * 0.8) {
        problems.push(`innodbBufferPoolSize: ${pool} leaves less than 20 % of resources.limits.memory ${memoryLimit} for connections and the server itself`);
    }
    return problems;
}

/** What the server's tenants may hold, against what it allows. */
export function mysqlConnectionBudget(s: MysqlServerSettings, tenants: { app: string; maxConnections?: number }[], monitored = false): ConnectionBudget {
    return {
        maxConnections: s.maxConnections,
        reserved: MYSQL_ADMIN_RESERVED_CONNECTIONS + (monitored ? MYSQL_MONITOR_CONNECTIONS : 0),
        tenants: tenants.map((t) => ({ app: t.app, limit: t.maxConnections ?? MYSQL_DEFAULT_MAX_USER_CONNECTIONS })),
    };
}

/** Options MySQL knows and MariaDB does not (the real-server test runs MariaDB without them). */
export const MYSQL_ONLY_OPTIONS = ["disabled-storage-engines", "temptable-max-ram"];

/** mysqld command-line arguments (the official image passes them on to the server). */
export function mysqlServerArgs(s: MysqlServerSettings): string[] {
    const ceilings = ["sort-buffer-size", "join-buffer-size", "read-buffer-size", "read-rnd-buffer-size"];
    return [
        "mysqld",
        `--max-connections=${s.maxConnections}`,
        `--innodb-buffer-pool-size=${s.innodbBufferPoolBytes}`,
        `--connect-timeout=${s.connectTimeoutSeconds}`,
        `--tmp-table-size=${s.tmpTableBytes}`,
        `--max-heap-table-size=${s.tmpTableBytes}`,
        `--maximum-tmp-table-size=${s.tmpTableBytes}`,
        `--maximum-max-heap-table-size=${s.tmpTableBytes}`,
        ...ceilings.map((name) => `--maximum-${name}=${s.sessionBufferCeilingBytes}`),
        `--temptable-max-ram=${s.temptableMaxRamBytes}`,
        "--disabled-storage-engines=MEMORY",
    ];
}

/** For `npm run plan` and the `capacity` output. */
export function describeMysqlSettings(s: MysqlServerSettings): Record<string, string | number> {
    return {
        max_connections: s.maxConnections,
        innodb_buffer_pool_size: formatBytes(s.innodbBufferPoolBytes),
        "tmp_table_size (session ceiling)": formatBytes(s.tmpTableBytes),
        temptable_max_ram: formatBytes(s.temptableMaxRamBytes),
        connect_timeout: `${s.connectTimeoutSeconds}s`,
    };
}

function clamp(value: number, min: number, max: number): number {
    return Math.min(max, Math.max(min, value));
}
