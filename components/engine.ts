// The engine descriptor: everything the program knows of one engine, in that engine's folder
// (components/<engine>/engine.ts), listed once in the registry (components/engines.ts). Config
// validation, the planner, the platform, the environment and the scripts iterate the registry.
//
// Descriptors are pure: loading one loads no Pulumi provider. Only `createServer` needs the
// engine's components, and it loads them when called, so `stacks/` validation and `npm run plan`
// stay free of provider modules.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APP_NAME_PATTERN, APP_NAME_RULE, tenantName } from "../infra/naming";
import type { Resources, ServerRuntime } from "../infra/runtime";
import type { EngineBackup } from "./backup";
import type { TenantBackupPlan, TenantRestorePlan } from "./backup-plan";
import type { ConnectionBudget } from "./connection-budget";
import type { Tenant, TenantCredentials } from "./credentials";

export const PLACEMENTS = ["shared", "dedicated"] as const;
export type Placement = (typeof PLACEMENTS)[number];

export interface Endpoint {
    /** May contain `{server}`, replaced by each server's name. */
    host: string;
    port: number;
}

/** An engine's defaults: the official image, what a server gets, and where the image keeps things. */
export interface EngineDefaults {
    /** The official image's repository; the default image is `<repository>:<version><imageSuffix>`. */
    repository: string;
    /** The default image tag. */
    version: string;
    storageGi: number;
    resources: Resources;
    /** The one TCP port clients use. */
    port: number;
    /** The image's own non-root user id. */
    uid: number;
    /** Where the image keeps its data (an engine may pick another path per version). */
    dataPath: string;
}

/** A server's settings, the same for every server of an engine in a stack. */
export interface ServerSettings<Options = unknown> {
    engine: string;
    /** Image tag. */
    version: string;
    image: string;
    storageGi: number;
    resources: Resources;
    /** Where `pulumi up` reaches the server's admin port. @default the target's own address */
    adminEndpoint?: Endpoint;
    /** The engine's own settings (tuning overrides, number of logical databases, edition), resolved. */
    options: Options;
}

/** One app on one server: what the engine's tenant component needs. */
export interface TenantPlan<Options = unknown> {
    engine: string;
    app: string;
    /** The app's Kubernetes namespace: it may connect to the server. */
    namespace: string;
    /** The engine's own per-app settings (connection limit, db number, collections), resolved. */
    options: Options;
    /** Scheduled backups of the app's data. @default none */
    backup?: TenantBackupPlan;
    /** A restore of the app's data, run once per backup id. @default none */
    restore?: TenantRestorePlan;
    /** The app's data is copied here from this server (a move); its credentials point here once the copy is checked. */
    moveFrom?: { server: string; placement: Placement };
    /**
     * The app's old tenancy on the server it moves away from: kept, with its data, until the move
     * is finished (`moveFrom` removed); not in the app's credentials.
     */
    retired?: true;
}

export interface ServerPlan<Options = unknown, TenantOptions = unknown> {
    engine: string;
    /** A DNS label, unique per target. */
    name: string;
    placement: Placement;
    settings: ServerSettings<Options>;
    /** Docker target: the fixed loopback port to publish on. @default chosen by Docker */
    hostPort?: number;
    /** Sorted by app name. */
    tenants: TenantPlan<TenantOptions>[];
    /** Kubernetes: Prometheus scrapes the server (an exporter and its monitoring user, or the engine's own endpoint). @default false */
    monitored?: boolean;
}

/** What the platform hands an engine to build one planned server. */
export interface ServerContext {
    runtime: ServerRuntime;
    protect: boolean;
    /** Apps whose data may really be dropped. */
    decommission: ReadonlySet<string>;
    parent: pulumi.Resource;
    /** Moves: by `<app>-<engine>`, what resolves once the app's copy succeeded (its retired tenancy's login is disabled then). */
    copied?: ReadonlyMap<string, pulumi.Output<unknown>>;
    /** Apps with a move in progress (of any engine): `decommission` drops only their old copies. */
    moving?: ReadonlySet<string>;
}

/** A built server: where apps reach it, and its tenants by app. */
export interface BuiltServer {
    host: pulumi.Output<string>;
    port: pulumi.Output<number>;
    tenants: Record<string, Tenant>;
}

/**
 * The isolation audit of `npm run verify`, run against a live server with tenants' own
 * credentials (never the admin's): what a hostile tenant would try.
 */
export interface EngineAudit<C extends TenantCredentials = TenantCredentials> {
    /** As the tenant: write, read back and delete a probe object in its own database/key space; throws naming what failed. */
    probe(own: C): Promise<void>;
    /**
     * As tenant `own`, try to read and write `other`'s data on the same server; resolves to
     * undefined when every attempt is refused, or a description of what got through (a breach).
     * Throws when an attempt neither succeeds nor is refused (the server is unreachable, say).
     */
    intrude(own: C, other: C): Promise<string | undefined>;
}

