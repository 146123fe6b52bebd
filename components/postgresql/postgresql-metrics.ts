// PostgreSQL metrics: postgres_exporter beside the server, logged in as the monitoring role,
// which holds `pg_monitor` and nothing else. pg_monitor reads every statistics view and
// pg_database_size() of every database (through pg_read_all_stats), and the statement texts in
// pg_stat_activity; it has no CONNECT on the tenants' databases (revoked from PUBLIC) and no
// right on any table. Pure: no Pulumi resources.
import type * as pulumi from "@pulumi/pulumi";
import { MONITOR_USER, MetricsSpec } from "../../infra/metrics";

export const POSTGRES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.20.1";
export const POSTGRES_EXPORTER_PORT = 9187;
/** The monitoring role's connection limit; counted in the server's connection budget. */
export const POSTGRES_MONITOR_CONNECTIONS = 3;
/** The predefined roles the monitoring role is a member of. */
export const POSTGRES_MONITOR_ROLES = ["pg_monitor"];

/**
 * The exporter, on the server's own address in the pod. Its default collectors give per
 * database (= per app) `pg_database_size_bytes` and `pg_stat_database_numbackends`, labelled `datname`.
 */
export function postgresqlMetrics(port: number, monitorPassword: pulumi.Input<string>): MetricsSpec {
    return {
        port: POSTGRES_EXPORTER_PORT,
        path: "/metrics",
        appLabels: ["datname"],
        exporter: {
            name: "postgres-exporter",
            image: POSTGRES_EXPORTER_IMAGE,
            args: [`--web.listen-address=:${POSTGRES_EXPORTER_PORT}`],
            // The maintenance database: the only one the role may connect to.
            env: { DATA_SOURCE_URI: `127.0.0.1:${port}/postgres?sslmode=disable`, DATA_SOURCE_USER: MONITOR_USER },
            secretEnv: { DATA_SOURCE_PASS: monitorPassword },
        },
    };
}
