// Guest files: whole-file reads and writes, metadata, directories and open file handles.
//
// Whole-file reads and writes open a regular file at once; anything else is opened through the
// thread pool (opening a FIFO or a device may block), as handles are. I/O on a
// regular file is synchronous (it never blocks for long and skips a thread hop); I/O on
// anything else (pipes, ttys, devices) is asynchronous so a read that waits for data never
// stalls the agent. Failures carry strerror's words and the errno name; the host adds the
// op and the path.
import * as fs from "node:fs";
import type { PlainRequest } from "@provium/protocol";
import type { Namespace, Resource } from "./namespace";
import { lseek, rawCall, readMem, statPath, strerror } from "./rawcalls";
import { workerProcess } from "./worker-process";
import { startFdTail, startPathTail } from "./tails";
import { constants as os } from "node:os";

type FileOp = NonNullable<NonNullable<PlainRequest["op"]>["files"]>;

/** Largest piece one reply carries; the host asks for whole files in pieces below this. */
const DEFAULT_READ_CAP = 64 * 1024 * 1024;
/** read(n) of a handle: n is capped here (one reply). */
const HANDLE_READ_CAP = 16 * 1024 * 1024;
const READ_ALL_CHUNK = 64 * 1024;

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_NOCTTY } = fs.constants;

export class OpenFile implements Resource {
  readonly kind = "file";
  private closed = false;
  constructor(
    readonly fd: number,
    readonly path: string,
    readonly regular: boolean,
  ) {}
  close() {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already gone */
    }
  }
}

/** Rewords a Node error as strerror(3) would ("No such file or directory"), keeping its code. */
export function sysError(e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== "string" || !err.code.startsWith("E")) return err as Error;
  // Our own errors already say what went wrong; Node's system errors read "ENOENT: ...".
  if (!err.syscall && !/^E[A-Z0-9]+: /.test(err.message ?? "")) return err as Error;
  const n = (os.errno as Record<string, number>)[err.code];
  let text = n ? strerror(n) : "";
  if (!text || text.startsWith("errno ")) {
    const m = /^E\w+: ([^,]+)/.exec(err.message ?? "");
    text = m ? m[1]![0]!.toUpperCase() + m[1]!.slice(1) : err.message;
  }
  return Object.assign(new Error(text), { code: err.code, errno: n });
}

function openAsync(path: string, flags: number, mode = 0o666): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, mode, (e, fd) => (e ? reject(e) : resolve(fd))));
}

/** Opens a regular file, or a path that does not exist yet, at once (a thread-pool hop costs
 *  ~0.4 ms in a TCG guest); anything else (a FIFO or a device may block in open(2)) goes
 *  through the thread pool, as does a path whose stat fails otherwise (open says why). */
function openQuick(path: string, flags: number, mode = 0o666): number | Promise<number> {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(path, { throwIfNoEntry: false });
    if (!st || st.isFile()) return fs.openSync(path, flags, mode);
  } catch {
    /* fall through: open says what is wrong */
  }
  return openAsync(path, flags, mode);
}

function readAsync(fd: number, buf: Uint8Array, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.byteLength, position, (e, n) => (e ? reject(e) : resolve(n))));
}

function writeAsync(fd: number, data: Uint8Array, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, data, 0, data.byteLength, position, (e, n) => (e ? reject(e) : resolve(n))));
}


export function entryType(mode: number): number {
  switch (mode & 0o170000) {
    case 0o100000: return 1;
    case 0o040000: return 2;
    case 0o120000: return 3;
    case 0o010000: return 4;
    case 0o140000: return 5;
    case 0o060000: return 6;
    case 0o020000: return 7;
    default: return 0;
  }
}

