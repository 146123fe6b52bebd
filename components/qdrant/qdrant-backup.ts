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
    // The exact number of points of collection $1 in `n`, empty when the collection does not
    // exist (404); stops the script on any other answer.
    "qcount() { n=''; code=$(qcall POST \"/collections/$1/points/count\" -H 'Content-Type: application/json' --data '{\"exact\":true}') || exit 1",
    '  case "$code" in 404) return 0;; 200) ;; *) echo "qdrant: count of $1: HTTP $code $(head -c 500 "$QBODY")" >&2; exit 1;; esac',
    '  n=$(sed -n \'s/.*"count" *: *\\([0-9][0-9]*\\).*/\\1/p\' "$QBODY")',
    '  case "$n" in ""|*[!0-9]*) echo "qdrant: count of $1: $(head -c 500 "$QBODY")" >&2; exit 1;; esac; }',
    // Exit 0 when every collection of the app has no point (or does not exist), 1 when one has.
    'qempty() { for c in $QDRANT_COLLECTIONS; do qcount "$c"; case "$n" in ""|0) ;; *) return 1;; esac; done; return 0; }',
    // Checks the bundle "$IN" before anything is sent: every entry a plain file
    // <collection>.snapshot of one of the app's collections, so a bundle naming another
    // collection is refused as a whole. Sets `bundle` to those collections (names of
    // [a-z0-9_-] only); returns 1, saying why, otherwise.
    'qbundle() { bundle=""; QBUNDLE=$(mktemp) || return 1; cleanup="$cleanup $QBUNDLE"',
    '  tar -tvf "$IN" > "$QBUNDLE" || return 1',
    "  if grep -qv '^-' \"$QBUNDLE\"; then echo \"restore: $IN holds something other than plain files\" >&2; return 1; fi",
    '  tar -tf "$IN" > "$QBUNDLE" || return 1',
    "  while IFS= read -r f; do",
    "    c=${f%.snapshot}",
    '    case "$c" in ""|*[!a-z0-9_-]*) ok=false;; *) case " $QDRANT_COLLECTIONS " in *" $c "*) ok=true;; *) ok=false;; esac;; esac',
    '    if [ "$ok" != true ] || [ "$f" != "$c.snapshot" ]; then echo "restore: $IN holds $f, not a snapshot of a collection of $APP ($QDRANT_COLLECTIONS)" >&2; return 1; fi',
    '    bundle="$bundle $c"',
    '  done < "$QBUNDLE"; }',
    // Deletes every point of collection $1 (an empty filter matches them all); one that does not
    // exist is empty. Returns 1, saying why, when Qdrant refuses.
    "qclear() { code=$(qcall POST \"/collections/$1/points/delete?wait=true\" -H 'Content-Type: application/json' --data '{\"filter\":{}}') || return 1",
    '  case "$code" in 200|404) ;; *) echo "qdrant: emptying $1: HTTP $code $(head -c 500 "$QBODY")" >&2; return 1;; esac; }',
    // Empties the collections the bundle "$IN" holds, once it is checked; returns 1 on a failure
    // (never exits: a copy that failed runs it on its way out, before removing its files).
    'qunload() { qbundle || return 1; for c in $bundle; do qclear "$c" || return 1; done; }',
].join("\n");

// The exact list of the app's collections, never a listing by prefix: app `a`'s prefix `a_` is
// also the start of app `a_b`'s collections. Snapshot files sit in a directory (QWORK) under their
// collection's name, each added to $cleanup as it comes (as in RESTORE); $cleanup removes files,
// not directories, so a failed run leaves the directory, empty.
const DUMP = [
    "QWORK=$(mktemp -d)",
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

// The bundle is checked first (qbundle): a bundle naming another collection uploads nothing.
const RESTORE = [
    "qbundle || exit 1",
    "QWORK=$(mktemp -d)",
    'for c in $bundle; do cleanup="$cleanup $QWORK/$c.snapshot"; done',
    'tar -xf "$IN" -C "$QWORK"',
    'for c in $bundle; do qok POST "/collections/$c/snapshots/upload?priority=snapshot&wait=true" -F "snapshot=@$QWORK/$c.snapshot"; done',
    'rm -f "$QWORK"/*.snapshot && rmdir "$QWORK"',
].join("\n");

/**
 * Per collection of the app: create a snapshot, download it, delete it on the server; the
 * snapshots go into one tar. A restore uploads each to its own collection with
 * `priority=snapshot`, which replaces the collection (points, vectors, payload indexes). A move
 * copies the same way and compares each collection's points on both servers.
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
        // Nothing to empty before a restore: recovering a snapshot replaces its collection whole,
        // and an upload that fails leaves the collection as it was.
        clear: ":",
        // A copy that fails after it began recovering: the collections the bundle holds (once it
        // is checked) lose every point, so the target is empty again. A collection the bundle
        // does not hold keeps its points.
        unload: "qunload",
        restore: RESTORE,
        // `<collection> <points>` for each of the app's collections, counted exactly; one that
        // does not exist is `absent`, never 0.
        count: 'for c in $QDRANT_COLLECTIONS; do qcount "$c"; echo "$c ${n:-absent}"; done',
        // No freeze: an app's token is a JWT signed with the server's one api key, so it cannot be
        // taken back or narrowed to reads for one tenant (a new key would cut off every tenant).
        // What the app writes to the old server while its copy runs is not copied: stop its
        // writes for the move. A count that changes between a snapshot and the count fails the
        // copy; a write that changes no count (an update, an upsert of an existing point) goes
        // unnoticed. For the same reason the old tenancy's token keeps working on the old server
        // after the move.
    },
};
