// Qdrant: a server with an api key and JWT RBAC; per app its collections `<app>_<name>` and a
// token that can read and write exactly those collections.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { Tenant, TenantCredentials } from "../credentials";
import { QdrantCollection, collectionToken } from "./qdrant-admin";
import { QdrantCollectionSpec, collectionName, qdrantCollectionClashes, qdrantEngine } from "./engine";
import { defaultImage } from "../engine";
import { tenancyDataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, assertNoProblems, startServer, tenantsOf, checkServerArgs, checkTenantArgs } from "../server";

export const QDRANT_PORT = qdrantEngine.defaults.port;
export type { QdrantCollectionSpec } from "./engine";

export interface QdrantTenantSpec extends TenantSpecBase {
    /** Collection name (without the app prefix) -> vector parameters; at least one. */
    collections: Record<string, QdrantCollectionSpec>;
}

/** `version` is the image tag, e.g. "v1.17.0"; the image defaults to its `-unprivileged` variant. */
export type QdrantServerArgs = ServerArgsBase<QdrantTenantSpec>;

export interface QdrantCredentials extends TenantCredentials {
    /** http://host:port, no credentials. */
    url: string;
    /** Secret: the app's JWT, scoped to its collections. */
    apiKey: string;
    collectionPrefix: string;
    collections: string[];
}

export { collectionName } from "./engine";

export class QdrantServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, QdrantTenant>;

    constructor(name: string, args: QdrantServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:qdrant:QdrantServer", name, {}, opts);
        checkServerArgs(qdrantEngine, name, args);
        assertNoProblems("Qdrant server", name, qdrantCollectionClashes(args.tenants).map((c) => `${c.app}: ${c.problem}`));
        // The manage key: full rights, never given to an app; app tokens are signed with it.
        const apiKey = generatedPassword(`${name}-api-key`, { parent: this });
        const { running, admin: address, protect } = startServer(this, name, qdrantEngine, args, {
            defaultImage: defaultImage(qdrantEngine, args.version, qdrantEngine.imageSuffix?.({})),
            env: { QDRANT__SERVICE__JWT_RBAC: "true", QDRANT__TELEMETRY_DISABLED: "true" },
            secretEnv: { QDRANT__SERVICE__API_KEY: apiKey.result },
            // Qdrant writes snapshots and its init marker under its working directory.
            writableRoot: true,
            // /readyz needs no key; bash's /dev/tcp, as the image has no HTTP client.
            readinessCommand: [
                "bash",
                "-c",
                `exec 3<>/dev/tcp/127.0.0.1/${QDRANT_PORT} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
            ],
        });
        this.host = running.host;
        this.port = running.port;
        const admin = { url: pulumi.interpolate`http://${address.host}:${address.port}`, apiKey: pulumi.secret(apiKey.result), ready: running.ready };
        this.tenants = tenantsOf("qdrant", { name, component: this }, args.tenants, (tenant, t, opts) => new QdrantTenant(tenant, { ...t, admin, protect, host: this.host, port: this.port }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

export interface QdrantTenantArgs extends QdrantTenantSpec {
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    admin: { url: pulumi.Input<string>; apiKey: pulumi.Input<string>; ready: pulumi.Resource };
    protect?: boolean;
}

export class QdrantTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "qdrant";
    readonly credentials: pulumi.Output<QdrantCredentials>;

    constructor(name: string, args: QdrantTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:qdrant:QdrantTenant", name, {}, opts);
        checkTenantArgs(qdrantEngine, name, args);
        this.app = args.app;
        // At least one: checkTenantArgs applies the config schema's rule (a token needs `access`).
        const names = Object.keys(args.collections).sort();
        const collections = names.map(
            (n) =>
                new QdrantCollection(
                    `${name}-${n}`,
                    { url: args.admin.url, apiKey: args.admin.apiKey, collection: collectionName(args.app, n), ...args.collections[n] },
                    { parent: this, dependsOn: [args.admin.ready], ...tenancyDataOptions(args) },
                ),
        );
        const fullNames = names.map((n) => collectionName(args.app, n));
        // The token depends on the collections, so an app never holds it before they exist.
        const apiKey = pulumi.secret(
            pulumi.all([args.admin.apiKey, ...collections.map((c) => c.collection)]).apply(([key]) => collectionToken(key, fullNames)),
        );
        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        const url = pulumi.interpolate`http://${host}:${port}`;
        this.credentials = pulumi.output({ host, port, url, apiKey, collectionPrefix: args.app, collections: fullNames });
        this.registerOutputs({ credentials: this.credentials });
    }
}
