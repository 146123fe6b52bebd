// The Grafana dashboard of the servers and their tenants, as code: a classic dashboard JSON model
// built from the metric names the exporters beside the servers emit (infra/metrics.ts and each
// engine's *-metrics.ts), the engines' own endpoints and kube-state-metrics'. `npm run dashboard`
// writes it to dashboards/tenant-databases.json, which tests/dashboard.test.ts keeps equal to it.
// Pure: no Pulumi, no I/O.
//
// Series labels it expects: `namespace` and `pod` (a PodMonitor's defaults; the Prometheus chart's
// `kubernetes-pods` job sets them too), and kube-state-metrics' `namespace`, `cronjob`, `job_name`.
// Per tenant, every query filters on the engine's own label (`datname`, `schema`, `mysql_user`,
// `database`, `key_group`, the Neo4j metric name) and copies it to `app` with label_replace, so it
// works whether a PodMonitor already copied it to `app` or annotations scraped the pod as it is.
import { APP_NAME_PATTERN } from "../infra/naming";

export const DASHBOARD_UID = "tenant-databases";
/** The file under dashboards/ that holds the generated JSON. */
export const DASHBOARD_FILE = "tenant-databases.json";

/** Backup age thresholds: a daily backup is late after 26 h, and one run is missing after 50 h. */
export const BACKUP_LATE_SECONDS = 26 * 3600;
export const BACKUP_MISSING_SECONDS = 50 * 3600;

type Json = Record<string, unknown>;

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
const GRID_WIDTH = 24;

/** App names as Prometheus matches them (fully anchored already): the `$app` All value. */
const APP_REGEX = APP_NAME_PATTERN.source.replace(/^\^/, "").replace(/\$$/, "");

/** One server's series: the chosen namespace and the pods of the chosen StatefulSets (`<server>-<ordinal>`). */
const SERVER_MATCHERS = ['namespace="$namespace"', 'pod=~"($server)-[0-9]+"'];

/** `metric{namespace, pod, ...more}`; `metric` empty for a selector on `__name__`. */
function sel(metric: string, ...more: string[]): string {
    return `${metric}{${[...SERVER_MATCHERS, ...more].join(", ")}}`;
}

/** Where an engine's per-tenant series carry the app, and the names there that are no tenant. */
interface TenantLabel {
    label: string;
    /**
     * Names there that are not tenants: the names the engine reserves (its descriptor's `reserved`,
     * copied here: loading the engine registry would make this module slow to load) and the exporter's own.
     */
    notTenants: readonly string[];
    /** The label's value around the app name (Neo4j: the metric name). */
    around?: (app: string) => string;
}

const PG_DATABASE: TenantLabel = { label: "datname", notTenants: ["postgres", "template0", "template1", "public", "pg_.*"] };
const MYSQL_RESERVED = ["mysql", "sys", "information_schema", "performance_schema", "root"];
const MYSQL_SCHEMA: TenantLabel = { label: "schema", notTenants: MYSQL_RESERVED };
// `event_scheduler` is MySQL's own thread in the process list.
const MYSQL_USER: TenantLabel = { label: "mysql_user", notTenants: [...MYSQL_RESERVED, "event_scheduler"] };
const MONGODB_DATABASE: TenantLabel = { label: "database", notTenants: ["admin", "local", "config"] };
// redis_exporter files keys no group pattern matches under `unclassified`, and the smallest groups beyond its limit under `overflow`.
const REDIS_KEY_GROUP: TenantLabel = { label: "key_group", notTenants: ["default", "admin", "unclassified", "overflow"] };
// Neo4j names a database's metrics after it; its Prometheus endpoint writes the `-` of a database name (an app's `_`) as `_`.
const NEO4J_STORE: TenantLabel = { label: "__name__", notTenants: ["neo4j", "system"], around: (app) => `neo4j_database_(${app})_store_size_total` };

