// Qdrant as the program knows it: defaults, its config keys (an app's collections), what an app
// receives, and the facts config and components share. Pure: the components load on demand.
import { z } from "zod";
import { EngineDescriptor, serverArgsOf, tenantSpecsOf } from "../engine";
import type { QdrantCredentials } from "./qdrant";
import { QDRANT_BACKUP } from "./qdrant-backup";

export const QDRANT_DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"] as const;
export type QdrantDistance = (typeof QDRANT_DISTANCES)[number];

export interface QdrantCollectionSpec {
    size: number;
    distance: QdrantDistance;
}

/** The full name of an app's collection: `<app>_<name>`. */
export function collectionName(app: string, name: string): string {
    return `${app}_${name}`;
}

/**
 * Apps on one server whose collections get the same full name (app `a` with `b_c`, app `a_b`
 * with `c`): both tokens would open it. Each clash names the later app, sorted by app name.
 */
export function qdrantCollectionClashes(tenants: { app: string; collections: Record<string, unknown> }[]): { app: string; problem: string }[] {
    const owners = new Map<string, string>();
    const clashes: { app: string; problem: string }[] = [];
    for (const t of [...tenants].sort((a, b) => a.app.localeCompare(b.app))) {
        for (const name of Object.keys(t.collections).sort()) {
            const full = collectionName(t.app, name);
            const owner = owners.get(full);
            if (owner === undefined) owners.set(full, `${t.app} (${name})`);
            else clashes.push({ app: t.app, problem: `collection ${name} is named ${full} on the server, as is ${owner}'s; an app's token would open the other's: rename one` });
        }
    }
    return clashes;
}

const appKeys = {
    collections: z
        .record(
            z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: "a collection name: up to 63 lowercase letters, digits, '_' or '-'" }),
            z.strictObject({
                size: z.number().int().min(1).max(65536),
                distance: z.enum(QDRANT_DISTANCES),
            }),
        )
        .refine((c) => Object.keys(c).length > 0, { error: "at least one collection; an app's token lists exactly its collections" }),
};

export interface QdrantTenantOptions {
    collections: Record<string, QdrantCollectionSpec>;
}

const ENV_KEYS = ["QDRANT_URL", "QDRANT_API_KEY", "QDRANT_COLLECTION_PREFIX"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./qdrant") as typeof import("./qdrant");
const loadUsage = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./qdrant-usage") as typeof import("./qdrant-usage");

export const qdrantEngine: EngineDescriptor<"qdrant", object, QdrantTenantOptions, object, QdrantTenantOptions, QdrantCredentials> = {
    name: "qdrant",
    title: "Qdrant",
    defaults: {
        repository: "qdrant/qdrant",
        version: "v1.17.0",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "1Gi", cpu: "1" } },
        port: 6333,
        // The `-unprivileged` images run as this uid.
        uid: 1000,
        dataPath: "/qdrant/storage",
    },
    engineKeys: {},
    appKeys,
    reserved: { names: [], prefixes: [] },
    // The non-root image is a tag variant.
    imageSuffix: () => "-unprivileged",
    resolveSettings: () => ({ options: {}, problems: [] }),
    resolveTenant: (raw) => ({ options: { collections: raw.collections }, problems: [] }),
    serverProblems: (server) =>
        qdrantCollectionClashes(server.tenants.map((t) => ({ app: t.app, collections: t.options.collections }))).map((c) => `apps.${c.app}.qdrant.collections: ${c.problem}`),
    backup: QDRANT_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({
        QDRANT_URL: c.url,
        QDRANT_API_KEY: c.apiKey,
        QDRANT_COLLECTION_PREFIX: c.collectionPrefix,
    }),
    // Qdrant's /metrics wants an API key, and any key it takes (read-only included) also reads
    // every tenant's collections: Prometheus would hold a key to all tenants' data.
    metricsSource: () => ({ none: "Qdrant's /metrics requires an API key that also reads every collection; run npm run usage instead" }),
    usage: () => loadUsage().qdrantUsage,
    createServer(plan, context) {
        const args = { ...serverArgsOf(plan, context), tenants: tenantSpecsOf(plan, context) };
        return new (load().QdrantServer)(plan.name, args, { parent: context.parent });
    },
};
