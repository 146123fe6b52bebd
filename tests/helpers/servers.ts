// Real database servers for tests: started by the test run on a free loopback port with a
// temporary data directory, and stopped afterwards. Never a mock of the server.
import { ChildProcess, execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface RunningTestServer {
    port: number;
    stop(): Promise<void>;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

const binaries = new Map<string, string>();
/** The path of an executable, or a clear failure saying how to install it. Looked up once per process. */
export function requireBinary(name: string, installHint: string): string {
    let found = binaries.get(name);
    if (found === undefined) {
        try {
            found = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
        } catch {
            throw new Error(`${name} is not installed; ${installHint}`);
        }
        binaries.set(name, found);
    }
    return found;
}

/** Spawns a server process and waits until it listens on 127.0.0.1:`port`; stop() ends it. */
async function serve(command: string, args: string[], port: number, timeoutMs: number): Promise<RunningTestServer> {
    let output = "";
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await exited;
        }
    };
    try {
        await waitForPort(port, child, () => output, timeoutMs);
    } catch (err) {
        await stop();
        throw err;
    }
    return { port, stop };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${log()}`);
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("connect", () => socket.end(() => resolve(true)));
            socket.once("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${log()}`);
}

/**
 * Runs a command that starts a redis-server (Debian package `redis-server`) listening on
 * 127.0.0.1:`port`; stop() ends it. The caller owns the data directory.
 */
export async function startRedis(options: { port: number; command: string[] }): Promise<RunningTestServer> {
    requireBinary("redis-server", "run .ci/run, or: apt-get install -y redis-server");
    const [cmd, ...args] = options.command;
    return serve(cmd, args, options.port, 15000);
}

/**
 * Where servers keep their data: TMPDIR when set, else /dev/shm when it is a memory file system
 * with room (a fresh MariaDB data directory alone is about 115 MB), else the system's temporary
 * directory. In memory the servers' fsyncs cost nothing, which counts when the disk is busy
 * (mariadb-install-db: 1.9 s on this machine's disk, 0.6 s in memory).
 */
function serverDataRoot(): string {
    if (process.env.TMPDIR) return os.tmpdir();
    try {
        const shm = fs.statfsSync("/dev/shm");
        const TMPFS_MAGIC = 0x01021994;
        if (shm.type === TMPFS_MAGIC && shm.bavail * shm.bsize >= 1024 ** 3) return "/dev/shm";
    } catch {
        // no /dev/shm
    }
    return os.tmpdir();
}

/** A temporary directory for a server's files, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(serverDataRoot(), `tenant-databases-${prefix}-`));
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs a command to its end; a failure names it as `name` and holds its output. Not
 * execFileSync: other servers may be starting meanwhile.
 */
