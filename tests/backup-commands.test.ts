// The backup hooks of MongoDB, Qdrant and Neo4j, run as a Job runs them: `sh -c` with the exact
// scripts the program renders (components/backup.ts around each hook's commands). This machine has
// no mongod and no Qdrant, so stand-ins play the server side: MongoDB's tools are fakes first on
// PATH (mongosh evaluates the script's JavaScript against a directory of collections), Qdrant is
// an HTTP server in this process answering the REST calls the script makes with the real curl.
// What the stand-ins cannot prove (the real tools' behaviour) is named where it matters.
import * as assert from "assert";
import { MONGODB_ADMIN_USER } from "../components/mongodb/mongodb-settings";
import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { backupEnvironment, backupScript, restoreScript } from "../components/backup";
import { mongodbEngine } from "../components/mongodb/engine";
import { MONGODB_BACKUP } from "../components/mongodb/mongodb-backup";
import { neo4jEngine } from "../components/neo4j/engine";
import { NEO4J_BACKUP, neo4jBackupProblem } from "../components/neo4j/neo4j-backup";
import { QdrantTenantOptions, qdrantEngine } from "../components/qdrant/engine";
import { QDRANT_BACKUP } from "../components/qdrant/qdrant-backup";

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

/** sh -c <script>, asynchronously: the Qdrant stand-in answers from this process meanwhile. */
function sh(script: string, env: Record<string, string>): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn("sh", ["-c", script], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

/** A scratch directory with bin/ (stand-ins), tmp/ (the scripts' TMPDIR) and backups/. */
function workspace(name: string) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `backup-commands-${name}-`));
    for (const d of ["bin", "tmp", "backups", "state"]) fs.mkdirSync(path.join(root, d));
    return {
        root,
        bin: path.join(root, "bin"),
        tmp: path.join(root, "tmp"),
        backups: path.join(root, "backups"),
        state: path.join(root, "state"),
        log: path.join(root, "calls.log"),
        remove: () => fs.rmSync(root, { recursive: true, force: true }),
    };
}

function executable(file: string, text: string): void {
    fs.writeFileSync(file, text, { mode: 0o755 });
}

const backupName = (stdout: string) => /^backup (\S+)$/m.exec(stdout)![1];

/** One test of the frame's rules per engine suffices; these are the hooks' own. */
function frameEnv(app: string, engine: string, w: ReturnType<typeof workspace>): Record<string, string> {
    return { APP: app, ENGINE: engine, BACKUP_DIR: w.backups, TMPDIR: w.tmp, PATH: `${w.bin}:${process.env.PATH}` };
}

// ---------------------------------------------------------------------------------------------
// MongoDB
// ---------------------------------------------------------------------------------------------

// Quotes, a space and URL delimiters: the YAML file and the connection string must carry it as is.
const MONGO_PASSWORD = `pw'"$; :@/?#x`;
const MONGO_PORT = 27017;

/**
 * mongodump, mongorestore and mongosh stand-ins. They log their argv to calls.log, accept only
 * the options the hook should use, check the login as the server would (admin, authSource admin,
 * the password from the --config file or the connection string) and keep collections as files
 * state/<db>/<collection>. An archive is JSON of [namespace, content] pairs, gzipped with --gzip.
 */
