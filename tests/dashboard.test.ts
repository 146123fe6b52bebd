// The Grafana dashboard: the committed JSON is what the code generates, every panel is complete,
// and every PromQL expression is well-bracketed and names only metrics that the exporters or
// kube-state-metrics emit, so a typo in a metric name fails here instead of showing "No data".
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { DASHBOARD_FILE, dashboardJson, tenantDatabasesDashboard } from "../components/dashboard";

const COMMITTED = path.resolve(__dirname, "..", "dashboards", DASHBOARD_FILE);

/**
 * The metric names the dashboard may use, by source, as the exporters' code and documentation
 * name them (the images pinned in components/<engine>/<engine>-metrics.ts). Written apart from the
 * dashboard, on purpose: the same typo in both places is what it would take to miss one.
 */
const KNOWN_METRICS: Record<string, readonly string[]> = {
    prometheus: ["up"],
    // postgres_exporter, default collectors.
    postgres_exporter: ["pg_up", "pg_database_size_bytes", "pg_database_connection_limit", "pg_stat_database_numbackends", "pg_settings_max_connections"],
    // mysqld_exporter with --collect.info_schema.tables and --collect.info_schema.processlist.
    mysqld_exporter: [
        "mysql_up",
        "mysql_info_schema_table_size",
        "mysql_info_schema_table_rows",
        "mysql_info_schema_processlist_processes_by_user",
        "mysql_global_status_threads_connected",
        "mysql_global_variables_max_connections",
    ],
    // percona mongodb_exporter with --collector.dbstats (one metric per numeric field of dbStats and serverStatus).
    mongodb_exporter: ["mongodb_up", "mongodb_dbstats_dataSize", "mongodb_dbstats_storageSize", "mongodb_dbstats_indexSize", "mongodb_ss_connections"],
    // redis_exporter with --check-key-groups.
    redis_exporter: [
        "redis_up",
        "redis_key_group_count",
        "redis_key_group_memory_usage_bytes",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_connected_clients",
        "redis_config_maxclients",
    ],
    // Neo4j Enterprise's own endpoint: global metrics (per-database ones are in NAME_PATTERNS).
    neo4j: ["neo4j_dbms_bolt_connections_running", "neo4j_dbms_bolt_connections_idle"],
    "kube-state-metrics": [
        "kube_cronjob_status_last_successful_time",
        "kube_cronjob_status_last_schedule_time",
        "kube_cronjob_status_active",
        "kube_cronjob_created",
        "kube_job_status_failed",
        "kube_job_owner",
    ],
};
const KNOWN = new Set(Object.values(KNOWN_METRICS).flat());

/**
 * Metric families named by a `__name__` regex: Neo4j writes the database into the name. A
 * matcher's value, with its parenthesised part (the database) read as `.+`, must be one of these.
 */
const NAME_PATTERNS = new Set(["neo4j_database_.+_store_size_total"]);

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"]);
const GRAFANA_BUILTINS = new Set(["__all", "__rate_interval", "__interval", "__range"]);

/** Why the brackets of `expr` do not balance (string literals aside), or undefined. */
function bracketProblem(expr: string): string | undefined {
    const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    const stack: string[] = [];
    for (let i = 0; i < expr.length; i++) {
        const c = expr[i];
        if (c === '"') {
            const end = expr.indexOf('"', i + 1);
            if (end < 0) return `unterminated string at ${i}`;
            i = end;
        } else if ("([{".includes(c)) {
            stack.push(c);
        } else if (c in closing) {
            if (stack.pop() !== closing[c]) return `unexpected ${c} at ${i}`;
        }
    }
    return stack.length ? `unclosed ${stack.join("")}` : undefined;
}

/** The metric names and `__name__` regexes an expression selects. */
function metricsOf(expr: string): { names: string[]; namePatterns: string[] } {
    const namePatterns = [...expr.matchAll(/__name__\s*(?:=~|!~|!=|=)\s*"([^"]*)"/g)].map((m) => m[1]);
    const rest = expr
        .replace(/"[^"]*"/g, '""') // strings (label values, label_replace arguments)
        .replace(/\{[^{}]*\}/g, " ") // label matchers
        .replace(/\[[^\]]*\]/g, " ") // ranges
        .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
    const names: string[] = [];
    for (const m of rest.matchAll(/(?<![\w.:])[A-Za-z_:][\w:]*/g)) {
        const followedBy = rest.slice(m.index! + m[0].length).trimStart();
        if (followedBy.startsWith("(") || KEYWORDS.has(m[0].toLowerCase())) continue; // a function or aggregation; an operator
        names.push(m[0]);
    }
    return { names, namePatterns };
}

