// The program: validated config -> topology -> DatabasePlatform -> stack outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppCredentials, DatabasePlatform, ServerSummary } from "../components/platform";
import { Capacity, capacityOf } from "./capacity";
import { StackConfig, parseStackConfig } from "./config";
import { planTopology } from "./plan";
import { readRawConfig } from "./read";

export interface StackOutputs {
    /** Secret: app -> engine -> credentials. */
    apps: pulumi.Output<Record<string, AppCredentials>>;
    servers: pulumi.Output<ServerSummary[]>;
    capacity: Capacity;
}

/** Reads and validates the stack config; throws ConfigError before any resource exists. */
export function loadStackConfig(): StackConfig {
    return parseStackConfig(readRawConfig());
}

export function runStack(config: StackConfig): StackOutputs {
    const topology = planTopology(config);
    // One explicit provider for every Kubernetes object (kubeconfig and context as `pulumi up` sees them).
    const kubernetes = new k8s.Provider("kubernetes", {});
    const platform = new DatabasePlatform("tenant-databases", {
        kubernetes: { provider: kubernetes, ...config.kubernetes },
        servers: topology.servers,
        protect: config.protect,
        decommission: config.decommission,
    });
    return { apps: platform.apps, servers: platform.servers, capacity: capacityOf(topology) };
}
