#!/usr/bin/env bun
// provium: run Lua integration tests inside real QEMU virtual machines.
import { Command, Option } from "commander";
import { availableParallelism } from "node:os";
import { watch } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "./config";
import { runSuite, UsageError, type RunOptions } from "./run";
import { summarize } from "./events";
import { HumanReporter } from "./report/human";
import { junitXml } from "./report/junit";
import { readEvents } from "./report/sinks";
import { writeFileSync } from "node:fs";
import { fixtureBuild, fixtureClean, fixtureList, fixtureStale } from "./fixture-cmd";
import { serialConsole } from "./serial-console";
import { interactive } from "./interactive";
import { lspSetup } from "./lsp-setup";
import { loadRunConfig } from "./run";

function fail(e: unknown): never {
  const known = e instanceof UsageError || e instanceof ConfigError;
  console.error(`provium: ${known ? (e as Error).message : ((e as Error)?.stack ?? e)}`);
  process.exit(2);
}

const accelOption = () =>
  new Option("--accel <accel>", "QEMU accelerator; auto probes KVM (with a deadline) and falls back to TCG").choices(["auto", "kvm", "tcg"]).default(process.env.PROVIUM_ACCEL ?? "auto");

// Options shared by running and listing.
function selectionOptions(cmd: Command) {
  return cmd
    .argument("[paths...]", "test files or directories (default: the configured roots, or the current directory)")
    .option("--config <file>", "provium.toml to use (default: found in the current directory or its parents)")
    .option("--filter <text>", "only tests whose name contains <text>")
    .option("--tag <tag...>", "only tests with one of these meta tags")
    // Commander reads "--no-X" as the negation of --X, so --no-tag is rewritten to --skip-tag.
    .option("--skip-tag <tag...>", "skip tests with any of these meta tags (also spelled --no-tag)", [])
    .option("--include-slow", "also run tests with meta slow = true", false)
    .option("--shard <i/n>", "run only the i-th of n equal parts of the suite (for CI machines)");
}

const program = selectionOptions(new Command())
  .name("provium")
  .description("Run Lua integration tests inside real QEMU virtual machines.")
  .version("0.1.0")
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

selectionOptions(program.command("list").description("list the tests that would run, without booting any VM")).action(async (paths: string[], o: RunOptions) => {
  try {
    const { events } = await runSuite({ ...o, paths, list: true, json: false, quiet: true }, () => {});
    // Files run in parallel; print them in path order, tests in declaration order.
    const byFile = new Map<string, string[]>();
    for (const e of events) {
      const lines = byFile.get(e.file ?? "") ?? [];
      if (e.kind === "test_listed") lines.push(`${e.file} › ${e.test}${e.todo ? "  (todo)" : ""}`);
      if (e.kind === "file_error") lines.push(`${e.file}: cannot list: ${e.reason}`);
      byFile.set(e.file ?? "", lines);
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
  .option("--fixture <path>", "resume this fixture instead of booting a profile")
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
  .command("report")
  .description("replay events saved with --save-events through a reporter")
  .argument("<events-file>")
  .option("--junit <file>", "write a JUnit XML report instead of the human one")
  .action((file: string, o: { junit?: string }) => {
    try {
      const events = readEvents(file);
      if (o.junit) return writeFileSync(o.junit, junitXml(events));
      const human = new HumanReporter({ verbose: false, quiet: false, write: (s) => process.stdout.write(s), color: !!process.stdout.isTTY, live: false });
      for (const e of events) human.onEvent(e);
      const summary = summarize(events);
      human.finish(summary);
      process.exit(summary.failed ? 1 : 0);
    } catch (e) {
      fail(e);
    }
  });

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

await program.parseAsync(process.argv.map((a) => (a === "--no-tag" ? "--skip-tag" : a)));
