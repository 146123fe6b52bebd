// The secret stack output `apps`, as the operator commands read it: from the Pulumi CLI, or from
// a file (or standard input) holding `pulumi stack output apps --show-secrets --json`.
import { spawnSync } from "child_process";
import * as fs from "fs";
import type { AppCredentials } from "../components/environment";

/** `fromFlag`: the option that names a file instead, for the messages. */
export function readApps(stack: string | undefined, from: string | undefined, fromFlag: string, fail: (message: string) => never): Record<string, AppCredentials> {
    let text: string;
    if (from !== undefined) {
        text = fs.readFileSync(from === "-" ? 0 : from, "utf8");
    } else {
        const args = ["stack", "output", "apps", "--show-secrets", "--json", ...(stack ? ["--stack", stack] : [])];
        const result = spawnSync("pulumi", args, { encoding: "utf8" });
        if (result.error) fail(`cannot run the Pulumi CLI (${result.error.message}); install it, or pass the output with ${fromFlag} <file>`);
        if (result.status !== 0) fail(`pulumi ${args.join(" ")} failed:\n${result.stderr.trim()}`);
        text = result.stdout;
    }
    try {
        return JSON.parse(text) as Record<string, AppCredentials>;
    } catch {
        return fail("the stack output `apps` is not JSON; pass the output of `pulumi stack output apps --show-secrets --json`");
    }
}

/** Runs a command's pure entry point on this process's arguments: prints its output, sets the exit code. */
export function runCommand(run: (argv: string[]) => Promise<{ out: string; err: string; code: number }>): void {
    run(process.argv.slice(2)).then(
        ({ out, err, code }) => {
            process.stdout.write(out);
            process.stderr.write(err);
            process.exitCode = code;
        },
        (error: Error) => {
            process.stderr.write(`${error.message}\n`);
            process.exitCode = 1;
        },
    );
}
