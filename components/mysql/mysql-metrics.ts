// MySQL metrics: mysqld_exporter beside the server, logged in as the monitoring account with
// PROCESS (every thread, for connections per user), REPLICATION CLIENT, SELECT on
// performance_schema, and SHOW VIEW, which makes every table's size visible in
// information_schema.TABLES without any right to read a row. Pure: no Pulumi resources.
import type * as pulumi from "@pulumi/pulumi";
import { MONITOR_USER, MetricsSpec } from "../../infra/metrics";

export const MYSQL_EXPORTER_IMAGE = "prom/mysqld-exporter:v0.18.0";
export const MYSQL_EXPORTER_PORT = 9104;
/** The monitoring account's max_user_connections; counted in the server's connection budget. */
export const MYSQL_MONITOR_CONNECTIONS = 3;

/** The monitoring account's grants: `privileges ON <database>.*`. */
export const MYSQL_MONITOR_GRANTS: readonly { database: string; privileges: string[] }[] = [
    { database: "*", privileges: ["PROCESS", "REPLICATION CLIENT", "SHOW VIEW"] },
    { database: "performance_schema", privileges: ["SELECT"] },
];

/**
 * The exporter, on the server's own address in the pod. Per app: table sizes by `schema`
 * (info_schema.tables) and connections by `mysql_user` (info_schema.processlist).
 */
export function mysqlMetrics(port: number, monitorPassword: pulumi.Input<string>): MetricsSpec {
    return {
        port: MYSQL_EXPORTER_PORT,
        path: "/metrics",
        appLabels: ["schema", "mysql_user"],
        exporter: {
            name: "mysqld-exporter",
            image: MYSQL_EXPORTER_IMAGE,
            args: [
                `--web.listen-address=:${MYSQL_EXPORTER_PORT}`,
                `--mysqld.address=127.0.0.1:${port}`,
                `--mysqld.username=${MONITOR_USER}`,
                "--collect.info_schema.tables",
                "--collect.info_schema.processlist",
            ],
            env: {},
            secretEnv: { MYSQLD_EXPORTER_PASSWORD: monitorPassword },
        },
    };
}
