// The process family: `run_async` processes (spawn, signal, stdin, output streams, wait,
// close), workers, and vm:run's output when it is too large for one reply.
//
// Output: each process's stdout and stderr go into ByteStreams from the moment it starts,
// so nothing is lost before anyone reads. Opening a stream hands that ByteStream to the
// host (a stream handle); wait() returns what was not handed over. A stream the host does
// not read holds at most OUTPUT_LIMIT bytes, after which the process blocks on its writes.
import type { PlainRequest } from "@provium/protocol";
import type { Subprocess } from "bun";
import { exec, killGroup, signalNumber, spawnOptions } from "./exec";
import { allNamespaces, type Namespace, type Resource } from "./namespace";
import { sysError } from "./files";
import { ByteStream, pipeInto } from "./streams";
import { adopt, closeWorker, join, signalAll, spawnWorker } from "./workers";

type Op = NonNullable<NonNullable<PlainRequest["op"]>["process"]>;
type Exec = NonNullable<NonNullable<PlainRequest["op"]>["exec"]>;

export const OUTPUT_LIMIT = 128 * 1024 * 1024;
/** Output larger than this does not travel in the reply: it stays behind as a stream. */
export const INLINE_MAX = 4 * 1024 * 1024;
const PIPE_GRACE_MS = 100;
const EMPTY = new Uint8Array();

interface Exit {
  exitCode: number;
  signal: number;
}

const codeOf = (x: Exit) => (x.signal ? -1 : x.exitCode);

export class Proc implements Resource {
  readonly kind = "process";
  readonly out = new ByteStream(OUTPUT_LIMIT);
  readonly err = new ByteStream(OUTPUT_LIMIT);
  /** Stream handles once the host opened stdout / stderr. */
  outHandle = 0;
  errHandle = 0;
  exit: Exit | null = null;
  /** Killed because a wait's timeout passed: its RunResult says timed out (-2), not signalled. */
  timedOut = false;
  readonly exited: Promise<Exit>;
  private readonly pumped: Promise<unknown>;
  private stdinClosed = false;

  constructor(readonly sub: Subprocess<"pipe", "pipe", "pipe">) {
    this.pumped = Promise.all([pipeInto(sub.stdout, this.out), pipeInto(sub.stderr, this.err)]);
    this.exited = sub.exited.then(() => {
      this.exit = { exitCode: sub.exitCode ?? -1, signal: sub.signalCode ? signalNumber(sub.signalCode) : 0 };
      return this.exit;
    });
  }

  get pid() {
    return this.exit ? 0 : this.sub.pid;
  }

  signal(sig: number) {
    if (this.exit) return false;
    killGroup(this.sub.pid, sig);
    return true;
  }

  async writeStdin(data: Uint8Array) {
    if (this.stdinClosed) throw Object.assign(new Error("stdin is closed"), { code: "EPIPE" });
    try {
      this.sub.stdin.write(data);
      await this.sub.stdin.flush();
    } catch (e) {
      throw Object.assign(new Error(`stdin write failed: ${(e as Error).message}`), { code: (e as NodeJS.ErrnoException).code || "EPIPE" });
    }
  }

  async closeStdin() {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    try {
      await this.sub.stdin.end();
    } catch {
      /* the process is gone: its stdin is closed anyway */
    }
  }

