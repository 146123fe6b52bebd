// RedisAclUser: a tenant's ACL user on a running Redis server, managed through the admin user
// (a dynamic provider built on node-redis). It generates the user's password on create and keeps
// it (a secret output). Create and update are idempotent (`ACL SETUSER ... reset` rewrites the
// user whatever it was), every change is persisted with `ACL SAVE`, and read notices a user that
// disappeared (e.g. a wiped volume) so the next `pulumi up` recreates it, or whose rights differ
// from what this program grants (changed by hand, or a server upgraded to a Redis that knows more
// of the listed commands) so the next `pulumi up` rewrites it.
//
// The allow-list names commands of newer Redis versions too, and `ACL SETUSER` refuses a whole user
// for one unknown command name, so the provider asks the server (`COMMAND LIST`) and grants only the
// listed commands it knows. The state's `rules` keep the full list, so `diff` does not depend on
// the server.
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, AdminConnectionArgs, adminError } from "../admin-connection";
import { aclUserFields, allowedCommands, knownRules, monitorAclRules, ruleCategories, sha256, tenantAclRules, tenantSetUserCommand, tenantUserDifferences } from "./redis-acl";

export interface RedisAclUserArgs extends AdminConnectionArgs {
    /** The tenant's user name; also its key prefix. */
    user: string;
    /** Scripting commands too (a server with this one tenant only). */
    scripting: boolean;
    /** The server's monitoring user (monitorAclRules) instead of a tenant. @default false */
    monitor?: boolean;
    /** The user's password, when something else must know it before the user exists (the exporter). @default generated on create */
    password?: pulumi.Input<string>;
    /**
     * The server's image (or version). A new one may know more of the listed commands, and the
     * rules Redis 7.0 saved (folded into categories) are read again by the new version: a change
     * rewrites the user once the server runs it.
     */
    serverImage?: pulumi.Input<string>;
    /**
     * false: the user is off and its open connections are closed (an app that moved to another
     * server: its keys stay here, its login does not). @default true
     */
    enabled?: pulumi.Input<boolean>;
}

export interface RedisAclUserState extends AdminConnection {
    user: string;
    scripting: boolean;
    monitor?: boolean;
    serverImage?: string;
    enabled?: boolean;
    /** Generated on create: 32 alphanumeric characters (URL-safe). */
    password: string;
    /** What the user may do, to notice rule changes between versions of this program. */
    rules: string;
}

type Inputs = Omit<RedisAclUserState, "rules" | "password"> & { password?: string };