/** What is wrong with the metrics of `expr`: unknown names, unknown name patterns. */
function metricProblems(expr: string): string[] {
    const { names, namePatterns } = metricsOf(expr);
    return [
        ...names.filter((n) => !KNOWN.has(n)).map((n) => `unknown metric ${n}`),
        ...namePatterns.filter((p) => !NAME_PATTERNS.has(p.replace(/\(.*\)/, ".+"))).map((p) => `unknown __name__ pattern ${p}`),
    ];
}

type Json = Record<string, any>;
const dashboard = tenantDatabasesDashboard() as Json;
const panels: Json[] = dashboard.panels;
const variables: Json[] = dashboard.templating.list;
const queryPanels = panels.filter((p) => p.type !== "row" && p.type !== "text");

/** Every PromQL expression: the panels' targets, and the query variables' series inside label_values() or query_result(). */
function expressions(): { where: string; expr: string }[] {
    const fromPanels = queryPanels.flatMap((p) => (p.targets as Json[]).map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr as string })));
    const fromVariables = variables
        .filter((v) => v.type === "query")
        .map((v) => {
            const query = v.query as string;
            const inner = /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? /^query_result\((.*)\)$/.exec(query)?.[1];
            assert.ok(inner !== undefined, `variable ${v.name}: ${query} is neither label_values(<series>, <label>) nor query_result(<expr>)`);
            return { where: `variable ${v.name}`, expr: inner };
        });
    return [...fromPanels, ...fromVariables];
}

