// Backup of one app's MongoDB database with the official image's own tools (mongodump,
// mongorestore, mongosh), logging in as the root admin. Pure: no Pulumi.
import type { EngineBackup } from "../backup";
import type { MongodbOptions } from "./engine";
import { MONGODB_ADMIN_USER as ADMIN_USER } from "./mongodb-settings";

// mongosh with no password on its command line: the script connects itself, reading the admin's
// password from the environment; `d` is the app's database. Its JS uses no `"`, `$` or backquote.
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
    },
};