/**
 * A tenant's series of `metric`, filtered on the engine's own label by `apps` (a regex: `$app`, or
 * every app name) and labelled `app`.
 */
function tenantSeries(metric: string, source: TenantLabel, apps: string, ...more: string[]): string {
    const around = source.around ?? ((app: string) => app);
    const selector = sel(metric, ...more, `${source.label}=~"${around(apps)}"`, `${source.label}!~"${around(source.notTenants.join("|"))}"`);
    return `label_replace(${selector}, "app", "$1", "${source.label}", "${source.around ? around(".+") : "(.+)"}")`;
}

/** Per tenant and pod, summed over whatever else labels the series (tables, DB numbers, topology). */
function perTenant(metric: string, source: TenantLabel, apps: string, ...more: string[]): string {
    return `sum by (namespace, pod, app) (${tenantSeries(metric, source, apps, ...more)})`;
}

/** What each tenant's data takes, per engine, as `topk` over all engines compares them. */
function tenantSizes(apps: string): { engine: string; expr: string }[] {
    return [
        { engine: "postgresql", expr: perTenant("pg_database_size_bytes", PG_DATABASE, apps) },
        { engine: "mysql", expr: perTenant("mysql_info_schema_table_size", MYSQL_SCHEMA, apps, 'component=~"data_length|index_length"') },
        {
            engine: "mongodb",
            expr: `${perTenant("mongodb_dbstats_storageSize", MONGODB_DATABASE, apps)} + ${perTenant("mongodb_dbstats_indexSize", MONGODB_DATABASE, apps)}`,
        },
        { engine: "redis", expr: perTenant("redis_key_group_memory_usage_bytes", REDIS_KEY_GROUP, apps) },
        { engine: "neo4j", expr: perTenant("", NEO4J_STORE, apps) },
    ];
}

/** Per pod: the highest value of the server's series (one per pod; `max` ignores a double scrape). */
function perServer(metric: string, ...more: string[]): string {
    return `max by (namespace, pod) (${sel(metric, ...more)})`;
}

/** PostgreSQL: backends connected to a database, per server (the row without a database is background processes). */
function pgBackends(): string {
    return `sum by (namespace, pod) (${sel("pg_stat_database_numbackends", 'datname!=""')})`;
}

// ---- panels ---------------------------------------------------------------------------------

interface Query {
    expr: string;
    legend?: string;
    /** `instant`: one value per series (stat, bar gauge); `table`: one row per series. @default a range */
    kind?: "range" | "instant" | "table";
}

/** A panel before layout: its size, and the panel without id and gridPos. */
interface Sized {
    w: number;
    h: number;
    panel: Json;
}

function targets(queries: Query[]): Json[] {
    return queries.map((q, i) => ({
        refId: String.fromCharCode(65 + i),
        datasource: DATASOURCE,
        expr: q.expr,
        legendFormat: q.legend ?? "__auto",
        ...(q.kind === "table"
            ? { instant: true, range: false, format: "table" }
            : q.kind === "instant"
              ? { instant: true, range: false }
              : { range: true }),
    }));
}

function queryPanel(type: string, title: string, description: string, queries: Query[], rest: Json): Json {
    return { type, title, description, datasource: DATASOURCE, targets: targets(queries), ...rest };
}

