// S3 as the destination of per-tenant backups. A backup Job dumps into an emptyDir with
// backupScript (the engine's image), then s3UploadScript (rclone's image) uploads the new backup
// and keeps the newest KEEP of this app and engine in S3. A restore Job is the reverse:
// s3FetchScript downloads one backup into the emptyDir, then restoreScript loads it. Same names,
// same matching as components/backup.ts. Pure: no Pulumi.
//
// rclone is configured through the environment only (s3Env); the Job adds AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY from the Secret `credentialsSecret`, or the pod's own AWS identity.
import { BACKUP_NAME_PATTERN, backupFrame } from "./backup";

/** Where backups go: `s3://<bucket>/<prefix>/<app>-<engine>-<time>.<ext>`. */
export interface S3Destination {
    bucket: string;
    /** Folder inside the bucket; leading, trailing and doubled slashes are ignored. */
    prefix?: string;
    /** An S3-compatible service's URL (MinIO, Ceph, R2, …). @default AWS S3 */
    endpoint?: string;
    region?: string;
    /** Name of the Kubernetes Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
    credentialsSecret: string;
}

/**
 * The official rclone image (Alpine, busybox sh). A Job runs it as the user of the engine's
 * container beside it: the frame writes backups with umask 077, readable by their owner only.
 */
export const RCLONE_IMAGE = "rclone/rclone:1.68.2";

/** The rclone remote the scripts use; its settings are RCLONE_CONFIG_BACKUP_* in s3Env. */
const REMOTE = "backup";

/**
 * The plain variables of the upload and fetch scripts: an rclone remote defined by environment
 * variables only, and S3_PATH (`bucket/prefix`). No secret: credentials come from the Secret.
 */
export function s3Env(dest: S3Destination): Record<string, string> {
    const remote = `RCLONE_CONFIG_${REMOTE.toUpperCase()}_`;
    return {
        // In-memory config (rclone treats /dev/null so): nothing is written, the root filesystem may be read-only.
        RCLONE_CONFIG: "/dev/null",
        RCLONE_CACHE_DIR: "/tmp/rclone",
        [`${remote}TYPE`]: "s3",
        // "Other" is rclone's generic S3; AWS gets virtual-hosted addressing, the others path style.
        [`${remote}PROVIDER`]: dest.endpoint ? "Other" : "AWS",
        // Credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the pod's AWS identity.
        [`${remote}ENV_AUTH`]: "true",
        // No bucket listing or creation: the keys need only List/Get/Put/Delete on the prefix.
        [`${remote}NO_CHECK_BUCKET`]: "true",
        ...(dest.endpoint ? { [`${remote}ENDPOINT`]: dest.endpoint } : {}),
        ...(dest.region ? { [`${remote}REGION`]: dest.region } : {}),
        S3_PATH: s3Path(dest),
    };
}

/** `bucket/prefix` without leading, trailing or doubled slashes: where the backups are. */
export function s3Path(dest: S3Destination): string {
    const bucket = dest.bucket.trim();
    if (!bucket || bucket.includes("/")) throw new Error(`S3 bucket must be a bucket name without '/', got ${JSON.stringify(dest.bucket)}`);
    return [bucket, ...(dest.prefix ?? "").split("/").filter(Boolean)].join("/");
}

/** sh: this app's and engine's backup names in "$listing", newest first. */
const LISTED_BACKUPS = `printf '%s\\n' "$listing" | grep -E "${BACKUP_NAME_PATTERN}" | sort -r`;

/** sh: the rclone path of S3_PATH; `rclone lsf` on it lists the objects directly under it, no deeper. */
const REMOTE_PATH = `remote="${REMOTE}:\${S3_PATH:?S3_PATH is empty}"`;

/**
 * Uploads this app's and engine's backups in BACKUP_DIR (normally the one just made) to S3_PATH,
 * then deletes its backups in S3 beyond the newest KEEP; prints `uploaded s3://…` and `deleted s3://…`.
 * No backup in BACKUP_DIR, or a failed upload: exits non-zero and deletes nothing.
 * Reads APP, ENGINE, KEEP, BACKUP_DIR, S3_PATH and rclone's variables (s3Env).
 */
export function s3UploadScript(extension: string): string {
    return backupFrame(
        extension,
        [
            REMOTE_PATH,
            // KEEP=0 would delete the backup just uploaded.
            'case "$KEEP" in "" | *[!0-9]*) keep_ok=false ;; *) keep_ok=true ;; esac',
            'if ! $keep_ok || [ "$KEEP" -lt 1 ]; then echo "upload: KEEP must be a whole number of at least 1, got \'$KEEP\'" >&2; exit 1; fi',
            "new=$(backups)",
            'if [ -z "$new" ]; then echo "upload: no backup of $APP ($ENGINE) in $BACKUP_DIR; nothing uploaded, nothing deleted" >&2; exit 1; fi',
            // Names match BACKUP_NAME_PATTERN: no blanks or wildcards, safe to split.
            "for name in $new; do",
            '  rclone copyto "$BACKUP_DIR/$name" "$remote/$name"',
            '  echo "uploaded s3://$S3_PATH/$name"',
            "done",
            // A failed listing stops here (set -e), before any deletion.
            'listing=$(rclone lsf --files-only "$remote")',
            "for name in $new; do",
            '  if ! printf \'%s\\n\' "$listing" | grep -Fxq "$name"; then echo "upload: $name is not in s3://$S3_PATH after the upload; nothing deleted" >&2; exit 1; fi',
            "done",
            `old=$(${LISTED_BACKUPS} | tail -n +$((KEEP + 1)))`,
            "for name in $old; do",
            '  rclone deletefile "$remote/$name"',
            '  echo "deleted s3://$S3_PATH/$name"',
            "done",
        ].join("\n"),
    );
}

/**
 * Downloads FROM (a backup name of this app and engine, or `latest`: its newest in S3) from
 * S3_PATH into BACKUP_DIR, for restoreScript; prints `fetched <name>`. Refuses any other name.
 * Reads APP, ENGINE, FROM, BACKUP_DIR, S3_PATH and rclone's variables (s3Env).
 */
export function s3FetchScript(extension: string): string {
    return backupFrame(
        extension,
        [
            REMOTE_PATH,
            // Before S3 is asked.
            'if [ "$FROM" != latest ] && ! is_backup "$FROM"; then echo "fetch: $FROM is not a backup of $APP ($ENGINE)" >&2; exit 1; fi',
            'listing=$(rclone lsf --files-only "$remote")',
            'if [ "$FROM" = latest ]; then',
            `  from=$(${LISTED_BACKUPS} | head -n 1)`,
            '  if [ -z "$from" ]; then echo "fetch: no backup of $APP ($ENGINE) in s3://$S3_PATH" >&2; exit 1; fi',
            "else",
            "  from=$FROM",
            "fi",
            // rclone copyto exits 0 when the source object does not exist: look first, check after.
            'if ! printf \'%s\\n\' "$listing" | grep -Fxq "$from"; then echo "fetch: no backup $from in s3://$S3_PATH" >&2; exit 1; fi',
            'part="$BACKUP_DIR/.$from.partial"',
            'cleanup="$cleanup $part"',
            'rclone copyto "$remote/$from" "$part"',
            'if [ ! -f "$part" ]; then echo "fetch: $from could not be downloaded from s3://$S3_PATH" >&2; exit 1; fi',
            'mv "$part" "$BACKUP_DIR/$from"',
            'echo "fetched $from"',
        ].join("\n"),
    );
}
