// `provium report merge`: one run's events out of the saved events of its shards (or any runs
// of disjoint files), so that every reporter sees one run whose totals are the shards' sums.
import { event, type RunEvent } from "../events";

export interface Merged {
  events: RunEvent[];
  /** files that more than one input ran (the shards overlapped): named in a warning */
  overlapping: string[];
}

export function mergeRuns(runs: { name: string; events: RunEvent[] }[]): Merged {
  const byFile = new Map<string, string>();
  const overlapping = new Set<string>();
  let started = Infinity;
  let completed = 0;
  let files = 0;
  const body: RunEvent[] = [];
  for (const run of runs) {
    for (const e of run.events) {
      if (e.kind === "run_started") {
        started = Math.min(started, e.ts);
        files += Number(e.files ?? 0);
      } else if (e.kind === "run_completed") completed = Math.max(completed, e.ts);
      else body.push({ ...e, shard: e.shard ?? run.name });
      if (e.kind === "file_dispatched" && e.file) {
        const seen = byFile.get(e.file);
        if (seen !== undefined && seen !== run.name) overlapping.add(e.file);
        byFile.set(e.file, run.name);
      }
    }
  }
  if (!runs.length || started === Infinity) throw new Error("report merge: no run_started event in the inputs (are they files saved with --save-events?)");
  body.sort((a, b) => a.ts - b.ts); // stable: each shard's own order is kept among equal stamps
  return {
    events: [{ ...event("run_started", { files, shards: runs.length }), ts: started }, ...body, { ...event("run_completed", {}), ts: completed || started }],
    overlapping: [...overlapping].sort(),
  };
}
