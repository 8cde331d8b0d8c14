// bench/compare.ts on synthetic samples: noisy (log-normal, with outliers as on a loaded
// machine) samples of one distribution compare as "same"; shifted ones as slower or faster.
import { describe, expect, test } from "bun:test";
import { compareResults, formatComparison, ratioOfMedians, ratioToFloor, seeded, thresholdArg, verdictOf, type BenchResult } from "./compare";

/** n samples around `median` ms: log-normal spread (sigma 0.25) plus 5% outliers up to 4x. */
function noisy(n: number, median: number, seed: number): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const x = median * Math.exp(0.25 * z);
    return r() < 0.05 ? x * (1 + 3 * r()) : x;
  });
}

const result = (samples: Record<string, number[]>): BenchResult => ({ samples });

describe("ratio of medians", () => {
  test("the same distribution is 'same' (as often as a 95% interval says), and never beyond +10%", () => {
    let same = 0;
    for (let s = 0; s < 40; s++) {
      const i = ratioOfMedians(noisy(60, 5, 100 + s), noisy(60, 5, 200 + s));
      if (verdictOf(i) === "same") same++;
      expect(i.lo).toBeLessThan(1.1);
      expect(i.hi).toBeGreaterThan(1 / 1.1);
    }
    expect(same).toBeGreaterThanOrEqual(35);
  });

  test("a 30% shift is 'slower', its inverse 'faster', and the interval holds the shift", () => {
    const base = noisy(60, 5, 1);
    const slow = noisy(60, 6.5, 2);
    const i = ratioOfMedians(base, slow);
    expect(verdictOf(i)).toBe("slower");
    expect(i.lo).toBeGreaterThan(1);
    expect(i.lo).toBeLessThan(1.3);
    expect(i.hi).toBeGreaterThan(1.3);
    expect(i.pSlower).toBeGreaterThan(0.99);
    expect(verdictOf(ratioOfMedians(slow, base))).toBe("faster");
  });

  test("the same files give the same interval (seeded resampling)", () => {
    const a = noisy(40, 3, 7), b = noisy(40, 3.3, 8);
    expect(ratioOfMedians(a, b)).toEqual(ratioOfMedians(a, b));
  });

  test("against the floor: load that slows both sides alike is 'same'; Provium alone slower is 'slower'", () => {
    const p = noisy(60, 5, 11), f = noisy(60, 0.25, 12);
    const loadedP = noisy(60, 7, 13), loadedF = noisy(60, 0.35, 14); // everything 40% slower
    expect(verdictOf(ratioOfMedians(p, loadedP))).toBe("slower");
    expect(verdictOf(ratioToFloor(p, f, loadedP, loadedF))).toBe("same");
    expect(verdictOf(ratioToFloor(p, f, noisy(60, 7, 15), noisy(60, 0.25, 16)))).toBe("slower");
  });
});

describe("compareResults", () => {
  const base = result({ "p.run_true": noisy(60, 15, 21), "p.stat": noisy(300, 0.4, 22), "f.echo16": noisy(300, 0.2, 23), "p.boot": [5000, 5100], "f.ping": noisy(30, 0.3, 24) });

  test("two runs of one distribution: every measure 'same', no regression", () => {
    const cur = result({ "p.run_true": noisy(60, 15, 31), "p.stat": noisy(300, 0.4, 32), "f.echo16": noisy(300, 0.2, 33), "p.boot": [5050, 4990], "f.ping": noisy(30, 0.3, 34) });
    const rows = compareResults(base, cur);
    expect(rows.filter((r) => r.interval).map((r) => [r.id, r.verdict])).toEqual([["p.run_true", "same"], ["p.stat", "same"], ["f.echo16", "same"], ["f.ping", "same"]]);
    expect(rows.some((r) => r.regression)).toBe(false);
    expect(rows.find((r) => r.id === "p.stat")!.floor).toBe("f.echo16");
    expect(rows.find((r) => r.id === "p.boot")!.interval).toBeNull(); // 2 samples: reported, not judged
  });

  test("a slowed exec path is a regression; a slower floor alone is drift, not one", () => {
    const cur = result({ "p.run_true": noisy(60, 21, 41), "p.stat": noisy(300, 0.4, 42), "f.echo16": noisy(300, 0.2, 43), "f.ping": noisy(30, 0.6, 44) });
    const rows = compareResults(base, cur);
    const run = rows.find((r) => r.id === "p.run_true")!;
    expect([run.verdict, run.regression]).toEqual(["slower", true]);
    const ping = rows.find((r) => r.id === "f.ping")!;
    expect([ping.verdict, ping.regression]).toEqual(["slower", false]);
    expect(formatComparison(rows, base, cur, 10)).toContain("REGRESSION: p.run_true +");
  });

  test("slower within the threshold is reported as slower but does not fail", () => {
    const cur = result({ "p.run_true": noisy(400, 16.2, 51) });
    const b = result({ "p.run_true": noisy(400, 15, 52) });
    const [row] = compareResults(b, cur, 20);
    expect(row!.verdict).toBe("slower");
    expect(row!.regression).toBe(false);
    expect(compareResults(b, cur, 1)[0]!.regression).toBe(true);
  });
});

test("--threshold: a percentage, else an error naming the value", () => {
  expect(thresholdArg(["--quick"])).toBe(20);
  expect(thresholdArg(["--threshold", "25"])).toBe(25);
  expect(() => thresholdArg(["--threshold", "fast"])).toThrow('--threshold takes a percentage >= 0, got "fast"');
});
