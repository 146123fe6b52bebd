// What every engine's server and tenants share: the arguments a server takes, the tenant fields
// common to all engines, starting the server on its runtime, where `pulumi up` reaches it, who
// may connect to it, and its tenant components by app.
import * as pulumi from "@pulumi/pulumi";
import { dnsName, tenancyName, tenantName } from "../infra/naming";
import { Resources, RunningServer, ServerRuntime, ServerSpec } from "../infra/runtime";
import { EngineDescriptor, Endpoint, tenantSpecProblems } from "./engine";
import { assertServerName } from "./options";

export interface TenantSpecBase {
    app: string;
    /** The app's Kubernetes namespace: it may connect to the server. @default the app name with `-` for `_` */
    namespace?: string;
    /** Listed for decommissioning: its data may really be dropped. @default false */
    decommissioned?: boolean;
    /**
     * The tenancy is made by a move of the app's data from another server, so it never had the
     * name tenancies had before they named their server, and takes no alias from it. @default false
     */
    movedIn?: boolean;
    /**
     * The app moved to another server and this tenancy holds its old copy: once this resolves
     * (the move's copy Job succeeded) the tenancy's login is disabled; its data stays. Engines
     * whose data a move cannot copy ignore it. @default the login stays enabled
     */
    retiredAfter?: pulumi.Input<unknown>;
}

/** `false` once `retiredAfter` resolved, for a login's enabled flag; undefined when not retired. */
export function loginDisabledAfter(retiredAfter: pulumi.Input<unknown> | undefined): pulumi.Output<false> | undefined {
    return retiredAfter === undefined ? undefined : pulumi.output(retiredAfter).apply(() => false as const);
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
    /** Kubernetes: admit the platform's backup and restore Jobs of this server to its port. @default false */
    jobs?: boolean;
    /**
     * Kubernetes: export metrics (an exporter sidecar and its monitoring user, or the engine's own
     * endpoint); the runtime needs monitoring settings. @default false
     */
    monitoring?: boolean;
    /** Kubernetes: admit the copy Jobs of apps moving to this server. @default false */
    copyTarget?: boolean;
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

/** What an engine tells the runtime beyond what every server has (name, port, volume, resources, clients). */
export type EngineServerSpec = Omit<ServerSpec, "engine" | "name" | "image" | "port" | "hostPort" | "data" | "resources" | "clientNamespaces" | "uid" | "protect"> & {
    /** The image when the args name none. */
    defaultImage: string;
    /** Where the volume is mounted. @default the engine's data path */
    dataPath?: string;
};

/** A started server: where apps reach it, where `pulumi up` reaches it, and when it is ready. */
export interface StartedServer {
    running: RunningServer;
    /** Where `pulumi up` reaches it: the admin endpoint, or the runtime's address. */
    admin: { host: pulumi.Output<string>; port: pulumi.Output<number> };
    protect: boolean;
}

/**
 * The checks every server component makes before it registers anything: its name, and each
 * tenant against the rules the stack config applies (`settings`: the engine's own settings that
 * rules may depend on, an edition say).
 */
export function checkServerArgs<T extends TenantSpecBase>(engine: EngineDescriptor, name: string, args: ServerArgsBase<T>, settings: unknown = {}): void {
    assertServerName(name);
    assertNoProblems(`${engine.title} server`, name, args.tenants.flatMap((t) => tenantSpecProblems(engine, t, settings)));
}

/** The same for a tenant component used on its own. */
export function checkTenantArgs(engine: EngineDescriptor, name: string, spec: TenantSpecBase, settings: unknown = {}): void {
    assertNoProblems(`${engine.title} tenant`, name, tenantSpecProblems(engine, spec, settings));
}

/**
 * What every engine's server does alike, once `checkServerArgs` passed: runs the image on the
 * runtime with the engine's port, uid and volume, admits its tenants' namespaces, and finds its
 * admin address.
 */
export function startServer<T extends TenantSpecBase>(
    parent: pulumi.Resource,
    name: string,
    engine: Pick<EngineDescriptor, "name" | "defaults">,
    args: ServerArgsBase<T>,
    spec: EngineServerSpec,
): StartedServer {
    const { defaultImage, dataPath, ...rest } = spec;
    const protect = args.protect ?? false;
    const running = args.runtime.run(
        {
            ...rest,
            engine: engine.name,
            name,
            image: args.image ?? defaultImage,
            port: engine.defaults.port,
            hostPort: args.hostPort,
            data: { mountPath: dataPath ?? engine.defaults.dataPath, storageGi: args.storageGi },
            resources: args.resources,
            clientNamespaces: clientNamespaces(args.tenants),
            jobs: args.jobs || args.copyTarget,
            copyTarget: args.copyTarget,
            uid: engine.defaults.uid,
            protect,
        },
        parent,
    );
    return { running, admin: adminAddress(name, args.adminEndpoint, running), protect };
}

/**
 * One tenant component per spec, by app, named `<server>/<app>` (tenancyName), with `opts` to
 * pass it: its parent, and an alias from `<app>-<engine>`, the name every tenancy had before
 * names carried the server, so that a stack's existing tenancies keep their state (their
 * children, named `<name>-<part>`, inherit the alias). A tenancy a move creates never had it.
 */
export function tenantsOf<Spec extends TenantSpecBase, T>(
    engine: string,
    server: { name: string; component: pulumi.Resource },
    specs: Spec[],
    make: (name: string, spec: Spec, opts: pulumi.ComponentResourceOptions) => T,
): Record<string, T> {
    return Object.fromEntries(
        specs.map((t) => [t.app, make(tenancyName(t.app, server.name), t, { parent: server.component, aliases: t.movedIn ? [] : [{ name: tenantName(t.app, engine) }] })]),
    );
}

/** A server component's problems as one error: `<Component> <name>: a; b`. */
export function assertNoProblems(component: string, name: string, problems: (string | undefined)[]): void {
    const found = problems.filter((p): p is string => p !== undefined);
    if (found.length > 0) throw new Error(`${component} ${name}: ${found.join("; ")}`);
}
