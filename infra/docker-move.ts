// A move on the Docker target: the copy a Kubernetes Job runs, as one command that `pulumi up`
// runs once on the machine it runs on (a @pulumi/command local.Command), through the Docker CLI.
// Each half runs in a one-off container of the server's image inside its server container's
// network namespace (`--network=container:<server>`), as `npm run backup` does: copy-out on the
// old server, copy-in on the new one, through a private temporary directory on the host.
//
// The admin's variables a script needs (MySQL's freeze, Redis) are read from the running server
// container (`docker inspect`), so no admin password is in this command's state; the app's own
// passwords are, as secrets.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_BACKUP_DIR, dockerEnvFile, isVariableName } from "./docker-env";

/**
 * The command's script (sh), the same for every move: the rest is in its environment.
 * - MOVE_NAME: the move's name (its containers are `<name>-from` and `<name>-to`);
 * - MOVE_IMAGE: the image both halves run in;
 * - MOVE_{FROM,TO}_CONTAINER: the server containers;
 * - MOVE_{FROM,TO}_VARS: `NAME=value` lines every half reads (the hook's, APP, BACKUP_DIR, ...);
 * - MOVE_{FROM,TO}_SERVER_VARS: `NAME=SERVER_NAME` lines, variables taken from the server's environment;
 * - MOVE_PASSWORD_VAR and MOVE_{FROM,TO}_PASSWORD: the app's own password on each server, when the scripts log in as the app;
 * - MOVE_COPY_OUT, MOVE_COPY_IN: the engine's copyOutScript and copyInScript.
 */
export const DOCKER_MOVE_SCRIPT = [
    "set -eu",
    "umask 077",
    'work=$(mktemp -d "${TMPDIR:-/tmp}/tenant-databases-move.XXXXXX")',
    "trap 'rm -rf \"$work\"' EXIT",
    // An env file per half (mode 0600, removed on exit): Docker reads each value literally.
    "envfile() {",
    '  file="$work/$1.env"',
    '  printf \'%s\\n\' "$3" > "$file"',
    '  server_env=$(docker inspect --format \'{{range .Config.Env}}{{println .}}{{end}}\' "$2")',
    '  printf \'%s\\n\' "$4" | while IFS== read -r var key; do',
    '    [ -n "$var" ] || continue',
    '    value=$(printf \'%s\\n\' "$server_env" | sed -n "s/^$key=//p" | head -n 1)',
    '    if [ -z "$value" ]; then echo "move: the container $2 has no $key in its environment (needed as $var)" >&2; exit 1; fi',
    '    printf \'%s=%s\\n\' "$var" "$value" >> "$file"',
    "  done",
    '  if [ -n "${MOVE_PASSWORD_VAR:-}" ]; then printf \'%s=%s\\n\' "$MOVE_PASSWORD_VAR" "$5" >> "$file"; fi',
    "}",
    'envfile from "$MOVE_FROM_CONTAINER" "$MOVE_FROM_VARS" "$MOVE_FROM_SERVER_VARS" "${MOVE_FROM_PASSWORD:-}"',
    'envfile to "$MOVE_TO_CONTAINER" "$MOVE_TO_VARS" "$MOVE_TO_SERVER_VARS" "${MOVE_TO_PASSWORD:-}"',
    'mkdir "$work/copy"',
    // As the operator's user, like npm run backup: the copy directory is theirs, mode 0700. Named
    // after the move, so a run cannot overlap one still going (a cancelled pulumi up leaves its
    // container running); --init passes a stop on to the script, which empties a half-loaded target.
    "half() {",
    `  docker run --rm --init --name="$MOVE_NAME-$2" --network="container:$1" --user="$(id -u):$(id -g)" --env-file="$work/$2.env" --volume="$work/copy:${CONTAINER_BACKUP_DIR}" --entrypoint=sh "$MOVE_IMAGE" -c "$3"`,
    "}",
    'half "$MOVE_FROM_CONTAINER" from "$MOVE_COPY_OUT"',
    'half "$MOVE_TO_CONTAINER" to "$MOVE_COPY_IN"',
].join("\n");

