// Qdrant: the app tokens (verified with a JWT library), the collection provider's logic through a
// fake API (no Qdrant server can run here), the official client's error when the server is
// unreachable, and whole configs under mocks in both placements.
import * as assert from "assert";
import { appEnvironment } from "../components/environment";
import { QdrantApi, QdrantCollectionState, collectionToken, officialClient, qdrantCollectionProvider } from "../components/qdrant/qdrant-admin";
import { finder, isSecretOutput, isSecretWrapper, mockPassword, plaintextOccurrences, valueOf } from "./helpers/pulumi";
import { runStackConfig } from "./helpers/stacks";
import { freePort } from "./helpers/servers";

async function verify(token: string, key: string) {
    const { jwtVerify } = await import("jose");
    return jwtVerify(token, new TextEncoder().encode(key), { algorithms: ["HS256"] });
}

/** An in-memory Qdrant: collections by name. */
function fakeApi(existing: Record<string, { size: number; distance: string }> = {}) {
    const calls: string[] = [];
    const api: QdrantApi = {
        async get(s) {
            calls.push(`get ${s.collection}`);
            return existing[s.collection];
        },
        async create(s) {
            calls.push(`create ${s.collection} ${s.size}/${s.distance}`);
            existing[s.collection] = { size: s.size, distance: s.distance };
        },
        async delete(s) {
            calls.push(`delete ${s.collection}`);
            delete existing[s.collection];
        },
    };
    return { api, calls, existing };
}

const docs: QdrantCollectionState = { url: "http://h:6333", apiKey: "manage-key", collection: "lernmi_docs", size: 768, distance: "Cosine" };

