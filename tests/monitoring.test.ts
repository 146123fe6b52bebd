// Metrics under Pulumi mocks: with `monitoring` on, every server whose engine needs one gets an
// exporter sidecar (restricted, its own Secret, resources counted in `capacity`) and a
// monitoring user with the engine's monitoring rights only; the metrics port is admitted from
// the monitoring namespaces alone; Prometheus finds the pods through PodMonitors or annotations;
// the dashboard ships as a ConfigMap. With `monitoring` off nothing changes (the snapshots of the
// stacks without it, tests/snapshot.test.ts, prove that resource by resource).
import * as assert from "assert";
import { EXPORTER_RESOURCES, MONITOR_USER } from "../infra/metrics";
import { ConfigError, parseStackConfig } from "../stacks/config";
import { capacityOf } from "../stacks/capacity";
import { planTopology } from "../stacks/plan";
import { stackFileConfig } from "../stacks/files";
import { POSTGRES_MONITOR_CONNECTIONS } from "../components/postgresql/postgresql-metrics";
import { MYSQL_MONITOR_GRANTS } from "../components/mysql/mysql-metrics";
import { monitorAclRules } from "../components/redis/redis-acl";
import { DASHBOARD_FILE, tenantDatabasesDashboard } from "../components/dashboard";
import { KubernetesRuntime } from "../infra/kubernetes";
import { PostgresqlServer } from "../components/postgresql/postgresql";
import * as k8s from "@pulumi/kubernetes";
import { RecordedResource, finder, isSecretWrapper, runProgram } from "./helpers/pulumi";
import { runStackConfig, runStackFile } from "./helpers/stacks";

const STS = "kubernetes:apps/v1:StatefulSet";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const SECRET = "kubernetes:core/v1:Secret";
const POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";

/** Every engine, shared, on Kubernetes, with Neo4j in the given edition. */
function allEngines(monitoring: Record<string, unknown>, neo4jEdition: "community" | "enterprise" = "enterprise") {
    return {
        target: "kubernetes",
        kubernetes: { namespace: "db" },
        engines: {
            postgresql: {},
            mysql: {},
            mongodb: {},
            redis: {},
            qdrant: {},
            neo4j: neo4jEdition === "enterprise" ? { edition: "enterprise", acceptLicenseAgreement: true } : { placement: "dedicated" },
        },
        apps: {
            lernmi: { postgresql: {}, mysql: {}, mongodb: {}, redis: { db: 0 }, qdrant: { collections: { docs: { size: 4, distance: "Cosine" } } }, neo4j: {} },
            ...(neo4jEdition === "enterprise" ? { digi_core: { postgresql: {}, neo4j: {} } } : {}),
        },
        monitoring,
    };
}

const containers = (sts: RecordedResource) => sts.inputs.spec.template.spec.containers as { name: string; [k: string]: any }[];
const ingressPorts = (policy: RecordedResource) => (policy.inputs.spec.ingress as { ports: { port: number }[] }[]).map((r) => r.ports.map((p) => p.port));

