// MySQL under mocks: both placements, run whole.
import * as assert from "assert";
import { appEnvironment } from "../components/environment";
import { finder, plaintextOccurrences, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";

describe("MySQL whole configs under mocks", () => {
    const apps = { digi_core: { mysql: { maxConnections: 5 } }, lernmi: { mysql: {} } };
    for (const [placement, servers] of [
        ["shared", ["mysql"]],
        ["dedicated", ["mysql-digi-core", "mysql-lernmi"]],
    ] as const) {
        it(`${placement}: ${servers.join(", ")}, each app with its own database, account, escaped grant and limit`, async () => {
            const run = await runStackConfig({ target: "kubernetes", kubernetes: { namespace: "db" }, engines: { mysql: { placement } }, apps });
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), [...servers]);
            const creds = await valueOf(run.result.apps);
            for (const [app, limit] of [
                ["digi_core", 5],
                ["lernmi", 20],
            ] as const) {
                const server = placement === "shared" ? "mysql" : `mysql-${app.replace(/_/g, "-")}`;
                const grant = find.one("mysql:index/grant:Grant", `${server}/${app}-grant`);
                assert.strictEqual(grant.inputs.database, app.replace(/_/g, "\\_"));
                assert.strictEqual(find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", `${server}/${app}-connection-limit`).inputs.maxUserConnections, limit);
                const provider = find.one("pulumi:providers:mysql", `${server}-admin`);
                assert.ok(providerOf(grant) === provider.urn, `${app}'s grant goes through ${server}'s provider`);
                const env = appEnvironment(app, creds[app]);
                assert.strictEqual(env.MYSQL_URL, `mysql://${app}:${creds[app].mysql!.password}@${server}.db.svc.cluster.local:3306/${app}`);
                assert.deepStrictEqual([env.MYSQL_DATABASE, env.MYSQL_USER, env.MYSQL_PORT], [app, app, "3306"]);
            }
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });
    }
});

function providerOf(r: { provider: string }): string {
    return r.provider.split("::").slice(0, -1).join("::");
}
