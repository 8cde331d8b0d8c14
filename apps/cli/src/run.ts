// One run of a suite: discovery, selection, the worker pool and every event consumer.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { cacheRoot, chooseAccel, SHM, sweepStaleRunDirs } from "@provium/vmm";
import { ConfigError, findConfig, loadConfig, type Config } from "./config";
import { discover, discoverBy, rootRelative } from "./discover";
import { selectSince, SinceError } from "./since";
import { event, summarize, type RunEvent, type Summary } from "./events";
import { Pool } from "./runner/pool";
import { HumanReporter } from "./report/human";
import { junitXml } from "./report/junit";
import { fileSink, socketSink, type Sink } from "./report/sinks";
import { writeHtmlReport } from "./report/html";
import { DebugConsole } from "./debug-console";
import { parseDurationSeconds } from "./duration";
import { CapacityPool, DEFAULT_CPU_OVERCOMMIT, agentDeadlineMs as defaultAgentDeadlineMs, hostCapacity, parseMemory } from "@provium/host-runtime";
import type { Selection } from "./runner/selection";
import { fileDurations, parseShard, planShard, readTimings, spread, TIMINGS_FILE, updateTimings } from "./runner/shards";
import { requireHost } from "./host-checks";
import { checkKernel, matrixEntries, withKernel } from "./matrix";
import { writeBenchOut } from "./report/bench-out";

export class UsageError extends Error {}

