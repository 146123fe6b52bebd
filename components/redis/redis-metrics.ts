// Redis metrics: redis_exporter beside the server, logged in as the monitoring ACL user
// (monitorAclRules: statistics, key names and sizes, never a value). Per app, the exporter's key
// groups count each tenant's keys and their memory, by the tenant's key prefix. Pure: no Pulumi
// resources.
import type * as pulumi from "@pulumi/pulumi";
import { MONITOR_USER, MetricsSpec } from "../../infra/metrics";

export const REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.91.1";
export const REDIS_EXPORTER_PORT = 9121;
/**
 * A Lua pattern whose capture is the app of a key `<app>:...` (a tenant writes no other key); the
 * exporter labels the group `key_group`. The same on every server: the exporter's arguments do not
 * change with the tenants, so adding one never restarts a shared server.
 */
export const REDIS_KEY_GROUP_PATTERN = "^([a-z][a-z0-9_]*):";
/** More than any server's tenants: beyond it the exporter folds the smallest groups into `overflow`. */
export const REDIS_MAX_KEY_GROUPS = 1000;
/** Keys per SCAN batch, each batch one short script call (not the whole key space in one call). */
export const REDIS_KEY_GROUP_BATCH = 1000;

/** The exporter, on the server's own address in the pod. */
export function redisMetrics(port: number, monitorPassword: pulumi.Input<string>): MetricsSpec {
    return {
        port: REDIS_EXPORTER_PORT,
        path: "/metrics",
        appLabels: ["key_group"],
        exporter: {
            name: "redis-exporter",
            image: REDIS_EXPORTER_IMAGE,
            args: [
                `--web.listen-address=:${REDIS_EXPORTER_PORT}`,
                `--check-key-groups=${REDIS_KEY_GROUP_PATTERN}`,
                `--max-distinct-key-groups=${REDIS_MAX_KEY_GROUPS}`,
                `--check-keys-batch-size=${REDIS_KEY_GROUP_BATCH}`,
            ],
            env: { REDIS_ADDR: `redis://127.0.0.1:${port}`, REDIS_USER: MONITOR_USER },
            secretEnv: { REDIS_PASSWORD: monitorPassword },
        },
    };
}
