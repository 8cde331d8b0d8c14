// The chaos suite's closing table: one row per attack, and what makes the run fail.
export interface AttackResult {
  attack: string;
  tries: number;
  /** Tries that failed (or were refused) with a named cause, or passed as they should. */
  namedFailures: number;
  crashes: number;
  hangs: number;
  /** Left behind: QEMU processes, temp files, stale locks, cross-wired replies. */
  leaks: number;
  peakMiB: number;
  notes: string[];
}

/** A row with nothing counted yet. */
export const newRow = (attack: string): AttackResult => ({ attack, tries: 0, namedFailures: 0, crashes: 0, hangs: 0, leaks: 0, peakMiB: 0, notes: [] });

export const failed = (r: AttackResult) => r.crashes > 0 || r.hangs > 0 || r.leaks > 0 || r.namedFailures < r.tries;

export function printTable(rows: AttackResult[], write = (s: string) => process.stdout.write(s)) {
  const head = ["attack", "tries", "named", "crashes", "hangs", "leaks", "peak MiB", ""];
  const body = rows.map((r) => [r.attack, r.tries, r.namedFailures, r.crashes, r.hangs, r.leaks, r.peakMiB, failed(r) ? "FAIL" : "ok"].map(String));
  write(`| ${head.join(" | ")} |\n|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|\n`);
  for (const b of body) write(`| ${b.join(" | ")} |\n`);
  for (const r of rows) for (const n of r.notes) write(`  ${r.attack}: ${n}\n`);
}
