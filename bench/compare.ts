// Compares two results of `bun run bench` (this run against a saved baseline) sample by sample:
// for each measure, a percentile-bootstrap confidence interval of the ratio of medians
// (this run / baseline). Medians and their ratio are robust to the long tails a shared TCG
// machine gives; the interval says how far noise alone could move that ratio.
//
//   slower   the whole interval is above 1      faster   the whole interval is below 1
//   same     the interval holds 1 (the difference is within the noise)
//
// A measure of Provium that has a floor counterpart in the same run (FLOOR_OF, e.g. stat and
// the raw 16 B echo) is compared as its ratio to that floor, run against run: load on the
// machine moves both sides of each run alike, so what is left is Provium's own change. A
// regression is a Provium measure that is slower by more than the threshold at the low end of
// its interval: beyond the noise *and* beyond the threshold. The floor's and the peer's own
// measures are printed as machine drift and never fail a comparison.
//
// The statistics (the bootstrap, seeded so one pair of files always gives the same verdicts) are
// @provium/bench-stats', which `provium bench compare` uses too.
//
// Usage: bun bench/compare.ts BASELINE.json CURRENT.json [--threshold PCT]
//        bun run bench --compare BASELINE.json [--threshold PCT]
import { readFileSync } from "node:fs";
import { bootstrap, CONFIDENCE, median, MIN_SAMPLES, ratioOfMedians, ratioToFloor, seeded, verdictOf, type Interval, type Verdict } from "@provium/bench-stats";
import { FLOOR_OF } from "./pairs";

export const DEFAULT_THRESHOLD_PCT = 20;
export { seeded, bootstrap, ratioOfMedians, ratioToFloor, verdictOf, MIN_SAMPLES, type Interval, type Verdict };

export interface MeasureComparison {
  id: string;
  label: string;
  baseMedian: number;
  curMedian: number;
  /** the floor measure the ratio is taken against, when there is one in both runs */
  floor?: string;
  /** null when a side has fewer than MIN_SAMPLES samples */
  interval: Interval | null;
  verdict: Verdict | null;
  /** a Provium measure slower beyond the noise and the threshold */
  regression: boolean;
}

export interface BenchResult {
  when?: string;
  git?: string;
  mode?: string;
  loadavg?: { start: number[]; end: number[] };
  measurements?: Record<string, { label?: string }>;
  samples: Record<string, number[]>;
}

export function readResult(file: string): BenchResult {
  let json: BenchResult;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`cannot read bench result ${file}: ${(e as Error).message}`);
  }
  if (!json || typeof json.samples !== "object" || json.samples === null) throw new Error(`${file} is not a bench result: it has no "samples" (written by bun run bench)`);
  return json;
}

const usable = (xs: number[] | undefined): xs is number[] => Array.isArray(xs) && xs.length >= MIN_SAMPLES && xs.every((x) => Number.isFinite(x) && x > 0);

/** Every measure present in both runs; thresholdPct: how much slower a regression must at least be. */
export function compareResults(base: BenchResult, cur: BenchResult, thresholdPct = DEFAULT_THRESHOLD_PCT): MeasureComparison[] {
  const out: MeasureComparison[] = [];
  for (const id of Object.keys(cur.samples)) {
    const b = base.samples[id];
    const c = cur.samples[id]!;
    if (!b?.length || !c.length) continue;
    const label = cur.measurements?.[id]?.label ?? base.measurements?.[id]?.label ?? id;
    const row: MeasureComparison = { id, label, baseMedian: median(b), curMedian: median(c), interval: null, verdict: null, regression: false };
    if (usable(b) && usable(c)) {
      const floor = FLOOR_OF[id];
      const bf = floor ? base.samples[floor] : undefined;
      const cf = floor ? cur.samples[floor] : undefined;
      if (floor && usable(bf) && usable(cf)) {
        row.floor = floor;
        row.interval = ratioToFloor(b, bf, c, cf);
      } else row.interval = ratioOfMedians(b, c);
      row.verdict = verdictOf(row.interval);
      row.regression = id.startsWith("p.") && row.verdict === "slower" && row.interval.lo > 1 + thresholdPct / 100;
    }
    out.push(row);
  }
  return out;
}

