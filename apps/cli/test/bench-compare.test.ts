// `provium bench compare` on hand-made --bench-out files (the real-guest runs are in
// bench.test.ts): matching by file, matrix entry and name, --by kernel, and bad input.
import { describe, expect, test } from "bun:test";
import { compareBenchFiles, formatRows } from "../src/bench-cmd";
import { BENCH_FORMAT, type BenchFile, type BenchRecord } from "../src/report/bench-out";

const spread = (m: number) => [0.97, 0.99, 1, 1.01, 1.02, 0.98, 1.03, 1].map((f) => f * m);
const rec = (name: string, median: number, extra: Partial<BenchRecord> = {}): BenchRecord => ({ file: "x.test.lua", kernel: "default", name, unit: "ms", better: "lower", samples: spread(median), ...extra });
const file = (benchmarks: BenchRecord[]): BenchFile => ({ format: BENCH_FORMAT, when: "", host: { name: "h", cpu: "c", cores: 2, os: "l" }, accel: "tcg", benchmarks });

describe("bench compare", () => {
  test("two files: a regression beyond the threshold, the rest unchanged, one-sided benchmarks noted", () => {
    const { rows, notes, thresholdPct } = compareBenchFiles([file([rec("a", 100), rec("b", 50), rec("gone", 1)]), file([rec("a", 130), rec("b", 50), rec("new", 1)])], {});
    expect(thresholdPct).toBe(10);
    expect(rows.map((r) => [r.label, r.change])).toEqual([["x.test.lua › a", "regression"], ["x.test.lua › b", null]]);
    expect(notes).toEqual(["x.test.lua › new: only in NEW", "x.test.lua › gone: only in BASE"]);
    const text = formatRows(rows, notes, thresholdPct);
    expect(text).toMatch(/x\.test\.lua › a: 100 ms -> 130 ms {2}\+30\.0% \[.*\] {2}REGRESSION/);
    expect(text).toContain("1 regression beyond 10%: x.test.lua › a");
  });

  test("--by kernel: each entry against the first (or --base)", () => {
    const one = file([rec("a", 100, { matrix: "lts", kernel: "/k/lts" }), rec("a", 140, { matrix: "next", kernel: "/k/next" })]);
    const { rows } = compareBenchFiles([one], { by: "kernel" });
    expect(rows.map((r) => [r.label, r.change])).toEqual([["x.test.lua › a: [next] vs [lts]", "regression"]]);
    const back = compareBenchFiles([one], { by: "kernel", base: "next" }).rows;
    expect(back.map((r) => [r.label, r.change])).toEqual([["x.test.lua › a: [lts] vs [next]", "improvement"]]);
    expect(() => compareBenchFiles([one], { by: "kernel", base: "rc" })).toThrow("--base rc: x.test.lua › a has no such entry (it has lts, next)");
    expect(() => compareBenchFiles([file([rec("a", 1)])], { by: "kernel" })).toThrow("no benchmarks run under a matrix entry");
    expect(() => compareBenchFiles([one, one], { by: "kernel" })).toThrow("give one --bench-out file");
  });

  test("bad input is named", () => {
    expect(() => compareBenchFiles([file([]), file([])], { threshold: "ten" })).toThrow('--threshold takes a percentage >= 0 (e.g. 10 or 10%), got "ten"');
    expect(() => compareBenchFiles([file([rec("a", 1)]), file([rec("a", 1, { unit: "MB/s" })])], {})).toThrow("x.test.lua › a: the units differ (ms against MB/s)");
    expect(() => compareBenchFiles([file([])], {})).toThrow("bench compare takes BASE and NEW");
    expect(() => compareBenchFiles([file([])], { by: "host" })).toThrow("--by takes kernel");
  });
});
