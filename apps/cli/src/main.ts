#!/usr/bin/env bun
// provium: run Lua integration tests inside real QEMU virtual machines.
import { Command, Option } from "commander";
import { availableParallelism } from "node:os";
import { watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { ConfigError } from "./config";
import { runSuite, UsageError, type RunOptions } from "./run";
import { summarize, type RunEvent } from "./events";
import { HumanReporter } from "./report/human";
import { junitXml } from "./report/junit";
import { parseEvents, readEvents } from "./report/sinks";
import { coverage, coverageJson, renderCoverage } from "./report/coverage";
import { writeHtmlReport } from "./report/html";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fixtureBuild, fixtureClean, fixtureList, fixtureStale } from "./fixture-cmd";
import { serialConsole } from "./serial-console";
import { interactive } from "./interactive";
import { lspSetup } from "./lsp-setup";
import { init } from "./init";
import { listFixtures, loadRunConfig } from "./run";
import { fileDurations, TIMINGS_FILE, updateTimings } from "./runner/shards";
import { mergeRuns } from "./report/merge";
import { doctor } from "./doctor";
import { HostError } from "./host-checks";
import { fileLabel } from "./matrix";
import { benchCompare, DEFAULT_THRESHOLD_PCT, type CompareOptions } from "./bench-cmd";

function fail(e: unknown): never {
  const known = e instanceof UsageError || e instanceof ConfigError || e instanceof HostError;
  console.error(`provium: ${known ? (e as Error).message : ((e as Error)?.stack ?? e)}`);
  process.exit(2);
}

const accelOption = () =>
  new Option("--accel <accel>", "QEMU accelerator; auto probes KVM (with a deadline) and falls back to TCG").choices(["auto", "kvm", "tcg"]).default(process.env.PROVIUM_ACCEL ?? "auto");

const collect = (v: string, all: string[]) => [...all, v];

// Options shared by running and listing.
function selectionOptions(cmd: Command) {
  return cmd
    .argument("[paths...]", "test files or directories (default: the configured roots, or the current directory)")
    .option("--config <file>", "provium.toml to use (default: found in the current directory or its parents)")
    .option("--filter <text>", "only tests whose name, or whose file's path under its root, contains <text>")
    .option("--tag <tag...>", "only tests with one of these meta tags")
    // Commander reads "--no-X" as the negation of --X, so --no-tag is rewritten to --skip-tag.
    .option("--skip-tag <tag...>", "skip tests with any of these meta tags (also spelled --no-tag)", [])
    .option("--tag-meta <KEY=VALUE>", "only tests whose meta KEY is VALUE or a list holding it; repeatable: values of one key are alternatives, every key must match", collect, [])
    .option("--skip-tag-meta <KEY=VALUE>", "skip tests whose meta KEY is VALUE or a list holding it; repeatable (also spelled --no-tag-meta)", collect, [])
    .option("--since <ref>", "only test files changed since a git revision, or depending on a changed file (helpers, fixtures, pushed files); a file's path: test files modified after it")
    .option("--include-slow", "also run tests with meta slow = true", false)
    .option("--shard <i/n>", "run only the i-th of n parts of the suite, balanced by the times of earlier runs (for CI machines)")
    .option("--timings <file>", `file durations of earlier runs, read by --shard and updated by every run (default: ${TIMINGS_FILE} beside provium.toml)`);
}

