#!/usr/bin/env bun
// provium: run Lua integration tests inside real QEMU guests.
import { Command, Option } from "commander";
import { existsSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { ConfigError, findConfig, loadConfig } from "./config";
import { discover } from "./discover";
import { event, summarize, type RunEvent } from "./events";
import { Pool } from "./runner/pool";
import { HumanReporter } from "./report/human";
import { parseDurationSeconds } from "./duration";

const program = new Command()
  .name("provium")
  .description("Run Lua integration tests inside real QEMU virtual machines.")
  .version("0.1.0")
  .argument("[paths...]", "test files or directories (default: the configured roots, or the current directory)")
  .option("--filter <text>", "run only tests whose name contains <text>")
  .option("--tag <tag...>", "run only tests with one of these meta tags")
  // Commander reads "--no-X" as the negation of --X, so --no-tag is rewritten to --skip-tag below.
  .option("--skip-tag <tag...>", "skip tests with any of these meta tags (also spelled --no-tag)", [])
  .option("--include-slow", "also run tests with meta slow = true", false)
  .option("--fail-fast", "stop after the first failure", false)
  .option("--timeout <duration>", 'per-file timeout, e.g. "300", "90s", "5m" (default 5m)')
  .option("-j, --jobs <n>", "test files run in parallel (default: number of cores)", String(availableParallelism()))
  .addOption(new Option("--accel <accel>", "QEMU accelerator (auto probes KVM and falls back to TCG)").choices(["auto", "kvm", "tcg"]).default(process.env.PROVIUM_ACCEL ?? "auto"))
  .option("--boot-timeout <duration>", "how long a guest agent may take to answer after boot (default 20s with KVM, 90s with TCG)")
  .option("--config <file>", "provium.toml to use (default: found in the current directory or its parents)")
  .option("--json", "print events as JSON lines instead of the human report", false)
  .option("-v, --verbose", "show test logs and progress detail", false)
  .option("-q, --quiet", "print only failures and the summary", false)
  .action(run);

async function run(paths: string[], o: any) {
  const out = (s: string) => process.stdout.write(s);
  let config;
  try {
    const file = o.config ?? findConfig(process.cwd());
    if (o.config && !existsSync(o.config)) throw new ConfigError(`--config: ${o.config} does not exist`);
    config = loadConfig(file);
  } catch (e) {
    console.error(`provium: ${(e as Error).message}`);
    process.exit(2);
  }
  const roots = paths.length ? paths : config.roots.length ? config.roots : ["."];
  let files: string[];
  try {
    files = discover(roots);
  } catch (e) {
    console.error(`provium: ${(e as Error).message}`);
    process.exit(2);
  }
  const cacheDir = config.cacheDir ?? cacheRoot();
  const events: RunEvent[] = [];
  const human = o.json ? null : new HumanReporter({ verbose: o.verbose, quiet: o.quiet, write: out, color: !!process.stdout.isTTY });
  const emit = (e: RunEvent) => {
    events.push(e);
    trackVm(e);
    if (o.json) out(JSON.stringify(e) + "\n");
    else human!.onEvent(e);
  };
  emit(event("run_started", { files: files.length }));
  if (!files.length) {
    console.error(`provium: no *.test.lua files under ${roots.join(", ")}`);
    process.exit(2);
  }
  let accel: "kvm" | "tcg";
  try {
    accel = await chooseAccel(o.accel, { cacheDir });
  } catch (e) {
    console.error(`provium: ${(e as Error).message}`);
    process.exit(2);
  }
  const jobs = Number(o.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`provium: --jobs must be a positive integer, got ${o.jobs}`);
    process.exit(2);
  }
  const fileTimeoutS = o.timeout ? cliDuration("--timeout", o.timeout) : 300;
  const agentDeadlineMs = 1000 * (o.bootTimeout ? cliDuration("--boot-timeout", o.bootTimeout) : accel === "kvm" ? 20 : 90);
  const pool = new Pool({
    files,
    jobs,
    failFast: o.failFast,
    onEvent: emit,
    init: { config, cacheDir, accel, fileTimeoutS, agentDeadlineMs, selection: { filter: o.filter, tags: o.tag ?? [], noTags: o.skipTag, includeSlow: o.includeSlow } },
  });
  let interrupted = 0;
  process.on("SIGINT", () => {
    if (++interrupted > 1) {
      killTrackedVms();
      process.exit(130);
    }
    process.stderr.write("\nprovium: interrupted; stopping (Ctrl-C again to exit at once)\n");
    pool.stop();
  });
  await pool.run();
  killTrackedVms();
  emit(event("run_completed", {}));
  const summary = summarize(events);
  human?.finish(summary);
  process.exit(interrupted ? 130 : summary.failed > 0 ? 1 : 0);
}

function cliDuration(flag: string, v: string) {
  try {
    return parseDurationSeconds(v);
  } catch (e) {
    console.error(`provium: ${flag}: ${(e as Error).message}`);
    process.exit(2);
  }
}

// Workers report every QEMU they start; whatever is left when the run ends (a worker was
// stopped mid-file, Ctrl-C) is killed here, with its run directory.
const liveVms = new Map<number, string>();
function trackVm(e: RunEvent) {
  if (e.kind === "vm_spawned") liveVms.set(e.pid as number, e.run_dir as string);
  if (e.kind === "vm_shutdown") liveVms.delete(e.pid as number);
}
function killTrackedVms() {
  for (const [pid, dir] of liveVms) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
  liveVms.clear();
}
process.on("exit", killTrackedVms);

await program.parseAsync(process.argv.map((a) => (a === "--no-tag" ? "--skip-tag" : a)));
