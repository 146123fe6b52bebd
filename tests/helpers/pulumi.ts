// The one test helper for Pulumi programs: runs a program under mocks, records every registered
// resource with its inputs (secrets still marked), options and dependencies, throws on any
// unmocked provider call, and reads Outputs as promises.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiState from "@pulumi/pulumi/runtime/state";
import { PROJECT } from "../../stacks/read";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    custom: boolean;
    /** Inputs as the engine would receive them; secret values are `{[sig]: secret, value}` wrappers. */
    rawInputs: Record<string, unknown>;
    /** The same inputs with secret wrappers removed. */
    inputs: Record<string, any>;
    parent: string;
    provider: string;
    protect: boolean;
    retainOnDelete: boolean;
    /** URNs this resource waits for (explicit and through its inputs). */
    dependencies: string[];
    /** Input paths whose changes Pulumi ignores. */
    ignoreChanges: string[];
    /** Custom timeouts, as Pulumi duration strings ("" when unset). */
    customTimeouts: { create: string; update: string; delete: string };
    /** With runProgram's `aliasUrns`: the URNs this resource also answers to, inherited ones included. */
    aliases: string[];
}

export interface MockRun<T> {
    result: T;
    resources: RecordedResource[];
    /** Every generated password the mocks handed out, to search for leaks. */
    passwords: string[];
}

type RegisterRequest = {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProvider(): string;
    getProtect(): boolean | undefined;
    getRetainondelete(): boolean | undefined;
    getDependenciesList(): string[];
    getIgnorechangesList(): string[];
    getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
    getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }) => void): void };
    getObject(): unknown;
    getAliasurnsList(): string[];
};

export const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
export const DOCKER_CONTAINER = "docker:index/container:Container";
/** Generates its password on create, like RandomPassword. */
export const REDIS_ACL_USER = "pulumi-nodejs:dynamic/redis:AclUser";

/** The password the mocks generate for a RandomPassword (or ACL user) of this name. */
export function mockPassword(name: string): string {
    return `MockPw${crypto.createHash("sha256").update(name).digest("hex").slice(0, 26)}`;
}

function hashOf(text: string): number {
    return crypto.createHash("sha256").update(text).digest().readUInt32BE(0);
}

/**
 * Runs `program` under Pulumi mocks and waits until every resource is registered.
 * `config` holds this project's keys without prefix, as Pulumi.<stack>.yaml would set them.
 */
export async function runProgram<T>(
    program: () => T,
    options: {
        config?: Record<string, unknown>;
        stack?: string;
        /** Computes a resource's state instead of the mocks (e.g. a dynamic provider against a real server). */
        liveState?: (type: string, inputs: Record<string, unknown>) => Promise<Record<string, unknown> | undefined>;
        /**
         * Have the SDK resolve aliases to URNs itself, children's inherited aliases included (as it
         * does for an engine without alias specs), and record them. A password then derives from
         * the name of the resource's first alias: the name it had before a rename.
         */
        aliasUrns?: boolean;
    } = {},
): Promise<MockRun<T>> {
    const resources: RecordedResource[] = [];
    const passwords: string[] = [];
    const stack = options.stack ?? "test";
    await pulumi.runtime.setMocks(
        {
            async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, unknown> }> {
                const live = await options.liveState?.(args.type, unwrapSecrets(args.inputs) as Record<string, unknown>);
                if (live !== undefined) return { id: `${args.name}-id`, state: live };
                const state: Record<string, unknown> = { ...args.inputs };
                if (args.type === RANDOM_PASSWORD || args.type === REDIS_ACL_USER) {
                    // Recognisable and derived from the name only, so a run's passwords do not
                    // depend on registration order; alphanumeric like the real settings.
                    const alias = resources.find((r) => r.name === args.name && r.type === args.type)?.aliases[0];
                    const password = mockPassword(alias === undefined ? args.name : alias.slice(alias.lastIndexOf("::") + 2));
                    passwords.push(password);
                    state[args.type === RANDOM_PASSWORD ? "result" : "password"] = password;
                }
                // @pulumi/tls: PEM-shaped stand-ins derived from the name; keys count as secrets for the audit.
                if (args.type === "tls:index/privateKey:PrivateKey") {
                    const key = `-----BEGIN PRIVATE KEY-----\n${mockPassword(args.name)}\n-----END PRIVATE KEY-----\n`;
                    passwords.push(mockPassword(args.name));
                    Object.assign(state, { privateKeyPem: key, privateKeyPemPkcs8: key });
                }
                if (args.type === "tls:index/certRequest:CertRequest") state.certRequestPem = `-----BEGIN CERTIFICATE REQUEST-----\n${args.name}\n-----END CERTIFICATE REQUEST-----\n`;
                if (args.type === "tls:index/selfSignedCert:SelfSignedCert" || args.type === "tls:index/locallySignedCert:LocallySignedCert") {
                    state.certPem = `-----BEGIN CERTIFICATE-----\n${args.name}\n-----END CERTIFICATE-----\n`;
                }
                if (args.type === DOCKER_CONTAINER) {
                    // Like Docker: a port published without `external` gets one chosen by the engine.
                    const ports = (args.inputs.ports ?? []) as { internal: number; external?: number }[];
                    state.ports = ports.map((p, i) => ({ ...p, external: p.external ?? 32768 + (hashOf(args.name) % 20000) + i }));
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
                throw new Error(`unmocked provider call ${args.token}`);
            },
        },
        PROJECT,
        stack,
        false,
    );
    // The mocks claim alias specs, which leave inherited aliases to the engine. The store is not in
    // the SDK's declarations.
    if (options.aliasUrns) (pulumiState as unknown as { getStore(): { supportsAliasSpecs: boolean } }).getStore().supportsAliasSpecs = false;
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: RegisterRequest, cb: unknown) => {
        resources.push(record(req, stack));
        return register(req, cb);
    };
    pulumi.runtime.setAllConfig(
        Object.fromEntries(
            Object.entries(options.config ?? {}).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
        ),
        [],
    );

    // Pulumi takes a stack trace of every resource and promise it creates (for source positions,
    // which the mocks never read); through ts-node's source-map support each costs a source-map
    // lookup per frame, and formatting them was most of a mock run's time. Cut to the error and
    // the place it was thrown while the program runs.
    const prepare = Error.prepareStackTrace;
    Error.prepareStackTrace = (error, frames) => [String(error), ...frames.slice(0, 1).map((frame) => `    at ${frame}`)].join("\n");
    try {
        const result = program();
        await waitForRegistrations();
        return { result, resources, passwords };
    } finally {
        Error.prepareStackTrace = prepare;
    }
}

