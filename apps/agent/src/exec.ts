// `exec`: run a program to completion, capture its output, enforce its timeout.
//
// The output pipes are our own (pipe2 through libc), not Bun's "pipe" streams: once the
// process has exited, what it wrote is read with plain read(2) calls, in the same turn of
// the event loop, and the reply goes out. Bun's streams cost ~1.5 ms more per command in a
// TCG guest (a stream, a reader and a promise per pipe, an event-loop turn per end of file).
// While the process runs, the pipes (1 MiB each) are read on a timer that backs off while
// nothing comes, so a command with more output than a pipe holds never waits long.
import type { PlainRequest } from "@provium/protocol";
import { dlopen, FFIType, read as peek } from "bun:ffi";
import { closeSync } from "node:fs";
import { constants } from "node:os";

type Exec = NonNullable<NonNullable<PlainRequest["op"]>["exec"]>;

// After the main process exits, background children may still hold its pipes open;
// we take what they wrote within this grace period and do not wait for them.
const PIPE_GRACE_MS = 100;
/** While the process runs: the first read after this, then sooner when output flows, later when not. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 25;
const GRACE_POLL_MS = 2;
const PIPE_SIZE = 1 << 20;

export function envFor(e: Pick<Exec, "env" | "envClear">) {
  const env: Record<string, string> = e.envClear ? {} : { ...process.env } as Record<string, string>;
  for (const v of e.env ?? []) env[v.name!] = v.value!;
  return env;
}

export function spawnOptions(e: Exec) {
  return { cmd: e.argv!, env: envFor(e), cwd: e.cwd || undefined, detached: true } as const;
}

export interface ExecResult {
  exitCode: number;
  signal: number;
  timedOut: boolean;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** `onSpawn` learns the pid of the started process (workers track their children). */
export async function exec(e: Exec, onSpawn?: (pid: number) => void): Promise<ExecResult> {
  if (!e.argv?.length) throw Object.assign(new Error("exec: empty argv"), { code: "EINVAL" });
  const c = libc();
  return c && !useStreams ? execWithPipes(e, c, onSpawn) : execWithStreams(e, onSpawn);
}

/** For tests: run commands through Bun's pipe streams, as when libc cannot be loaded. */
let useStreams = false;
export function forceStreams(on: boolean) {
  useStreams = on;
}

function notStarted(e: Exec, err: unknown): ExecResult {
  // As a shell would: a program that cannot be started is exit status 127 (126 if not executable).
  const code = (err as NodeJS.ErrnoException).code;
  const msg = `provium-agent: ${e.argv![0]}: ${code === "ENOENT" ? "command not found" : (err as Error).message}\n`;
  return { exitCode: code === "EACCES" ? 126 : 127, signal: 0, timedOut: false, stdout: new Uint8Array(), stderr: Buffer.from(msg) };
}

function killTimer(e: Exec, pid: number, onFire: () => void) {
  return e.timeoutMs
    ? setTimeout(() => {
        onFire();
        killGroup(pid, "SIGKILL");
      }, e.timeoutMs)
    : undefined;
}

async function execWithPipes(e: Exec, c: Libc, onSpawn?: (pid: number) => void): Promise<ExecResult> {
  const out = OutPipe.open(c);
  let err: OutPipe;
  try {
    err = OutPipe.open(c);
  } catch (x) {
    out.close();
    throw x;
  }
  let proc;
  try {
    proc = Bun.spawn({ ...spawnOptions(e), stdin: e.stdin?.byteLength ? e.stdin : "ignore", stdout: out.writeFd, stderr: err.writeFd });
  } catch (x) {
    out.close();
    err.close();
    return notStarted(e, x);
  }
  // The child has its copies; ours would keep the pipes from ever reaching end of file.
  out.closeWriteEnd();
  err.closeWriteEnd();
  onSpawn?.(proc.pid);
  let timedOut = false;
  const timeout = killTimer(e, proc.pid, () => (timedOut = true));

  let delay = FIRST_POLL_MS;
  let poller: Timer | undefined;
  const poll = () => {
    const got = out.drain() | err.drain();
    delay = got ? 1 : Math.min(delay * 2, MAX_POLL_MS);
    poller = setTimeout(poll, delay);
  };
  poller = setTimeout(poll, delay);
  await proc.exited;
  clearTimeout(poller);
  clearTimeout(timeout);

  out.drain();
  err.drain();
  if (!(out.eof && err.eof)) {
    // Background children hold a pipe: take what they write within the grace, then let go.
    const deadline = performance.now() + PIPE_GRACE_MS;
    while (!(out.eof && err.eof) && performance.now() < deadline) {
      await Bun.sleep(GRACE_POLL_MS);
      out.drain();
      err.drain();
    }
  }
  const signal = proc.signalCode ? signalNumber(proc.signalCode) : 0;
  return { exitCode: proc.exitCode ?? -1, signal: timedOut ? 0 : signal, timedOut, stdout: out.take(), stderr: err.take() };
}

