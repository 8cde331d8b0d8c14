// Guest files, tails and raw calls (the agent's `files` family).
//
// Whole files travel in pieces of PIECE bytes when they are larger, a few pieces in flight
// at once, so neither side holds more than a few pieces of a large file in frames at a time
// and any size fits under the frame limit. Inside vm:batch every op is one request: a
// whole file then has to fit in one reply (BATCH_READ_MAX).
import { resolve } from "node:path";
import type { Op, Reply } from "@provium/protocol";
import type { GuestOp, GuestOps, OpContext } from "./guest-op";
import { bytes, joinBytes } from "./exec";

export const PIECE = 8 * 1024 * 1024;
const IN_FLIGHT = 2;
const BATCH_READ_MAX = 64 * 1024 * 1024;
const BATCH_WRITE_MAX = 64 * 1024 * 1024;

// Inside vm:batch a whole file travels in one request.
function batchData(data: Uint8Array | undefined) {
  if (data && data.byteLength > BATCH_WRITE_MAX) throw new Error(`${data.byteLength} bytes is more than ${BATCH_WRITE_MAX / 1024 / 1024} MiB: write it outside vm:batch`);
  return data;
}
/** read_file refuses to build a larger Lua string (a runaway /dev/zero, a huge image). */
const READ_FILE_MAX = 1024 * 1024 * 1024;

const ENTRY_TYPES = ["other", "file", "directory", "symlink", "fifo", "socket", "block_device", "char_device"];
const WHENCE: Record<string, number> = { set: 0, cur: 1, end: 2 };

const files = (op: NonNullable<Op["files"]>): Op => ({ files: op });
const fileReply = (r: Reply) => r.files!;

const MiB = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

/** Raises when the agent refused a file over `cap` (no data, its size given): nothing was read. */
function refused(path: string, d: { data?: Uint8Array; eof?: boolean; size?: number | bigint }, cap: number, where: string) {
  const size = Number(d.size ?? 0);
  if (d.eof || (d.data?.byteLength ?? 0) > 0 || size <= cap) return;
  throw new Error(
    `read_file ${path}: the file is ${size} bytes (${MiB(size)}), more than read_file takes ${where} (${MiB(cap)}): ` +
      `read it in pieces with vm:open_file(path, {read = true}), or follow it with vm:tail_file`,
  );
}

async function readWhole(path: string, send: (op: Op) => Promise<Reply>) {
  const piece = (offset: number) =>
    send(files({ readFile: { path, offset, maxBytes: PIECE, refuseOver: offset === 0 ? READ_FILE_MAX : 0 } })).then((r) => fileReply(r).data!);
  const first = await piece(0);
  refused(path, first, READ_FILE_MAX, "at once");
  const parts = [first.data ?? new Uint8Array()];
  let total = parts[0]!.byteLength;
  let eof = !!first.eof;
  while (!eof) {
    // A file that grew past the cap while it was read, or one whose size stat does not tell (/dev/zero).
    if (total > READ_FILE_MAX) throw new Error(`read_file ${path}: more than ${MiB(READ_FILE_MAX)}: read it in pieces with vm:open_file, or follow it with vm:tail_file`);
    const batch = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => piece(total + i * PIECE)));
    for (const d of batch) {
      const data = d.data ?? new Uint8Array();
      parts.push(data);
      total += data.byteLength;
      if (d.eof || data.byteLength === 0) {
        eof = true;
        break;
      }
    }
  }
  return joinBytes(parts, total);
}

async function writeWhole(path: string, data: Uint8Array, send: (op: Op) => Promise<Reply>) {
  const piece = (offset: number) => send(files({ writeFile: { path, data: data.subarray(offset, offset + PIECE), offset } }));
  await piece(0); // creates or truncates the file
  const rest: number[] = [];
  for (let at = PIECE; at < data.byteLength; at += PIECE) rest.push(at);
  for (let i = 0; i < rest.length; i += IN_FLIGHT) await Promise.all(rest.slice(i, i + IN_FLIGHT).map(piece));
  return true;
}

