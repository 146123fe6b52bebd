// `npm run usage` without servers: its command line, the shares and recommendations, the run's
// failures and what it prints, and the engines' figures from stand-ins (Redis' INFO text, a
// MongoDB session, a Qdrant HTTP server on loopback). The figures on real PostgreSQL, MariaDB and
// Redis servers are in verify.integration.test.ts.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import type { EngineUsage, TenantUsage } from "../components/engine";
import type { AppCredentials } from "../components/environment";
import { mongodbUsageWith } from "../components/mongodb/mongodb-usage";
import type { MongodbCredentials } from "../components/mongodb/mongodb";
import { qdrantUsage } from "../components/qdrant/qdrant-usage";
import type { QdrantCredentials } from "../components/qdrant/qdrant";
import { keyspaceCounts, parseInfo, redisUsageFromInfo } from "../components/redis/redis-usage";
import {
    DEFAULT_THRESHOLDS,
    THRESHOLD_FLAGS,
    Thresholds,
    UsageRow,
    measureStack,
    parseUsageArgs,
    recommend,
    runUsage,
    sharedServers,
    usageHelp,
} from "../scripts/usage";

const GI = 1024 ** 3;
const MI = 1024 ** 2;

describe("npm run usage: the command line", () => {
    it("has documented defaults: --max-share 0.5, --min-size 1Gi, --min-connections 10, --min-objects 1000000, --max-size 5Gi, --max-connections 50, --max-objects 10000000", () => {
        assert.deepStrictEqual(parseUsageArgs(["dev"]), { stack: "dev", from: undefined, thresholds: DEFAULT_THRESHOLDS, help: false });
        assert.deepStrictEqual(DEFAULT_THRESHOLDS, {
            maxShare: 0.5,
            minSize: GI,
            minConnections: 10,
            minObjects: 1000000,
            maxSize: 5 * GI,
            maxConnections: 50,
            maxObjects: 10000000,
        } satisfies Thresholds);
        const help = usageHelp();
        for (const [flag, f] of Object.entries(THRESHOLD_FLAGS)) assert.match(help, new RegExp(`\\n  ${flag} +.*\\(${f.default.replace(".", "\\.")}\\)\\n`));
    });

    it("reads each threshold, as `--flag value` or `--flag=value`, and --from a file or -", () => {
        const args = parseUsageArgs(["--from", "-", "--max-share", "0.25", "--min-size=500Mi", "--min-connections", "0", "--min-objects", "10", "--max-size", "2G", "--max-connections=8", "--max-objects", "99"]);
        assert.deepStrictEqual(args, {
            stack: undefined,
            from: "-",
            help: false,
            thresholds: { maxShare: 0.25, minSize: 500 * MI, minConnections: 0, minObjects: 10, maxSize: 2e9, maxConnections: 8, maxObjects: 99 },
        });
        assert.strictEqual(parseUsageArgs(["prod", "--max-size", "1073741824"]).thresholds.maxSize, GI);
        for (const share of ["0", "1", "1.0", ".5", "0.75"]) assert.strictEqual(parseUsageArgs(["s", "--max-share", share]).thresholds.maxShare, Number(share));
        assert.strictEqual(parseUsageArgs(["--help"]).help, true);
    });

    it("refuses a bad value naming the flag and what it takes, an unknown or repeated option, and a missing stack", () => {
        const refused: [string[], RegExp][] = [
            [["s", "--max-share", "1.5"], /^Error: --max-share: "1\.5" is not a share from 0 to 1, such as 0\.5$/],
            [["s", "--max-share", "50%"], /^Error: --max-share: "50%" is not a share/],
            [["s", "--max-share=-0.1"], /^Error: --max-share: "-0\.1" is not a share/],
            [["s", "--max-size", "5GB"], /^Error: --max-size: "5GB" is not a size such as 5Gi, 500Mi or 5368709120 \(bytes\)$/],
            [["s", "--min-size", "-1Gi"], /^Error: --min-size: "-1Gi" is not a size/],
            [["s", "--max-connections", "-3"], /^Error: --max-connections: "-3" is not a whole number$/],
            [["s", "--max-connections", "2.5"], /^Error: --max-connections: "2\.5" is not a whole number$/],
            [["s", "--min-objects", "1e6"], /^Error: --min-objects: "1e6" is not a whole number$/],
            [["s", "--max-share"], /^Error: --max-share needs a value$/],
            [["s", "--max-share", "--max-size", "1Gi"], /^Error: --max-share needs a value$/],
            [["s", "--max-size="], /^Error: --max-size needs a value$/],
            [["s", "--max-share", "0.5", "--max-share", "0.6"], /^Error: --max-share is given twice$/],
            [["s", "--max-shares", "0.5"], /^Error: unknown option --max-shares; usage: npm run -s usage -- <stack> \[--from <file>\|-\] \[--max-share <value>\]/],
            [["a", "b"], /^Error: usage: npm run -s usage -- <stack>/],
            [[], /^Error: usage: npm run -s usage -- <stack>/],
        ];
        for (const [argv, message] of refused) assert.throws(() => parseUsageArgs(argv), message, argv.join(" "));
    });
});

