// The stack files of this repo (Pulumi.<stack>.yaml), read the way Pulumi would hand them to
// the program: this project's keys, without the `tenant-databases:` prefix.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { PROJECT } from "./read";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** The stacks that have a file: `dev` for Pulumi.dev.yaml, ... */
export function stackNames(): string[] {
    return fs
        .readdirSync(REPO_ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new Error(`no stack file ${file}; stacks: ${stackNames().join(", ")}`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(doc?.config ?? {})) {
        if (!key.startsWith(`${PROJECT}:`)) throw new Error(`Pulumi.${stack}.yaml: key ${key} is not in the ${PROJECT} namespace`);
        config[key.slice(PROJECT.length + 1)] = value;
    }
    return config;
}