function pushedBytes(a: { host: string; guest: string; base?: string; auto_dep?: boolean }, ctx: OpContext) {
  const path = resolve(a.base ?? ".", a.host);
  try {
    if (!ctx.hostFile) throw new Error("host files are not available here");
    return ctx.hostFile(path, a.auto_dep !== false);
  } catch (e) {
    throw new Error(`push_file ${a.host} -> ${a.guest}: ${(e as Error).message}`);
  }
}

// syscall/ioctl arguments from Lua: integers, {buf = i} (1-based) or a string (passed as a
// pointer to a NUL-terminated copy). Buffers: a string, a size (zeros) or {data, size}.
type LuaBuf = string | Uint8Array | number | { data?: string | Uint8Array; size?: number };

function rawBuf(b: LuaBuf, what: string) {
  if (typeof b === "number") return { size: b };
  if (typeof b === "string" || b instanceof Uint8Array) return { data: bytes(b) };
  if (b && typeof b === "object") return { data: bytes(b.data), size: b.size };
  throw new Error(`${what} must be a string, a size or {data = ..., size = ...}`);
}

function rawArg(a: unknown, i: number, bufs: { data?: Uint8Array; size?: number }[], nbufs: number) {
  if (typeof a === "number" || typeof a === "bigint") return { value: a as number };
  if (typeof a === "boolean") return { value: a ? 1 : 0 };
  if (typeof a === "string" || a instanceof Uint8Array) {
    const b = bytes(a)!;
    const z = new Uint8Array(b.byteLength + 1);
    z.set(b);
    bufs.push({ data: z });
    return { buf: bufs.length - 1 };
  }
  const buf = (a as { buf?: unknown })?.buf;
  if (typeof buf === "number" && Number.isInteger(buf) && buf >= 1 && buf <= nbufs) return { buf: buf - 1 };
  throw new Error(`args[${i + 1}] must be an integer, a string or {buf = i} with 1 <= i <= ${nbufs}, got ${JSON.stringify(a)}`);
}

function rawReply(r: Reply) {
  const x = fileReply(r).raw!;
  return { result: x.result ?? 0, errno: x.errno ?? 0, errno_name: x.errnoName || undefined, bufs: (x.bufs ?? []).map((b) => b.data ?? new Uint8Array()) };
}

const op = <A>(o: GuestOp<A>) => o;