/** Series whose legend ends in " limit" are drawn dashed and red: the line a figure must stay under. */
const LIMIT_OVERRIDE = {
    matcher: { id: "byRegexp", options: ".* limit$" },
    properties: [
        { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
        { id: "color", value: { mode: "fixed", fixedColor: "red" } },
    ],
};

function timeseries(title: string, description: string, unit: string, queries: Query[], w = 8, h = 8): Sized {
    const limits = queries.some((q) => q.legend?.endsWith(" limit"));
    return {
        w,
        h,
        panel: queryPanel("timeseries", title, description, queries, {
            fieldConfig: {
                defaults: {
                    unit,
                    min: 0,
                    color: { mode: "palette-classic" },
                    custom: { drawStyle: "line", lineWidth: 1, fillOpacity: 0, showPoints: "never", spanNulls: false },
                },
                overrides: limits ? [LIMIT_OVERRIDE] : [],
            },
            options: {
                legend: { showLegend: true, displayMode: "table", placement: "bottom", calcs: ["lastNotNull", "max"], sortBy: "Last *", sortDesc: true },
                tooltip: { mode: "multi", sort: "desc" },
            },
        }),
    };
}

const REDUCE_LAST = { calcs: ["lastNotNull"], fields: "", values: false };

function upStat(title: string, description: string, queries: Query[], w: number, h: number): Sized {
    return {
        w,
        h,
        panel: queryPanel("stat", title, description, queries.map((q) => ({ ...q, kind: "instant" as const })), {
            fieldConfig: {
                defaults: {
                    unit: "short",
                    mappings: [{ type: "value", options: { "0": { text: "down", color: "red", index: 0 }, "1": { text: "up", color: "green", index: 1 } } }],
                    thresholds: { mode: "absolute", steps: [{ color: "red", value: null }, { color: "green", value: 1 }] },
                    color: { mode: "thresholds" },
                },
                overrides: [],
            },
            options: { reduceOptions: REDUCE_LAST, colorMode: "background", graphMode: "none", textMode: "value_and_name", justifyMode: "auto", orientation: "auto" },
        }),
    };
}

/** A bar per server: a share of its limit, yellow from 80 %, red from 90 %. */
function shareBars(title: string, description: string, queries: Query[], w: number, h: number): Sized {
    return {
        w,
        h,
        panel: queryPanel("bargauge", title, description, queries.map((q) => ({ ...q, kind: "instant" as const })), {
            fieldConfig: {
                defaults: {
                    unit: "percentunit",
                    min: 0,
                    max: 1,
                    thresholds: { mode: "absolute", steps: [{ color: "green", value: null }, { color: "yellow", value: 0.8 }, { color: "red", value: 0.9 }] },
                    color: { mode: "thresholds" },
                },
                overrides: [],
            },
            options: { reduceOptions: REDUCE_LAST, displayMode: "gradient", orientation: "horizontal", showUnfilled: true, valueMode: "color", namePlacement: "auto" },
        }),
    };
}

interface TableSpec {
    title: string;
    description: string;
    expr: string;
    /** Columns shown, in order: series label (or `Value`) -> header. */
    columns: Record<string, string>;
    /** The header the rows are sorted by, highest first. */
    sortBy: string;
    unit: string;
    /** Thresholds that color the sorted column's cells. @default none */
    thresholds?: { color: string; value: number | null }[];
    w: number;
    h: number;
}

function table(spec: TableSpec): Sized {
    const headers = Object.keys(spec.columns);
    // The thresholds color the sorted column's cells only, not the names beside.
    const colored = spec.thresholds && {
        matcher: { id: "byName", options: spec.sortBy },
        properties: [
            { id: "thresholds", value: { mode: "absolute", steps: spec.thresholds } },
            { id: "custom.cellOptions", value: { type: "color-background", mode: "basic" } },
        ],
    };
    return {
        w: spec.w,
        h: spec.h,
        panel: queryPanel("table", spec.title, spec.description, [{ expr: spec.expr, kind: "table" }], {
            fieldConfig: { defaults: { unit: spec.unit, custom: { align: "auto", cellOptions: { type: "auto" } } }, overrides: colored ? [colored] : [] },
            options: { showHeader: true, cellHeight: "sm", sortBy: [{ displayName: spec.sortBy, desc: true }], footer: { show: false, reducer: ["sum"], fields: "" } },
            transformations: [
                {
                    id: "organize",
                    options: {
                        // Only the listed columns: every other label (job, instance, container, ...) goes.
                        excludeByName: { Time: true, namespace: true },
                        includeByName: Object.fromEntries(headers.map((c) => [c, true])),
                        indexByName: Object.fromEntries(headers.map((c, i) => [c, i])),
                        renameByName: spec.columns,
                    },
                },
            ],
        }),
    };
}

function text(title: string, content: string, w: number, h: number): Sized {
    return { w, h, panel: { type: "text", title, options: { mode: "markdown", content } } };
}

interface Row {
    title: string;
    panels: Sized[];
}

/** Rows one under the other, each row's panels left to right, wrapping at the grid's width; ids in order. */
function layout(rows: Row[]): Json[] {
    const out: Json[] = [];
    let id = 0;
    let y = 0;
    for (const row of rows) {
        out.push({ type: "row", title: row.title, id: ++id, collapsed: false, gridPos: { h: 1, w: GRID_WIDTH, x: 0, y }, panels: [] });
        y += 1;
        let x = 0;
        let lineHeight = 0;
        for (const { w, h, panel } of row.panels) {
            if (x + w > GRID_WIDTH) {
                y += lineHeight;
                x = 0;
                lineHeight = 0;
            }
            out.push({ id: ++id, gridPos: { h, w, x, y }, ...panel });
            x += w;
            lineHeight = Math.max(lineHeight, h);
        }
        y += lineHeight;
    }
    return out;
}

// ---- the dashboard --------------------------------------------------------------------------

const EXPORTER_UP = [
    { metric: "pg_up", engine: "PostgreSQL" },
    { metric: "mysql_up", engine: "MySQL" },
    { metric: "mongodb_up", engine: "MongoDB" },
    { metric: "redis_up", engine: "Redis" },
];

function overview(): Row {
    const sizes = tenantSizes("$app")
        .map(({ engine, expr }) => `label_replace(${expr}, "engine", "${engine}", "__name__", ".*")`)
        .join(" or ");
    return {
        title: "Overview",
        panels: [
            upStat(
                "Servers up (exporter → server)",
                "Per server pod: 1 when the exporter beside the server logged in as the monitoring user and read its figures (`pg_up`, `mysql_up`, `mongodb_up`, `redis_up`), 0 when it runs but cannot reach or log in to the server. Neo4j serves its own endpoint: see Scrape targets.",
                EXPORTER_UP.map(({ metric }) => ({ expr: perServer(metric), legend: "{{pod}}" })),
                8,
                6,
            ),
            upStat(
                "Scrape targets up (Prometheus → pod)",
                "Per server pod: Prometheus' own `up`, 1 when its last scrape of the pod's metrics port (an exporter's, or Neo4j Enterprise's own endpoint) succeeded. 0: the pod is down, or the NetworkPolicy does not admit Prometheus' namespace.",
                [{ expr: perServer("up"), legend: "{{pod}}" }],
                8,
                6,
            ),
            shareBars(
                "Connections used (of the server's limit)",
                "Per server: open connections over the server's limit. PostgreSQL: backends in a database (`pg_stat_database_numbackends`) over `pg_settings_max_connections`; MySQL: `mysql_global_status_threads_connected` over `mysql_global_variables_max_connections`; MongoDB: current over current + available (`mongodb_ss_connections`); Redis: `redis_connected_clients` over `redis_config_maxclients` (absent when the exporter may not run CONFIG GET).",
                [
                    { expr: `${pgBackends()} / ${perServer("pg_settings_max_connections")}`, legend: "{{pod}}" },
                    { expr: `${perServer("mysql_global_status_threads_connected")} / ${perServer("mysql_global_variables_max_connections")}`, legend: "{{pod}}" },
                    {
                        expr: `${perServer("mongodb_ss_connections", 'conn_type="current"')} / (${perServer("mongodb_ss_connections", 'conn_type="current"')} + ${perServer("mongodb_ss_connections", 'conn_type="available"')})`,
                        legend: "{{pod}}",
                    },
                    { expr: `${perServer("redis_connected_clients")} / ${perServer("redis_config_maxclients")}`, legend: "{{pod}}" },
                ],
                8,
                6,
            ),
            table({
                title: "Heaviest tenants",
                description:
                    "The 15 tenants whose data takes the most, across engines and servers (filtered by $app). PostgreSQL: `pg_database_size_bytes`; MySQL: data + indexes of the schema's tables (`mysql_info_schema_table_size`); MongoDB: storage + indexes on disk (`mongodb_dbstats_storageSize` + `mongodb_dbstats_indexSize`); Redis: memory of the keys under the app's prefix (`redis_key_group_memory_usage_bytes`); Neo4j: `neo4j_database_<db>_store_size_total`. Qdrant is not scraped.",
                expr: `topk(15, ${sizes})`,
                columns: { app: "App", engine: "Engine", pod: "Server pod", Value: "Size" },
                sortBy: "Size",
                unit: "bytes",
                w: 16,
                h: 9,
            }),
            shareBars(
                "Redis memory used (of maxmemory)",
                "Per Redis server: `redis_memory_used_bytes` over `redis_memory_max_bytes` (maxmemory, derived from the container's memory limit). At 100 % Redis refuses writes or evicts keys, for every tenant of the server.",
                // maxmemory 0 (no limit) gives no bar rather than an infinite one.
                [{ expr: `${perServer("redis_memory_used_bytes")} / (${perServer("redis_memory_max_bytes")} > 0)`, legend: "{{pod}}" }],
                8,
                9,
            ),
        ],
    };
}

function postgresql(): Row {
    return {
        title: "PostgreSQL",
        panels: [
            timeseries(
                "Database size per tenant",
                "Disk space of each tenant's database (`pg_database_size_bytes`, by `datname`): a tenant's database is named after the app.",
                "bytes",
                [{ expr: perTenant("pg_database_size_bytes", PG_DATABASE, "$app"), legend: "{{app}} ({{pod}})" }],
            ),
            timeseries(
                "Connections per tenant",
                "Backends connected to each tenant's database (`pg_stat_database_numbackends`, by `datname`). Only the app's role may connect to its database (CONNECT is revoked from PUBLIC), so these are the app's connections. Its role's CONNECTION LIMIT is not exported: see the server's max_connections beside.",
                "short",
                [{ expr: perTenant("pg_stat_database_numbackends", PG_DATABASE, "$app"), legend: "{{app}} ({{pod}})" }],
            ),
            timeseries(
                "Server connections and max_connections",
                "All backends connected to a database on the server (`sum(pg_stat_database_numbackends)`, tenants, admin and monitoring) against `pg_settings_max_connections` (dashed). The tenants' connection limits are checked to fit max_connections before `pulumi up` creates anything.",
                "short",
                [
                    { expr: pgBackends(), legend: "{{pod}} connected" },
                    { expr: perServer("pg_settings_max_connections"), legend: "{{pod}} max_connections limit" },
                ],
            ),
        ],
    };
}

function mysql(): Row {
    return {
        title: "MySQL",
        panels: [
            timeseries(
                "Data and index size per tenant",
                "Data + indexes of the tables of each tenant's schema (`mysql_info_schema_table_size`, components data_length and index_length, summed by `schema`). Free space inside the files (data_free) is not counted. A schema without tables has no series.",
                "bytes",
                [{ expr: perTenant("mysql_info_schema_table_size", MYSQL_SCHEMA, "$app", 'component=~"data_length|index_length"'), legend: "{{app}} ({{pod}})" }],
            ),
            timeseries(
                "Connections per tenant",
                "Threads of each tenant's user (`mysql_info_schema_processlist_processes_by_user`, by `mysql_user`): the app's user is named after the app. Its max_user_connections is not exported: see the server's max_connections beside.",
                "short",
                [{ expr: perTenant("mysql_info_schema_processlist_processes_by_user", MYSQL_USER, "$app"), legend: "{{app}} ({{pod}})" }],
            ),
            timeseries(
                "Server connections and max_connections",
                "Connections open on the server (`mysql_global_status_threads_connected`) against `mysql_global_variables_max_connections` (dashed).",
                "short",
                [
                    { expr: perServer("mysql_global_status_threads_connected"), legend: "{{pod}} connected" },
                    { expr: perServer("mysql_global_variables_max_connections"), legend: "{{pod}} max_connections limit" },
                ],
            ),
        ],
    };
}

function mongodb(): Row {
    return {
        title: "MongoDB",
        panels: [
            timeseries(
                "Size on disk per tenant",
                "Storage + indexes of each tenant's database on disk, compressed (`mongodb_dbstats_storageSize` + `mongodb_dbstats_indexSize`, by `database`): a tenant's database is named after the app.",
                "bytes",
                [
                    {
                        expr: `${perTenant("mongodb_dbstats_storageSize", MONGODB_DATABASE, "$app")} + ${perTenant("mongodb_dbstats_indexSize", MONGODB_DATABASE, "$app")}`,
                        legend: "{{app}} ({{pod}})",
                    },
                ],
            ),
            timeseries(
                "Data size per tenant",
                "Uncompressed size of the documents in each tenant's database (`mongodb_dbstats_dataSize`, by `database`).",
                "bytes",
                [{ expr: perTenant("mongodb_dbstats_dataSize", MONGODB_DATABASE, "$app"), legend: "{{app}} ({{pod}})" }],
            ),
            timeseries(
                "Server connections and limit",
                "Connections open on the server (`mongodb_ss_connections{conn_type=\"current\"}`) against current + available, the most it accepts (dashed). MongoDB reports no connections per database or user: `npm run usage` counts a tenant's.",
                "short",
                [
                    { expr: perServer("mongodb_ss_connections", 'conn_type="current"'), legend: "{{pod}} connected" },
                    {
                        expr: `${perServer("mongodb_ss_connections", 'conn_type="current"')} + ${perServer("mongodb_ss_connections", 'conn_type="available"')}`,
                        legend: "{{pod}} limit",
                    },
                ],
            ),
        ],
    };
}

function redis(): Row {
    return {
        title: "Redis",
        panels: [
            timeseries(
                "Memory per tenant",
                "Memory of the keys under each tenant's prefix `<app>:` (`redis_key_group_memory_usage_bytes`, by `key_group`, summed over DB numbers). The exporter measures it by scanning every key at each scrape.",
                "bytes",
                [{ expr: perTenant("redis_key_group_memory_usage_bytes", REDIS_KEY_GROUP, "$app"), legend: "{{app}} ({{pod}})" }],
                12,
            ),
            timeseries(
                "Keys per tenant",
                "Keys under each tenant's prefix `<app>:` (`redis_key_group_count`, by `key_group`, summed over DB numbers).",
                "short",
                [{ expr: perTenant("redis_key_group_count", REDIS_KEY_GROUP, "$app"), legend: "{{app}} ({{pod}})" }],
                12,
            ),
            timeseries(
                "Memory used and maxmemory",
                "Memory Redis uses (`redis_memory_used_bytes`) against maxmemory (`redis_memory_max_bytes`, dashed), which is derived from the container's memory limit. Tenants share it: one tenant's keys can fill it for all.",
                "bytes",
                [
                    { expr: perServer("redis_memory_used_bytes"), legend: "{{pod}} used" },
                    { expr: perServer("redis_memory_max_bytes"), legend: "{{pod}} maxmemory limit" },
                ],
                12,
            ),
            timeseries(
                "Clients and maxclients",
                "Client connections (`redis_connected_clients`, all tenants, the admin and the exporter) against `redis_config_maxclients` (dashed). Redis counts no connections per ACL user; maxclients is absent when the exporter may not run CONFIG GET, and the clients are then shown alone.",
                "short",
                [
                    { expr: perServer("redis_connected_clients"), legend: "{{pod}} clients" },
                    { expr: perServer("redis_config_maxclients"), legend: "{{pod}} maxclients limit" },
                ],
                12,
            ),
        ],
    };
}

function neo4j(): Row {
    return {
        title: "Neo4j (Enterprise)",
        panels: [
            timeseries(
                "Store size per tenant",
                "Store and transaction logs of each tenant's database (`neo4j_database_<db>_store_size_total`, from Neo4j Enterprise's own endpoint; the database is in the metric name, and is the app's name). Community serves no metrics.",
                "bytes",
                [{ expr: perTenant("", NEO4J_STORE, "$app"), legend: "{{app}} ({{pod}})" }],
                12,
            ),
            timeseries(
                "Bolt connections",
                "Bolt connections to the server, running a query or idle (`neo4j_dbms_bolt_connections_running`, `neo4j_dbms_bolt_connections_idle`). Neo4j reports none per database or user.",
                "short",
                [
                    { expr: perServer("neo4j_dbms_bolt_connections_running"), legend: "{{pod}} running" },
                    { expr: perServer("neo4j_dbms_bolt_connections_idle"), legend: "{{pod}} idle" },
                ],
                12,
            ),
        ],
    };
}

const QDRANT_NOTE = [
    "**Qdrant is not scraped.** Its `/metrics` endpoint requires an API key, and the keys that can read it also read every collection of every tenant: handing one to Prometheus would give the monitoring stack all the tenants' vectors.",
    "",
    "What each tenant uses (collections, points) comes from `npm run usage`, which reads each tenant's collections with that tenant's own key.",
].join("\n");

function qdrant(): Row {
    return { title: "Qdrant", panels: [text("Qdrant", QDRANT_NOTE, GRID_WIDTH, 4)] };
}

function backups(): Row {
    const cronjobs = 'namespace="$namespace", cronjob=~"backup-.+"';
    return {
        title: "Backups",
        panels: [
            table({
                title: "Time without a backup",
                description: `Per backup CronJob (\`backup-<app>-<engine>\` in the server namespace), the time since its last successful run (kube-state-metrics' \`kube_cronjob_status_last_successful_time\`), oldest first; for a CronJob that never succeeded, the time since it was created (\`kube_cronjob_created\`). Yellow after ${BACKUP_LATE_SECONDS / 3600} h (a daily backup is late), red after ${BACKUP_MISSING_SECONDS / 3600} h (a run is missing). Not filtered by $app or $server: the CronJob carries the app's Kubernetes form (\`_\` as \`-\`), and a long name ends in a hash.`,
                expr: `time() - (max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{${cronjobs}}) or max by (namespace, cronjob) (kube_cronjob_created{${cronjobs}}))`,
                columns: { cronjob: "CronJob", Value: "Without a backup for" },
                sortBy: "Without a backup for",
                unit: "s",
                thresholds: [
                    { color: "green", value: null },
                    { color: "yellow", value: BACKUP_LATE_SECONDS },
                    { color: "red", value: BACKUP_MISSING_SECONDS },
                ],
                w: 12,
                h: 9,
            }),
            table({
                title: "Failed backup Jobs",
                description:
                    "Backup Jobs that failed (`kube_job_status_failed` of the Jobs that a `backup-*` CronJob owns, per `kube_job_owner`), with the reason Kubernetes gives (BackoffLimitExceeded, DeadlineExceeded). A CronJob keeps its last 3 failed Jobs, so a failure stays listed after later runs succeed: the table beside tells whether one did. The log of a failed run: `kubectl logs job/<job>` in the server namespace.",
                expr: `max by (namespace, owner_name, job_name, reason) (kube_job_status_failed{namespace="$namespace"} * on (namespace, job_name) group_left (owner_name) kube_job_owner{namespace="$namespace", owner_kind="CronJob", owner_name=~"backup-.+"}) > 0`,
                columns: { owner_name: "CronJob", job_name: "Job", reason: "Reason", Value: "Failed" },
                sortBy: "Failed",
                unit: "short",
                w: 12,
                h: 9,
            }),
        ],
    };
}

// ---- variables ------------------------------------------------------------------------------

function queryVariable(name: string, label: string, query: string, extra: Json): Json {
    return {
        name,
        label,
        type: "query",
        datasource: DATASOURCE,
        query,
        definition: query,
        refresh: 2,
        sort: 1,
        hide: 0,
        regex: "",
        multi: false,
        includeAll: false,
        current: {},
        options: [],
        skipUrlSync: false,
        ...extra,
    };
}

function variables(): Json[] {
    // Every tenant of the chosen servers, whatever its engine: a line `{app="<name>"} <value> <time>` each.
    // A MySQL schema without tables has no size: its user's connections list it too.
    const apps = [...tenantSizes(APP_REGEX).map(({ expr }) => expr), perTenant("mysql_info_schema_processlist_processes_by_user", MYSQL_USER, APP_REGEX)]
        .map((expr) => `group by (app) (${expr})`)
        .join(" or ");
    return [
        {
            name: "datasource",
            label: "Data source",
            type: "datasource",
            query: "prometheus",
            refresh: 1,
            hide: 0,
            regex: "",
            multi: false,
            includeAll: false,
            current: {},
            options: [],
            skipUrlSync: false,
        },
        queryVariable("namespace", "Namespace", "label_values(up, namespace)", {}),
        queryVariable("server", "Server", 'label_values(up{namespace="$namespace"}, pod)', {
            // A StatefulSet's pod is `<server>-<ordinal>`: the server is the name without the ordinal.
            regex: "/^(.+)-[0-9]+$/",
            multi: true,
            includeAll: true,
            allValue: ".+",
            current: { selected: true, text: ["All"], value: ["$__all"] },
        }),
        queryVariable("app", "App", `query_result(${apps})`, {
            regex: '/app="([^"]+)"/',
            multi: true,
            includeAll: true,
            // Every name an app may have (and no exporter's or engine's own name).
            allValue: APP_REGEX,
            current: { selected: true, text: ["All"], value: ["$__all"] },
        }),
    ];
}

/** The dashboard: a classic Grafana JSON model, the same on every call. */
export function tenantDatabasesDashboard(): Record<string, unknown> {
    return {
        uid: DASHBOARD_UID,
        title: "Tenant databases",
        description:
            "The database servers of tenant-databases and their tenants: size, connections against limits, memory against maxmemory, backups. Generated by components/dashboard.ts (`npm run dashboard`); edit the code, not this JSON.",
        tags: ["tenant-databases", "databases", "tenants"],
        editable: true,
        graphTooltip: 1,
        id: null,
        links: [],
        fiscalYearStartMonth: 0,
        liveNow: false,
        refresh: "1m",
        schemaVersion: 39,
        version: 1,
        time: { from: "now-6h", to: "now" },
        timepicker: {},
        timezone: "browser",
        weekStart: "",
        annotations: {
            list: [
                {
                    builtIn: 1,
                    datasource: { type: "grafana", uid: "-- Grafana --" },
                    enable: true,
                    hide: true,
                    iconColor: "rgba(0, 211, 255, 1)",
                    name: "Annotations & Alerts",
                    type: "dashboard",
                },
            ],
        },
        templating: { list: variables() },
        panels: layout([overview(), postgresql(), mysql(), mongodb(), redis(), neo4j(), qdrant(), backups()]),
    };
}

/** The dashboard as the committed file holds it: 2-space indented JSON and a final newline. */
export function dashboardJson(): string {
    return `${JSON.stringify(tenantDatabasesDashboard(), null, 2)}\n`;
}
