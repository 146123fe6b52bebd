// MySQL tenancy on a real MariaDB server (Debian package, started by the test): the
// MysqlConnectionLimit provider's SQL, and why grants name an escaped database pattern.
import * as assert from "assert";
import * as mysql from "mysql2/promise";
import { grantDatabasePattern } from "../components/mysql";
import { MysqlConnectionLimitState, mysqlConnectionLimitProvider } from "../components/mysql-connection-limit";
import { RunningTestServer, freePort, startMariadb, tempDir } from "./helpers/servers";

describe("MySQL tenancy on a real MariaDB server", function () {
    this.timeout(120000);
    const tmp = tempDir("mariadb");
    let server: RunningTestServer;
    let root: mysql.Connection;
    let limit: MysqlConnectionLimitState;
    const open: mysql.Connection[] = [];

    const connectAs = async (user: string, password: string, database?: string) => {
        const c = await mysql.createConnection({ host: "127.0.0.1", port: server.port, user, password, database });
        open.push(c);
        return c;
    };

    before(async () => {
        server = await startMariadb({ port: await freePort(), dir: tmp.dir });
        root = await mysql.createConnection({ host: "127.0.0.1", port: server.port, user: "root", password: "" });
        // What @pulumi/mysql's Database, User and Grant issue for app `digi_core`.
        for (const sql of [
            "CREATE DATABASE `digi_core`",
            "CREATE DATABASE `digiXcore`",
            "CREATE USER 'digi_core'@'%' IDENTIFIED BY 'pw-digi'",
            `GRANT ALL PRIVILEGES ON \`${grantDatabasePattern("digi_core")}\`.* TO 'digi_core'@'%'`,
        ]) {
            await root.query(sql);
        }
        limit = { host: "127.0.0.1", port: server.port, adminUser: "root", adminPassword: "", user: "digi_core", maxUserConnections: 2 };
    });

    after(async () => {
        await Promise.allSettled(open.map((c) => c.end()));
        await root?.end().catch(() => undefined);
        await server?.stop();
        tmp.remove();
    });

    it("an escaped grant covers the app's database and not one its name matches as a pattern", async () => {
        assert.strictEqual(grantDatabasePattern("digi_core"), "digi\\_core");
        const app = await connectAs("digi_core", "pw-digi", "digi_core");
        await app.query("CREATE TABLE t (id INT)");
        await assert.rejects(app.query("CREATE TABLE digiXcore.t (id INT)"), /denied/);
        // Unescaped, `_` is a wildcard: the same grant would reach digiXcore.
        await root.query("CREATE USER 'loose'@'%' IDENTIFIED BY 'pw-loose'");
        await root.query("GRANT ALL PRIVILEGES ON `digi_core`.* TO 'loose'@'%'");
        const loose = await connectAs("loose", "pw-loose");
        await loose.query("CREATE TABLE digiXcore.t (id INT)");
    });

    it("sets max_user_connections, and the server enforces it", async () => {
        const created = await mysqlConnectionLimitProvider.create!(limit);
        assert.strictEqual(created.id, "digi_core@%");
        const [rows] = await root.query("SELECT max_user_connections AS n FROM mysql.user WHERE User = 'digi_core' AND Host = '%'");
        assert.strictEqual(Number((rows as { n: number }[])[0].n), 2);
        await Promise.allSettled(open.splice(0).map((c) => c.end()));
        await connectAs("digi_core", "pw-digi");
        await connectAs("digi_core", "pw-digi");
        await assert.rejects(connectAs("digi_core", "pw-digi"), /max_user_connections/);
        await Promise.allSettled(open.splice(0).map((c) => c.end()));
    });

    it("updates, reads back and resets the limit on delete", async () => {
        const created = await mysqlConnectionLimitProvider.create!(limit);
        assert.deepStrictEqual(await mysqlConnectionLimitProvider.diff!("digi_core@%", created.outs!, { ...limit, maxUserConnections: 5 }), {
            changes: true,
            replaces: [],
        });
        await mysqlConnectionLimitProvider.update!("digi_core@%", created.outs!, { ...limit, maxUserConnections: 5 });
        const read = await mysqlConnectionLimitProvider.read!("digi_core@%", created.outs!);
        assert.strictEqual(read.props?.maxUserConnections, 5);
        await mysqlConnectionLimitProvider.delete!("digi_core@%", { ...limit, maxUserConnections: 5 });
        const after = await mysqlConnectionLimitProvider.read!("digi_core@%", created.outs!);
        assert.strictEqual(after.props?.maxUserConnections, 0);
    });

    it("deletes quietly when the account is already gone, and reads it as gone", async () => {
        await root.query("CREATE USER 'gone'@'%' IDENTIFIED BY 'x'");
        const state = { ...limit, user: "gone" };
        await mysqlConnectionLimitProvider.create!(state);
        await root.query("DROP USER 'gone'@'%'");
        await mysqlConnectionLimitProvider.delete!("gone@%", state);
        assert.deepStrictEqual(await mysqlConnectionLimitProvider.read!("gone@%", state), {});
    });

    it("says clearly when the server cannot be reached", async () => {
        const closed = await freePort();
        await assert.rejects(mysqlConnectionLimitProvider.create!({ ...limit, port: closed }), (err: Error) =>
            err.message.startsWith(`cannot connect to MySQL at 127.0.0.1:${closed} as root to limit connections of digi_core`),
        );
    });
});
