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
    /** Loads the file "$IN" into the app's database. */
    restore: string;
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
    /** Why a server with these settings cannot back up one tenant on its own (Neo4j Community), or undefined. */
    problem?(options: Options): string | undefined;
}

/**
 * Every variable an engine's commands read, for a run outside Kubernetes: the plain ones, the
 * secret ones taken from the server's own environment (`serverEnv`, e.g. a container's), and the
 * app's own password where the commands log in as the app.
 */
export function backupEnvironment<Options, TenantOptions>(
    hook: EngineBackup<Options, TenantOptions>,
    server: { host: string; port: number; options: Options },
    tenant: { app: string; options: TenantOptions },
    serverEnv: Record<string, string | undefined>,
    tenantPassword?: string,
): Record<string, string> {
    const secret = Object.entries(hook.secretEnv).map(([name, from]) => {
        const value = serverEnv[from];
        if (value === undefined) throw new Error(`the server's environment has no ${from} (needed as ${name})`);
        return [name, value] as const;
    });
    if (hook.tenantPasswordEnv !== undefined) {
        if (tenantPassword === undefined) throw new Error(`${tenant.app}'s own password is needed (as ${hook.tenantPasswordEnv})`);
        secret.push([hook.tenantPasswordEnv, tenantPassword]);
    }
    return { ...hook.env(server, tenant), ...Object.fromEntries(secret) };
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

/** Dumps the app's data to a new backup, then keeps the newest KEEP; prints `backup <name>`. */
export function backupScript(commands: BackupCommands): string {
    return frame(
        commands,
        [
            'name="${APP}-${ENGINE}-$(date -u +%Y%m%dT%H%M%SZ).${EXT}"',
            // Its own partial file: a second run in the same second (a manual Job) writes another.
            'OUT=$(mktemp "$BACKUP_DIR/.${name}.partial.XXXXXX")',
            'cleanup="$cleanup $OUT"',
            commands.dump,
            'mv "$OUT" "$BACKUP_DIR/$name"',
            'backups | tail -n +$((KEEP + 1)) | while read -r old; do rm -f "$BACKUP_DIR/$old"; done',
            'echo "backup $name"',
        ].join("\n"),
    );
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
            'if [ -z "$from" ]; then echo "restore: no backup of $APP ($ENGINE) in $BACKUP_DIR" >&2; exit 1; fi',
            'if ! is_backup "$from"; then echo "restore: $from is not a backup of $APP ($ENGINE)" >&2; exit 1; fi',
            'IN="$BACKUP_DIR/$from"',
            'if [ ! -f "$IN" ]; then echo "restore: no backup $from in $BACKUP_DIR" >&2; exit 1; fi',
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

/**
 * The frame's shell around `body`, for scripts that move backups between BACKUP_DIR and elsewhere
 * (components/backup-s3.ts): `set -eu`, umask 077, the "$cleanup" trap, EXT, `is_backup NAME` and
 * `backups` (this app's and engine's in BACKUP_DIR, newest first). Same names as the dump and restore.
 */
export function backupFrame(extension: string, body: string): string {
    return frame({ extension, dump: "", isEmpty: "", clear: "", restore: "" }, body);
}
