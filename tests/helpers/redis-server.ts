// A real redis-server started the way the program starts it: the program (a RedisServer) runs
// under mocks with a runtime that only captures the server spec; the test then runs the captured
// start command and arguments, with the container's paths mapped into a temporary directory and
// the port and bind address of the test, and creates the program's tenants on it with the real
// RedisAclUser provider.
import * as assert from "assert";
import type Redis from "ioredis";
import * as fs from "fs";
import * as path from "path";
import { appEnvironment } from "../../components/environment";
import { RedisServer, RedisServerArgs } from "../../components/redis/redis";
import { redisStartScript } from "../../components/redis/redis-acl";
import { RedisAclUserState, redisAclUserProvider } from "../../components/redis/redis-acl-user";
import { ServerRuntime, ServerSpec } from "../../infra/runtime";
import { REDIS_ACL_USER, finder, runProgram, valueOf } from "./pulumi";
import { RunningTestServer, freePort, startRedis, tempDir } from "./servers";
import { CapturingRuntime } from "./capture";
export { CapturingRuntime };

/** The provider's inputs of one tenant user. */
export type UserInputs = { host: string; port: number; adminUser: string; adminPassword: string; user: string; scripting: boolean };

/** A RedisServer program for a runtime. */
export type RedisProgram = (runtime: ServerRuntime) => () => RedisServer;

/** A program of one RedisServer named `redis` (7.4, 1Gi, 128Mi/256Mi unless `args` say otherwise). */
export function redisProgram(args: Omit<RedisServerArgs, "runtime" | "version" | "storageGi" | "resources"> & Partial<RedisServerArgs>): RedisProgram {
    return (runtime) => () =>
        new RedisServer("redis", {
            version: "7.4",
            storageGi: 1,
            resources: { requests: { memory: "128Mi", cpu: "100m" }, limits: { memory: "256Mi", cpu: "250m" } },
            ...args,
            runtime,
        });
}

export interface ProgramRedis {
    port: number;
    /** What the program asked the runtime for. */
    spec: ServerSpec;
    adminPassword: string;
    bootstrapFile: string;
    aclFile: string;
    /** The exact command the test ran (the program's, remapped). */
    command: string[];
    /** (Re)starts the server from the program's command. */
    start(): Promise<void>;
    stop(): Promise<void>;
    /** Stops the server and removes its directory. */
    remove(): Promise<void>;
    adminUrl(db?: number): string;
}

const CONTAINER_BOOTSTRAP = "/etc/redis/bootstrap/users.acl";
const CONTAINER_DATA = "/data";

/**
 * Captures the program's server spec and starts redis-server from it on a free loopback port:
 * only paths, port and bind address are changed (and persistence is off, for speed).
 */
export async function startProgramRedis(program: RedisProgram, prefix = "redis"): Promise<ProgramRedis> {
    const tmp = tempDir(prefix);
    const bootstrapFile = path.join(tmp.dir, "bootstrap", "users.acl");
    const dataDir = path.join(tmp.dir, "data");
    const aclFile = path.join(dataDir, "users.acl");
    const port = await freePort();
    const runtime = new CapturingRuntime(port);
    await runProgram(program(runtime));
    const spec = runtime.spec!;
    const adminPassword = await valueOf(spec.secretEnv!.REDISCLI_AUTH);
    fs.mkdirSync(path.dirname(bootstrapFile), { recursive: true });
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(bootstrapFile, await valueOf(spec.secretFiles!.files["users.acl"]));

    const args = spec.args!;
    assert.deepStrictEqual(args.slice(0, 2), ["sh", "-c"]);
    assert.strictEqual(args[2], redisStartScript(CONTAINER_BOOTSTRAP, `${CONTAINER_DATA}/users.acl`));
    const rest = args.slice(3).map((a) => (a === `${CONTAINER_DATA}/users.acl` ? aclFile : a === CONTAINER_DATA ? dataDir : a));
    const command = ["sh", "-c", redisStartScript(bootstrapFile, aclFile), ...rest, "--port", String(port), "--bind", "127.0.0.1", "--appendonly", "no", "--save", ""];

    let server: RunningTestServer | undefined;
    const handle: ProgramRedis = {
        port,
        spec,
        adminPassword,
        bootstrapFile,
        aclFile,
        command,
        async start() {
            server = await startRedis({ port, command });
        },
        async stop() {
            await server?.stop();
            server = undefined;
        },
        async remove() {
            await handle.stop();
            tmp.remove();
        },
        adminUrl: (db = 0) => `redis://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${port}/${db}`,
    };
    try {
        await handle.start();
    } catch (err) {
        tmp.remove();
        throw err;
    }
    return handle;
}

/**
 * Runs the program again against the started server: its ACL users are created by the real
 * provider. Returns each tenant's provider inputs, its provider state and the REDIS_URL the app
 * receives.
 */
export async function createProgramTenants(
    program: RedisProgram,
    port: number,
): Promise<{ users: Record<string, UserInputs>; urls: Record<string, string>; states: Record<string, RedisAclUserState> }> {
    const states: Record<string, RedisAclUserState> = {};
    const run = await runProgram(program(new CapturingRuntime(port)), {
        liveState: async (type, inputs) => {
            if (type !== REDIS_ACL_USER) return undefined;
            const outs = (await redisAclUserProvider.create!(inputs as UserInputs)).outs!;
            states[outs.user] = outs;
            return { ...outs };
        },
    });
    const users = Object.fromEntries(finder(run.resources).all(REDIS_ACL_USER).map((r) => [r.inputs.user, r.inputs as UserInputs]));
    const urls = Object.fromEntries(
        await Promise.all(
            Object.entries(run.result.tenants).map(async ([app, t]) => [app, appEnvironment(app, { redis: await valueOf(t.credentials) }).REDIS_URL]),
        ),
    );
    return { users, urls, states };
}

/** As tenant `app`: a key of every type under `<app>:`, one with a TTL, and a binary key and value. */
export async function writeEveryRedisType(c: Redis, app: string): Promise<void> {
    await c.set(`${app}:s`, "string", "EX", 3600);
    await c.hset(`${app}:h`, { f1: "v1", f2: "v2" });
    await c.rpush(`${app}:l`, "x", "y", "z");
    await c.sadd(`${app}:set`, "m1", "m2");
    await c.zadd(`${app}:z`, 1, "one", 2, "two");
    await c.xadd(`${app}:stream`, "*", "field", "value");
    await c.set(Buffer.concat([Buffer.from(`${app}:bin\n `), Buffer.from([0, 255, 10, 32])]), Buffer.from([0, 1, 2, 255, 10, 13, 32]));
}
