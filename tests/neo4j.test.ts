// Neo4j: config rules, the Cypher the admin providers send (through a recording runner, as no
// Neo4j server can run here), the real driver's error when the server is unreachable, and whole
// configs under mocks in both editions and both placements.
import * as assert from "assert";
import { parseStackConfig } from "../stacks/config";
import {
    CypherRunner,
    CypherStatement,
    Neo4jUserState,
    neo4jDatabaseProvider,
    neo4jUserProvider,
    quoteName,
    runOnSystemDatabase,
    userStatements,
} from "../components/neo4j/neo4j-admin";
import { appEnvironment } from "../components/environment";
import { finder, isSecretWrapper, plaintextOccurrences, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { freePort } from "./helpers/servers";

function config(neo4j: Record<string, unknown>, apps: Record<string, unknown>) {
    return { target: "kubernetes", kubernetes: { namespace: "db" }, engines: { neo4j }, apps };
}

function problems(raw: unknown): string[] {
    try {
        parseStackConfig(raw);
        return [];
    } catch (err) {
        return (err as { problems: string[] }).problems;
    }
}

/** Records every statement; answers SHOW queries with `rows`. */
function recorder(rows: Record<string, unknown>[] = []) {
    const sent: { action: string; statements: CypherStatement[] }[] = [];
    const run: CypherRunner = async (_connection, action, statements) => {
        sent.push({ action, statements });
        return statements.map((s) => (s.text.startsWith("SHOW") ? rows : []));
    };
    return { sent, run };
}

const user: Neo4jUserState = { uri: "bolt://h:7687", adminUser: "neo4j", adminPassword: "admin-pw", user: "digi_core", database: "digi-core", password: "pw-1" };

describe("Neo4j", () => {
    describe("config", () => {
        it("rejects a shared Community server with more than one app, saying what to do", () => {
            const found = problems(config({}, { digi_core: { neo4j: {} }, lernmi: { neo4j: {} } }));
            assert.deepStrictEqual(found, [
                "engines.neo4j: a shared Neo4j Community server cannot hold 2 apps (digi_core, lernmi): Community has one user database " +
                    "and no per-user rights; set engines.neo4j.edition: enterprise, or placement: dedicated",
            ]);
            assert.deepStrictEqual(problems(config({ placement: "dedicated" }, { digi_core: { neo4j: {} }, lernmi: { neo4j: {} } })), []);
            assert.deepStrictEqual(problems(config({}, { digi_core: { neo4j: {} } })), [], "one app on a shared Community server is fine");
        });

        it("requires accepting the Enterprise license, and only for Enterprise", () => {
            assert.match(problems(config({ edition: "enterprise" }, { lernmi: { neo4j: {} } }))[0], /^engines\.neo4j\.acceptLicenseAgreement: Neo4j Enterprise runs only once you accept/);
            assert.deepStrictEqual(problems(config({ acceptLicenseAgreement: true }, { lernmi: { neo4j: {} } })), [
                "engines.neo4j.acceptLicenseAgreement: only for edition enterprise",
            ]);
        });

        it("rejects names Neo4j keeps or cannot use as database names", () => {
            const found = problems(config({ edition: "enterprise", acceptLicenseAgreement: true }, { ab: { neo4j: {} }, system: { neo4j: {} } }));
            assert.ok(found.includes('apps.ab.neo4j: Neo4j database names need at least 3 characters; "ab" has 2'), found.join("\n"));
            assert.ok(found.some((p) => p.startsWith('apps.system.neo4j: the app name "system" is reserved by neo4j')), found.join("\n"));
        });

        it("defaults to Community 5.26 and picks the Enterprise image for Enterprise", () => {
            assert.strictEqual(parseStackConfig(config({}, { lernmi: { neo4j: {} } })).engines.neo4j?.image, "neo4j:5.26");
            const enterprise = parseStackConfig(config({ edition: "enterprise", acceptLicenseAgreement: true }, { lernmi: { neo4j: {} } }));
            assert.strictEqual(enterprise.engines.neo4j?.image, "neo4j:5.26-enterprise");
        });
    });

    describe("admin providers", () => {
        it("grants a tenant's role every right on its database only, and makes it the user's home database", () => {
            assert.deepStrictEqual(
                userStatements("digi_core", "digi-core", "pw").map((s) => s.text),
                [
                    "DROP ROLE `digi_core_tenant` IF EXISTS",
                    "CREATE ROLE `digi_core_tenant`",
                    "GRANT ALL DATABASE PRIVILEGES ON DATABASE `digi-core` TO `digi_core_tenant`",
                    "GRANT ALL GRAPH PRIVILEGES ON GRAPH `digi-core` TO `digi_core_tenant`",
                    "CREATE OR REPLACE USER `digi_core` SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED SET HOME DATABASE `digi-core`",
                    "GRANT ROLE `digi_core_tenant` TO `digi_core`",
                ],
            );
            assert.deepStrictEqual(userStatements("a", "abc", "secret-pw")[4].parameters, { password: "secret-pw" }, "the password is a parameter");
            assert.strictEqual(quoteName("we`ird"), "`we``ird`");
        });

        it("creates, updates, reads and drops users idempotently", async () => {
            const { sent, run } = recorder([{ user: "digi_core" }]);
            const provider = neo4jUserProvider(run);
            const created = await provider.create!(user);
            assert.strictEqual(created.id, "digi_core");
            assert.deepStrictEqual(await provider.diff!("digi_core", user, { ...user, adminPassword: "rotated" }), { changes: false, replaces: [] });
            assert.deepStrictEqual(await provider.diff!("digi_core", user, { ...user, password: "pw-2" }), { changes: true, replaces: [] });
            await provider.update!("digi_core", user, { ...user, password: "pw-2" });
            assert.deepStrictEqual((await provider.read!("digi_core", user)).id, "digi_core");
            await provider.delete!("digi_core", user);
            assert.deepStrictEqual(
                sent.map((s) => s.action),
                ["create user digi_core", "update user digi_core", "read user digi_core", "drop user digi_core"],
            );
            assert.deepStrictEqual(sent[3].statements.map((s) => s.text), ["DROP USER `digi_core` IF EXISTS", "DROP ROLE `digi_core_tenant` IF EXISTS"]);
            assert.deepStrictEqual(await neo4jUserProvider(recorder([]).run).read!("digi_core", user), {}, "a vanished user reads as gone");
        });

        it("creates and drops databases, waiting for them", async () => {
            const { sent, run } = recorder([]);
            const provider = neo4jDatabaseProvider(run);
            const state = { uri: "bolt://h:7687", adminUser: "neo4j", adminPassword: "x", database: "digi-core" };
            await provider.create!(state);
            await provider.delete!("digi-core", state);
            assert.deepStrictEqual(
                sent.flatMap((s) => s.statements.map((t) => t.text)),
                ["CREATE DATABASE `digi-core` IF NOT EXISTS WAIT", "DROP DATABASE `digi-core` IF EXISTS WAIT"],
            );
            assert.deepStrictEqual(await provider.read!("digi-core", state), {});
        });

        it("says clearly when the server cannot be reached (real driver, closed port)", async function () {
            this.timeout(30000);
            const port = await freePort();
            await assert.rejects(
                runOnSystemDatabase({ uri: `bolt://127.0.0.1:${port}`, adminUser: "neo4j", adminPassword: "x" }, "create user digi_core", [{ text: "RETURN 1" }]),
                (err: Error) => err.message.startsWith(`Neo4j at bolt://127.0.0.1:${port} as neo4j failed to create user digi_core`) && err.message.includes("adminEndpoint"),
            );
        });
    });

    describe("whole configs under mocks", () => {
        const apps = { digi_core: { neo4j: {} }, lernmi: { neo4j: {} } };

        it("Enterprise, shared: one server; per app a database (kept) and a user that waits for it", async () => {
            const run = await runStackConfig(config({ edition: "enterprise", acceptLicenseAgreement: true }, apps));
            const find = finder(run.resources);
            const sts = find.one("kubernetes:apps/v1:StatefulSet", "neo4j");
            const c = sts.inputs.spec.template.spec.containers[0];
            assert.strictEqual(c.image, "neo4j:5.26-enterprise");
            assert.ok(c.env.some((e: { name: string; value?: string }) => e.name === "NEO4J_ACCEPT_LICENSE_AGREEMENT" && e.value === "yes"));
            assert.ok(c.env.some((e: { name: string; value?: string }) => e.name === "NEO4J_server_memory_heap_max__size" && e.value === "1024m"));
            for (const app of ["digi_core", "lernmi"]) {
                const db = find.one("pulumi-nodejs:dynamic/neo4j:Database", `neo4j/${app}-database`);
                assert.strictEqual(db.inputs.database, app.replace(/_/g, "-"));
                assert.strictEqual(db.inputs.uri, "bolt://neo4j.db.svc.cluster.local:7687");
                assert.ok(db.retainOnDelete);
                assert.ok(db.dependencies.includes(sts.urn));
                const u = find.one("pulumi-nodejs:dynamic/neo4j:User", `neo4j/${app}-user`);
                assert.deepStrictEqual([u.inputs.user, u.inputs.database], [app, app.replace(/_/g, "-")]);
                assert.ok(isSecretWrapper(u.rawInputs.password) && isSecretWrapper(u.rawInputs.adminPassword));
                assert.ok(u.dependencies.includes(db.urn));
                assert.ok(!u.retainOnDelete, "the user goes with its app");
            }
            const creds = await valueOf(run.result.apps);
            assert.deepStrictEqual(appEnvironment("lernmi", creds.lernmi), {
                APP_TENANT_ID: "lernmi",
                NEO4J_URI: "bolt://neo4j.db.svc.cluster.local:7687",
                NEO4J_DATABASE: "lernmi",
                NEO4J_USERNAME: "lernmi",
                NEO4J_PASSWORD: creds.lernmi.neo4j!.password,
            });
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });

        it("Enterprise, dedicated: one server per app, each with its own tenant database", async () => {
            const run = await runStackConfig(config({ edition: "enterprise", acceptLicenseAgreement: true, placement: "dedicated" }, apps));
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), ["neo4j-digi-core", "neo4j-lernmi"]);
            assert.strictEqual(find.one("pulumi-nodejs:dynamic/neo4j:Database", "neo4j-lernmi/lernmi-database").inputs.uri, "bolt://neo4j-lernmi.db.svc.cluster.local:7687");
        });

        it("Community, dedicated: each app gets its server's own credentials and database neo4j", async () => {
            const run = await runStackConfig(config({ placement: "dedicated" }, apps));
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), ["neo4j-digi-core", "neo4j-lernmi"]);
            assert.deepStrictEqual(run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/neo4j")), []);
            const c = find.one("kubernetes:apps/v1:StatefulSet", "neo4j-lernmi").inputs.spec.template.spec.containers[0];
            assert.strictEqual(c.image, "neo4j:5.26");
            assert.ok(!c.env.some((e: { name: string }) => e.name === "NEO4J_ACCEPT_LICENSE_AGREEMENT"));
            const creds = await valueOf(run.result.apps);
            assert.deepStrictEqual([creds.lernmi.neo4j?.user, creds.lernmi.neo4j?.database, creds.lernmi.neo4j?.uri], ["neo4j", "neo4j", "bolt://neo4j-lernmi.db.svc.cluster.local:7687"]);
            assert.notStrictEqual(creds.lernmi.neo4j?.password, creds.digi_core.neo4j?.password, "each server has its own password");
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });

        it("Community, shared: rejected before anything is registered", async () => {
            await assert.rejects(runStackConfig(config({}, apps)), /a shared Neo4j Community server cannot hold 2 apps/);
        });
    });
});