function mongoStandIns(w: ReturnType<typeof workspace>): void {
    const common = `#!${process.execPath}
const fs = require("fs"), path = require("path"), zlib = require("zlib"), vm = require("vm");
const tool = path.basename(process.argv[1]);
const args = process.argv.slice(2);
const LOG = ${JSON.stringify(w.log)}, STATE = ${JSON.stringify(w.state)}, ROOT = ${JSON.stringify(w.root)};
const EXPECT = { host: "127.0.0.1", port: "${MONGO_PORT}", user: "admin", password: ${JSON.stringify(MONGO_PASSWORD)} };
const record = (extra) => fs.appendFileSync(LOG, JSON.stringify({ tool, args, ...extra }) + "\\n");
function die(message, code = 1) { process.stderr.write(tool + ": " + message + "\\n"); process.exit(code); }
function options(known) {
    const out = {};
    for (const a of args) {
        const m = /^--([A-Za-z]+)(?:=([^]*))?$/.exec(a);
        if (!m || !(m[1] in known)) die("unknown option " + a, 2);
        if (known[m[1]] === "flag") { if (m[2] !== undefined) die("bad flag " + a, 2); out[m[1]] = true; }
        else if (m[2] === undefined) die(a + " needs =<value>", 2);
        else if (known[m[1]] === "list") (out[m[1]] = out[m[1]] || []).push(m[2]);
        else if (m[1] in out) die("twice: " + a, 2);
        else out[m[1]] = m[2];
    }
    return out;
}
const LOGIN = { config: "value", host: "value", port: "value", username: "value", authenticationDatabase: "value" };
function login(o) {
    const text = fs.readFileSync(o.config, "utf8");
    const m = /^password: '((?:[^']|'')*)'\\n$/.exec(text);
    if (!m) die("config file is not one password line: " + JSON.stringify(text), 2);
    const ok = o.host === EXPECT.host && o.port === EXPECT.port && o.username === EXPECT.user && o.authenticationDatabase === "admin";
    if (!ok || m[1].replace(/''/g, "'") !== EXPECT.password) die("Failed: (AuthenticationFailed) Authentication failed.");
    return text;
}
const collections = (db) => (fs.existsSync(path.join(STATE, db)) ? fs.readdirSync(path.join(STATE, db)).sort() : []);
`;
    executable(
        path.join(w.bin, "mongodump"),
        common +
            `const o = options({ ...LOGIN, db: "value", archive: "value", gzip: "flag" });
record({ config: login(o) });
if (fs.existsSync(path.join(ROOT, "dump-fails"))) { fs.writeFileSync(o.archive, "half an archive"); die("Failed: connection reset"); }
const entries = collections(o.db).map((c) => [o.db + "." + c, fs.readFileSync(path.join(STATE, o.db, c), "utf8")]);
const json = Buffer.from(JSON.stringify(entries));
fs.writeFileSync(o.archive, o.gzip ? zlib.gzipSync(json) : json);
`,
    );
    // Namespace filters as mongo-tools applies them (mongorestore/filepath.go): each --nsInclude
    // pattern ('*' any characters) is matched against the namespace the archive names; there is
    // no rename here, so an included namespace is written as named. Without --nsInclude, all.
    executable(
        path.join(w.bin, "mongorestore"),
        common +
            `const o = options({ ...LOGIN, nsInclude: "list", drop: "flag", stopOnError: "flag", archive: "value", gzip: "flag" });
login(o);
let raw = fs.readFileSync(o.archive);
if (o.gzip) raw = zlib.gunzipSync(raw);
const patterns = (o.nsInclude || ["*"]).map((p) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^$()[\\]{}|\\\\]/g, "\\\\$&")).join(".*") + "$"));
const written = [], skipped = [];
for (const [ns, content] of JSON.parse(raw.toString())) {
    if (!patterns.some((p) => p.test(ns))) { skipped.push(ns); continue; }
    const [db, ...rest] = ns.split(".");
    const file = path.join(STATE, db, rest.join("."));
    if (fs.existsSync(file) && !o.drop) { if (o.stopOnError) die("E11000 duplicate key in " + ns); continue; }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    written.push(ns);
}
record({ written, skipped });
`,
    );
    // Runs the --eval JavaScript with connect() and a database of collection files, printing the
    // value of its last expression as mongosh does.
    executable(
        path.join(w.bin, "mongosh"),
        common +
            `if (args.length !== 4 || args[0] !== "--quiet" || args[1] !== "--nodb" || args[2] !== "--eval") die("unexpected arguments " + JSON.stringify(args), 2);
record({});
function connect(uri) {
    const u = new URL(uri);
    const ok = u.protocol === "mongodb:" && decodeURIComponent(u.username) === EXPECT.user && decodeURIComponent(u.password) === EXPECT.password &&
        u.hostname === EXPECT.host && u.port === EXPECT.port && u.pathname === "/admin" && u.searchParams.get("authSource") === "admin";
    if (!ok) throw new Error("MongoServerError: Authentication failed.");
    return { getSiblingDB: (db) => ({
        getCollectionNames: () => collections(db),
        getCollection: (c) => ({ drop: () => { const f = path.join(STATE, db, c); if (!fs.existsSync(f)) return false; fs.rmSync(f); record({ dropped: db + "." + c }); return true; } }),
    }) };
}
try {
    const value = vm.runInNewContext(args[3], { process: { env: process.env }, connect });
    if (value !== undefined) console.log(String(value));
} catch (e) { die(e.message); }
`,
    );
}

