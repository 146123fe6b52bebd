// What the stack says of backups, resolved per app and engine: when, how many to keep, where they
// go, and a restore to run. The config keys (zod), the cron and backup-id rules, and the types the
// platform builds from. Pure: no Pulumi.
import { createHash } from "crypto";
import { z } from "zod";
import { BACKUP_NAME_PATTERN } from "./backup";
import type { S3Destination } from "./backup-s3";

/** Where backups go. Kubernetes: an S3 bucket or a volume claim in the server namespace; Docker: a directory on the host. */
export type BackupDestination = { s3: S3Destination } | { volume: { sizeGi: number; storageClass?: string } } | { directory: string };

/** An app's scheduled backups of one engine. */
export interface TenantBackupPlan {
    /** Cron, UTC. */
    schedule: string;
    /** Newest backups kept. */
    keep: number;
}

/** A restore of an app's data of one engine, run once per `from`. */
export interface TenantRestorePlan {
    /** A backup id (`<app>-<engine>-<time>.<extension>`), or `latest`. */
    from: string;
    /** Empty the app's database first; without it a database holding data is left alone and the restore fails. */
    replace: boolean;
}

/** Defaults of `tenant-databases:backup`: a week kept, daily in the 03:00 UTC hour (see defaultSchedule). */
export const BACKUP_DEFAULTS = { keep: 7 } as const;

/**
 * The schedule of an app and engine when the config names none: daily between 03:00 and 03:59
 * UTC, at a minute derived from the app and engine, so the tenants of a shared server are not
 * all dumped at the same moment (each dump costs the server memory and I/O).
 */
export function defaultSchedule(app: string, engine: string): string {
    return `${createHash("sha256").update(`${app}/${engine}`).digest().readUInt32BE(0) % 60} 3 * * *`;
}

const CRON_FIELDS = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
    // 0-6: Kubernetes parses schedules with robfig/cron, which refuses 7 for Sunday.
    { name: "day of week", min: 0, max: 6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
] as const;
/** The macros a Kubernetes CronJob accepts besides five fields. */
const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/**
 * Why a schedule is not one a Kubernetes CronJob runs (five fields: minute hour day-of-month
 * month day-of-week, with `*`, lists, ranges, steps and names; or a macro such as `@daily`), or
 * undefined. The time zone is the CronJob's (UTC), never part of the schedule.
 */
export function cronProblem(schedule: string): string | undefined {
    const expr = schedule.trim();
    if (expr.startsWith("@")) {
        return CRON_MACROS.includes(expr) ? undefined : `${JSON.stringify(schedule)} is not a cron macro; expected one of ${CRON_MACROS.join(", ")} or five fields`;
    }
    const fields = expr.split(/\s+/);
    if (fields.length !== 5) return `${JSON.stringify(schedule)} has ${fields.length} field${fields.length === 1 ? "" : "s"}; expected five: minute hour day-of-month month day-of-week (UTC), e.g. "0 */6 * * *"`;
    for (const [i, field] of fields.entries()) {
        const spec = CRON_FIELDS[i];
        const value = (v: string): number | undefined => {
            const named = "names" in spec ? (spec.names as readonly string[]).indexOf(v.toUpperCase()) : -1;
            if (named >= 0) return named + (spec.name === "month" ? 1 : 0);
            return /^\d+$/.test(v) ? Number(v) : undefined;
        };
        for (const part of field.split(",")) {
            const [range, step, ...rest] = part.split("/");
            const bad = `${spec.name} ${JSON.stringify(part)} in ${JSON.stringify(schedule)}`;
            if (rest.length > 0 || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `${bad}: a step is /<number above 0>`;
            if (range === "*" || (range === "?" && (i === 2 || i === 4))) continue;
            const ends = range.split("-");
            if (ends.length > 2) return `${bad}: a range is <from>-<to>`;
            const numbers = ends.map(value);
            if (numbers.some((n) => n === undefined || n < spec.min || n > spec.max)) return `${bad}: expected ${spec.min}-${spec.max}${"names" in spec ? " or a name" : ""}`;
            if (numbers.length === 2 && numbers[0]! > numbers[1]!) return `${bad}: the range runs backwards`;
        }
    }
    return undefined;
}

/** A backup's id as a restore names it: `<app>-<engine>-<YYYYMMDDTHHMMSSZ>.<extension>`. */
export function backupIdPattern(app: string, engine: string, extension: string): RegExp {
    // The scripts' own pattern, with the values they substitute (names of [a-z0-9_], no regex characters).
    return new RegExp(BACKUP_NAME_PATTERN.replace("${APP}", app).replace("${ENGINE}", engine).replace("${EXT}", extension));
}

/** Why `from` names no backup of this app and engine, or undefined. */
export function restoreFromProblem(app: string, engine: string, extension: string, from: string): string | undefined {
    if (from === "latest" || backupIdPattern(app, engine, extension).test(from)) return undefined;
    return `${JSON.stringify(from)} is not a backup of ${app}'s ${engine} data; expected latest or an id such as ${app}-${engine}-20260101T030000Z.${extension}`;
}

// ---- config keys ----

const schedule = z.string().check((ctx) => {
    const problem = cronProblem(ctx.value);
    if (problem !== undefined) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
});
const keep = z.number().int().min(1).max(10000);

const s3 = z.strictObject({
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-'" }),
    prefix: z.string().regex(/^[A-Za-z0-9!_.*'()/-]*$/, { error: "an S3 key prefix of letters, digits and !_.*'()/-" }).optional(),
    endpoint: z.url({ protocol: /^https?$/, error: "an http(s) URL such as https://s3.example.com" }).optional(),
    region: z.string().regex(/^[a-z0-9-]+$/, { error: "a region such as eu-central-1" }).optional(),
    credentialsSecret: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: "a Kubernetes Secret name" }),
});
const volume = z.strictObject({ sizeGi: z.number().positive(), storageClass: z.string().min(1).optional() });

/** `tenant-databases:backup`: the stack's default; no key, no backups. */
export const stackBackupKey = z.strictObject({
    schedule: schedule.optional(),
    keep: keep.optional(),
    destination: z
        .strictObject({ s3: s3.optional(), volume: volume.optional(), directory: z.string().min(1).optional() })
        .check((ctx) => {
            const given = Object.keys(ctx.value).filter((k) => ctx.value[k as keyof typeof ctx.value] !== undefined);
            if (given.length !== 1) {
                ctx.issues.push({
                    code: "custom",
                    message: `exactly one destination, not ${given.length === 0 ? "none" : given.join(" and ")}; expected s3 or volume (kubernetes), or directory (docker)`,
                    input: ctx.value,
                });
            }
        }),
});

/** `engines.<engine>.backup`. */
export const engineBackupKey = z.strictObject({ schedule: schedule.optional(), keep: keep.optional(), enabled: z.boolean().optional() });

/** `apps.<app>.<engine>.backup`: false turns it off for this app. */
export const appBackupKey = z.union([z.literal(false), z.strictObject({ schedule: schedule.optional(), keep: keep.optional() })]);

/** `apps.<app>.<engine>.restore`. */
export const appRestoreKey = z.strictObject({ from: z.string().min(1), replace: z.boolean().optional() });

export type StackBackupConfig = z.infer<typeof stackBackupKey>;