export function runCommand(name: string, command: string, args: string[], options: { cwd?: string } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
        let output = "";
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}:\n${output}`))));
    });
}

/** What identifies an installed executable's build: its real path, size and modification time. */
export function binaryIdentity(file: string): string {
    const real = fs.realpathSync(file);
    const { size, mtimeMs } = fs.statSync(real);
    return `${real}:${size}:${mtimeMs}`;
}

// Data directories built in this process (or being built), by template directory.
const templatesBuilt = new Map<string, Promise<void>>();

/**
 * Fills `target` (which must not exist) with a copy of a data directory that `init` creates in
 * `<dir>/data` for a scratch directory `dir`: a fresh server's data directory without running the
 * server's initialisation (initdb, mariadb-install-db: 0.5 to 1.5 s) for each server.
 *
 * `key` must hold everything the initialised directory depends on (binaries, their options and
 * configuration, the user, the host name, passwords...): a template is built once per distinct
 * key, next to the servers' data (serverDataRoot()), and reused by later servers and test runs.
 * Mocha's workers may build the same one at once: each builds in a directory of its own, then
 * renames it into place, which only the first one does; so a template is always complete. cp -a
 * keeps the files' owners (as root, the server user's) and modes.
 */
export async function copyDataTemplate(name: string, key: unknown, init: (dir: string) => Promise<void>, target: string): Promise<void> {
    const uid = process.getuid?.() ?? "any";
    const root = path.join(serverDataRoot(), `tenant-databases-templates-${uid}`);
    const hash = createHash("sha256").update(JSON.stringify(["v1", key])).digest("hex").slice(0, 24);
    const template = path.join(root, `${name}-${hash}`);
    for (let attempt = 1; ; attempt++) {
        if (!fs.existsSync(template)) await buildTemplate(root, template, init);
        try {
            const now = new Date();
            fs.utimesSync(template, now, now); // its last use, for removeStale()
            await runCommand("cp", "cp", ["-a", path.join(template, "data"), target]);
            return;
        } catch (err) {
            // Removed meanwhile by another test run, as unused for days: build it again, once.
            if (attempt > 1 || fs.existsSync(template)) throw err;
            fs.rmSync(target, { recursive: true, force: true });
        }
    }
}

/** Builds `template` with `init` unless this process is building it already; see copyDataTemplate. */
function buildTemplate(root: string, template: string, init: (dir: string) => Promise<void>): Promise<void> {
    let building = templatesBuilt.get(template);
    if (!building) {
        building = (async () => {
            fs.mkdirSync(root, { recursive: true });
            fs.chmodSync(root, 0o755); // as root, the server user builds in it
            removeStale(root);
            const scratch = fs.mkdtempSync(`${template}.building-`);
            try {
                await init(scratch);
                try {
                    fs.renameSync(scratch, template);
                } catch (err) {
                    // Another worker put its (equivalent) template in place first.
                    if (!fs.existsSync(template)) throw err;
                }
            } finally {
                fs.rmSync(scratch, { recursive: true, force: true });
            }
        })();
        templatesBuilt.set(template, building);
        // Built (or failed): later calls look at the file system again.
        building.then(
            () => templatesBuilt.delete(template),
            () => templatesBuilt.delete(template),
        );
    }
    return building;
}

/**
 * Removes the templates no test run used for two days (their key changed: a new server version,
 * say), and what builds left more than an hour ago (a test run that was killed).
 */
function removeStale(root: string): void {
    for (const entry of fs.readdirSync(root)) {
        const dir = path.join(root, entry);
        const maxAge = entry.includes(".building-") ? 3600_000 : 2 * 86400_000;
        try {
            if (Date.now() - fs.statSync(dir).mtimeMs > maxAge) fs.rmSync(dir, { recursive: true, force: true });
        } catch {
            // removed meanwhile
        }
    }
}

/**
 * Starts MariaDB (Debian package `mariadb-server`) on 127.0.0.1:`port` with a fresh data
 * directory in `dir`; root@127.0.0.1 has no password. stop() ends it.
 * `serverArgs` are further mariadbd options (e.g. the ones a program renders): they come after
 * the helper's small default buffer pool, so they override it, and before the helper's data
 * and scratch directories, port, socket and bind options, which always win.
 */
export async function startMariadb(options: { port: number; dir: string; serverArgs?: string[] }): Promise<RunningTestServer> {
    const install = requireBinary("mariadb-install-db", "run .ci/run, or: apt-get install -y mariadb-server");
    const server = requireBinary("mariadbd", "run .ci/run, or: apt-get install -y mariadb-server");
    const data = path.join(options.dir, "data");
    // Its own scratch directory: a starting mariadbd deletes every `#sql*` file in its tmpdir,
    // including those of other servers (and installs) running at the same time.
    const scratch = path.join(options.dir, "tmp");
    fs.mkdirSync(scratch, { recursive: true });
    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
    // The installed data directory is a copy of a template (copyDataTemplate). It depends on the
    // binaries, the option files that mariadb-install-db and the mariadbd it bootstraps read (as
    // my_print_defaults prints them), the host name (it creates root@<host>) and the options.
    const installArgs = (datadir: string, tmpdir: string) => [...asRoot, `--datadir=${datadir}`, `--tmpdir=${tmpdir}`, "--auth-root-authentication-method=normal", "--skip-test-db"];
    const key = {
        install: binaryIdentity(install),
        server: binaryIdentity(server),
        optionFiles: mariadbOptionFiles(),
        host: os.hostname(),
        args: installArgs("DATADIR", "TMPDIR"),
    };
    const installTemplate = async (dir: string) => {
        fs.mkdirSync(path.join(dir, "tmp"));
        await runCommand("mariadb-install-db", install, installArgs(path.join(dir, "data"), path.join(dir, "tmp")));
    };
    await copyDataTemplate("mariadb", key, installTemplate, data);
    const args = [
        "--no-defaults",
        ...asRoot,
        "--innodb-buffer-pool-size=32M",
        ...(options.serverArgs ?? []),
        `--datadir=${data}`,
        `--tmpdir=${scratch}`,
        `--port=${options.port}`,
        "--bind-address=127.0.0.1",
        `--socket=${path.join(options.dir, "mysqld.sock")}`,
        `--pid-file=${path.join(options.dir, "mysqld.pid")}`,
        "--skip-log-bin",
    ];
    let output = "";
    const child = spawn(server, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const running = () => child.exitCode === null && child.signalCode === null;
    // A SIGTERM that arrives while mariadbd is still starting can leave it hanging (seen in
    // init_slave when stopped right after it began to listen): readiness below waits for the
    // handshake, and stop() follows up with SIGKILL.
    const stop = async () => {
        if (!running()) return;
        child.kill("SIGTERM");
        const kill = setTimeout(() => child.kill("SIGKILL"), 10000);
        await exited;
        clearTimeout(kill);
    };
    // Ready once it sends the protocol handshake: mariadbd listens (and the kernel accepts
    // connections) before it serves them.
    const greets = () =>
        new Promise<boolean>((resolve) => {
            const socket = net.connect(options.port, "127.0.0.1");
            const done = (greeted: boolean) => {
                clearTimeout(timer);
                socket.destroy();
                resolve(greeted);
            };
            const timer = setTimeout(() => done(false), 1000);
            socket.once("data", () => done(true));
            socket.once("error", () => done(false));
            socket.once("close", () => done(false));
        });
    const deadline = Date.now() + 60000;
    try {
        while (!(await greets())) {
            if (!running()) throw new Error(`mariadbd exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
            if (Date.now() > deadline) throw new Error(`mariadbd did not answer on 127.0.0.1:${options.port} within 60000 ms:\n${output}`);
            await new Promise((r) => setTimeout(r, 50));
        }
    } catch (err) {
        await stop();
        throw err;
    }
    return { port: options.port, stop };
}

let mariadbOptions: string | undefined;
/** What mariadb-install-db, and the mariadbd it bootstraps, read from the option files. */
function mariadbOptionFiles(): string {
    const printDefaults = requireBinary("my_print_defaults", "run .ci/run, or: apt-get install -y mariadb-server");
    mariadbOptions ??= execFileSync(printDefaults, ["--mariadbd", "mysql_install_db", "mariadb-install-db"], { encoding: "utf8" });
    return mariadbOptions;
}
