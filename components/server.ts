// What every engine's server and tenants share: the arguments a server takes, the tenant fields
// common to all engines, where `pulumi up` reaches a server, and who may connect to it.
import * as pulumi from "@pulumi/pulumi";
import { dnsName } from "../infra/naming";
import { Resources, RunningServer, ServerRuntime } from "../infra/runtime";
import type { Endpoint } from "./engine";

export interface TenantSpecBase {
    app: string;
    /** The app's Kubernetes namespace: it may connect to the server. @default the app name with `-` for `_` */
    namespace?: string;
    /** Listed for decommissioning: its data may really be dropped. @default false */
    decommissioned?: boolean;
}

export interface ServerArgsBase<Tenant extends TenantSpecBase> {
    runtime: ServerRuntime;
    /** Image tag. */
    version: string;
    /** Full image reference. @default the official image at `version` */
    image?: string;
    storageGi: number;
    resources: Resources;
    /** Where `pulumi up` reaches the server; `{server}` in host is the server's name. @default the runtime's admin address */
    adminEndpoint?: Endpoint;
    /** Fixed host port (Docker target). @default chosen by the target */
    hostPort?: number;
    tenants: Tenant[];
    /** Pulumi `protect` on the server's data and every tenant's. @default false */
    protect?: boolean;
}

/** Where `pulumi up` reaches a server: the configured admin endpoint, or the runtime's address. */
export function adminAddress(server: string, endpoint: Endpoint | undefined, running: RunningServer): { host: pulumi.Output<string>; port: pulumi.Output<number> } {
    return endpoint
        ? { host: pulumi.output(endpoint.host.replace("{server}", server)), port: pulumi.output(endpoint.port) }
        : { host: running.adminHost, port: running.adminPort };
}

/** The namespaces of a server's tenants: the only ones its network policy admits. */
export function clientNamespaces(tenants: TenantSpecBase[]): string[] {
    return tenants.map((t) => t.namespace ?? dnsName(t.app));
}
