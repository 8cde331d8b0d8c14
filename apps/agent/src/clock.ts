// The guest's wall clock: clock_gettime/clock_settime(CLOCK_REALTIME) through libc, in ns.
// An advance reads and sets in one op, so no host round trip falls between the two.
import { dlopen, type Pointer } from "bun:ffi";
import type { PlainRequest } from "@provium/protocol";
import { errnoError } from "./rawcalls";

type ClockOp = NonNullable<NonNullable<PlainRequest["op"]>["clock"]>;

const CLOCK_REALTIME = 0;
const NS = 1_000_000_000n;

let libc: ReturnType<typeof open> | null = null;
function open() {
  return dlopen("libc.so.6", {
    clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
    clock_settime: { args: ["i32", "ptr"], returns: "i32" },
  }).symbols;
}

function now(): bigint {
  const ts = new BigInt64Array(2); // struct timespec { time_t tv_sec; long tv_nsec; }
  if ((libc ??= open()).clock_gettime(CLOCK_REALTIME, ts as unknown as Pointer) !== 0) throw errnoError();
  return ts[0]! * NS + ts[1]!;
}

/** Sets the guest's wall clock (CLOCK_REALTIME) to `ns` since the epoch. */
export function setClock(ns: bigint) {
  if (ns < 0n) throw Object.assign(new Error(`the guest clock can't go before 1970 (${ns} ns)`), { code: "EINVAL" });
  const ts = new BigInt64Array([ns / NS, ns % NS]);
  if ((libc ??= open()).clock_settime(CLOCK_REALTIME, ts as unknown as Pointer) !== 0) throw errnoError();
}

const big = (v: number | bigint) => (typeof v === "bigint" ? v : BigInt(v));

export function clockOp(op: ClockOp) {
  if (op.set !== undefined) setClock(big(op.set));
  else if (op.advance !== undefined) setClock(now() + big(op.advance));
  return { clock: { nowNs: now() } };
}
