// Host half of the protocol: many requests in flight on one connection, matched by id.
import { protocolVersion } from "./generated/constants";
import type { Request, Response } from "./generated/agent";
import type { Plain } from "./wire";
import { FrameConnection, type Transport } from "./connection";
import type { PlainFrame } from "./framing";

export type Op = NonNullable<Plain<Request>["op"]>;
export type Reply = Plain<Response>;
export type Failure = NonNullable<Reply["error"]>;

/** An op that failed inside the guest (an outcome, carried with its errno). */
export class GuestError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message ?? "guest error");
  }
}

/** The connection to an agent failed: it is gone, broken or hostile (infrastructure). */
export class AgentConnectionError extends Error {}

export class AgentClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private conn: FrameConnection;
  private closeReason: Error | null = null;

  constructor(transport: Transport, opts: { maxFrame?: number; onClose?: (why: Error) => void } = {}) {
    this.conn = new FrameConnection(
      transport,
      (f) => this.onFrame(f),
      (why) => {
        this.closeReason = why;
        for (const p of this.pending.values()) p.reject(why instanceof AgentConnectionError ? why : new AgentConnectionError(why.message));
        this.pending.clear();
        opts.onClose?.(why);
      },
      opts.maxFrame,
    );
  }

  /** Feed bytes read from the transport. */
  receive(chunk: Uint8Array) {
    this.conn.receive(chunk);
  }

  close(why?: Error) {
    this.conn.close(why);
  }

  get closed() {
    return this.conn.closed;
  }

  get inFlight() {
    return this.pending.size;
  }

  /** What the agent sent of a frame it has not finished (a stuck or hostile agent). */
  get partial() {
    return this.conn.partial;
  }

  /** Sends one op; resolves with the whole reply, including an `error` member. */
  request(op: Op, worker = 0): Promise<Reply> {
    if (this.closeReason) return Promise.reject(new AgentConnectionError(this.closeReason.message));
    const id = this.nextId++ >>> 0 || this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        const w = this.conn.send({ request: { id, worker, op } });
        if (w instanceof Promise) w.catch((e) => this.close(new AgentConnectionError(`write failed: ${e.message}`)));
      } catch (e) {
        this.pending.delete(id);
        reject(e);
      }
    });
  }

  /** Sends one op and returns its reply member, raising GuestError for a guest-side failure. */
  async call<K extends keyof Reply & keyof Op>(op: Pick<Op, K>, worker = 0): Promise<NonNullable<Reply[K]>> {
    const r = await this.request(op as Op, worker);
    if (r.error) throw new GuestError(r.error);
    const key = Object.keys(op)[0] as K;
    if (r[key] === undefined) throw new AgentConnectionError(`agent answered '${key}' with '${Object.keys(r).find((k) => k !== "id")}'`);
    return r[key]!;
  }

  /** Checks the agent speaks our protocol version; `clone` (a warm boot's first hello) has the
   *  agent credit these host bytes to the kernel's entropy pool, reseed its CRNG and set its wall
   *  clock to `clockNs` before it answers (see schemas/agent.capnp's Hello). */
  async hello(clone?: { entropy: Uint8Array; clockNs: bigint }) {
    const r = await this.call({ hello: { protocolVersion, ...(clone ? { entropy: clone.entropy, clockNs: clone.clockNs as unknown as number } : {}) } });
    if (r.protocolVersion !== protocolVersion) {
      const why = new AgentConnectionError(
        `protocol version mismatch: the guest agent (${r.agentVersion}) speaks v${r.protocolVersion}, this host speaks v${protocolVersion}; rebuild the guest image`,
      );
      this.close(why);
      throw why;
    }
    return r;
  }

  private onFrame(f: PlainFrame) {
    const r = f.response;
    if (!r) throw new Error("the agent sent a request frame; only responses are expected");
    const p = this.pending.get(r.id ?? 0);
    if (!p) throw new Error(`the agent answered unknown request id ${r.id}`);
    this.pending.delete(r.id!);
    p.resolve(r);
  }
}
