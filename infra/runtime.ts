// What an engine asks of a target: "run this image with these ports, env, files and a volume,
// and tell me where it listens". Engines never learn whether that is a StatefulSet or a container.
import * as pulumi from "@pulumi/pulumi";
import type { MetricsSpec } from "./metrics";

export interface Quantities {
    memory: string;
    cpu: string;
}
/** Requests and limits in Kubernetes quantities. */
export interface Resources {
    requests: Quantities;
    limits: Quantities;
}

export interface ServerSpec {
    /** Engine name, for labels. */
    engine: string;
    /** Server name: a DNS label, unique within the target. */
    name: string;
    image: string;
    /** The one TCP port clients use. */
    port: number;
    /** Docker target: publish the port on this loopback port. @default chosen by Docker */
    hostPort?: number;
    /** Container command line (replaces the image's CMD). */
    args?: string[];
    /** Plain environment. Nothing secret goes here. */
    env?: Record<string, string>;
    /** Environment kept secret by the target (a Kubernetes Secret, referenced by key). */
    secretEnv?: Record<string, pulumi.Input<string>>;
    /** Files mounted read-only under `mountPath`; a change to any of them restarts the server. */
    secretFiles?: { mountPath: string; files: Record<string, pulumi.Input<string>> };
    /** The volume that holds the server's data. */
    data: { mountPath: string; storageGi: number };
    /** Directories the server writes besides its data (scratch space); the rest of its filesystem is read-only. */
    writablePaths?: string[];
    /** The image cannot run with a read-only root filesystem. @default false */
    writableRoot?: boolean;
    /**
     * Kubernetes namespaces of the apps that may connect (the server's tenants). The Kubernetes
     * target admits only these (and its admin namespaces) to the port; other targets ignore it.
     */
    clientNamespaces: string[];
    /** Kubernetes: admit the platform's backup and restore Job pods of this server (labelled JOB_FOR_LABEL) to the port. @default false */
    jobs?: boolean;
    /** Kubernetes: also admit a move's copy Job that copies an app's data to this server. @default false */
    copyTarget?: boolean;
    resources: Resources;
    /** Kubernetes: where Prometheus scrapes the server, and the exporter to run beside it. @default no metrics */
    metrics?: MetricsSpec;
    /** Runs inside the server; exit 0 means it accepts authenticated connections. */
    readinessCommand: string[];
    /**
     * Runs inside the server; exit 0 means it still answers a trivial query. Kubernetes restarts
     * the server after a minute of failures (a TCP check when absent). @default a TCP check
     */
    livenessCommand?: string[];
    /** The image's own non-root user and group id. */
    uid: number;
    /** Pulumi `protect` for the objects that hold data. */
    protect: boolean;
}

export interface RunningServer {
    /** Where apps reach the server. */
    host: pulumi.Output<string>;
    port: pulumi.Output<number>;
    /** Where `pulumi up` reaches it by default (engines may override with adminEndpoint). */
    adminHost: pulumi.Output<string>;
    adminPort: pulumi.Output<number>;
    /** Registered once the server is ready: depend on it before connecting. */
    ready: pulumi.Resource;
}

export interface ServerRuntime {
    readonly target: "kubernetes" | "docker";
    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer;
}