describe("Qdrant", () => {
    describe("app tokens", () => {
        it("are HS256 JWTs signed with the api key, read-write on exactly the app's collections", async () => {
            const token = collectionToken("manage-key", ["lernmi_memories", "lernmi_docs"]);
            const { payload, protectedHeader } = await verify(token, "manage-key");
            assert.deepStrictEqual(protectedHeader, { alg: "HS256", typ: "JWT" });
            assert.deepStrictEqual(payload, {
                access: [
                    { collection: "lernmi_docs", access: "rw" },
                    { collection: "lernmi_memories", access: "rw" },
                ],
            });
            await assert.rejects(verify(token, "another-key"), /signature/);
        });

        it("are never issued without an access claim", () => {
            assert.throws(() => collectionToken("k", []), /at least one collection/);
        });
    });

    describe("collection provider", () => {
        it("creates a missing collection and adopts an identical existing one", async () => {
            const { api, calls } = fakeApi();
            const provider = qdrantCollectionProvider(api);
            assert.strictEqual((await provider.create!(docs)).id, "lernmi_docs");
            await provider.create!(docs);
            assert.deepStrictEqual(calls, ["get lernmi_docs", "create lernmi_docs 768/Cosine", "get lernmi_docs"]);
        });

        it("refuses, saying why, to take over a collection with other vectors", async () => {
            const provider = qdrantCollectionProvider(fakeApi({ lernmi_docs: { size: 384, distance: "Dot" } }).api);
            await assert.rejects(provider.create!(docs), /collection lernmi_docs already exists with vectors 384\/Dot, not 768\/Cosine; its points were kept/);
        });

        it("replaces (delete first) only when vector parameters change, and says which", async () => {
            const provider = qdrantCollectionProvider(fakeApi().api);
            assert.deepStrictEqual(await provider.diff!("lernmi_docs", docs, { ...docs, size: 1024 }), { changes: true, replaces: ["size"], deleteBeforeReplace: true });
            assert.deepStrictEqual(await provider.diff!("lernmi_docs", docs, { ...docs, distance: "Dot" }), { changes: true, replaces: ["distance"], deleteBeforeReplace: true });
            assert.deepStrictEqual(await provider.diff!("lernmi_docs", docs, { ...docs, apiKey: "rotated", url: "http://other:6333" }), {
                changes: false,
                replaces: [],
                deleteBeforeReplace: true,
            });
        });

        it("checks sizes and distances", async () => {
            const provider = qdrantCollectionProvider(fakeApi().api);
            const { failures } = await provider.check!(docs, { ...docs, size: 0, distance: "cosine" as never });
            assert.deepStrictEqual(failures?.map((f) => f.property), ["size", "distance"]);
        });

        it("deletes only what exists, and reads a vanished collection as gone", async () => {
            const fake = fakeApi({ lernmi_docs: { size: 768, distance: "Cosine" } });
            const provider = qdrantCollectionProvider(fake.api);
            assert.deepStrictEqual((await provider.read!("lernmi_docs", docs)).props, docs);
            await provider.delete!("lernmi_docs", docs);
            await provider.delete!("lernmi_docs", docs);
            assert.deepStrictEqual(fake.calls.filter((c) => c.startsWith("delete")), ["delete lernmi_docs"]);
            assert.deepStrictEqual(await provider.read!("lernmi_docs", docs), {});
        });

        it("says clearly when the server cannot be reached (official client, closed port)", async function () {
            this.timeout(30000);
            const port = await freePort();
            await assert.rejects(officialClient.get({ ...docs, url: `http://127.0.0.1:${port}` }), (err: Error) =>
                err.message.startsWith(`Qdrant at http://127.0.0.1:${port} failed to read collection lernmi_docs`) && err.message.includes("adminEndpoint"),
            );
        });
    });

    describe("whole configs under mocks", () => {
        const apps = {
            digi_core: { qdrant: { collections: { knowledge: { size: 1536, distance: "Cosine" } } } },
            lernmi: { qdrant: { collections: { memories: { size: 768, distance: "Dot" }, docs: { size: 768, distance: "Cosine" } } } },
        };
        const config = (placement: string) => ({ target: "kubernetes", kubernetes: { namespace: "db" }, engines: { qdrant: { placement } }, apps });

        it("shared: one server with an api key and JWT RBAC; per app its collections and a token for exactly them", async () => {
            const run = await runStackConfig(config("shared"));
            const find = finder(run.resources);
            const sts = find.one("kubernetes:apps/v1:StatefulSet", "qdrant");
            const c = sts.inputs.spec.template.spec.containers[0];
            assert.strictEqual(c.image, "qdrant/qdrant:v1.17.0-unprivileged");
            const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));
            assert.strictEqual(env.QDRANT__SERVICE__JWT_RBAC.value, "true");
            assert.deepStrictEqual(env.QDRANT__SERVICE__API_KEY.valueFrom, { secretKeyRef: { name: "qdrant-admin", key: "QDRANT__SERVICE__API_KEY" } });
            assert.deepStrictEqual(c.volumeMounts[0], { name: "data", mountPath: "/qdrant/storage" });

            const collections = find.all("pulumi-nodejs:dynamic/qdrant:Collection");
            assert.deepStrictEqual(collections.map((r) => [r.inputs.collection, r.inputs.size, r.inputs.distance]).sort(), [
                ["digi_core_knowledge", 1536, "Cosine"],
                ["lernmi_docs", 768, "Cosine"],
                ["lernmi_memories", 768, "Dot"],
            ]);
            for (const r of collections) {
                assert.ok(r.retainOnDelete, `${r.name} is data`);
                assert.ok(r.dependencies.includes(sts.urn));
                assert.strictEqual(r.inputs.url, "http://qdrant.db.svc.cluster.local:6333");
                assert.ok(isSecretWrapper(r.rawInputs.apiKey));
            }

            find.one("random:index/randomPassword:RandomPassword", "qdrant-api-key");
            const key = mockPassword("qdrant-api-key");
            const creds = await valueOf(run.result.apps);
            assert.ok(await isSecretOutput(run.result.apps));
            // Verifies only with the server's api key: the token is signed with it.
            const { payload } = await verify(creds.lernmi.qdrant!.apiKey, key);
            assert.deepStrictEqual(payload.access, [
                { collection: "lernmi_docs", access: "rw" },
                { collection: "lernmi_memories", access: "rw" },
            ]);
            assert.deepStrictEqual(appEnvironment("lernmi", creds.lernmi), {
                APP_TENANT_ID: "lernmi",
                QDRANT_URL: "http://qdrant.db.svc.cluster.local:6333",
                QDRANT_API_KEY: creds.lernmi.qdrant!.apiKey,
                QDRANT_COLLECTION_PREFIX: "lernmi",
            });
            assert.ok(!JSON.stringify(creds).includes(key), "no app receives the manage key");
            for (const r of run.resources) assert.deepStrictEqual(plaintextOccurrences(r.rawInputs, run.passwords), [], r.name);
        });

        it("dedicated: a server (and api key) per app", async () => {
            const run = await runStackConfig(config("dedicated"));
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), ["qdrant-digi-core", "qdrant-lernmi"]);
            const creds = await valueOf(run.result.apps);
            assert.strictEqual(creds.lernmi.qdrant?.url, "http://qdrant-lernmi.db.svc.cluster.local:6333");
            assert.notStrictEqual(creds.lernmi.qdrant?.apiKey, creds.digi_core.qdrant?.apiKey);
            assert.strictEqual(find.one("pulumi-nodejs:dynamic/qdrant:Collection", "qdrant-lernmi/lernmi-docs").inputs.url, "http://qdrant-lernmi.db.svc.cluster.local:6333");
        });
    });
});

