// The Docker target, for dev stacks on a laptop: a network, per server a named volume (kept on
// delete) at the image's data path, the official image, and a container with a TCP healthcheck
// that `pulumi up` waits for, its port published on 127.0.0.1 only.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { dockerContainerName } from "./naming";
import { parseCpuMillis, parseMemoryMi } from "./quantities";
import { RunningServer, ServerRuntime, ServerSpec } from "./runtime";

export interface DockerRuntimeArgs {
    provider: docker.Provider;
    /** The network servers join (pass the Network resource's name so containers wait for it). */
    network: pulumi.Input<string>;
    /** Prefix of container and volume names: Docker names are global on an engine. */
    namePrefix: string;
}

export const LOOPBACK = "127.0.0.1";

export class DockerRuntime implements ServerRuntime {
    readonly target = "docker" as const;

    constructor(private readonly args: DockerRuntimeArgs) {}

    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer {
        const opts = { parent, provider: this.args.provider };
        // Config refuses `monitoring` on Docker; a component used as a library gets the same answer.
        if (spec.metrics !== undefined) throw new Error(`DockerRuntime: server ${spec.name} exports metrics, but the docker target runs no exporters (monitoring is for target kubernetes)`);
        const dockerName = dockerContainerName(this.args.namePrefix, spec.name);
        const labels = [
            { label: "tenant-databases.io/server", value: spec.name },
            { label: "tenant-databases.io/engine", value: spec.engine },
        ];

        const image = new docker.RemoteImage(`${spec.name}-image`, { name: spec.image, keepLocally: true }, opts);
        // Images declare VOLUMEs; a named volume at the data path keeps data out of anonymous
        // volumes, and outlives the container and this program.
        const volume = new docker.Volume(
            `${spec.name}-data`,
            { name: `${dockerName}-data`, labels },
            { ...opts, retainOnDelete: true, protect: spec.protect },
        );

        const plainEnv = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
        const secretEnv = pulumi.all(spec.secretEnv ?? {}).apply((env) => Object.entries(env).map(([k, v]) => `${k}=${v}`));
        const uploads = Object.entries(spec.secretFiles?.files ?? {}).map(([file, content]) => ({
            file: `${spec.secretFiles!.mountPath}/${file}`,
            content: pulumi.secret(content),
            permissions: "0444",
        }));

        const container = new docker.Container(
            spec.name,
            {
                name: dockerName,
                image: image.imageId,
                command: spec.args,
                envs: pulumi.secret(secretEnv.apply((s) => [...plainEnv, ...s])),
                uploads,
                volumes: [{ volumeName: volume.name, containerPath: spec.data.mountPath }],
                // Named volumes only: nothing anonymous to remove, and never a data volume.
                removeVolumes: false,
                user: `${spec.uid}:${spec.uid}`,
                capabilities: { drops: ["ALL"] },
                securityOpts: ["no-new-privileges:true"],
                ports: [{ internal: spec.port, external: spec.hostPort, ip: LOOPBACK, protocol: "tcp" }],
                networksAdvanced: [{ name: this.args.network, aliases: [spec.name] }],
                // The readiness command connects over TCP: not healthy during the image's socket-only init.
                healthcheck: { tests: ["CMD", ...spec.readinessCommand], interval: "5s", timeout: "3s", retries: 5, startPeriod: "120s" },
                wait: true,
                waitTimeout: 300,
                restart: "unless-stopped",
                memory: Math.ceil(parseMemoryMi(spec.resources.limits.memory)),
                memoryReservation: Math.ceil(parseMemoryMi(spec.resources.requests.memory)),
                cpus: String(parseCpuMillis(spec.resources.limits.cpu) / 1000),
                labels,
            },
            opts,
        );

        const host = pulumi.output(LOOPBACK);
        const port =
            spec.hostPort !== undefined
                ? pulumi.output(spec.hostPort)
                : container.ports.apply((ports) => {
                      const published = ports?.find((p) => p.internal === spec.port)?.external;
                      if (published === undefined) throw new Error(`container ${dockerName} did not publish port ${spec.port}`);
                      return published;
                  });
        return { host, port, adminHost: host, adminPort: port, ready: container };
    }
}

export interface DockerTarget {
    kind: "docker";
    /** Explicit provider for every Docker object. */
    provider: docker.Provider;
    /** Prefix of container, volume and network names, unique per stack on one Docker engine. */
    namePrefix: string;
}

/** The stack's Docker network, and a runtime whose servers join it. */
export function dockerServerNetwork(name: string, target: DockerTarget, parent: pulumi.Resource): DockerRuntime {
    const network = new docker.Network(
        `${name}-network`,
        { name: target.namePrefix, labels: [{ label: "tenant-databases.io/managed", value: "true" }] },
        { parent, provider: target.provider },
    );
    return new DockerRuntime({ provider: target.provider, network: network.name, namePrefix: target.namePrefix });
}
