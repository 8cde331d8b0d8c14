// Interrupts: SIGINT at random moments of a run of the example suite and of a fixture build,
// and SIGTERM of the runner. After each: the run ended (no hang), and left no QEMU process,
// no temp dir and no fixture-cache lock; after all of them the next run passes.
import { resolve } from "node:path";
import { describeLeaks, leakCount, leftovers, provium, suite, type RunResult } from "../harness";
import type { AttackResult } from "../table";

const repo = resolve(import.meta.dir, "../..");
const HANG_MS = 60_000; // from the signal to the run's exit

const fixtureSuite = () =>
  suite({
    "base.fixture.lua": `-- MARKER (a new key each time: every build really builds)
local vm = provium:vm("b", "minimal"):boot()
vm:write_file("/tmp/built", "yes")
return vm:snapshot()`,
  });

async function attempt(kind: string, run: (killAt: number) => Promise<RunResult>, killAt: number, r: AttackResult) {
  const got = await run(killAt);
  const left = await leftovers(got.pid);
  r.tries++;
  const hung = got.code === null || got.ms - killAt > HANG_MS;
  // An interrupted run ends on its own, with a message and no stack trace of ours.
  const named = !hung && !/\n\s+at .*\.ts:\d+/.test(got.stderr) && !/Segmentation fault|panic\(/.test(got.stderr);
  if (hung) r.hangs++;
  if (named) r.namedFailures++;
  else r.notes.push(`${kind} at ${killAt} ms: ${got.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  const n = leakCount(left);
  r.leaks += n;
  if (n) r.notes.push(`${kind} at ${killAt} ms left ${describeLeaks(left)}`);
}

export async function interrupts(o: { tries: number }): Promise<AttackResult[]> {
  const rows: AttackResult[] = [];
  const row = (attack: string): AttackResult => {
    const r = { attack, tries: 0, namedFailures: 0, crashes: 0, hangs: 0, leaks: 0, peakMiB: 0, notes: [] as string[] };
    rows.push(r);
    return r;
  };

  // How long the uninterrupted example suite takes: the signals land anywhere within it.
  const clean = await provium(repo, ["examples/"]);
  if (clean.code !== 0) throw new Error(`the example suite fails before any attack: ${clean.stderr}`);
  const sigint = row("SIGINT during the example suite");
  for (let i = 0; i < o.tries; i++) {
    const at = Math.round(100 + Math.random() * clean.ms);
    await attempt("SIGINT", (killAt) => provium(repo, ["examples/"], { kill: { afterMs: killAt, signal: "SIGINT" } }), at, sigint);
  }
  const sigterm = row("SIGTERM of the runner (example suite)");
  for (let i = 0; i < Math.max(2, Math.round(o.tries / 5)); i++) {
    const at = Math.round(100 + Math.random() * clean.ms);
    await attempt("SIGTERM", (killAt) => provium(repo, ["examples/"], { kill: { afterMs: killAt, signal: "SIGTERM" } }), at, sigterm);
  }
  const build = row("SIGINT during a fixture build");
  for (let i = 0; i < o.tries; i++) {
    const dir = fixtureSuite();
    const at = Math.round(100 + Math.random() * 8000);
    await attempt("SIGINT (fixture build)", (killAt) => provium(dir, ["fixture", "build"], { kill: { afterMs: killAt, signal: "SIGINT" } }), at, build);
  }
  // Afterwards the next run passes, and a build of the same fixture completes.
  const after = row("the next run after the interrupts");
  for (const [dir, args] of [[repo, ["examples/"]], [fixtureSuite(), ["fixture", "build"]]] as const) {
    const r = await provium(dir, [...args]);
    after.tries++;
    if (r.code === 0) after.namedFailures++;
    else after.notes.push(`${args.join(" ")} failed after the interrupts: ${r.stderr.trim().slice(-300)}`);
    const left = await leftovers(r.pid);
    after.leaks += leakCount(left);
  }
  for (const r of rows) r.peakMiB = 0;
  return rows;
}