export interface RunOptions {
  paths: string[];
  config?: string;
  filter?: string;
  tag?: string[];
  skipTag?: string[];
  tagMeta?: string[];
  skipTagMeta?: string[];
  since?: string;
  includeSlow?: boolean;
  failFast?: boolean;
  rerunFailed?: boolean;
  shard?: string;
  timings?: string;
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
  /** a kernel by path for every profile without its own (matrix.ts) */
  kernel?: string;
  /** "kernel=lts,next": the entries of provium.toml's [matrix] to run */
  matrix?: string;
  /** write every benchmark sample here (report/bench-out.ts) */
  benchOut?: string;
  /** also write the HTML report into this directory */
  html?: string;
  /** a failed test pauses the run with its VMs alive and opens a prompt on them */
  debug?: boolean;
  /** QEMU's gdbstub on a unix socket per VM */
  gdb?: boolean;
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

/** --shard i/n: this runner's part of the files, balanced by the times of earlier runs. */
function shardOf(files: string[], spec: string, timingsPath: string, projectDir: string) {
  const shard = parseShard(spec);
  if (!shard) throw new UsageError(`--shard must be i/n with 1 <= i <= n, got "${spec}"`);
  let timings;
  try {
    timings = readTimings(timingsPath);
  } catch (e) {
    throw new UsageError(`--shard: ${(e as Error).message}`);
  }
  const plan = planShard(files, timings, projectDir, shard);
  const info = { shard: spec, files: plan.files.length, of: files.length, expected_ms: plan.expectedMs[shard.index - 1], spread: spread(plan.expectedMs), unknown: plan.unknown };
  return { files: plan.files, info };
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

/** --tag-meta KEY=VALUE: split at the first "=" (a value may hold more); KEY must not be empty. */
export function keyValues(flag: string, raw: string[] = []): [string, string][] {
  return raw.map((kv) => {
    const at = kv.indexOf("=");
    if (at < 1) throw new UsageError(`${flag}: expected KEY=VALUE, got "${kv}" (KEY must be non-empty)`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  });
}

function suiteRoots(o: { paths: string[] }, config: Config) {
  return o.paths.length ? o.paths : config.roots.length ? config.roots : ["."];
}

/** `provium list --fixtures`: the *.fixture.lua files under the paths (default: the roots). */
export function listFixtures(paths: string[], configPath?: string) {
  const config = loadRunConfig(configPath);
  const found = discoverBy(suiteRoots({ paths }, config), ".fixture.lua");
  for (const f of found) console.log(`  ${relative(process.cwd(), f) || f}`);
  console.log(`\n${found.length} fixture(s) found`);
}

export async function runSuite(o: RunOptions, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<{ summary: Summary; interrupted: boolean; events: RunEvent[] }> {
  let config = loadRunConfig(o.config);
  if (o.coldBoot) config.warmBoot = false;
  const usage = (m: string) => new UsageError(m);
  const entries = matrixEntries(config, o.matrix, o.kernel, usage);
  const kernel = o.kernel !== undefined ? resolve(o.kernel) : undefined;
  if (!o.list) for (const [k, where] of [...(kernel ? [[kernel, "--kernel"]] : []), ...(entries ?? []).map((e) => [e.kernel, `matrix.kernel.${e.name}`])]) checkKernel(k!, where!, usage);
  if (kernel) config = withKernel(config, kernel);
  const roots = suiteRoots(o, config);
  let files: string[];
  try {
    files = discover(roots);
  } catch (e) {
    throw new UsageError((e as Error).message); // a path that is not there: a sentence, not a stack
  }
  const tagMeta = keyValues("--tag-meta", o.tagMeta);
  const noTagMeta = keyValues("--no-tag-meta", o.skipTagMeta);
  if (o.since) {
    try {
      files = selectSince(files, o.since, config);
    } catch (e) {
      throw e instanceof SinceError ? new UsageError(e.message) : e;
    }
  }
  const timingsPath = o.timings ? resolve(o.timings) : join(config.dir, TIMINGS_FILE);
  const sharded = o.shard ? shardOf(files, o.shard, timingsPath, config.dir) : null;
  if (sharded) files = sharded.files;
  let only: Record<string, string[]> | undefined;
  if (o.rerunFailed) {
    const failed = lastFailures(config);
    if (!failed) throw new UsageError(`--rerun-failed: no record of a previous run (${relative(process.cwd(), statePath(config))})`);
    files = files.filter((f) => f in failed);
    only = Object.fromEntries(Object.entries(failed).filter(([, names]) => names.length));
  }
  let jobs = Number(o.jobs ?? availableParallelism());
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${o.jobs}`);
  // --debug: one file at a time, so that a failure's pause pauses the run and the terminal is the prompt's.
  if (o.debug) jobs = 1;
  const overcommit = Number(o.cpuOvercommit ?? DEFAULT_CPU_OVERCOMMIT);
  if (!(overcommit > 0)) throw new UsageError(`--cpu-overcommit must be a positive number, got ${o.cpuOvercommit}`);
  let memoryMiB: number | undefined;
  try {
    // a bare number here is most likely MiB or GiB meant, not bytes: ask for the unit
    if (o.mem && /^\s*\d+\s*$/.test(o.mem)) throw new Error(`give a unit, e.g. "${o.mem.trim()}M" or "8G", got ${JSON.stringify(o.mem)}`);
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
  const debugConsole = o.debug && !o.list ? new DebugConsole((s) => (human ? human.interject(s) : write(s))) : undefined;
  const emit = (e: RunEvent) => {
    events.push(e);
    if (debugConsole?.stopRequested && e.kind === "test_failed") pool.drain(); // .stop at the prompt
    trackVm(e);
    for (const s of sinks) s.write(e);
    if (o.json) write(JSON.stringify(e) + "\n");
    else human!.onEvent(e);
  };
  emit(event("run_started", { files: files.length, jobs, ...(kernel ? { kernel } : {}), ...(entries ? { matrix_kernels: Object.fromEntries(entries.map((e) => [e.name, e.kernel])) } : {}) }));
  // The shard's files run `jobs` at a time: its wall time is about their sum over the workers.
  if (sharded) emit(event("shard_planned", { ...sharded.info, expected_wall_ms: Math.round(sharded.info.expected_ms! / Math.max(1, Math.min(jobs, sharded.files.length))) }));
  if (!files.length && !o.rerunFailed && !o.since) throw new UsageError(`no *.test.lua files under ${roots.join(", ")}`);
  if (files.length && !o.list) requireHost(config); // no QEMU, no busybox: say so now, not once per file

  sweepStaleRunDirs(); // left by a provium that was SIGKILLed
  sweepStaleRunDirs(SHM); // a boot template maker's memory file
  // Listing boots nothing: no host checks, no KVM probe.
  const accel = files.length && !o.list ? await chooseAccel((o.accel ?? "auto") as never, { cacheDir }) : "tcg";
  const agentDeadlineMs = defaultAgentDeadlineMs(accel, o.bootTimeout ? 1000 * duration("--boot-timeout", o.bootTimeout) : undefined);
  const filterFiles = o.filter ? files.filter((f) => rootRelative(f, roots).includes(o.filter!)) : undefined;
  const selection: Selection = { filter: o.filter, filterFiles, tags: o.tag ?? [], noTags: o.skipTag ?? [], tagMeta, noTagMeta, includeSlow: !!o.includeSlow, only, listOnly: !!o.list };
  const work = entries ? files.flatMap((path) => entries.map((matrix) => ({ path, matrix }))) : files.map((path) => ({ path }));
  const pool = new Pool({
    files: work,
    jobs,
    failFast: o.failFast,
    onEvent: emit,
    capacity,
    debug: debugConsole,
    init: { config, cacheDir, accel, fileTimeoutS, agentDeadlineMs, selection, cids: new SharedArrayBuffer(4), debug: !!debugConsole, gdb: !!o.gdb },
  });

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
    debugConsole?.close();
  }
  emit(event("run_completed", {}));
  const summary = summarize(events);
  if (!o.list) {
    human?.finish(summary);
    saveFailures(config, events);
    // A shard leaves the file it planned from alone: the next shard of the same split must read
    // what this one read. Shards' times are folded in by `provium report merge --timings`.
    if (!sharded) updateTimings(timingsPath, config.dir, fileDurations(events));
  }
  if (o.junit) writeFileSync(o.junit, junitXml(events));
  if (o.benchOut && !o.list) writeBenchOut(o.benchOut, events, accel);
  if (o.html && !o.list) {
    const page = writeHtmlReport(o.html, events);
    if (!o.json) write(`HTML report: ${page}\n`);
  }
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
