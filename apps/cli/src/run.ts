// One run of a suite: discovery, selection, the worker pool and every event consumer.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { cacheRoot, chooseAccel, SHM, sweepStaleRunDirs } from "@provium/vmm";
import { ConfigError, findConfig, loadConfig, type Config } from "./config";
import { discover } from "./discover";
import { event, summarize, type RunEvent, type Summary } from "./events";
import { Pool } from "./runner/pool";
import { HumanReporter } from "./report/human";
import { junitXml } from "./report/junit";
import { fileSink, socketSink, type Sink } from "./report/sinks";
import { parseDurationSeconds } from "./duration";
import { CapacityPool, DEFAULT_CPU_OVERCOMMIT, agentDeadlineMs as defaultAgentDeadlineMs, hostCapacity, parseMemory } from "@provium/host-runtime";
import type { Selection } from "./runner/selection";

export class UsageError extends Error {}

export interface RunOptions {
  paths: string[];
  config?: string;
  filter?: string;
  tag?: string[];
  skipTag?: string[];
  includeSlow?: boolean;
  failFast?: boolean;
  rerunFailed?: boolean;
  shard?: string;
  timeout?: string;
  jobs?: string;
  mem?: string;
  cpuOvercommit?: string;
  accel?: string;
  bootTimeout?: string;
  json?: boolean;
  junit?: string;
  saveEvents?: string;
  eventsSocket?: string;
  verbose?: boolean;
  quiet?: boolean;
  list?: boolean;
  /** --cold-boot: no boot restores a boot template (warm boots off for the run) */
  coldBoot?: boolean;
}

export function loadRunConfig(path?: string): Config {
  if (path && !existsSync(path)) throw new ConfigError(`--config: ${path} does not exist`);
  return loadConfig(path ?? findConfig(process.cwd()));
}

