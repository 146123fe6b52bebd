// Neo4j: a server (Community or Enterprise). Enterprise tenants get their own database, a user
// whose home database it is and a role with rights on it only. Community has one user database
// and no per-user rights, so its only tenant (dedicated) receives the server's own credentials
// and database `neo4j`.
import * as pulumi from "@pulumi/pulumi";
import { generatedPassword } from "../../infra/passwords";
import { parseMemoryMi } from "../../infra/quantities";
import { Tenant, PasswordCredentials } from "../credentials";
import { Neo4jDatabase, Neo4jUser } from "./neo4j-admin";
import { tenancyDataOptions } from "../options";
import { ServerArgsBase, TenantSpecBase, startServer, tenantsOf, checkServerArgs, checkTenantArgs } from "../server";
import { defaultImage } from "../engine";
import { Neo4jEdition, neo4jCommunityCannotHold, neo4jDatabaseName, neo4jEngine } from "./engine";
import { NEO4J_METRICS, neo4jMetricsEnv } from "./neo4j-metrics";

export const NEO4J_BOLT_PORT = neo4jEngine.defaults.port;
export const NEO4J_ADMIN_USER = "neo4j";
export { neo4jDatabaseName } from "./engine";
export type { Neo4jEdition } from "./engine";

export type Neo4jTenantSpec = TenantSpecBase;

export interface Neo4jServerArgs extends ServerArgsBase<Neo4jTenantSpec> {
    /** @default community (at most one tenant) */
    edition?: Neo4jEdition;
}

export interface Neo4jCredentials extends PasswordCredentials {
    database: string;
    /** bolt://host:port, without credentials: Neo4j drivers take them apart. */
    uri: string;
}

export class Neo4jServer extends pulumi.ComponentResource {
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly tenants: Record<string, Neo4jTenant>;

    constructor(name: string, args: Neo4jServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:neo4j:Neo4jServer", name, {}, opts);
        checkServerArgs(neo4jEngine, name, args, { edition: args.edition ?? "community" });
        const edition = args.edition ?? "community";
        if (neo4jCommunityCannotHold(edition, args.tenants.length)) {
            throw new Error(
                `Neo4jServer ${name}: Community has one user database and no per-user rights, so it cannot hold ${args.tenants.length} tenants; ` +
                    "use the enterprise edition or one server per app",
            );
        }
        if (args.monitoring && edition !== "enterprise") throw new Error(`Neo4jServer ${name}: Community serves no metrics; only Enterprise has a Prometheus endpoint`);
        const adminPassword = generatedPassword(`${name}-admin-password`, { parent: this });
        // Heap and page cache from the memory limit, so the JVM stays inside it.
        const limitMi = parseMemoryMi(args.resources.limits.memory);
        const { running, admin: address, protect } = startServer(this, name, neo4jEngine, args, {
            defaultImage: defaultImage(neo4jEngine, args.version, neo4jEngine.imageSuffix?.({ edition })),
            env: {
                NEO4J_server_memory_heap_initial__size: `${Math.floor(limitMi / 2)}m`,
                NEO4J_server_memory_heap_max__size: `${Math.floor(limitMi / 2)}m`,
                NEO4J_server_memory_pagecache_size: `${Math.floor(limitMi / 4)}m`,
                ...(edition === "enterprise" ? { NEO4J_ACCEPT_LICENSE_AGREEMENT: "yes" } : {}),
                ...(args.monitoring ? neo4jMetricsEnv() : {}),
            },
            secretEnv: { NEO4J_AUTH: pulumi.interpolate`${NEO4J_ADMIN_USER}/${adminPassword.result}` },
            // The image's entrypoint writes its settings into the config directory at start.
            writableRoot: true,
            metrics: args.monitoring ? NEO4J_METRICS : undefined,
            readinessCommand: [
                "sh",
                "-c",
                `cypher-shell -a bolt://127.0.0.1:${NEO4J_BOLT_PORT} -u ${NEO4J_ADMIN_USER} -p "\${NEO4J_AUTH#${NEO4J_ADMIN_USER}/}" "RETURN 1" > /dev/null`,
            ],
        });
        this.host = running.host;
        this.port = running.port;
        const admin = {
            uri: pulumi.interpolate`bolt://${address.host}:${address.port}`,
            password: pulumi.secret(adminPassword.result),
            ready: running.ready,
        };

        this.tenants = tenantsOf("neo4j", { name, component: this }, args.tenants, (tenant, t, opts) => new Neo4jTenant(tenant, { ...t, edition, admin, protect, host: this.host, port: this.port }, opts));
        this.registerOutputs({ host: this.host, port: this.port });
    }
}

export interface Neo4jTenantArgs extends Neo4jTenantSpec {
    edition: Neo4jEdition;
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    admin: { uri: pulumi.Input<string>; password: pulumi.Input<string>; ready: pulumi.Resource };
    protect?: boolean;
}

export class Neo4jTenant extends pulumi.ComponentResource implements Tenant {
    readonly app: string;
    readonly engine = "neo4j";
    readonly credentials: pulumi.Output<Neo4jCredentials>;

    constructor(name: string, args: Neo4jTenantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenant-databases:neo4j:Neo4jTenant", name, {}, opts);
        checkTenantArgs(neo4jEngine, name, args, { edition: args.edition });
        this.app = args.app;
        const host = pulumi.output(args.host);
        const port = pulumi.output(args.port);
        const uri = pulumi.interpolate`bolt://${host}:${port}`;

        let user: pulumi.Output<string>;
        let password: pulumi.Output<string>;
        let database: pulumi.Output<string>;
        if (args.edition === "community") {
            // The server's only user database, with the server's credentials.
            user = pulumi.output(NEO4J_ADMIN_USER);
            password = pulumi.secret(args.admin.password);
            database = pulumi.output("neo4j");
        } else {
            const connection = { uri: args.admin.uri, adminUser: NEO4J_ADMIN_USER, adminPassword: args.admin.password };
            const db = new Neo4jDatabase(
                `${name}-database`,
                { ...connection, database: neo4jDatabaseName(args.app) },
                { parent: this, dependsOn: [args.admin.ready], ...tenancyDataOptions(args) },
            );
            password = pulumi.secret(generatedPassword(`${name}-password`, { parent: this }).result);
            const account = new Neo4jUser(
                `${name}-user`,
                { ...connection, user: args.app, database: neo4jDatabaseName(args.app), password },
                { parent: this, dependsOn: [db] },
            );
            user = account.user;
            database = pulumi.output(neo4jDatabaseName(args.app));
        }
        this.credentials = pulumi.output({ host, port, database, user, password, uri });
        this.registerOutputs({ credentials: this.credentials });
    }
}
