// compareSamples on synthetic samples: a change counts only when the whole interval is past the
// threshold, in the direction `better` says is worse.
import { expect, test } from "bun:test";
import { compareSamples, seeded } from "../src/index";

/** n samples around `median`: log-normal spread (sigma 0.1 unless given). */
function noisy(n: number, median: number, seed: number, sigma = 0.1): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())));
}

test("the same distribution: no change", () => {
  const c = compareSamples(noisy(20, 100, 1), noisy(20, 100, 2), 10);
  expect(c.change).toBeNull();
  expect(c.interval!.lo).toBeLessThan(1.1);
});

test("30% slower is a regression for a time, an improvement for a throughput", () => {
  expect(compareSamples(noisy(20, 100, 3), noisy(20, 130, 4), 10).change).toBe("regression");
  expect(compareSamples(noisy(20, 100, 3), noisy(20, 130, 4), 10, "higher").change).toBe("improvement");
  expect(compareSamples(noisy(20, 130, 4), noisy(20, 100, 3), 10, "higher").change).toBe("regression");
});

test("a change smaller than the threshold is not one, however sure", () => {
  const c = compareSamples(noisy(50, 100, 5, 0.01), noisy(50, 105, 6, 0.01), 10);
  expect(c.verdict).toBe("slower");
  expect(c.change).toBeNull();
});

test("too few samples are reported, not judged", () => {
  const c = compareSamples([1, 2, 3], [4, 5, 6], 10);
  expect(c.interval).toBeNull();
  expect(c.change).toBeNull();
  expect(c.curMedian).toBe(5);
});
