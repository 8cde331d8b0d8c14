// A quick pass of the frame fuzzer (the chaos suite runs a million cases a side).
import { expect, test } from "bun:test";
import { fuzzFrames } from "../attacks/frame-fuzz";
import { failed } from "../table";

test("20,000 random and mutated frames a side: no crash, no hang, every request settled by its own reply or a named error", async () => {
  const rows = await fuzzFrames({ cases: 20_000, propertyRuns: 1_000, seed: Date.now() & 0xffff });
  expect(rows.map((r) => [r.attack, r.crashes, r.hangs, r.leaks, r.tries - r.namedFailures, r.notes.slice(1)])).toEqual(
    rows.map((r) => [r.attack, 0, 0, 0, 0, []]),
  );
  expect(rows.some(failed)).toBe(false);
}, 120_000);
