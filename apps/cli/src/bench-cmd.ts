// `provium bench compare BASE NEW`: each benchmark's median change between two --bench-out
// files, with a bootstrap confidence interval (@provium/bench-stats); `--by kernel` compares the
// matrix entries of one file instead. A regression (worse beyond the noise and by more than
// --threshold) makes the exit status 1; an improvement as large is reported and passes.
import { existsSync, readFileSync } from "node:fs";
import { CONFIDENCE, compareSamples, MIN_SAMPLES, type SampleComparison } from "@provium/bench-stats";
import { BENCH_FORMAT, benchLabel, type BenchFile, type BenchRecord } from "./report/bench-out";
import { UsageError } from "./run";

export const DEFAULT_THRESHOLD_PCT = 10;

export interface CompareOptions {
  threshold?: string;
  by?: string;
  base?: string;
}

interface Row extends SampleComparison {
  label: string;
  unit: string;
}

export function readBenchFile(path: string): BenchFile {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file (write one with --bench-out)`);
  let json: BenchFile;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`${path}: not JSON: ${(e as Error).message}`);
  }
  if (json?.format !== BENCH_FORMAT || !Array.isArray(json.benchmarks)) throw new UsageError(`${path} is not a benchmark file (format ${BENCH_FORMAT}, written by --bench-out)`);
  return json;
}

function thresholdOf(v: string | undefined): number {
  if (v === undefined) return DEFAULT_THRESHOLD_PCT;
  const n = Number(String(v).replace(/%$/, ""));
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--threshold takes a percentage >= 0 (e.g. 10 or 10%), got ${JSON.stringify(v)}`);
  return n;
}

function row(label: string, base: BenchRecord, cur: BenchRecord, thresholdPct: number): Row {
  if (base.unit !== cur.unit) throw new UsageError(`${label}: the units differ (${base.unit || "none"} against ${cur.unit || "none"}): not the same benchmark`);
  return { label, unit: cur.unit, ...compareSamples(base.samples, cur.samples, thresholdPct, cur.better) };
}

/** The rows of a comparison: two files benchmark by benchmark, or (`by` = "kernel") one file's matrix entries against a base entry. */
export function compareBenchFiles(files: BenchFile[], o: CompareOptions): { rows: Row[]; notes: string[]; thresholdPct: number } {
  const thresholdPct = thresholdOf(o.threshold);
  const rows: Row[] = [];
  const notes: string[] = [];
  if (o.by !== undefined) {
    if (o.by !== "kernel") throw new UsageError(`--by takes kernel, got ${JSON.stringify(o.by)}`);
    if (files.length !== 1) throw new UsageError("--by kernel compares the matrix entries of one file: give one --bench-out file");
    const groups = new Map<string, BenchRecord[]>();
    for (const b of files[0]!.benchmarks) {
      if (!b.matrix) continue;
      const key = `${b.file} › ${b.name}`;
      groups.set(key, [...(groups.get(key) ?? []), b]);
    }
    if (!groups.size) throw new UsageError("--by kernel: the file has no benchmarks run under a matrix entry (run with a [matrix] in provium.toml)");
    for (const [key, recs] of groups) {
      const base = o.base !== undefined ? recs.find((r) => r.matrix === o.base) : recs[0];
      if (!base) throw new UsageError(`--base ${o.base}: ${key} has no such entry (it has ${recs.map((r) => r.matrix).join(", ")})`);
      for (const r of recs) if (r !== base) rows.push(row(`${key}: [${r.matrix}] vs [${base.matrix}]`, base, r, thresholdPct));
    }
    return { rows, notes, thresholdPct };
  }
  if (files.length !== 2) throw new UsageError("bench compare takes BASE and NEW (two --bench-out files), or one file with --by kernel");
  const [base, cur] = files as [BenchFile, BenchFile];
  const byLabel = new Map(base.benchmarks.map((b) => [benchLabel(b), b]));
  for (const c of cur.benchmarks) {
    const label = benchLabel(c);
    const b = byLabel.get(label);
    if (!b) notes.push(`${label}: only in NEW`);
    else rows.push(row(label, b, c, thresholdPct));
    byLabel.delete(label);
  }
  for (const label of byLabel.keys()) notes.push(`${label}: only in BASE`);
  if (base.accel !== cur.accel) notes.push(`the accelerators differ (${base.accel} against ${cur.accel}): the times are not comparable`);
  return { rows, notes, thresholdPct };
}

const num = (x: number) => (Math.abs(x) < 1 ? x.toPrecision(3) : x < 100 ? x.toFixed(2) : x.toFixed(0));
const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;

export function formatRows(rows: Row[], notes: string[], thresholdPct: number): string {
  const lines = [`change = NEW median / BASE median; ${CONFIDENCE * 100}% bootstrap interval; significant beyond ±${thresholdPct}% when the whole interval is past it`, ""];
  for (const r of rows) {
    const unit = r.unit ? ` ${r.unit}` : "";
    const i = r.interval;
    const verdict = !i ? `not judged (fewer than ${MIN_SAMPLES} samples)` : r.change === "regression" ? "REGRESSION" : r.change === "improvement" ? "improvement" : r.verdict === "same" ? "same (within the noise)" : `${r.verdict}, within ±${thresholdPct}%`;
    const change = i ? `${pct(i.value)} [${pct(i.lo)} .. ${pct(i.hi)}]` : pct(r.curMedian / r.baseMedian);
    lines.push(`${r.label}: ${num(r.baseMedian)}${unit} -> ${num(r.curMedian)}${unit}  ${change}  ${verdict}`);
  }
  for (const n of notes) lines.push(`note: ${n}`);
  const bad = rows.filter((r) => r.change === "regression");
  lines.push("", bad.length ? `${bad.length} regression${bad.length > 1 ? "s" : ""} beyond ${thresholdPct}%: ${bad.map((r) => r.label).join("; ")}` : `no regression beyond ${thresholdPct}%`);
  return lines.join("\n");
}

/** The command: prints the comparison, returns the exit status (1: a regression). */
export function benchCompare(paths: string[], o: CompareOptions, write: (s: string) => void = (s) => process.stdout.write(s)): number {
  const { rows, notes, thresholdPct } = compareBenchFiles(paths.map(readBenchFile), o);
  write(formatRows(rows, notes, thresholdPct) + "\n");
  return rows.some((r) => r.change === "regression") ? 1 : 0;
}