const program = selectionOptions(new Command())
  .name("provium")
  // options after a subcommand's name are that subcommand's (report merge --junit, not the run's)
  .enablePositionalOptions()
  .description("Run Lua integration tests inside real QEMU virtual machines.")
  .version(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version)
  .option("--fail-fast", "stop after the first failure", false)
  .option("--rerun-failed", "run only the tests that failed in the last run", false)
  .option("--timeout <duration>", 'per-file timeout: seconds or "90s", "5m" (default 5m)')
  .option("-j, --jobs <n>", "test files run in parallel, each in its own worker (default: number of cores)", String(availableParallelism()))
  .option("--mem <size>", 'memory all VMs together may use, e.g. "8G" (default: 80% of RAM)')
  .option("--cpu-overcommit <factor>", "vCPUs all VMs together may use, as a multiple of the host's cores (default 4)")
  .addOption(accelOption())
  .option("--boot-timeout <duration>", "how long a guest agent may take to answer after boot (default 20s with KVM, 90s with TCG)")
  .option("--cold-boot", "boot every VM cold: no warm boot from a saved boot template", false)
  .option("--json", "print events as JSON lines instead of the human report", false)
  .option("--junit <file>", "also write a JUnit XML report")
  .option("--save-events <file>", "also write every event as JSON lines (replay with `provium report`)")
  .option("--events-socket <path>", "also stream events as JSON lines to a unix socket another program listens on")
  .option("--kernel <path>", "boot this kernel (a bzImage, a kernel build tree or an unpacked kernel package) in every profile without a kernel of its own")
  .option("--matrix <kernel=entries>", "run each file once per entry of provium.toml's [matrix], e.g. kernel=lts,next (default: every entry)")
  .option("--bench-out <file>", "write every benchmark sample (bench(...)) as JSON, for `provium bench compare`")
  .option("--html <dir>", "also write an HTML report (DIR/index.html, opens from file://)")
  .option("--debug", "when a test fails, pause the run with its VMs alive and open a Lua prompt on them (.continue / .stop); one file at a time", false)
  .option("--gdb", "QEMU's gdbstub on a unix socket per VM (paths printed); with --debug a booting VM waits for the debugger", false)
  .option("--watch", "rerun when test files or helpers change", false)
  .option("-v, --verbose", "show test logs and progress detail", false)
  .option("-q, --quiet", "print only failures and the summary", false)
  .action(async (paths: string[], o: RunOptions & { watch: boolean }) => {
    try {
      if (o.watch) return await watchLoop({ ...o, paths });
      const { summary, interrupted } = await runSuite({ ...o, paths });
      process.exit(interrupted ? 130 : summary.failed > 0 ? 1 : 0);
    } catch (e) {
      fail(e);
    }
  });

selectionOptions(program.command("list").description("list the tests that would run, without booting any VM"))
  .option("--fixtures", "list the *.fixture.lua files instead", false)
  .action(async (paths: string[], o: RunOptions & { fixtures: boolean }) => {
  try {
    if (o.fixtures) return listFixtures(paths, o.config);
    const { events } = await runSuite({ ...o, paths, list: true, json: false, quiet: true }, () => {});
    // Files run in parallel; print them in path order, tests in declaration order.
    const byFile = new Map<string, string[]>();
    for (const e of events) {
      const file = fileLabel(e); // "[lts] x.test.lua" under a matrix entry
      const lines = byFile.get(file) ?? [];
      if (e.kind === "test_listed") lines.push(`${file} › ${e.test}${e.todo ? "  (todo)" : ""}`);
      if (e.kind === "file_error") lines.push(`${file}: cannot list: ${e.reason}`);
      byFile.set(file, lines);
    }
    for (const file of [...byFile.keys()].sort()) for (const line of byFile.get(file)!) console.log(line);
  } catch (e) {
    fail(e);
  }
});

const fixture = program.command("fixture").description("the fixture cache (fixtures and boot templates): list, build, rebuild, clean, stale");
fixture.command("list").description("cached fixtures and boot templates with their keys, sizes and last use").option("--config <file>").action((o) => fixtureList(o));
for (const [name, rebuild, what] of [
  ["build", false, "build the fixtures under the paths (default: the roots) that are not cached"],
  ["rebuild", true, "build the fixtures under the paths again, even if cached"],
] as const)
  fixture
    .command(name)
    .description(what)
    .argument("[paths...]")
    .option("--config <file>")
    .addOption(accelOption())
    .action((paths, o) => fixtureBuild(paths, { ...o, rebuild }).catch(fail));
fixture
  .command("clean")
  .description("remove every cached fixture and boot template (--templates: the boot templates only)")
  .option("--templates", "remove only the boot templates", false)
  .option("--config <file>")
  .action((o) => fixtureClean(o));