function direntType(d: fs.Dirent, dir: string): number {
  if (d.isFile()) return 1;
  if (d.isDirectory()) return 2;
  if (d.isSymbolicLink()) return 3;
  if (d.isFIFO()) return 4;
  if (d.isSocket()) return 5;
  if (d.isBlockDevice()) return 6;
  if (d.isCharacterDevice()) return 7;
  try {
    return entryType(fs.lstatSync(`${dir}/${d.name}`).mode); // DT_UNKNOWN on some filesystems
  } catch {
    return 0;
  }
}

/** Reads up to `max` bytes from `offset` (regular files) or until EOF (anything else). */
/** How whole reads and writes open their file and get the buffer a read goes into. */
export interface WholeIo {
  open(path: string, flags: number, mode?: number): number | Promise<number>;
  alloc(bytes: number): Uint8Array;
}

const mainThreadIo: WholeIo = { open: openQuick, alloc: (n) => Buffer.allocUnsafe(n) };

/** f(x) now, or once x is there. */
function then<T, U>(x: T | Promise<T>, f: (x: T) => U | Promise<U>): U | Promise<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}

/** Runs f and closes fd after it, whether f answers now or later. */
function closing<T>(fd: number, f: () => T | Promise<T>): T | Promise<T> {
  let r: T | Promise<T>;
  try {
    r = f();
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => fs.closeSync(fd));
  fs.closeSync(fd);
  return r;
}

/** Reads up to `max` bytes from `offset`: at once from a regular file (the port reader thread
 *  opens with openSync, having seen one), as it comes from anything else. */
function readFile(r: NonNullable<FileOp["readFile"]>, io: WholeIo) {
  return then(io.open(r.path!, O_RDONLY | O_NOCTTY), (fd) => closing(fd, () => readOpened(fd, r, io)));
}

function readOpened(fd: number, r: NonNullable<FileOp["readFile"]>, io: WholeIo) {
  const st = fs.fstatSync(fd);
  const max = r.maxBytes || DEFAULT_READ_CAP;
  const offset = r.offset ?? 0;
  if (!(st.isFile() && st.size > 0)) return readToEnd(fd, st, max, offset);
  // The host refuses a file too large for it before anything travels: it needs only the size.
  if (r.refuseOver && st.size > r.refuseOver) return { data: new Uint8Array(), eof: false, size: st.size };
  // Sized by fstat, but a file may grow or shrink while we read (logs): read what is there.
  const want = Math.min(max, Math.max(0, st.size - offset));
  const buf = io.alloc(want);
  let n = 0;
  while (n < want) {
    const k = fs.readSync(fd, buf, n, want - n, offset + n);
    if (k === 0) break;
    n += k;
  }
  return { data: buf.subarray(0, n), eof: offset + n >= st.size, size: st.size };
}

/** /proc files (size 0), pipes, devices: read sequentially until EOF or the cap. */
async function readToEnd(fd: number, st: fs.Stats, max: number, offset: number) {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let eof = false;
  const seekable = st.isFile();
  while (total < max) {
    const buf = Buffer.allocUnsafe(Math.min(READ_ALL_CHUNK * 4, max - total));
    const k = seekable ? fs.readSync(fd, buf, 0, buf.byteLength, offset + total) : await readAsync(fd, buf, null);
    if (k === 0) {
      eof = true;
      break;
    }
    chunks.push(buf.subarray(0, k));
    total += k;
  }
  return { data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), eof, size: st.size };
}

/** Writes a piece: at once into a regular file, as the other end takes it into anything else. */
function writeFile(w: NonNullable<FileOp["writeFile"]>, { open }: WholeIo) {
  const offset = w.offset ?? 0;
  const flags = offset === 0 ? O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY : O_WRONLY | O_NOCTTY;
  return then(open(w.path!, flags), (fd) => closing(fd, () => writeOpened(fd, w.data ?? new Uint8Array(), offset)));
}

function writeOpened(fd: number, data: Uint8Array, offset: number): void | Promise<void> {
  // A later piece goes to its offset; the first writes at the fresh descriptor's own
  // position, which also suits files that refuse pwrite (some of /proc and /sys).
  const at = (n: number) => (offset > 0 ? offset + n : null);
  if (!fs.fstatSync(fd).isFile()) return writeToEnd(fd, data, at);
  for (let n = 0; n < data.byteLength; ) n += fs.writeSync(fd, data, n, data.byteLength - n, at(n));
}

