// Tenancies are named `<server>/<app>` (infra/naming.ts tenancyName) since an app can have a
// tenancy on two servers of an engine during a move; before, they were `<app>-<engine>`. Existing
// stacks keep every tenancy's state through aliases. Run with the SDK resolving every alias to a
// URN itself, children's inherited ones included (runProgram's aliasUrns):
// - every URN the stack files registered before the rename (the fixture) is claimed, by URN or by
//   alias, by exactly one resource now, so `pulumi up` updates in place and creates or deletes
//   nothing (that their inputs are equal was checked once when the rename landed; the snapshot
//   test guards them since);
// - no URN is claimed twice, also during moves, where an app has two tenancies of one engine.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { stackFileConfig, stackNames } from "../stacks/files";
import { loadStackConfig, runStack } from "../stacks/program";
import { RecordedResource, runProgram } from "./helpers/pulumi";

const BEFORE = JSON.parse(fs.readFileSync(path.join(__dirname, "snapshots", "urns-before-tenancy-names.json"), "utf8")) as Record<string, string[]>;

/**
 * The mocks build a URN from the parent's last type only; the SDK resolves an alias with the
 * parent's whole type chain. The last two types and the name identify a resource in both.
 */
function key(urn: string): string {
    const [, , types, name] = urn.split("::");
    return `${types.split("$").slice(-2).join("$")}::${name}`;
}

/** Which resource answers to each URN, by URN or alias; fails when two answer to one. */
function claims(resources: RecordedResource[]): Map<string, string> {
    const claimed = new Map<string, string>();
    for (const r of resources) {
        for (const urn of [r.urn, ...r.aliases]) {
            const other = claimed.get(key(urn));
            assert.ok(other === undefined || other === r.urn, `${urn} is claimed by ${other} and by ${r.urn}`);
            claimed.set(key(urn), r.urn);
        }
    }
    return claimed;
}

function run(config: Record<string, unknown>, stack: string) {
    return runProgram(() => runStack(loadStackConfig()), { config, stack, aliasUrns: true });
}

describe("tenancy names and their aliases", () => {
    for (const stack of stackNames()) {
        it(`Pulumi.${stack}.yaml: every resource registered before tenancies named their server is claimed by exactly one now`, async () => {
            const { resources } = await run(stackFileConfig(stack), stack);
            const claimed = claims(resources);
            const before = BEFORE[stack] ?? [];
            assert.ok(before.length > 0, `no recorded URNs for ${stack}`);
            const unclaimed = before.filter((urn) => !claimed.has(key(urn)));
            assert.deepStrictEqual(unclaimed, [], "resources an existing stack would lose");
            const renamed = before.filter((urn) => claimed.get(key(urn)) !== urn);
            assert.ok(renamed.length > 0 && renamed.every((urn) => /Tenant/.test(urn)), "only tenancies and their children are renamed");
        });
    }
});
