// MongoDB tenancy through the admin user (dynamic providers built on the official `mongodb`
// driver; no Pulumi provider exists):
// - MongoUser: a user defined in the app's database with readWrite on it only (authSource = that
//   database). Deleted with its app, which revokes access. Disabled (`enabled: false`) when the app
//   moved to another server: MongoDB has no flag for that, so the user keeps its password but has
//   no role, and its sessions and operations are ended.
// - MongoDatabase: the app's database as data: deleting it drops the database, so it is kept on
//   delete unless the app is decommissioned. (MongoDB creates a database on first write.)
// The commands are built by pure functions (tested); a runner executes them.
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, adminError } from "../admin-connection";

export type MongoAdminConnection = AdminConnection;

/** A database command: which database it runs on, and the command document. */
export interface MongoCommand {
    db: string;
    command: Record<string, unknown>;
}

export const TENANT_ROLES = (database: string) => [{ role: "readWrite", db: database }];

/** A user's roles, as createUser takes them. */
export type MongoRoles = { role: string; db: string }[];

/**
 * Makes `user` exactly a user of `database` with `password` and `roles` (a tenant's: readWrite on
 * that database), whether or not it existed.
 */
export function userCommands(user: string, database: string, password: string, exists: boolean, roles: MongoRoles = TENANT_ROLES(database)): MongoCommand[] {
    const body = { pwd: password, roles };
    return [{ db: database, command: exists ? { updateUser: user, ...body } : { createUser: user, ...body } }];
}

export function dropUserCommands(user: string, database: string): MongoCommand[] {
    return [{ db: database, command: { dropUser: user } }];
}

export function usersInfoCommand(user: string, database: string): MongoCommand {
    return { db: database, command: { usersInfo: { user, db: database } } };
}

/**
 * The owner MongoDB files a user's sessions under (their `uid`): SHA-256 of `<user>@<db>`
 * (getLogicalSessionUserDigestFor in the server's logical_session_id_helpers.cpp).
 */
export function sessionOwner(user: string, database: string): Buffer {
    // Required here, not at the top: this function is serialized into the dynamic providers.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createHash } = require("crypto") as typeof import("crypto");
    return createHash("sha256").update(`${user}@${database}`).digest();
}

/**
 * Ends the user's sessions: their running operations and open cursors, and their transactions,
 * which could otherwise still commit writes. By owner: the `users` pattern needs the `impersonate`
 * privilege, which the root admin lacks; `killAnySession` (root's) is enough for this one.
 */
export function endSessionsCommand(user: string, database: string): MongoCommand {
    return { db: "admin", command: { killAllSessionsByPattern: [{ uid: sessionOwner(user, database) }] } };
}

/** The user's operations in progress (`inprog`, each with its `opid`), outside sessions too. */
export function userOperationsCommand(user: string, database: string): MongoCommand {
    return { db: "admin", command: { currentOp: 1, "effectiveUsers.user": user, "effectiveUsers.db": database } };
}

export function killOpCommand(opid: unknown): MongoCommand {
    return { db: "admin", command: { killOp: 1, op: opid } };
}

/** Runs commands in order and returns their replies; a seam for tests without a server. */
export type MongoRunner = (connection: MongoAdminConnection, action: string, commands: MongoCommand[]) => Promise<Record<string, unknown>[]>;

/** A runner that gives up finding the server after `selectionTimeoutMs`. */
export function adminRunner(selectionTimeoutMs: number): MongoRunner {
    return (connection, action, commands) => runCommands(connection, action, commands, selectionTimeoutMs);
}

async function runCommands(connection: MongoAdminConnection, action: string, commands: MongoCommand[], selectionTimeoutMs: number): Promise<Record<string, unknown>[]> {
    // Required here, not at the top: this function is serialized into the dynamic providers.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MongoClient } = require("mongodb") as typeof import("mongodb");
    const client = new MongoClient(`mongodb://${connection.host}:${connection.port}/`, {
        auth: { username: connection.adminUser, password: connection.adminPassword },
        authSource: "admin",
        directConnection: true,
        serverSelectionTimeoutMS: selectionTimeoutMs,
        connectTimeoutMS: 10000,
    });
    try {
        await client.connect();
        const replies: Record<string, unknown>[] = [];
        for (const c of commands) replies.push(await client.db(c.db).command(c.command));
        return replies;
    } catch (err) {
        throw adminError(`MongoDB at ${connection.host}:${connection.port}`, connection.adminUser, action, err);
    } finally {
        await client.close().catch(() => undefined);
    }
}

/** The runner the providers use: ten seconds to find the server. */
export const runAsAdmin: MongoRunner = adminRunner(10000);

export interface MongoUserState extends MongoAdminConnection {
    user: string;
    database: string;
    password: string;
    /** @default readWrite on `database` (a tenant) */
    roles?: MongoRoles;
    /**
     * false: the user has no role and its sessions and operations are ended (an app that moved to
     * another server: its data stays here, its rights do not). It can still log in, and then do
     * nothing but what needs no privilege (ping, hello, its own connectionStatus). @default true
     */
    enabled?: boolean;
}

