// What validation says of a stack config, for tests of its rules.
import * as assert from "assert";
import { ConfigError, parseStackConfig } from "../../stacks/config";

/** The problems parseStackConfig reports for `raw`; fails if it accepts it. */
export function problemsOf(raw: unknown): string[] {
    try {
        parseStackConfig(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        return err.problems;
    }
    assert.fail("config was accepted");
}
