// --shard i/n, balanced by time: files go to shards by the durations earlier runs took (the
// timings file), longest first, each to the shard with the least expected time so far (LPT).
// Every runner computes the same split from the same file list and timings: ties break by
// path and by shard number, never by anything local to the runner.
import { existsSync, readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { median } from "@provium/bench-stats";
import { atomicWriteFile } from "@provium/vmm";
import type { RunEvent } from "../events";

export const TIMINGS_FILE = "provium-timings.json";

/** File durations in ms, by path relative to the project dir (so every checkout agrees). */
export interface Timings {
  version: 1;
  files: Record<string, number>;
}

export interface ShardSpec {
  index: number; // 1-based
  count: number;
}

export interface ShardPlan {
  files: string[];
  /** expected ms of each shard, in shard order */
  expectedMs: number[];
  /** how many files had no recorded time (each counted as the median of the known) */
  unknown: number;
}

export function parseShard(spec: string): ShardSpec | null {
  const m = spec.match(/^(\d+)\/(\d+)$/);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  return m && count >= 1 && index >= 1 && index <= count ? { index, count } : null;
}

export function readTimings(path: string): Timings {
  if (!existsSync(path)) return { version: 1, files: {} };
  let t: Timings;
  try {
    t = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not a timings file (${(e as Error).message}); delete it to start afresh`);
  }
  const ok = t && t.version === 1 && t.files && typeof t.files === "object" && Object.values(t.files).every((v) => typeof v === "number" && v >= 0);
  if (!ok) throw new Error(`${path}: not a timings file (want {"version": 1, "files": {"path": ms}}); delete it to start afresh`);
  return t;
}

/** Splits `files` (absolute paths) into `count` shards; returns shard `index`'s files. */
export function planShard(files: string[], timings: Timings, projectDir: string, shard: ShardSpec): ShardPlan {
  const key = (f: string) => relative(projectDir, f);
  const known = files.map((f) => timings.files[key(f)]).filter((v): v is number => v !== undefined);
  const fallback = known.length ? median(known) : 1; // nothing known: every file weighs the same
  const weighted = files.map((f) => ({ f, ms: timings.files[key(f)] ?? fallback }));
  weighted.sort((a, b) => b.ms - a.ms || (key(a.f) < key(b.f) ? -1 : key(a.f) > key(b.f) ? 1 : 0));
  const load = new Array<number>(shard.count).fill(0);
  const mine: string[] = [];
  for (const { f, ms } of weighted) {
    let best = 0;
    for (let s = 1; s < shard.count; s++) if (load[s]! < load[best]!) best = s;
    load[best]! += ms;
    if (best === shard.index - 1) mine.push(f);
  }
  return { files: mine.sort(), expectedMs: load, unknown: files.length - known.length };
}

/** max over mean of the shards' expected times: 1.00 is a perfect split. */
export function spread(expectedMs: number[]): number {
  const mean = expectedMs.reduce((a, b) => a + b, 0) / expectedMs.length;
  return mean > 0 ? Math.max(...expectedMs) / mean : 1;
}

/** How long each file took in these events (dispatch to completion), by absolute path. */
export function fileDurations(events: Iterable<RunEvent>, cwd = process.cwd()): Map<string, number> {
  const started = new Map<string, number>();
  const took = new Map<string, number>();
  for (const e of events) {
    if (!e.file) continue;
    const abs = resolve(cwd, e.file);
    if (e.kind === "file_dispatched") started.set(abs, e.ts);
    else if (e.kind === "file_completed" && started.has(abs)) took.set(abs, e.ts - started.get(abs)!);
  }
  return took;
}

/** The timings file with these durations folded in (files not run keep their old time). */
export function updateTimings(path: string, projectDir: string, durations: Map<string, number>): void {
  if (!durations.size) return;
  const t = existsSync(path) ? readTimingsOrEmpty(path) : { version: 1 as const, files: {} };
  for (const [abs, ms] of durations) t.files[relative(projectDir, abs)] = ms;
  t.files = Object.fromEntries(Object.entries(t.files).sort(([a], [b]) => (a < b ? -1 : 1)));
  atomicWriteFile(path, JSON.stringify(t, null, 2) + "\n");
}

function readTimingsOrEmpty(path: string): Timings {
  try {
    return readTimings(path);
  } catch {
    return { version: 1, files: {} }; // a broken file is replaced by what this run measured
  }
}
