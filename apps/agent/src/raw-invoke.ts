// One raw call through libc, on the thread that calls this: buffers are the caller's, their
// addresses go where `args` and `ptrs` say, and they come back as the call left them. Used by
// the agent's raw-call threads (raw-thread.ts) and by a worker's own process, which makes its
// calls on its main thread so that credentials it sets stick to the calls after.
import { dlopen, ptr, read } from "bun:ffi";

export interface RawRequest {
  kind: "syscall" | "ioctl";
  nr: bigint;
  /** a value, or the address of bufs[buf] */
  args: (bigint | { buf: number })[];
  bufs: Uint8Array[];
  /** before the call, the address of bufs[target] is written at byte `offset` of bufs[buf] */
  ptrs: { buf: number; offset: number; target: number }[];
}

export interface RawOutcome {
  result: bigint;
  errno: number;
  bufs: Uint8Array[];
}

const symbols = {
  syscall: { args: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], returns: "i64" },
  ioctl: { args: ["i32", "u64", "i64"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const;

let libc: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | undefined;

export function invokeRaw(m: RawRequest): RawOutcome {
  const lib = (libc ??= dlopen("libc.so.6", symbols).symbols);
  const mem = m.bufs;
  const addr = (i: number) => BigInt(ptr(mem[i]!));
  for (const p of m.ptrs) new DataView(mem[p.buf]!.buffer, mem[p.buf]!.byteOffset).setBigUint64(p.offset, addr(p.target), true);
  const a = m.args.map((x) => (typeof x === "object" ? addr(x.buf) : x));
  let result: bigint;
  if (m.kind === "ioctl") result = BigInt(lib.ioctl(Number(a[0] ?? 0), BigInt.asUintN(64, a[1] ?? 0n), a[2] ?? 0n));
  else {
    while (a.length < 6) a.push(0n);
    result = BigInt(lib.syscall(m.nr, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!));
  }
  const errno = result === -1n ? read.i32(lib.__errno_location()!, 0) : 0;
  return { result, errno, bufs: mem };
}
