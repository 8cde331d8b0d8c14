// Synchronous host calls for the Lua thread. Lua code blocks on Atomics.wait while the
// I/O thread (which owns the VMs) does the work, so host calls look synchronous to Lua
// everywhere: top level, pcall, coroutines, metamethods, even across C boundaries.
//
// Wire: requests and replies are structured-clone messages on a MessagePort; a shared
// counter is bumped after each reply so the Lua thread can sleep until one arrives.
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";

export type HostReply = { ok: unknown } | { err: string };
export type HostRequest = { kind: "call"; id: number; op: string; args: unknown };
export type LuaEvent = { kind: "event"; event: Record<string, unknown> };

export function newBridgeSignal() {
  return new SharedArrayBuffer(4);
}

/** Lua-thread half. */
export class SyncCaller {
  private nextId = 1;
  private readonly replies = new Map<number, HostReply>();
  private readonly counter: Int32Array;

  constructor(private readonly port: MessagePort, signal: SharedArrayBuffer) {
    this.counter = new Int32Array(signal);
  }

  /** Starts a call without waiting (for Lua tasks that run concurrently). */
  submit(op: string, args: unknown): number {
    const id = this.nextId++;
    this.port.postMessage({ kind: "call", id, op, args } satisfies HostRequest);
    return id;
  }

  /** The reply to `id` if it has arrived. */
  poll(id: number): HostReply | undefined {
    this.drain();
    const r = this.replies.get(id);
    if (r) this.replies.delete(id);
    return r;
  }

  /** Blocks until any reply arrives (or the timeout passes). */
  waitAny(timeoutMs = 100) {
    const seen = Atomics.load(this.counter, 0);
    if (this.drain()) return;
    Atomics.wait(this.counter, 0, seen, timeoutMs);
  }

  /** The replies among `ids` that have arrived, taken (for the Lua task scheduler). */
  takeArrived(ids: number[]): [number, HostReply][] {
    this.drain();
    const out: [number, HostReply][] = [];
    for (const id of ids) {
      const r = this.replies.get(id);
      if (r) {
        this.replies.delete(id);
        out.push([id, r]);
      }
    }
    return out;
  }

  /** Blocks until a reply arrives, unless one of `ids` has already arrived. */
  waitFor(ids: number[], timeoutMs = 100) {
    if (ids.some((id) => this.replies.has(id))) return;
    this.waitAny(timeoutMs);
  }

  call(op: string, args: unknown): HostReply {
    const id = this.submit(op, args);
    for (;;) {
      const r = this.poll(id);
      if (r) return r;
      this.waitAny();
    }
  }

  emit(event: Record<string, unknown>) {
    this.port.postMessage({ kind: "event", event } satisfies LuaEvent);
  }

  private drain() {
    let got = false;
    for (let m; (m = receiveMessageOnPort(this.port)); ) {
      const { id, reply } = m.message as { id: number; reply: HostReply };
      this.replies.set(id, reply);
      got = true;
    }
    return got;
  }
}

/** I/O-thread half: answers calls with `handle`, forwards events to `onEvent`. */
export function serveCalls(
  port: MessagePort,
  signal: SharedArrayBuffer,
  handle: (op: string, args: any) => Promise<unknown>,
  onEvent: (e: Record<string, unknown>) => void,
) {
  const counter = new Int32Array(signal);
  const reply = (id: number, r: HostReply) => {
    port.postMessage({ id, reply: r });
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  };
  port.on("message", (m: HostRequest | LuaEvent) => {
    if (m.kind === "event") return onEvent(m.event);
    handle(m.op, m.args).then(
      (ok) => reply(m.id, { ok }),
      (e) => reply(m.id, { err: e instanceof Error ? e.message : String(e) }),
    );
  });
}
