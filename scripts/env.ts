// Prints an app's variables as a .env file: the same keys its Kubernetes Secret would hold.
//
//   npm run -s env -- <app> [--stack <stack>] [--from <file>|-]
//
// Reads the stack output `apps` with `pulumi stack output apps --show-secrets --json`, or from a
// file or standard input given with --from.
import { appEnvironment, formatDotenv } from "../components/environment";
import { readApps } from "./stack-output";

function fail(message: string): never {
    process.stderr.write(`${message}\n`);
    process.exit(1);
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
    const apps = readApps(flags.get("--stack"), flags.get("--from"), "--from", fail);
    const credentials = apps[app];
    if (!credentials) fail(`no app ${JSON.stringify(app)} in the stack output; apps: ${Object.keys(apps).sort().join(", ") || "none"}`);
    process.stdout.write(formatDotenv(appEnvironment(app, credentials)));
}

main(process.argv.slice(2));