fixture
  .command("stale")
  .description("cached fixtures no builder produces any more, and fixtures not built yet")
  .argument("[paths...]")
  .option("--config <file>")
  .action((paths, o) => fixtureStale(paths, o).catch(fail));

program
  .command("repl")
  .description("a Lua prompt against a live guest (`vm`), with history")
  .argument("[profile]", "the profile to boot")
  .option("--fixture <name>", "resume this fixture (NAME.fixture.lua, at its cached snapshot) instead of booting a profile")
  .option("--config <file>")
  .addOption(accelOption())
  .action((profile, o) => interactive({ ...o, profile, shell: false }).catch(fail));

program
  .command("console")
  .description("boot a guest and attach the terminal to its serial console, a root shell on ttyS0 (Ctrl-] leaves); --agent: a line shell through the agent instead")
  .argument("<profile>")
  .option("--agent", "each line runs in the guest through the agent; the serial log is shown first")
  .option("--config <file>")
  .addOption(accelOption())
  .action((profile, o) => (o.agent ? interactive({ ...o, profile, shell: true }) : serialConsole({ ...o, profile })).catch(fail));

program
  .command("init")
  .description("start a project: provium.toml, tests/hello.test.lua, .luarc.json, .gitignore lines, a GitHub Actions workflow")
  .option("--dir <dir>", "project directory (default: the current directory)")
  .option("--force", "overwrite provium.toml, tests/hello.test.lua and the workflow if they exist", false)
  .action((o: { dir?: string; force: boolean }) => {
    try {
      const dir = resolve(o.dir ?? ".");
      const { written, typesInstalled } = init(dir, { force: o.force });
      for (const f of written) console.log(`wrote ${f}`);
      if (!typesInstalled) console.log("(the LuaLS types are a copy in .provium/types: `bun add -d provium` and `provium lsp-setup` point at the installed ones)");
      console.log("\nnext: bunx provium   (boots a VM and runs tests/hello.test.lua)");
    } catch (e) {
      fail(e);
    }
  });

