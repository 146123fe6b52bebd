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
import { backupEnvironment, backupScript, copyInScript, copyOutScript, restoreScript } from "../components/backup";
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
 *
 * For a move's count and freeze, a collection file's lines are its documents; a first line
 * `#view …` or `#timeseries` gives its type as listCollections would (a view's line is its
 * definition, no document). users.json holds the users' roles (`<user>@<db>`: roles), ops.json the
 * operations in progress (`{opid, user, db, session}`); the admin commands the freeze runs act on
 * them as MongoDB documents them, and the stand-in computes a session owner's digest itself
 * (SHA-256 of `<user>@<db>`, as the server's logical_session_id_helpers.cpp). `sleep` only
 * counts. `restore-loses` (a namespace) makes mongorestore drop that collection's last document.
 */
function mongoStandIns(w: ReturnType<typeof workspace>, password = MONGO_PASSWORD): void {
    const common = `#!${process.execPath}
const fs = require("fs"), path = require("path"), zlib = require("zlib"), vm = require("vm"), crypto = require("crypto");
const tool = path.basename(process.argv[1]);
const args = process.argv.slice(2);
const LOG = ${JSON.stringify(w.log)}, STATE = ${JSON.stringify(w.state)}, ROOT = ${JSON.stringify(w.root)};
const EXPECT = { host: "127.0.0.1", port: "${MONGO_PORT}", user: "admin", password: ${JSON.stringify(password)} };
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
    // pattern ('*' any characters, a line break too: mongorestore/ns/ns.go compiles "(?s)^…$") is
    // matched against the namespace the archive names; there is no rename here, so an included
    // namespace is written as named. Without --nsInclude, all.
    executable(
        path.join(w.bin, "mongorestore"),
        common +
            `const o = options({ ...LOGIN, nsInclude: "list", drop: "flag", stopOnError: "flag", archive: "value", gzip: "flag" });
login(o);
let raw = fs.readFileSync(o.archive);
if (o.gzip) raw = zlib.gunzipSync(raw);
const loses = fs.existsSync(path.join(ROOT, "restore-loses")) ? fs.readFileSync(path.join(ROOT, "restore-loses"), "utf8").trim() : undefined;
const patterns = (o.nsInclude || ["*"]).map((p) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^$()[\\]{}|\\\\]/g, "\\\\$&")).join(".*") + "$", "s"));
const written = [], skipped = [];
for (const [ns, content] of JSON.parse(raw.toString())) {
    if (!patterns.some((p) => p.test(ns))) { skipped.push(ns); continue; }
    const [db, ...rest] = ns.split(".");
    const file = path.join(STATE, db, rest.join("."));
    if (fs.existsSync(file) && !o.drop) { if (o.stopOnError) die("E11000 duplicate key in " + ns); continue; }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, ns === loses ? content.split("\\n").slice(0, -1).join("\\n") : content);
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
const json = (file, empty) => (fs.existsSync(path.join(ROOT, file)) ? JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) : empty);
const save = (file, value) => fs.writeFileSync(path.join(ROOT, file), JSON.stringify(value));
const lines = (db, c) => fs.readFileSync(path.join(STATE, db, c), "utf8").split("\\n");
const typeOf = (db, c) => { const first = lines(db, c)[0]; return first.startsWith("#view") ? "view" : first.startsWith("#timeseries") ? "timeseries" : "collection"; };
const owner = (user, db) => crypto.createHash("sha256").update(user + "@" + db).digest("hex");
function command(db, cmd) {
    const name = Object.keys(cmd)[0];
    const users = json("users.json", {}), ops = json("ops.json", []);
    const mine = (o) => o.user === cmd["effectiveUsers.user"] && o.db === cmd["effectiveUsers.db"];
    record({ db, command: name, body: { ...cmd, ...(cmd.killAllSessionsByPattern && { killAllSessionsByPattern: cmd.killAllSessionsByPattern.map((p) => ({ uid: p.uid.hex })) }) } });
    switch (name) {
        case "usersInfo": {
            const key = cmd.usersInfo.user + "@" + cmd.usersInfo.db;
            return { users: db === cmd.usersInfo.db && users[key] ? [{ user: cmd.usersInfo.user, db, roles: users[key] }] : [], ok: 1 };
        }
        case "updateUser":
            if (!users[cmd.updateUser + "@" + db]) return { ok: 0, errmsg: "User " + cmd.updateUser + "@" + db + " not found", code: 11 };
            users[cmd.updateUser + "@" + db] = cmd.roles;
            save("users.json", users);
            return { ok: 1 };
        case "killAllSessionsByPattern":
            if (db !== "admin") return { ok: 0, errmsg: "killAllSessionsByPattern may only be run against the admin database.", code: 13 };
            if (cmd.killAllSessionsByPattern.some((p) => p.users || p.roles)) return { ok: 0, errmsg: "Not authorized to impersonate in killAllSessionsByPattern", code: 13 };
            save("ops.json", ops.filter((o) => !(o.session && cmd.killAllSessionsByPattern.some((p) => p.uid.hex === owner(o.user, o.db)))));
            return { ok: 1 };
        case "currentOp":
            if (db !== "admin") return { ok: 0, errmsg: "currentOp may only be run against the admin database.", code: 13 };
            return { inprog: ops.filter(mine).map((o) => ({ opid: o.opid, effectiveUsers: [{ user: o.user, db: o.db }] })), ok: 1 };
        case "killOp":
            if (db !== "admin") return { ok: 0, errmsg: "killOp may only be run against the admin database.", code: 13 };
            save("ops.json", ops.filter((o) => o.opid !== cmd.op || o.sticky));
            return { info: "attempting to kill op", ok: 1 };
        default:
            return { ok: 0, errmsg: "no such command: '" + name + "'", code: 59 };
    }
}
function database(db) {
    return {
        getSiblingDB: database,
        getCollectionNames: () => collections(db),
        getCollectionInfos: () => collections(db).map((name) => ({ name, type: typeOf(db, name) })),
        getCollection: (c) => ({
            drop: () => { const f = path.join(STATE, db, c); if (!fs.existsSync(f)) return false; fs.rmSync(f); record({ dropped: db + "." + c }); return true; },
            countDocuments: (filter) => {
                if (Object.keys(filter).length !== 0 || typeOf(db, c) === "view") throw new Error("the stand-in counts whole collections only");
                return lines(db, c).filter((l) => l !== "" && !l.startsWith("#")).length;
            },
        }),
        runCommand: (cmd) => command(db, cmd),
    };
}
function connect(uri) {
    const u = new URL(uri);
    const ok = u.protocol === "mongodb:" && decodeURIComponent(u.username) === EXPECT.user && decodeURIComponent(u.password) === EXPECT.password &&
        u.hostname === EXPECT.host && u.port === EXPECT.port && u.pathname === "/admin" && u.searchParams.get("authSource") === "admin";
    if (!ok) throw new Error("MongoServerError: Authentication failed.");
    return database("admin");
}
const globals = {
    print: (...values) => console.log(values.join(" ")),
    BinData: (subtype, base64) => ({ subtype, hex: Buffer.from(base64, "base64").toString("hex") }),
    require: (m) => { if (m !== "crypto") throw new Error("the stand-in has no module " + m); return crypto; },
    sleep: (ms) => record({ slept: ms }),
};
try {
    const value = vm.runInNewContext(args[3], { process: { env: process.env }, connect, ...globals });
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

describe("MongoDB move: the copy scripts out of one server and into another, with the stand-ins", function () {
    // Each server its own stand-ins and admin password; the copy's directory between them. One
    // copy-out (in `before`) feeds the copy-ins.
    const TARGET_PASSWORD = `target'pw"$ :@/x`;
    const server = { host: "127.0.0.1", port: MONGO_PORT, options: { tuning: {} } };
    let src: ReturnType<typeof workspace>;
    let dst: ReturnType<typeof workspace>;
    let dir: string;
    let out: Run;
    const env = (side: ReturnType<typeof workspace>, password: string, copyDir: string, freeze = false): Record<string, string> => ({
        ...frameEnv("app_a", "mongodb", side),
        BACKUP_DIR: copyDir,
        ...backupEnvironment(MONGODB_BACKUP, server, { app: "app_a", options: {} }, { MONGO_INITDB_ROOT_PASSWORD: password }, undefined, { copy: true, freeze }),
    });
    const copyOut = (copyDir: string) => sh(copyOutScript(MONGODB_BACKUP.commands), env(src, MONGO_PASSWORD, copyDir, true));
    const copyIn = () => sh(copyInScript(MONGODB_BACKUP.commands), env(dst, TARGET_PASSWORD, dir));
    type Call = { tool: string; args: string[]; db?: string; command?: string; body?: Record<string, unknown>; slept?: number };
    const calls = (side: ReturnType<typeof workspace>): Call[] => (fs.existsSync(side.log) ? fs.readFileSync(side.log, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);
    /** The tools started, in order (not the commands they ran). */
    const started = (side: ReturnType<typeof workspace>) =>
        calls(side)
            .filter((c) => Object.keys(c).length === 2 || (c.tool === "mongodump" && "config" in c) || (c.tool === "mongorestore" && "written" in c))
            .map((c) => c.tool);
    const put = (side: ReturnType<typeof workspace>, ns: string, content: string) => {
        const [db, ...c] = ns.split(".");
        fs.mkdirSync(path.join(side.state, db), { recursive: true });
        fs.writeFileSync(path.join(side.state, db, c.join(".")), content);
    };
    const data = (side: ReturnType<typeof workspace>, db: string) =>
        fs.existsSync(path.join(side.state, db)) ? Object.fromEntries(fs.readdirSync(path.join(side.state, db)).sort().map((c) => [c, fs.readFileSync(path.join(side.state, db, c), "utf8")])) : {};
    const readJson = (side: ReturnType<typeof workspace>, file: string) => JSON.parse(fs.readFileSync(path.join(side.root, file), "utf8"));
    const writeJson = (side: ReturnType<typeof workspace>, file: string, value: unknown) => fs.writeFileSync(path.join(side.root, file), JSON.stringify(value));
    const readWrite = (db: string) => [{ role: "readWrite", db }];
    // MongoDB's owner digest of a user's sessions, computed here independently of the script.
    const owner = (user: string, db: string) => crypto.createHash("sha256").update(`${user}@${db}`).digest("hex");
    /** The new server as the move finds it: the tenancy it made (its user, no data), another app's data. */
    const newServer = () => {
        fs.rmSync(dst.state, { recursive: true, force: true });
        fs.rmSync(dst.log, { force: true });
        put(dst, "app_c.notes", "app_c secret");
        writeJson(dst, "users.json", { "app_a@app_a": readWrite("app_a"), "app_c@app_c": readWrite("app_c") });
    };

    before(async () => {
        src = workspace("mongodb-move-from");
        dst = workspace("mongodb-move-to");
        mongoStandIns(src);
        mongoStandIns(dst, TARGET_PASSWORD);
        dir = path.join(src.root, "copy");
        fs.mkdirSync(dir);
        put(src, "app_a.notes", "n1\nn2\nn3");
        put(src, "app_a.odd name\nx", "d1");
        put(src, "app_a.recent", "#view on notes");
        put(src, "app_a.weather", "#timeseries\nm1\nm2");
        put(src, "app_a.system.buckets.weather", "b1");
        put(src, "app_a.system.js", "f1");
        put(src, "app_a.system.views", "recent\nweather");
        put(src, "app_a.system.profile", "p1\np2");
        put(src, "app_b.notes", "app_b secret");
        writeJson(src, "users.json", { "app_a@app_a": readWrite("app_a"), "app_b@app_b": readWrite("app_b"), "app_a@other": readWrite("other") });
        writeJson(src, "ops.json", [
            { opid: 11, user: "app_a", db: "app_a", session: true },
            { opid: 12, user: "app_a", db: "app_a", session: false },
            { opid: 21, user: "app_b", db: "app_b", session: true },
            { opid: 31, user: "app_a", db: "other", session: true },
        ]);
        out = await copyOut(dir);
    });
    after(() => {
        src?.remove();
        dst?.remove();
    });

    it("copy-out: freezes the app's writes first (read only, its sessions and operations ended), then dumps and counts what mongodump copies", () => {
        assert.strictEqual(out.status, 0, out.stderr);
        const name = /^copied out (app_a-mongodb-\d{8}T\d{6}Z\.mongodump)$/m.exec(out.stdout)![1];
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), [name, "counted-at", "counts"]);
        // Collections and time-series collections with their documents, system.js, views by name;
        // not system.buckets.*, system.views or system.profile. One line per name, whatever it holds.
        assert.strictEqual(fs.readFileSync(path.join(dir, "counts"), "utf8"), "notes 3\nodd name\\nx 1\nrecent view\nsystem.js 1\nweather 2\n");
        assert.deepStrictEqual(started(src), ["mongosh", "mongodump", "mongosh"], "the freeze, the dump, the count");
        const commands = calls(src).filter((c) => c.command);
        assert.deepStrictEqual(
            commands.map((c) => [c.db, c.command]),
            [
                ["app_a", "usersInfo"],
                ["app_a", "updateUser"],
                ["admin", "killAllSessionsByPattern"],
                ["admin", "currentOp"],
                ["admin", "killOp"],
                ["admin", "currentOp"],
            ],
        );
        assert.deepStrictEqual(commands[1].body, { updateUser: "app_a", roles: [{ role: "read", db: "app_a" }] });
        assert.deepStrictEqual(commands[2].body, { killAllSessionsByPattern: [{ uid: owner("app_a", "app_a") }] }, "by owner, not by users (which needs impersonate)");
        assert.deepStrictEqual(commands[3].body, { currentOp: 1, "effectiveUsers.user": "app_a", "effectiveUsers.db": "app_a" });
        assert.deepStrictEqual(commands[4].body, { killOp: 1, op: 12 }, "the operation outside a session; the session's ended with it");
        assert.deepStrictEqual(readJson(src, "users.json"), { "app_a@app_a": [{ role: "read", db: "app_a" }], "app_b@app_b": readWrite("app_b"), "app_a@other": readWrite("other") });
        assert.deepStrictEqual(
            readJson(src, "ops.json").map((o: { opid: number }) => o.opid),
            [21, 31],
            "another app's operations, and those of a user of the same name in another database, go on",
        );
        assert.deepStrictEqual(data(src, "app_b"), { notes: "app_b secret" });
        assert.ok(!calls(src).some((c) => c.args.some((a) => a.includes(MONGO_PASSWORD))), "no password as an argument");
    });

    it("copy-in: a document lost on the way fails the copy naming the collection and empties the target; run again, it copies, with the new server's own login", async () => {
        newServer();
        fs.writeFileSync(path.join(dst.root, "restore-loses"), "app_a.notes");
        const lost = await copyIn();
        fs.rmSync(path.join(dst.root, "restore-loses"));
        assert.strictEqual(lost.status, 1, lost.stdout);
        assert.ok(
            lost.stderr.includes("copy: the mongodb data of app_a on the target differs from the source's (object and rows or keys):\n  source: notes 3\n  target: notes 2\n"),
            lost.stderr,
        );
        assert.match(lost.stderr, /copy: emptying the target again/);
        assert.doesNotMatch(lost.stdout, /copied/);
        assert.deepStrictEqual(data(dst, "app_a"), {}, "no partial copy is left");
        assert.deepStrictEqual(data(dst, "app_c"), { notes: "app_c secret" });

        fs.rmSync(dst.log);
        const again = await copyIn();
        assert.strictEqual(again.status, 0, again.stderr);
        assert.strictEqual(again.stdout, "copied 5 objects\n");
        assert.deepStrictEqual(data(dst, "app_a"), data(src, "app_a"));
        assert.deepStrictEqual(data(dst, "app_c"), { notes: "app_c secret" });
        assert.deepStrictEqual(started(dst), ["mongosh", "mongorestore", "mongosh"], "the emptiness check, the restore, the count");
        assert.ok(!calls(dst).some((c) => c.command !== undefined), "nothing frozen on the target");
        assert.deepStrictEqual(readJson(dst, "users.json")["app_a@app_a"], readWrite("app_a"));
    });

    it("copy-out refuses a tenancy whose user has no role (an old copy) or no user at all, and writes nothing", async () => {
        for (const [users, message] of [
            [{ "app_a@app_a": [] }, /freeze: app_a has no role on this server: its data here is an old copy, not what the app uses; is moveFrom the placement its data is on now\?/],
            [{}, /freeze: the server has no user app_a in the database app_a/],
        ] as const) {
            writeJson(src, "users.json", users);
            fs.rmSync(src.log, { force: true });
            const refused = fs.mkdtempSync(path.join(src.root, "refused-"));
            const result = await copyOut(refused);
            assert.strictEqual(result.status, 1, result.stdout);
            assert.match(result.stderr, message);
            assert.deepStrictEqual(fs.readdirSync(refused), []);
            assert.deepStrictEqual(started(src), ["mongosh"], "no dump");
            assert.deepStrictEqual(readJson(src, "users.json"), users, "no role changed");
        }
    });

    it("copy-out fails, before the dump, when an operation of the app does not end within 10 seconds", async () => {
        writeJson(src, "users.json", { "app_a@app_a": readWrite("app_a") });
        writeJson(src, "ops.json", [{ opid: 12, user: "app_a", db: "app_a", session: false, sticky: true }]);
        fs.rmSync(src.log, { force: true });
        const refused = fs.mkdtempSync(path.join(src.root, "refused-"));
        const result = await copyOut(refused);
        assert.strictEqual(result.status, 1, result.stdout);
        assert.match(result.stderr, /freeze: 1 operations of app_a did not end within 10 seconds/);
        const slept = calls(src).filter((c) => c.slept !== undefined).map((c) => c.slept);
        assert.deepStrictEqual([slept.length, new Set(slept).size, slept[0]], [100, 1, 100], "100 tries, 100 ms apart");
        assert.deepStrictEqual(started(src), ["mongosh"], "no dump");
        assert.deepStrictEqual(fs.readdirSync(refused), []);
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
 * `snapshot`, `priority=snapshot`: replaces the collection), count points (exact only), and
 * delete points by filter (here only the empty filter, which matches every point); 404 for a
 * collection that does not exist, 403 without the `api-key` header. A snapshot is a header line
 * and the collection's bytes; recovering it into any collection takes them over (faults for one
 * collection: `loseOnUpload`, all but one point; `vanishOnUpload`, a 200 that leaves no collection).
 */
class QdrantStandIn {
    readonly collections = new Map<string, { points: number; data: Buffer }>();
    readonly snapshots = new Map<string, Buffer>();
    readonly requests: QdrantRequest[] = [];
    failDownloadOf?: string;
    loseOnUpload?: string;
    vanishOnUpload?: string;
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
                if (this.vanishOnUpload === name) this.collections.delete(name);
                else this.collections.set(name, { points: Number(header[1]) - (this.loseOnUpload === name ? 1 : 0), data: file.subarray(header[0].length) });
                return json(200, { result: true, status: "ok", time: 0.001 });
            }
            case "POST collections/_/points/count":
                if (!collection) return missing();
                if (JSON.parse(body.toString()).exact !== true) return json(400, { status: { error: "expected exact" } });
                return json(200, { result: { count: collection.points }, status: "ok", time: 0.001 });
            case "POST collections/_/points/delete":
                if (!collection) return missing();
                if (body.toString() !== '{"filter":{}}' || url.searchParams.get("wait") !== "true") return json(400, { status: { error: "the stand-in deletes every point only" } });
                this.collections.set(name, { points: 0, data: Buffer.alloc(0) });
                return json(200, { result: { operation_id: 1, status: "completed" }, status: "ok", time: 0.001 });
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
            qdrant.requests.filter((r) => r.path.includes("upload") || r.path.endsWith("/points/delete")).map((r) => `${r.method} ${r.path}${r.query}`),
            [
                // Replace deletes nothing first: a snapshot replaces its collection whole, and one that fails to upload leaves it as it was.
                "POST /collections/a_docs/snapshots/upload?priority=snapshot&wait=true",
                "POST /collections/a_img/snapshots/upload?priority=snapshot&wait=true",
            ],
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
            assert.ok(!qdrant.requests.some((r) => r.path.includes("upload") || r.path.endsWith("/points/delete")), `${name}: nothing uploaded or emptied`);
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

    describe("a move: the copy scripts, the stand-in playing the old server and then the new one", () => {
        let dir: string;
        let source: Record<string, unknown>;
        const copyEnv = (): Record<string, string> => ({ ...env("a"), ...backupEnvironment(QDRANT_BACKUP, { host: "127.0.0.1", port, options: {} }, { app: "a", options: tenants.a }, { QDRANT__SERVICE__API_KEY: QDRANT_KEY }, undefined, { copy: true }), BACKUP_DIR: dir });
        const copyOut = () => sh(copyOutScript(QDRANT_BACKUP.commands), copyEnv());
        const copyIn = () => sh(copyInScript(QDRANT_BACKUP.commands), copyEnv());
        const calls = () => qdrant.requests.map((r) => `${r.method} ${r.path}`);
        /** The new server: the tenancy the move made (the app's collections, empty) and another app's collection. */
        const newServer = () => {
            qdrant.collections.clear();
            qdrant.collections.set("a_docs", { points: 0, data: Buffer.alloc(0) });
            qdrant.collections.set("a_img", { points: 0, data: Buffer.alloc(0) });
            qdrant.collections.set("a_b_docs", { points: 2, data: Buffer.from("the new server's a_b") });
        };

        let out: Run;
        let outCalls: string[];
        // One copy-out feeds the copy-ins.
        before(async () => {
            dir = fs.mkdtempSync(path.join(w.root, "copy-"));
            qdrant.collections.clear();
            qdrant.collections.set("a_docs", { points: 3, data: Buffer.concat([bytes(2000), Buffer.from("\r\n--x\r\n\0")]) });
            qdrant.collections.set("a_img", { points: 1, data: bytes(1000) });
            qdrant.collections.set("a_b_docs", { points: 7, data: Buffer.from("app a_b's vectors") });
            source = { a_docs: content("a_docs"), a_img: content("a_img") };
            qdrant.requests.length = 0;
            out = await copyOut();
            outCalls = calls();
        });

        it("copy-out counts each of the app's collections exactly beside the bundle, and changes nothing on the old server (no freeze)", () => {
            assert.strictEqual(out.status, 0, out.stderr);
            assert.match(out.stdout, /^copied out a-qdrant-\d{8}T\d{6}Z\.tar$/m);
            assert.strictEqual(QDRANT_BACKUP.commands.freeze, undefined);
            assert.strictEqual(fs.readFileSync(path.join(dir, "counts"), "utf8"), "a_docs 3\na_img 1\n");
            assert.deepStrictEqual(
                outCalls.filter((c) => c.endsWith("/points/count")),
                ["POST /collections/a_docs/points/count", "POST /collections/a_img/points/count"],
                "exact (the stand-in refuses any other count)",
            );
            assert.ok(outCalls.indexOf("POST /collections/a_img/points/count") > outCalls.lastIndexOf("POST /collections/a_img/snapshots"), "counted after the snapshots");
            assert.ok(!outCalls.some((c) => c.includes("a_b_docs") || c.includes("upload") || c.endsWith("/points/delete")), outCalls.join("\n"));
        });

        it("copy-in: a point lost (or a collection missing) on the way fails the copy naming it and empties what it recovered; run again, it copies", async () => {
            newServer();
            qdrant.loseOnUpload = "a_img";
            qdrant.vanishOnUpload = "a_docs";
            const lost = await copyIn();
            qdrant.loseOnUpload = qdrant.vanishOnUpload = undefined;
            assert.strictEqual(lost.status, 1, lost.stdout);
            assert.ok(
                lost.stderr.includes("copy: the qdrant data of a on the target differs from the source's (object and rows or keys):\n  source: a_docs 3\n  source: a_img 1\n  target: a_docs absent\n  target: a_img 0\n"),
                lost.stderr,
            );
            assert.match(lost.stderr, /copy: emptying the target again/);
            assert.doesNotMatch(lost.stderr, /could not empty/);
            assert.strictEqual(qdrant.collections.get("a_img")!.points, 0, "no partial copy is left");
            assert.deepStrictEqual(content("a_b_docs"), { points: 2, data: Buffer.from("the new server's a_b").toString("hex") });
            assert.deepStrictEqual(fs.readdirSync(w.tmp).filter((f) => !fs.statSync(path.join(w.tmp, f)).isDirectory()), [], "no file left behind (the api key's header file included)");

            qdrant.requests.length = 0;
            const again = await copyIn();
            assert.strictEqual(again.status, 0, again.stderr);
            assert.strictEqual(again.stdout, "copied 2 objects\n");
            assert.deepStrictEqual({ a_docs: content("a_docs"), a_img: content("a_img") }, source);
            assert.deepStrictEqual(content("a_b_docs"), { points: 2, data: Buffer.from("the new server's a_b").toString("hex") });
            assert.ok(!calls().some((c) => c.includes("a_b_docs") || c.endsWith("/points/delete")), calls().join("\n"));
        });
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
