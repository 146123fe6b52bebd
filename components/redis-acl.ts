// Redis ACLs. The server starts from a bootstrap ACL file that holds only the disabled `default`
// user and the `admin` user; tenant users are added and removed on the running server through
// `ACL SETUSER`/`ACL DELUSER` and persisted with `ACL SAVE` to an ACL file on the data volume. So
// adding or removing a tenant never restarts or replaces a shared server.
//
// Each tenant may touch only keys and Pub/Sub channels under `<app>:`, minus dangerous commands
// (FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, ...). INFO is @dangerous but given back: client
// libraries run it on connect (ioredis' ready check, BullMQ's version check), and it shows server
// statistics, not keys or values. Passwords are stored as SHA-256 digests only.
import * as crypto from "crypto";

export const REDIS_ADMIN_USER = "admin";

/** The bootstrap ACL file: `default` disabled, `admin` with every right. */
export function bootstrapAcl(adminPassword: string): string {
    return ["user default off resetpass resetkeys resetchannels -@all", `user ${REDIS_ADMIN_USER} on #${sha256(adminPassword)} ~* &* +@all`].join("\n") + "\n";
}

/** The ACL rules of a tenant user, after its password. */
export function tenantAclRules(user: string): string[] {
    const prefix = `${user}:*`;
    return ["resetkeys", "resetchannels", `~${prefix}`, `&${prefix}`, "-@all", "+@all", "-@dangerous", "+info"];
}

/** `ACL SETUSER` arguments that make `user` exactly a tenant with this password, whatever it was before. */
export function tenantSetUserCommand(user: string, password: string): string[] {
    return ["ACL", "SETUSER", user, "reset", "on", `#${sha256(password)}`, ...tenantAclRules(user)];
}

/**
 * The server's start command: seeds the writable ACL file on the data volume from the bootstrap
 * file on first start, and on later starts replaces only its `default` and `admin` lines (so an
 * admin password change applies, and tenant users persist). Then runs redis-server with the
 * arguments that follow.
 */
export function redisStartScript(bootstrapFile: string, aclFile: string): string {
    return [
        "set -e",
        `boot='${bootstrapFile}'; acl='${aclFile}'`,
        'if [ -f "$acl" ]; then',
        `  { cat "$boot"; grep -v -e "^user default " -e "^user ${REDIS_ADMIN_USER} " "$acl" || true; } > "$acl.new"`,
        '  mv "$acl.new" "$acl"',
        "else",
        '  cp "$boot" "$acl"',
        "fi",
        'exec redis-server "$@"',
    ].join("\n");
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}
