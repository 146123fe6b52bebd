// MysqlConnectionLimit: `max_user_connections` of a tenant's MySQL account. @pulumi/mysql's User
// has no such argument, so this dynamic provider (built on mysql2) sets it with
// `ALTER USER ... WITH MAX_USER_CONNECTIONS n`, reads it back from mysql.user, and resets it to 0
// (unlimited) on delete. Idempotent: ALTER USER sets the value whatever it was. It also locks the
// account of a tenancy an app moved away from (`locked`).
import * as pulumi from "@pulumi/pulumi";
import { AdminConnection, AdminConnectionArgs, adminError } from "../admin-connection";

export interface MysqlConnectionLimitArgs extends AdminConnectionArgs {
    /** The account `'<user>'@'%'`; create it first (dependsOn). */
    user: pulumi.Input<string>;
    maxUserConnections: pulumi.Input<number>;
    /**
     * true: the account is locked and its connections are closed (an app that moved to another
     * server: its data stays here, its login does not). @default left as it is
     */
    locked?: pulumi.Input<boolean>;
}

export interface MysqlConnectionLimitState extends AdminConnection {
    user: string;
    maxUserConnections: number;
    locked?: boolean;
}

/** Runs `fn` on an admin connection; turns connection failures into a clear error. */
async function withAdmin<T>(props: MysqlConnectionLimitState, action: string, fn: (query: (sql: string, values?: unknown[]) => Promise<unknown>) => Promise<T>): Promise<T> {
    // Required here, not at the top: this function is serialized into the dynamic provider.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mysql = require("mysql2/promise") as typeof import("mysql2/promise");
    let connection;
    try {
        connection = await mysql.createConnection({
            host: props.host,
            port: Number(props.port),
            user: props.adminUser,
            password: props.adminPassword,
            connectTimeout: 10000,
        });
    } catch (err) {
        throw adminError(`MySQL at ${props.host}:${props.port}`, props.adminUser, action, err);
    }
    try {
        return await fn(async (sql, values) => (await connection.query(sql, values))[0]);
    } finally {
        await connection.end().catch(() => undefined);
    }
}

async function setLimit(props: MysqlConnectionLimitState): Promise<MysqlConnectionLimitState> {
    const limit = Number(props.maxUserConnections);
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`maxUserConnections must be a whole number >= 0, got ${props.maxUserConnections}`);
    await withAdmin(props, `limit connections of ${props.user}`, async (query) => {
        // Placeholders are escaped client-side by mysql2; the limit is a checked integer.
        await query(`ALTER USER ?@'%' WITH MAX_USER_CONNECTIONS ${limit}`, [props.user]);
        if (props.locked === undefined) return;
        await query(`ALTER USER ?@'%' ACCOUNT ${props.locked ? "LOCK" : "UNLOCK"}`, [props.user]);
        // A lock refuses new logins only: close the account's open connections too.
        if (props.locked) {
            const sessions = (await query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?", [props.user])) as { id: number }[];
            for (const { id } of sessions) await query(`KILL CONNECTION ${Number(id)}`).catch(() => undefined);
        }
    });
    return { ...props, maxUserConnections: limit };
}

/** Whether the account is locked, from `SHOW CREATE USER` (MySQL and MariaDB both print ACCOUNT LOCK). */
async function isLocked(query: (sql: string, values?: unknown[]) => Promise<unknown>, user: string): Promise<boolean> {
    const rows = (await query("SHOW CREATE USER ?@'%'", [user])) as Record<string, string>[];
    return / ACCOUNT LOCK\b/.test(Object.values(rows[0] ?? {})[0] ?? "");
}

export const mysqlConnectionLimitProvider: pulumi.dynamic.ResourceProvider<MysqlConnectionLimitState, MysqlConnectionLimitState> = {
    async diff(_id, olds, news) {
        const replaces = olds.user !== news.user ? ["user"] : [];
        const changes = replaces.length > 0 || Number(olds.maxUserConnections) !== Number(news.maxUserConnections) || (news.locked !== undefined && news.locked !== (olds.locked ?? false));
        return { changes, replaces };
    },
    async create(inputs) {
        return { id: `${inputs.user}@%`, outs: await setLimit(inputs) };
    },
    async update(_id, _olds, news) {
        return { outs: await setLimit(news) };
    },
    async delete(_id, props) {
        // The account may already be gone (dropped with its app): then there is nothing to reset.
        await withAdmin(props, `reset the connection limit of ${props.user}`, async (query) => {
            const rows = (await query("SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'", [props.user])) as unknown[];
            if (rows.length > 0) await query("ALTER USER ?@'%' WITH MAX_USER_CONNECTIONS 0", [props.user]);
        });
    },
    async read(id, props) {
        const current = props as MysqlConnectionLimitState;
        return withAdmin(current, `read the connection limit of ${current.user}`, async (query) => {
            const rows = (await query("SELECT max_user_connections AS n FROM mysql.user WHERE User = ? AND Host = '%'", [current.user])) as { n: number }[];
            if (rows.length === 0) return {};
            const locked = current.locked === undefined ? {} : { locked: await isLocked(query, current.user) };
            return { id, props: { ...current, maxUserConnections: Number(rows[0].n), ...locked } };
        });
    },
};

export class MysqlConnectionLimit extends pulumi.dynamic.Resource {
    constructor(name: string, args: MysqlConnectionLimitArgs, opts?: pulumi.CustomResourceOptions) {
        super(mysqlConnectionLimitProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["adminPassword"] }, "mysql", "ConnectionLimit");
    }
}