const ms = (x: number) => (x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const pct = (r: number) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}%`;

function describe(r: MeasureComparison): string {
  if (!r.interval) return `n/a (fewer than ${MIN_SAMPLES} samples)`;
  const i = r.interval;
  const conf = r.verdict === "slower" ? i.pSlower : r.verdict === "faster" ? 1 - i.pSlower : Math.max(i.pSlower, 1 - i.pSlower);
  const how = r.verdict === "same" ? `same (${(conf * 100).toFixed(0)}% of resamples on one side)` : `${r.verdict} (${(conf * 100).toFixed(1)}%)`;
  return r.regression ? `**REGRESSION** ${how}` : how;
}

/** The comparison as markdown tables: Provium's measures, then the references (machine drift). */
export function formatComparison(rows: MeasureComparison[], base: BenchResult, cur: BenchResult, thresholdPct: number): string {
  const load = (r: BenchResult) => (r.loadavg ? `load ${r.loadavg.start[0]!.toFixed(1)} -> ${r.loadavg.end[0]!.toFixed(1)}` : "load unknown");
  const lines = [
    `Compared with ${base.when ?? "?"} (${base.git || "?"}, ${base.mode ?? "?"}, ${load(base)}); this run ${cur.when ?? "?"} (${cur.git || "?"}, ${load(cur)}).`,
    `Ratio = this run / baseline (of medians; "vs floor": of each run's ratio to its floor measure), ${CONFIDENCE * 100}% bootstrap interval;`,
    `a regression is a Provium measure whose interval starts above +${thresholdPct}%.`,
    "",
  ];
  const table = (title: string, subset: MeasureComparison[]) => {
    if (!subset.length) return;
    lines.push(`| ${title} | baseline ms | this run ms | ratio | ${CONFIDENCE * 100}% interval | verdict |`, "|---|--:|--:|--:|--:|---|");
    for (const r of subset) {
      const i = r.interval;
      const ratio = i ? `${pct(i.value)}${r.floor ? " vs floor" : ""}` : pct(r.curMedian / r.baseMedian);
      lines.push(`| ${r.label} | ${ms(r.baseMedian)} | ${ms(r.curMedian)} | ${ratio} | ${i ? `${pct(i.lo)} .. ${pct(i.hi)}` : ""} | ${describe(r)} |`);
    }
    lines.push("");
  };
  table("Provium", rows.filter((r) => r.id.startsWith("p.")));
  table("references (machine drift, never a regression)", rows.filter((r) => !r.id.startsWith("p.")));
  const bad = rows.filter((r) => r.regression);
  lines.push(bad.length ? `REGRESSION: ${bad.map((r) => `${r.label} ${pct(r.interval!.value)} (interval from ${pct(r.interval!.lo)})`).join("; ")}` : "no regression beyond the noise and the threshold");
  return lines.join("\n");
}

/** `--threshold PCT` from argv, else the default; a bad value is an error naming it. */
export function thresholdArg(argv: string[]): number {
  const at = argv.indexOf("--threshold");
  if (at < 0) return DEFAULT_THRESHOLD_PCT;
  const v = Number(argv[at + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--threshold takes a percentage >= 0, got ${JSON.stringify(argv[at + 1] ?? "")}`);
  return v;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--threshold");
  if (files.length !== 2) {
    console.error("usage: bun bench/compare.ts BASELINE.json CURRENT.json [--threshold PCT]");
    process.exit(2);
  }
  const threshold = thresholdArg(args);
  const [base, cur] = files.map(readResult) as [BenchResult, BenchResult];
  const rows = compareResults(base, cur, threshold);
  console.log(formatComparison(rows, base, cur, threshold));
  process.exit(rows.some((r) => r.regression) ? 1 : 0);
}