function duration(flag: string, v: string) {
  try {
    return parseDurationSeconds(v);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

/** --shard i/n: every n-th file, starting at the i-th (1-based), of the sorted list. */
export function shardFiles(files: string[], spec: string) {
  const m = spec.match(/^(\d+)\/(\d+)$/);
  const [i, n] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || n < 1 || i < 1 || i > n) throw new UsageError(`--shard must be i/n with 1 <= i <= n, got "${spec}"`);
  return files.filter((_, k) => k % n === i - 1);
}

// The state of the last run, for --rerun-failed.
function statePath(cfg: Config) {
  return join(cfg.dir, ".provium", "last-run.json");
}

function lastFailures(cfg: Config): Record<string, string[]> | null {
  try {
    return JSON.parse(readFileSync(statePath(cfg), "utf8")).failed;
  } catch {
    return null;
  }
}

function saveFailures(cfg: Config, events: RunEvent[]) {
  const failed: Record<string, string[]> = {};
  for (const e of events) {
    if (!e.file || (e.kind !== "test_failed" && e.kind !== "file_error")) continue;
    const abs = resolve(e.file);
    if (e.kind === "file_error") failed[abs] = []; // the whole file
    else if (!failed[abs] || failed[abs]!.length) (failed[abs] ??= []).push(e.test!);
  }
  mkdirSync(join(cfg.dir, ".provium"), { recursive: true });
  writeFileSync(statePath(cfg), JSON.stringify({ failed }, null, 2));
}

export async function runSuite(o: RunOptions, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<{ summary: Summary; interrupted: boolean; events: RunEvent[] }> {
  const config = loadRunConfig(o.config);
  if (o.coldBoot) config.warmBoot = false;
  const roots = o.paths.length ? o.paths : config.roots.length ? config.roots : ["."];
  let files = discover(roots);
  if (o.shard) files = shardFiles(files, o.shard);
  let only: Record<string, string[]> | undefined;
  if (o.rerunFailed) {
    const failed = lastFailures(config);
    if (!failed) throw new UsageError(`--rerun-failed: no record of a previous run (${relative(process.cwd(), statePath(config))})`);
    files = files.filter((f) => f in failed);
    only = Object.fromEntries(Object.entries(failed).filter(([, names]) => names.length));
  }
  const jobs = Number(o.jobs ?? availableParallelism());
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${o.jobs}`);
  const overcommit = Number(o.cpuOvercommit ?? DEFAULT_CPU_OVERCOMMIT);
  if (!(overcommit > 0)) throw new UsageError(`--cpu-overcommit must be a positive number, got ${o.cpuOvercommit}`);
  let memoryMiB: number | undefined;
  try {
    memoryMiB = o.mem ? parseMemory(o.mem) : undefined;
  } catch (e) {
    throw new UsageError(`--mem: ${(e as Error).message}`);
  }
  const capacity = new CapacityPool(hostCapacity({ memoryMiB, overcommit }));
  const fileTimeoutS = o.timeout ? duration("--timeout", o.timeout) : 300;
  const cacheDir = config.cacheDir ?? cacheRoot();

  const sinks: Sink[] = [];
  if (o.saveEvents) sinks.push(fileSink(o.saveEvents));
  if (o.eventsSocket) sinks.push(await socketSink(o.eventsSocket));
  const human = o.json ? null : new HumanReporter({ verbose: !!o.verbose, quiet: !!o.quiet, write, color: !!process.stdout.isTTY, live: !!process.stdout.isTTY && !o.quiet });
  const events: RunEvent[] = [];
  const emit = (e: RunEvent) => {
    events.push(e);
    trackVm(e);
    for (const s of sinks) s.write(e);
    if (o.json) write(JSON.stringify(e) + "\n");
    else human!.onEvent(e);
  };
  emit(event("run_started", { files: files.length, jobs }));
  if (!files.length && !o.rerunFailed) throw new UsageError(`no *.test.lua files under ${roots.join(", ")}`);

  sweepStaleRunDirs(); // left by a provium that was SIGKILLed
  sweepStaleRunDirs(SHM); // a boot template maker's memory file
  const accel = files.length ? await chooseAccel((o.accel ?? "auto") as never, { cacheDir }) : "tcg";
  const agentDeadlineMs = defaultAgentDeadlineMs(accel, o.bootTimeout ? 1000 * duration("--boot-timeout", o.bootTimeout) : undefined);
  const selection: Selection = { filter: o.filter, tags: o.tag ?? [], noTags: o.skipTag ?? [], includeSlow: !!o.includeSlow, only, listOnly: !!o.list };
  const pool = new Pool({ files, jobs, failFast: o.failFast, onEvent: emit, capacity, init: { config, cacheDir, accel, fileTimeoutS, agentDeadlineMs, selection, cids: new SharedArrayBuffer(4) } });

  let interrupted = 0;
  const onSigint = () => {
    if (++interrupted > 1) {
      killTrackedVms();
      process.exit(130);
    }
    process.stderr.write("\nprovium: interrupted; stopping (Ctrl-C again to exit at once)\n");
    void pool.stop();
  };
  // SIGTERM / SIGHUP end the run at once, but through the workers: each kills its VMs and
  // removes its temp dirs (a VM's run dir made before its event reached us would stay behind
  // otherwise: found by `bun run chaos`).
  const onTerminate = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nprovium: ${sig}; stopping\n`);
    void pool.stop().finally(() => {
      killTrackedVms();
      process.exit(sig === "SIGTERM" ? 143 : 129);
    });
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onTerminate);
  process.on("SIGHUP", onTerminate);
  try {
    await pool.run();
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onTerminate);
    process.off("SIGHUP", onTerminate);
    killTrackedVms();
  }
  emit(event("run_completed", {}));
  const summary = summarize(events);
  if (!o.list) {
    human?.finish(summary);
    saveFailures(config, events);
  }
  if (o.junit) writeFileSync(o.junit, junitXml(events));
  for (const s of sinks) await s.close();
  return { summary, interrupted: interrupted > 0, events };
}

// Workers report every QEMU they start; whatever is left when the run ends (a worker was
// stopped mid-file, Ctrl-C) is killed here, with its run directory.
const liveVms = new Map<number, string>();
function trackVm(e: RunEvent) {
  if (e.kind === "vm_spawned") liveVms.set(e.pid as number, e.run_dir as string);
  if (e.kind === "vm_shutdown") liveVms.delete(e.pid as number);
}
export function killTrackedVms() {
  for (const [pid, dir] of liveVms) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
  liveVms.clear();
}
process.on("exit", killTrackedVms);