  /** The exit, or null when `timeoutMs` (0 = no limit) passes first. */
  async waitExit(timeoutMs: number): Promise<Exit | null> {
    if (this.exit) return this.exit;
    if (!timeoutMs) return this.exited;
    let timer: Timer | undefined;
    const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The output no stream was opened for; background children get a grace to flush. */
  async output(ns: Namespace) {
    await Promise.race([this.pumped, Bun.sleep(PIPE_GRACE_MS)]);
    const [stdout, stdoutRest] = this.outHandle ? [EMPTY, 0] : inlineOrRest(ns, await takeAll(this.out));
    const [stderr, stderrRest] = this.errHandle ? [EMPTY, 0] : inlineOrRest(ns, await takeAll(this.err));
    return { stdout, stderr, stdoutRest, stderrRest };
  }

  async close() {
    if (!this.exit) {
      killGroup(this.sub.pid, "SIGKILL");
      await this.exited;
    }
    await this.closeStdin();
    if (!this.outHandle) this.out.close();
    if (!this.errHandle) this.err.close();
  }
}

/** Everything buffered now (a read that does not wait). */
async function takeAll(s: ByteStream) {
  return (await s.read(2 ** 31 - 1, 0)).data;
}

/** Small output travels in the reply; large output stays behind as an ended stream. */
function inlineOrRest(ns: Namespace, bytes: Uint8Array): [Uint8Array, number] {
  if (bytes.byteLength <= INLINE_MAX) return [bytes, 0];
  const s = new ByteStream(Infinity);
  void s.push(bytes);
  s.end();
  return [EMPTY, ns.add(s)];
}

/** vm:run: exec, tracked as a child of the namespace, large output left as streams. */
export async function execIn(ns: Namespace, e: Exec) {
  let settle!: (code: number) => void;
  const outcome = new Promise<number>((r) => (settle = r));
  const r = await exec(e, (pid) => adopt(ns, pid, outcome));
  settle(r.timedOut ? -2 : r.signal ? -1 : r.exitCode);
  const [stdout, stdoutRest] = inlineOrRest(ns, r.stdout);
  const [stderr, stderrRest] = inlineOrRest(ns, r.stderr);
  return { ...r, stdout, stderr, stdoutRest, stderrRest };
}

function spawn(ns: Namespace, e: Exec) {
  if (!e.argv?.length) throw Object.assign(new Error("spawn: empty argv"), { code: "EINVAL" });
  if (e.timeoutMs) throw Object.assign(new Error("spawn takes no timeout: wait with one instead"), { code: "EINVAL" });
  let p: Proc;
  try {
    p = new Proc(Bun.spawn({ ...spawnOptions(e), stdin: "pipe", stdout: "pipe", stderr: "pipe" }));
  } catch (err) {
    // A program that cannot be started raises here (the host names its path); vm:run says
    // 127 instead, as a shell would. Bun words ENOENT as "Executable not found in $PATH".
    const code = (err as NodeJS.ErrnoException).code;
    throw code === "ENOENT" ? Object.assign(new Error("No such file or directory"), { code }) : sysError(err);
  }
  adopt(ns, p.sub.pid, p.exited.then((x) => (p.timedOut ? -2 : codeOf(x))));
  // The stdin option is all of stdin: written, then closed. Without it stdin stays open.
  if (e.stdin?.byteLength) void p.writeStdin(e.stdin).catch(() => {}).then(() => p.closeStdin());
  return { handle: ns.add(p), pid: p.pid };
}

/** How long a process killed at a wait's timeout gets to be reaped (it may be stuck in the kernel). */
const KILLED_REAP_MS = 5000;

/** Waits for the exit; when `timeoutMs` passes first, SIGKILLs the group (as vm:run's timeout does). */
async function wait(ns: Namespace, handle: number, timeoutMs: number) {
  const p = ns.get<Proc>(handle, "process");
  let exit = await p.waitExit(timeoutMs);
  if (!exit) {
    if (p.signal(9)) p.timedOut = true; // false: it exited on its own just now
    exit = await p.waitExit(KILLED_REAP_MS);
    if (!exit) return { exited: false };
  }
  const out = await p.output(ns);
  const timedOut = p.timedOut;
  return { exited: true, result: { exitCode: exit.exitCode, signal: timedOut ? 0 : exit.signal, timedOut, ...out } };
}

function openStream(ns: Namespace, handle: number, stderr: boolean) {
  const p = ns.get<Proc>(handle, "process");
  if (stderr) return (p.errHandle ||= ns.add(p.err));
  return (p.outHandle ||= ns.add(p.out));
}

function census() {
  let processes = 0;
  let streams = 0;
  const all = allNamespaces();
  for (const ns of all) {
    processes += ns.list("process").length;
    streams += ns.list("stream").length;
  }
  return { processes, streams, workers: all.length - 1 };
}

const proc = (ns: Namespace, h: number) => ns.get<Proc>(h, "process");

/** The handler of Request.op.process. */
export async function processOp(op: Op, ns: Namespace): Promise<object> {
  const reply = (process: object) => ({ process });
  if (op.spawn) return reply({ spawned: spawn(ns, op.spawn) });
  if (op.signal) return reply({ delivered: proc(ns, op.signal.handle!).signal(op.signal.signal!) });
  if (op.pid !== undefined) return reply({ pid: proc(ns, op.pid).pid });
  if (op.status !== undefined) return reply({ status: { running: !proc(ns, op.status).exit } });
  if (op.wait) return reply({ waited: await wait(ns, op.wait.handle!, op.wait.timeoutMs ?? 0) });
  if (op.stdinWrite) return (await proc(ns, op.stdinWrite.handle!).writeStdin(op.stdinWrite.data ?? EMPTY), reply({ done: true }));
  if (op.closeStdin !== undefined) return (await proc(ns, op.closeStdin).closeStdin(), reply({ done: true }));
  if (op.openStream) return reply({ stream: openStream(ns, op.openStream.handle!, !!op.openStream.stderr) });
  if (op.close !== undefined) return (await ns.close(op.close), reply({ done: true }));
  if (op.spawnWorker) return reply({ worker: spawnWorker() });
  if (op.workerKill !== undefined) return reply({ count: signalAll(ns, op.workerKill) });
  if (op.workerJoin !== undefined) return reply({ joined: await join(ns, op.workerJoin) });
  if (op.workerClose) return reply({ joined: await closeWorker(ns) });
  if (op.census) return reply({ census: census() });
  throw Object.assign(new Error(`unsupported process op: ${Object.keys(op)[0]}`), { code: "ENOSYS" });
}
