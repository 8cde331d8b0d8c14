// Agent half of the protocol: decodes requests and answers each when its handler finishes;
// handlers run concurrently, so a slow op never blocks a quick one.
import { protocolVersion } from "./generated/constants";
import type { Plain } from "./wire";
import { FrameConnection, type Transport } from "./connection";
import type { Op, Reply } from "./client";
import type { Request } from "./generated/agent";

export type PlainRequest = Plain<Request>;
/** A handler answers one op with the reply's member for that op, or throws. */
export type Handler = (req: PlainRequest) => Promise<Omit<Reply, "id">> | Omit<Reply, "id">;
export type ErrorMapper = (e: unknown) => NonNullable<Reply["error"]>;

export class AgentServer {
  private conn: FrameConnection;
  requests = 0;

  constructor(
    transport: Transport,
    private readonly handle: Handler,
    private readonly toFailure: ErrorMapper,
    opts: { maxFrame?: number; onClose?: (why: Error) => void } = {},
  ) {
    this.conn = new FrameConnection(transport, (f) => this.onFrame(f), (why) => opts.onClose?.(why), opts.maxFrame);
  }

  receive(chunk: Uint8Array) {
    this.conn.receive(chunk);
  }

  close(why?: Error) {
    this.conn.close(why);
  }

  /** Runs one request (also each member of a batch) and returns its reply body. */
  async answer(req: PlainRequest): Promise<Omit<Reply, "id">> {
    try {
      const op = req.op as Op;
      if (op.hello) return { hello: { protocolVersion, agentVersion: "", bootMs: 0, ...(await this.handle(req)).hello } };
      if (op.batch) {
        const out: Reply[] = [];
        for (const sub of op.batch) out.push({ id: sub.id, ...(await this.answer({ ...sub, worker: sub.worker || req.worker })) });
        return { batch: out };
      }
      if (op.stats) return { stats: { requests: this.requests } };
      return await this.handle(req);
    } catch (e) {
      return { error: this.toFailure(e) };
    }
  }

  private onFrame(f: Plain<import("./generated/agent").Frame>) {
    const req = f.request;
    if (!req) throw new Error("expected a request frame");
    this.requests++;
    void this.answer(req).then((body) => {
      if (this.conn.closed) return;
      try {
        this.conn.send({ response: { id: req.id, ...body } as never });
      } catch (e) {
        // A reply that cannot be encoded still answers its request, as a failure.
        const why = Object.assign(new Error(`the agent could not encode its reply: ${(e as Error).message}`), { code: "EPROTO" });
        this.conn.send({ response: { id: req.id, error: this.toFailure(why) } });
      }
    });
  }
}
