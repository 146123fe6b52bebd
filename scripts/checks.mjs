// npm test's checks before mocha: the library build, the type check and the lint, side by side.
// Each is one process, so together they take about the longest one's time instead of the sum;
// each one's output is printed when it ends, and any failure fails the whole.
import { spawn } from "node:child_process";
import process from "node:process";

const TASKS = ["build", "typecheck", "lint"];

const results = await Promise.all(
    TASKS.map(
        (task) =>
            new Promise((resolve) => {
                const child = spawn("npm", ["run", "-s", task], { stdio: ["ignore", "pipe", "pipe"] });
                let output = "";
                child.stdout.on("data", (d) => (output += d));
                child.stderr.on("data", (d) => (output += d));
                child.on("close", (code) => resolve({ task, code, output }));
            }),
    ),
);
for (const { task, code, output } of results) {
    if (output.trim()) process.stdout.write(`--- npm run ${task}\n${output}`);
    if (code !== 0) process.stderr.write(`npm run ${task} failed (exit ${code})\n`);
}
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
