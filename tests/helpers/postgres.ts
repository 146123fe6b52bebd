// A real PostgreSQL server for tests (Debian package `postgresql`): a fresh cluster in a temporary
// directory, the admin `postgres` with a password (scram-sha-256 for every connection, also on
// the socket), listening on 127.0.0.1 only, its socket in the temporary directory. initdb and
// postgres refuse to run as root: as root they run as the `postgres` system user the Debian
// package creates, through setpriv (which execs, so the pid we hold is the postmaster's).
import { ChildProcess, execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import type { ConnectionOptions } from "tls";
import { binaryIdentity, copyDataTemplate, RunningTestServer, runCommand } from "./servers";

const INSTALL_HINT = "run .ci/run, or: apt-get install -y postgresql";
const ADMIN = "postgres";

let binDir: string | undefined;
/**
 * The bin directory of the newest PostgreSQL server installed (/usr/lib/postgresql/<major>/bin,
 * else `pg_config --bindir`), with initdb, postgres and psql; a clear failure when there is none.
 * Looked up once per process.
 */
export function postgresBinDir(): string {
    binDir ??= findPostgresBinDir();
    return binDir;
}

function findPostgresBinDir(): string {
    const root = "/usr/lib/postgresql";
    const majors = fs.existsSync(root)
        ? fs
              .readdirSync(root)
              .filter((d) => /^\d+$/.test(d))
              .sort((a, b) => Number(b) - Number(a))
        : [];
    const candidates = majors.map((m) => path.join(root, m, "bin"));
    try {
        candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    } catch {
        // no pg_config: only the Debian layout
    }
    const found = candidates.find((dir) => ["initdb", "postgres", "psql"].every((b) => fs.existsSync(path.join(dir, b))));
    if (!found) throw new Error(`PostgreSQL server binaries (initdb, postgres, psql) are not installed; ${INSTALL_HINT}`);
    return found;
}

let serverIds: { uid: number; gid: number } | undefined;
/** As root: the `postgres` system user's uid and gid, which then owns `dir`. Otherwise undefined. */
function serverUser(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) return undefined;
    if (serverIds) return serverIds;
    try {
        const [uid, gid] = ["-u", "-g"].map((flag) => Number(execFileSync("id", [flag, ADMIN], { encoding: "utf8" }).trim()));
        serverIds = { uid, gid };
        return serverIds;
    } catch {
        throw new Error(`running as root, and there is no "${ADMIN}" system user to run PostgreSQL as (the Debian package creates it); ${INSTALL_HINT}`);
    }
}

/** The command line that runs `binary` as the server user (as root) or as we are. */
function asServerUser(binary: string, args: string[]): [string, string[]] {
    return serverUser() ? ["setpriv", ["--reuid", ADMIN, "--regid", ADMIN, "--init-groups", "--", binary, ...args]] : [binary, args];
}

export interface RunningPostgres extends RunningTestServer {
    /** The postmaster's pid (to SIGSTOP it, say). */
    pid: number;
    binDir: string;
    /** Everything the server printed so far. */
    log(): string;
}

/**
 * Creates a cluster in `<dir>/data` whose admin `postgres` has `adminPassword`; every
 * connection authenticates with scram-sha-256. The cluster is a copy of one initdb made for the
 * same binaries, options, time zone and password (copyDataTemplate): initdb takes about a
 * second, the copy a tenth of that.
 */
