// Per-tenant backups as shell scripts, the same text for a Kubernetes Job and for a command run
// in a Docker container. The frame is the same for every engine: write the dump to a partial file,
// rename it when the dump succeeded, then keep the newest `KEEP` of this app and engine; a failed
// dump exits non-zero and deletes nothing. An engine supplies only its dump, its emptiness check
// and its restore. Pure: no Pulumi.
//
// The scripts read: APP, ENGINE, BACKUP_DIR, and KEEP (backup) or FROM and REPLACE (restore),
// plus whatever the engine's own commands read (its admin address and password).

/** What an engine does in the frame. Each is sh, run with `set -eu`. */
export interface BackupCommands {
    /** Runs first (e.g. writes a client option file; add temporary files to "$cleanup"). */
    prelude?: string;
    /** File name extension of a dump, e.g. `pgdump`. */
    extension: string;
    /** Writes the app's data, and nothing else, to the file "$OUT". */
    dump: string;
    /** Exits 0 when the app's database holds no data of its own. */
    isEmpty: string;
    /** Empties the app's database before a restore with REPLACE=true. */
    clear: string;
    /**
     * Empties what a copy-in began to load, when the copy fails (copyInScript). @default clear
     * (Qdrant's clear is nothing: a snapshot replaces its collection whole, so a restore with
     * REPLACE that fails keeps the old points; a copy that fails must leave none)
     */
    unload?: string;
    /** Loads the file "$IN" into the app's database. */
    restore: string;
    /**
     * Prints one line per object of the app's own data with its size (`<object> <rows or keys>`),
     * read exactly, so two servers holding the same data print the same lines. A move compares
     * the source's with the target's (copyOutScript, copyInScript).
     */
    count?: string;
    /**
     * Stops the app's writes on the server it runs against, before a move copies the data; reads
     * go on. Runs in copyOutScript before the dump.
     */
    freeze?: string;
    /**
     * The freeze logs in as the server's admin where the other commands log in as the app (the
     * app cannot take its own write rights away): it reads the variables of
     * EngineBackup.freezeSecretEnv, runs only fixed statements that name the app, and unsets them.
     */
    freezeAsAdmin?: true;
}

/** An image a backup Job runs in, and the non-root user it runs as (restricted Pod Security). */
export interface JobImage {
    image: string;
    uid: number;
}

/**
 * An engine's backup hook (`backup` of its descriptor): the commands of the frame, and what they
 * read. A Kubernetes Job gives them `env` as plain variables, `secretEnv` from the server's admin
 * Secret and the app's own password as `tenantPasswordEnv`; `npm run backup` on Docker gives the
 * same variables to the same script.
 *
 * Where the engine lets the app's own login dump and load everything the app owns, the commands
 * log in as the app, never as the admin: a restore replays what the tenant wrote (functions,
 * triggers, routine bodies), and a tenant's code must never run in an admin's session.
 */
export interface EngineBackup<Options = any, TenantOptions = any> {
    commands: BackupCommands;
    /** The image with the client tools, when the server's own image has none (Qdrant). @default the server's image, as its uid */
    clientImage?: JobImage;
    /** Plain variables the commands read (the admin's address and user, logical databases, the app's collections), from the server's address and settings and the tenant's. */
    env(server: { host: string; port: number; options: Options }, tenant: { app: string; options: TenantOptions }): Record<string, string>;
    /** Variables read from the server's admin environment: the commands' variable name -> the server's variable name. */
    secretEnv: Record<string, string>;
    /** The variable that carries the app's own password, when the commands log in as the app. */
    tenantPasswordEnv?: string;
    /** With `commands.freezeAsAdmin`: the variables only the freeze reads, from the server's admin environment (as `secretEnv`). */
    freezeSecretEnv?: Record<string, string>;
    /** Plain variables only a move's copy scripts read, on both sides (Redis: the app's db number, which its freeze checks). */
    copyEnv?(tenant: { app: string; options: TenantOptions }): Record<string, string>;
    /** Why a server with these settings cannot back up one tenant on its own (Neo4j Community), or undefined. */
    problem?(options: Options): string | undefined;
}

/**
 * The variables the commands take from the server's admin environment: variable -> its name
 * there. `freeze`: a copyOutScript's, with those a freeze as the admin reads.
 */
