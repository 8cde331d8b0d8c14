// Runs provium as a user would (the CLI, as a child process) on a suite written into a temp
// dir, optionally signals it mid-run, and checks what the run left behind: QEMU processes,
// temp dirs and fixture-cache locks of that run's pid.
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cacheRoot } from "@provium/vmm";
import type { AttackResult } from "./table";

const main = resolve(import.meta.dir, "../apps/cli/src/main.ts");
const made: string[] = [];
process.on("exit", () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A suite in a fresh temp dir (removed when chaos exits); MARKER becomes a unique string. */
export function suite(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "chaos-suite-"));
  made.push(dir);
  const marker = `${process.pid}-${Date.now()}-${Math.random()}`;
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), body.replaceAll("MARKER", marker));
  }
  return dir;
}

export interface RunResult {
  pid: number;
  code: number | null;
  signalled: boolean;
  ms: number;
  events: any[];
  stdout: string;
  stderr: string;
  peakRssMiB: number;
  count(kind: string): number;
}

export interface RunOptions {
  /** Sends `signal` this many ms after the start, or when `when` sees an event. */
  kill?: { afterMs?: number; when?: (e: any) => boolean; delayMs?: number; signal: NodeJS.Signals; target?: (e: any, events: any[]) => number };
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** provium --json ARGS in `dir`; events are parsed as they come (for `kill.when`). */
export async function provium(dir: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const p = Bun.spawn(["bun", main, "--json", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...o.env } });
  const events: any[] = [];
  let stdout = "";
  let peak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, rssOf(p.pid))), 200);
  const timer = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 600_000);
  // A timed signal is sent once; an event-triggered one on every matching event.
  let timedFired = false;
  const fire = (e?: any) => {
    if (!e && timedFired) return;
    if (!e) timedFired = true;
    const k = o.kill!;
    const pid = e && k.target ? k.target(e, events) : p.pid;
    setTimeout(() => {
      try {
        process.kill(pid, k.signal);
      } catch {}
    }, k.delayMs ?? 0);
  };
  if (o.kill?.afterMs !== undefined) setTimeout(() => fire(), o.kill.afterMs);
  const readOut = (async () => {
    let buf = "";
    for await (const chunk of p.stdout) {
      const text = new TextDecoder().decode(chunk);
      stdout += text;
      buf += text;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line);
        events.push(e);
        if (o.kill?.when?.(e)) fire(e);
      }
    }
  })();
  const stderr = await new Response(p.stderr).text();
  await readOut;
  const code = await p.exited;
  clearTimeout(timer);
  clearInterval(rss);
  return {
    pid: p.pid,
    code,
    signalled: p.signalCode !== null,
    ms: performance.now() - started,
    events,
    stdout,
    stderr,
    peakRssMiB: Math.round(peak / 1048576),
    count: (kind) => events.filter((e) => e.kind === kind).length,
  };
}

// The run and its workers are one process; QEMU children are processes of their own.
function rssOf(pid: number): number {
  let total = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      total += Number(readFileSync(`/proc/${p}/statm`, "utf8").split(" ")[1]) * 4096;
    } catch {}
  }
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface Leftovers {
  qemu: number[];
  tempDirs: string[];
  locks: number;
}

/** What a finished run of `pid` left: live QEMUs using its run dirs, its temp dirs, its cache locks. */
export async function leftovers(pid: number): Promise<Leftovers> {
  await Bun.sleep(500); // a QEMU killed at exit takes a moment to go
  const mine = new RegExp(`provium-[a-z]+-p${pid}-`);
  const qemu: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "latin1");
      if (cmd.includes("qemu-system") && mine.test(cmd)) qemu.push(Number(p));
    } catch {}
  }
  const tempDirs = readdirSync(tmpdir()).filter((n) => mine.test(n)).map((n) => join(tmpdir(), n));
  let locks = 0;
  const db = join(cacheRoot(), "fixtures", "index.sqlite");
  if (existsSync(db)) {
    const d = new Database(db, { readonly: true });
    try {
      locks = (d.query("SELECT count(*) AS n FROM locks WHERE owner LIKE ?").get(`${pid}-%`) as { n: number }).n;
    } catch {}
    d.close();
  }
  return { qemu, tempDirs, locks };
}

const leakCount = (l: Leftovers) => l.qemu.length + l.tempDirs.length + l.locks;
const describeLeaks = (l: Leftovers) =>
  [l.qemu.length && `QEMU pids ${l.qemu.join(",")}`, l.tempDirs.length && `temp dirs ${l.tempDirs.join(",")}`, l.locks && `${l.locks} cache locks`].filter(Boolean).join("; ");

/** Counts what the run of `pid` left into `row` (and says what, prefixed by `what`). */
export async function countLeftovers(row: AttackResult, pid: number, what = "") {
  const left = await leftovers(pid);
  const n = leakCount(left);
  row.leaks += n;
  if (n) row.notes.push(`${what}left ${describeLeaks(left)}`);
}