/** Figures of `npm run usage`; a figure the login cannot see is left out. */
export interface UsageFigures {
    /** What the data takes, in bytes: on disk (Redis: in memory). */
    bytes?: number;
    /** Open connections, the measuring one not counted. */
    connections?: number;
    /** What it holds, counted in the engine's unit (tables, keys, points, documents). */
    objects?: { count: number; unit: string };
}

/** One tenant's figures in `npm run usage`, measured with the tenant's own credentials. */
export interface TenantUsage extends UsageFigures {
    /**
     * Figures of the whole server that the tenant's login can see (Redis: INFO), for the server's
     * summary; `maxBytes`: the server's memory limit. A tenant alone on its server is credited
     * with those of them its own figures lack.
     */
    server?: UsageFigures & { maxBytes?: number };
}

/** `npm run usage`: what one tenant uses on its server, read as that tenant (never the admin). */
export interface EngineUsage<C extends TenantCredentials = TenantCredentials> {
    /** What the figures are and what a tenant's login cannot see, printed under the table. */
    readonly note: string;
    /** Throws naming the server and user when the tenant cannot be measured. */
    measure(own: C): Promise<TenantUsage>;
}

/** Figures a planned server reports in `capacity` and `npm run plan`. */
export interface ServerFigures {
    /** Server settings derived from the memory limit (or overridden in config). */
    settings: Record<string, string | number>;
    /** The tenants' connection limits and the admin's reserve, against max_connections. */
    connections?: ConnectionBudget;
}

export interface EngineDescriptor<Name extends string = string, EngineRaw = any, AppRaw = any, Options = any, TenantOptions = any, Credentials extends TenantCredentials = any> {
    /** The key under `engines` and `apps.<app>`, the first part of server names, the Pulumi type module. */
    readonly name: Name;
    /** As people write it, with capitals. */
    readonly title: string;
    readonly defaults: EngineDefaults;
    /** Keys of `engines.<engine>` besides the ones every engine has. */
    readonly engineKeys: z.ZodRawShape;
    /** Keys of `apps.<app>.<engine>` besides `placement` and `hostPort`. */
    readonly appKeys: z.ZodRawShape;
    /** Names the server uses itself, so no app may take them. */
    readonly reserved: { names: readonly string[]; prefixes: readonly string[] };
    /** What else the engine cannot take as an app name (length limits), given its settings. */
    nameProblem?(app: string, settings: Options): string | undefined;
    /** Appended to the default image's tag (variants such as `-unprivileged`). */
    imageSuffix?(raw: EngineRaw): string;
    /** The engine's own settings from `engines.<engine>`, and problems with them (each starting with `path`). */
    resolveSettings(raw: EngineRaw, base: { version: string; storageGi: number; resources: Resources }, path: string): { options: Options; problems: string[] };
    /** An app's own settings from `apps.<app>.<engine>`, and problems with them (each starting with `path`). */
    resolveTenant(raw: AppRaw, use: { app: string; placement: Placement; settings: Options }, path: string): { options: TenantOptions; problems: string[] };
    /**
     * Why this app cannot be moved with these settings (Redis: its db number must be written
     * down; PostgreSQL: the server's version), or undefined.
     */
    moveProblem?(raw: AppRaw, server: { version: string; options: Options }): string | undefined;
    /** Problems of a planned server with its tenants, as config messages; the server component applies the same rules. */
    serverProblems?(server: ServerPlan<Options, TenantOptions>): string[];
    /** Derived settings and connection budget of a planned server; config refuses a budget that does not fit. */
    figures?(server: ServerPlan<Options, TenantOptions>): ServerFigures;
    /** How `npm run plan` lists a tenant: `lernmi (db 1)`. @default the app name */
    describeTenant?(tenant: TenantPlan<TenantOptions>): string;
    /** The variables an app receives for this engine, in order. */
    readonly envKeys: readonly string[];
    /** Those variables from the app's credentials. */
    environment(credentials: Credentials): Record<string, string>;
    /** Dump, emptiness check, clear and restore of one app's data, and what they read, for the backup scripts (components/backup.ts). */
    readonly backup?: EngineBackup<Options, TenantOptions>;
    /** The isolation audit of `npm run verify` (loads the engine's client library when called). */
    audit?(): EngineAudit<Credentials>;
    /** The figures of `npm run usage` (loads the engine's client library when called). */
    usage?(): EngineUsage<Credentials>;
    /**
     * Where a server's metrics come from with these settings: an exporter beside it that logs in
     * as a monitoring user, the engine's own endpoint, or none (the edition serves none).
     */
    metricsSource(settings: Options): "exporter" | "endpoint" | { none: string };
    /** Builds the server and its tenants (loads the engine's components on first call). */
    createServer(plan: ServerPlan<Options, TenantOptions>, context: ServerContext): BuiltServer;
}

