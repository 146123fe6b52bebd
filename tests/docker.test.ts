// The Docker target under mocks: Pulumi.dev.yaml (shared) and a dedicated config, run whole.
import * as assert from "assert";
import { stackFileConfig } from "../stacks/files";
import { MockRun, RecordedResource, finder, valueOf } from "./helpers/pulumi";
import { runStackConfig, runStackFile } from "./helpers/stacks";
import { StackOutputs } from "../stacks/program";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const NETWORK = "docker:index/network:Network";

const dedicated = {
    target: "docker",
    placement: "dedicated",
    engines: { postgresql: {}, redis: {} },
    apps: {
        digi_core: { postgresql: { hostPort: 25432 }, redis: {} },
        lernmi: { postgresql: {}, redis: {} },
    },
};

function env(container: RecordedResource): Record<string, string> {
    return Object.fromEntries((container.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

describe("Docker target", () => {
    let dev: MockRun<StackOutputs>;
    let ded: MockRun<StackOutputs>;
    before(async () => {
        dev = await runStackFile("dev");
        ded = await runStackConfig(dedicated, "dev");
    });

    it("Pulumi.dev.yaml: one container per engine on one network, nothing on Kubernetes", () => {
        const find = finder(dev.resources);
        assert.deepStrictEqual(find.all(CONTAINER).map((c) => c.inputs.name).sort(), ["tenant-databases-dev-postgresql", "tenant-databases-dev-redis"]);
        assert.deepStrictEqual(find.all(NETWORK).map((n) => n.inputs.name), ["tenant-databases-dev"]);
        assert.deepStrictEqual(dev.resources.filter((r) => r.type.startsWith("kubernetes:")), []);
        for (const c of find.all(CONTAINER)) {
            assert.deepStrictEqual(c.inputs.networksAdvanced, [{ name: "tenant-databases-dev", aliases: [c.name] }]);
        }
    });

    it("mounts a named volume, kept on delete, at each image's data path", () => {
        const find = finder(dev.resources);
        const paths: Record<string, string> = { postgresql: "/var/lib/postgresql", redis: "/data" };
        for (const [server, path] of Object.entries(paths)) {
            const volume = find.one(VOLUME, `${server}-data`);
            assert.strictEqual(volume.inputs.name, `tenant-databases-dev-${server}-data`);
            assert.ok(volume.retainOnDelete, "the volume outlives its removal");
            const container = find.one(CONTAINER, server);
            assert.deepStrictEqual(container.inputs.volumes, [{ volumeName: volume.inputs.name, containerPath: path }]);
            assert.strictEqual(container.inputs.removeVolumes, false);
        }
    });

    it("publishes ports on 127.0.0.1 only, at the configured host ports", () => {
        const find = finder(dev.resources);
        assert.deepStrictEqual(find.one(CONTAINER, "postgresql").inputs.ports, [{ internal: 5432, external: 15432, ip: "127.0.0.1", protocol: "tcp" }]);
        assert.deepStrictEqual(find.one(CONTAINER, "redis").inputs.ports, [{ internal: 6379, external: 16379, ip: "127.0.0.1", protocol: "tcp" }]);
        for (const r of [...dev.resources, ...ded.resources].filter((r) => r.type === CONTAINER)) {
            for (const p of r.inputs.ports) assert.strictEqual(p.ip, "127.0.0.1", `${r.inputs.name} publishes on loopback only`);
        }
    });

    it("waits for a healthcheck that probes over TCP, and restarts unless stopped", () => {
        const find = finder(dev.resources);
        const pg = find.one(CONTAINER, "postgresql").inputs;
        assert.deepStrictEqual(pg.healthcheck.tests, ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]);
        const redis = find.one(CONTAINER, "redis").inputs;
        assert.deepStrictEqual(redis.healthcheck.tests[0], "CMD");
        assert.match(redis.healthcheck.tests.join(" "), /redis-cli -h 127\.0\.0\.1 -p 6379 --user admin ping/);
        for (const c of [pg, redis]) {
            assert.strictEqual(c.wait, true);
            assert.strictEqual(c.restart, "unless-stopped");
            assert.strictEqual(c.user, "999:999");
            assert.deepStrictEqual(c.capabilities, { drops: ["ALL"] });
            assert.deepStrictEqual(c.securityOpts, ["no-new-privileges:true"]);
        }
        assert.deepStrictEqual([pg.memory, pg.memoryReservation, pg.cpus], [512, 256, "0.5"]);
    });

    it("runs the official images by pinned tag, kept locally on destroy", () => {
        const images = finder(dev.resources).all(IMAGE);
        assert.deepStrictEqual(images.map((i) => i.inputs.name).sort(), ["postgres:18", "redis:7.4"]);
        for (const i of images) assert.strictEqual(i.inputs.keepLocally, true);
    });

    it("keeps secrets in the container's environment and uploads as Pulumi secrets", () => {
        const find = finder(dev.resources);
        const pg = find.one(CONTAINER, "postgresql");
        assert.ok(pg.rawInputs.envs && !(Array.isArray(pg.rawInputs.envs)), "envs is one secret value");
        assert.deepStrictEqual(Object.keys(env(pg)).sort(), ["POSTGRES_PASSWORD", "POSTGRES_USER"]);
        const redis = find.one(CONTAINER, "redis");
        assert.deepStrictEqual(redis.inputs.uploads.map((u: { file: string }) => u.file), ["/etc/redis/bootstrap/users.acl"]);
    });

    it("gives apps loopback addresses and manages tenancy through them", async () => {
        const apps = await valueOf(dev.result.apps);
        assert.deepStrictEqual([apps.lernmi.postgresql?.host, apps.lernmi.postgresql?.port], ["127.0.0.1", 15432]);
        assert.deepStrictEqual([apps.lernmi.redis?.host, apps.lernmi.redis?.port, apps.lernmi.redis?.db], ["127.0.0.1", 16379, 1]);
        assert.strictEqual(apps.lernmi.postgresql?.url, `postgresql://lernmi:${apps.lernmi.postgresql?.password}@127.0.0.1:15432/lernmi`);
    });

    it("dedicated: one container per engine and app, Docker-chosen ports unless fixed", async () => {
        const find = finder(ded.resources);
        assert.deepStrictEqual(
            find.all(CONTAINER).map((c) => c.inputs.name).sort(),
            [
                "tenant-databases-dev-postgresql-digi-core",
                "tenant-databases-dev-postgresql-lernmi",
                "tenant-databases-dev-redis-digi-core",
                "tenant-databases-dev-redis-lernmi",
            ],
        );
        assert.strictEqual(find.one(CONTAINER, "postgresql-digi-core").inputs.ports[0].external, 25432);
        assert.strictEqual(find.one(CONTAINER, "postgresql-lernmi").inputs.ports[0].external, undefined);
        const servers = await valueOf(ded.result.servers);
        const lernmi = servers.find((s) => s.name === "postgresql-lernmi")!;
        assert.ok(lernmi.port > 1024 && lernmi.port !== 5432, "the published port Docker chose");
        const provider = find.one("pulumi:providers:postgresql", "postgresql-lernmi-admin");
        assert.deepStrictEqual([provider.inputs.host, provider.inputs.port], ["127.0.0.1", String(lernmi.port)]);
        const apps = await valueOf(ded.result.apps);
        assert.strictEqual(apps.lernmi.postgresql?.port, lernmi.port);
        assert.strictEqual(apps.lernmi.redis?.db, 0);
    });

    it("a change of tenancy never replaces a server container, its volume or its image", async () => {
        const serverInputs = (run: MockRun<StackOutputs>) =>
            new Map(run.resources.filter((r) => [CONTAINER, VOLUME, IMAGE, NETWORK].includes(r.type)).map((r) => [r.urn, r.inputs]));
        const before = serverInputs(dev);
        const config = stackFileConfig("dev") as { apps: Record<string, any> };
        const changed = structuredClone(config);
        changed.apps.new_app = { postgresql: {}, redis: { db: 5 } }; // added
        delete changed.apps.beep_boop; // removed
        changed.apps.lernmi.postgresql.connectionLimit = 30; // changed
        changed.apps.digi_core.redis.db = 7; // moved (the operator's decision)
        const after = serverInputs(await runStackConfig(changed, "dev"));
        assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort());
        for (const [urn, inputs] of after) assert.deepStrictEqual(inputs, before.get(urn), urn);
    });
});
