// The stack files' resources, compared with a snapshot: a refactor must change no URN and no
// input, or existing stacks would see a diff on their next `pulumi up`. A deliberate change
// re-records the snapshot with UPDATE_SNAPSHOTS=1 and shows up in review as a diff of it.
//
// One input is left out: a dynamic resource's `__provider`, the provider's serialized code. A
// new version of that code alone is no diff: Pulumi asks the provider's own `diff`, and ours
// compare only the resource's fields (@pulumi/pulumi cmd/dynamic-provider, diff()).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { stackNames } from "../stacks/files";
import { RecordedResource } from "./helpers/pulumi";
import { runStackFile } from "./helpers/stacks";

const DIR = path.join(__dirname, "snapshots");

/** What `pulumi up` compares: URN, inputs (secrets still marked), parent, provider, options, dependencies. */
function snapshotOf(resources: RecordedResource[]) {
    return resources
        .map((r) => ({
            urn: r.urn,
            custom: r.custom,
            parent: r.parent,
            provider: r.provider,
            protect: r.protect,
            retainOnDelete: r.retainOnDelete,
            dependencies: [...r.dependencies].sort(),
            inputs: withoutProviderCode(r.rawInputs),
        }))
        .sort((a, b) => a.urn.localeCompare(b.urn));
}

function withoutProviderCode(inputs: Record<string, unknown>): Record<string, unknown> {
    const { __provider, ...rest } = inputs;
    return __provider === undefined ? rest : { ...rest, __provider: "(dynamic provider code)" };
}

describe("stack files against their snapshot (no diff for existing stacks)", () => {
    for (const stack of stackNames()) {
        it(`Pulumi.${stack}.yaml registers exactly the recorded URNs and inputs`, async () => {
            const actual = JSON.parse(JSON.stringify(snapshotOf((await runStackFile(stack)).resources))) as ReturnType<typeof snapshotOf>;
            const file = path.join(DIR, `${stack}.json`);
            if (process.env.UPDATE_SNAPSHOTS === "1") fs.writeFileSync(file, JSON.stringify(actual, null, 1) + "\n");
            const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as typeof actual;
            const expected = recorded.map((r) => ({ ...r, inputs: withoutProviderCode(r.inputs) }));
            const urns = (s: typeof actual) => s.map((r) => r.urn);
            assert.deepStrictEqual(urns(actual), urns(expected), `URNs of Pulumi.${stack}.yaml`);
            for (let i = 0; i < actual.length; i++) assert.deepStrictEqual(actual[i], expected[i], `resource ${actual[i].urn}`);
        });
    }
});
