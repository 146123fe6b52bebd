// MongoDB metrics: percona's mongodb_exporter beside the server, logged in as the monitoring user
// of the admin database with the built-in role clusterMonitor (serverStatus, dbStats and
// collStats of every database, no read of a document). Not `read` on `local`, which the
// exporter asks for replica-set figures: this server is a standalone. Pure: no Pulumi resources.
import type * as pulumi from "@pulumi/pulumi";
import { MONITOR_USER, MetricsSpec } from "../../infra/metrics";

export const MONGODB_EXPORTER_IMAGE = "percona/mongodb_exporter:0.53.0";
export const MONGODB_EXPORTER_PORT = 9216;
export const MONGODB_MONITOR_ROLES = [{ role: "clusterMonitor", db: "admin" }];

/** The exporter, on the server's own address in the pod. Per app: `mongodb_dbstats_*` labelled `database`. */
export function mongodbMetrics(port: number, monitorPassword: pulumi.Input<string>): MetricsSpec {
    return {
        port: MONGODB_EXPORTER_PORT,
        path: "/metrics",
        appLabels: ["database"],
        exporter: {
            name: "mongodb-exporter",
            image: MONGODB_EXPORTER_IMAGE,
            args: [`--web.listen-address=:${MONGODB_EXPORTER_PORT}`, "--collector.dbstats"],
            env: { MONGODB_URI: `mongodb://127.0.0.1:${port}/admin`, MONGODB_USER: MONITOR_USER },
            secretEnv: { MONGODB_PASSWORD: monitorPassword },
        },
    };
}
