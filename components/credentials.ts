// The shape of what an app receives for one engine, the same in shared and dedicated placement.
import * as pulumi from "@pulumi/pulumi";

/** Every engine's credentials have at least an address; passwords, tokens and URLs with them are secret. */
export interface TenantCredentials {
    host: string;
    port: number;
    user?: string;
    password?: string;
    /** A URL for the engine's clients (with the credentials where the clients take them so). */
    url?: string;
}

/** Credentials of engines that log in with a user and a password (secret). */
export interface PasswordCredentials extends TenantCredentials {
    user: string;
    password: string;
}

/** A tenant of some engine: an app's credentials on one server. */
export interface Tenant {
    readonly app: string;
    readonly engine: string;
    /** Engine-specific credentials (host, port, user, password, url, ...). */
    readonly credentials: pulumi.Output<TenantCredentials>;
    /**
     * The app's password on this server as soon as it is generated, not waiting for its user to
     * exist (a move's copy Job reads the old tenancy's, whose login waits for that Job).
     * @default none: the engine's Jobs do not log in as the app
     */
    readonly loginPassword?: pulumi.Output<string>;
}

/** `scheme://user:password@host:port/path`, with user and password percent-encoded. */
export function credentialUrl(
    scheme: string,
    user: pulumi.Input<string>,
    password: pulumi.Input<string>,
    host: pulumi.Input<string>,
    port: pulumi.Input<number>,
    path: pulumi.Input<string>,
): pulumi.Output<string> {
    return pulumi.secret(
        pulumi
            .all([user, password, host, port, path])
            .apply(([u, p, h, po, pa]) => `${scheme}://${encodeURIComponent(u)}:${encodeURIComponent(p)}@${h}:${po}/${pa}`),
    );
}
