// Interrupts: SIGINT at random moments of a run of the example suite and of a fixture build,
// and SIGTERM of the runner. After each: the run ended (no hang), and left no QEMU process,
// no temp dir and no fixture-cache lock; after all of them the next run passes.
import { resolve } from "node:path";
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

const repo = resolve(import.meta.dir, "../..");
const HANG_MS = 60_000; // from the signal to the run's exit

const fixtureSuite = () =>
  suite({
    "base.fixture.lua": `-- MARKER (a new key each time: every build really builds)
local vm = provium:vm("b", "minimal"):boot()
vm:write_file("/tmp/built", "yes")
return vm:snapshot()`,
  });

// One signalled run: `signal` at `killAt` ms into `provium ARGS` in `dir`.
async function attempt(r: AttackResult, dir: string, args: string[], signal: NodeJS.Signals, killAt: number) {
  const kind = `${signal} (${args.join(" ")})`;
  const got = await provium(dir, args, { kill: { afterMs: killAt, signal } });
  r.tries++;
  const hung = got.code === null || got.ms - killAt > HANG_MS;
  // An interrupted run ends on its own, with a message and no stack trace of ours.
  const named = !hung && !/\n\s+at .*\.ts:\d+/.test(got.stderr) && !/Segmentation fault|panic\(/.test(got.stderr);
  if (hung) r.hangs++;
  if (named) r.namedFailures++;
  else r.notes.push(`${kind} at ${killAt} ms: ${got.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  await countLeftovers(r, got.pid, `${kind} at ${killAt} ms `);
}

export async function interrupts(o: { tries: number }): Promise<AttackResult[]> {
  const rows: AttackResult[] = [];
  const row = (attack: string) => (rows.push(newRow(attack)), rows.at(-1)!);

  // How long the uninterrupted example suite takes: the signals land anywhere within it.
  const clean = await provium(repo, ["examples/"]);
  if (clean.code !== 0) throw new Error(`the example suite fails before any attack: ${clean.stderr}`);
  const within = (ms: number) => Math.round(100 + Math.random() * ms);
  const sigint = row("SIGINT during the example suite");
  for (let i = 0; i < o.tries; i++) await attempt(sigint, repo, ["examples/"], "SIGINT", within(clean.ms));
  const sigterm = row("SIGTERM of the runner (example suite)");
  for (let i = 0; i < Math.max(2, Math.round(o.tries / 5)); i++) await attempt(sigterm, repo, ["examples/"], "SIGTERM", within(clean.ms));
  const build = row("SIGINT during a fixture build");
  for (let i = 0; i < o.tries; i++) await attempt(build, fixtureSuite(), ["fixture", "build"], "SIGINT", within(8000));
  // Afterwards the next run passes, and a build of the same fixture completes.
  const after = row("the next run after the interrupts");
  for (const [dir, args] of [[repo, ["examples/"]], [fixtureSuite(), ["fixture", "build"]]] as const) {
    const r = await provium(dir, [...args]);
    after.tries++;
    if (r.code === 0) after.namedFailures++;
    else after.notes.push(`${args.join(" ")} failed after the interrupts: ${r.stderr.trim().slice(-300)}`);
    await countLeftovers(after, r.pid);
  }
  return rows;
}
