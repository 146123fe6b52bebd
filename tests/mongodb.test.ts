// MongoDB: the commands the admin providers send (through a recording runner, as no MongoDB
// server can run here), the real driver's error when the server is unreachable, and whole
// configs under mocks in both placements.
import * as assert from "assert";
import { appEnvironment } from "../components/environment";
import * as crypto from "crypto";
import { MongoCommand, MongoRunner, MongoUserState, adminRunner, mongoDatabaseProvider, mongoUserProvider, sessionOwner, userCommands } from "../components/mongodb/mongodb-admin";
import { finder, isSecretWrapper, plaintextOccurrences, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { freePort } from "./helpers/servers";

/** Records every command; answers usersInfo with `users`. */
function recorder(users: unknown[]) {
    const sent: { action: string; commands: MongoCommand[] }[] = [];
    const run: MongoRunner = async (_c, action, commands) => {
        sent.push({ action, commands });
        return commands.map((c) => ("usersInfo" in c.command ? { users } : { ok: 1 }));
    };
    return { sent, run };
}

const state: MongoUserState = { host: "h", port: 27017, adminUser: "admin", adminPassword: "admin-pw", user: "lernmi", database: "lernmi", password: "pw-1" };

describe("MongoDB", () => {
    describe("admin providers", () => {
        it("creates a user in the app's database with readWrite on it only", () => {
            assert.deepStrictEqual(userCommands("lernmi", "lernmi", "pw", false), [
                { db: "lernmi", command: { createUser: "lernmi", pwd: "pw", roles: [{ role: "readWrite", db: "lernmi" }] } },
            ]);
            assert.deepStrictEqual(userCommands("lernmi", "lernmi", "pw", true)[0].command.updateUser, "lernmi");
        });

        it("creates idempotently: an existing user is updated, not created twice", async () => {
            const fresh = recorder([]);
            await mongoUserProvider(fresh.run).create!(state);
            assert.deepStrictEqual(fresh.sent.map((s) => Object.keys(s.commands[0].command)[0]), ["usersInfo", "createUser"]);
            const existing = recorder([{ user: "lernmi" }]);
            await mongoUserProvider(existing.run).create!(state);
            assert.deepStrictEqual(existing.sent.map((s) => Object.keys(s.commands[0].command)[0]), ["usersInfo", "updateUser"]);
        });

        it("updates the password, drops the user on delete, reads a vanished user as gone", async () => {
            const { sent, run } = recorder([{ user: "lernmi" }]);
            const provider = mongoUserProvider(run);
            assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", state, { ...state, adminPassword: "rotated" }), { changes: false, replaces: [] });
            assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", state, { ...state, password: "pw-2" }), { changes: true, replaces: [] });
            await provider.update!("lernmi.lernmi", state, { ...state, password: "pw-2" });
            assert.strictEqual((sent[1].commands[0].command as { pwd: string }).pwd, "pw-2");
            await provider.delete!("lernmi.lernmi", state);
            assert.deepStrictEqual(sent[sent.length - 1].commands, [{ db: "lernmi", command: { dropUser: "lernmi" } }]);
            assert.deepStrictEqual(await mongoUserProvider(recorder([]).run).read!("lernmi.lernmi", state), {});
        });

        describe("a disabled user (the app moved to another server)", () => {
            /** Answers usersInfo with one user of these roles, currentOp with these operations. */
            const server = (roles: unknown, inprog: unknown[] = []) => {
                const sent: { action: string; commands: MongoCommand[] }[] = [];
                const run: MongoRunner = async (_c, action, commands) => {
                    sent.push({ action, commands });
                    return commands.map((c) => ("usersInfo" in c.command ? { users: [{ user: "lernmi", db: "lernmi", roles }] } : "currentOp" in c.command ? { inprog, ok: 1 } : { ok: 1 }));
                };
                return { sent, run };
            };
            const disabled: MongoUserState = { ...state, enabled: false };
            const tenantRoles = [{ role: "readWrite", db: "lernmi" }];

            it("loses every role, keeps its password, and has its sessions and operations ended", async () => {
                const { sent, run } = server(tenantRoles, [{ opid: 7 }, { opid: 9 }]);
                const provider = mongoUserProvider(run);
                const { outs } = await provider.update!("lernmi.lernmi", state, disabled);
                assert.deepStrictEqual(outs, disabled);
                assert.deepStrictEqual(
                    sent.map((s) => s.commands),
                    [
                        [{ db: "lernmi", command: { usersInfo: { user: "lernmi", db: "lernmi" } } }],
                        [{ db: "lernmi", command: { updateUser: "lernmi", pwd: "pw-1", roles: [] } }],
                        [
                            { db: "admin", command: { killAllSessionsByPattern: [{ uid: sessionOwner("lernmi", "lernmi") }] } },
                            { db: "admin", command: { currentOp: 1, "effectiveUsers.user": "lernmi", "effectiveUsers.db": "lernmi" } },
                        ],
                        [
                            { db: "admin", command: { killOp: 1, op: 7 } },
                            { db: "admin", command: { killOp: 1, op: 9 } },
                        ],
                    ],
                );
                // MongoDB's owner of a user's sessions: SHA-256 of "<user>@<db>" (logical_session_id_helpers.cpp).
                assert.strictEqual(sessionOwner("lernmi", "lernmi").toString("hex"), crypto.createHash("sha256").update("lernmi@lernmi").digest("hex"));
                // Created disabled (a retired tenancy made anew): no role from the start; nothing running, nothing killed.
                const fresh = recorder([]);
                await mongoUserProvider(fresh.run).create!(disabled);
                assert.deepStrictEqual(fresh.sent[1].commands, [{ db: "lernmi", command: { createUser: "lernmi", pwd: "pw-1", roles: [] } }]);
                assert.strictEqual(fresh.sent.length, 3, "no killOp without operations");
            });

            it("diff: disabling or enabling again is an update; the same state, or enabled spelled out, is none", async () => {
                const provider = mongoUserProvider(server([]).run);
                assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", state, disabled), { changes: true, replaces: [] });
                assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", disabled, state), { changes: true, replaces: [] });
                assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", disabled, { ...disabled, adminPassword: "rotated" }), { changes: false, replaces: [] });
                assert.deepStrictEqual(await provider.diff!("lernmi.lernmi", state, { ...state, enabled: true }), { changes: false, replaces: [] });
            });

            it("read: a refresh keeps a disabled user disabled, and notices roles that differ from the state, either way", async () => {
                const read = async (current: MongoUserState, roles: unknown) => (await mongoUserProvider(server(roles).run).read!("lernmi.lernmi", current)).props as MongoUserState;
                // As the program left it: the state unchanged, so the next diff is none.
                assert.deepStrictEqual(await read(disabled, []), disabled);
                assert.deepStrictEqual(await read(state, [...tenantRoles]), state);
                // Given roles again by hand: the next `pulumi up` takes them away again.
                const regranted = await read(disabled, tenantRoles);
                assert.deepStrictEqual(regranted, { ...disabled, enabled: true, roles: tenantRoles });
                assert.deepStrictEqual(await mongoUserProvider(server([]).run).diff!("lernmi.lernmi", regranted, disabled), { changes: true, replaces: [] });
                // Left read-only by a copy that failed (the freeze), or without roles: the next `pulumi up` gives readWrite back.
                for (const roles of [[{ role: "read", db: "lernmi" }], []]) {
                    const found = await read(state, roles);
                    assert.notDeepStrictEqual(found, state);
                    assert.deepStrictEqual(await mongoUserProvider(server([]).run).diff!("lernmi.lernmi", found, state), { changes: true, replaces: [] });
                }
                // A reply without roles (not a real server's) changes nothing.
                assert.deepStrictEqual((await mongoUserProvider(recorder([{ user: "lernmi" }]).run).read!("lernmi.lernmi", disabled)).props, disabled);
            });
        });

        it("drops the database only when the resource is deleted (decommissioned apps)", async () => {
            const { sent, run } = recorder([]);
            const provider = mongoDatabaseProvider(run);
            const db = { host: "h", port: 27017, adminUser: "admin", adminPassword: "x", database: "lernmi" };
            await provider.create!(db);
            assert.strictEqual(sent.length, 0, "creating sends nothing: MongoDB creates databases on first write");
            await provider.delete!("lernmi", db);
            assert.deepStrictEqual(sent[0].commands, [{ db: "lernmi", command: { dropDatabase: 1 } }]);
        });

        it("says clearly when the server cannot be reached (real driver, closed port)", async () => {
            const port = await freePort();
            // The providers' runner waits 10 s for the server; the same code with 0.5 s here.
            await assert.rejects(adminRunner(500)({ host: "127.0.0.1", port, adminUser: "admin", adminPassword: "x" }, "create user lernmi", [{ db: "admin", command: { ping: 1 } }]), (err: Error) =>
                err.message.startsWith(`MongoDB at 127.0.0.1:${port} as admin failed to create user lernmi`) && err.message.includes("adminEndpoint"),
            );
        });
    });

    describe("whole configs under mocks", () => {
        const apps = { digi_core: { mongodb: {} }, lernmi: { mongodb: {} } };
        const config = (placement: string) => ({ target: "kubernetes", kubernetes: { namespace: "db" }, engines: { mongodb: { placement } }, apps });

        it("shared: one server; per app a kept database and a user that waits for it", async () => {
            const run = await runStackConfig(config("shared"));
            const find = finder(run.resources);
            const sts = find.one("kubernetes:apps/v1:StatefulSet", "mongodb");
            const c = sts.inputs.spec.template.spec.containers[0];
            assert.strictEqual(c.image, "mongo:8.0");
            assert.deepStrictEqual(c.volumeMounts[0], { name: "data", mountPath: "/data/db" });
            assert.match(c.readinessProbe.exec.command[2], /mongosh --quiet --host "\$\(hostname -i\)" --port 27017/);
            assert.ok(c.env.some((e: { name: string; valueFrom?: unknown }) => e.name === "MONGO_INITDB_ROOT_PASSWORD" && e.valueFrom));
            for (const app of ["digi_core", "lernmi"]) {
                const db = find.one("pulumi-nodejs:dynamic/mongodb:Database", `mongodb/${app}-database`);
                assert.ok(db.retainOnDelete && db.dependencies.includes(sts.urn));
                const user = find.one("pulumi-nodejs:dynamic/mongodb:User", `mongodb/${app}-user`);
                assert.deepStrictEqual([user.inputs.user, user.inputs.database, user.inputs.host, user.inputs.port], [app, app, "mongodb.db.svc.cluster.local", 27017]);
                assert.ok(isSecretWrapper(user.rawInputs.password) && isSecretWrapper(user.rawInputs.adminPassword));
                assert.ok(user.dependencies.includes(db.urn));
                assert.ok(!user.retainOnDelete, "the user goes with its app");
                assert.ok(!("enabled" in user.rawInputs), "only a retired tenancy's user names enabled");
            }
            const creds = await valueOf(run.result.apps);
            const env = appEnvironment("lernmi", creds.lernmi);
            assert.strictEqual(env.MONGODB_URI, `mongodb://lernmi:${creds.lernmi.mongodb!.password}@mongodb.db.svc.cluster.local:27017/lernmi?authSource=lernmi`);
            assert.strictEqual(env.MONGODB_DATABASE, "lernmi");
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });

        it("dedicated: one server per app, each app's credentials scoped to its own database", async () => {
            const run = await runStackConfig(config("dedicated"));
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), ["mongodb-digi-core", "mongodb-lernmi"]);
            const creds = await valueOf(run.result.apps);
            assert.match(creds.digi_core.mongodb!.url, /@mongodb-digi-core\.db\.svc\.cluster\.local:27017\/digi_core\?authSource=digi_core$/);
            assert.strictEqual(find.one("pulumi-nodejs:dynamic/mongodb:User", "mongodb-lernmi/lernmi-user").inputs.host, "mongodb-lernmi.db.svc.cluster.local");
        });
    });
});