describe("metrics: exporters, monitoring users, scraping and the dashboard", function () {
    this.timeout(20000);
    let prod: ReturnType<typeof finder>;
    before(async () => {
        prod = finder((await runStackFile("prod")).resources);
    });

    it("Pulumi.prod.yaml: each server runs an exporter beside it, restricted, logging in from its own Secret", async () => {
        const find = prod;
        for (const [server, exporter, port, passwordKey] of [
            ["postgresql-lernmi", "postgres-exporter", 9187, "DATA_SOURCE_PASS"],
            ["redis", "redis-exporter", 9121, "REDIS_PASSWORD"],
        ] as const) {
            const all = containers(find.one(STS, server));
            assert.deepStrictEqual(all.map((c) => c.name), [server.split("-")[0], exporter]);
            const sidecar = all[1];
            assert.deepStrictEqual(sidecar.ports, [{ name: "metrics", containerPort: port }]);
            assert.deepStrictEqual(sidecar.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
            assert.deepStrictEqual(sidecar.resources, EXPORTER_RESOURCES);
            // No probes: a failing exporter must not make the server unready for its apps.
            assert.strictEqual(sidecar.readinessProbe, undefined);
            const password = sidecar.env.find((e: { name: string }) => e.name === passwordKey);
            assert.deepStrictEqual(password.valueFrom, { secretKeyRef: { name: `${server}-metrics`, key: passwordKey } });
            assert.ok(!sidecar.env.some((e: { value?: string }) => e.value !== undefined && /MockPw/.test(e.value)), "no password in plain env");
            const secret = find.one(SECRET, `${server}-metrics`);
            assert.ok(isSecretWrapper(secret.rawInputs.stringData), "the exporter's Secret payload is secret");
            assert.deepStrictEqual(Object.keys(secret.inputs.stringData), [passwordKey]);
            // The server container never sees the monitoring password.
            assert.ok(!all[0].env.some((e: { valueFrom?: { secretKeyRef?: { name: string } } }) => e.valueFrom?.secretKeyRef?.name === `${server}-metrics`));
        }
    });

    it("Pulumi.prod.yaml: creates each server's monitoring user with the monitoring rights only", async () => {
        const find = prod;
        const role = find.one("postgresql:index/role:Role", "postgresql-lernmi-monitor");
        assert.deepStrictEqual(
            { name: role.inputs.name, login: role.inputs.login, roles: role.inputs.roles, connectionLimit: role.inputs.connectionLimit },
            { name: MONITOR_USER, login: true, roles: ["pg_monitor"], connectionLimit: POSTGRES_MONITOR_CONNECTIONS },
        );
        assert.ok(isSecretWrapper(role.rawInputs.password));
        // Not superuser, no database, no create role: the provider's defaults, untouched.
        for (const key of ["superuser", "createDatabase", "createRole", "replication", "bypassRowLevelSecurity"]) assert.ok(!role.inputs[key], key);
        const acl = find.one("pulumi-nodejs:dynamic/redis:AclUser", "redis-monitor");
        assert.strictEqual(acl.inputs.user, MONITOR_USER);
        assert.strictEqual(acl.inputs.monitor, true);
        assert.ok(isSecretWrapper(acl.rawInputs.password));
        // The exporter and the ACL user share one generated password.
        const exporterSecret = find.one(SECRET, "redis-metrics");
        assert.strictEqual(exporterSecret.inputs.stringData.REDIS_PASSWORD, acl.inputs.password);
    });

    it("admits the monitoring namespaces to the metrics port only, and tenants to the client port only", async () => {
        const find = prod;
        const policy = find.one(NETPOL, "redis-clients");
        assert.deepStrictEqual(ingressPorts(policy), [[6379], [6379], [9121]]);
        const scrape = policy.inputs.spec.ingress[2];
        assert.deepStrictEqual(scrape.from, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
    });

    it("PodMonitor per server: selects the server's pod, scrapes the named port, copies the engine's app label to `app`, carries the configured labels", async () => {
        const find = prod;
        const monitors = find.all(POD_MONITOR);
        assert.deepStrictEqual(monitors.map((m) => m.inputs.metadata.name).sort(), ["postgresql-beep-boop", "postgresql-digi-core", "postgresql-lernmi", "redis"]);
        const pg = find.one(POD_MONITOR, "postgresql-lernmi-metrics");
        assert.deepStrictEqual(pg.inputs.spec.selector.matchLabels, find.one(STS, "postgresql-lernmi").inputs.spec.template.metadata.labels);
        assert.strictEqual(pg.inputs.metadata.labels.release, "monitoring");
        assert.strictEqual(pg.inputs.metadata.namespace, "databases");
        const [endpoint] = pg.inputs.spec.podMetricsEndpoints;
        assert.strictEqual(endpoint.port, "metrics");
        assert.deepStrictEqual(endpoint.metricRelabelings, [{ sourceLabels: ["datname"], regex: "([a-z]([a-z0-9_]{0,38}[a-z0-9])?)", targetLabel: "app", replacement: "$1", action: "replace" }]);
        // Prometheus anchors the regex: the monitoring user's own series get no `app`.
        const anchored = new RegExp(`^${endpoint.metricRelabelings[0].regex}$`);
        assert.deepStrictEqual(["lernmi", "digi_core", MONITOR_USER, "unclassified_"].map((v) => anchored.test(v)), [true, true, false, false]);
        assert.deepStrictEqual(find.one(POD_MONITOR, "redis-metrics").inputs.spec.podMetricsEndpoints[0].metricRelabelings[0].sourceLabels, ["key_group"]);
        // Annotations are for the other mode only.
        assert.strictEqual(find.one(STS, "redis").inputs.spec.template.metadata.annotations["prometheus.io/scrape"], undefined);
    });

    it("the dashboard ships as a ConfigMap for Grafana's sidecar, the same JSON as in the repository", async () => {
        const find = prod;
        const map = find.one(CONFIG_MAP, "tenant-databases-dashboard");
        assert.strictEqual(map.inputs.metadata.namespace, "monitoring");
        assert.strictEqual(map.inputs.metadata.labels.grafana_dashboard, "1");
        assert.deepStrictEqual(JSON.parse(map.inputs.data[DASHBOARD_FILE]), tenantDatabasesDashboard());
    });

    it("every engine: an exporter where the engine needs one, Neo4j Enterprise's own endpoint, nothing for Qdrant and Neo4j Community", async () => {
        const find = finder((await runStackConfig(allEngines({ enabled: true, namespaces: ["prom"] }))).resources);
        const sidecars = Object.fromEntries(["postgresql", "mysql", "mongodb", "redis", "qdrant", "neo4j"].map((s) => [s, containers(find.one(STS, s)).slice(1).map((c) => c.name)]));
        assert.deepStrictEqual(sidecars, {
            postgresql: ["postgres-exporter"],
            mysql: ["mysqld-exporter"],
            mongodb: ["mongodb-exporter"],
            redis: ["redis-exporter"],
            qdrant: [],
            neo4j: [],
        });
        // Neo4j Enterprise: its endpoint on, bound to the pod's address, its port named for scraping.
        const neo4j = containers(find.one(STS, "neo4j"))[0];
        assert.ok(neo4j.ports.some((p: { name: string; containerPort: number }) => p.name === "metrics" && p.containerPort === 2004));
        const env = Object.fromEntries(neo4j.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
        assert.strictEqual(env.NEO4J_server_metrics_prometheus_enabled, "true");
        assert.strictEqual(env.NEO4J_server_metrics_prometheus_endpoint, "0.0.0.0:2004");
        assert.deepStrictEqual(ingressPorts(find.one(NETPOL, "neo4j-clients")).at(-1), [2004]);
        // Qdrant: not scraped, so no metrics port is opened.
        assert.deepStrictEqual(ingressPorts(find.one(NETPOL, "qdrant-clients")), [[6333]]);
        // Annotations mode (the default): the pods say where to scrape; no PodMonitor.
        const annotations = find.one(STS, "mysql").inputs.spec.template.metadata.annotations;
        assert.deepStrictEqual(
            { scrape: annotations["prometheus.io/scrape"], port: annotations["prometheus.io/port"], path: annotations["prometheus.io/path"] },
            { scrape: "true", port: "9104", path: "/metrics" },
        );
        assert.deepStrictEqual(find.all(POD_MONITOR), []);
        // The dashboard goes to the server namespace unless configured.
        assert.strictEqual(find.one(CONFIG_MAP, "tenant-databases-dashboard").inputs.metadata.namespace, "db");
        // Monitoring users: MySQL's grants and limit, MongoDB's role.
        for (const grant of MYSQL_MONITOR_GRANTS) {
            const suffix = grant.database === "*" ? "global" : grant.database.replace(/_/g, "-");
            const g = find.one("mysql:index/grant:Grant", `mysql-monitor-${suffix}`);
            assert.deepStrictEqual([g.inputs.user, g.inputs.database, g.inputs.table, g.inputs.privileges], [MONITOR_USER, grant.database, "*", grant.privileges]);
        }
        assert.strictEqual(find.one("pulumi-nodejs:dynamic/mysql:ConnectionLimit", "mysql-monitor-connection-limit").inputs.maxUserConnections, 3);
        const mongo = find.one("pulumi-nodejs:dynamic/mongodb:User", "mongodb-monitor");
        assert.deepStrictEqual([mongo.inputs.user, mongo.inputs.database, mongo.inputs.roles], [MONITOR_USER, "admin", [{ role: "clusterMonitor", db: "admin" }]]);
    });

    it("Neo4j Community is left unscraped rather than refused", async () => {
        const find = finder((await runStackConfig(allEngines({ enabled: true, namespaces: ["prom"] }, "community"))).resources);
        assert.deepStrictEqual(containers(find.one(STS, "neo4j-lernmi")).map((c) => c.name), ["neo4j"]);
        assert.strictEqual(find.one(STS, "neo4j-lernmi").inputs.spec.template.metadata.annotations["prometheus.io/scrape"], undefined);
    });

    it("the Redis monitoring user reads statistics and key sizes, never a value", () => {
        const rules = monitorAclRules();
        assert.deepStrictEqual(rules.slice(0, 4), ["resetkeys", "resetchannels", "%R~*", "-@all"]);
        const commands = rules.slice(4).map((r) => r.replace(/^\+/, ""));
        for (const forbidden of ["get", "dump", "hgetall", "keys", "slowlog", "client|list", "monitor", "config|set", "acl", "set", "del"]) {
            assert.ok(!commands.includes(forbidden), forbidden);
        }
    });

    it("capacity counts each exporter's resources with its server's", () => {
        const without = capacityOf(planTopology(parseStackConfig({ ...stackFileConfig("prod"), monitoring: undefined })));
        const withMetrics = capacityOf(planTopology(parseStackConfig(stackFileConfig("prod"))));
        const exporters = 4; // three dedicated PostgreSQL servers and the shared Redis
        assert.strictEqual(withMetrics.total.requests.memoryMi - without.total.requests.memoryMi, exporters * 32);
        assert.strictEqual(withMetrics.total.limits.cpuMillis - without.total.limits.cpuMillis, exporters * 200);
        assert.strictEqual(withMetrics.total.storageGi, without.total.storageGi);
        // The monitoring role's connections are kept for it in the budget.
        const pg = (c: typeof without) => c.servers.find((s) => s.name === "postgresql-lernmi")!.connections!.reserved;
        assert.strictEqual(pg(withMetrics) - pg(without), POSTGRES_MONITOR_CONNECTIONS);
    });

    it("refuses monitoring on Docker, without namespaces to scrape from, and PodMonitor labels without PodMonitors", () => {
        const problems = (raw: Record<string, unknown>) => {
            try {
                parseStackConfig(raw);
                return [];
            } catch (err) {
                if (err instanceof ConfigError) return err.problems;
                throw err;
            }
        };
        const base = { engines: { postgresql: {} }, apps: { lernmi: { postgresql: {} } } };
        assert.deepStrictEqual(problems({ ...base, target: "docker", monitoring: { enabled: true, namespaces: ["m"] } }), [
            "monitoring.enabled: only for target kubernetes (exporters run beside the servers in their pods); on docker, npm run usage reports each tenant's figures",
        ]);
        assert.match(problems({ ...base, target: "kubernetes", monitoring: { enabled: true } }).join("\n"), /^monitoring\.namespaces: list the namespaces Prometheus scrapes from/);
        assert.deepStrictEqual(problems({ ...base, target: "kubernetes", monitoring: { enabled: true, namespaces: ["m"], podMonitorLabels: { release: "x" } } }), [
            "monitoring.podMonitorLabels: only with podMonitor: true",
        ]);
        assert.deepStrictEqual(problems({ ...base, target: "kubernetes", monitoring: { enabled: false, podMonitorLabels: { release: "x" } } }), [
            "monitoring.podMonitorLabels: only with podMonitor: true",
        ]);
        // A tenant's namespace admitted to the metrics ports would see every tenant's figures.
        assert.deepStrictEqual(problems({ ...base, target: "kubernetes", monitoring: { enabled: true, namespaces: ["monitoring", "lernmi"] } }), [
            "monitoring.namespaces: lernmi is app lernmi's namespace; its pods would reach every server's metrics (every tenant's names and sizes), so list only the namespace Prometheus runs in",
        ]);
        assert.match(problems({ ...base, target: "kubernetes", monitoring: { enabled: true, namespaces: ["Mon"] } }).join("\n"), /monitoring\.namespaces\[0\]/);
        // Off is off: nothing else is checked or built.
        assert.deepStrictEqual(problems({ ...base, target: "docker", monitoring: { enabled: false } }), []);
    });

    it("a server component asked for metrics on a runtime without monitoring settings says what is missing", async () => {
        await assert.rejects(
            runProgram(
                () =>
                    new PostgresqlServer("postgresql", {
                        runtime: new KubernetesRuntime({ provider: new k8s.Provider("k8s", {}), namespace: "db" }),
                        version: "18",
                        storageGi: 1,
                        resources: { requests: { memory: "1Gi", cpu: "1" }, limits: { memory: "1Gi", cpu: "1" } },
                        tenants: [],
                        monitoring: true,
                    }),
            ),
            /KubernetesRuntime: server postgresql exports metrics, but the runtime has no monitoring settings/,
        );
    });
});
