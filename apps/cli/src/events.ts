// Events are the one record of a run; reporters only consume them.
import type { OpRecord } from "@provium/host-runtime";

export const EVENTS_VERSION = 1;

export type EventKind =
  | "run_started"
  | "run_completed"
  | "shard_planned"
  | "file_dispatched"
  | "file_completed"
  | "file_error"
  | "test_started"
  | "test_passed"
  | "test_failed"
  | "test_skipped"
  | "log"
  | "progress"
  | "vm_spawned"
  | "vm_shutdown"
  | "vm_booted"
  | "test_listed"
  | "fixture_build_started"
  | "fixture_build_done"
  | "fixture_cache_hit"
  /** a benchmark's samples (bench(...) in Lua): test, unit, better, samples */
  | "bench_result"
  | "attachment";

export interface RunEvent {
  v: number;
  kind: EventKind;
  ts: number; // ms since the epoch
  file?: string;
  test?: string;
  meta?: Record<string, unknown>;
  reason?: string;
  traceback?: string;
  duration_ms?: number;
  consoles?: { vm: string; tail: string }[];
  /** On a test's end event: its VM ops, timed; on file_completed / file_error: the file's top-level ones. */
  timeline?: OpRecord[];
  /** How many of the oldest ops the timeline left out (it keeps the last TIMELINE_MAX). */
  timeline_dropped?: number;
  message?: string;
  [extra: string]: unknown;
}

export function event(kind: EventKind, fields: Omit<RunEvent, "v" | "kind" | "ts"> = {}): RunEvent {
  return { v: EVENTS_VERSION, kind, ts: Date.now(), ...fields };
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  files: number;
  durationMs: number;
  /** per matrix entry, when the run had a matrix */
  byMatrix?: Record<string, { passed: number; failed: number; skipped: number }>;
}

/** Folds events into the run's summary; any consumer (and a replay) gets the same counts. */
export function summarize(events: Iterable<RunEvent>): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, files: 0, durationMs: 0 };
  let start = 0;
  for (const e of events) {
    if (e.matrix && (e.kind === "test_passed" || e.kind === "test_failed" || e.kind === "file_error" || e.kind === "test_skipped")) {
      const m = ((s.byMatrix ??= {})[String(e.matrix)] ??= { passed: 0, failed: 0, skipped: 0 });
      if (e.kind === "test_passed") m.passed++;
      else if (e.kind === "test_skipped") m.skipped++;
      else m.failed++;
    }
    if (e.kind === "test_passed") s.passed++;
    else if (e.kind === "test_failed" || e.kind === "file_error") s.failed++;
    else if (e.kind === "test_skipped") s.skipped++;
    else if (e.kind === "file_completed") s.files++;
    else if (e.kind === "run_started") start = e.ts;
    else if (e.kind === "run_completed") s.durationMs = e.ts - start;
  }
  return s;
}
