// Neo4j Enterprise tenancy through the admin user (dynamic providers built on neo4j-driver):
// - Neo4jDatabase: the tenant's database (data: kept on delete unless decommissioned).
// - Neo4jUser: the tenant's user, whose home database is its own, and a role with every right on
//   that database and none elsewhere. Deleted with its app, which revokes access.
// The Cypher is built by pure functions (tested); names are quoted, the password is a parameter.
import * as pulumi from "@pulumi/pulumi";
import { adminError } from "../admin-connection";

export interface Neo4jAdminConnection {
    /** bolt://host:port where `pulumi up` reaches the server. */
    uri: string;
    adminUser: string;
    adminPassword: string;
}

export interface CypherStatement {
    text: string;
    parameters?: Record<string, unknown>;
}

/** Backtick-quotes a Neo4j name. */
export function quoteName(name: string): string {
    return `\`${name.replace(/`/g, "``")}\``;
}

/** The role that carries a tenant's rights. */
export function tenantRole(user: string): string {
    return `${user}_tenant`;
}

export function createDatabaseStatements(database: string): CypherStatement[] {
    return [{ text: `CREATE DATABASE ${quoteName(database)} IF NOT EXISTS WAIT` }];
}

export function dropDatabaseStatements(database: string): CypherStatement[] {
    return [{ text: `DROP DATABASE ${quoteName(database)} IF EXISTS WAIT` }];
}

/**
 * Makes `user` exactly a tenant of `database`, whatever it was before: the role is recreated with
 * all database and graph privileges on that database only; the user's home database is its own,
 * so the built-in PUBLIC role's "access on home database" reaches nothing else.
 */
export function userStatements(user: string, database: string, password: string): CypherStatement[] {
    const u = quoteName(user);
    const r = quoteName(tenantRole(user));
    const d = quoteName(database);
    return [
        { text: `DROP ROLE ${r} IF EXISTS` },
        { text: `CREATE ROLE ${r}` },
        { text: `GRANT ALL DATABASE PRIVILEGES ON DATABASE ${d} TO ${r}` },
        { text: `GRANT ALL GRAPH PRIVILEGES ON GRAPH ${d} TO ${r}` },
        { text: `CREATE OR REPLACE USER ${u} SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED SET HOME DATABASE ${d}`, parameters: { password } },
        { text: `GRANT ROLE ${r} TO ${u}` },
    ];
}

export function dropUserStatements(user: string): CypherStatement[] {
    return [{ text: `DROP USER ${quoteName(user)} IF EXISTS` }, { text: `DROP ROLE ${quoteName(tenantRole(user))} IF EXISTS` }];
}

/** Runs statements one by one on the system database; a seam for tests without a server. */
export type CypherRunner = (connection: Neo4jAdminConnection, action: string, statements: CypherStatement[]) => Promise<Record<string, unknown>[][]>;

export const runOnSystemDatabase: CypherRunner = async (connection, action, statements) => {
    // Required here, not at the top: this function is serialized into the dynamic providers.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const neo4j = require("neo4j-driver") as typeof import("neo4j-driver");
    const driver = neo4j.driver(connection.uri, neo4j.auth.basic(connection.adminUser, connection.adminPassword), {
        connectionTimeout: 10000,
        maxConnectionLifetime: 60000,
    });
    const session = driver.session({ database: "system" });
    const results: Record<string, unknown>[][] = [];
    try {
        for (const s of statements) {
            const result = await session.run(s.text, s.parameters ?? {});
            results.push(result.records.map((r) => r.toObject()));
        }
        return results;
    } catch (err) {
        throw adminError(`Neo4j at ${connection.uri}`, connection.adminUser, action, err);
    } finally {
        await session.close().catch(() => undefined);
        await driver.close().catch(() => undefined);
    }
};

export interface Neo4jDatabaseState extends Neo4jAdminConnection {
    database: string;
}

export function neo4jDatabaseProvider(run: CypherRunner = runOnSystemDatabase): pulumi.dynamic.ResourceProvider<Neo4jDatabaseState, Neo4jDatabaseState> {
    return {
        async diff(_id, olds, news) {
            const replaces = olds.database !== news.database ? ["database"] : [];
            return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
        },
        async create(inputs) {
            await run(inputs, `create database ${inputs.database}`, createDatabaseStatements(inputs.database));
            return { id: inputs.database, outs: inputs };
        },
        async update(_id, _olds, news) {
            return { outs: news };
        },
        async delete(_id, props) {
            await run(props, `drop database ${props.database}`, dropDatabaseStatements(props.database));
        },
        async read(id, props) {
            const current = props as Neo4jDatabaseState;
            const [rows] = await run(current, `read database ${current.database}`, [{ text: "SHOW DATABASES YIELD name WHERE name = $name RETURN name", parameters: { name: current.database } }]);
            return rows.length > 0 ? { id, props: current } : {};
        },
    };
}

export interface Neo4jUserState extends Neo4jAdminConnection {
    user: string;
    database: string;
    password: string;
}

export function neo4jUserProvider(run: CypherRunner = runOnSystemDatabase): pulumi.dynamic.ResourceProvider<Neo4jUserState, Neo4jUserState> {
    return {
        async diff(_id, olds, news) {
            const replaces = olds.user !== news.user ? ["user"] : [];
            const changes = replaces.length > 0 || olds.database !== news.database || olds.password !== news.password;
            return { changes, replaces };
        },
        async create(inputs) {
            await run(inputs, `create user ${inputs.user}`, userStatements(inputs.user, inputs.database, inputs.password));
            return { id: inputs.user, outs: inputs };
        },
        async update(_id, _olds, news) {
            await run(news, `update user ${news.user}`, userStatements(news.user, news.database, news.password));
            return { outs: news };
        },
        async delete(_id, props) {
            await run(props, `drop user ${props.user}`, dropUserStatements(props.user));
        },
        async read(id, props) {
            const current = props as Neo4jUserState;
            const [rows] = await run(current, `read user ${current.user}`, [{ text: "SHOW USERS YIELD user WHERE user = $user RETURN user", parameters: { user: current.user } }]);
            return rows.length > 0 ? { id, props: current } : {};
        },
    };
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

// One provider object each: Pulumi serializes a dynamic provider once per object.
const databaseProvider = neo4jDatabaseProvider();
const userProvider = neo4jUserProvider();

export class Neo4jDatabase extends pulumi.dynamic.Resource {
    constructor(name: string, args: Inputs<Neo4jDatabaseState>, opts?: pulumi.CustomResourceOptions) {
        super(databaseProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["adminPassword"] }, "neo4j", "Database");
    }
}

export class Neo4jUser extends pulumi.dynamic.Resource {
    declare readonly user: pulumi.Output<string>;

    constructor(name: string, args: Inputs<Neo4jUserState>, opts?: pulumi.CustomResourceOptions) {
        super(userProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["adminPassword", "password"] }, "neo4j", "User");
    }
}
