// The stack config contract (DESIGN.md, "Stack config") as a zod schema: the shape of every key.
// Rules that relate keys to each other (engines enabled, Redis numbers, reserved names) live in
// validate.ts; this file only says what a well-formed value looks like.
import { z } from "zod";
import { QDRANT_DISTANCES } from "../components/qdrant/qdrant-admin";
import { REDIS_EVICTION_POLICIES } from "../components/redis/redis-settings";

export const ENGINES = ["postgresql", "mysql", "mongodb", "redis", "qdrant", "neo4j"] as const;
export type Engine = (typeof ENGINES)[number];

export const PLACEMENTS = ["shared", "dedicated"] as const;
export type Placement = (typeof PLACEMENTS)[number];

export const TARGETS = ["kubernetes", "docker"] as const;
export type Target = (typeof TARGETS)[number];

// DESIGN.md says ^[a-z][a-z0-9_]{0,39}$; a trailing '_' would become a trailing '-' in
// Kubernetes names (namespace, server), which the API rejects, so the last character is alphanumeric.
export const APP_NAME_PATTERN = /^[a-z]([a-z0-9_]{0,38}[a-z0-9])?$/;
export const APP_NAME_RULE = "a lowercase letter, then up to 39 lowercase letters, digits or '_', not ending in '_'";

// Kubernetes namespace names are DNS-1123 labels.
const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE_RULE = "a DNS label: up to 63 lowercase letters, digits or '-', starting and ending with a letter or digit";

// Kubernetes quantities, restricted to the forms that make sense for a database server.
export const MEMORY_PATTERN = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
export const CPU_PATTERN = /^\d+(\.\d+)?m?$/;

const placement = z.enum(PLACEMENTS);
const memory = z.string().regex(MEMORY_PATTERN, { error: "a memory quantity such as 256Mi or 1Gi" });
const seconds = z.number().int().min(0).max(86400 * 7);

const quantities = z.strictObject({
    memory: memory.optional(),
    cpu: z.string().regex(CPU_PATTERN, { error: "a CPU quantity such as 250m or 1" }).optional(),
});

const resources = z.strictObject({
    requests: quantities.optional(),
    limits: quantities.optional(),
});

const adminEndpoint = z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
});

const imageTag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: "a container image tag such as 18 or 7.4" });
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._\-/:@]*$/, { error: "a container image reference such as postgres:18" });

const hostPort = z.number().int().min(1).max(65535);

const engineCommon = {
    version: imageTag.optional(),
    /** Docker target: the loopback port of the shared server. */
    hostPort: hostPort.optional(),
    image: imageRef.optional(),
    storageGi: z.number().positive().optional(),
    resources: resources.optional(),
    placement: placement.optional(),
    adminEndpoint: adminEndpoint.optional(),
};

// Server settings derived from resources.limits.memory, each overridable (components/*-settings.ts).
const postgresqlEngine = z.strictObject({
    ...engineCommon,
    maxConnections: z.number().int().min(1).max(100000).optional(),
    sharedBuffers: memory.optional(),
    workMem: memory.optional(),
    tempFileLimit: memory.optional(),
});
const mysqlEngine = z.strictObject({
    ...engineCommon,
    maxConnections: z.number().int().min(1).max(100000).optional(),
    innodbBufferPoolSize: memory.optional(),
});
const mongodbEngine = z.strictObject({
    ...engineCommon,
    wiredTigerCacheSizeGB: z.number().positive().optional(),
});
const qdrantEngine = z.strictObject({ ...engineCommon });
const neo4jEngine = z.strictObject({
    ...engineCommon,
    edition: z.enum(["community", "enterprise"]).optional(),
    /** Enterprise only: sets NEO4J_ACCEPT_LICENSE_AGREEMENT=yes. */
    acceptLicenseAgreement: z.boolean().optional(),
});
const redisEngine = z.strictObject({
    ...engineCommon,
    databases: z.number().int().min(1).max(10000).optional(),
    maxmemory: memory.optional(),
    maxmemoryPolicy: z.enum(REDIS_EVICTION_POLICIES).optional(),
    maxClients: z.number().int().min(1).max(100000).optional(),
    idleTimeoutSeconds: seconds.optional(),
});

const appPostgresql = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
    connectionLimit: z.number().int().min(1).optional(),
    statementTimeoutSeconds: seconds.optional(),
    idleInTransactionTimeoutSeconds: seconds.min(1).optional(),
});
const appMysql = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
    maxConnections: z.number().int().min(1).optional(),
});
const appMongodb = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
});
const appQdrant = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
    collections: z
        .record(
            z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: "a collection name: up to 63 lowercase letters, digits, '_' or '-'" }),
            z.strictObject({
                size: z.number().int().min(1).max(65536),
                distance: z.enum(QDRANT_DISTANCES),
            }),
        )
        .refine((c) => Object.keys(c).length > 0, { error: "at least one collection; an app's token lists exactly its collections" }),
});
const appNeo4j = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
});
const appRedis = z.strictObject({
    placement: placement.optional(),
    hostPort: hostPort.optional(),
    db: z.number().int().min(0).optional(),
    /** EVAL, FCALL, FUNCTION, SCRIPT: only on a dedicated server. */
    scripting: z.boolean().optional(),
});

const appName = z.string().regex(APP_NAME_PATTERN, { error: APP_NAME_RULE });

const app = z.strictObject({
    namespace: z.string().regex(NAMESPACE_PATTERN, { error: NAMESPACE_RULE }).optional(),
    placement: placement.optional(),
    postgresql: appPostgresql.optional(),
    mysql: appMysql.optional(),
    mongodb: appMongodb.optional(),
    redis: appRedis.optional(),
    qdrant: appQdrant.optional(),
    neo4j: appNeo4j.optional(),
});

export const rawConfigSchema = z.strictObject({
    target: z.enum(TARGETS),
    placement: placement.optional(),
    kubernetes: z
        .strictObject({
            namespace: z.string().regex(NAMESPACE_PATTERN, { error: NAMESPACE_RULE }),
            storageClass: z.string().min(1).optional(),
            adminNamespaces: z.array(z.string().regex(NAMESPACE_PATTERN, { error: NAMESPACE_RULE })).optional(),
        })
        .optional(),
    engines: z.strictObject({
        postgresql: postgresqlEngine.optional(),
        mysql: mysqlEngine.optional(),
        mongodb: mongodbEngine.optional(),
        redis: redisEngine.optional(),
        qdrant: qdrantEngine.optional(),
        neo4j: neo4jEngine.optional(),
    }),
    apps: z.record(appName, app),
    protect: z.boolean().optional(),
    decommission: z.array(appName).optional(),
});

export type RawConfig = z.infer<typeof rawConfigSchema>;
export type RawApp = z.infer<typeof app>;
export type RawResources = z.infer<typeof resources>;
