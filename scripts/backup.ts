// Backups and restores on the Docker target (Kubernetes runs them as CronJobs and Jobs):
//
//   npm run backup -- <app> [--engine <engine>] [--stack <stack>] [--dir <path>] [--apps <file>|-]
//   npm run restore -- <app> --engine <engine> [--from <id>|latest] [--replace] [--stack <stack>] [--dir <path>] [--apps <file>|-]
//
// Runs the engine's rendered backup or restore script in a one-off container of the server's
// image, in the server container's network, with the directory mounted (stacks/docker-backup.ts).
// PostgreSQL and MySQL log in as the app itself, with its password from the stack output `apps`
// (`pulumi stack output apps --show-secrets --json`, or the file given with --apps); the others as
// the admin, whose password is read from the server's container. Either goes in an env file (mode
// 0600, deleted afterwards), never on a command line.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackConfig } from "../stacks/config";
import { DockerBackupRequest, dockerBackupRuns, dockerEnvFile } from "../stacks/docker-backup";
import { REPO_ROOT, stackFileConfig, stackNames } from "../stacks/files";
import { readApps } from "./stack-output";

const USAGE = {
    backup: "usage: npm run backup -- <app> [--engine <engine>] [--stack <stack>] [--dir <path>] [--apps <file>|-]",
    restore: "usage: npm run restore -- <app> --engine <engine> [--from <id>|latest] [--replace] [--stack <stack>] [--dir <path>] [--apps <file>|-]",
};

function fail(message: string): never {
    process.stderr.write(`${message}\n`);
    process.exit(1);
}

function docker(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync("docker", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
    if (result.error) fail(`cannot run docker (${result.error.message}); is the Docker engine installed and running?`);
    return result;
}

/** The server container's environment: what its admin secrets were started with. */
function containerEnv(container: string): Record<string, string> {
    const result = docker(["inspect", "--format", "{{json .Config.Env}}", container]);
    if (result.status !== 0) fail(`docker inspect ${container} failed (is the stack up?):\n${result.stderr.trim()}`);
    const lines = JSON.parse(result.stdout) as string[];
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** The command line, parsed; `--stack` defaults to the one Docker stack file of the repo. Throws what is wrong with it. */
export function parseArgs(mode: "backup" | "restore", argv: string[]): DockerBackupRequest & { apps?: string } {
    const fail = (message: string): never => {
        throw new Error(message);
    };
    const flags = new Map<string, string>();
    const positional: string[] = [];
    let replace = false;
    const valued = ["--engine", "--stack", "--dir", "--apps", ...(mode === "restore" ? ["--from"] : [])];
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        if (valued.includes(flag)) {
            const value = argv[++i];
            if (value === undefined || value.startsWith("--")) fail(`${flag} needs a value\n${USAGE[mode]}`);
            flags.set(flag, value);
        } else if (mode === "restore" && flag === "--replace") replace = true;
        else if (flag.startsWith("--")) fail(`unknown option ${flag}\n${USAGE[mode]}`);
        else positional.push(flag);
    }
    if (positional.length !== 1) fail(USAGE[mode]);
    let stack = flags.get("--stack");
    if (stack === undefined) {
        const dockerStacks = stackNames().filter((s) => stackFileConfig(s).target === "docker");
        if (dockerStacks.length !== 1) fail(`say which stack with --stack; Docker stacks: ${dockerStacks.join(", ") || "none"}`);
        stack = dockerStacks[0];
    }
    return { mode, stack, app: positional[0], engine: flags.get("--engine"), dir: flags.get("--dir"), from: flags.get("--from"), replace, apps: flags.get("--apps") };
}

/** The app's own password on an engine, from the stack output `apps`. */
function tenantPassword(request: { stack: string; app: string; apps?: string }, engine: string): string {
    const apps = readApps(request.stack, request.apps, "--apps", fail);
    const password = (apps[request.app] as Record<string, { password?: string } | undefined> | undefined)?.[engine]?.password;
    if (password === undefined) fail(`the stack output apps has no ${engine} password for ${request.app}; run pulumi up first, or pass the output with --apps <file>`);
    return password;
}

function main(mode: "backup" | "restore", argv: string[]): void {
    let request;
    let runs;
    try {
        request = parseArgs(mode, argv);
        runs = dockerBackupRuns(parseStackConfig(stackFileConfig(request.stack)), request, REPO_ROOT, `${os.userInfo().uid}:${os.userInfo().gid}`);
    } catch (err) {
        if (err instanceof Error) fail(err.message); // ConfigError, StackFileError and the plan's refusals: their message says it all
        throw err;
    }
    let failed = false;
    for (const run of runs) {
        if (mode === "backup") fs.mkdirSync(run.dir, { recursive: true, mode: 0o700 });
        // Everything that can fail before docker runs is done before the env file exists.
        let env: string;
        try {
            const password = run.needsTenantPassword ? tenantPassword(request, run.engine) : undefined;
            env = dockerEnvFile(run.env(containerEnv(run.container), password));
        } catch (err) {
            fail(`${mode} of ${request.app}'s ${run.engine} data: ${(err as Error).message}`);
        }
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenant-backup-"));
        const envFile = path.join(dir, "env");
        try {
            fs.writeFileSync(envFile, env, { mode: 0o600 });
            const result = spawnSync("docker", run.args.map((a) => a.replace("{envFile}", envFile)), { stdio: "inherit" });
            if (result.status !== 0) {
                process.stderr.write(`${mode} of ${request.app}'s ${run.engine} data failed\n`);
                failed = true;
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    if (failed) process.exit(1);
}

if (require.main === module) {
    const mode = process.argv[2];
    if (mode !== "backup" && mode !== "restore") fail("usage: ts-node scripts/backup.ts backup|restore <app> ...");
    main(mode, process.argv.slice(3));
}
