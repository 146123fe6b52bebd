// Backup of one app's MongoDB database with the official image's own tools (mongodump,
// mongorestore, mongosh), logging in as the root admin; a move's count and freeze too. Pure: no
// Pulumi.
import type { EngineBackup } from "../backup";
import type { MongodbOptions } from "./engine";
import { MONGODB_ADMIN_USER as ADMIN_USER } from "./mongodb-settings";

// mongosh with no password on its command line: the script connects itself, reading the admin's
// password from the environment; `d` is the app's database, `e` the environment. Its JS uses no
// `"`, `$` or backquote (it is in double quotes in the scripts).
const MONGOSH =
    'msh() { mongosh --quiet --nodb --eval "const e = process.env; ' +
    "const d = connect('mongodb://' + encodeURIComponent(e.MONGO_USER) + ':' + encodeURIComponent(e.MONGO_PASSWORD) + '@' + e.MONGO_HOST + ':' + e.MONGO_PORT + '/admin?authSource=admin').getSiblingDB(e.APP); " +
    '$1"; }';

/**
 * The app's database only (`--db`, no users or roles), as a gzipped archive. mongodump and
 * mongorestore (Database Tools ≥ 100.3) read the password from a `--config` YAML file, so it is on
 * no command line. A restore writes only namespaces of the app's database, whatever the archive
 * holds: mongorestore matches `--nsInclude` against each namespace as the archive names it, and
 * no rename is given, so `other.x` is skipped rather than written anywhere.
 */
export const MONGODB_BACKUP: EngineBackup<MongodbOptions, object> = {
    env: (server) => ({ MONGO_HOST: server.host, MONGO_PORT: String(server.port), MONGO_USER: ADMIN_USER }),
    secretEnv: { MONGO_PASSWORD: "MONGO_INITDB_ROOT_PASSWORD" },
    commands: {
        // A gzipped mongodump archive, named like PostgreSQL's pgdump.
        extension: "mongodump",
        prelude: [
            "MONGOCFG=$(mktemp)",
            'cleanup="$cleanup $MONGOCFG"',
            // A YAML single-quoted scalar: a quote inside is doubled. printf is a shell builtin: no process sees the password as an argument.
            `printf "password: '%s'\\n" "$(printf '%s' "$MONGO_PASSWORD" | sed "s/'/''/g")" > "$MONGOCFG"`,
            'mtool() { tool=$1; shift; "$tool" --config="$MONGOCFG" --host="$MONGO_HOST" --port="$MONGO_PORT" --username="$MONGO_USER" --authenticationDatabase=admin "$@"; }',
            MONGOSH,
        ].join("\n"),
        dump: 'mtool mongodump --db="$APP" --archive="$OUT" --gzip',
        // Collections, views and system collections alike; a failed connection is an error, not "holds data".
        isEmpty: "n=$(msh 'd.getCollectionNames().length') || exit 1; test \"$n\" = 0",
        // Each collection and view, not the database: the program created the database, and the
        // app's user is defined on it (authSource <app>); a restore replaces data, nothing else.
        // Ordinary names first (dropping a time-series collection drops its system.buckets.*), then
        // what remains (system.views, system.js).
        clear: "msh \"d.getCollectionNames().filter(n => !n.startsWith('system.')).forEach(n => d.getCollection(n).drop()); d.getCollectionNames().forEach(n => d.getCollection(n).drop())\"",
        restore: 'mtool mongorestore --nsInclude="$APP.*" --drop --stopOnError --archive="$IN" --gzip',
        // What mongodump copies of the database, one line each (the name JSON-escaped, so one line
        // whatever it holds): a collection or time-series collection with its documents, counted
        // exactly (countDocuments reads them all; a time-series collection's measurements, not its
        // buckets), system.js with its stored functions, a view as `<name> view` (it holds no
        // documents of its own; its definition is what is copied). Not the other system.*
        // collections: system.buckets.* are the time-series collections counted by name,
        // system.views are the views, and system.profile is the server's, not copied.
        count: `msh "${[
            "d.getCollectionInfos().forEach(i => {",
            "const name = JSON.stringify(i.name).slice(1, -1);",
            "if (i.type === 'view') print(name + ' view');",
            "else if (!i.name.startsWith('system.') || i.name === 'system.js') print(name + ' ' + d.getCollection(i.name).countDocuments({}));",
            "})",
        ].join(" ")}"`,
        // As the admin (these commands' login): the app's user keeps only `read` on its database,
        // then its sessions are ended (by owner digest; see mongodb-admin.ts), which aborts its
        // open transactions, and the operations it had running then (outside sessions too) are
        // killed and waited for (10 s at most). What the app sees: writes fail with `not authorized
        // on <app> to execute command` (Unauthorized, code 13) from its next command on, at once
        // on its open connections too; a write or read in progress fails as interrupted, an open
        // transaction as aborted, a cursor it was reading as killed; new reads go on. A user with
        // no role is an old copy's (a tenancy the app moved away from): never the source of a copy.
        freeze: `msh "${[
            "const ok = r => { if (r.ok !== 1) throw new Error(JSON.stringify(r)); return r; };",
            "const u = ok(d.runCommand({ usersInfo: { user: e.APP, db: e.APP } })).users[0];",
            "if (!u) throw new Error('freeze: the server has no user ' + e.APP + ' in the database ' + e.APP);",
            "if (u.roles.length === 0) throw new Error('freeze: ' + e.APP + ' has no role on this server: its data here is an old copy, not what the app uses; is moveFrom the placement its data is on now?');",
            "ok(d.runCommand({ updateUser: e.APP, roles: [{ role: 'read', db: e.APP }] }));",
            "const a = d.getSiblingDB('admin');",
            "ok(a.runCommand({ killAllSessionsByPattern: [{ uid: BinData(0, require('crypto').createHash('sha256').update(e.APP + '@' + e.APP).digest('base64')) }] }));",
            // The operations running now began before the role change (a write among them could
            // still write): each is killed, and waited for. Later ones run with `read` only, so a
            // reader that always has one in flight (a change stream) does not hold the freeze.
            "const old = ok(a.runCommand({ currentOp: 1, 'effectiveUsers.user': e.APP, 'effectiveUsers.db': e.APP })).inprog.map(o => o.opid);",
            "old.forEach(op => ok(a.runCommand({ killOp: 1, op: op })));",
            "for (let i = 0; ; i++) {",
            "const left = ok(a.runCommand({ currentOp: 1, 'effectiveUsers.user': e.APP, 'effectiveUsers.db': e.APP })).inprog.filter(o => old.includes(o.opid));",
            "if (left.length === 0) break;",
            "if (i === 100) throw new Error('freeze: ' + left.length + ' operations of ' + e.APP + ' did not end within 10 seconds');",
            "sleep(100);",
            "}",
        ].join(" ")}"`,
        // The freeze needs the admin, and these commands log in as the admin already (MONGO_PASSWORD): no freezeAsAdmin.
    },
};
