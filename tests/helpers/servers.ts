// Real database servers for tests: started by the test run on a free loopback port with a
// temporary data directory, and stopped afterwards. Never a mock of the server.
import { ChildProcess, execFileSync, spawn } from "child_process";
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

/** The path of an executable, or a clear failure saying how to install it. */
export function requireBinary(name: string, installHint: string): string {
    try {
        return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
        throw new Error(`${name} is not installed; ${installHint}`);
    }
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
    // Not execFileSync: several servers may be installed at once.
    await new Promise<void>((resolve, reject) => {
        let output = "";
        const installArgs = [...asRoot, `--datadir=${data}`, `--tmpdir=${scratch}`, "--auth-root-authentication-method=normal", "--skip-test-db"];
        const child = spawn(install, installArgs, { stdio: ["ignore", "pipe", "pipe"] });
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        child.once("error", reject);
        child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`mariadb-install-db exited with ${code}:\n${output}`))));
    });
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
