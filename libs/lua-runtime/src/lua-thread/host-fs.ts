// The host's real filesystem for Lua's io and os libraries (io.lua builds the Lua objects).
// wasmoon's own io works on an in-memory filesystem inside the engine; tests need the real
// one. The Lua thread is a worker that may block, so it calls node:fs synchronously itself:
// no round trip through the runner worker, which owns VMs, not host files.
//
// Results follow Lua's conventions: an error is returned as [null, message, errno], with
// message "path: No such file or directory" where Lua's C library would name the path.
import * as fs from "node:fs";
import { constants } from "node:os";
import { resolve } from "node:path";

const CHUNK = 64 * 1024;
// A read of "everything" or of a huge count goes in pieces of at most this size.
const MAX_PIECE = 16 * 1024 * 1024;
// Lua reads at most this many characters for the "n" format (L_MAXLENNUM).
const MAX_NUMERAL = 200;
const NEWLINE = 0x0a;

// glibc's wording for the errors tests meet; libuv's own texts differ ("illegal operation
// on a directory"). Anything else falls back to libuv's text, capitalised.
const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  EEXIST: "File exists",
  ENOTEMPTY: "Directory not empty",
  EXDEV: "Invalid cross-device link",
  EBUSY: "Device or resource busy",
  EROFS: "Read-only file system",
  ENOSPC: "No space left on device",
  EBADF: "Bad file descriptor",
  EINVAL: "Invalid argument",
  ESPIPE: "Illegal seek",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  EMFILE: "Too many open files",
};

type Failure = [null, string, number];

function failure(e: unknown, path?: string): Failure {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? "";
  const text = STRERROR[code] ?? (err?.message ?? String(e)).replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "").replace(/^./, (c) => c.toUpperCase());
  const errno = (constants.errno as Record<string, number>)[code] ?? (typeof err?.errno === "number" ? Math.abs(err.errno) : 0);
  return [null, path === undefined ? text : `${path}: ${text}`, errno];
}

const OPEN_FLAGS: Record<string, string> = { r: "r", w: "w", a: "a", "r+": "r+", "w+": "w+", "a+": "a+" };

/** An open host file: reads are buffered ahead (for lines and numbers), writes go straight
 *  to the file, so flush and setvbuf have nothing to do. */
class HostFile {
  // Bytes of the file from `pos` on, already read ahead.
  private ahead: Uint8Array = new Uint8Array(0);
  private atEof = false;
  /** The position of the next byte read or written, as Lua sees it. */
  pos = 0;

  constructor(
    readonly fd: number,
    private readonly append: boolean,
    // Pipes and character devices have no positions: they are read and written in order.
    private readonly seekable: boolean,
  ) {}

  /** Reads ahead until `need` bytes are buffered or the file ends; returns what is buffered.
   *  Pieces are joined once, so a big read costs one copy. */
  private fill(need: number): Uint8Array {
    const pieces = [this.ahead];
    let have = this.ahead.byteLength;
    while (have < need && !this.atEof) {
      // To the end of the file: pieces grow with what was read, so small files stay cheap.
      const want = need === Infinity ? have : need - have;
      const piece = new Uint8Array(Math.min(Math.max(CHUNK, want), MAX_PIECE));
      const n = fs.readSync(this.fd, piece, 0, piece.byteLength, this.seekable ? this.pos + have : null);
      if (n === 0) this.atEof = true;
      pieces.push(piece.subarray(0, n));
      have += n;
    }
    if (pieces.length > 1) this.ahead = joined(pieces, have);
    return this.ahead;
  }

  // A view, not a copy: buffered bytes are never written over (fill makes new buffers).
  private take(n: number): Uint8Array {
    const out = this.ahead.subarray(0, n);
    this.ahead = this.ahead.subarray(n);
    this.pos += n;
    return out;
  }

  /** Up to n bytes; null at end of file (n = 0: "" unless at end of file). */
  readBytes(n: number): Uint8Array | null {
    const have = this.fill(Math.max(n, 1));
    if (have.byteLength === 0) return null;
    return this.take(Math.min(n, have.byteLength));
  }

  /** One line, with its newline when `keep`; null at end of file. */
  readLine(keep: boolean): Uint8Array | null {
    let scanned = 0;
    for (;;) {
      const have = this.ahead;
      const nl = have.indexOf(NEWLINE, scanned);
      if (nl >= 0) {
        const line = this.take(nl + 1);
        return keep ? line : line.subarray(0, nl);
      }
      scanned = have.byteLength;
      if (this.atEof) return have.byteLength ? this.take(have.byteLength) : null;
      this.fill(2 * have.byteLength + CHUNK); // doubling: a long line costs linear time
    }
  }

  /** The rest of the file ("" at end of file). */
  readAll(): Uint8Array {
    this.fill(Infinity);
    return this.take(this.ahead.byteLength);
  }

  /** The longest prefix that reads as a Lua numeral, as C Lua's read_number scans it
   *  (whitespace skipped); Lua converts it, and fails the read if it is not a number. */
  readNumeral(): string {
    let text = "";
    const peek = () => {
      const have = this.fill(1);
      return have.byteLength ? String.fromCharCode(have[0]!) : "";
    };
    const accept = (set: string) => {
      const c = peek();
      if (c === "" || !set.includes(c) || text.length >= MAX_NUMERAL) return false;
      text += c;
      this.take(1);
      return true;
    };
    for (let c = peek(); c !== "" && " \t\n\v\f\r".includes(c); c = peek()) this.take(1);
    accept("+-");
    let digits = "0123456789";
    let exponent = "eE";
    let count = 0;
    if (accept("0")) {
      if (accept("xX")) {
        digits += "abcdefABCDEF";
        exponent = "pP";
      } else count = 1;
    }
    while (accept(digits)) count++;
    if (accept(".")) while (accept(digits)) count++;
    // As C Lua: an exponent only after at least one digit.
    if (count > 0 && accept(exponent)) {
      accept("+-");
      while (accept("0123456789"));
    }
    return text;
  }

