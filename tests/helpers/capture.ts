// A runtime that runs nothing: the program's server component runs under mocks, and the test
// reads the exact server spec it asked for (arguments, env, files, probes) to start a real
// server from it on loopback.
import * as pulumi from "@pulumi/pulumi";
import { RunningServer, ServerRuntime, ServerSpec } from "../../infra/runtime";

export class CapturingRuntime implements ServerRuntime {
    readonly target = "docker" as const;
    spec?: ServerSpec;
    constructor(private readonly port: number) {}
    run(spec: ServerSpec, parent: pulumi.Resource): RunningServer {
        this.spec = spec;
        const host = pulumi.output("127.0.0.1");
        const port = pulumi.output(this.port);
        // A stand-in for the started server (a component here would make tenants wait on themselves).
        return { host, port, adminHost: host, adminPort: port, ready: new Ready(`${spec.name}-ready`, parent) };
    }
}

class Ready extends pulumi.CustomResource {
    constructor(name: string, parent: pulumi.Resource) {
        super("test:server:Ready", name, {}, { parent });
    }
}
