// `npm run usage` for Qdrant: the points of a tenant's collections, read over the REST API with
// the tenant's own token (a JWT that reads and writes exactly its collections). Loaded only by
// the descriptor's `usage()`.
//
// A collection's info (`GET /collections/<name>`) is one request per collection whatever its
// size; its points_count is Qdrant's own count (approximate while segments are being optimized).
// Qdrant shows no collection's disk or memory size to a collection-scoped token (telemetry and
// /metrics need the manage key, which reads every tenant's data), and HTTP has no connections to
// count: size and connections are not measured.
import type { EngineUsage, TenantUsage } from "../engine";
import type { QdrantCredentials } from "./qdrant";

/** How long one request may take, in ms. */
export const QDRANT_USAGE_TIMEOUT_MS = 10000;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The points of one collection, as the tenant; throws naming the collection. */
async function pointsOf(own: QdrantCredentials, collection: string): Promise<number> {
    const response = await fetch(`${own.url.replace(/\/+$/, "")}/collections/${encodeURIComponent(collection)}`, {
        headers: { "api-key": own.apiKey },
        signal: AbortSignal.timeout(QDRANT_USAGE_TIMEOUT_MS),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`collection ${collection}: HTTP ${response.status} ${text.slice(0, 200)}`);
    let points: unknown;
    try {
        points = (JSON.parse(text) as { result?: { points_count?: unknown } }).result?.points_count;
    } catch {
        throw new Error(`collection ${collection}: the answer is not JSON`);
    }
    if (typeof points !== "number" || !Number.isSafeInteger(points) || points < 0) throw new Error(`collection ${collection}: no points_count in the answer`);
    return points;
}

export const qdrantUsage: EngineUsage<QdrantCredentials> = {
    note:
        "qdrant: objects are the points of the tenant's collections (points_count of each, read with its own token); " +
        "Qdrant shows no collection's size to a collection-scoped token and HTTP has no connections to count, so neither is measured.",

    async measure(own): Promise<TenantUsage> {
        let count = 0;
        try {
            // Only the collections its credentials name: the token reads no other.
            for (const collection of own.collections) count += await pointsOf(own, collection);
        } catch (err) {
            throw new Error(`Qdrant at ${own.host}:${own.port} as ${own.collectionPrefix}: ${messageOf(err)}`);
        }
        return { objects: { count, unit: "points" } };
    },
};
