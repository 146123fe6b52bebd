// The stack config contract (DESIGN.md, "Stack config") as a zod schema: the shape of every key.
// The keys every engine has are here; each engine adds its own from its descriptor
// (components/<engine>/engine.ts). Rules that relate keys to each other live in config.ts.
import { z } from "zod";
import { ENGINES } from "../components/engines";
import { PLACEMENTS } from "../components/engine";
import { cpu, memory, tcpPort } from "../components/config-keys";
import { StackBackupConfig, appBackupKey, appRestoreKey, engineBackupKey, stackBackupKey } from "../components/backup-plan";
import { APP_NAME_PATTERN, APP_NAME_RULE } from "../infra/naming";

export { PLACEMENTS } from "../components/engine";
export type { Placement } from "../components/engine";

export const TARGETS = ["kubernetes", "docker"] as const;
export type Target = (typeof TARGETS)[number];

export { APP_NAME_PATTERN, APP_NAME_RULE } from "../infra/naming";

// Kubernetes namespace names are DNS-1123 labels.
const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE_RULE = "a DNS label: up to 63 lowercase letters, digits or '-', starting and ending with a letter or digit";

const placement = z.enum(PLACEMENTS);

const quantities = z.strictObject({ memory: memory.optional(), cpu: cpu.optional() });

const resources = z.strictObject({
    requests: quantities.optional(),
    limits: quantities.optional(),
});

const adminEndpoint = z.strictObject({
    host: z.string().min(1),
    port: tcpPort,
});

const imageTag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: "a container image tag such as 18 or 7.4" });
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._\-/:@]*$/, { error: "a container image reference such as registry.example.com/db:1.2" });

/** `engines.<engine>`: what every engine has. */
const engineCommon = {
    version: imageTag.optional(),
    /** Docker target: the loopback port of the shared server. */
    hostPort: tcpPort.optional(),
    image: imageRef.optional(),
    storageGi: z.number().positive().optional(),
    resources: resources.optional(),
    placement: placement.optional(),
    adminEndpoint: adminEndpoint.optional(),
    backup: engineBackupKey.optional(),
};

/** `apps.<app>.<engine>`: what every engine has. */
const appCommon = {
    placement: placement.optional(),
    /** Docker target: the loopback port of the app's dedicated server. */
    hostPort: tcpPort.optional(),
    backup: appBackupKey.optional(),
    restore: appRestoreKey.optional(),
    /** Where the app's data is now, while it moves to `placement`. */
    moveFrom: placement.optional(),
};

const appName = z.string().regex(APP_NAME_PATTERN, { error: APP_NAME_RULE });

const namespaceName = z.string().regex(NAMESPACE_PATTERN, { error: NAMESPACE_RULE });

// Kubernetes label keys (an optional DNS-subdomain prefix and a name) and values.
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, { error: "a Kubernetes label key such as release or example.com/team" });
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, { error: "a Kubernetes label value: up to 63 letters, digits, '-', '_' or '.'" });

const monitoring = z.strictObject({
    enabled: z.boolean(),
    /** Prometheus Operator PodMonitors; false: prometheus.io scrape annotations. */
    podMonitor: z.boolean().optional(),
    /** Namespaces admitted to the metrics ports (where Prometheus runs). */
    namespaces: z.array(namespaceName).optional(),
    /** Labels on each PodMonitor, for a Prometheus whose podMonitorSelector asks for them (kube-prometheus-stack: release). */
    podMonitorLabels: z.record(labelKey, labelValue).optional(),
    /** Where the Grafana dashboard's ConfigMap goes. */
    dashboardNamespace: namespaceName.optional(),
});

const app = z.strictObject({
    namespace: z.string().regex(NAMESPACE_PATTERN, { error: NAMESPACE_RULE }).optional(),
    placement: placement.optional(),
    ...Object.fromEntries(ENGINES.map((e) => [e.name, z.strictObject({ ...appCommon, ...e.appKeys }).optional()])),
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
    engines: z.strictObject(Object.fromEntries(ENGINES.map((e) => [e.name, z.strictObject({ ...engineCommon, ...e.engineKeys }).optional()]))),
    apps: z.record(appName, app),
    protect: z.boolean().optional(),
    decommission: z.array(appName).optional(),
    backup: stackBackupKey.optional(),
    monitoring: monitoring.optional(),
});

/** `engines.<engine>` as written: the common keys, and the engine's own. */
export type RawEngine = { [K in keyof typeof engineCommon]?: z.infer<(typeof engineCommon)[K]> } & Record<string, unknown>;
/** `apps.<app>.<engine>` as written. */
export type RawUse = { [K in keyof typeof appCommon]?: z.infer<(typeof appCommon)[K]> } & Record<string, unknown>;
export interface RawApp {
    namespace?: string;
    placement?: z.infer<typeof placement>;
    [engine: string]: RawUse | string | undefined;
}
export interface RawConfig {
    target: Target;
    placement?: z.infer<typeof placement>;
    kubernetes?: { namespace: string; storageClass?: string; adminNamespaces?: string[] };
    engines: Record<string, RawEngine | undefined>;
    apps: Record<string, RawApp>;
    protect?: boolean;
    decommission?: string[];
    backup?: StackBackupConfig;
    monitoring?: z.infer<typeof monitoring>;
}
export type RawResources = z.infer<typeof resources>;
