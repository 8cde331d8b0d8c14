// The guest's wall clock (vm:clock()): read, set and advanced by the agent in the guest, in ns.
import type { GuestOps } from "./guest-op";

// The generated types say number for Int64; the codec writes a bigint exactly (ns since 1970 are past 2^53).
const int64 = (v: unknown) => BigInt(v as number) as unknown as number;

const nowNs = (r: { clock?: { nowNs?: number | bigint } | null }) => BigInt(r.clock!.nowNs ?? 0);

export const clockOps = {
  clock_get: {
    describe: () => "clock get",
    request: () => ({ clock: { get: true } }),
    reply: nowNs,
  },
  clock_set: {
    describe: ({ ns }) => `clock set ${ns} ns`,
    request: ({ ns }) => ({ clock: { set: int64(ns) } }),
    reply: nowNs,
  },
  clock_advance: {
    describe: ({ ns }) => `clock advance ${ns} ns`,
    request: ({ ns }) => ({ clock: { advance: int64(ns) } }),
    reply: nowNs,
  },
} satisfies GuestOps;