describe("MongoDB backup hook, run with mongodump/mongorestore/mongosh stand-ins", function () {
    let w: ReturnType<typeof workspace>;
    const server = { host: "127.0.0.1", port: MONGO_PORT, options: { tuning: {} } };
    const env = (app: string, extra: Record<string, string> = {}): Record<string, string> => ({
        ...frameEnv(app, "mongodb", w),
        ...backupEnvironment(MONGODB_BACKUP, server, { app, options: {} }, { MONGO_INITDB_ROOT_PASSWORD: MONGO_PASSWORD }),
        ...extra,
    });
    const backup = (app: string, keep = 5, extra: Record<string, string> = {}) => sh(backupScript(MONGODB_BACKUP.commands), { ...env(app, extra), KEEP: String(keep) });
    const restore = (app: string, from: string, replace = false, extra: Record<string, string> = {}) =>
        sh(restoreScript(MONGODB_BACKUP.commands), { ...env(app, extra), FROM: from, ...(replace ? { REPLACE: "true" } : {}) });
    const calls = (): { tool: string; args: string[]; config?: string; written?: string[]; skipped?: string[]; dropped?: string }[] =>
        fs.existsSync(w.log) ? fs.readFileSync(w.log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
    const put = (ns: string, content: string) => {
        const [db, ...c] = ns.split(".");
        fs.mkdirSync(path.join(w.state, db), { recursive: true });
        fs.writeFileSync(path.join(w.state, db, c.join(".")), content);
    };
    const data = (db: string) =>
        fs.existsSync(path.join(w.state, db)) ? Object.fromEntries(fs.readdirSync(path.join(w.state, db)).sort().map((c) => [c, fs.readFileSync(path.join(w.state, db, c), "utf8")])) : {};
    const login = (cfg: string) => [`--config=${cfg}`, "--host=127.0.0.1", `--port=${MONGO_PORT}`, "--username=admin", "--authenticationDatabase=admin"];
    let first: string;

    before(() => {
        w = workspace("mongodb");
        mongoStandIns(w);
        put("app_a.notes", "app_a notes");
        put("app_a.system.views", "app_a views");
        put("app_a_x.notes", "app_a_x notes");
        put("app_b.notes", "app_b secret");
    });
    after(() => w?.remove());
    beforeEach(() => fs.rmSync(w.log, { force: true }));

    it("logs in as the server's root admin, the password taken from the server's own variable", () => {
        assert.deepStrictEqual(MONGODB_BACKUP.env(server, { app: "app_a", options: {} }), { MONGO_HOST: "127.0.0.1", MONGO_PORT: "27017", MONGO_USER: "admin" });
        // That the server's admin Secret holds MONGO_INITDB_ROOT_PASSWORD: tests/backup-jobs.test.ts resolves it from a rendered stack.
        assert.strictEqual(MONGODB_BACKUP.env(server, { app: "app_a", options: {} }).MONGO_USER, MONGODB_ADMIN_USER);
        assert.deepStrictEqual(MONGODB_BACKUP.secretEnv, { MONGO_PASSWORD: "MONGO_INITDB_ROOT_PASSWORD" });
        assert.strictEqual(MONGODB_BACKUP.clientImage, undefined, "the server's image has the tools");
        assert.strictEqual(mongodbEngine.backup, MONGODB_BACKUP);
    });

    it("dumps exactly the app's database as a gzipped archive, the password in a --config file on no command line", async () => {
        const result = await backup("app_a");
        assert.strictEqual(result.status, 0, result.stderr);
        first = backupName(result.stdout);
        assert.match(first, /^app_a-mongodb-\d{8}T\d{6}Z\.mongodump$/);
        const [dump] = calls();
        assert.strictEqual(dump.tool, "mongodump");
        const cfg = dump.args[0].slice("--config=".length);
        assert.strictEqual(path.dirname(cfg), w.tmp);
        // Into a partial file of its own, renamed once the dump succeeded.
        assert.deepStrictEqual(dump.args.slice(0, -2), [...login(cfg), "--db=app_a"]);
        assert.ok(String(dump.args.at(-2)).startsWith(`--archive=${w.backups}/.${first}.partial.`), dump.args.at(-2));
        assert.strictEqual(dump.args.at(-1), "--gzip");
        assert.strictEqual(dump.config, `password: 'pw''"$; :@/?#x'\n`, "YAML single-quoted, the quote doubled");
        const archive = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(w.backups, first))).toString());
        assert.deepStrictEqual(archive, [
            ["app_a.notes", "app_a notes"],
            ["app_a.system.views", "app_a views"],
        ]);
        assert.deepStrictEqual(fs.readdirSync(w.tmp), [], "the config file is removed");
        assert.deepStrictEqual(fs.readdirSync(w.backups), [first], "no partial file");
    });

    it("refuses to restore over the app's collections unless replace, and fails (not 'holds data') when it cannot log in", async () => {
        const refused = await restore("app_a", first);
        assert.strictEqual(refused.status, 1);
        assert.match(refused.stderr, /restore: the mongodb database of app_a holds data; set replace: true/);
        assert.deepStrictEqual(
            calls().map((c) => c.tool),
            ["mongosh"],
            "only the emptiness check ran",
        );
        const wrong = await restore("app_a", first, false, { MONGO_PASSWORD: "wrong" });
        assert.strictEqual(wrong.status, 1);
        assert.match(wrong.stderr, /Authentication failed/);
        assert.doesNotMatch(wrong.stderr, /holds data/);
        assert.deepStrictEqual(data("app_a"), { notes: "app_a notes", "system.views": "app_a views" });
    });

    it("with replace, drops the app's collections (views last) and restores into its own namespace only", async () => {
        put("app_a.written_after", "newer");
        const result = await restore("app_a", first, true);
        assert.strictEqual(result.status, 0, result.stderr);
        const log = calls();
        assert.deepStrictEqual(
            log.filter((c) => c.dropped).map((c) => c.dropped),
            ["app_a.notes", "app_a.written_after", "app_a.system.views"],
        );
        const run = log.find((c) => c.tool === "mongorestore" && c.args)!;
        const cfg = run.args[0].slice("--config=".length);
        assert.deepStrictEqual(run.args, [...login(cfg), "--nsInclude=app_a.*", "--drop", "--stopOnError", `--archive=${w.backups}/${first}`, "--gzip"]);
        assert.deepStrictEqual(data("app_a"), { notes: "app_a notes", "system.views": "app_a views" });
        assert.deepStrictEqual(data("app_a_x"), { notes: "app_a_x notes" }, "a database whose name starts with the app's is not the app's");
        assert.deepStrictEqual(data("app_b"), { notes: "app_b secret" });
    });

    it("a forged archive naming other databases writes nothing outside the app's database", async () => {
        const forged = "app_a-mongodb-20990101T000000Z.mongodump";
        const entries = [
            ["app_a.notes", "forged but the app's own"],
            ["app_b.notes", "overwritten by app_a"],
            ["app_a_x.notes", "overwritten by app_a"],
            ["admin.system.users", "a new admin"],
        ];
        fs.writeFileSync(path.join(w.backups, forged), zlib.gzipSync(JSON.stringify(entries)));
        const result = await restore("app_a", forged, true);
        assert.strictEqual(result.status, 0, result.stderr);
        const run = calls().find((c) => c.tool === "mongorestore")!;
        assert.deepStrictEqual(
            run.args.filter((a) => /^--(ns|db|collection|restoreDbUsersAndRoles)/.test(a)),
            ["--nsInclude=app_a.*"],
            "one namespace filter, no rename, no users",
        );
        assert.deepStrictEqual(run.written, ["app_a.notes"]);
        assert.deepStrictEqual(data("app_b"), { notes: "app_b secret" });
        assert.deepStrictEqual(data("app_a_x"), { notes: "app_a_x notes" });
        assert.deepStrictEqual(data("admin"), {});
        fs.rmSync(path.join(w.backups, forged));
    });

    it("no tool gets the password as an argument: the tools read the --config file, mongosh the environment", async () => {
        fs.rmSync(path.join(w.state, "app_a"), { recursive: true });
        const result = await restore("app_a", "latest");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual((await backup("app_a")).status, 0);
        const log = calls();
        assert.deepStrictEqual([...new Set(log.map((c) => c.tool))].sort(), ["mongodump", "mongorestore", "mongosh"]);
        for (const c of log) for (const a of c.args) assert.ok(!a.includes(MONGO_PASSWORD) && !a.includes(encodeURIComponent(MONGO_PASSWORD)), `${c.tool} ${a}`);
    });

    it("keeps the newest KEEP of the app's backups; a failed dump deletes none and leaves no partial file (the frame)", async () => {
        const old = ["20200101T000000Z", "20210101T000000Z"].map((t) => `app_a-mongodb-${t}.mongodump`);
        const others = ["app_a_x-mongodb-20200101T000000Z.mongodump", "app_b-mongodb-20200101T000000Z.mongodump", "app_a-redis-20200101T000000Z.redis"];
        for (const f of [...old, ...others]) fs.writeFileSync(path.join(w.backups, f), "old");
        const mine = () => fs.readdirSync(w.backups).filter((f) => f.startsWith("app_a-mongodb-")).sort();
        const before = mine();

        fs.writeFileSync(path.join(w.root, "dump-fails"), "");
        const failed = await backup("app_a", 1);
        fs.rmSync(path.join(w.root, "dump-fails"));
        assert.notStrictEqual(failed.status, 0);
        assert.match(failed.stderr, /connection reset/);
        assert.deepStrictEqual(mine(), before, "nothing deleted");
        assert.ok(!fs.readdirSync(w.backups).some((f) => f.includes(".partial")), "the partial archive is removed");

        const ok = await backup("app_a", 2);
        assert.strictEqual(ok.status, 0, ok.stderr);
        // Within one second two backups get one name: the newer replaces the older.
        assert.deepStrictEqual(mine(), [...new Set([...before, backupName(ok.stdout)])].sort().slice(-2));
        for (const f of others) assert.ok(fs.existsSync(path.join(w.backups, f)), `${f} is not app_a's mongodb backup`);
    });
});

