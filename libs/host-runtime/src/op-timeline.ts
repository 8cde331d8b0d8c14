// A test's timeline: one record per host op that touches a VM (boot, restore, each guest op,
// console writes, pauses, ...) with when it started, how long it took, what it was asked and a
// bounded summary of its answer. The session records them as it answers Lua's calls; the runner
// puts them on the test's events, so a saved run renders the same report (apps/cli/src/report/html.ts).
// Kept cheap: a clock read and a small object per op; output is cut to a few KiB.
import { guestOps } from "./ops";
import type { GuestOp } from "./ops/guest-op";

export interface OpRecord {
  /** the op: "boot", "restore", "run", "read_file", "batch", "pause", "sleep", ... */
  op: string;
  /** the VM(s) it ran on, by name */
  vm?: string;
  /** what was asked, e.g. "run /bin/sh -c uname -a" */
  what: string;
  /** start, ms since the epoch */
  at: number;
  ms: number;
  ok: boolean;
  /** the answer, cut (stdout/stderr of a run, a value's JSON) */
  out?: string;
  /** the error it raised, cut */
  err?: string;
}

// Calls that are bookkeeping or polling, not something a test did to a VM.
const NOT_ON_TIMELINE = new Set([
  "file.plan", "test.begin", "test.failing", "test.attach", "module.find", "clock.now", "host.tmpname",
  "vm.create", "vm.state", "vm.cid", "disk.info", "nic.info", "console.read", "capture.next", "debug.read", "debug.write", "lab.claim",
]);

// Short names for the host ops whose dotted name says less than the op does.
const RENAMED: Record<string, string> = {
  "vm.boot": "boot",
  "vm.shutdown": "shutdown",
  "vm.dispose": "dispose",
  "snapshot.restore": "restore",
  "snapshot.restore_lab": "restore",
  "snapshot.create": "snapshot",
  "fixture.vm": "fixture",
  "fixture.lab": "fixture",
  "clock.sleep": "sleep",
  "guest.batch": "batch",
};

const OUT_MAX = 2000;
const WHAT_MAX = 300;

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s);

function text(v: unknown, max: number): string {
  if (v instanceof Uint8Array) {
    const head = Buffer.from(v.subarray(0, max)).toString("utf8");
    return v.length > max ? `${head}… (${v.length} bytes)` : head;
  }
  return cut(String(v), max);
}

// A value as a short string: byte strings as their text (or length), the rest as JSON.
function summary(v: unknown): string | undefined {
  if (v === undefined || v === null || v === true) return undefined;
  if (typeof v === "string" || v instanceof Uint8Array) return text(v, OUT_MAX);
  if (typeof v === "object" && "exit_code" in v && "stdout" in v) {
    const r = v as { status: string; exit_code: number; stdout: Uint8Array; stderr: Uint8Array };
    const parts = [`${r.status} ${r.exit_code}`];
    if (r.stdout?.length) parts.push(`stdout: ${text(r.stdout, OUT_MAX)}`);
    if (r.stderr?.length) parts.push(`stderr: ${text(r.stderr, OUT_MAX)}`);
    return parts.join("\n");
  }
  try {
    return cut(JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? `<${x.length} bytes>` : typeof x === "bigint" ? String(x) : x)), 500);
  } catch {
    return undefined;
  }
}

function describeGuest(op: string, args: unknown): string {
  try {
    return (guestOps as Record<string, GuestOp>)[op]?.describe(args) ?? op;
  } catch {
    return op;
  }
}

function argsText(args: Record<string, unknown>): string {
  const shown = Object.entries(args).filter(([k, v]) => k !== "vm" && k !== "vms" && v !== undefined && v !== null);
  return shown.map(([k, v]) => `${k}=${summary(v) ?? v}`).join(" ");
}

/**
 * Times `run` (the op's answer) and hands a record to `record`, unless the op is not one a
 * timeline shows. `vmName` names a VM by its id (undefined once it is unknown).
 */
export async function timed<T>(op: string, args: any, vmName: (id: unknown) => string | undefined, run: () => T | Promise<T>, record: (r: OpRecord) => void): Promise<T> {
  if (NOT_ON_TIMELINE.has(op)) return run();
  const at = Date.now();
  const t0 = performance.now();
  const rec = (ok: boolean, x: unknown) => {
    const vms = args?.target ? [args.target.vm] : args?.vms ?? (args?.vm !== undefined ? [args.vm] : []);
    const names = (vms as unknown[]).map(vmName).filter(Boolean).join(", ");
    const what = op === "guest" ? describeGuest(args.op, args.args)
      : op === "guest.batch" ? (args.ops as { op: string; args: unknown }[]).map((o) => describeGuest(o.op, o.args)).join("; ")
      : [RENAMED[op] ?? op, argsText(args ?? {})].filter(Boolean).join(" ");
    const r: OpRecord = { op: op === "guest" ? String(args.op) : (RENAMED[op] ?? op), vm: names || undefined, what: cut(what, WHAT_MAX), at, ms: Math.round((performance.now() - t0) * 10) / 10, ok };
    if (ok) r.out = summary(x);
    else r.err = cut(String((x as Error)?.message ?? x), OUT_MAX);
    record(r);
  };
  try {
    const out = await run();
    rec(true, out);
    return out;
  } catch (e) {
    rec(false, e);
    throw e;
  }
}