async function writeToEnd(fd: number, data: Uint8Array, at: (n: number) => number | null) {
  for (let n = 0; n < data.byteLength; ) n += await writeAsync(fd, data.subarray(n), at(n));
}

function stat(s: NonNullable<FileOp["stat"]>) {
  const st = statPath(s.path!, !!s.follow);
  st.type = entryType(st.type);
  return st;
}

function listdir(path: string) {
  const entries = fs.readdirSync(path, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.map((d) => ({ name: d.name, type: direntType(d, path) }));
}

function mkdir(m: NonNullable<FileOp["mkdir"]>) {
  const perm = m.hasPerm ? m.perm ?? 0 : -1;
  if (m.parents) {
    const created = fs.mkdirSync(m.path!, { recursive: true });
    // An explicit perm is exact (not less the umask), for the directory asked for.
    if (created !== undefined && perm >= 0) fs.chmodSync(m.path!, perm);
  } else {
    fs.mkdirSync(m.path!);
    if (perm >= 0) fs.chmodSync(m.path!, perm);
  }
}

function unlink(path: string) {
  try {
    fs.unlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM") throw e;
    fs.rmdirSync(path); // an empty directory; ENOTEMPTY otherwise
  }
}

async function open(ns: Namespace, o: NonNullable<FileOp["open"]>) {
  const writes = o.write || o.append;
  if (!o.read && !writes) throw Object.assign(new Error("the mode needs read, write or append"), { code: "EINVAL" });
  let flags = (o.read && writes ? O_RDWR : writes ? O_WRONLY : O_RDONLY) | O_NOCTTY;
  if (o.truncate) flags |= O_TRUNC;
  if (o.append) flags |= O_APPEND;
  const perm = o.hasPerm ? o.perm ?? 0 : -1;
  let fd: number;
  if (!o.create) fd = await openAsync(o.path!, flags);
  else if (o.exclusive || perm < 0) {
    fd = await openAsync(o.path!, flags | O_CREAT | (o.exclusive ? O_EXCL : 0));
    if (perm >= 0) fs.fchmodSync(fd, perm);
  } else {
    // An explicit perm applies exactly, and only to a file this open creates.
    for (let tries = 0; ; tries++) {
      try {
        fd = await openAsync(o.path!, flags | O_CREAT | O_EXCL, perm);
        fs.fchmodSync(fd, perm);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST" || tries > 3) throw e;
      }
      try {
        fd = await openAsync(o.path!, flags);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // removed meanwhile: create again
      }
    }
  }
  const file = new OpenFile(fd, o.path!, fs.fstatSync(fd).isFile());
  return { handle: ns.add(file), fd };
}

async function readHandle(ns: Namespace, r: NonNullable<FileOp["read"]>) {
  const f = ns.get<OpenFile>(r.handle!, "file");
  const max = Math.min(r.maxBytes ?? 0, HANDLE_READ_CAP);
  const readSome = async (n: number) => {
    const buf = Buffer.allocUnsafe(n);
    const k = f.regular ? fs.readSync(f.fd, buf, 0, n, null) : await readAsync(f.fd, buf, null);
    return buf.subarray(0, k);
  };
  if (!r.toEof) {
    if (max === 0) return { data: new Uint8Array(), eof: false };
    // A large n on a regular file: allocate what is there, not n (fresh memory is dear).
    const want = f.regular && max > READ_ALL_CHUNK ? Math.min(max, Math.max(1, fs.fstatSync(f.fd).size - lseek(f.fd, 0, 1))) : max;
    const data = await readSome(want);
    return { data, eof: data.byteLength === 0 };
  }
  // To end of file, 64 KiB at a time, up to the cap per reply (the host asks again).
  const cap = max || HANDLE_READ_CAP;
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < cap) {
    const data = await readSome(Math.min(READ_ALL_CHUNK, cap - total));
    if (data.byteLength === 0) return { data: Buffer.concat(chunks), eof: true };
    chunks.push(data);
    total += data.byteLength;
  }
  return { data: Buffer.concat(chunks), eof: false };
}