export function serverVariables(hook: EngineBackup, options: { freeze?: boolean } = {}): Record<string, string> {
    return { ...hook.secretEnv, ...(options.freeze && hook.commands.freezeAsAdmin ? hook.freezeSecretEnv : {}) };
}

/** The plain variables of a copy script: the hook's, and those only a copy reads (copyEnv). */
export function copyVariables<Options, TenantOptions>(
    hook: EngineBackup<Options, TenantOptions>,
    server: { host: string; port: number; options: Options },
    tenant: { app: string; options: TenantOptions },
): Record<string, string> {
    return { ...hook.env(server, tenant), ...hook.copyEnv?.(tenant) };
}

/**
 * Every variable an engine's commands read, for a run outside Kubernetes: the plain ones, the
 * secret ones taken from the server's own environment (`serverEnv`, e.g. a container's), and the
 * app's own password where the commands log in as the app. `copy`: for a copy script, also the
 * hook's copyEnv; `freeze`: for a copyOutScript, that and the admin's variables a freeze as the
 * admin reads.
 */
export function backupEnvironment<Options, TenantOptions>(
    hook: EngineBackup<Options, TenantOptions>,
    server: { host: string; port: number; options: Options },
    tenant: { app: string; options: TenantOptions },
    serverEnv: Record<string, string | undefined>,
    tenantPassword?: string,
    options: { freeze?: boolean; copy?: boolean } = {},
): Record<string, string> {
    const secret = Object.entries(serverVariables(hook, options)).map(([name, from]) => {
        const value = serverEnv[from];
        if (value === undefined) throw new Error(`the server's environment has no ${from} (needed as ${name})`);
        return [name, value] as const;
    });
    if (hook.tenantPasswordEnv !== undefined) {
        if (tenantPassword === undefined) throw new Error(`${tenant.app}'s own password is needed (as ${hook.tenantPasswordEnv})`);
        secret.push([hook.tenantPasswordEnv, tenantPassword]);
    }
    const plain = options.copy || options.freeze ? copyVariables(hook, server, tenant) : hook.env(server, tenant);
    return { ...plain, ...Object.fromEntries(secret) };
}

/** A backup's name: `<app>-<engine>-<UTC time>.<extension>`; the pattern a script matches them with. */
export const BACKUP_NAME_PATTERN = '^${APP}-${ENGINE}-[0-9]{8}T[0-9]{6}Z\\.${EXT}$';

function frame(commands: BackupCommands, body: string): string {
    return [
        "set -eu",
        "umask 077",
        // Temporary files, removed however the script ends.
        'cleanup=""',
        "trap 'rm -f $cleanup' EXIT",
        `EXT='${commands.extension}'`,
        // App names are [a-z0-9_] and never contain '-': one app's pattern never matches another's backups.
        // One word first: grep matches line by line, and a name with a newline would pass on one line.
        `is_backup() { case "$1" in "" | *[!A-Za-z0-9_.-]*) return 1 ;; esac; printf '%s\\n' "$1" | grep -Eq "${BACKUP_NAME_PATTERN}"; }`,
        `backups() { ls -1 "$BACKUP_DIR" | grep -E "${BACKUP_NAME_PATTERN}" | sort -r; }`,
        ...(commands.prelude ? [commands.prelude] : []),
        body,
    ].join("\n");
}

/** Dumps the app's data to a partial file "$OUT" beside the backup "$name" it becomes (see keepDump). */
function dumpSteps(commands: BackupCommands): string[] {
    return [
        'name="${APP}-${ENGINE}-$(date -u +%Y%m%dT%H%M%SZ).${EXT}"',
        // Its own partial file: a second run in the same second (a manual Job) writes another.
        'OUT=$(mktemp "$BACKUP_DIR/.${name}.partial.XXXXXX")',
        'cleanup="$cleanup $OUT"',
        commands.dump,
    ];
}

/** The dump succeeded: it becomes the backup "$name". */
const keepDump = 'mv "$OUT" "$BACKUP_DIR/$name"';

/** Dumps the app's data to a new backup, then keeps the newest KEEP; prints `backup <name>`. */
export function backupScript(commands: BackupCommands): string {
    return frame(
        commands,
        [
            ...dumpSteps(commands),
            keepDump,
            'backups | tail -n +$((KEEP + 1)) | while read -r old; do rm -f "$BACKUP_DIR/$old"; done',
            'echo "backup $name"',
        ].join("\n"),
    );
}

