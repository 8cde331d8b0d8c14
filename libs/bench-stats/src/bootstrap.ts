// The ratio of two sample sets' medians (new / base) with a percentile-bootstrap confidence
// interval. Medians and their ratio are robust to the long tails a shared (TCG) machine gives;
// the interval says how far noise alone could move the ratio.
//
//   slower   the whole interval is above 1      faster   the whole interval is below 1
//   same     the interval holds 1 (the difference is within the noise)
//
// The resampling is simple-statistics' sampleWithReplacement driven by a seeded generator, so
// one pair of sample sets always gives the same verdict.
import { medianSorted, quantileSorted, sampleWithReplacement } from "simple-statistics";

const RESAMPLES = 2000;
export const CONFIDENCE = 0.95;
/** Fewer samples than this on a side are reported, never judged. */
export const MIN_SAMPLES = 5;

export type Verdict = "faster" | "same" | "slower";

export interface Interval {
  /** the statistic on the samples as they are */
  value: number;
  lo: number;
  hi: number;
  /** share of resamples in which the statistic was > 1 */
  pSlower: number;
}

/** A small seeded generator (mulberry32): resampling must not make verdicts flip run to run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A typed array sorts numerically without a comparator call per step (2,000 resamples of 300).
export const median = (xs: readonly number[]) => medianSorted(Float64Array.from(xs).sort() as unknown as number[]);

/**
 * Percentile bootstrap of a statistic of the medians of several independent sample sets: each
 * set is resampled with replacement on its own, `resamples` times.
 */
export function bootstrap(sets: readonly number[][], stat: (medians: number[]) => number, resamples = RESAMPLES, seed = 1): Interval {
  const random = seeded(seed);
  const values: number[] = [];
  for (let i = 0; i < resamples; i++) values.push(stat(sets.map((s) => median(sampleWithReplacement(s, s.length, random)))));
  values.sort((a, b) => a - b);
  const tail = (1 - CONFIDENCE) / 2;
  return {
    value: stat(sets.map(median)),
    lo: quantileSorted(values, tail),
    hi: quantileSorted(values, 1 - tail),
    pSlower: values.filter((v) => v > 1).length / values.length,
  };
}

/** The new median over the base's, with its interval. */
export function ratioOfMedians(base: number[], cur: number[], seed = 1): Interval {
  return bootstrap([base, cur], ([b, c]) => c! / b!, RESAMPLES, seed);
}

/** (new median / its floor's) over (base's / its floor's): load that moves both sides cancels. */
export function ratioToFloor(base: number[], baseFloor: number[], cur: number[], curFloor: number[], seed = 1): Interval {
  return bootstrap([base, baseFloor, cur, curFloor], ([b, bf, c, cf]) => c! / cf! / (b! / bf!), RESAMPLES, seed);
}

export function verdictOf(i: Interval): Verdict {
  return i.lo > 1 ? "slower" : i.hi < 1 ? "faster" : "same";
}

/** Which way is worse: a time is better lower, a throughput higher. */
export type Better = "lower" | "higher";

export interface SampleComparison {
  baseMedian: number;
  curMedian: number;
  /** null when a side has fewer than MIN_SAMPLES usable samples */
  interval: Interval | null;
  verdict: Verdict | null;
  /**
   * "regression": worse beyond the noise and by more than the threshold (the whole interval is
   * past it); "improvement" the same the other way; null otherwise.
   */
  change: "regression" | "improvement" | null;
}

const usable = (xs: readonly number[]) => xs.length >= MIN_SAMPLES && xs.every((x) => Number.isFinite(x) && x > 0);

/** base against cur: their medians, the ratio's interval, and whether it is a significant change beyond thresholdPct. */
export function compareSamples(base: number[], cur: number[], thresholdPct: number, better: Better = "lower"): SampleComparison {
  const row: SampleComparison = { baseMedian: median(base), curMedian: median(cur), interval: null, verdict: null, change: null };
  if (!usable(base) || !usable(cur)) return row;
  const i = (row.interval = ratioOfMedians(base, cur));
  row.verdict = verdictOf(i);
  const up = i.lo > 1 + thresholdPct / 100; // surely grew by more than the threshold
  const down = i.hi < 1 / (1 + thresholdPct / 100); // surely shrank by as much
  if (up) row.change = better === "lower" ? "regression" : "improvement";
  else if (down) row.change = better === "lower" ? "improvement" : "regression";
  return row;
}
