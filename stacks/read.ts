// Reads this project's keys from the stack's config (Pulumi.<stack>.yaml) as raw values.
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "./files";

export { PROJECT };

/**
 * Every `tenant-databases:<key>` of the stack, without the prefix. Structured values arrive as
 * JSON text; plain strings (`target: kubernetes`) stay strings. All keys are returned, known or
 * not, so validation can reject the unknown ones by name.
 */
export function readRawConfig(all: Record<string, string> = pulumi.runtime.allConfig()): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(all)) {
        if (!key.startsWith(`${PROJECT}:`)) continue;
        raw[key.slice(PROJECT.length + 1)] = parseValue(text);
    }
    return raw;
}

function parseValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