describe("Qdrant and MongoDB together (two apps)", () => {
    const apps = {
        digi_core: { mongodb: {}, qdrant: { collections: { knowledge: { size: 1536, distance: "Cosine" } } } },
        lernmi: { mongodb: {}, qdrant: { collections: { memories: { size: 768, distance: "Cosine" } } } },
    };
    for (const [placement, servers] of [
        ["shared", ["mongodb", "qdrant"]],
        ["dedicated", ["mongodb-digi-core", "mongodb-lernmi", "qdrant-digi-core", "qdrant-lernmi"]],
    ] as const) {
        it(`${placement}: ${servers.length} servers, and each app's Secret holds only its own scoped credentials`, async () => {
            const run = await runStackConfig({ target: "kubernetes", kubernetes: { namespace: "db" }, placement, engines: { mongodb: {}, qdrant: {} }, apps });
            const find = finder(run.resources);
            assert.deepStrictEqual(find.all("kubernetes:apps/v1:StatefulSet").map((s) => s.name).sort(), [...servers]);
            for (const [app, collection] of [
                ["digi_core", "digi_core_knowledge"],
                ["lernmi", "lernmi_memories"],
            ]) {
                const secret = find.one("kubernetes:core/v1:Secret", `${app}-databases`);
                assert.ok(isSecretWrapper(secret.rawInputs.stringData));
                const data = secret.inputs.stringData as Record<string, string>;
                assert.deepStrictEqual(Object.keys(data).sort(), ["APP_TENANT_ID", "MONGODB_DATABASE", "MONGODB_URI", "QDRANT_API_KEY", "QDRANT_COLLECTION_PREFIX", "QDRANT_URL"]);
                assert.match(data.MONGODB_URI, new RegExp(`^mongodb://${app}:[A-Za-z0-9]+@[^/]+/${app}\\?authSource=${app}$`));
                const server = placement === "shared" ? "qdrant" : `qdrant-${app.replace(/_/g, "-")}`;
                const { payload } = await verify(data.QDRANT_API_KEY, mockPassword(`${server}-api-key`));
                assert.deepStrictEqual(payload.access, [{ collection, access: "rw" }]);
            }
        });
    }
});
