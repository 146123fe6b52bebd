// Backup of one app's Qdrant collections with Qdrant's own collection snapshots, over its REST API
// with the server's api key. The Qdrant image has no HTTP client, so the scripts run in a small
// curl image (busybox sh: POSIX sh, busybox sed and tar, no jq). Pure: no Pulumi.
import type { EngineBackup, JobImage } from "../backup";
import type { QdrantTenantOptions } from "./engine";

/** curlimages/curl runs as curl_user, uid 100; curl ≥ 7.55 reads headers from a file (`-H @file`). */
export const QDRANT_BACKUP_IMAGE: JobImage = { image: "curlimages/curl:8.11.1", uid: 100 };

// ./engine imports this file: a lazy require keeps either from loading the other half-way.
const engine = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("./engine") as typeof import("./engine");

const PRELUDE = [
    'QURL="http://$QDRANT_HOST:$QDRANT_PORT"',
    // The key goes to curl in a header file: printf is a shell builtin, so no process has it as an argument.
    "QHDR=$(mktemp)",
    "QBODY=$(mktemp)",
    'cleanup="$cleanup $QHDR $QBODY"',
    `printf 'api-key: %s\\n' "$QDRANT_API_KEY" > "$QHDR"`,
    // method, path, curl options: the answer goes to $QBODY, the HTTP status to stdout.
    'qcall() { m=$1; p=$2; shift 2; curl -sS -o "$QBODY" -w "%{http_code}" -H @"$QHDR" -X "$m" "$@" "$QURL$p"; }',
    // The same, stopping the script unless Qdrant answers 200.
    'qok() { code=$(qcall "$@") || exit 1; if [ "$code" != 200 ]; then echo "qdrant: $1 $2: HTTP $code $(head -c 500 "$QBODY")" >&2; exit 1; fi; }',
    // Downloads a snapshot to $3 and deletes it on the server, whether or not the download worked
    // (its own variable: functions share the script's, and qok sets `code`).
    'fetch() { fetched=$(qcall GET "/collections/$1/snapshots/$2") || fetched=000; mv "$QBODY" "$3"',
    '  qok DELETE "/collections/$1/snapshots/$2"',
    '  if [ "$fetched" != 200 ]; then echo "qdrant: GET /collections/$1/snapshots/$2: HTTP $fetched" >&2; exit 1; fi; }',
    // Exit 0 when every collection of the app has no point (or does not exist), 1 when one has, and stops the script on any other answer.
    "qempty() { for c in $QDRANT_COLLECTIONS; do",
    "  code=$(qcall POST \"/collections/$c/points/count\" -H 'Content-Type: application/json' --data '{\"exact\":true}') || exit 1",
    '  case "$code" in 404) continue;; 200) ;; *) echo "qdrant: count of $c: HTTP $code $(head -c 500 "$QBODY")" >&2; exit 1;; esac',
    '  n=$(sed -n \'s/.*"count" *: *\\([0-9][0-9]*\\).*/\\1/p\' "$QBODY")',
    '  case "$n" in ""|*[!0-9]*) echo "qdrant: count of $c: $(head -c 500 "$QBODY")" >&2; exit 1;; 0) ;; *) return 1;; esac',
    "done; return 0; }",
].join("\n");

// Snapshot files sit in a directory under their collection's name, each added to $cleanup as it
// comes; $cleanup removes files, not directories, so a failed run leaves the directory, empty.
const WORKDIR = ['QWORK=$(mktemp -d)', 'QLIST="$QWORK/.list"', 'cleanup="$cleanup $QLIST"'].join("\n");

// The exact list of the app's collections, never a listing by prefix: app `a`'s prefix `a_` is
// also the start of app `a_b`'s collections.
const DUMP = [
    WORKDIR,
    'files=""',
    "for c in $QDRANT_COLLECTIONS; do",
    '  qok POST "/collections/$c/snapshots?wait=true"',
    '  snap=$(sed -n \'s/.*"name" *: *"\\([^"]*\\)".*/\\1/p\' "$QBODY")',
    '  case "$snap" in ""|*[!A-Za-z0-9._-]*) echo "qdrant: snapshot of $c: $(head -c 500 "$QBODY")" >&2; exit 1;; esac',
    '  cleanup="$cleanup $QWORK/$c.snapshot"',
    '  fetch "$c" "$snap" "$QWORK/$c.snapshot"',
    '  files="$files $c.snapshot"',
    "done",
    'tar -cf "$OUT" -C "$QWORK" $files',
    'rm -f "$QWORK"/*.snapshot && rmdir "$QWORK"',
].join("\n");

// Every entry must be a plain file <collection>.snapshot of one of the app's collections, checked
// before anything is sent: a bundle naming another collection is refused as a whole.
const RESTORE = [
    WORKDIR,
    'tar -tvf "$IN" > "$QLIST"',
    "if grep -qv '^-' \"$QLIST\"; then echo \"restore: $IN holds something other than plain files\" >&2; exit 1; fi",
    'tar -tf "$IN" > "$QLIST"',
    "while IFS= read -r f; do",
    '  c=${f%.snapshot}',
    '  case "$c" in ""|*[!a-z0-9_-]*) ok=false;; *) case " $QDRANT_COLLECTIONS " in *" $c "*) ok=true;; *) ok=false;; esac;; esac',
    '  if [ "$ok" != true ] || [ "$f" != "$c.snapshot" ]; then echo "restore: $IN holds $f, not a snapshot of a collection of $APP ($QDRANT_COLLECTIONS)" >&2; exit 1; fi',
    '  cleanup="$cleanup $QWORK/$f"',
    'done < "$QLIST"',
    'tar -xf "$IN" -C "$QWORK"',
    "while IFS= read -r f; do",
    '  qok POST "/collections/${f%.snapshot}/snapshots/upload?priority=snapshot&wait=true" -F "snapshot=@$QWORK/$f"',
    'done < "$QLIST"',
    'rm -f "$QWORK"/*.snapshot "$QLIST" && rmdir "$QWORK"',
].join("\n");

/**
 * Per collection of the app: create a snapshot, download it, delete it on the server; the
 * snapshots go into one tar. A restore uploads each to its own collection with
 * `priority=snapshot`, which replaces the collection (points, vectors, payload indexes).
 */
export const QDRANT_BACKUP: EngineBackup<object, QdrantTenantOptions> = {
    clientImage: QDRANT_BACKUP_IMAGE,
    env: (server, tenant) => ({
        QDRANT_HOST: server.host,
        QDRANT_PORT: String(server.port),
        QDRANT_COLLECTIONS: Object.keys(tenant.options.collections)
            .sort()
            .map((name) => engine().collectionName(tenant.app, name))
            .join(" "),
    }),
    secretEnv: { QDRANT_API_KEY: "QDRANT__SERVICE__API_KEY" },
    commands: {
        extension: "tar",
        prelude: PRELUDE,
        dump: DUMP,
        isEmpty: "qempty",
        // Nothing to empty first: recovering a snapshot replaces its collection whole. A collection
        // the backup does not hold (added since) keeps its points.
        clear: ":",
        restore: RESTORE,
    },
};