/** Checks that "$from" names a backup of this app and engine in BACKUP_DIR, and sets IN to its path; `who` starts the messages. */
function locateSteps(who: string): string[] {
    return [
        `if [ -z "$from" ]; then echo "${who}: no backup of $APP ($ENGINE) in $BACKUP_DIR" >&2; exit 1; fi`,
        `if ! is_backup "$from"; then echo "${who}: $from is not a backup of $APP ($ENGINE)" >&2; exit 1; fi`,
        'IN="$BACKUP_DIR/$from"',
        `if [ ! -f "$IN" ]; then echo "${who}: no backup $from in $BACKUP_DIR" >&2; exit 1; fi`,
    ];
}

/**
 * Restores FROM (a backup name of this app and engine, or `latest`) into the app's database.
 * Refuses a database that holds data unless REPLACE=true, which empties it first.
 */
export function restoreScript(commands: BackupCommands): string {
    return frame(
        commands,
        [
            'if [ "$FROM" = latest ]; then from=$(backups | head -n 1); else from=$FROM; fi',
            ...locateSteps("restore"),
            'if [ "${REPLACE:-false}" = true ]; then',
            commands.clear,
            "elif ! { " + commands.isEmpty + "; }; then",
            // REPLACE_HINT: how the caller says replace (config on Kubernetes, --replace on Docker).
            '  echo "restore: the $ENGINE database of $APP holds data; ${REPLACE_HINT:-set replace: true} to replace it with $from" >&2; exit 1',
            "fi",
            commands.restore,
            'echo "restored $from"',
        ].join("\n"),
    );
}

/** The copy's counts, written by copyOutScript beside the dump, checked by copyInScript. */
const COUNTS = '"$BACKUP_DIR/counts"';
/**
 * When the source was counted (seconds since the epoch), beside the counts: both sides count as of
 * then, as COUNTED_AT (Redis leaves out keys that expire before a copy can have ended).
 */
const COUNTED_AT = '"$BACKUP_DIR/counted-at"';
/** The longest a copy runs: its Job's deadline, its command's timeout on Docker. */
export const COPY_DEADLINE_SECONDS = 12 * 3600;

/** Writes the engine's counts, in one order whatever the engine's (C collation), to "$COUNTED". */
function countSteps(commands: BackupCommands, script: string): string[] {
    if (commands.count === undefined) throw new Error(`${script}: the engine's backup has no count, so a copy cannot be checked`);
    return [
        'raw=$(mktemp)',
        'cleanup="$cleanup $raw"',
        // A brace group, not a pipe: sh has no pipefail, and a failed count must fail the script.
        `{\n${commands.count}\n} > "$raw"`,
        'LC_ALL=C sort "$raw" > "$COUNTED"',
    ];
}

/**
 * The first half of a move, with the SOURCE server's variables (those the backup reads): freezes
 * the app's writes there (when the engine can), dumps its data to a backup in BACKUP_DIR under the
 * usual name, and writes the counts of what it holds to "$BACKUP_DIR/counts". BACKUP_DIR is the
 * move's own directory: a backup of the app already there is refused, never replaced or deleted.
 * Prints `copied out <name>`.
 */
export function copyOutScript(commands: BackupCommands): string {
    const counted = countSteps(commands, "copyOutScript");
    return frame(
        commands,
        [
            'if [ -n "$(backups)" ]; then echo "copy: $BACKUP_DIR already holds a backup of $APP ($ENGINE): a copy goes through an empty directory of its own" >&2; exit 1; fi',
            ...(commands.freeze ? [commands.freeze] : []),
            ...dumpSteps(commands),
            // Counted after the dump, with writes frozen: what the dump holds.
            'COUNTED_AT=$(date +%s)',
            `printf '%s\\n' "$COUNTED_AT" > ${COUNTED_AT}`,
            'COUNTED=$(mktemp "$BACKUP_DIR/.counts.partial.XXXXXX")',
            'cleanup="$cleanup $COUNTED"',
            ...counted,
            // The counts first: a backup in the directory means a whole copy.
            `mv "$COUNTED" ${COUNTS}`,
            keepDump,
            'echo "copied out $name"',
        ].join("\n"),
    );
}

