// A guest op is what the Lua API asks of an agent: how its arguments become one protocol
// request, and how the agent's reply becomes the value Lua gets. Keeping the two halves
// apart lets the same op run alone or inside a batch (one round trip for many ops).
import type { Op, Reply } from "@provium/protocol";
import type { GuestVm } from "../guest";

export interface OpContext {
  vm: GuestVm;
  worker: number; // 0 = the agent's root namespace
}

export interface GuestOp<A = any> {
  request(args: A, ctx: OpContext): Op;
  reply(r: Reply, args: A, ctx: OpContext): unknown;
  /** Describes the op in error messages, e.g. "read_file /etc/x". */
  describe(args: A): string;
}

export type GuestOps = Record<string, GuestOp>;

/** Raises for a failed reply: "<op>: <message> (<ERRNO>)". */
export function failure(r: Reply, what: string): Error | null {
  if (!r.error) return null;
  const e = r.error;
  return new Error(`${what}: ${e.message}${e.errnoName ? ` (${e.errnoName})` : ""}`);
}
