// npm test: the tests (mocha), the type check, the lint and the library build, side by side as
// far as they allow, on a 2-core machine where the tests alone keep both cores busy most of the
// time.
//
// - mocha starts at once; its report streams as it runs (arguments to this script, e.g.
//   `npm test -- --grep x`, go to mocha).
// - The type check and the lint start at once too, `nice`d: they take the CPU time mocha leaves
//   (its files often wait on servers and child processes) and slow its tests the least. The lint
//   keeps ESLint's cache, and the type check is not run again while nothing it reads has changed
//   since it last passed (see typecheckUnchanged); a fresh clone has neither and checks all.
// - The build (`npm run build`, tsc -b → dist/) runs once mocha is done. Not before: then mocha
//   would wait for it, and not beside mocha: tests/library.test.ts runs the same `tsc -b` and
//   packs dist/, and two builds writing dist/ at once could hand `npm pack` a half-written file.
//   After that test it has nothing left to do (0.4 s); without it (mocha --grep), it builds.
//
// Each check's output is printed at the end, after mocha's; any failure fails the whole.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CACHE = path.join(ROOT, "node_modules", ".cache", "tenant-databases");
const require = createRequire(import.meta.url);

// Lower CPU priority for the type check and the lint (their child processes inherit it).
const CHECK_NICENESS = 10;

// ESLint's cache (the results of unchanged files, by content) is invalidated by ESLint's own
// version, Node's and the configuration (with its plugins' and parser's versions); its
// directory is named after the lock file and the ESLint configuration besides, so that any
// change of the installed packages starts a new one. In node_modules: a fresh clone has none.
const lintCache = (() => {
    const hash = createHash("sha256");
    for (const file of ["package-lock.json", "eslint.config.mjs"]) hash.update(readFileSync(path.join(ROOT, file)));
    return path.join(CACHE, `eslint-${hash.digest("hex").slice(0, 16)}`, "cache.json");
})();
// --listFiles: the type check prints every file its program read, for typecheckPassed.
const EXTRA_ARGS = { lint: ["--cache", "--cache-strategy", "content", "--cache-location", lintCache], typecheck: ["--listFiles"] };

// The type check's verdict depends only on what tsc reads: the files of its program (each .ts
// file, and every declaration file and lib it loads from node_modules), its root files and
// options as tsconfig.json gives them, and the installed packages (package.json files it reads
// to resolve modules, which npm's lock files stand for). When it passes, all of that is recorded
// (typecheckPassed); when it is all the same again, by content, the check would pass again, and
// is not run (typecheckUnchanged: 0.3 s instead of 7 s of CPU). Any change runs it in full
// (incremental, as `npm run typecheck`). Only for the type check this knows: tsc over
// tsconfig.json (another `typecheck` script always runs).
const TYPECHECK_PASSED = path.join(CACHE, "typecheck-passed.json");
const TYPECHECK_SCRIPT = "tsc --noEmit -p .";

/**
 * A digest of tsc's root files and options, the type check's command and the installed packages;
 * undefined when one cannot be read.
 */
function typecheckSetting() {
    try {
        const packageJson = readFileSync(path.join(ROOT, "package.json"), "utf8");
        if (JSON.parse(packageJson).scripts?.typecheck !== TYPECHECK_SCRIPT) return undefined;
        const ts = require("typescript");
        const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
        const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.json"), {}, host);
        if (!config || config.errors.length > 0) return undefined;
        const read = (file) => readFileSync(path.join(ROOT, file), "utf8");
        const text = JSON.stringify({
            typescript: ts.version,
            roots: config.fileNames,
            options: config.options,
            packageJson,
            lock: read("package-lock.json"),
            installed: read(path.join("node_modules", ".package-lock.json")),
        });
        return createHash("sha256").update(text).digest("hex");
    } catch {
        return undefined;
    }
}

/** A digest of the files' names and contents. */
function digestOf(files) {
    const hash = createHash("sha256");
    for (const file of files) hash.update(`${file}\0`).update(readFileSync(file)).update("\0");
    return hash.digest("hex");
}

/** True when the type check passed with everything it reads as it is now. */
function typecheckUnchanged() {
    try {
        const passed = JSON.parse(readFileSync(TYPECHECK_PASSED, "utf8"));
        const setting = typecheckSetting();
        return setting !== undefined && passed.setting === setting && passed.digest === digestOf(passed.files);
    } catch {
        return false; // no record, or a file it read is gone
    }
}

/**
 * Records that the type check passed, given its --listFiles output and what was before it began
 * (`setting`, `startedMs`); unless something changed meanwhile, when what it read is not known.
 */
function typecheckPassed(files, setting, startedMs) {
    try {
        if (setting === undefined || files.length === 0 || typecheckSetting() !== setting) return;
        if (files.some((file) => statSync(file).mtimeMs >= startedMs - 1000)) return;
        const record = JSON.stringify({ setting, files, digest: digestOf(files) });
        mkdirSync(CACHE, { recursive: true });
        writeFileSync(`${TYPECHECK_PASSED}.${process.pid}`, record);
        renameSync(`${TYPECHECK_PASSED}.${process.pid}`, TYPECHECK_PASSED);
    } catch {
        // not recorded: it runs next time
    }
}

/** `npm run typecheck`, or its verdict when nothing it reads changed since it last passed. */
async function typecheck() {
    if (typecheckUnchanged()) {
        return { task: "typecheck", code: 0, output: `not run: nothing it reads changed since it last passed (${path.relative(ROOT, TYPECHECK_PASSED)})\n` };
    }
    const setting = typecheckSetting();
    const startedMs = Date.now();
    const result = await npmRun("typecheck", CHECK_NICENESS);
    // --listFiles lines are absolute paths; the rest is tsc's report.
    const lines = result.output.split("\n");
    const isListed = (line) => path.isAbsolute(line) && !line.includes("): ");
    if (result.code === 0) typecheckPassed(lines.filter(isListed), setting, startedMs);
    return { ...result, output: lines.filter((line) => !isListed(line)).join("\n") };
}

/** Runs `npm run <task>`, its output kept; resolves with its exit code and output. */
function npmRun(task, niceness = 0) {
    return new Promise((resolve) => {
        const extra = EXTRA_ARGS[task] ? ["--", ...EXTRA_ARGS[task]] : [];
        const child = spawn("npm", ["run", "-s", task, ...extra], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        if (niceness) {
            try {
                os.setPriority(child.pid, niceness);
            } catch {
                // not allowed here: it runs at normal priority
            }
        }
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("close", (code) => resolve({ task, code, output }));
    });
}

/** Runs mocha with this script's arguments, its output streaming; resolves with its exit code. */
function mocha() {
    const bin = require.resolve("mocha/bin/mocha.js");
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], { cwd: ROOT, stdio: "inherit" });
        child.on("close", (code, signal) => resolve({ task: "mocha", code: code ?? signal }));
    });
}

const tests = mocha();
const checks = [npmRun("lint", CHECK_NICENESS), typecheck()];
const testResult = await tests;
const results = await Promise.all([...checks, npmRun("build")]);
for (const { task, code, output } of results) {
    if (output.trim()) process.stdout.write(`--- npm run ${task}\n${output}`);
    if (code !== 0) process.stderr.write(`npm run ${task} failed (exit ${code})\n`);
}
if (testResult.code !== 0) process.stderr.write(`mocha failed (exit ${testResult.code})\n`);
process.exit([testResult, ...results].every((r) => r.code === 0) ? 0 : 1);
