// PostgreSQL with TLS required (issue 13; pure: no Pulumi). The server gets `ssl=on`, its
// certificate and key, and a pg_hba.conf of its own (`hba_file`) that admits TCP connections
// only as `hostssl`: a client that does not negotiate TLS matches no line and is refused, before
// any password is sent. Apps get `sslmode=verify-full` with the CA, so they check the chain and
// that the certificate names the host they connect to. A renewed certificate is read on reload
// (`pg_reload_conf()`), without a restart: the files must be a mounted directory that the target
// updates in place (a Kubernetes Secret volume, not a subPath mount, and not the server spec's
// secretFiles, whose change restarts the server). Proved on a real server by tests/tls.integration.test.ts.
/** Where the server reads its certificate and key (a `kubernetes.io/tls` Secret's keys). */
export const POSTGRES_TLS_DIR = "/etc/postgresql/tls";
/** Where the server reads the pg_hba.conf that postgresqlTlsHba renders. */
export const POSTGRES_HBA_DIR = "/etc/postgresql/hba";
/**
 * The key file's mode. PostgreSQL refuses a key readable by others: owned by its own user 0600,
 * or owned by root 0640 (a Secret volume with this defaultMode and fsGroup the server's gid).
 */
export const POSTGRES_TLS_KEY_MODE = 0o640;
/** Re-reads the certificate and key (and pg_hba.conf); as the superuser. A pair that fails to load leaves the previous one in use. */
export const POSTGRES_TLS_RELOAD_STATEMENT = "SELECT pg_reload_conf()";
/** libpq's mode that checks the chain against the root certificate and the host name. */
export const POSTGRES_TLS_SSLMODE = "verify-full";

export interface PostgresqlTlsPaths {
    cert: string;
    key: string;
    hbaFile: string;
}

export function postgresqlTlsPaths(tlsDir = POSTGRES_TLS_DIR, hbaDir = POSTGRES_HBA_DIR): PostgresqlTlsPaths {
    return { cert: `${tlsDir}/tls.crt`, key: `${tlsDir}/tls.key`, hbaFile: `${hbaDir}/pg_hba.conf` };
}

/** The settings TLS adds; no `ssl_ca_file`: clients present no certificate. */
export function postgresqlTlsSettings(paths: PostgresqlTlsPaths): [string, string][] {
    return [
        ["ssl", "on"],
        ["ssl_cert_file", paths.cert],
        ["ssl_key_file", paths.key],
        ["ssl_min_protocol_version", "TLSv1.2"],
        ["hba_file", paths.hbaFile],
    ];
}

/** `-c name=value` arguments, to follow postgresqlServerArgs' (which start with `postgres`). */
export function postgresqlTlsServerArgs(paths: PostgresqlTlsPaths): string[] {
    return postgresqlTlsSettings(paths).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

/**
 * pg_hba.conf: the socket inside the container (the image's init phase) with a password, and TCP
 * only over TLS, for every role (the admin and the probes too; psql's default sslmode=prefer
 * negotiates it). No `host` or `hostnossl` line, so plaintext TCP matches nothing.
 */
export function postgresqlTlsHba(): string {
    return ["# TYPE  DATABASE  USER  ADDRESS  METHOD", "local    all       all            scram-sha-256", "hostssl  all       all   all      scram-sha-256"].join("\n") + "\n";
}

/** The app's URL with `sslmode=verify-full&sslrootcert=<caFile>` (libpq and node-postgres read both). */
export function postgresqlTlsUrl(url: string, caFile: string): string {
    return `${url}${url.includes("?") ? "&" : "?"}sslmode=${POSTGRES_TLS_SSLMODE}&sslrootcert=${encodeURIComponent(caFile)}`;
}

export const POSTGRES_TLS_ENV_KEYS = ["DATABASE_URL", "PGSSLMODE", "PGSSLROOTCERT"] as const;

/**
 * What TLS changes in the app's variables (over the engine's `environment`): DATABASE_URL, and
 * libpq's PGSSLMODE and PGSSLROOTCERT for clients configured from PG* variables. `caFile` is where
 * the CA certificate is in the app's container.
 */
export function postgresqlTlsEnvironment(c: { url: string }, caFile: string): Record<(typeof POSTGRES_TLS_ENV_KEYS)[number], string> {
    return { DATABASE_URL: postgresqlTlsUrl(c.url, caFile), PGSSLMODE: POSTGRES_TLS_SSLMODE, PGSSLROOTCERT: caFile };
}
