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
type Body = Omit<Reply, "id">;
export type ErrorMapper = (e: unknown) => NonNullable<Reply["error"]>;

export class AgentServer {
  private conn: FrameConnection;
  requests = 0;

  constructor(
    transport: Transport,
    private readonly handle: Handler,
    private readonly toFailure: ErrorMapper,
    private readonly opts: {
      maxFrame?: number;
      onClose?: (why: Error) => void;
      /** Requests answered elsewhere (the agent's port reader thread), for `stats`. */
      countedElsewhere?: () => number;
    } = {},
  ) {
    this.conn = new FrameConnection(transport, (f) => this.onFrame(f), (why) => opts.onClose?.(why), opts.maxFrame);
  }

  receive(chunk: Uint8Array) {
    this.conn.receive(chunk);
  }

  close(why?: Error) {
    this.conn.close(why);
  }

  /** Runs one request (also each member of a batch) and returns its reply body. A handler
   *  that answers synchronously is not awaited: a batch of quick ops costs no promise per op. */
  answer(req: PlainRequest): Body | Promise<Body> {
    try {
      const op = req.op as Op;
      if (op.stats) return { stats: { requests: this.requests + (this.opts.countedElsewhere?.() ?? 0) } };
      const r = op.hello ? this.hello(req) : op.batch ? this.batch(op.batch, req.worker ?? 0) : this.handle(req);
      return r instanceof Promise ? r.catch(this.failed) : r;
    } catch (e) {
      return this.failed(e);
    }
  }

  private readonly failed = (e: unknown): Body => ({ error: this.toFailure(e) });

  // Synchronous when the handler is (the port's reader thread never runs an event loop).
  private hello(req: PlainRequest): Body | Promise<Body> {
    const r = this.handle(req);
    const full = (b: Body): Body => ({ hello: { protocolVersion, agentVersion: "", bootMs: 0, ...b.hello } });
    return r instanceof Promise ? r.then(full) : full(r);
  }

  // Synchronous while its members are; from the first member that waits on, asynchronous.
  private batch(subs: PlainRequest[], worker: number): Body | Promise<Body> {
    const out: Reply[] = [];
    for (let i = 0; i < subs.length; i++) {
      const body = this.member(subs[i]!, worker);
      if (body instanceof Promise) return this.batchRest(subs, worker, out, i, body);
      out.push(body);
    }
    return { batch: out };
  }

  private async batchRest(subs: PlainRequest[], worker: number, out: Reply[], i: number, first: Promise<Reply>): Promise<Body> {
    out.push(await first);
    for (let j = i + 1; j < subs.length; j++) out.push(await this.member(subs[j]!, worker));
    return { batch: out };
  }

  private member(sub: PlainRequest, worker: number): Reply | Promise<Reply> {
    if (!sub.worker) sub.worker = worker;
    const body = this.answer(sub);
    if (body instanceof Promise) return body.then((b) => ((b as Reply).id = sub.id, b as Reply));
    (body as Reply).id = sub.id;
    return body as Reply;
  }

  private onFrame(f: Plain<import("./generated/agent").Frame>) {
    const req = f.request;
    if (!req) throw new Error("expected a request frame");
    this.serve(req);
  }

  /** Answers one decoded request (what arrives as a frame). */
  serve(req: PlainRequest) {
    this.requests++;
    const body = this.answer(req);
    if (body instanceof Promise) void body.then((b) => this.reply(req.id!, b));
    else this.reply(req.id!, body);
  }

  private reply(id: number, body: Body) {
    if (this.conn.closed) return;
    try {
      (body as Reply).id = id;
      this.conn.send({ response: body as Reply });
    } catch (e) {
      // A reply that cannot be encoded still answers its request, as a failure.
      const why = Object.assign(new Error(`the agent could not encode its reply: ${(e as Error).message}`), { code: "EPROTO" });
      this.conn.send({ response: { id, error: this.toFailure(why) } });
    }
  }
}
