// MongoDB as the program knows it: defaults, names it keeps, its config keys, what an app
// receives. Pure: the components load on demand.
import { z } from "zod";
import { EngineDescriptor, pick, serverArgsOf, tenantSpecsOf } from "../engine";
import { MONGODB_BACKUP } from "./mongodb-backup";
import type { MongodbCredentials } from "./mongodb";
import { MongodbTuning, describeMongodbSettings, mongodbServerSettings, mongodbTuningProblems } from "./mongodb-settings";

const engineKeys = {
    wiredTigerCacheSizeGB: z.number().positive().optional(),
};
type EngineRaw = { [K in keyof typeof engineKeys]?: z.infer<(typeof engineKeys)[K]> };

export interface MongodbOptions {
    tuning: MongodbTuning;
}

const ENV_KEYS = ["MONGODB_URI", "MONGODB_DATABASE"] as const;

const load = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./mongodb") as typeof import("./mongodb");
const loadUsage = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./mongodb-usage") as typeof import("./mongodb-usage");

export const mongodbEngine: EngineDescriptor<"mongodb", EngineRaw, object, MongodbOptions, object, MongodbCredentials> = {
    name: "mongodb",
    title: "MongoDB",
    defaults: {
        repository: "mongo",
        version: "8.0",
        storageGi: 2,
        resources: { requests: { memory: "256Mi", cpu: "250m" }, limits: { memory: "512Mi", cpu: "500m" } },
        port: 27017,
        // The official image's mongodb user.
        uid: 999,
        dataPath: "/data/db",
    },
    engineKeys,
    appKeys: {},
    reserved: { names: ["admin", "local", "config"], prefixes: [] },
    resolveSettings(raw, base, path) {
        const tuning = pick(raw, ["wiredTigerCacheSizeGB"]);
        return { options: { tuning }, problems: mongodbTuningProblems(base.resources.limits.memory, tuning).map((p) => `${path}.${p}`) };
    },
    resolveTenant: () => ({ options: {}, problems: [] }),
    figures: (server) => ({
        settings: describeMongodbSettings(mongodbServerSettings(server.settings.resources.limits.memory, server.settings.options.tuning)),
    }),
    backup: MONGODB_BACKUP,
    envKeys: ENV_KEYS,
    environment: (c): Record<(typeof ENV_KEYS)[number], string> => ({ MONGODB_URI: c.url, MONGODB_DATABASE: c.database }),
    metricsSource: () => "exporter",
    usage: () => loadUsage().mongodbUsage,
    createServer(plan, context) {
        const args = { ...serverArgsOf(plan, context), tuning: plan.settings.options.tuning, tenants: tenantSpecsOf(plan, context) };
        return new (load().MongodbServer)(plan.name, args, { parent: context.parent });
    },
};
