// @provium/bench-stats: is one set of benchmark samples different from another, beyond the
// noise? Shared by `bun run bench --compare` (bench/compare.ts) and `provium bench compare`.
export { seeded, median, bootstrap, ratioOfMedians, ratioToFloor, verdictOf, compareSamples, CONFIDENCE, MIN_SAMPLES, type Interval, type Verdict, type SampleComparison, type Better } from "./bootstrap";