const PASSWORD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function generatePassword(): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { randomInt } = require("crypto") as typeof import("crypto");
    return Array.from({ length: 32 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join("");
}

const USER_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;
const MONITOR_USER_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;

/** The rules of this user: a tenant's, or the monitoring user's. */
function rulesOf(props: { user: string; scripting?: boolean; monitor?: boolean }): string[] {
    return props.monitor ? monitorAclRules() : tenantAclRules(props.user, { scripting: props.scripting ?? false });
}

/** Runs `fn` with a client logged in as the admin; turns connection failures into a clear error. */
async function withAdmin<T>(props: Inputs, action: string, fn: (send: (args: string[]) => Promise<unknown>) => Promise<T>): Promise<T> {
    // Required here, not at the top: this function is serialized into the dynamic provider.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createClient } = require("redis") as typeof import("redis");
    const client = createClient({
        socket: { host: props.host, port: Number(props.port), connectTimeout: 10000, reconnectStrategy: false },
        username: props.adminUser,
        password: props.adminPassword,
    });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (err) {
        throw adminError(`Redis at ${props.host}:${props.port}`, props.adminUser, action, err);
    }
    try {
        return await fn((args) => client.sendCommand(args));
    } finally {
        client.destroy();
    }
}

/** The server's command names (`container|subcommand` for subcommands), lower-case. */
async function knownCommands(props: Inputs, send: (args: string[]) => Promise<unknown>): Promise<Set<string>> {
    let names: unknown;
    try {
        names = await send(["COMMAND", "LIST"]);
    } catch (err) {
        // Redis 6 has no COMMAND LIST; nor does it refuse SORT BY/GET patterns to tenants.
        throw new Error(`Redis at ${props.host}:${props.port} did not answer COMMAND LIST (${(err as Error).message}); tenant users need Redis 7.0 or newer.`);
    }
    return new Set((names as string[]).map((n) => String(n).toLowerCase()));
}

async function applyUser(props: Inputs, password: string): Promise<RedisAclUserState> {
    const enabled = props.enabled !== false;
    const options = { scripting: props.scripting ?? false, enabled };
    await withAdmin(props, `set ACL user ${props.user}`, async (send) => {
        const known = await knownCommands(props, send);
        await send(props.monitor ? ["ACL", "SETUSER", props.user, "reset", "on", `#${sha256(password)}`, ...knownRules(monitorAclRules(), known)] : tenantSetUserCommand(props.user, password, options, known));
        // An off user's open connections stay logged in until they are closed.
        if (!enabled) await send(["CLIENT", "KILL", "USER", props.user]);
        await send(["ACL", "SAVE"]);
    });
    return { ...props, scripting: options.scripting, password, rules: rulesOf(props).join(" ") };
}

export const redisAclUserProvider: pulumi.dynamic.ResourceProvider<Inputs, RedisAclUserState> = {
    async check(_olds, news) {
        const valid = (news.monitor ? MONITOR_USER_PATTERN : USER_PATTERN).test(news.user);
        const failures = valid ? [] : [{ property: "user", reason: `${JSON.stringify(news.user)} is not a valid ${news.monitor ? "monitoring" : "tenant"} user name` }];
        return { inputs: news, failures };
    },

    async diff(_id, olds, news) {
        // A new user name is a new user; new rules (a newer version of this program, scripting on
        // or off) or a new server image an update. Connection details (host, port, admin
        // password) do not change the user itself.
        const replaces = olds.user !== news.user ? ["user"] : [];
        const changes =
            replaces.length > 0 ||
            olds.rules !== rulesOf(news).join(" ") ||
            (news.password !== undefined && news.password !== olds.password) ||
            (olds.serverImage ?? "") !== (news.serverImage ?? "") ||
            (olds.enabled !== false) !== (news.enabled !== false) ||
            // Not known yet (a preview before the copy ran): shown as a change.
            (news.enabled !== undefined && typeof news.enabled !== "boolean");
        return { changes, replaces };
    },

    async create(inputs) {
        return { id: inputs.user, outs: await applyUser(inputs, inputs.password ?? generatePassword()) };
    },

    async update(_id, olds, news) {
        return { outs: await applyUser(news, news.password ?? olds.password) };
    },

    async delete(_id, props) {
        await withAdmin(props, `delete ACL user ${props.user}`, async (send) => {
            await send(["ACL", "DELUSER", props.user]);
            await send(["ACL", "SAVE"]);
        });
    },

    async read(id, props) {
        const current = props as RedisAclUserState;
        return withAdmin(current, `read ACL user ${current.user}`, async (send) => {
            const live = await send(["ACL", "GETUSER", current.user]);
            if (live === null) return {};
            // Compared by what the rules allow: Redis shows them in its own words.
            const known = await knownCommands(current, send);
            const expectedRules = rulesOf(current);
            const liveRules = String(aclUserFields(live).get("commands") ?? "").split(" ");
            const categories = new Map<string, string[]>();
            for (const c of ruleCategories([...expectedRules, ...liveRules])) categories.set(c, ((await send(["ACL", "CAT", c])) as string[]).map(String));
            const expected = allowedCommands(knownRules(expectedRules, known), known, categories);
            const patterns = current.monitor ? { keys: ["%R~*"], channels: [] } : undefined;
            const differences = tenantUserDifferences(live, current.user, sha256(current.password), expected, allowedCommands(liveRules, known, categories), patterns, current.enabled !== false);
            // Other rules in the state make the next diff an update, which rewrites the user.
            return { id, props: differences.length === 0 ? current : { ...current, rules: `differs on the server: ${differences.join("; ")}` } };
        });
    },
};

export class RedisAclUser extends pulumi.dynamic.Resource {
    declare readonly user: pulumi.Output<string>;
    /** Secret. */
    declare readonly password: pulumi.Output<string>;

    constructor(name: string, args: RedisAclUserArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            redisAclUserProvider,
            name,
            { ...args, password: args.password, rules: undefined },
            // Provider state keeps the passwords it needs for later updates and deletes: secret.
            { ...opts, additionalSecretOutputs: ["adminPassword", "password"] },
            "redis",
            "AclUser",
        );
    }
}
