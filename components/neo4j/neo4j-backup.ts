// Neo4j has no per-tenant backup here: neither edition can both back up and restore one
// database from a separate Job while the server runs. Pure: no Pulumi.
import type { EngineBackup } from "../backup";
import type { Neo4jOptions } from "./engine";

const INSTEAD = "back up the volume of a dedicated Neo4j server instead (volume snapshots)";

/** Why a Neo4j server with these settings cannot back up one tenant on its own: always, for now. */
export function neo4jBackupProblem(options: Neo4jOptions): string {
    if (options.edition === "enterprise") {
        return (
            "Neo4j Enterprise backs a database up online (neo4j-admin database backup --from <server>:6362), but cannot restore it from a " +
            "separate Job: neo4j-admin database restore and load write the server's own data directory (its volume, with the database " +
            "stopped), and CREATE DATABASE … OPTIONS {seedURI} has the server itself fetch the backup (from S3, GCS or Azure, or an http " +
            `or file seed provider enabled in its settings) and recreates the database the app's role is granted on; ${INSTEAD}`
        );
    }
    return (
        "Neo4j Community cannot back up a database while the server runs: neo4j-admin database dump needs it offline, which Community " +
        "gets only by stopping the server (online backup is Enterprise only, and edition: enterprise has no per-tenant restore here " +
        `either); ${INSTEAD}`
    );
}

const REFUSED = 'echo "neo4j: no per-tenant backup (see neo4jBackupProblem)" >&2; exit 1';

/**
 * The descriptor's hook, so config and TenantBackup report `neo4jBackupProblem` for every
 * edition. Its commands never run; were they rendered anyway, they fail and touch nothing.
 */
export const NEO4J_BACKUP: EngineBackup<Neo4jOptions, object> = {
    env: () => ({}),
    secretEnv: {},
    problem: neo4jBackupProblem,
    commands: { extension: "backup", dump: REFUSED, isEmpty: REFUSED, clear: REFUSED, restore: REFUSED },
};
