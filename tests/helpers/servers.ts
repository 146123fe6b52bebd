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

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tenant-databases-${prefix}-`));
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts MariaDB (Debian package `mariadb-server`) on 127.0.0.1:`port` with a fresh data
 * directory in `dir`; root@127.0.0.1 has no password. stop() ends it.
 */
export async function startMariadb(options: { port: number; dir: string }): Promise<RunningTestServer> {
    const install = requireBinary("mariadb-install-db", "run .ci/run, or: apt-get install -y mariadb-server");
    const server = requireBinary("mariadbd", "run .ci/run, or: apt-get install -y mariadb-server");
    const data = path.join(options.dir, "data");
    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
    execFileSync(install, [...asRoot, `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db"], { stdio: "pipe" });
    const args = [
        "--no-defaults",
        ...asRoot,
        `--datadir=${data}`,
        `--port=${options.port}`,
        "--bind-address=127.0.0.1",
        `--socket=${path.join(options.dir, "mysqld.sock")}`,
        `--pid-file=${path.join(options.dir, "mysqld.pid")}`,
        "--skip-log-bin",
        "--innodb-buffer-pool-size=32M",
    ];
    return serve(server, args, options.port, 60000);
}
