// Runs a Pulumi.<stack>.yaml of this repo whole, under mocks, through the real entry path
// (stack config -> loadStackConfig -> runStack).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { StackOutputs, loadStackConfig, runStack } from "../../stacks/program";
import { PROJECT } from "../../stacks/read";
import { MockRun, runProgram } from "./pulumi";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The stack files of this repo: `dev` for Pulumi.dev.yaml, ... */
export function stackNames(): string[] {
    return fs
        .readdirSync(REPO_ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** This project's keys of a stack file, without the `tenant-databases:` prefix. */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const doc = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        if (!key.startsWith(`${PROJECT}:`)) throw new Error(`Pulumi.${stack}.yaml: key ${key} is not in the ${PROJECT} namespace`);
        config[key.slice(PROJECT.length + 1)] = value;
    }
    return config;
}

export function runStackConfig(config: Record<string, unknown>, stack = "test"): Promise<MockRun<StackOutputs>> {
    return runProgram(() => runStack(loadStackConfig()), { config, stack });
}

export function runStackFile(stack: string): Promise<MockRun<StackOutputs>> {
    return runStackConfig(stackFileConfig(stack), stack);
}
