// The program: validated config -> topology -> DatabasePlatform -> stack outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { AppCredentials, DatabasePlatform, DockerTarget, KubernetesTarget, ServerSummary } from "../components/platform";
import { BackupListing, backupsOf } from "./backups";
import { Capacity, capacityOf } from "./capacity";
import { StackConfig, parseStackConfig } from "./config";
import { planTopology } from "./plan";
import { PROJECT, readRawConfig } from "./read";
import { dockerNamePrefix } from "./files";

export interface StackOutputs {
    /** Secret: app -> engine -> credentials. */
    apps: pulumi.Output<Record<string, AppCredentials>>;
    servers: pulumi.Output<ServerSummary[]>;
    capacity: Capacity;
    /** App -> engine -> schedule, keep, destination (no secrets). */
    backups: Record<string, Record<string, BackupListing>>;
}

/** Reads and validates the stack config; throws ConfigError before any resource exists. */
export function loadStackConfig(): StackConfig {
    return parseStackConfig(readRawConfig());
}

export function runStack(config: StackConfig): StackOutputs {
    const topology = planTopology(config);
    // One explicit provider per target (kubeconfig/context or DOCKER_HOST as `pulumi up` sees them).
    const target: KubernetesTarget | DockerTarget =
        config.target === "kubernetes"
            ? { kind: "kubernetes", provider: new k8s.Provider("kubernetes", {}), ...config.kubernetes, ...(config.monitoring && { monitoring: config.monitoring }) }
            : { kind: "docker", provider: new docker.Provider("docker", {}), namePrefix: dockerNamePrefix(pulumi.getStack()) };
    const platform = new DatabasePlatform(PROJECT, {
        target,
        servers: topology.servers,
        protect: config.protect,
        decommission: config.decommission,
        backup: config.backup,
    });
    return { apps: platform.apps, servers: platform.servers, capacity: capacityOf(topology), backups: backupsOf(config, topology) };
}
