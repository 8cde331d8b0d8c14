// A guest op is what the Lua API asks of an agent: how its arguments become one protocol
// request, and how the agent's reply becomes the value Lua gets. Keeping the two halves
// apart lets the same op run alone or inside a batch (one round trip for many ops).
import type { Op, Reply } from "@provium/protocol";
import type { GuestVm } from "../guest";

export interface OpContext {
  vm: GuestVm;
  worker: number; // 0 = the agent's root namespace
  /** Reads a host file for the guest (push_file) and records it as a dependency of the file. */
  hostFile?(path: string, record: boolean): Uint8Array;
}

export interface GuestOp<A = any> {
  request(args: A, ctx: OpContext): Op;
  reply(r: Reply, args: A, ctx: OpContext): unknown;
  /** Describes the op in error messages, e.g. "read_file /etc/x". */
  describe(args: A): string;
  /** Alone (not in a batch), an op may take several round trips (e.g. a large file in pieces);
   *  `send` raises for a failed reply. */
  run?(args: A, ctx: OpContext, send: (op: Op) => Promise<Reply>): Promise<unknown>;
}

export type GuestOps = Record<string, GuestOp>;

/** Raises for a failed reply: "<op>: <message> (<ERRNO>)". */
export function failure(r: Reply, what: string): Error | null {
  if (!r.error) return null;
  const e = r.error;
  return new Error(`${what}: ${e.message}${e.errnoName ? ` (${e.errnoName})` : ""}`);
}