describe("Grafana dashboard", () => {
    it("is committed as generated: dashboards/tenant-databases.json equals the code's JSON byte for byte", () => {
        const committed = fs.existsSync(COMMITTED) ? fs.readFileSync(COMMITTED, "utf8") : "(missing)";
        assert.ok(
            committed === dashboardJson(),
            `dashboards/${DASHBOARD_FILE} differs from what components/dashboard.ts generates: run \`npm run dashboard\` and commit the file`,
        );
        assert.ok(committed.endsWith("}\n") && committed.startsWith('{\n  "'), "2-space indented JSON with a final newline");
    });

    it("identifies itself and offers the data source, namespace, server and app variables", () => {
        assert.strictEqual(dashboard.uid, "tenant-databases");
        assert.strictEqual(dashboard.title, "Tenant databases");
        assert.strictEqual(dashboard.schemaVersion, 39);
        assert.ok(Array.isArray(dashboard.tags) && dashboard.tags.length > 0);
        assert.deepStrictEqual(dashboard.time, { from: "now-6h", to: "now" });
        assert.deepStrictEqual(
            variables.map((v) => v.name),
            ["datasource", "namespace", "server", "app"],
        );
        const [datasource, namespace, server, app] = variables;
        assert.deepStrictEqual([datasource.type, datasource.query], ["datasource", "prometheus"]);
        assert.match(namespace.query, /^label_values\(up\b.*, namespace\)$/);
        assert.match(server.query, /, pod\)$/);
        assert.ok(app.multi && app.includeAll, "app: several apps at once, and All");
        for (const v of variables.slice(1)) assert.deepStrictEqual(v.datasource, { type: "prometheus", uid: "${datasource}" }, v.name);
        assert.deepStrictEqual(tenantDatabasesDashboard(), dashboard, "the same model on every call");
    });

    it("gives every panel a unique id and a place on the grid, no two overlapping", () => {
        const ids = panels.map((p) => p.id);
        assert.strictEqual(new Set(ids).size, ids.length, `duplicate ids: ${ids}`);
        const taken = new Set<string>();
        for (const p of panels) {
            const g = p.gridPos;
            assert.ok(g && [g.x, g.y, g.w, g.h].every(Number.isInteger) && g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24, `panel ${p.id}: gridPos ${JSON.stringify(g)}`);
            for (let x = g.x; x < g.x + g.w; x++) {
                for (let y = g.y; y < g.y + g.h; y++) {
                    assert.ok(!taken.has(`${x},${y}`), `panel ${p.id} "${p.title}" overlaps another at ${x},${y}`);
                    taken.add(`${x},${y}`);
                }
            }
        }
    });

    it("queries the chosen data source from every panel, each target with an expression; describes every panel", () => {
        assert.ok(queryPanels.length > 10);
        for (const p of panels.filter((p) => p.type !== "row")) {
            assert.ok(typeof p.title === "string" && p.title.length > 0, `panel ${p.id}: a title`);
        }
        for (const p of queryPanels) {
            const where = `panel ${p.id} "${p.title}"`;
            assert.deepStrictEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, where);
            assert.ok(typeof p.description === "string" && p.description.length > 40, `${where}: a description of the figure and its source`);
            assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${where}: targets`);
            const refIds = p.targets.map((t: Json) => t.refId);
            assert.strictEqual(new Set(refIds).size, refIds.length, `${where}: refIds ${refIds}`);
            for (const t of p.targets as Json[]) {
                assert.ok(typeof t.expr === "string" && t.expr.trim().length > 0, `${where} ${t.refId}: expr`);
                assert.deepStrictEqual(t.datasource, p.datasource, `${where} ${t.refId}: datasource`);
            }
            assert.ok(typeof p.fieldConfig?.defaults?.unit === "string", `${where}: a unit`);
        }
        for (const p of panels.filter((p) => p.type === "text")) assert.ok(p.options?.content?.length > 40, `panel ${p.id}: text`);
    });

    it("uses bytes for sizes and memory, short for counts", () => {
        const unitOf = (title: RegExp) => queryPanels.filter((p) => title.test(p.title)).map((p) => p.fieldConfig.defaults.unit);
        assert.deepStrictEqual([...new Set(unitOf(/size|memory per|memory used and/i))], ["bytes"]);
        assert.deepStrictEqual([...new Set(unitOf(/connections|clients|keys per/i).filter((u) => u !== "percentunit"))], ["short"]);
        const heaviest = queryPanels.find((p) => p.title === "Heaviest tenants")!;
        assert.ok(JSON.stringify(heaviest.fieldConfig).includes('"bytes"'));
    });

    it("writes well-bracketed PromQL that names only metrics the exporters and kube-state-metrics emit", () => {
        const all = expressions();
        assert.ok(all.length > 20);
        const problems = all.flatMap(({ where, expr }) => [bracketProblem(expr), ...metricProblems(expr)].filter((p) => p !== undefined).map((p) => `${where}: ${p}`));
        assert.deepStrictEqual(problems, []);
    });

    it("uses only the dashboard's variables and Grafana's own", () => {
        const defined = new Set(variables.map((v) => v.name));
        for (const { where, expr } of expressions()) {
            for (const m of expr.matchAll(/\$\{?(\w+)/g)) {
                if (/^\d+$/.test(m[1])) continue; // label_replace's $1
                assert.ok(defined.has(m[1]) || GRAFANA_BUILTINS.has(m[1]), `${where}: unknown variable $${m[1]}`);
            }
        }
    });

    it("filters every per-tenant figure on the engine's own label and labels it app", () => {
        for (const p of queryPanels.filter((p) => /per tenant|Heaviest/.test(p.title))) {
            for (const t of p.targets as Json[]) {
                assert.match(t.expr, /(datname|schema|mysql_user|database|key_group|__name__)=~"[^"]*\$app/, `panel "${p.title}": filtered by $app`);
                assert.match(t.expr, /label_replace\(.*"app", "\$1"/, `panel "${p.title}": labelled app`);
            }
        }
    });

    it("shows backup age oldest first with the 26 h and 50 h thresholds", () => {
        const age = queryPanels.find((p) => /backup/i.test(p.title) && p.targets[0].expr.includes("kube_cronjob_status_last_successful_time"))!;
        assert.ok(age, "a backup age panel");
        assert.match(age.targets[0].expr, /^time\(\) - /);
        assert.deepStrictEqual(age.options.sortBy, [{ displayName: age.options.sortBy[0].displayName, desc: true }]);
        const steps = JSON.stringify(age.fieldConfig);
        assert.ok(steps.includes('"value":93600') && steps.includes('"value":180000'), steps);
    });

    it("catches what it is meant to catch (the checks themselves)", () => {
        assert.deepStrictEqual(metricProblems('sum by (pod) (pg_databse_size_bytes{datname=~"$app"})'), ["unknown metric pg_databse_size_bytes"]);
        assert.deepStrictEqual(metricProblems('label_replace({__name__=~"neo4j_database_(a)_store_size_totl"}, "app", "$1", "__name__", "(.+)")'), [
            "unknown __name__ pattern neo4j_database_(a)_store_size_totl",
        ]);
        assert.deepStrictEqual(metricProblems('time() - max by (cronjob) (kube_cronjob_created{x="1e3"}) > 1e3 and on (pod) up[5m]'), []);
        assert.strictEqual(bracketProblem('sum(rate(up{a="("}[5m])'), "unclosed (");
        assert.strictEqual(bracketProblem("sum(up{a=\"b\"}))"), "unexpected ) at 14");
        assert.strictEqual(bracketProblem('max(up{a="}"})'), undefined);
    });
});
