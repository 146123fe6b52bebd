// MySQL (and MariaDB) with TLS required (issue 13; pure: no Pulumi). `require_secure_transport`
// refuses every TCP connection without TLS (the socket inside the container, which the image's
// init phase uses, stays allowed); clients present no certificate. Apps get the CA and
// VERIFY_IDENTITY, so they check the chain and that the certificate names the host: with the CA
// alone, common clients (mysql2 without `verifyIdentity`, the mariadb CLI without
// `--ssl-verify-server-cert`) accept any certificate the CA signed. A renewed certificate is read
// on `ALTER INSTANCE RELOAD TLS` (MySQL) or `FLUSH SSL` (MariaDB), without a restart: the files
// must be a mounted directory that the target updates in place (a Kubernetes Secret volume, not a
// subPath mount, and not the server spec's secretFiles, whose change restarts the server).
// Proved on a real MariaDB by tests/tls.integration.test.ts (no MySQL server can run here).

/** Where the server reads its certificate and key (a `kubernetes.io/tls` Secret's keys). */
export const MYSQL_TLS_DIR = "/etc/mysql/tls";
/** The client's mode that checks the chain against the CA and the host name (MySQL's `--ssl-mode`). */
export const MYSQL_TLS_SSL_MODE = "VERIFY_IDENTITY";

export interface MysqlTlsPaths {
    cert: string;
    key: string;
}

export function mysqlTlsPaths(dir = MYSQL_TLS_DIR): MysqlTlsPaths {
    return { cert: `${dir}/tls.crt`, key: `${dir}/tls.key` };
}

/**
 * mysqld options TLS adds, to follow mysqlServerArgs'. The same names in MySQL 8.4 and MariaDB
 * 10.11. No `--ssl-ca`: the server needs a CA only to check client certificates, and clients present none.
 */
export function mysqlTlsServerArgs(paths: MysqlTlsPaths): string[] {
    return ["--require-secure-transport=ON", `--ssl-cert=${paths.cert}`, `--ssl-key=${paths.key}`, "--tls-version=TLSv1.2,TLSv1.3"];
}

/**
 * Makes the running server read the certificate and key again; as the admin. MariaDB has no
 * `ALTER INSTANCE` (a syntax error there). On either, a pair that fails to load is an error and
 * the previous one stays in use.
 */
export function mysqlTlsReloadStatement(server: "mysql" | "mariadb"): string {
    return server === "mysql" ? "ALTER INSTANCE RELOAD TLS" : "FLUSH SSL";
}

/**
 * The app's URL with `ssl-mode=VERIFY_IDENTITY&ssl-ca=<caFile>`: the query attributes of MySQL's
 * URI-like connection strings (MySQL Shell, the X DevAPI connectors). Clients that read no such
 * attributes (mysql2, the mysql and mariadb CLIs) take MYSQL_SSL_MODE and MYSQL_SSL_CA instead.
 */
export function mysqlTlsUrl(url: string, caFile: string): string {
    return `${url}${url.includes("?") ? "&" : "?"}ssl-mode=${MYSQL_TLS_SSL_MODE}&ssl-ca=${encodeURIComponent(caFile)}`;
}

export const MYSQL_TLS_ENV_KEYS = ["MYSQL_URL", "MYSQL_SSL_MODE", "MYSQL_SSL_CA"] as const;

/**
 * What TLS changes in the app's variables (over the engine's `environment`): MYSQL_URL, and
 * MYSQL_SSL_MODE and MYSQL_SSL_CA (as the mysql CLI's `--ssl-mode` and `--ssl-ca`); `caFile` is
 * where the CA certificate is in the app's container.
 */
export function mysqlTlsEnvironment(c: { url: string }, caFile: string): Record<(typeof MYSQL_TLS_ENV_KEYS)[number], string> {
    return { MYSQL_URL: mysqlTlsUrl(c.url, caFile), MYSQL_SSL_MODE: MYSQL_TLS_SSL_MODE, MYSQL_SSL_CA: caFile };
}
