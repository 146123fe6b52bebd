// RedisAclUser: a tenant's ACL user on a running Redis server, managed through the admin user
// (a dynamic provider built on node-redis). It generates the user's password on create and keeps
// it (a secret output). Create and update are idempotent (`ACL SETUSER ... reset` rewrites the
// user whatever it was), every change is persisted with `ACL SAVE`, and read notices a user that
// disappeared (e.g. a wiped volume) so the next `pulumi up` recreates it.
import * as pulumi from "@pulumi/pulumi";
import { tenantAclRules, tenantSetUserCommand } from "./redis-acl";

export interface RedisAclUserArgs {
    /** Where `pulumi up` reaches the server's admin port. */
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    adminUser: pulumi.Input<string>;
    adminPassword: pulumi.Input<string>;
    /** The tenant's user name; also its key prefix. */
    user: string;
}

export interface RedisAclUserState {
    host: string;
    port: number;
    adminUser: string;
    adminPassword: string;
    user: string;
    /** Generated on create: 32 alphanumeric characters (URL-safe). */
    password: string;
    /** What the user may do, to notice rule changes between versions of this program. */
    rules: string;
}

type Inputs = Omit<RedisAclUserState, "rules" | "password">;

const PASSWORD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function generatePassword(): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { randomInt } = require("crypto") as typeof import("crypto");
    return Array.from({ length: 32 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join("");
}

const USER_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

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
        const message = (err as Error).message;
        const hint = /WRONGPASS|NOAUTH/.test(message)
            ? "The server does not accept the admin password it was started with; was its data volume reused from another stack?"
            : "The server must be reachable from where `pulumi up` runs (see adminEndpoint).";
        throw new Error(`cannot connect to Redis at ${props.host}:${props.port} as ${props.adminUser} to ${action}: ${message}. ${hint}`);
    }
    try {
        return await fn((args) => client.sendCommand(args));
    } finally {
        client.destroy();
    }
}

async function applyUser(props: Inputs, password: string): Promise<RedisAclUserState> {
    await withAdmin(props, `set ACL user ${props.user}`, async (send) => {
        await send(tenantSetUserCommand(props.user, password));
        await send(["ACL", "SAVE"]);
    });
    return { ...props, password, rules: tenantAclRules(props.user).join(" ") };
}

export const redisAclUserProvider: pulumi.dynamic.ResourceProvider<Inputs, RedisAclUserState> = {
    async check(_olds, news) {
        const failures = USER_PATTERN.test(news.user) ? [] : [{ property: "user", reason: `${JSON.stringify(news.user)} is not a valid tenant user name` }];
        return { inputs: news, failures };
    },

    async diff(_id, olds, news) {
        // A new user name is a new user; new rules (a newer version of this program) an update.
        // Connection details (host, port, admin password) do not change the user itself.
        const replaces = olds.user !== news.user ? ["user"] : [];
        const changes = replaces.length > 0 || olds.rules !== tenantAclRules(news.user).join(" ");
        return { changes, replaces };
    },

    async create(inputs) {
        return { id: inputs.user, outs: await applyUser(inputs, generatePassword()) };
    },

    async update(_id, olds, news) {
        return { outs: await applyUser(news, olds.password) };
    },

    async delete(_id, props) {
        await withAdmin(props, `delete ACL user ${props.user}`, async (send) => {
            await send(["ACL", "DELUSER", props.user]);
            await send(["ACL", "SAVE"]);
        });
    },

    async read(id, props) {
        const current = props as RedisAclUserState;
        const exists = await withAdmin(current, `read ACL user ${current.user}`, async (send) => (await send(["ACL", "GETUSER", current.user])) !== null);
        return exists ? { id, props: current } : {};
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
            { ...args, password: undefined, rules: undefined },
            // Provider state keeps the passwords it needs for later updates and deletes: secret.
            { ...opts, additionalSecretOutputs: ["adminPassword", "password"] },
            "redis",
            "AclUser",
        );
    }
}
