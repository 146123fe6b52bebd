// The Redis ACL file: the default user is disabled, an admin user manages the server, and each
// tenant may touch only keys and channels under its own prefix, minus dangerous commands
// (FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, ...). INFO is @dangerous but given back: client
// libraries run it on connect (ioredis' ready check, BullMQ's version check), and it shows server
// statistics, not keys or values. Passwords are stored as SHA-256 digests, so the file never holds
// a usable password.
import * as crypto from "crypto";

export const REDIS_ADMIN_USER = "admin";

export interface RedisAclTenant {
    /** The ACL user name; also the key prefix (`<user>:`). */
    user: string;
    password: string;
}

export function renderRedisAcl(adminPassword: string, tenants: RedisAclTenant[]): string {
    const lines = [
        "user default off resetpass resetkeys resetchannels -@all",
        `user ${REDIS_ADMIN_USER} on #${sha256(adminPassword)} ~* &* +@all`,
        ...[...tenants].sort((a, b) => a.user.localeCompare(b.user)).map(tenantAclRule),
    ];
    return lines.join("\n") + "\n";
}

export function tenantAclRule(tenant: RedisAclTenant): string {
    const prefix = `${tenant.user}:*`;
    return `user ${tenant.user} on #${sha256(tenant.password)} resetkeys resetchannels ~${prefix} &${prefix} -@all +@all -@dangerous +info`;
}

function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}