program
  .command("lsp-setup")
  .description("write Lua language-server definitions for the Provium API (.luarc.json, .provium/types)")
  .option("--dir <dir>", "project directory (default: where provium.toml is, else the current directory)")
  .action((o) => {
    try {
      const dir = o.dir ?? loadRunConfig().dir;
      const { rc, types } = lspSetup(dir);
      console.log(`wrote ${rc} and ${types}`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command("doctor")
  .description("what this host has and lacks to run tests (QEMU, KVM, busybox, kernel, ...), with the command that installs each missing piece")
  .option("--config <file>", "provium.toml whose profiles decide what is needed (default: found in the current directory or its parents)")
  .action(async (o: { config?: string }) => {
    try {
      process.exit(await doctor(o));
    } catch (e) {
      fail(e);
    }
  });

program
  .command("coverage")
  .description("saved events (--save-events) grouped by a meta key: per value, how many tests passed, failed and were skipped")
  .argument("[events-file]", "events saved with --save-events (default: --from, else stdin)")
  .option("--from <file>", "events saved with --save-events (upstream's spelling of the argument)")
  .option("--by <key>", "the meta key to group by", "spec")
  .option("--json", "JSON instead of text", false)
  .action(async (file: string | undefined, o: { from?: string; by: string; json: boolean }) => {
    try {
      const from = file ?? o.from;
      const events = from ? eventsFile(from) : parseEvents(await Bun.stdin.text(), "stdin");
      const c = coverage(events, o.by);
      console.log(o.json ? coverageJson(c) : renderCoverage(c, o.by));
    } catch (e) {
      fail(e);
    }
  });

program
  .command("bench")
  .description("benchmark results written with --bench-out")
  .command("compare")
  .description("each benchmark's median change from BASE to NEW with a bootstrap interval; exits 1 on a significant regression beyond --threshold")
  .argument("<files...>", "BASE NEW (two --bench-out files), or one file with --by kernel")
  .option("--threshold <pct>", `the smallest change that counts, in percent (default ${DEFAULT_THRESHOLD_PCT})`)
  .option("--by <dimension>", "kernel: compare the matrix entries within one file instead of two files")
  .option("--base <entry>", "with --by kernel: the entry the others are compared against (default: the first)")
  .action((files: string[], o: CompareOptions) => {
    try {
      process.exit(benchCompare(files, o));
    } catch (e) {
      fail(e);
    }
  });

const report = program
  .command("report")
  .description("replay events saved with --save-events through a reporter (or merge shards' events: report merge)")
  .enablePositionalOptions()
  .argument("<events-file>")
  .option("--junit <file>", "write a JUnit XML report instead of the human one")
  .option("--html <dir>", "write the HTML report into DIR instead of the human one")
  .action((file: string, o: { junit?: string; html?: string }) => {
    try {
      replay(eventsFile(file), o);
    } catch (e) {
      fail(e);
    }
  });

report
  .command("merge")
  .description("one report from the saved events of several shards (or runs of disjoint files)")
  .argument("<events-files...>")
  .option("--junit <file>", "write a JUnit XML report of the whole (else the human one is printed)")
  .option("--html <dir>", "write the HTML report of the whole into DIR")
  .option("--save-events <file>", "write the merged events, as one run's")
  .option("--timings <file>", `fold every file's duration into this timings file (as ${TIMINGS_FILE}, for the next --shard split)`)
  .action((files: string[], o: { junit?: string; html?: string; saveEvents?: string; timings?: string }) => {
    try {
      const merged = mergeRuns(files.map((f) => ({ name: basename(f).replace(/\.jsonl?$/, ""), events: eventsFile(f) })));
      for (const f of merged.overlapping) console.error(`provium: warning: ${f} ran in more than one of the inputs; its tests count once per input`);
      if (o.saveEvents) writeFileSync(o.saveEvents, merged.events.map((e) => JSON.stringify(e) + "\n").join(""));
      if (o.timings) updateTimings(resolve(o.timings), dirname(resolve(o.timings)), fileDurations(merged.events));
      replay(merged.events, o);
    } catch (e) {
      fail(e);
    }
  });

function eventsFile(path: string) {
  if (!existsSync(path)) throw new UsageError(`${path}: no such events file (write one with --save-events)`);
  return readEvents(path);
}

/** Events through a reporter: JUnit to a file, HTML into a directory, else the human report;
 *  exits 1 on failures. */
function replay(events: RunEvent[], o: { junit?: string; html?: string }) {
  const summary = summarize(events);
  if (o.junit) writeFileSync(o.junit, junitXml(events));
  if (o.html) console.log(`HTML report: ${writeHtmlReport(o.html, events)}`);
  if (!o.junit && !o.html) {
    const human = new HumanReporter({ verbose: false, quiet: false, write: (s) => process.stdout.write(s), color: !!process.stdout.isTTY, live: false });
    for (const e of events) human.onEvent(e);
    human.finish(summary);
  }
  process.exit(summary.failed ? 1 : 0);
}

// --watch: run, then rerun the changed test files (or everything when a helper changed).
async function watchLoop(o: RunOptions) {
  const all = o.paths.length ? o.paths : ["."];
  let changed = new Set<string>();
  let wake: (() => void) | null = null;
  for (const p of all)
    watch(resolve(p), { recursive: true }, (_, name) => {
      if (!name || !String(name).endsWith(".lua")) return;
      changed.add(resolve(p, String(name)));
      wake?.();
    });
  let paths = o.paths;
  for (;;) {
    await runSuite({ ...o, paths }).catch((e) => console.error(`provium: ${(e as Error).message}`));
    process.stdout.write("\nprovium: watching for changes (Ctrl-C to quit)\n");
    await new Promise<void>((r) => (wake = r));
    await Bun.sleep(100); // let a burst of saves settle
    const files = [...changed];
    changed = new Set();
    paths = files.every((f) => f.endsWith(".test.lua")) ? files : o.paths;
  }
}

// Upstream's --no-tag and --no-tag-meta, which commander would read as negations.
const spelled = (a: string) => a.replace(/^--no-tag(-meta)?(?==|$)/, "--skip-tag$1");
await program.parseAsync(process.argv.map(spelled));
