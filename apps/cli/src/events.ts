// Events are the one record of a run; reporters only consume them.
export const EVENTS_VERSION = 1;

export type EventKind =
  | "run_started"
  | "run_completed"
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
  | "fixture_cache_hit";

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
}

/** Folds events into the run's summary; any consumer (and a replay) gets the same counts. */
export function summarize(events: Iterable<RunEvent>): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, files: 0, durationMs: 0 };
  let start = 0;
  for (const e of events) {
    if (e.kind === "test_passed") s.passed++;
    else if (e.kind === "test_failed" || e.kind === "file_error") s.failed++;
    else if (e.kind === "test_skipped") s.skipped++;
    else if (e.kind === "file_completed") s.files++;
    else if (e.kind === "run_started") start = e.ts;
    else if (e.kind === "run_completed") s.durationMs = e.ts - start;
  }
  return s;
}