function record(req: RegisterRequest, stack: string): RecordedResource {
    const rawInputs = pulumi.runtime.deserializeProperties(req.getObject() as never) as Record<string, unknown>;
    const dependencies = new Set(req.getDependenciesList());
    req.getPropertydependenciesMap().forEach((deps) => deps.getUrnsList().forEach((urn) => dependencies.add(urn)));
    const parent = req.getParent();
    let type = req.getType();
    if (parent) type = `${parent.split("::")[2].split("$").pop()}$${type}`;
    return {
        type: req.getType(),
        name: req.getName(),
        urn: `urn:pulumi:${stack}::${PROJECT}::${type}::${req.getName()}`,
        custom: req.getCustom(),
        rawInputs,
        inputs: unwrapSecrets(rawInputs) as Record<string, any>,
        parent,
        provider: req.getProvider(),
        protect: req.getProtect() ?? false,
        retainOnDelete: req.getRetainondelete() ?? false,
        dependencies: [...dependencies],
        ignoreChanges: req.getIgnorechangesList(),
        customTimeouts: {
            create: req.getCustomtimeouts()?.getCreate() ?? "",
            update: req.getCustomtimeouts()?.getUpdate() ?? "",
            delete: req.getCustomtimeouts()?.getDelete() ?? "",
        },
        aliases: req.getAliasurnsList(),
    };
}

async function waitForRegistrations(): Promise<void> {
    // Registration is asynchronous; settle until the RPC queue stays empty.
    const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
    if (typeof wait !== "function") throw new Error("this @pulumi/pulumi has no runtime.waitForRPCs");
    await wait();
}

/** The value of an Output, as a promise. */
export function valueOf<T>(output: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

export function isSecretOutput<T>(output: pulumi.Output<T>): Promise<boolean> {
    return pulumi.isSecret(output);
}

export function isSecretWrapper(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

export function unwrapSecrets(value: unknown): unknown {
    if (isSecretWrapper(value)) return unwrapSecrets(value.value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/**
 * Paths at which one of `needles` appears in plain text, i.e. not inside a secret wrapper.
 * A needle inside a longer string counts (URLs carry passwords).
 */
export function plaintextOccurrences(value: unknown, needles: string[], path = ""): string[] {
    if (isSecretWrapper(value)) return [];
    if (typeof value === "string") return needles.some((n) => value.includes(n)) ? [path || "(value)"] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => plaintextOccurrences(v, needles, `${path}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => plaintextOccurrences(v, needles, path ? `${path}.${k}` : k));
    }
    return [];
}

/** Finders over a run's resources that fail loudly when the resource is not there. */
export function finder(resources: RecordedResource[]) {
    return {
        all: (type: string) => resources.filter((r) => r.type === type),
        one(type: string, name: string): RecordedResource {
            const found = resources.filter((r) => r.type === type && r.name === name);
            if (found.length !== 1) {
                const names = resources.filter((r) => r.type === type).map((r) => r.name);
                throw new Error(`expected one ${type} named ${name}, found ${found.length}; registered: ${names.join(", ") || "none"}`);
            }
            return found[0];
        },
        byUrn: (urn: string) => resources.find((r) => r.urn === urn),
    };
}