// ---- libc: pipe2, fcntl and read, on the agent's thread (none of them blocks here)

const symbols = {
  pipe2: { args: ["ptr", "i32"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: FFIType.i64_fast }, // a number unless it overflows 2^53
  __errno_location: { args: [], returns: "ptr" },
} as const;
type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let lib: Libc | null | undefined;

function libc(): Libc | null {
  if (lib === undefined) {
    try {
      lib = dlopen("libc.so.6", symbols).symbols;
    } catch {
      lib = null;
    }
  }
  return lib;
}

const O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
const F_SETFL = 4, F_SETPIPE_SZ = 1031;
const EINTR = 4, EAGAIN = 11;
const EMPTY = new Uint8Array();
/** One buffer for every read: drains are synchronous, so they never overlap. */
let scratch: Uint8Array | null = null;

/** One output pipe: the child writes (blocking), we read (non-blocking) what is there. */
class OutPipe {
  private chunks: Uint8Array[] = [];
  private size = 0;
  eof = false;
  private closed = false;

  private constructor(
    private readonly c: Libc,
    private readonly readFd: number,
    public writeFd: number,
  ) {}

  static open(c: Libc) {
    const fds = new Int32Array(2);
    if (c.pipe2(fds, O_CLOEXEC) !== 0) {
      const n = peek.i32(c.__errno_location()!, 0);
      throw Object.assign(new Error(`pipe2 failed (errno ${n})`), { code: n === 24 ? "EMFILE" : "EIO" });
    }
    const [r, w] = [fds[0]!, fds[1]!];
    c.fcntl(r, F_SETFL, O_NONBLOCK); // a fresh read end has no other status flag to keep
    c.fcntl(r, F_SETPIPE_SZ, PIPE_SIZE); // best effort: the default 64 KiB works too, with more polls
    return new OutPipe(c, r, w);
  }

  closeWriteEnd() {
    if (this.writeFd >= 0) closeSync(this.writeFd);
    this.writeFd = -1;
  }

  /** Reads what is in the pipe now; 1 when something was read. */
  drain(): number {
    let got = 0;
    while (!this.eof) {
      scratch ??= new Uint8Array(PIPE_SIZE);
      const n = Number(this.c.read(this.readFd, scratch, scratch.byteLength));
      if (n > 0) {
        this.chunks.push(scratch.slice(0, n));
        this.size += n;
        got = 1;
        continue;
      }
      if (n === 0) {
        this.eof = true;
        break;
      }
      const errno = peek.i32(this.c.__errno_location()!, 0);
      if (errno === EINTR) continue;
      if (errno !== EAGAIN) this.eof = true; // an error ends the output as end of file would
      break;
    }
    return got;
  }

  /** Everything read, once; the pipe is closed. */
  take(): Uint8Array {
    this.close();
    const all = this.chunks.length <= 1 ? (this.chunks[0] ?? EMPTY) : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    return all;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.readFd);
    this.closeWriteEnd();
  }
}

// ---- without libc: Bun's pipe streams

async function readAll(stream: ReadableStream<Uint8Array>, until: Promise<unknown>) {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  let closed = false;
  const pump = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      chunks.push(r.value);
    }
  })().finally(() => (closed = true));
  await Promise.race([pump, until.then(() => Bun.sleep(PIPE_GRACE_MS))]);
  if (!closed) reader.cancel().catch(() => {});
  return Buffer.concat(chunks);
}

async function execWithStreams(e: Exec, onSpawn?: (pid: number) => void): Promise<ExecResult> {
  let proc;
  try {
    proc = Bun.spawn({ ...spawnOptions(e), stdin: e.stdin?.byteLength ? e.stdin : "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (err) {
    return notStarted(e, err);
  }
  onSpawn?.(proc.pid);
  let timedOut = false;
  const timer = killTimer(e, proc.pid, () => (timedOut = true));
  const exited = proc.exited;
  const [stdout, stderr] = await Promise.all([readAll(proc.stdout, exited), readAll(proc.stderr, exited), exited]);
  clearTimeout(timer);
  const signal = proc.signalCode ? signalNumber(proc.signalCode) : 0;
  return { exitCode: proc.exitCode ?? -1, signal: timedOut ? 0 : signal, timedOut, stdout, stderr };
}

export function killGroup(pid: number, sig: NodeJS.Signals | number) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function signalNumber(name: string | number) {
  if (typeof name === "number") return name;
  return (constants.signals as Record<string, number>)[name] ?? 0;
}
