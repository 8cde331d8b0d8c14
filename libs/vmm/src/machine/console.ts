// The guest's serial console, owned by the host. The host listens on RUN/console.sock before
// QEMU starts and QEMU connects to it as a client (`-chardev socket,...,reconnect=1`), so the
// log is complete from the firmware's first byte and the console takes input too. QEMU's own
// `logfile=` duplicates bytes while a client is attached, and a ringbuf chardev can't write to
// the guest (docs/prototypes/devices.md, item 1): the host writes the log itself.
// The host must drain the socket continuously: a connected peer that does not read stalls the
// guest's tty.
import * as fs from "node:fs";
import * as net from "node:net";

type Listener = (chunk: Uint8Array) => void;

// A guest that floods its serial console must not fill the host's disk: past LOG_MAX bytes the
// log keeps its last LOG_KEEP bytes (what failure reports show) behind a marker line.
const LOG_MAX = 32 << 20;
const LOG_KEEP = 1 << 20;

export class ConsoleHost {
  private conn: net.Socket | null = null;
  private connWaiters: ((s: net.Socket) => void)[] = [];
  private listeners = new Set<Listener>();
  private logFd: number | null;
  private closed = false;
  /** bytes the guest has printed so far */
  bytes = 0;
  private logged = 0; // bytes in the log file

  private constructor(
    private readonly server: net.Server,
    readonly logPath: string,
  ) {
    this.logFd = fs.openSync(logPath, "a+");
    this.logged = fs.fstatSync(this.logFd).size; // a log that starts with an earlier one's (warm boots)
    server.on("connection", (s) => this.adopt(s));
  }

  /** Listen on `socketPath` (before QEMU starts) and log everything QEMU sends to `logPath`. */
  static async listen(socketPath: string, logPath: string): Promise<ConsoleHost> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.removeListener("error", reject);
        resolve();
      });
    });
    return new ConsoleHost(server, logPath);
  }

  // QEMU connects once at start, and again (reconnect=1) if a connection ever drops; the
  // latest connection is the console.
  private adopt(s: net.Socket) {
    if (this.closed) return void s.destroy();
    this.conn?.destroy();
    this.conn = s;
    s.on("data", (d: Buffer) => this.onData(d));
    s.on("error", () => {});
    s.on("close", () => {
      if (this.conn === s) this.conn = null;
    });
    for (const w of this.connWaiters.splice(0)) w(s);
  }

  private onData(d: Buffer) {
    this.bytes += d.length;
    if (this.logFd !== null) {
      try {
        fs.writeSync(this.logFd, d);
        if ((this.logged += d.length) > LOG_MAX) this.compactLog();
      } catch {} // a full disk loses log lines, never the guest's output to subscribers
    }
    for (const l of this.listeners) l(d);
  }

  private compactLog() {
    const size = fs.fstatSync(this.logFd!).size;
    const tail = Buffer.alloc(Math.min(LOG_KEEP, size));
    fs.readSync(this.logFd!, tail, 0, tail.length, size - tail.length);
    const marker = Buffer.from(`\n[provium: console log cut to its last ${LOG_KEEP >> 20} MiB after ${this.bytes} bytes]\n`);
    fs.ftruncateSync(this.logFd!, 0);
    fs.writeSync(this.logFd!, marker, 0, marker.length, 0);
    fs.writeSync(this.logFd!, tail, 0, tail.length, marker.length);
    this.logged = marker.length + tail.length;
  }

  /** Everything the guest printed from now on, chunk by chunk; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The whole log so far. */
  readLog(): Uint8Array {
    try {
      return fs.readFileSync(this.logPath);
    } catch {
      return new Uint8Array(0);
    }
  }

  /**
   * Send bytes to the guest's serial port. Resolves once the socket took them; rejects after
   * `timeoutMs` when the guest doesn't read (its UART applies backpressure) or QEMU never connected.
   */
  async write(data: Uint8Array | string, timeoutMs = 10_000): Promise<void> {
    if (this.closed) throw new Error("the console is closed (the VM is shut down)");
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`console write timed out after ${timeoutMs / 1000} s (the guest is not reading its serial port, or QEMU is not connected)`)), timeoutMs);
    });
    try {
      const live = this.conn && !this.conn.destroyed ? this.conn : null;
      const conn = live ?? (await Promise.race([new Promise<net.Socket>((r) => this.connWaiters.push(r)), timeout]));
      const flushed = new Promise<void>((resolve, reject) => conn.write(data, (e) => (e ? reject(e) : resolve())));
      await Promise.race([flushed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop listening and drop the connection (QEMU is going away). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn?.destroy();
    this.conn = null;
    this.server.close();
    this.listeners.clear();
    if (this.logFd !== null) {
      try {
        fs.closeSync(this.logFd);
      } catch {}
      this.logFd = null;
    }
  }
}
