// Real database servers for tests: started by the test run on a free loopback port with a
// temporary data directory, and stopped afterwards. Never a mock of the server.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface RunningTestServer {
    port: number;
    dir: string;
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
 * Starts redis-server (Debian package `redis-server`) on 127.0.0.1:`port` with `aclFile`
 * as its ACL file and no persistence.
 */
export async function startRedis(options: { port: number; aclFile: string; databases: number }): Promise<RunningTestServer> {
    const binary = requireBinary("redis-server", "run .ci/run, or: apt-get install -y redis-server");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenant-databases-redis-"));
    const aclPath = path.join(dir, "users.acl");
    fs.writeFileSync(aclPath, options.aclFile, { mode: 0o600 });
    let output = "";
    const child = spawn(
        binary,
        [
            "--port", String(options.port),
            "--bind", "127.0.0.1",
            "--aclfile", aclPath,
            "--databases", String(options.databases),
            "--dir", dir,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const stop = async () => {
        if (child.exitCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        await waitForPort(options.port, child, () => output);
    } catch (err) {
        await stop();
        throw err;
    }
    return { port: options.port, dir, stop };
}
