// What the dynamic providers share: where and as whom they reach a server as its admin, and how a
// failure to talk to it reads. Their code is serialized into each resource, so this module stays
// small and pure (no imports at run time).
import type * as pulumi from "@pulumi/pulumi";

/** The admin login a dynamic resource keeps in its state. */
export interface AdminConnection {
    /** Where `pulumi up` reaches the server (the admin endpoint). */
    host: string;
    port: number;
    adminUser: string;
    adminPassword: string;
}

/** The same, as resource arguments. */
export type AdminConnectionArgs = { [K in keyof AdminConnection]: pulumi.Input<AdminConnection[K]> };

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|getaddrinfo|timed? ?out|fetch failed|ServiceUnavailable|Connection is closed|connect/i;
const REFUSED_LOGIN = /WRONGPASS|NOAUTH|Authentication failed|Access denied|password authentication failed|Unauthori[sz]ed|credentials/i;

/**
 * A failure to act on a server as its admin, saying where, as whom, what failed and the likely
 * fix: `<Engine> at <host>:<port> as <admin> failed to <action>: <error>. <hint>`.
 */
export function adminError(server: string, adminUser: string | undefined, action: string, err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    const hint = REFUSED_LOGIN.test(message)
        ? ". The server does not accept the admin credentials it was started with; was its data volume reused from another stack?"
        : UNREACHABLE.test(message)
          ? ". The server must be reachable from where `pulumi up` runs (see adminEndpoint)."
          : "";
    return new Error(`${server}${adminUser === undefined ? "" : ` as ${adminUser}`} failed to ${action}: ${message}${hint}`);
}
