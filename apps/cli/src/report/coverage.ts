// `provium coverage --by KEY`: saved events grouped by a meta key (upstream's provium-coverage).
// A string value is one bucket, a list of strings one bucket per element (a test covering
// several rows counts toward each), anything else `<unset>`. Passed, failed and skipped
// tests are counted; a bucket's tests ran = passed + failed.
import type { RunEvent } from "../events";

export interface Bucket {
  passed: number;
  failed: number;
  skipped: number;
}

export interface Coverage {
  buckets: Map<string, Bucket>; // sorted by name
  uncategorised: Bucket;
}

const OUTCOMES = { test_passed: "passed", test_failed: "failed", test_skipped: "skipped" } as const;

function bucketNames(meta: Record<string, unknown> | undefined, key: string): string[] {
  const v = meta?.[key];
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return [];
}

export function coverage(events: Iterable<RunEvent>, key: string): Coverage {
  const found = new Map<string, Bucket>();
  const uncategorised: Bucket = { passed: 0, failed: 0, skipped: 0 };
  for (const e of events) {
    const outcome = OUTCOMES[e.kind as keyof typeof OUTCOMES];
    if (!outcome) continue;
    const names = bucketNames(e.meta, key);
    if (!names.length) uncategorised[outcome]++;
    for (const n of names) {
      if (!found.has(n)) found.set(n, { passed: 0, failed: 0, skipped: 0 });
      found.get(n)![outcome]++;
    }
  }
  const buckets = new Map([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { buckets, uncategorised };
}

const total = (b: Bucket) => b.passed + b.failed + b.skipped;
const counts = (b: Bucket) => `${total(b)} tests (${b.passed} passed, ${b.failed} failed, ${b.skipped} skipped)`;

/** Upstream's plain report, line for line. */
export function renderCoverage(c: Coverage, key: string): string {
  const lines = [`coverage by \`${key}\`:`];
  for (const [k, b] of c.buckets) lines.push(`  ${k}: ${counts(b)}`);
  if (total(c.uncategorised)) lines.push(`  <unset>: ${counts(c.uncategorised)}`);
  const sum = [...c.buckets.values(), c.uncategorised].reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped }));
  lines.push("  ---", `  buckets: ${c.buckets.size}; ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
  return lines.join("\n");
}

/** Upstream's JSON shape: {"buckets": {name: {passed, failed, skipped}}, "uncategorised": {...}}. */
export function coverageJson(c: Coverage): string {
  return JSON.stringify({ buckets: Object.fromEntries(c.buckets), uncategorised: c.uncategorised });
}
