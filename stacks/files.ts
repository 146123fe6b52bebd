// Stack files (Pulumi.<stack>.yaml), read the way Pulumi would hand them to the program: this
// project's keys, without the `tenant-databases:` prefix. Loads no Pulumi module.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const PROJECT = "tenant-databases";

/** Prefix of the Docker target's names (containers, volumes, network) for a stack. */
export function dockerNamePrefix(stack: string): string {
    return `${PROJECT}-${stack}`;
}

export const REPO_ROOT = path.resolve(__dirname, "..");

/** A stack file that is missing, is not YAML, or holds keys of another project. */
export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The stacks that have a file in this repo: `dev` for Pulumi.dev.yaml, ... */
export function stackNames(): string[] {
    return fs
        .readdirSync(REPO_ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** This repo's Pulumi.<stack>.yaml. */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new StackFileError(`no stack file ${file}; stacks: ${stackNames().join(", ")}`);
    return readStackFile(file);
}

/** Any stack file, by path. */
export function readStackFile(file: string): Record<string, unknown> {
    const name = path.basename(file);
    let doc: unknown;
    try {
        doc = YAML.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new StackFileError(`${name}: ${(err as Error).message}`);
    }
    if (doc !== null && (typeof doc !== "object" || Array.isArray(doc))) throw new StackFileError(`${name}: not a map of keys`);
    const entries = (doc as { config?: unknown } | null)?.config ?? {};
    if (typeof entries !== "object" || entries === null || Array.isArray(entries)) throw new StackFileError(`${name}: config is not a map of keys`);
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(entries)) {
        if (!key.startsWith(`${PROJECT}:`)) throw new StackFileError(`${name}: key ${key} is not in the ${PROJECT} namespace`);
        config[key.slice(PROJECT.length + 1)] = value;
    }
    return config;
}
