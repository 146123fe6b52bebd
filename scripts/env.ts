// Prints an app's variables as a .env file: the same keys its Kubernetes Secret would hold.
//
//   npm run -s env -- <app> [--stack <stack>] [--from <file>|-]
//
// Reads the stack output `apps` with `pulumi stack output apps --show-secrets --json`, or from a
// file or standard input given with --from.
import { spawnSync } from "child_process";
import * as fs from "fs";
import { AppCredentials, appEnvironment, formatDotenv } from "../components/environment";

function fail(message: string): never {
    process.stderr.write(`${message}\n`);
    process.exit(1);
}

function readApps(stack: string | undefined, from: string | undefined): Record<string, AppCredentials> {
    let text: string;
    if (from !== undefined) {
        text = fs.readFileSync(from === "-" ? 0 : from, "utf8");
    } else {
        const args = ["stack", "output", "apps", "--show-secrets", "--json", ...(stack ? ["--stack", stack] : [])];
        const result = spawnSync("pulumi", args, { encoding: "utf8" });
        if (result.error) fail(`cannot run the Pulumi CLI (${result.error.message}); install it, or pass the output with --from <file>`);
        if (result.status !== 0) fail(`pulumi ${args.join(" ")} failed:\n${result.stderr.trim()}`);
        text = result.stdout;
    }
    try {
        return JSON.parse(text) as Record<string, AppCredentials>;
    } catch {
        return fail("the stack output `apps` is not JSON; pass the output of `pulumi stack output apps --show-secrets --json`");
    }
}

function main(argv: string[]): void {
    const flags = new Map<string, string>();
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack" || argv[i] === "--from") flags.set(argv[i], argv[++i] ?? fail(`${argv[i]} needs a value`));
        else positional.push(argv[i]);
    }
    const [app] = positional;
    if (!app || positional.length > 1) fail("usage: npm run -s env -- <app> [--stack <stack>] [--from <file>|-]");
    const apps = readApps(flags.get("--stack"), flags.get("--from"));
    const credentials = apps[app];
    if (!credentials) fail(`no app ${JSON.stringify(app)} in the stack output; apps: ${Object.keys(apps).sort().join(", ") || "none"}`);
    process.stdout.write(formatDotenv(appEnvironment(app, credentials)));
}

main(process.argv.slice(2));
