// What an app reads: the environment variables in its Secret (Kubernetes) or `.env` (Docker),
// derived from its credentials by one function, so both always agree.
import type { MongodbCredentials } from "./mongodb/mongodb";
import type { MysqlCredentials } from "./mysql/mysql";
import type { Neo4jCredentials } from "./neo4j/neo4j";
import type { QdrantCredentials } from "./qdrant/qdrant";
import type { PostgresqlCredentials } from "./postgresql/postgresql";
import type { RedisCredentials } from "./redis/redis";

/** What one app receives, per engine it uses. `password` and `url` are secret. */
export interface AppCredentials {
    postgresql?: PostgresqlCredentials;
    mysql?: MysqlCredentials;
    redis?: RedisCredentials;
    neo4j?: Neo4jCredentials;
    mongodb?: MongodbCredentials;
    qdrant?: QdrantCredentials;
}

export const POSTGRES_ENV_KEYS = ["DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"] as const;
export const MYSQL_ENV_KEYS = ["MYSQL_URL", "MYSQL_HOST", "MYSQL_PORT", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD"] as const;
export const MONGODB_ENV_KEYS = ["MONGODB_URI", "MONGODB_DATABASE"] as const;
export const QDRANT_ENV_KEYS = ["QDRANT_URL", "QDRANT_API_KEY", "QDRANT_COLLECTION_PREFIX"] as const;
export const NEO4J_ENV_KEYS = ["NEO4J_URI", "NEO4J_DATABASE", "NEO4J_USERNAME", "NEO4J_PASSWORD"] as const;
export const REDIS_ENV_KEYS = ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_DB"] as const;

export function appEnvironment(app: string, credentials: AppCredentials): Record<string, string> {
    const env: Record<string, string> = { APP_TENANT_ID: app };
    const pg = credentials.postgresql;
    if (pg) {
        Object.assign(env, {
            DATABASE_URL: pg.url,
            PGHOST: pg.host,
            PGPORT: String(pg.port),
            PGDATABASE: pg.database,
            PGUSER: pg.user,
            PGPASSWORD: pg.password,
        } satisfies Record<(typeof POSTGRES_ENV_KEYS)[number], string>);
    }
    const my = credentials.mysql;
    if (my) {
        Object.assign(env, {
            MYSQL_URL: my.url,
            MYSQL_HOST: my.host,
            MYSQL_PORT: String(my.port),
            MYSQL_DATABASE: my.database,
            MYSQL_USER: my.user,
            MYSQL_PASSWORD: my.password,
        } satisfies Record<(typeof MYSQL_ENV_KEYS)[number], string>);
    }
    const mongo = credentials.mongodb;
    if (mongo) {
        Object.assign(env, { MONGODB_URI: mongo.url, MONGODB_DATABASE: mongo.database } satisfies Record<(typeof MONGODB_ENV_KEYS)[number], string>);
    }
    const redis = credentials.redis;
    if (redis) {
        Object.assign(env, {
            REDIS_URL: redis.url,
            REDIS_KEY_PREFIX: redis.keyPrefix,
            REDIS_DB: String(redis.db),
        } satisfies Record<(typeof REDIS_ENV_KEYS)[number], string>);
    }
    const qdrant = credentials.qdrant;
    if (qdrant) {
        Object.assign(env, {
            QDRANT_URL: qdrant.url,
            QDRANT_API_KEY: qdrant.apiKey,
            QDRANT_COLLECTION_PREFIX: qdrant.collectionPrefix,
        } satisfies Record<(typeof QDRANT_ENV_KEYS)[number], string>);
    }
    const neo4j = credentials.neo4j;
    if (neo4j) {
        Object.assign(env, {
            NEO4J_URI: neo4j.uri,
            NEO4J_DATABASE: neo4j.database,
            NEO4J_USERNAME: neo4j.user,
            NEO4J_PASSWORD: neo4j.password,
        } satisfies Record<(typeof NEO4J_ENV_KEYS)[number], string>);
    }
    return env;
}

/** A `.env` file: one `KEY=value` per line; values with characters beyond a URL's are single-quoted. */
export function formatDotenv(env: Record<string, string>): string {
    return (
        Object.entries(env)
            .map(([key, value]) => `${key}=${/^[A-Za-z0-9_./:@%+=?&-]*$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`}`)
            .join("\n") + "\n"
    );
}
