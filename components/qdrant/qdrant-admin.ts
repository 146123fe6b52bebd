// Qdrant tenancy: collections created with the server's api key (a dynamic provider built on the
// official @qdrant/js-client-rest), and per app a JWT signed with that key whose `access` claim
// lists exactly the app's collections (the server runs with `jwt_rbac`).
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { adminError } from "../admin-connection";
import { QDRANT_DISTANCES, QdrantDistance } from "./engine";

export interface CollectionAccess {
    collection: string;
    access: "rw";
}

/** An HS256 JWT for Qdrant's RBAC: read-write on these collections and nothing else. */
export function collectionToken(apiKey: string, collections: string[]): string {
    if (collections.length === 0) throw new Error("a Qdrant token needs at least one collection: a token without `access` would be a global one");
    const claims = { access: [...collections].sort().map((collection): CollectionAccess => ({ collection, access: "rw" })) };
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
    return `${unsigned}.${crypto.createHmac("sha256", apiKey).update(unsigned).digest("base64url")}`;
}

export interface QdrantCollectionState {
    /** Where `pulumi up` reaches the server, e.g. http://127.0.0.1:6333. */
    url: string;
    apiKey: string;
    collection: string;
    size: number;
    distance: QdrantDistance;
}

/** The vector parameters of an existing collection, or undefined when it does not exist. */
export type QdrantApi = {
    get(state: QdrantCollectionState): Promise<{ size: number; distance: string } | undefined>;
    create(state: QdrantCollectionState): Promise<void>;
    delete(state: QdrantCollectionState): Promise<void>;
};

/** The official client; a seam for tests without a server. */
export const officialClient: QdrantApi = {
    async get(state) {
        const client = qdrantClient(state);
        const { exists } = await call(state, `read collection ${state.collection}`, () => client.collectionExists(state.collection));
        if (!exists) return undefined;
        const info = await call(state, `read collection ${state.collection}`, () => client.getCollection(state.collection));
        const vectors = info.config.params.vectors as { size?: number; distance?: string } | undefined;
        return { size: Number(vectors?.size), distance: String(vectors?.distance) };
    },
    async create(state) {
        const client = qdrantClient(state);
        await call(state, `create collection ${state.collection}`, () =>
            client.createCollection(state.collection, { vectors: { size: Number(state.size), distance: state.distance } }),
        );
    },
    async delete(state) {
        const client = qdrantClient(state);
        await call(state, `delete collection ${state.collection}`, () => client.deleteCollection(state.collection));
    },
};

function qdrantClient(state: QdrantCollectionState) {
    // Required here, not at the top: this code is serialized into the dynamic provider.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { QdrantClient } = require("@qdrant/js-client-rest") as typeof import("@qdrant/js-client-rest", { with: { "resolution-mode": "require" } });
    return new QdrantClient({ url: state.url, apiKey: state.apiKey, checkCompatibility: false, timeout: 30000 });
}

async function call<T>(state: QdrantCollectionState, action: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        throw adminError(`Qdrant at ${state.url}`, undefined, action, err);
    }
}

export function qdrantCollectionProvider(api: QdrantApi = officialClient): pulumi.dynamic.ResourceProvider<QdrantCollectionState, QdrantCollectionState> {
    return {
        async check(_olds, news) {
            const failures = [];
            if (!Number.isInteger(Number(news.size)) || Number(news.size) <= 0) failures.push({ property: "size", reason: `${news.size} is not a positive whole number` });
            if (!QDRANT_DISTANCES.includes(news.distance)) failures.push({ property: "distance", reason: `${news.distance} is not one of ${QDRANT_DISTANCES.join(", ")}` });
            return { inputs: news, failures };
        },
        async diff(_id, olds, news) {
            // Vector parameters cannot change in place: a new collection replaces the old one,
            // and Pulumi shows it as a replacement. Connection details change nothing.
            const replaces = (["collection", "size", "distance"] as const).filter((k) => String(olds[k]) !== String(news[k]));
            return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
        },
        async create(inputs) {
            const existing = await api.get(inputs);
            if (existing === undefined) {
                await api.create(inputs);
            } else if (existing.size !== Number(inputs.size) || existing.distance !== inputs.distance) {
                // Never silently: an existing collection with other vectors holds data this would lose.
                throw new Error(
                    `collection ${inputs.collection} already exists with vectors ${existing.size}/${existing.distance}, not ${inputs.size}/${inputs.distance}; ` +
                        "its points were kept (data is retained). Delete or rename it yourself, or decommission the app to let it be dropped",
                );
            }
            return { id: inputs.collection, outs: inputs };
        },
        async update(_id, _olds, news) {
            return { outs: news };
        },
        async delete(_id, props) {
            if ((await api.get(props)) !== undefined) await api.delete(props);
        },
        async read(id, props) {
            const current = props as QdrantCollectionState;
            const existing = await api.get(current);
            return existing === undefined ? {} : { id, props: { ...current, size: existing.size, distance: existing.distance as QdrantDistance } };
        },
    };
}

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

// One provider object: Pulumi serializes a dynamic provider once per object.
const collectionProvider = qdrantCollectionProvider();

export class QdrantCollection extends pulumi.dynamic.Resource {
    declare readonly collection: pulumi.Output<string>;

    constructor(name: string, args: Inputs<QdrantCollectionState>, opts?: pulumi.CustomResourceOptions) {
        super(collectionProvider, name, { ...args }, { ...opts, additionalSecretOutputs: ["apiKey"] }, "qdrant", "Collection");
    }
}