  write(data: Uint8Array): void {
    this.ahead = new Uint8Array(0);
    this.atEof = false;
    for (let done = 0; done < data.byteLength; ) {
      const position = this.seekable && !this.append ? this.pos + done : null;
      done += fs.writeSync(this.fd, data, done, data.byteLength - done, position);
    }
    // O_APPEND writes land at the end, wherever the position was.
    this.pos = this.append && this.seekable ? fs.fstatSync(this.fd).size : this.pos + data.byteLength;
  }

  seek(whence: string, offset: number): number | Failure {
    if (!this.seekable) return failure({ code: "ESPIPE" });
    const base = whence === "set" ? 0 : whence === "cur" ? this.pos : fs.fstatSync(this.fd).size;
    if (base + offset < 0) return failure({ code: "EINVAL" });
    if (base + offset !== this.pos) {
      this.ahead = new Uint8Array(0);
      this.pos = base + offset;
    }
    this.atEof = false;
    return this.pos;
  }
}

function joined(pieces: Uint8Array[], total: number) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Argument access for a call from Lua: by position (1-based, after the op name). */
export interface FsArgs {
  value(i: number): unknown;
  bytes(i: number): Uint8Array;
}

// The fds a Lua thread holds, in memory its starter shares: a thread stopped at a timeout
// runs no more code, so the starter closes what it left open (closeLeftFds).
const FD_SLOTS = 1024;
const FREE = -1;

export function newOpenFdTable(): SharedArrayBuffer {
  const table = new Int32Array(new SharedArrayBuffer(FD_SLOTS * 4));
  table.fill(FREE);
  return table.buffer as SharedArrayBuffer;
}

/** Closes the fds a stopped Lua thread left open. Only once the thread has exited. */
export function closeLeftFds(buffer: SharedArrayBuffer): void {
  const table = new Int32Array(buffer);
  for (let i = 0; i < table.length; i++) {
    const fd = Atomics.exchange(table, i, FREE);
    if (fd === FREE) continue;
    try {
      fs.closeSync(fd);
    } catch {}
  }
}

/** The host files one Lua engine has open, by handle number; all closed with the engine. */
export class HostFiles {
  private readonly open = new Map<number, HostFile>();
  private next = 1;
  private readonly fdTable: Int32Array | null;

  constructor(fdTable?: SharedArrayBuffer) {
    this.fdTable = fdTable ? new Int32Array(fdTable) : null;
  }

  // Past FD_SLOTS open files the rest are closed only by the engine's own end.
  private share(fd: number, open: boolean) {
    const t = this.fdTable;
    if (!t) return;
    const i = open ? t.indexOf(FREE) : t.indexOf(fd);
    if (i >= 0) Atomics.store(t, i, open ? fd : FREE);
  }

  private file(h: unknown): HostFile {
    const f = this.open.get(Number(h));
    if (!f) throw new Error("attempt to use a closed file");
    return f;
  }

  /** One call from io.lua: `op` with its arguments; the results go back as Lua values. */
  call(op: string, a: FsArgs): unknown[] {
    const text = (i: number) => {
      const v = a.value(i);
      return v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v ?? "");
    };
    // Paths come with the directory of the Lua file that named them (relative to the cwd).
    const path = (i = 1) => resolve(text(2) || ".", text(i));
    try {
      switch (op) {
        case "open": {
          const flags = OPEN_FLAGS[text(3).replace(/b/g, "")];
          if (!flags) throw new Error(`invalid mode ${text(3)}`);
          try {
            const fd = fs.openSync(path(), flags);
            this.share(fd, true);
            const st = fs.fstatSync(fd);
            const id = this.next++;
            this.open.set(id, new HostFile(fd, flags.startsWith("a"), st.isFile() || st.isBlockDevice() || st.isDirectory()));
            return [id];
          } catch (e) {
            return failure(e, text(1));
          }
        }
        case "close": {
          const f = this.file(a.value(1));
          this.open.delete(Number(a.value(1)));
          this.share(f.fd, false);
          fs.closeSync(f.fd);
          return [true];
        }
        case "read_bytes":
          return [this.file(a.value(1)).readBytes(Number(a.value(2)))];
        case "read_line":
          return [this.file(a.value(1)).readLine(a.value(2) === true)];
        case "read_all":
          return [this.file(a.value(1)).readAll()];
        case "read_numeral":
          return [this.file(a.value(1)).readNumeral()];
        case "write":
          this.file(a.value(1)).write(a.bytes(2));
          return [true];
        case "seek": {
          const r = this.file(a.value(1)).seek(text(2), Number(a.value(3)));
          return Array.isArray(r) ? r : [r];
        }
        case "remove": {
          try {
            fs.unlinkSync(path());
          } catch (e) {
            // C's remove() also removes an empty directory.
            if ((e as NodeJS.ErrnoException).code !== "EISDIR") throw e;
            fs.rmdirSync(path());
          }
          return [true];
        }
        case "rename":
          fs.renameSync(path(), path(3));
          return [true];
        case "getenv":
          return [process.env[text(1)] ?? null];
        default:
          throw new Error(`unknown host file op '${op}'`);
      }
    } catch (e) {
      return failure(e, op === "remove" || op === "rename" ? text(1) : undefined);
    }
  }

  /** Closes every file the engine left open (its file ended, or raised). */
  closeAll(): void {
    for (const f of this.open.values()) {
      this.share(f.fd, false);
      try {
        fs.closeSync(f.fd);
      } catch {}
    }
    this.open.clear();
  }
}
