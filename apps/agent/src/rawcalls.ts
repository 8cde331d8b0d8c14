// Raw calls into the guest kernel: syscall(2) and ioctl(2) through libc with bun:ffi, and
// the few libc calls the file ops need that Node has no API for (lseek, poll, fcntl,
// strerror) or that it makes slow (statx).
//
// A raw call runs on a thread of the agent (raw-thread.ts), so a call that blocks (a read on
// an empty pipe, a futex wait) blocks that thread only: the agent keeps answering. Idle
// threads are kept for the next call; a call that never returns costs one thread. File
// descriptors are the process's, shared by every thread, so `file:fd()` works as an argument.
// A worker's raw calls run in a process of its own (worker-process.ts).
import { dlopen, read as peek, type Pointer } from "bun:ffi";
import * as fs from "node:fs";
import { constants } from "node:os";
import type { PlainRequest } from "@provium/protocol";
import { invokeRaw, type RawOutcome, type RawRequest } from "./raw-invoke";

type RawCall = NonNullable<NonNullable<NonNullable<PlainRequest["op"]>["files"]>["syscall"]>;

export const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

// ---- libc in the agent's own threads: short calls that never block (poll waits if asked) ----

const mainSymbols = {
  lseek: { args: ["i32", "i64", "i32"], returns: "i64" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  strerror: { args: ["i32"], returns: "cstring" },
  statx: { args: ["i32", "ptr", "i32", "u32", "ptr"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

let libc: ReturnType<typeof dlopen<typeof mainSymbols>>["symbols"] | null | undefined;

function lib() {
  if (libc === undefined) {
    try {
      libc = dlopen("libc.so.6", mainSymbols).symbols;
    } catch {
      libc = null;
    }
  }
  if (!libc) throw Object.assign(new Error("libc is not loadable in the agent (bun:ffi dlopen of libc.so.6 failed)"), { code: "ENOSYS" });
  return libc;
}

function errno() {
  return peek.i32(lib().__errno_location()!, 0);
}

/** An Error carrying the errno of the last libc call, worded like strerror(3). */
export function errnoError(n = errno()) {
  const name = errnoNames.get(n) ?? "";
  return Object.assign(new Error(strerror(n)), { code: name || undefined, errno: n });
}

/** strerror(3) from the guest's libc ("No such file or directory"), else libuv's words. */
export function strerror(n: number): string {
  try {
    return String(lib().strerror(n));
  } catch {
    return `errno ${n}`;
  }
}

export const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;

export function lseek(fd: number, offset: number | bigint, whence: number): number {
  const r = lib().lseek(fd, offset, whence);
  if (r < 0) throw errnoError();
  return Number(r);
}

const POLLIN = 1, POLLOUT = 4, POLLHUP = 0x10, POLLERR = 0x8;

/** Whether a read on fd would not block now, or within `waitMs` (data, end of file or an
 *  error to report). */
export function readable(fd: number, waitMs = 0): boolean {
  const pfd = new Int16Array(4); // struct pollfd { int fd; short events; short revents; }
  new Int32Array(pfd.buffer)[0] = fd;
  pfd[2] = POLLIN;
  const n = lib().poll(pfd as unknown as Pointer, 1, waitMs);
  if (n < 0) return false; // EINTR: say no, the caller waits the blocking way
  return n > 0 && (pfd[3]! & (POLLIN | POLLHUP | POLLERR)) !== 0;
}

/** Whether a write on fd would not block now. */
export function writable(fd: number): boolean {
  const pfd = new Int16Array(4);
  new Int32Array(pfd.buffer)[0] = fd;
  pfd[2] = POLLOUT;
  const n = lib().poll(pfd as unknown as Pointer, 1, 0);
  if (n < 0) return false; // EINTR: say no, the caller waits the blocking way
  return n > 0 && (pfd[3]! & POLLOUT) !== 0;
}

// statx(2) into a kept buffer. fs.lstatSync({ bigint: true }) (mtime needs its nanoseconds)
// makes a BigInt of each of ~20 fields: in a TCG guest that was most of a batched stat's cost.
const STATX = new Uint8Array(256);
const STATX_VIEW = new DataView(STATX.buffer);
const PATH = new Uint8Array(4097); // PATH_MAX and the NUL
const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff;
const utf8 = new TextEncoder();

/** The path into PATH, NUL-terminated. An ASCII path is copied by a loop (in a TCG guest
 *  ~0.2 us for a short one, against ~0.6 for includes("\0") and TextEncoder.encodeInto). */
function cPath(path: string) {
  const n = path.length;
  if (n < PATH.length) {
    let i = 0;
    for (; i < n; i++) {
      const c = path.charCodeAt(i);
      if (c === 0 || c >= 0x80) break;
      PATH[i] = c;
    }
    if (i === n) return void (PATH[n] = 0);
  }
  if (path.includes("\0")) throw Object.assign(new Error("Invalid argument (the path holds a NUL byte)"), { code: "EINVAL", errno: constants.errno.EINVAL });
  const { read, written } = utf8.encodeInto(path, PATH);
  if (read < path.length || written === PATH.length) throw errnoError(constants.errno.ENAMETOOLONG);
  PATH[written] = 0;
}

/** What stat(2) says of a path (of a symlink itself unless `follow`): the wire's Stat, with
 *  `type` as statx's file type bits (S_IFMT; the caller maps them to the wire's EntryType). */
export function statPath(path: string, follow: boolean) {
  cPath(path);
  if (lib().statx(AT_FDCWD, PATH as unknown as Pointer, follow ? 0 : AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX as unknown as Pointer) < 0) throw errnoError();
  const v = STATX_VIEW;
  const inoHi = v.getUint32(36, true);
  const mode = v.getUint16(28, true);
  return {
    size: v.getUint32(44, true) * 4294967296 + v.getUint32(40, true),
    mtimeNs: v.getBigInt64(112, true) * 1_000_000_000n + BigInt(v.getUint32(120, true)),
    perm: mode & 0o7777,
    type: mode & 0o170000,
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    nlink: v.getUint32(16, true),
    ino: inoHi < 0x200000 ? inoHi * 4294967296 + v.getUint32(32, true) : v.getBigUint64(32, true),
  };
}

const F_DUPFD_CLOEXEC = 1030;

/** A second descriptor for fd's open file (close-on-exec). */
export function dupFd(fd: number): number {
  const r = lib().fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (r < 0) throw errnoError();
  return r;
}

export function hasLibc() {
  try {
    lib();
    return true;
  } catch {
    return false;
  }
}

// ---- syscall / ioctl / memory reads ---------------------------------------------------------

const MAX_IDLE = 2;
const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
const idle: Worker[] = [];

function newThread() {
  const w = new Worker(new URL("./raw-thread.ts", import.meta.url).href);
  w.unref?.();
  return w;
}

function onThread(msg: RawRequest): Promise<RawOutcome & { error?: string }> {
  const w = idle.pop() ?? newThread();
  return new Promise((resolve, reject) => {
    w.onmessage = (e) => {
      if (idle.length < MAX_IDLE) idle.push(w);
      else w.terminate();
      resolve(e.data);
    };
    w.onerror = (e) => {
      w.terminate();
      reject(Object.assign(new Error(`raw call thread failed: ${e.message}`), { code: "EIO" }));
    };
    w.postMessage(msg);
  });
}

function here(msg: RawRequest): RawOutcome & { error?: string } {
  try {
    return invokeRaw(msg);
  } catch (err) {
    return { result: -1n, errno: 0, bufs: [], error: String((err as Error)?.message ?? err) };
  }
}

function toBigIntish(v: unknown) {
  return typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v ?? 0)));
}

const safeNumber = (n: bigint) => (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

/**
 * A raw call: on a pooled thread (`thread`: the agent, or a worker's syscall_async), or on
 * this thread (`here`: a worker's own process, whose credentials then stay with it). An ioctl
 * that fails raises with its errno; a failed syscall answers with result -1 and its errno.
 */
export async function rawCall(kind: "syscall" | "ioctl", c: RawCall, where: "thread" | "here" = "thread") {
  const bufs = (c.bufs ?? []).map((b, i) => {
    const data = b.data ?? new Uint8Array();
    const size = Math.max(data.byteLength, b.size ?? 0, 1);
    if (size > MAX_BUFFER_BYTES) throw Object.assign(new Error(`buffer ${i} of ${size} bytes is over the ${MAX_BUFFER_BYTES}-byte limit`), { code: "EINVAL" });
    const mem = new Uint8Array(size);
    mem.set(data);
    return { mem, len: Math.max(data.byteLength, b.size ?? 0) };
  });
  const inRange = (i: number | undefined, what: string) => {
    if (i === undefined || i >= bufs.length) throw Object.assign(new Error(`${what} names buffer ${i}, there are ${bufs.length}`), { code: "EINVAL" });
    return i;
  };
  const args = (c.args ?? []).map((a, i) => (a.buf !== undefined ? { buf: inRange(a.buf, `argument ${i}`) } : toBigIntish(a.value)));
  if (args.length > 6) throw Object.assign(new Error(`at most 6 arguments, got ${args.length}`), { code: "EINVAL" });
  const ptrs = (c.ptrs ?? []).map((p, i) => {
    const buf = inRange(p.buf, `pointer ${i}`);
    inRange(p.target, `pointer ${i}`);
    if ((p.offset ?? 0) + 8 > bufs[buf]!.len)
      throw Object.assign(new Error(`pointer ${i} at offset ${p.offset} does not fit in buffer ${buf} (${bufs[buf]!.len} bytes)`), { code: "EINVAL" });
    return { buf, offset: p.offset ?? 0, target: p.target! };
  });
  const msg: RawRequest = { kind, nr: toBigIntish(c.nr), args, bufs: bufs.map((b) => b.mem), ptrs };
  const r = where === "here" ? here(msg) : await onThread(msg);
  if (r.error) throw Object.assign(new Error(r.error), { code: "EIO" });
  const result = BigInt(r.result);
  if (kind === "ioctl" && result === -1n) throw errnoError(r.errno);
  return {
    result: safeNumber(result),
    errno: r.errno,
    errnoName: r.errno ? errnoNames.get(r.errno) ?? "" : "",
    bufs: r.bufs.map((m, i) => ({ data: m.subarray(0, bufs[i]!.len) })),
  };
}

const MAX_READ_MEM = 64 * 1024 * 1024;
let selfMem: number | undefined;

/** `len` bytes of this process's memory at `addr`, read through /proc/self/mem: an address
 *  that is not mapped answers with an errno instead of a SIGSEGV. */
export function readMem(m: { addr?: number | bigint; len?: number }) {
  const len = m.len ?? 0;
  const failed = (errno: number) => ({ result: -1, errno, errnoName: errnoNames.get(errno) ?? "", bufs: [] });
  if (len > MAX_READ_MEM) return failed(constants.errno.EINVAL);
  const buf = new Uint8Array(len);
  let got = 0;
  try {
    selfMem ??= fs.openSync("/proc/self/mem", "r");
    while (got < len) {
      const n = fs.readSync(selfMem, buf, got, len - got, BigInt(m.addr ?? 0) + BigInt(got));
      if (n === 0) break;
      got += n;
    }
  } catch (e) {
    return failed((constants.errno as Record<string, number>)[(e as NodeJS.ErrnoException).code ?? ""] ?? constants.errno.EIO);
  }
  if (got < len) return failed(constants.errno.EIO); // the range ends in memory that is not mapped
  return { result: len, errno: 0, errnoName: "", bufs: [{ data: buf }] };
}
