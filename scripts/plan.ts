// Validates a stack file and prints what it would create, without the Pulumi CLI or a cluster:
// the servers, the tenants on each, what each app receives (key names, never values) and the
// capacity. Loads no Pulumi module.
//
//   npm run plan -- <stack>          reads Pulumi.<stack>.yaml of this repo
//   npm run plan -- <file.yaml>      reads any stack file
import { backupsOf } from "../stacks/backups";
import { capacityOf } from "../stacks/capacity";
import { ConfigError, parseStackConfig } from "../stacks/config";
import { planTopology } from "../stacks/plan";
import { StackFileError, readStackFile, stackFileConfig } from "../stacks/files";
import { appSecretName } from "../infra/naming";
import { engineNamed } from "../components/engines";
import { environmentKeys } from "../components/environment";
import { MONITOR_USER } from "../infra/metrics";

/** Prints the plan of a stack (name or file) on the console; returns the exit code. */
export function main(stack: string | undefined): number {
    if (!stack) {
        console.error("usage: npm run plan -- <stack>|<file.yaml>   (a stack name reads Pulumi.<stack>.yaml)");
        return 2;
    }
    const file = /\.ya?ml$/.test(stack) ? stack : `Pulumi.${stack}.yaml`;
    let config;
    try {
        config = parseStackConfig(file === stack ? readStackFile(file) : stackFileConfig(stack));
    } catch (err) {
        if (err instanceof ConfigError) {
            console.error(`${file}: ${err.message}`);
            return 1;
        }
        if (err instanceof StackFileError) {
            console.error(err.message);
            return 1;
        }
        throw err;
    }
    const topology = planTopology(config);
    const where = config.target === "kubernetes" ? `Kubernetes namespace ${config.kubernetes.namespace}` : "the local Docker engine, ports on 127.0.0.1";
    console.log(`Stack ${stack}: servers on ${where}${config.protect ? ", data protected" : ""}\n`);
    console.log("Servers:");
    const imageWidth = Math.max(...topology.servers.map((s) => s.settings.image.length), 5);
    for (const s of topology.servers) {
        const engine = engineNamed(s.engine);
        // A move shows on both servers: the old copy kept, the new one filled from it.
        const moving = (t: (typeof s.tenants)[number]) => (t.retired ? " (moving away: old copy kept)" : t.moveFrom ? ` (moving in from ${t.moveFrom.server})` : "");
        const tenants = s.tenants.map((t) => (engine.describeTenant?.(t) ?? t.app) + moving(t)).join(", ");
        const port = config.target === "docker" ? `  port ${s.hostPort ?? "chosen by Docker"}` : "";
        console.log(`  ${s.name.padEnd(28)} ${s.placement.padEnd(9)} ${s.settings.image.padEnd(imageWidth)} ${String(s.settings.storageGi).padStart(4)}Gi  ${tenants}${port}`);
    }
    const delivery = config.target === "kubernetes" ? "a Secret in its namespace" : "`npm run -s env -- <app>` prints them as .env";
    console.log(`\nWhat each app receives (${delivery}; all credentials are in the secret stack output \`apps\`):`);
    for (const app of Object.values(config.apps)) {
        const keys = environmentKeys(Object.keys(app.uses)).join(" ");
        console.log(config.target === "kubernetes" ? `  ${app.name}: Secret ${app.namespace}/${appSecretName(app.name)}: ${keys}` : `  ${app.name}: ${keys}`);
    }
    const backups = backupsOf(config, topology);
    if (Object.keys(backups).length > 0) {
        console.log("\nBackups (UTC):");
        for (const [app, byEngine] of Object.entries(backups)) {
            for (const [engine, b] of Object.entries(byEngine)) {
                const restore = b.restore ? `  restore ${b.restore.from}${b.restore.replace ? " (replace)" : ""}` : "";
                console.log(`  ${app.padEnd(20)} ${engine.padEnd(11)} ${(b.schedule ?? "on demand").padEnd(14)} keep ${String(b.keep).padEnd(4)} ${b.destination}${restore}`);
            }
        }
    }
    if (config.monitoring !== undefined) {
        const how = config.monitoring.podMonitor ? "PodMonitor" : "prometheus.io annotations";
        console.log(`\nMetrics (${how}; scraped from namespaces ${config.monitoring.namespaces.join(", ")}; dashboard ConfigMap in ${config.monitoring.dashboardNamespace}):`);
        for (const s of topology.servers) {
            const source = engineNamed(s.engine).metricsSource(s.settings.options);
            const what = typeof source !== "string" ? `not scraped: ${source.none}` : source === "exporter" ? `exporter sidecar, logged in as ${MONITOR_USER}` : "the engine's own endpoint";
            console.log(`  ${s.name.padEnd(28)} ${what}`);
        }
    }
    const { total, engines, servers } = capacityOf(topology);
    console.log("\nServer settings (derived from each server's memory limit; engines.<engine> keys override):");
    for (const s of servers) {
        const settings = Object.entries(s.settings).map(([k, v]) => `${k}=${v}`);
        const budget = s.connections ? [`connections: tenants ${s.connections.tenants} + admin ${s.connections.reserved} of ${s.connections.max}`] : [];
        if (settings.length + budget.length > 0) console.log(`  ${s.name.padEnd(28)} ${[...settings, ...budget].join("  ")}`);
    }
    console.log("\nCapacity (requests / limits / storage):");
    for (const [engine, f] of [...Object.entries(engines), ["total", total] as const]) {
        console.log(
            `  ${engine.padEnd(11)} ${String(f.servers).padStart(3)} servers  ${f.requests.memoryMi}Mi ${f.requests.cpuMillis}m / ${f.limits.memoryMi}Mi ${f.limits.cpuMillis}m / ${f.storageGi}Gi`,
        );
    }
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv[2]);