/** A measured row. */
const row = (app: string, engine: string, server: string, usage: TenantUsage): UsageRow => ({ app, engine, server, status: "measured", usage });
const pg = (bytes: number, connections: number): TenantUsage => ({ bytes, connections, objects: { count: 3, unit: "tables" } });
const keys = (count: number): TenantUsage => ({ objects: { count, unit: "keys" }, server: { bytes: 50 * MI, connections: 4, objects: { count: 0, unit: "keys" } } });

describe("npm run usage: shared servers and what to move", () => {
    it("orders a shared server's tenants heaviest first with their shares, and leaves out servers of one tenant and engines not measured", () => {
        const servers = sharedServers([
            row("small", "postgresql", "pg:5432", pg(1 * GI, 2)),
            row("big", "postgresql", "pg:5432", pg(3 * GI, 6)),
            row("alone", "postgresql", "pg2:5432", pg(9 * GI, 90)),
            { app: "x", engine: "neo4j", server: "n:7687", status: "not measured", reason: "no usage" },
            { app: "y", engine: "neo4j", server: "n:7687", status: "not measured", reason: "no usage" },
        ]);
        assert.deepStrictEqual(
            servers.map((s) => [s.engine, s.server, s.sizeBy, s.total, s.tenants.map((t) => [t.app, t.sizeShare, t.connectionShare])]),
            [["postgresql", "pg:5432", "bytes", { bytes: 4 * GI, connections: 8, objects: 6 }, [["big", 0.75, 0.75], ["small", 0.25, 0.25]]]],
        );
    });

    it("moves a tenant above --max-share of size or connections only from --min-size / --min-connections, and any above --max-size or --max-connections", () => {
        const servers = sharedServers([
            row("a", "postgresql", "pg:5432", pg(3 * GI, 2)),
            row("b", "postgresql", "pg:5432", pg(1 * GI, 2)),
            // Tiny: 90% of the size and connections, below both floors.
            row("c", "mysql", "my:3306", pg(90 * MI, 9)),
            row("d", "mysql", "my:3306", pg(10 * MI, 1)),
            // Large, and many connections, but not the larger share.
            row("e", "mysql", "my2:3306", pg(6 * GI, 60)),
            row("f", "mysql", "my2:3306", pg(7 * GI, 70)),
        ]);
        assert.deepStrictEqual(
            recommend(servers, DEFAULT_THRESHOLDS).map((r) => [r.engine, r.app, r.server, r.reasons]),
            [
                ["postgresql", "a", "pg:5432", ["75% of the server's size > --max-share 0.5 (size 3Gi ≥ --min-size 1Gi)"]],
                ["mysql", "f", "my2:3306", ["size 7Gi > --max-size 5Gi", "53.8% of the server's size > --max-share 0.5 (size 7Gi ≥ --min-size 1Gi)", "70 connections > --max-connections 50", "53.8% of the server's connections > --max-share 0.5 (70 ≥ --min-connections 10)"]],
                ["mysql", "e", "my2:3306", ["size 6Gi > --max-size 5Gi", "60 connections > --max-connections 50"]],
            ],
        );
        // Floors of 0: the tiny server's larger tenant moves too; a share of 1 moves no one by share.
        const low = { ...DEFAULT_THRESHOLDS, minSize: 0, minConnections: 0 };
        assert.deepStrictEqual(recommend(servers, low).map((r) => r.app), ["a", "c", "f", "e"]);
        assert.deepStrictEqual(recommend(servers, { ...low, maxShare: 1, maxSize: 100 * GI, maxConnections: 1000 }), []);
    });

    it("where bytes are not visible (Redis on a shared server), shares and limits go by keys from --min-objects / --max-objects, and keys no tenant counts are named", () => {
        const servers = sharedServers([
            row("a", "redis", "r:6379", { ...keys(3000000), server: { bytes: 900 * MI, connections: 5, objects: { count: 4000500, unit: "keys" } } }),
            row("b", "redis", "r:6379", keys(1000000)),
        ]);
        // The server figures are the latest measured tenant's.
        assert.deepStrictEqual([servers[0].sizeBy, servers[0].unit, servers[0].total.objects, servers[0].outside], ["objects", "keys", 4000000, undefined]);
        const fresh = sharedServers([row("b", "redis", "r:6379", keys(1000000)), row("a", "redis", "r:6379", { ...keys(3000000), server: { bytes: 900 * MI, objects: { count: 4000500, unit: "keys" } } })]);
        assert.deepStrictEqual([fresh[0].tenants.map((t) => t.app), fresh[0].outside], [["a", "b"], 500]);
        assert.deepStrictEqual(recommend(fresh, DEFAULT_THRESHOLDS), [
            { app: "a", engine: "redis", server: "r:6379", reasons: ["75% of the server's keys > --max-share 0.5 (3000000 keys ≥ --min-objects 1000000)"] },
        ]);
        assert.deepStrictEqual(recommend(fresh, { ...DEFAULT_THRESHOLDS, maxObjects: 999999 }).map((r) => [r.app, r.reasons.length]), [["a", 2], ["b", 1]]);
    });

    it("leaves a failed tenant out of its server's shares and names it", () => {
        const [server] = sharedServers([
            row("a", "postgresql", "pg:5432", pg(3 * GI, 2)),
            row("b", "postgresql", "pg:5432", pg(1 * GI, 2)),
            { app: "c", engine: "postgresql", server: "pg:5432", status: "failed", reason: "boom" },
        ]);
        assert.deepStrictEqual([server.unmeasured, server.tenants.map((t) => t.sizeShare)], [["c"], [0.75, 0.25]]);
    });
});