export const fileOps = {
  read_file: op<{ path: string }>({
    describe: (a) => `read_file ${a.path}`,
    request: (a) => files({ readFile: { path: a.path, maxBytes: BATCH_READ_MAX, refuseOver: BATCH_READ_MAX } }),
    reply: (r, a) => {
      const d = fileReply(r).data!;
      refused(a.path, d, BATCH_READ_MAX, "inside vm:batch");
      if (!d.eof) throw new Error(`larger than ${BATCH_READ_MAX / 1024 / 1024} MiB: read it outside vm:batch`);
      return d.data ?? new Uint8Array();
    },
    run: (a, _ctx, send) => readWhole(a.path, send),
  }),
  write_file: op<{ path: string; data: string | Uint8Array }>({
    describe: (a) => `write_file ${a.path}`,
    request: (a) => files({ writeFile: { path: a.path, data: batchData(bytes(a.data)) } }),
    reply: () => true,
    run: (a, _ctx, send) => writeWhole(a.path, bytes(a.data) ?? new Uint8Array(), send),
  }),
  push_file: op<{ host: string; guest: string; base?: string; auto_dep?: boolean }>({
    describe: (a) => `push_file ${a.host} -> ${a.guest}`,
    request: (a, ctx) => files({ writeFile: { path: a.guest, data: batchData(pushedBytes(a, ctx)) } }),
    reply: () => true,
    run: (a, ctx, send) => writeWhole(a.guest, pushedBytes(a, ctx), send),
  }),
  stat: op<{ path: string; follow?: boolean }>({
    describe: (a) => `stat ${a.path}`,
    request: (a) => files({ stat: { path: a.path, follow: !!a.follow } }),
    reply: (r) => {
      const s = fileReply(r).stat!;
      const ns = s.mtimeNs ?? 0;
      return {
        size: s.size ?? 0,
        mtime: Number(ns) / 1e9,
        mtime_ns: ns,
        perm: s.perm ?? 0,
        entry_type: ENTRY_TYPES[(s.type as unknown as number) ?? 0] ?? "other",
        uid: s.uid ?? 0,
        gid: s.gid ?? 0,
        nlink: s.nlink ?? 0,
        ino: s.ino ?? 0,
      };
    },
  }),
  listdir: op<{ path: string }>({
    describe: (a) => `listdir ${a.path}`,
    request: (a) => files({ listdir: a.path }),
    reply: (r) => (fileReply(r).entries ?? []).map((e) => ({ name: e.name ?? "", entry_type: ENTRY_TYPES[(e.type as unknown as number) ?? 0] ?? "other" })),
  }),
  mkdir: op<{ path: string; parents?: boolean; perm?: number }>({
    describe: (a) => `mkdir ${a.path}`,
    request: (a) => files({ mkdir: { path: a.path, parents: !!a.parents, perm: a.perm ?? 0, hasPerm: typeof a.perm === "number" } }),
    reply: () => true,
  }),
  unlink: op<{ path: string }>({
    describe: (a) => `unlink ${a.path}`,
    request: (a) => files({ unlink: a.path }),
    reply: () => true,
  }),
  rename: op<{ from: string; to: string }>({
    describe: (a) => `rename ${a.from} -> ${a.to}`,
    request: (a) => files({ rename: { from: a.from, to: a.to } }),
    reply: () => true,
  }),
  open_file: op<{ path: string; mode: Record<string, unknown> }>({
    describe: (a) => `open_file ${a.path}`,
    request: (a) => {
      const m = a.mode;
      return files({
        open: {
          path: a.path,
          read: !!m.read,
          write: !!m.write,
          create: !!m.create,
          truncate: !!m.truncate,
          append: !!m.append,
          exclusive: !!m.exclusive,
          perm: typeof m.perm === "number" ? m.perm : 0,
          hasPerm: typeof m.perm === "number",
        },
      });
    },
    reply: (r, a) => ({ handle: fileReply(r).opened!.handle, fd: fileReply(r).opened!.fd, path: a.path }),
  }),
  file_read: op<{ handle: number; path: string; n?: number; all?: boolean }>({
    describe: (a) => `read ${a.path}`,
    request: (a) => files({ read: { handle: a.handle, maxBytes: a.all ? 0 : a.n, toEof: !!a.all } }),
    reply: (r) => ({ data: fileReply(r).data!.data ?? new Uint8Array(), eof: !!fileReply(r).data!.eof }),
  }),
  file_write: op<{ handle: number; path: string; data: string | Uint8Array }>({
    describe: (a) => `write ${a.path}`,
    request: (a) => files({ write: { handle: a.handle, data: bytes(a.data) } }),
    reply: (r) => fileReply(r).count ?? 0,
  }),
  file_seek: op<{ handle: number; path: string; offset: number; whence: string }>({
    describe: (a) => `seek ${a.path}`,
    request: (a) => files({ seek: { handle: a.handle, offset: a.offset, whence: WHENCE[a.whence] ?? 0 } }),
    reply: (r) => fileReply(r).offset ?? 0,
  }),
  file_close: op<{ handle: number; path: string }>({
    describe: (a) => `close ${a.path}`,
    request: (a) => files({ close: a.handle }),
    reply: () => true,
  }),
  tail_file: op<{ path: string; from_end: boolean; start: number }>({
    describe: (a) => `tail_file ${a.path}`,
    request: (a) => files({ tail: { path: a.path, fromEnd: a.from_end, start: a.start } }),
    reply: (r, a) => ({ handle: fileReply(r).stream, label: `tail ${a.path}` }),
  }),
  fd_stream: op<{ fd: number }>({
    describe: (a) => `fd_stream ${a.fd}`,
    request: (a) => files({ fdStream: a.fd }),
    reply: (r, a) => ({ handle: fileReply(r).stream, label: `fd ${a.fd}` }),
  }),
  syscall: op<{ nr: number; args?: unknown[]; bufs?: LuaBuf[]; ptrs?: { buf: number; offset: number; target: number }[]; async?: boolean }>({
    describe: (a) => `syscall ${a.nr}`,
    request: (a) => {
      const bufs = (a.bufs ?? []).map((b, i) => rawBuf(b, `bufs[${i + 1}]`));
      const n = bufs.length;
      const args = (a.args ?? []).map((x, i) => rawArg(x, i, bufs, n));
      const ptrs = (a.ptrs ?? []).map((p) => ({ buf: p.buf - 1, offset: p.offset, target: p.target - 1 }));
      return files({ syscall: { nr: a.nr, args, bufs, ptrs, async: !!a.async } });
    },
    reply: (r, a) => {
      const x = rawReply(r);
      // Only the caller's buffers come back (not the copies made for string arguments).
      return { ret: x.result, result: x.result, errno: x.errno, errno_name: x.errno_name, out_bufs: x.bufs.slice(0, (a.bufs ?? []).length) };
    },
  }),
  read_mem: op<{ addr: number; len: number }>({
    describe: (a) => `read_mem 0x${BigInt.asUintN(64, BigInt(a.addr)).toString(16)} (${a.len} bytes)`,
    request: (a) => files({ readMem: { addr: BigInt.asUintN(64, BigInt(a.addr)) as unknown as number, len: a.len } }),
    reply: (r) => {
      const x = rawReply(r);
      return { errno: x.errno, data: x.bufs[0] ?? new Uint8Array() };
    },
  }),
  ioctl: op<{ fd: number; cmd: number; data?: unknown; ptrs?: { offset?: number; data: LuaBuf }[] }>({
    describe: (a) => `ioctl fd ${a.fd} request 0x${BigInt.asUintN(64, BigInt(a.cmd)).toString(16)}`,
    request: (a) => {
      const bufs: { data?: Uint8Array; size?: number }[] = [];
      let arg: { value: number } | { buf: number };
      if (a.data === undefined || a.data === null) arg = { value: 0 };
      else if (typeof a.data === "number" || typeof a.data === "bigint") arg = { value: a.data as number };
      else {
        bufs.push(rawBuf(a.data as LuaBuf, "data"));
        arg = { buf: 0 };
      }
      const ptrs: { buf: number; offset: number; target: number }[] = [];
      (a.ptrs ?? []).forEach((p, i) => {
        if (!bufs.length) throw new Error("ptrs need data to point from: pass the argument struct as data");
        bufs.push(rawBuf(p.data, `ptrs[${i + 1}].data`));
        if (p.offset !== undefined && p.offset !== null) ptrs.push({ buf: 0, offset: p.offset, target: bufs.length - 1 });
      });
      return files({ ioctl: { args: [{ value: a.fd }, { value: a.cmd }, arg], bufs, ptrs } });
    },
    reply: (r, a) => {
      const x = rawReply(r);
      const hasData = a.data !== undefined && a.data !== null && typeof a.data !== "number" && typeof a.data !== "bigint";
      return {
        ret: x.result,
        result: x.result,
        errno: x.errno,
        errno_name: x.errno_name,
        out_data: hasData ? x.bufs[0] : undefined,
        out_bufs: hasData ? x.bufs.slice(1) : [],
      };
    },
  }),
} satisfies GuestOps;
