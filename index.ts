// The library's public entry (package.json `main`/`types`, built to dist/ by `npm run build`):
// the components and runtimes another Pulumi program uses, and this repo's config parser and
// planner for programs that want its config format. Importing it registers no resource and reads
// no Pulumi config: the stack itself is stacks/index.ts (Pulumi.yaml `main`), not exported here.

// Per engine: a server with its tenants, and a tenant on an existing server.
export { PostgresqlServer, PostgresqlTenant } from "./components/postgresql/postgresql";
export type { PostgresqlServerArgs, PostgresqlTenantArgs, PostgresqlTenantSpec, PostgresqlCredentials } from "./components/postgresql/postgresql";
export type { PostgresqlTuning } from "./components/postgresql/postgresql-settings";
export { MysqlServer, MysqlTenant } from "./components/mysql/mysql";
export type { MysqlServerArgs, MysqlTenantArgs, MysqlTenantSpec, MysqlCredentials } from "./components/mysql/mysql";
export type { MysqlTuning } from "./components/mysql/mysql-settings";
export { MongodbServer, MongodbTenant } from "./components/mongodb/mongodb";
export type { MongodbServerArgs, MongodbTenantArgs, MongodbTenantSpec, MongodbCredentials } from "./components/mongodb/mongodb";
export type { MongodbTuning } from "./components/mongodb/mongodb-settings";
export { RedisServer, RedisTenant } from "./components/redis/redis";
export type { RedisServerArgs, RedisTenantArgs, RedisTenantSpec, RedisCredentials } from "./components/redis/redis";
export type { RedisTuning } from "./components/redis/redis-settings";
export { QdrantServer, QdrantTenant } from "./components/qdrant/qdrant";
export type { QdrantServerArgs, QdrantTenantArgs, QdrantTenantSpec, QdrantCredentials } from "./components/qdrant/qdrant";
export { Neo4jServer, Neo4jTenant } from "./components/neo4j/neo4j";
export type { Neo4jServerArgs, Neo4jTenantArgs, Neo4jTenantSpec, Neo4jCredentials } from "./components/neo4j/neo4j";

// What every engine's server and tenant share.
export type { ServerArgsBase, TenantSpecBase } from "./components/server";
export type { Tenant, TenantCredentials, PasswordCredentials } from "./components/credentials";
export type { Endpoint, Placement, ServerPlan, TenantPlan } from "./components/engine";

// Every planned server with its tenants on one target, and the variables an app receives.
export { DatabasePlatform } from "./components/platform";
export type { DatabasePlatformArgs, ServerSummary, KubernetesTarget, DockerTarget, AppCredentials } from "./components/platform";
export { appEnvironment } from "./components/environment";

// One app's scheduled backups and restore of one engine on Kubernetes (DatabasePlatform makes them from its plans).
export { TenantBackup } from "./components/tenant-backup";
export type { TenantBackupArgs } from "./components/tenant-backup";
export type { BackupDestination, TenantBackupPlan, TenantRestorePlan } from "./components/backup-plan";
export type { S3Destination } from "./components/backup-s3";
export type { EngineBackup, BackupCommands } from "./components/backup";

// Where a server runs.
export { KubernetesRuntime } from "./infra/kubernetes";
export type { KubernetesRuntimeArgs } from "./infra/kubernetes";
export { DockerRuntime } from "./infra/docker";
export type { DockerRuntimeArgs } from "./infra/docker";
export type { ServerRuntime, ServerSpec, RunningServer, Resources, Quantities } from "./infra/runtime";
// Metrics: what a server exposes, and the dashboard.
export { MONITOR_USER } from "./infra/metrics";
export type { MetricsSpec, ExporterSpec, MonitoringTarget } from "./infra/metrics";
export { tenantDatabasesDashboard } from "./components/dashboard";

// This repo's config format (Pulumi.<stack>.yaml values, without the project prefix) and planner.
export { ConfigError, parseStackConfig } from "./stacks/config";
export type { StackConfig, AppConfig } from "./stacks/config";
export { planTopology } from "./stacks/plan";
export type { Topology } from "./stacks/plan";