/** The official image of an engine at a tag: `<repository>:<version><suffix>`. */
export function defaultImage(engine: Pick<EngineDescriptor, "defaults">, version: string, suffix = ""): string {
    return `${engine.defaults.repository}:${version}${suffix}`;
}

/**
 * What an engine's rules say of one tenant as a component receives it: its name (the app name
 * pattern, names the engine keeps, its limits) and its own keys against the engine's config
 * schema, so a component used as a library accepts exactly what the stack config accepts.
 */
export function tenantSpecProblems<Options>(
    engine: Pick<EngineDescriptor<string, any, any, Options>, "name" | "reserved" | "nameProblem" | "appKeys">,
    spec: { app: string },
    settings: Options,
): string[] {
    if (!APP_NAME_PATTERN.test(spec.app)) return [`the app name ${JSON.stringify(spec.app)} is not ${APP_NAME_RULE}`];
    const name = appNameProblem(engine, spec.app, settings);
    const keys = z.object(engine.appKeys).safeParse(spec);
    return [
        ...(name === undefined ? [] : [name]),
        ...(keys.success ? [] : keys.error.issues.map((i) => `${[spec.app, ...i.path.map(String)].join(".")}: ${i.message}`)),
    ];
}

/** The credentials an engine gives an app. */
export type CredentialsOf<E> = E extends EngineDescriptor<string, any, any, any, any, infer C> ? C : never;

/** True when an engine keeps `app` for itself. */
export function isReservedName(engine: Pick<EngineDescriptor, "reserved">, app: string): boolean {
    return engine.reserved.names.includes(app) || engine.reserved.prefixes.some((p) => app.startsWith(p));
}

/**
 * Why an engine cannot give an app this name (reserved by the server, or beyond its limits), or
 * undefined. Config and the server components both apply it.
 */
export function appNameProblem<Options>(engine: Pick<EngineDescriptor<string, any, any, Options>, "name" | "reserved" | "nameProblem">, app: string, settings: Options): string | undefined {
    if (isReservedName(engine, app)) {
        const taken = [...engine.reserved.names, ...engine.reserved.prefixes.map((p) => `${p}*`)].join(", ");
        return `the app name ${JSON.stringify(app)} is reserved by ${engine.name} (reserved: ${taken}); rename the app`;
    }
    return engine.nameProblem?.(app, settings);
}

/** The arguments every engine's server component takes, from a plan. */
export function serverArgsOf(plan: ServerPlan, context: ServerContext) {
    const s = plan.settings;
    return {
        runtime: context.runtime,
        version: s.version,
        image: s.image,
        storageGi: s.storageGi,
        resources: s.resources,
        adminEndpoint: s.adminEndpoint,
        hostPort: plan.hostPort,
        // A dedicated server an app moved away from holds only its old copy: retained, not protected, so finishing the move can remove it.
        protect: context.protect && !plan.tenants.every((t) => t.retired),
        monitoring: plan.monitored ?? false,
        // A server an app moves away from is where its copy Job dumps: admitted like a backup Job.
        jobs: plan.tenants.some((t) => t.backup !== undefined || t.restore !== undefined || t.retired === true),
        copyTarget: plan.tenants.some((t) => t.moveFrom !== undefined),
    };
}

/**
 * The tenant specs of a plan, with the platform's decommission decision. While an app moves
 * (any of its engines), listing it in `decommission` drops only the old copies it leaves (its
 * retired tenancies), never its data anywhere else.
 */
export function tenantSpecsOf<TenantOptions>(plan: ServerPlan<unknown, TenantOptions>, context: ServerContext) {
    return plan.tenants.map((t) => ({
        app: t.app,
        namespace: t.namespace,
        decommissioned: context.decommission.has(t.app) && (context.moving?.has(t.app) ? t.retired === true : true),
        ...(t.moveFrom !== undefined && { movedIn: true }),
        ...(t.retired && context.copied?.has(tenantName(t.app, t.engine)) && { retiredAfter: context.copied.get(tenantName(t.app, t.engine)) }),
        ...t.options,
    }));
}

/** The keys of `from` that are set (the overrides an engine's config carries). */
export function pick<T extends object, K extends keyof T>(from: T | undefined, keys: K[]): Pick<T, K> {
    return Object.fromEntries(keys.filter((k) => from?.[k] !== undefined).map((k) => [k, from![k]])) as Pick<T, K>;
}
