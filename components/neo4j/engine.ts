// Neo4j as the program knows it: defaults, names it keeps, its config keys, what an app receives,
// and the rules config and components share. Pure: the components load on demand.
import { z } from "zod";
import { dnsName } from "../../infra/naming";
import { EngineDescriptor, serverArgsOf, tenantSpecsOf } from "../engine";
import type { Neo4jCredentials } from "./neo4j";
import { NEO4J_BACKUP } from "./neo4j-backup";

export type Neo4jEdition = "community" | "enterprise";

/** Neo4j database names allow no `_`: the app name with `-`. */
export function neo4jDatabaseName(app: string): string {
    return dnsName(app);
}

/** Community has one user database and no per-user rights: a server with more than one tenant cannot isolate them. */
export function neo4jCommunityCannotHold(edition: Neo4jEdition, tenants: number): boolean {
    return edition === "community" && tenants > 1;
}

const engineKeys = {
    edition: z.enum(["community", "enterprise"]).optional(),
    /** Enterprise only: sets NEO4J_ACCEPT_LICENSE_AGREEMENT=yes. */
    acceptLicenseAgreement: z.boolean().optional(),
};
type EngineRaw = { [K in keyof typeof engineKeys]?: z.infer<(typeof engineKeys)[K]> };

export interface Neo4jOptions {
    edition: Neo4jEdition;
}

const ENV_KEYS = ["NEO4J_URI", "NEO4J_DATABASE", "NEO4J_USERNAME", "NEO4J_PASSWORD"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./neo4j") as typeof import("./neo4j");

export const neo4jEngine: EngineDescriptor<"neo4j", EngineRaw, object, Neo4jOptions, object, Neo4jCredentials> = {
    name: "neo4j",
    title: "Neo4j",
    // Neo4j 5 LTS; a JVM: heap and page cache are sized from the memory limit.
    defaults: {
        repository: "neo4j",
        version: "5.26",
        storageGi: 2,
        resources: { requests: { memory: "1Gi", cpu: "250m" }, limits: { memory: "2Gi", cpu: "1" } },
        port: 7687,
        // The official image's neo4j user.
        uid: 7474,
        dataPath: "/data",
    },
    engineKeys,
    appKeys: {},
    reserved: { names: ["neo4j", "system"], prefixes: [] },
    // Enterprise is a tag variant.
    imageSuffix: (raw) => (raw.edition === "enterprise" ? "-enterprise" : ""),
    resolveSettings(raw, _base, path) {
        const edition = raw.edition ?? "community";
        const problems: string[] = [];
        if (edition === "enterprise" && raw.acceptLicenseAgreement !== true) {
            problems.push(`${path}.acceptLicenseAgreement: Neo4j Enterprise runs only once you accept its license (https://neo4j.com/terms/licensing/); set it to true`);
        } else if (edition !== "enterprise" && raw.acceptLicenseAgreement !== undefined) {
            problems.push(`${path}.acceptLicenseAgreement: only for edition enterprise`);
        }
        return { options: { edition }, problems };
    },
    // Community's one database is `neo4j`; Enterprise creates one per app.
    nameProblem: (app, settings) =>
        settings.edition === "enterprise" && neo4jDatabaseName(app).length < 3
            ? `Neo4j database names need at least 3 characters; ${JSON.stringify(app)} has ${app.length}`
            : undefined,
    resolveTenant: () => ({ options: {}, problems: [] }),
    serverProblems(server) {
        const apps = server.tenants.map((t) => t.app);
        return neo4jCommunityCannotHold(server.settings.options.edition, apps.length)
            ? [
                  `engines.neo4j: a shared Neo4j Community server cannot hold ${apps.length} apps (${apps.join(", ")}): Community has one user ` +
                      "database and no per-user rights; set engines.neo4j.edition: enterprise, or placement: dedicated",
              ]
            : [];
    },
    // Refuses every edition with the reason (see neo4j-backup.ts).
    backup: NEO4J_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({
        NEO4J_URI: c.uri,
        NEO4J_DATABASE: c.database,
        NEO4J_USERNAME: c.user,
        NEO4J_PASSWORD: c.password,
    }),
    // Enterprise serves Prometheus metrics itself; Community serves none.
    metricsSource: (settings) => (settings.edition === "enterprise" ? "endpoint" : { none: "Neo4j Community serves no metrics" }),
    createServer(plan, context) {
        const args = { ...serverArgsOf(plan, context), edition: plan.settings.options.edition, tenants: tenantSpecsOf(plan, context) };
        return new (load().Neo4jServer)(plan.name, args, { parent: context.parent });
    },
};
