// Runs stack config whole, under mocks, through the real entry path
// (stack config -> loadStackConfig -> runStack).
import { stackFileConfig } from "../../stacks/files";
import { StackOutputs, loadStackConfig, runStack } from "../../stacks/program";
import { MockRun, runProgram } from "./pulumi";

export function runStackConfig(config: Record<string, unknown>, stack = "test"): Promise<MockRun<StackOutputs>> {
    return runProgram(() => runStack(loadStackConfig()), { config, stack });
}

export function runStackFile(stack: string): Promise<MockRun<StackOutputs>> {
    return runStackConfig(stackFileConfig(stack), stack);
}