/**
 * The second half of a move, with the TARGET server's variables: refuses a target where the app
 * has data already (the tenancy a move makes is empty: data there means moveFrom names the wrong
 * side, or a copy run again after the app wrote there), restores the one backup in BACKUP_DIR,
 * and counts the target's data. Exits 1 naming the objects whose counts differ from
 * "$BACKUP_DIR/counts"; prints `copied <n> objects` when they are equal. A copy that fails after
 * it began writing empties the target again: no partial copy is left for the app (or to fill a
 * shared server), and the copy can run again.
 */
export function copyInScript(commands: BackupCommands): string {
    const counted = countSteps(commands, "copyInScript");
    return frame(
        commands,
        [
            'from=$(backups | head -n 1)',
            `if [ -n "$(backups | tail -n +2)" ]; then echo "copy: $BACKUP_DIR holds more than one backup of $APP ($ENGINE); a copy goes through a directory of its own" >&2; exit 1; fi`,
            ...locateSteps("copy"),
            `if [ ! -f ${COUNTS} ] || [ ! -f ${COUNTED_AT} ]; then echo "copy: no counts beside $from in $BACKUP_DIR" >&2; exit 1; fi`,
            `COUNTED_AT=$(cat ${COUNTED_AT})`,
            'case "$COUNTED_AT" in ""|*[!0-9]*) echo "copy: $BACKUP_DIR/counted-at is not a time" >&2; exit 1;; esac',
            "if ! { " + commands.isEmpty + "; }; then",
            '  echo "copy: the $ENGINE database of $APP on the target already holds data, and a move copies only into an empty one: is moveFrom the placement its data is on now? (A copy that failed leaves the target empty, unless it was killed outright; an old copy left there is dropped with decommission.)" >&2; exit 1',
            "fi",
            // From the first write on, a failure empties the target again, also when the copy is
            // stopped (a Job's deadline, an evicted pod, a cancelled pulumi up): the restore runs
            // in the background, so that a TERM reaches the shell (PID 1 in a container ignores a
            // signal it does not trap) while it waits; the shell ends the restore and unloads.
            'copied=false',
            `unload() {\n${commands.unload ?? commands.clear}\n}`,
            `trap 'if [ "$copied" != true ]; then echo "copy: emptying the target again" >&2; if ( cleanup=""; trap '"'"'rm -f $cleanup'"'"' EXIT; unload ) >&2; then :; else echo "copy: could not empty the target: empty it by hand before the copy runs again" >&2; fi; fi; rm -f $cleanup' EXIT`,
            // Stopped: the restore and every other process of the script's group end (the shell
            // ignores the TERM it sends them), then the EXIT trap unloads. The script must lead its
            // process group, as it does as a container's first process (Kubernetes; Docker's
            // --init gives its child a group of its own); run from another shell, start it with setsid.
            `trap 'trap "" TERM INT; echo "copy: stopped" >&2; kill -TERM 0 2>/dev/null || true; wait; exit 143' TERM INT`,
            // A subshell: the temporary files it makes are its own to remove.
            `(\ncleanup=""\ntrap 'rm -f $cleanup' EXIT\n${commands.restore}\n) &`,
            'if ! wait $!; then exit 1; fi',
            'COUNTED=$(mktemp)',
            'cleanup="$cleanup $COUNTED"',
            ...counted,
            `if [ "$(cat ${COUNTS})" != "$(cat "$COUNTED")" ]; then`,
            '  echo "copy: the $ENGINE data of $APP on the target differs from the source\'s (object and rows or keys):" >&2',
            `  LC_ALL=C comm -23 ${COUNTS} "$COUNTED" | while IFS= read -r line; do printf '  source: %s\\n' "$line" >&2; done`,
            `  LC_ALL=C comm -13 ${COUNTS} "$COUNTED" | while IFS= read -r line; do printf '  target: %s\\n' "$line" >&2; done`,
            "  exit 1",
            "fi",
            'copied=true',
            'echo "copied $(($(wc -l < "$COUNTED"))) objects"',
        ].join("\n"),
    );
}

/**
 * The frame's shell around `body`, for scripts that move backups between BACKUP_DIR and elsewhere
 * (components/backup-s3.ts): `set -eu`, umask 077, the "$cleanup" trap, EXT, `is_backup NAME` and
 * `backups` (this app's and engine's in BACKUP_DIR, newest first). Same names as the dump and restore.
 */
export function backupFrame(extension: string, body: string): string {
    return frame({ extension, dump: "", isEmpty: "", clear: "", restore: "" }, body);
}
