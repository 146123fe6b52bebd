// Redis with TLS required (issue 13; pure: no Pulumi). The server listens only on its TLS port
// (`port 0`) and asks clients for no certificate (`tls-auth-clients no`: they log in with their
// ACL user's password); apps get a `rediss://` URL and the CA. Redis reads its certificate once:
// a renewed one is taken up when the admin runs `CONFIG SET tls-cert-file … tls-key-file …` (Redis
// 7.0 re-reads the files even when the paths are unchanged; a pair that does not match is refused
// and the previous one stays in use), so the files must be a mounted directory that the target
// updates in place (a Kubernetes Secret volume, not a subPath mount, and not the server spec's
// secretFiles, whose change restarts the server). Proved on a real server by tests/tls.integration.test.ts.

/** Where the server reads its certificate and key (a `kubernetes.io/tls` Secret's keys). */
export const REDIS_TLS_DIR = "/etc/redis/tls";

export interface RedisTlsPaths {
    cert: string;
    key: string;
}

export function redisTlsPaths(dir = REDIS_TLS_DIR): RedisTlsPaths {
    return { cert: `${dir}/tls.crt`, key: `${dir}/tls.key` };
}

/**
 * redis.conf directives TLS adds (`name value`; on the command line `--name value`). No CA file:
 * Redis needs one only to check client certificates, replicas or cluster peers.
 */
export function redisTlsSettings(port: number, paths: RedisTlsPaths): [string, string][] {
    return [
        ["port", "0"],
        ["tls-port", String(port)],
        ["tls-cert-file", paths.cert],
        ["tls-key-file", paths.key],
        ["tls-auth-clients", "no"],
        ["tls-protocols", "TLSv1.2 TLSv1.3"],
    ];
}

/** redis-server arguments, to follow the others (a later `--port` would open plaintext again). */
export function redisTlsServerArgs(port: number, paths: RedisTlsPaths): string[] {
    return redisTlsSettings(port, paths).flatMap(([name, value]) => [`--${name}`, value]);
}

/** Makes the running server read the certificate and key files again; as the admin. */
export function redisTlsReloadCommand(paths: RedisTlsPaths): string[] {
    return ["CONFIG", "SET", "tls-cert-file", paths.cert, "tls-key-file", paths.key];
}

/**
 * redis-cli options for the probes inside the server's container. redis-cli checks the chain but
 * not the host name, so 127.0.0.1 passes with a certificate for the server's Service name; apps
 * use clients that check both.
 */
export function redisCliTlsArgs(caFile: string): string[] {
    return ["--tls", "--cacert", caFile];
}

/** The app's URL with `rediss://` (TLS) instead of `redis://`. */
export function redisTlsUrl(url: string): string {
    if (!url.startsWith("redis://")) throw new Error(`not a redis:// URL: ${url.slice(0, url.indexOf(":"))}:…`);
    return `rediss://${url.slice("redis://".length)}`;
}

export const REDIS_TLS_ENV_KEYS = ["REDIS_URL", "REDIS_CACERT"] as const;

/**
 * What TLS changes in the app's variables (over the engine's `environment`): REDIS_URL, and
 * REDIS_CACERT (as redis-cli's `--cacert`), where the CA certificate is in the app's container.
 */
export function redisTlsEnvironment(c: { url: string }, caFile: string): Record<(typeof REDIS_TLS_ENV_KEYS)[number], string> {
    return { REDIS_URL: redisTlsUrl(c.url), REDIS_CACERT: caFile };
}