// ---------------------------------------------------------------------------------------------
// Qdrant
// ---------------------------------------------------------------------------------------------

const QDRANT_KEY = "qdrant-manage-key-0123456789";

interface QdrantRequest {
    method: string;
    path: string;
    query: string;
    authorized: boolean;
}

/**
 * The REST endpoints the hook calls, as Qdrant documents them: create, download and delete a
 * collection snapshot, recover a collection from an uploaded snapshot (multipart field
 * `snapshot`, `priority=snapshot`: replaces the collection), and count points; 404 for a
 * collection that does not exist, 403 without the `api-key` header. A snapshot is a header line
 * and the collection's bytes; recovering it into any collection takes them over.
 */
class QdrantStandIn {
    readonly collections = new Map<string, { points: number; data: Buffer }>();
    readonly snapshots = new Map<string, Buffer>();
    readonly requests: QdrantRequest[] = [];
    failDownloadOf?: string;
    private made = 0;
    private readonly server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => this.handle(req, Buffer.concat(chunks), res));
    });

    async start(): Promise<number> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        return (this.server.address() as AddressInfo).port;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    snapshotOf(name: string): Buffer {
        const c = this.collections.get(name)!;
        return Buffer.concat([Buffer.from(`QSNAP ${c.points}\n`), c.data]);
    }

    private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
        const url = new URL(req.url!, "http://stand-in");
        const authorized = req.headers["api-key"] === QDRANT_KEY;
        this.requests.push({ method: req.method!, path: url.pathname, query: url.search, authorized });
        const json = (status: number, value: unknown) => {
            res.writeHead(status, { "content-type": "application/json" });
            res.end(JSON.stringify(value));
        };
        if (!authorized) return json(403, { status: { error: "Must provide an API key or an Authorization bearer token" } });
        const parts = url.pathname.split("/").slice(1);
        const name = parts[1];
        const collection = this.collections.get(name);
        const route = `${req.method} ${parts[0]}/_/${parts.slice(2).join("/")}`.replace(/snapshots\/(?!upload$)[^/]+$/, "snapshots/<name>");
        const missing = () => json(404, { status: { error: `Not found: Collection \`${name}\` doesn't exist!` } });
        switch (route) {
            case "POST collections/_/snapshots": {
                if (!collection) return missing();
                const snapshot = `${name}-${++this.made}-2026-01-01-03-00-00.snapshot`;
                const bytes = this.snapshotOf(name);
                this.snapshots.set(snapshot, bytes);
                return json(200, { result: { name: snapshot, creation_time: "2026-01-01T03:00:00", size: bytes.length, checksum: "0" }, status: "ok", time: 0.001 });
            }
            case "GET collections/_/snapshots/<name>": {
                const bytes = this.snapshots.get(parts[3]);
                if (!bytes || this.failDownloadOf === name) return json(500, { status: { error: "Service internal error" } });
                res.writeHead(200, { "content-type": "application/octet-stream" });
                res.end(bytes);
                return;
            }
            case "DELETE collections/_/snapshots/<name>":
                if (!this.snapshots.delete(parts[3])) return json(404, { status: { error: "snapshot not found" } });
                return json(200, { result: true, status: "ok", time: 0.001 });
            case "POST collections/_/snapshots/upload": {
                if (url.searchParams.get("priority") !== "snapshot") return json(400, { status: { error: "expected priority=snapshot" } });
                const boundary = /boundary=(.+)$/.exec(req.headers["content-type"] ?? "")?.[1];
                const field = boundary ? body.indexOf('name="snapshot"') : -1;
                if (field < 0) return json(400, { status: { error: "no multipart field snapshot" } });
                const start = body.indexOf("\r\n\r\n", field) + 4;
                const file = body.subarray(start, body.lastIndexOf(`\r\n--${boundary}--`));
                const header = /^QSNAP (\d+)\n/.exec(file.subarray(0, 32).toString("latin1"));
                if (!header) return json(400, { status: { error: "not a snapshot" } });
                this.collections.set(name, { points: Number(header[1]), data: file.subarray(header[0].length) });
                return json(200, { result: true, status: "ok", time: 0.001 });
            }
            case "POST collections/_/points/count":
                if (!collection) return missing();
                if (JSON.parse(body.toString()).exact !== true) return json(400, { status: { error: "expected exact" } });
                return json(200, { result: { count: collection.points }, status: "ok", time: 0.001 });
            default:
                return json(404, { status: { error: `no route ${route}` } });
        }
    }
}

