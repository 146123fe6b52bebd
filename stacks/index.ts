// Entry point of `pulumi up` (Pulumi.yaml `main`).
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config";
import { loadStackConfig, runStack } from "./program";

function load() {
    try {
        return loadStackConfig();
    } catch (err) {
        // A RunError prints just the message: the list of config problems, no stack trace.
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

const outputs = runStack(load());

export const apps = outputs.apps;
export const servers = outputs.servers;
export const capacity = outputs.capacity;
export const backups = outputs.backups;
