// QEMU Machine Protocol client: newline-delimited JSON over a unix socket. Commands carry an
// id so replies match even when events interleave. The line buffer is bounded so a broken or
// hostile peer can't make us buffer without limit.
import * as net from "node:net";

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = "QmpError";
  }
}

export interface QmpEvent {
  event: string;
  data?: any;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpConnectOptions {
  /** give up connecting after this many ms (QEMU creates the socket shortly after start); default 10000 */
  deadlineMs?: number;
  /** stop retrying early (e.g. QEMU exited) */
  signal?: AbortSignal;
  /** a single QMP line longer than this closes the connection with an error; default 16 MiB */
  maxLineBytes?: number;
}

type Pending = { command: string; resolve: (v: any) => void; reject: (e: Error) => void };
type Listener = (e: QmpEvent) => void;

export class QmpClient {
  private sock: net.Socket;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private listeners = new Map<string, Set<Listener>>();
  private closeErr: Error | null = null;
  private greetingWaiter: { resolve: (g: any) => void; reject: (e: Error) => void } | null = null;
  private readonly maxLine: number;
  /** the QMP greeting (QEMU version and capabilities) */
  greeting: any = null;
  /** resolves when the connection is gone (with the reason, if any) */
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (e: Error | null) => void;

  private constructor(sock: net.Socket, maxLine: number) {
    this.sock = sock;
    this.maxLine = maxLine;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    sock.on("data", (d: Buffer) => this.onData(d));
    sock.on("error", (e) => this.fail(e));
    sock.on("close", () => this.fail(null));
  }

  /** Connect (retrying until the socket exists and accepts), read the greeting, negotiate capabilities. */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.deadlineMs ?? 10_000);
    const sock = await connectWithRetry(socketPath, deadline, opts.signal);
    const client = new QmpClient(sock, opts.maxLineBytes ?? 16 << 20);
    const greeting = new Promise<any>((resolve, reject) => (client.greetingWaiter = { resolve, reject }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const remaining = Math.max(1, deadline - Date.now());
      client.greeting = await Promise.race([
        greeting,
        new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`QMP ${socketPath}: no greeting within the deadline`)), remaining))),
      ]);
      await client.execute("qmp_capabilities");
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Run a command; resolves with its `return` value, rejects with QmpError on an `error` reply. */
  execute(command: string, args?: Record<string, unknown>): Promise<any> {
    if (this.closeErr || this.sock.destroyed) return Promise.reject(this.closeErr ?? new Error(`QMP ${command}: connection closed`));
    const id = `p${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { command, resolve, reject });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + "\n");
    });
  }

  /** Listen to one event name (e.g. "SHUTDOWN") or "*" for all; returns an unsubscribe function. */
  on(event: string, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** Resolve on the next event with this name. */
  once(event: string): Promise<QmpEvent> {
    return new Promise((resolve) => {
      const off = this.on(event, (e) => {
        off();
        resolve(e);
      });
    });
  }

  close(): void {
    this.fail(null);
  }

  private onData(d: Buffer): void {
    let start = 0;
    for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, start)) {
      const piece = d.subarray(start, i);
      const line = this.bufLen ? Buffer.concat([...this.buf, piece]).toString("utf8") : piece.toString("utf8");
      this.buf = [];
      this.bufLen = 0;
      start = i + 1;
      if (line.length > this.maxLine) return this.fail(new Error(`QMP line over ${this.maxLine} bytes`));
      if (line.trim()) this.onLine(line);
      if (this.closeErr || this.sock.destroyed) return;
    }
    if (start < d.length) {
      this.buf.push(d.subarray(start));
      this.bufLen += d.length - start;
      if (this.bufLen > this.maxLine) this.fail(new Error(`QMP line over ${this.maxLine} bytes`));
    }
  }

  private onLine(line: string): void {
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.fail(new Error(`QMP: malformed line: ${line.slice(0, 200)}`));
    }
    if (msg.QMP) {
      this.greetingWaiter?.resolve(msg.QMP);
      this.greetingWaiter = null;
    } else if (typeof msg.event === "string") {
      for (const key of [msg.event, "*"]) for (const l of this.listeners.get(key) ?? []) l(msg);
    } else if (msg.id !== undefined && this.pending.has(String(msg.id))) {
      const p = this.pending.get(String(msg.id))!;
      this.pending.delete(String(msg.id));
      if (msg.error) p.reject(new QmpError(p.command, msg.error.class ?? "GenericError", msg.error.desc ?? JSON.stringify(msg.error)));
      else p.resolve(msg.return);
    }
  }

  private fail(err: Error | null): void {
    if (this.closeErr) return;
    this.closeErr = err ?? new Error("QMP connection closed");
    this.sock.destroy();
    for (const p of this.pending.values()) p.reject(new Error(`QMP ${p.command}: ${this.closeErr.message}`));
    this.pending.clear();
    this.greetingWaiter?.reject(this.closeErr);
    this.greetingWaiter = null;
    this.resolveClosed(err);
  }
}

async function connectWithRetry(socketPath: string, deadline: number, signal?: AbortSignal): Promise<net.Socket> {
  for (;;) {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(`QMP ${socketPath}: aborted`);
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.createConnection(socketPath);
        s.once("connect", () => {
          s.removeListener("error", reject);
          resolve(s);
        });
        s.once("error", reject);
      });
    } catch (e: any) {
      const retryable = e?.code === "ENOENT" || e?.code === "ECONNREFUSED" || e?.code === "EAGAIN";
      if (!retryable) throw e;
      if (Date.now() >= deadline) throw new Error(`QMP ${socketPath}: not reachable within the deadline (${e.code})`);
      await Bun.sleep(5);
    }
  }
}