describe("Qdrant backup hook, run with the real curl against a Qdrant REST stand-in", function () {
    let w: ReturnType<typeof workspace>;
    const qdrant = new QdrantStandIn();
    const tenants: Record<string, QdrantTenantOptions> = {
        a: { collections: { img: { size: 4, distance: "Dot" }, docs: { size: 8, distance: "Cosine" } } },
        // Its collection `docs` is named a_b_docs on the server: it starts with app a's prefix.
        a_b: { collections: { docs: { size: 8, distance: "Cosine" } } },
    };
    let port = 0;
    const env = (app: string): Record<string, string> => ({
        ...frameEnv(app, "qdrant", w),
        ...backupEnvironment(QDRANT_BACKUP, { host: "127.0.0.1", port, options: {} }, { app, options: tenants[app] }, { QDRANT__SERVICE__API_KEY: QDRANT_KEY }),
    });
    const backup = (app: string, keep = 5) => sh(backupScript(QDRANT_BACKUP.commands), { ...env(app), KEEP: String(keep) });
    const restore = (app: string, from: string, replace = false) => sh(restoreScript(QDRANT_BACKUP.commands), { ...env(app), FROM: from, ...(replace ? { REPLACE: "true" } : {}) });
    const curlCalls = () => (fs.existsSync(w.log) ? fs.readFileSync(w.log, "utf8").trim().split("\n").map((l) => l.split("\x1f").slice(1)) : []);
    const tarList = (file: string) => execFileSync("tar", ["-tf", file], { encoding: "utf8" }).trim().split("\n");
    const content = (name: string) => qdrant.collections.get(name) && { points: qdrant.collections.get(name)!.points, data: qdrant.collections.get(name)!.data.toString("hex") };
    const bytes = (n: number) => crypto.randomBytes(n);
    let first: string;
    let original: Record<string, unknown>;

    before(async () => {
        w = workspace("qdrant");
        port = await qdrant.start();
        const curl = execFileSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
        // Logs each call's arguments (0x1f between them), then runs the real curl.
        executable(path.join(w.bin, "curl"), `#!/bin/sh\n{ printf curl; for a in "$@"; do printf '\\037%s' "$a"; done; echo; } >> '${w.log}'\nexec '${curl}' "$@"\n`);
        // Bytes any text handling would break: CR, LF, NUL, and a multipart-looking line.
        qdrant.collections.set("a_docs", { points: 3, data: Buffer.concat([bytes(3000), Buffer.from("\r\n--x\r\n\0"), bytes(3000)]) });
        qdrant.collections.set("a_img", { points: 1, data: bytes(5000) });
        qdrant.collections.set("a_b_docs", { points: 7, data: Buffer.from("app a_b's vectors") });
        original = { a_docs: content("a_docs"), a_img: content("a_img") };
    });
    after(async () => {
        await qdrant.stop();
        w?.remove();
    });
    beforeEach(() => {
        fs.rmSync(w.log, { force: true });
        qdrant.requests.length = 0;
    });

    it("lists the app's collections by their exact names, takes the server's api key, and runs in a curl image", () => {
        assert.strictEqual(env("a").QDRANT_COLLECTIONS, "a_docs a_img");
        assert.strictEqual(env("a_b").QDRANT_COLLECTIONS, "a_b_docs");
        assert.strictEqual(env("a").QDRANT_API_KEY, QDRANT_KEY);
        assert.deepStrictEqual(QDRANT_BACKUP.secretEnv, { QDRANT_API_KEY: "QDRANT__SERVICE__API_KEY" });
        assert.deepStrictEqual(QDRANT_BACKUP.clientImage, { image: "curlimages/curl:8.11.1", uid: 100 });
        assert.strictEqual(qdrantEngine.backup, QDRANT_BACKUP);
    });

    it("snapshots, downloads and deletes each of the app's collections, and never touches app a_b's a_b_docs", async () => {
        const result = await backup("a");
        assert.strictEqual(result.status, 0, result.stderr);
        first = backupName(result.stdout);
        assert.match(first, /^a-qdrant-\d{8}T\d{6}Z\.tar$/);
        assert.deepStrictEqual(
            qdrant.requests.map((r) => `${r.method} ${r.path}${r.query}`),
            [
                "POST /collections/a_docs/snapshots?wait=true",
                "GET /collections/a_docs/snapshots/a_docs-1-2026-01-01-03-00-00.snapshot",
                "DELETE /collections/a_docs/snapshots/a_docs-1-2026-01-01-03-00-00.snapshot",
                "POST /collections/a_img/snapshots?wait=true",
                "GET /collections/a_img/snapshots/a_img-2-2026-01-01-03-00-00.snapshot",
                "DELETE /collections/a_img/snapshots/a_img-2-2026-01-01-03-00-00.snapshot",
            ],
        );
        assert.ok(qdrant.requests.every((r) => r.authorized), "every call carries the api-key header");
        assert.strictEqual(qdrant.snapshots.size, 0, "no snapshot is left on the server");
        const file = path.join(w.backups, first);
        assert.deepStrictEqual(tarList(file), ["a_docs.snapshot", "a_img.snapshot"]);
        const out = path.join(w.root, "unpacked");
        fs.mkdirSync(out);
        execFileSync("tar", ["-xf", file, "-C", out]);
        assert.ok(fs.readFileSync(path.join(out, "a_docs.snapshot")).equals(qdrant.snapshotOf("a_docs")), "byte for byte");
        assert.ok(fs.readFileSync(path.join(out, "a_img.snapshot")).equals(qdrant.snapshotOf("a_img")));
        assert.deepStrictEqual(fs.readdirSync(w.tmp), [], "header file and snapshot files removed");
        assert.deepStrictEqual(fs.readdirSync(w.backups), [first]);
    });

    it("refuses to restore over collections that hold points unless replace; then recovers each snapshot into its own collection", async () => {
        qdrant.collections.set("a_docs", { points: 9, data: Buffer.from("written after the backup") });
        const refused = await restore("a", first);
        assert.strictEqual(refused.status, 1);
        assert.match(refused.stderr, /restore: the qdrant database of a holds data; set replace: true/);
        assert.ok(!qdrant.requests.some((r) => r.path.includes("upload")), "nothing uploaded");
        const result = await restore("a", first, true);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(
            qdrant.requests.filter((r) => r.path.includes("upload")).map((r) => `${r.method} ${r.path}${r.query}`),
            ["POST /collections/a_docs/snapshots/upload?priority=snapshot&wait=true", "POST /collections/a_img/snapshots/upload?priority=snapshot&wait=true"],
        );
        assert.deepStrictEqual({ a_docs: content("a_docs"), a_img: content("a_img") }, original);
        assert.deepStrictEqual(content("a_b_docs"), { points: 7, data: Buffer.from("app a_b's vectors").toString("hex") });
        assert.ok(!qdrant.requests.some((r) => r.path.includes("a_b_docs")), "app a_b's collection is never read or written");
        assert.deepStrictEqual(fs.readdirSync(w.tmp), []);
    });

    it("restores into missing or empty collections without replace (a missing collection counts as empty)", async () => {
        qdrant.collections.delete("a_docs");
        qdrant.collections.set("a_img", { points: 0, data: Buffer.alloc(0) });
        const result = await restore("a", "latest");
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual({ a_docs: content("a_docs"), a_img: content("a_img") }, original);
    });

    it("refuses a bundle naming a collection outside the app's list, or anything but plain files, before uploading anything", async () => {
        const dir = path.join(w.root, "forge");
        fs.mkdirSync(dir);
        const forge = (name: string, files: string[]) => {
            execFileSync("tar", ["-cf", path.join(w.backups, name), "-C", dir, ...files]);
            return name;
        };
        fs.writeFileSync(path.join(dir, "a_docs.snapshot"), qdrant.snapshotOf("a_docs"));
        fs.writeFileSync(path.join(dir, "a_b_docs.snapshot"), Buffer.from("QSNAP 1\nforged"));
        fs.writeFileSync(path.join(dir, "a_docs"), "no suffix");
        fs.symlinkSync("/etc/passwd", path.join(dir, "a_img.snapshot"));
        const cases: [string, RegExp][] = [
            [forge("a-qdrant-20990101T000001Z.tar", ["a_docs.snapshot", "a_b_docs.snapshot"]), /holds a_b_docs\.snapshot, not a snapshot of a collection of a \(a_docs a_img\)/],
            [forge("a-qdrant-20990101T000002Z.tar", ["a_docs"]), /holds a_docs, not a snapshot/],
            [forge("a-qdrant-20990101T000003Z.tar", ["a_img.snapshot"]), /holds something other than plain files/],
            [forge("a-qdrant-20990101T000004Z.tar", ["."]), /holds something other than plain files/],
        ];
        const before = { a_docs: content("a_docs"), a_img: content("a_img"), a_b_docs: content("a_b_docs") };
        for (const [name, message] of cases) {
            qdrant.requests.length = 0;
            const result = await restore("a", name, true);
            assert.strictEqual(result.status, 1, `${name}: ${result.stderr}`);
            assert.match(result.stderr, message);
            assert.ok(!qdrant.requests.some((r) => r.path.includes("upload")), `${name}: nothing uploaded`);
            fs.rmSync(path.join(w.backups, name));
        }
        assert.deepStrictEqual({ a_docs: content("a_docs"), a_img: content("a_img"), a_b_docs: content("a_b_docs") }, before);
    });

    it("gives curl the api key in a header file, never as an argument", async () => {
        assert.strictEqual((await backup("a")).status, 0);
        const calls = curlCalls();
        assert.ok(calls.length >= 6);
        for (const args of calls) {
            assert.ok(!args.some((a) => a.includes(QDRANT_KEY)), args.join(" "));
            const header = args[args.indexOf("-H") + 1];
            assert.match(header, /^@\//, "headers from a file");
        }
    });

    it("a failed download fails the backup, deletes no older backup, and still deletes the snapshot on the server", async () => {
        const before = fs.readdirSync(w.backups).sort();
        qdrant.failDownloadOf = "a_img";
        const result = await backup("a", 1);
        qdrant.failDownloadOf = undefined;
        assert.notStrictEqual(result.status, 0, result.stdout + result.stderr);
        assert.match(result.stderr, /qdrant: GET \/collections\/a_img\/snapshots\/\S+: HTTP 500/);
        assert.deepStrictEqual(fs.readdirSync(w.backups).sort(), before, "nothing deleted, no partial file");
        assert.strictEqual(qdrant.snapshots.size, 0);
        assert.deepStrictEqual(fs.readdirSync(w.tmp).filter((f) => !fs.statSync(path.join(w.tmp, f)).isDirectory()), [], "no file left behind");
    });
});

// ---------------------------------------------------------------------------------------------
// Neo4j
// ---------------------------------------------------------------------------------------------

describe("Neo4j backup hook: refused, with the reason and what to do instead", () => {
    it("Community: no backup of a database while the server runs; back up a dedicated server's volume", () => {
        const problem = neo4jBackupProblem({ edition: "community" });
        assert.match(problem, /^Neo4j Community cannot back up a database while the server runs/);
        assert.match(problem, /neo4j-admin database dump needs it offline/);
        assert.match(problem, /back up the volume of a dedicated Neo4j server instead/);
    });

    it("Enterprise: online backup, but no restore from a separate Job; the same alternative", () => {
        const problem = neo4jBackupProblem({ edition: "enterprise" });
        assert.match(problem, /^Neo4j Enterprise backs a database up online .* but cannot restore it from a separate Job/);
        assert.match(problem, /write the server's own data directory/);
        assert.match(problem, /seedURI/);
        assert.match(problem, /back up the volume of a dedicated Neo4j server instead/);
    });

    it("the descriptor's hook refuses every edition, and its commands fail and write nothing if rendered anyway", async () => {
        assert.strictEqual(neo4jEngine.backup, NEO4J_BACKUP);
        for (const edition of ["community", "enterprise"] as const) assert.strictEqual(neo4jEngine.backup!.problem!({ edition }), neo4jBackupProblem({ edition }));
        const w = workspace("neo4j");
        try {
            const result = await sh(backupScript(NEO4J_BACKUP.commands), { ...frameEnv("app_a", "neo4j", w), KEEP: "1" });
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /neo4j: no per-tenant backup/);
            assert.deepStrictEqual(fs.readdirSync(w.backups), []);
        } finally {
            w.remove();
        }
    });
});