/** One side of a move on Docker: its server container and what the script there reads. */
export interface DockerMoveSide {
    container: string;
    /** The variables that are not secret (the hook's, APP, ENGINE, ...). BACKUP_DIR and HOME are added. */
    vars: Record<string, string>;
    /** Variables taken from the server container's environment: variable -> its name there. */
    serverVars: Record<string, string>;
    /** The app's own password on this server, when the scripts log in as the app. */
    password?: pulumi.Input<string>;
}

export interface DockerMoveSpec {
    /** Unique per Docker engine: the stack's prefix, the app and the engine. */
    name: string;
    image: string;
    /** The variable that carries the app's password, when the scripts log in as the app. */
    passwordVar?: string;
    from: DockerMoveSide;
    to: DockerMoveSide;
    copyOut: string;
    copyIn: string;
}

/** `NAME=value` lines, as an env file holds them (the script writes the file, ending each line). */
function lines(vars: Record<string, string>): string {
    return dockerEnvFile(vars).replace(/\n$/, "");
}

/** The environment DOCKER_MOVE_SCRIPT reads for `spec`; the passwords are secrets. */
export function dockerMoveEnvironment(spec: DockerMoveSpec): Record<string, pulumi.Input<string>> {
    const side = (s: DockerMoveSide) => ({
        container: s.container,
        vars: lines({ ...s.vars, BACKUP_DIR: CONTAINER_BACKUP_DIR, HOME: "/tmp" }),
        serverVars: lines(
            Object.fromEntries(
                Object.entries(s.serverVars).map(([name, from]) => {
                    if (!isVariableName(from)) throw new Error(`${name}: ${JSON.stringify(from)} is not a server variable name`);
                    return [name, from];
                }),
            ),
        ),
    });
    const from = side(spec.from);
    const to = side(spec.to);
    const password = (s: DockerMoveSide, which: string) => {
        if (spec.passwordVar === undefined) return {};
        if (s.password === undefined) throw new Error(`the app's password on ${s.container} is needed (as ${spec.passwordVar})`);
        return { [`MOVE_${which}_PASSWORD`]: pulumi.secret(s.password) };
    };
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.name)) throw new Error(`${JSON.stringify(spec.name)} is not a Docker container name`);
    return {
        MOVE_NAME: spec.name,
        MOVE_IMAGE: spec.image,
        MOVE_FROM_CONTAINER: from.container,
        MOVE_TO_CONTAINER: to.container,
        MOVE_FROM_VARS: from.vars,
        MOVE_TO_VARS: to.vars,
        MOVE_FROM_SERVER_VARS: from.serverVars,
        MOVE_TO_SERVER_VARS: to.serverVars,
        ...(spec.passwordVar !== undefined && { MOVE_PASSWORD_VAR: spec.passwordVar }),
        ...password(spec.from, "FROM"),
        ...password(spec.to, "TO"),
        MOVE_COPY_OUT: spec.copyOut,
        MOVE_COPY_IN: spec.copyIn,
    };
}

/**
 * The move's command, run by `pulumi up` after `dependsOn` until it succeeds once (a command that
 * failed is not kept, so the next `pulumi up` runs it again). Nothing of it runs again while it
 * exists (ignoreChanges): the app writes on the new server by then, and a second copy would only
 * be refused (a copy fills an empty target only).
 */
export function dockerMoveCommand(name: string, spec: DockerMoveSpec, dependsOn: pulumi.Input<pulumi.Resource>[], parent: pulumi.Resource): command.local.Command {
    return new command.local.Command(
        name,
        { create: DOCKER_MOVE_SCRIPT, environment: dockerMoveEnvironment(spec), interpreter: ["/bin/sh", "-c"], addPreviousOutputInEnv: false },
        { parent, dependsOn, ignoreChanges: ["create", "update", "delete", "environment", "interpreter", "dir", "triggers"], customTimeouts: { create: "12h" } },
    );
}
