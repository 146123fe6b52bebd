// Metrics: what a server exposes to Prometheus, as a runtime applies it. An engine without its
// own endpoint runs an exporter beside the server (a sidecar in the server's pod, reaching it on
// 127.0.0.1) that logs in as a monitoring user the engine creates; Qdrant and Neo4j Enterprise
// serve their own endpoint. Pure: no Pulumi resources here.
import type * as pulumi from "@pulumi/pulumi";
import type { Resources } from "./runtime";
import { APP_NAME_PATTERN } from "./naming";

/**
 * The monitoring user on every engine that needs one. The `-` keeps it out of the app names
 * (APP_NAME_PATTERN allows no `-`), so no app can ever take it.
 */
export const MONITOR_USER = "tenant-databases-monitor";

/** The exporter sidecar's requests and limits; counted in `capacity` (capacityOf). */
export const EXPORTER_RESOURCES: Resources = {
    requests: { memory: "32Mi", cpu: "20m" },
    limits: { memory: "128Mi", cpu: "200m" },
};

/** How often Prometheus scrapes, on a PodMonitor. Redis key groups scan every key per scrape. */
export const SCRAPE_INTERVAL = "60s";

/** The series label every per-tenant series carries, copied from the engine's own label on a PodMonitor. */
export const APP_LABEL = "app";
/**
 * What is copied to `app`: a value shaped like an app name (APP_NAME_PATTERN, anchored by
 * Prometheus), so the monitoring user (`tenant-databases-monitor`) and `unclassified` keys are
 * left out; the engines' own names (`postgres`, `mysql`, `admin`) are reserved, never apps, and the
 * dashboard leaves them out.
 */
export const APP_LABEL_VALUE = `(${APP_NAME_PATTERN.source.replace(/^\^|\$$/g, "")})`;

/** An exporter that runs beside the server, in its network namespace, reaching it on 127.0.0.1. */
export interface ExporterSpec {
    /** The container's name. */
    name: string;
    /** Pinned image. */
    image: string;
    args: string[];
    /** Plain environment. Nothing secret goes here. */
    env: Record<string, string>;
    /** The monitoring user's password and whatever else is secret, kept in a Secret. */
    secretEnv: Record<string, pulumi.Input<string>>;
}

/** Where Prometheus scrapes a server. */
export interface MetricsSpec {
    /** The port serving metrics (the exporter's, or the engine's own). */
    port: number;
    path: string;
    /** Absent when the engine serves the metrics itself. */
    exporter?: ExporterSpec;
    /** The engine's labels that carry an app name (`datname`, `database`, ...): a PodMonitor copies them to `app`. */
    appLabels: string[];
}

/** Stack-wide monitoring settings, as the runtime applies them. */
export interface MonitoringTarget {
    /** Namespaces admitted to the servers' metrics ports (where Prometheus runs). */
    namespaces: string[];
    /** Prometheus Operator PodMonitor objects; false: `prometheus.io/*` scrape annotations on the pods. */
    podMonitor: boolean;
    /** Labels on each PodMonitor (a Prometheus selects PodMonitors by label). @default none */
    podMonitorLabels?: Record<string, string>;
}

/** The `prometheus.io/*` annotations that annotation-based scrape configs read. */
export function scrapeAnnotations(metrics: MetricsSpec): Record<string, string> {
    return { "prometheus.io/scrape": "true", "prometheus.io/port": String(metrics.port), "prometheus.io/path": metrics.path };
}

/**
 * A PodMonitor endpoint's relabelings that copy each app-bearing label to `app`. A series that
 * has none of them keeps no `app` label; the engine's own label stays as it is.
 */
export function appRelabelings(metrics: MetricsSpec): { sourceLabels: string[]; regex: string; targetLabel: string; replacement: string; action: string }[] {
    return metrics.appLabels.map((label) => ({ sourceLabels: [label], regex: APP_LABEL_VALUE, targetLabel: APP_LABEL, replacement: "$1", action: "replace" }));
}
