// The backup and restore containers a whole Kubernetes stack renders (under mocks), taken as
// they are, to run on loopback against a test's own server: the container's script, and its
// variables with only what the cluster would provide swapped in (the Service's address for the
// test server's, the Secret's keys for the test server's values, the volume's path for a
// temporary directory).
import { kubernetesServiceHost } from "../../infra/kubernetes";
import { engineNamed } from "../../components/engines";
import { finder } from "./pulumi";
import { runStackConfig } from "./stacks";

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } };
type Container = { name: string; command: string[]; env: EnvVar[] };

/** One rendered container, runnable on loopback. */
export interface RenderedRun {
    /** The container's script, exactly as rendered. */
    script: string;
    /** Its variables on loopback: `secrets` holds the values of the server's admin Secret keys. */
    env(local: { port: number; secrets: Record<string, string>; backupDir: string }): Record<string, string>;
}

const NAMESPACE = "databases";

/**
 * Renders a Kubernetes stack where every app in `apps` has backups and a restore of `latest` on
 * the shared server of `engine` (with `engineSettings`), and returns each app's backup and
 * restore container.
 */
export async function renderedBackupJobs(engine: string, engineSettings: Record<string, unknown>, apps: Record<string, Record<string, unknown>>) {
    const run = await runStackConfig({
        target: "kubernetes",
        kubernetes: { namespace: NAMESPACE },
        engines: { [engine]: engineSettings },
        apps: Object.fromEntries(Object.entries(apps).map(([app, use]) => [app, { [engine]: { ...use, restore: { from: "latest" } } }])),
        backup: { destination: { volume: { sizeGi: 1 } } },
    });
    const find = finder(run.resources);
    const port = String(engineNamed(engine).defaults.port);
    const host = kubernetesServiceHost(engine, NAMESPACE);
    const runnable = (c: Container): RenderedRun => ({
        script: c.command[2],
        env: (local) =>
            Object.fromEntries(
                c.env.map((e) => {
                    if (e.valueFrom) {
                        const value = local.secrets[e.valueFrom.secretKeyRef.key];
                        if (value === undefined) throw new Error(`${c.name} reads ${e.name} from the Secret key ${e.valueFrom.secretKeyRef.key}, which the test server's environment does not have`);
                        return [e.name, value];
                    }
                    const value = e.name === "BACKUP_DIR" ? local.backupDir : e.value === host ? "127.0.0.1" : e.value === port ? String(local.port) : e.value!;
                    return [e.name, value];
                }),
            ),
    });
    const jobs: Record<string, { backup: RenderedRun; restore: RenderedRun }> = {};
    for (const app of Object.keys(apps)) {
        const container = (type: string, name: string) => find.one(type, `${app}-${engine}-backups-${name}`).inputs;
        jobs[app] = {
            backup: runnable(container("kubernetes:batch/v1:CronJob", "cronjob").spec.jobTemplate.spec.template.spec.containers[0]),
            restore: runnable(container("kubernetes:batch/v1:Job", "restore").spec.template.spec.containers[0]),
        };
    }
    return jobs;
}