const credentials = (host: string, port: number, password: string) => ({ host, port, user: "u", password, database: "d", url: `x://u:${password}@${host}:${port}/d` });

describe("npm run usage: a run", () => {
    const apps = {
        app_a: { postgresql: credentials("pg", 5432, "pw-a-secret"), neo4j: credentials("neo", 7687, "pw-n-secret"), redis: { ...credentials("r", 6379, "pw-r-secret"), db: 1, keyPrefix: "app_a" } },
        app_b: { postgresql: credentials("pg", 5432, "pw-b-secret"), mysql: credentials("gone", 3306, "pw-m-secret") },
    } as unknown as Record<string, AppCredentials>;
    const stand: EngineUsage = {
        note: "stand-in",
        measure: (own) => (own.password === "pw-b-secret" ? Promise.reject(new Error(`login refused for ${own.url}`)) : Promise.resolve(pg(10 * MI, 1))),
    };
    const redisStand: EngineUsage = { note: "redis stand-in", measure: () => Promise.resolve(keys(7)) };
    const usages = () => ({ postgresql: stand, mysql: stand, redis: redisStand, neo4j: undefined });
    const reach = (host: string) => Promise.resolve(host === "gone" ? "connect ECONNREFUSED" : undefined);

    it("lists engines without a measurement as not measured, names an unreachable server and a tenant that fails, and credits a tenant alone on its server with the server's figures", async () => {
        const result = await measureStack(apps, usages(), reach);
        assert.deepStrictEqual(
            result.rows.map((r) => [r.engine, r.app, r.status, r.fromServer, r.usage?.bytes, r.usage?.connections]),
            [
                ["postgresql", "app_a", "measured", undefined, 10 * MI, 1],
                ["postgresql", "app_b", "failed", undefined, undefined, undefined],
                ["neo4j", "app_a", "not measured", undefined, undefined, undefined],
                ["redis", "app_a", "measured", ["bytes", "connections"], 50 * MI, 4],
                ["mysql", "app_b", "failed", undefined, undefined, undefined],
            ],
        );
        assert.deepStrictEqual(result.problems, [
            "postgresql pg:5432: app_b could not be measured: login refused for x://u:pw-b-secret@pg:5432/d",
            "mysql server gone:3306 is unreachable (connect ECONNREFUSED); its tenants app_b were not measured",
        ]);
    });

    it("prints the table, the shared servers, the recommendations and the notes; fails with every problem named and no secret shown", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "usage-test-"));
        try {
            const file = path.join(dir, "apps.json");
            fs.writeFileSync(file, JSON.stringify(apps));
            const { out, err, code } = await runUsage(["--from", file], usages, reach);
            assert.strictEqual(code, 1);
            assert.strictEqual(
                out.split("\n\n")[0],
                [
                    "app    engine      server     size  connections  objects   note",
                    "app_a  postgresql  pg:5432    10Mi  1            3 tables",
                    "app_b  postgresql  pg:5432    -     -            -         FAILED: see below",
                    "app_a  neo4j       neo:7687   -     -            -         not measured (no usage measurement for neo4j yet)",
                    "app_a  redis       r:6379     50Mi  4            7 keys    size and connections: the server's (alone on it)",
                    "app_b  mysql       gone:3306  -     -            -         FAILED: server unreachable",
                ].join("\n"),
            );
            assert.ok(
                out.includes(
                    [
                        "\nshared servers, heaviest tenant first:",
                        "postgresql pg:5432: 1 tenant measured, 10Mi, 1 connection; not measured: app_b (left out of the shares)",
                        "  app    size  share  connections  share",
                        "  app_a  10Mi  100%   1            100%",
                        "",
                    ].join("\n"),
                ),
                out,
            );
            assert.ok(out.includes("):\n  none\n"), out);
            assert.match(out, /\nnotes:\n- stand-in\n- redis stand-in\n- not measured: neo4j \(no usage measurement for them yet\)\n$/);
            assert.match(err, /^\n2 problem\(s\):\n- postgresql pg:5432: app_b could not be measured: login refused for \*\*\*\n- mysql server gone:3306 is unreachable/);
            assert.ok(!/pw-.-secret/.test(out + err), "no password printed");

            fs.writeFileSync(file, JSON.stringify({ app_a: apps.app_a }));
            assert.strictEqual((await runUsage(["--from", file], usages, reach)).code, 0);
            assert.strictEqual((await runUsage(["--help"], usages, reach)).out, usageHelp());
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("npm run usage: the engines' figures", () => {
    it("redis: keys of the tenant's own DB number, and the whole server's memory and other clients, from INFO", () => {
        const info = [
            "# Memory",
            "used_memory:1048576",
            "maxmemory:268435456",
            "# Clients",
            "connected_clients:3",
            "# Keyspace",
            "db0:keys=5,expires=0,avg_ttl=0",
            "db2:keys=1000,expires=10,avg_ttl=5",
            "db12:keys=7,expires=0,avg_ttl=0,subexpiry=0",
            "",
        ].join("\r\n");
        assert.deepStrictEqual([...keyspaceCounts(parseInfo(info))], [[0, 5], [2, 1000], [12, 7]]);
        assert.deepStrictEqual(redisUsageFromInfo(info, 2), {
            objects: { count: 1000, unit: "keys" },
            server: { bytes: 1048576, maxBytes: 268435456, connections: 2, objects: { count: 1012, unit: "keys" } },
        });
        assert.deepStrictEqual(redisUsageFromInfo(info.replace("maxmemory:268435456", "maxmemory:0"), 1).objects, { count: 0, unit: "keys" });
        assert.strictEqual(redisUsageFromInfo(info.replace("maxmemory:268435456", "maxmemory:0"), 1).server!.maxBytes, undefined);
        assert.throws(() => redisUsageFromInfo("# Keyspace\r\n", 1), /INFO has no maxmemory/);
    });

    it("mongodb: dbStats on the tenant's own database, as the tenant: storage and indexes, and documents", async () => {
        const own = { host: "m", port: 27017, user: "app_a", password: "pw-secret", database: "app_a", url: "mongodb://..." } as MongodbCredentials;
        const commands: [string, Record<string, unknown>][] = [];
        let closed = 0;
        const usage = mongodbUsageWith(async (who) => {
            assert.strictEqual(who, own);
            return {
                command: async (db, command) => {
                    commands.push([db, command]);
                    return { db, collections: 2, objects: 1234, dataSize: 9000, storageSize: 8192, indexSize: 4096, ok: 1 };
                },
                close: async () => void closed++,
            };
        });
        assert.deepStrictEqual(await usage.measure(own), { bytes: 12288, objects: { count: 1234, unit: "documents" } });
        assert.deepStrictEqual(commands.map(([db, c]) => [db, c.dbStats]), [["app_a", 1]]);
        assert.strictEqual(closed, 1);
        const refused = mongodbUsageWith(async () => ({ command: () => Promise.reject(new Error("not authorized on app_a")), close: async () => void closed++ }));
        await assert.rejects(refused.measure(own), /^Error: MongoDB at m:27017 as app_a in database "app_a": not authorized on app_a$/);
        assert.strictEqual(closed, 2);
    });

    it("qdrant: the points of the tenant's own collections, with its token, over HTTP", async () => {
        const requests: string[] = [];
        const points: Record<string, number> = { app_a_docs: 120, app_a_faces: 3 };
        const server = http.createServer((req, res) => {
            requests.push(`${req.method} ${req.url} ${req.headers["api-key"]}`);
            const name = decodeURIComponent(req.url!.replace(/^\/collections\//, ""));
            if (req.headers["api-key"] !== "jwt-a") res.writeHead(403).end('{"status":{"error":"forbidden"}}');
            else if (!(name in points)) res.writeHead(404).end('{"status":{"error":"Not found"}}');
            else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ result: { status: "green", points_count: points[name] }, status: "ok" }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const { port } = server.address() as AddressInfo;
        const own = { host: "127.0.0.1", port, url: `http://127.0.0.1:${port}/`, apiKey: "jwt-a", collectionPrefix: "app_a", collections: ["app_a_docs", "app_a_faces"] } as QdrantCredentials;
        try {
            assert.deepStrictEqual(await qdrantUsage.measure(own), { objects: { count: 123, unit: "points" } });
            assert.deepStrictEqual(requests, ["GET /collections/app_a_docs jwt-a", "GET /collections/app_a_faces jwt-a"]);
            await assert.rejects(qdrantUsage.measure({ ...own, apiKey: "jwt-other" }), new RegExp(`^Error: Qdrant at 127\\.0\\.0\\.1:${port} as app_a: collection app_a_docs: HTTP 403 `));
            await assert.rejects(qdrantUsage.measure({ ...own, collections: ["app_a_gone"] }), /collection app_a_gone: HTTP 404/);
        } finally {
            server.close();
        }
    });
});