/** The roles the user is to have: none when disabled. */
export function rolesOf(p: Pick<MongoUserState, "database" | "roles" | "enabled">): MongoRoles {
    return p.enabled === false ? [] : (p.roles ?? TENANT_ROLES(p.database));
}

/** Roles in one order, with their name and database only: two lists of the same roles compare equal. */
function sortedRoles(roles: MongoRoles): MongoRoles {
    return roles.map((r) => ({ role: String(r.role), db: String(r.db) })).sort((a, b) => (a.db === b.db ? a.role.localeCompare(b.role) : a.db.localeCompare(b.db)));
}

const sameRoles = (a: MongoRoles, b: MongoRoles) => JSON.stringify(sortedRoles(a)) === JSON.stringify(sortedRoles(b));

/** The user as the server has it (usersInfo), or undefined when it does not exist. */
async function findUser(run: MongoRunner, props: MongoUserState): Promise<{ roles?: unknown } | undefined> {
    const [reply] = await run(props, `look up user ${props.user}`, [usersInfoCommand(props.user, props.database)]);
    return Array.isArray(reply.users) && reply.users.length > 0 ? (reply.users[0] as { roles?: unknown }) : undefined;
}

/**
 * The state as the server has the user: `current` when its roles are the ones the state gives it;
 * otherwise what it has (no role: disabled; other roles: enabled with those), which the next diff
 * finds different from the inputs, so `pulumi up` puts the user back as the program makes it.
 */
export function stateAsFound(current: MongoUserState, found: { roles?: unknown }): MongoUserState {
    if (!Array.isArray(found.roles)) return current;
    const live = sortedRoles(found.roles as MongoRoles);
    if (sameRoles(live, rolesOf(current))) return current;
    return live.length === 0 ? { ...current, enabled: false } : { ...current, enabled: true, roles: live };
}

export function mongoUserProvider(run: MongoRunner = runAsAdmin): pulumi.dynamic.ResourceProvider<MongoUserState, MongoUserState> {
    const apply = async (props: MongoUserState, action: string) => {
        const exists = (await findUser(run, props)) !== undefined;
        await run(props, action, userCommands(props.user, props.database, props.password, exists, rolesOf(props)));
        if (props.enabled === false) {
            // A role change applies to the user's next commands; what runs already is ended here.
            const [, operations] = await run(props, `end the sessions of ${props.user}`, [endSessionsCommand(props.user, props.database), userOperationsCommand(props.user, props.database)]);
            const running = Array.isArray(operations?.inprog) ? (operations.inprog as { opid: unknown }[]) : [];
            if (running.length > 0) await run(props, `end the operations of ${props.user}`, running.map((op) => killOpCommand(op.opid)));
        }
        return props;
    };
    return {
        async diff(_id, olds, news) {
            const replaces = olds.user !== news.user || olds.database !== news.database ? ["user"] : [];
            return { changes: replaces.length > 0 || olds.password !== news.password || !sameRoles(rolesOf(olds), rolesOf(news)), replaces };
        },
        async create(inputs) {
            return { id: `${inputs.database}.${inputs.user}`, outs: await apply(inputs, `create user ${inputs.user}`) };
        },
        async update(_id, _olds, news) {
            return { outs: await apply(news, `update user ${news.user}`) };
        },
        async delete(_id, props) {
            if ((await findUser(run, props)) !== undefined) await run(props, `drop user ${props.user}`, dropUserCommands(props.user, props.database));
        },
        async read(id, props) {
            const current = props as MongoUserState;
            const found = await findUser(run, current);
            return found === undefined ? {} : { id, props: stateAsFound(current, found) };
        },
    };
}

export interface MongoDatabaseState extends MongoAdminConnection {
    database: string;
}

export function mongoDatabaseProvider(run: MongoRunner = runAsAdmin): pulumi.dynamic.ResourceProvider<MongoDatabaseState, MongoDatabaseState> {
    return {
        async diff(_id, olds, news) {
            return { changes: olds.database !== news.database, replaces: olds.database !== news.database ? ["database"] : [] };
        },
        async create(inputs) {
            // Nothing to create: MongoDB creates the database on the app's first write.
            return { id: inputs.database, outs: inputs };
        },
        async update(_id, _olds, news) {
            return { outs: news };
        },
        async delete(_id, props) {
            await run(props, `drop database ${props.database}`, [{ db: props.database, command: { dropDatabase: 1 } }]);
        },
    };
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

// One provider object each: Pulumi serializes a dynamic provider once per object.
const userProvider = mongoUserProvider();
const databaseProvider = mongoDatabaseProvider();

export class MongoUser extends pulumi.dynamic.Resource {
    declare readonly user: pulumi.Output<string>;

    constructor(name: string, args: Inputs<MongoUserState>, opts?: pulumi.CustomResourceOptions) {
        super(userProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["adminPassword", "password"] }, "mongodb", "User");
    }
}

export class MongoDatabase extends pulumi.dynamic.Resource {
    constructor(name: string, args: Inputs<MongoDatabaseState>, opts?: pulumi.CustomResourceOptions) {
        super(databaseProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["adminPassword"] }, "mongodb", "Database");
    }
}