export async function initPostgres(options: { dir: string; adminPassword: string }): Promise<void> {
    const bin = postgresBinDir();
    const owner = serverUser();
    if (owner) {
        fs.chownSync(options.dir, owner.uid, owner.gid);
        const [test, testArgs] = asServerUser("test", ["-w", options.dir]);
        try {
            execFileSync(test, testArgs, { stdio: "pipe" });
        } catch {
            throw new Error(`the "${ADMIN}" user cannot write ${options.dir} (a parent directory is closed to it); set TMPDIR to a directory it can reach, e.g. /tmp`);
        }
    }
    const initdbArgs = (data: string, pwfile: string) => [
        "-D",
        data,
        "-U",
        ADMIN,
        `--pwfile=${pwfile}`,
        "--auth=scram-sha-256",
        "--no-locale",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    ];
    const key = {
        binaries: ["initdb", "postgres"].map((b) => binaryIdentity(path.join(bin, b))),
        owner: owner ?? process.getuid?.(),
        args: initdbArgs("DATA", "PWFILE"),
        // initdb writes the time zone it finds (TZ, else the system's) into postgresql.conf.
        timeZone: [process.env.TZ, ...["/etc/localtime", "/etc/timezone"].map(fileDigest)],
        // The template holds the password's SCRAM verifier.
        password: createHash("sha256").update(options.adminPassword).digest("hex"),
    };
    const initdb = async (dir: string) => {
        const pwfile = path.join(dir, "admin-password");
        fs.writeFileSync(pwfile, `${options.adminPassword}\n`, { mode: 0o600 });
        if (owner) {
            fs.chownSync(dir, owner.uid, owner.gid);
            fs.chownSync(pwfile, owner.uid, owner.gid);
        }
        const [cmd, args] = asServerUser(path.join(bin, "initdb"), initdbArgs(path.join(dir, "data"), pwfile));
        try {
            await runCommand("initdb", cmd, args, { cwd: dir });
        } finally {
            fs.rmSync(pwfile, { force: true });
        }
    };
    await copyDataTemplate("postgresql", key, initdb, path.join(options.dir, "data"));
}

/** A file's real path and the SHA-256 of its content; undefined when there is none. */
function fileDigest(file: string): string | undefined {
    try {
        return `${fs.realpathSync(file)}:${createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
    } catch {
        return undefined;
    }
}

/**
 * Starts `postgres <args>` on the cluster in `<dir>/data` (made by initPostgres), adding only
 * what places it in the test: -D, -p `port`, -k `<dir>` (socket) and listen_addresses=127.0.0.1.
 * Resolves once the admin can run a query (over TLS with `ssl`, for a server that requires it).
 * stop() is a fast shutdown (SIGINT), awaited.
 */
export async function startPostgres(options: { port: number; dir: string; adminPassword: string; args: string[]; ssl?: ConnectionOptions }): Promise<RunningPostgres> {
    const bin = postgresBinDir();
    const [cmd, args] = asServerUser(path.join(bin, "postgres"), [
        "-D",
        path.join(options.dir, "data"),
        "-p",
        String(options.port),
        "-k",
        options.dir,
        "-c",
        "listen_addresses=127.0.0.1",
        ...options.args,
    ]);
    let output = "";
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: options.dir });
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    // Should the test run die first: an immediate shutdown, so no server outlives it.
    const onExit = () => child.kill("SIGQUIT");
    process.once("exit", onExit);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGCONT"); // in case a test left it stopped
            child.kill("SIGINT"); // fast shutdown: ends open sessions (SIGTERM would wait for them)
        }
        await exited;
        process.removeListener("exit", onExit);
    };
    try {
        await waitUntilReady(options.port, options.adminPassword, child, () => output, options.ssl);
    } catch (err) {
        await stop();
        throw err;
    }
    return { port: options.port, pid: child.pid!, binDir: bin, log: () => output, stop };
}

async function waitUntilReady(port: number, password: string, child: ChildProcess, log: () => string, ssl?: ConnectionOptions, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
        const client = new Client({ host: "127.0.0.1", port, user: ADMIN, password, database: "postgres", connectionTimeoutMillis: 2000, ssl });
        client.on("error", () => undefined);
        try {
            await client.connect();
            await client.query("SELECT 1");
            return;
        } catch (err) {
            last = (err as Error).message;
        } finally {
            await client.end().catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`postgres did not accept the admin on 127.0.0.1:${port} within ${timeoutMs} ms (last error: ${last}):\n${log()}`);
}
