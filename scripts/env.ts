// Prints an app's variables as a .env file: the same keys its Kubernetes Secret would hold.
//
//   npm run -s env -- <app> [--stack <stack>] [--from <file>|-]
//
// Reads the stack output `apps` with `pulumi stack output apps --show-secrets --json`, or from a
// file or standard input given with --from.
import { appEnvironment, formatDotenv } from "../components/environment";
import { readApps } from "./stack-output";

function fail(message: string): never {
    throw new Error(message);
}

/** The .env text for the command line `argv`; throws what is wrong with it. */
export function envText(argv: string[]): string {
    const flags = new Map<string, string>();
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        if (flag === "--stack" || flag === "--from") flags.set(flag, argv[++i] ?? fail(`${flag} needs a value`));
        else positional.push(flag);
    }
    const [app] = positional;
    if (!app || positional.length > 1) fail("usage: npm run -s env -- <app> [--stack <stack>] [--from <file>|-]");
    const apps = readApps(flags.get("--stack"), flags.get("--from"), "--from", fail);
    const credentials = apps[app];
    if (!credentials) fail(`no app ${JSON.stringify(app)} in the stack output; apps: ${Object.keys(apps).sort().join(", ") || "none"}`);
    return formatDotenv(appEnvironment(app, credentials));
}

if (require.main === module) {
    try {
        process.stdout.write(envText(process.argv.slice(2)));
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exit(1);
    }
}
