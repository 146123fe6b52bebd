// Neo4j Enterprise metrics: the server's own Prometheus endpoint. It has no authentication (the
// server namespace's NetworkPolicy admits only the monitoring namespaces to its port) and serves
// figures only. Per-database figures carry the database (= app) in the metric name
// (`neo4j_database_<db>_...`), not in a label. Community has no endpoint. Pure: no Pulumi resources.
import type { MetricsSpec } from "../../infra/metrics";

export const NEO4J_METRICS_PORT = 2004;

export const NEO4J_METRICS: MetricsSpec = { port: NEO4J_METRICS_PORT, path: "/metrics", appLabels: [] };

/** The settings that turn the endpoint on, as the image reads them from the environment. */
export function neo4jMetricsEnv(): Record<string, string> {
    return {
        NEO4J_server_metrics_prometheus_enabled: "true",
        // Not the default localhost: Prometheus scrapes the pod's address.
        NEO4J_server_metrics_prometheus_endpoint: `0.0.0.0:${NEO4J_METRICS_PORT}`,
    };
}