async function writeHandle(ns: Namespace, w: NonNullable<FileOp["write"]>) {
  const f = ns.get<OpenFile>(w.handle!, "file");
  const data = w.data ?? new Uint8Array();
  if (data.byteLength === 0) return 0;
  return f.regular ? fs.writeSync(f.fd, data, 0, data.byteLength, null) : await writeAsync(f.fd, data, null);
}

function seek(ns: Namespace, s: NonNullable<FileOp["seek"]>) {
  const f = ns.get<OpenFile>(s.handle!, "file");
  return lseek(f.fd, s.offset ?? 0, s.whence ?? 0);
}

async function closeHandle(ns: Namespace, handle: number) {
  try {
    ns.get<OpenFile>(handle, "file");
  } catch {
    return; // closed already (or never a file): closing is idempotent
  }
  await ns.close(handle);
}

/** The handler of Request.op.files: one member of FileOp per call. Ops that never wait
 *  (stat, mkdir, whole reads and writes of regular files, ...) answer synchronously: a batch
 *  of them costs no promise per op, and the port reader thread can answer them (with its own
 *  WholeIo: openSync, and a read buffer it keeps). */
export function files(op: FileOp, ns: Namespace, io: WholeIo = mainThreadIo): object | Promise<object> {
  try {
    const r = fileOp(op, ns, io);
    return r instanceof Promise ? r.catch((e) => Promise.reject(sysError(e))) : r;
  } catch (e) {
    throw sysError(e);
  }
}

// One switch on the member's name: the decoded op objects differ in shape per member, and a
// chain of `op.x` tests missed JSC's inline caches on every one of them.
function fileOp(op: FileOp, ns: Namespace, io: WholeIo): object | Promise<object> {
  for (const name in op) {
    const a = (op as Record<string, any>)[name];
    switch (name as keyof FileOp) {
      case "readFile": return then(readFile(a, io), (data) => ({ files: { data } }));
      case "writeFile": return then(writeFile(a, io), () => ({ done: true }));
      case "stat": return { files: { stat: stat(a) } };
      case "listdir": return { files: { entries: listdir(a) } };
      case "mkdir": return (mkdir(a), { done: true });
      case "unlink": return (unlink(a), { done: true });
      case "rename": return (fs.renameSync(a.from, a.to), { done: true });
      case "open": return open(ns, a).then((opened) => ({ files: { opened } }));
      case "read": return readHandle(ns, a).then((data) => ({ files: { data } }));
      case "write": return writeHandle(ns, a).then((count) => ({ files: { count } }));
      case "seek": return { files: { offset: seek(ns, a) } };
      case "close": return closeHandle(ns, a).then(() => ({ done: true }));
      case "tail": return startPathTail(ns, a.path, !!a.fromEnd, a.start ?? 0).then((stream) => ({ files: { stream } }));
      case "fdStream": return { files: { stream: startFdTail(ns, a) } };
      // A worker's syscalls and memory are its own process's; its ioctls act on the agent's
      // descriptors (its files are the agent's).
      case "syscall": return ns.id ? workerProcess(ns).call({ files: op }) : rawCall("syscall", a).then((raw) => ({ files: { raw } }));
      case "ioctl": return rawCall("ioctl", a).then((raw) => ({ files: { raw } }));
      case "readMem": return ns.id ? workerProcess(ns).call({ files: op }) : { files: { raw: readMem(a) } };
    }
  }
  throw Object.assign(new Error(`unsupported files op: ${Object.keys(op)[0]}`), { code: "ENOSYS" });
}
