// What one-off containers beside a Docker server share (npm run backup and restore, a move's
// copy): where the host directory is mounted, and the env files their variables come through.
// Pure: loads no Pulumi module, so the stack scripts may use it.

/** Where a one-off container mounts its host directory, as BACKUP_DIR. */
export const CONTAINER_BACKUP_DIR = "/backups";

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A file for `docker run --env-file`: Docker takes each line's value literally (no quotes), and
 * lines cannot hold a newline; a name must be a shell variable's.
 */
export function dockerEnvFile(env: Record<string, string>): string {
    return Object.entries(env)
        .map(([key, value]) => {
            if (!VARIABLE_NAME.test(key)) throw new Error(`${JSON.stringify(key)} is not a variable name a docker --env-file can carry`);
            if (/[\r\n]/.test(value)) throw new Error(`${key}: a value with a line break cannot go through docker --env-file`);
            return `${key}=${value}\n`;
        })
        .join("");
}

/** True for a name an env file can carry (the names a script reads from a server's environment too). */
export function isVariableName(name: string): boolean {
    return VARIABLE_NAME.test(name);
}
