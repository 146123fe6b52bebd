// Isolation by default on Kubernetes: network policies admit only a server's tenants, pods follow
// the restricted profile, and every object the stacks register is valid against the Kubernetes
// schemas (kubernetes-models; field names are also checked by tsc against the provider's types).
import * as assert from "assert";
import { stackFileConfig, stackNames } from "../stacks/files";
import { RecordedResource, finder, runProgram } from "./helpers/pulumi";
import { runStackConfig, runStackFile } from "./helpers/stacks";
import { modelFor } from "./helpers/models";
import * as k8s from "@pulumi/kubernetes";
import { PostgresqlServer } from "../components/postgresql/postgresql";
import { KubernetesRuntime } from "../infra/kubernetes";

const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const STS = "kubernetes:apps/v1:StatefulSet";

/** The namespaces admitted to the server's client port. */
function admitted(policy: RecordedResource, clientPort?: number): string[] {
    // Namespaces only: the server's own backup Jobs are admitted by pod label (tests/backup-jobs.test.ts);
    // the monitoring namespaces to the metrics port only (tests/monitoring.test.ts).
    const rules = policy.inputs.spec.ingress.filter((rule: { ports: { port: number }[] }) => clientPort === undefined || rule.ports.some((p) => p.port === clientPort));
    return rules.flatMap((rule: { from: { namespaceSelector?: { matchLabels: Record<string, string> } }[] }) =>
        rule.from.flatMap((f) => (f.namespaceSelector ? [f.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]] : [])),
    );
}

describe("isolation and manifests", () => {
    it("denies all ingress into the server namespace unless a server's policy admits it", async () => {
        const find = finder((await runStackFile("staging")).resources);
        const deny = find.one(NETPOL, "tenant-databases-default-deny");
        assert.deepStrictEqual(deny.inputs.metadata.namespace, "databases-staging");
        assert.deepStrictEqual(deny.inputs.spec, { podSelector: {}, policyTypes: ["Ingress"], ingress: [] });
    });

    it("admits to a shared server only its tenants' namespaces, on its port, for its pods", async () => {
        const find = finder((await runStackFile("staging")).resources);
        const policy = find.one(NETPOL, "redis-clients");
        assert.deepStrictEqual(admitted(policy), ["beep-boop", "digi-core", "lernmi"]);
        assert.deepStrictEqual(policy.inputs.spec.ingress[0].ports, [{ protocol: "TCP", port: 6379 }]);
        assert.deepStrictEqual(policy.inputs.spec.podSelector.matchLabels, find.one(STS, "redis").inputs.spec.template.metadata.labels);
    });

    it("admits to a dedicated server only its one app, plus the configured admin namespaces", async () => {
        const find = finder((await runStackFile("prod")).resources);
        assert.deepStrictEqual(admitted(find.one(NETPOL, "postgresql-lernmi-clients"), 5432), ["lernmi"]);
        assert.deepStrictEqual(admitted(find.one(NETPOL, "postgresql-digi-core-clients"), 5432), ["digi-core"]);

        const withAdmin = finder(
            (
                await runStackConfig({
                    target: "kubernetes",
                    kubernetes: { namespace: "db", adminNamespaces: ["pulumi-operator"] },
                    engines: { postgresql: { placement: "dedicated" } },
                    apps: { lernmi: { namespace: "learning", postgresql: {} } },
                })
            ).resources,
        );
        assert.deepStrictEqual(admitted(withAdmin.one(NETPOL, "postgresql-lernmi-clients")), ["learning", "pulumi-operator"]);
    });

    it("admits nobody to a server without tenants (an empty `from` would admit everyone)", async () => {
        const run = await runProgram(
            () =>
                new PostgresqlServer("postgresql", {
                    runtime: new KubernetesRuntime({ provider: new k8s.Provider("k8s", {}), namespace: "db" }),
                    version: "18",
                    storageGi: 1,
                    resources: { requests: { memory: "1Gi", cpu: "1" }, limits: { memory: "1Gi", cpu: "1" } },
                    tenants: [],
                }),
        );
        assert.deepStrictEqual(finder(run.resources).one(NETPOL, "postgresql-clients").inputs.spec.ingress, []);
    });

    it("labels the server namespace for the restricted Pod Security profile", async () => {
        const ns = finder((await runStackFile("staging")).resources).one("kubernetes:core/v1:Namespace", "tenant-databases-namespace");
        assert.strictEqual(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
    });

    for (const stack of stackNames().filter((s) => stackFileConfig(s).target === "kubernetes")) {
        it(`every Kubernetes object of Pulumi.${stack}.yaml is valid against the Kubernetes schemas`, async () => {
            const objects = (await runStackFile(stack)).resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
            assert.ok(objects.length > 10);
            for (const r of objects) {
                const { apiVersion, kind } = r.inputs;
                assert.ok(apiVersion && kind, `${r.type} ${r.name} carries apiVersion and kind`);
                const Model = await modelFor(apiVersion, kind);
                assert.ok(Model, `kubernetes-models knows ${apiVersion} ${kind}`);
                assert.doesNotThrow(() => new Model(r.inputs).validate(), `${kind} ${r.inputs.metadata.name}`);
                assert.match(r.inputs.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${kind} name is a DNS label`);
                assert.ok(r.inputs.metadata.name.length <= 63);
            }
        });
    }

    it("every Kubernetes object of a stack in the middle of moves (long app names, both directions, with backups) is valid, its names DNS labels", async () => {
        const long = "a_very_long_application_name_that_moves"; // 39 characters
        const mysqlApp = "a_mysql_app_name_of_32_characte"; // MySQL's limit
        const { resources } = await runStackConfig({
            target: "kubernetes",
            backup: { destination: { volume: { sizeGi: 5 } } },
            engines: { postgresql: {}, mysql: {}, redis: {} },
            apps: {
                [long]: { postgresql: { placement: "dedicated", moveFrom: "shared" }, redis: { db: 1, placement: "shared", moveFrom: "dedicated" } },
                [mysqlApp]: { mysql: { placement: "dedicated", moveFrom: "shared" } },
                other: { postgresql: {}, mysql: {}, redis: { db: 2 } },
            },
        });
        const objects = resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        assert.strictEqual(objects.filter((r) => r.inputs.kind === "Job").length, 3, "a copy Job per move");
        for (const r of objects) {
            const Model = await modelFor(r.inputs.apiVersion, r.inputs.kind);
            assert.doesNotThrow(() => new Model(r.inputs).validate(), `${r.inputs.kind} ${r.inputs.metadata.name}`);
            assert.match(r.inputs.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${r.inputs.kind} name is a DNS label`);
            assert.ok(r.inputs.metadata.name.length <= 63, r.inputs.metadata.name);
            for (const [key, value] of Object.entries((r.inputs.spec?.template?.metadata?.labels ?? {}) as Record<string, string>)) {
                assert.ok(value.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value), `label ${key}=${value} of ${r.inputs.metadata.name}`);
            }
        }
    });

    it("the schema validation catches a malformed object", async () => {
        const Model = await modelFor("apps/v1", "StatefulSet");
        assert.throws(() => new Model({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "x" }, spec: { replicas: "one", selector: {}, template: {} } }).validate(), /replicas/);
    });
});
