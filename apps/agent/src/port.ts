// The guest end of the host channel: the virtio-serial port named `provium.agent`.
// A port can be opened once, so one O_RDWR fd carries both directions. While no host is
// connected (before it attaches, or around a snapshot restore) reads return EOF; we poll.
import { existsSync, openSync, readdirSync, readFileSync, write, writeSync } from "node:fs";
import { hasLibc, writable } from "./rawcalls";
import { LOCAL_REQUESTS, lockWrites, sharedMemory, slotView, unlockWrites } from "./port-shared";
import { GC_IDLE_MS, TrafficSinceGc } from "./idle-gc";

export const PORT_NAME = "provium.agent";

export async function findPort(timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      for (const dev of readdirSync("/sys/class/virtio-ports")) {
        if (readFileSync(`/sys/class/virtio-ports/${dev}/name`, "utf8").trim() === PORT_NAME) {
          if (existsSync(`/dev/${dev}`)) return `/dev/${dev}`; // else devtmpfs is still creating it
        }
      }
    } catch {
      /* virtio_console not loaded yet */
    }
    if (Date.now() > deadline) throw new Error(`no virtio port named ${PORT_NAME} after ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
}

export class Port {
  private queued: Uint8Array[] = [];
  private readonly canPoll = hasLibc();
  private readonly shared = sharedMemory();
  private readonly ctl = new Int32Array(this.shared, 0, 8);
  private locked = false;
  private readonly traffic = new TrafficSinceGc();
  private gcTimer: ReturnType<typeof setTimeout> | undefined;
  readonly fd: number;

  /** trace: the reader thread prints when it serves (boot-trace.ts) */
  constructor(
    path: string,
    private readonly trace = false,
  ) {
    this.fd = openSync(path, "r+");
  }

  /**
   * Starts the reader thread (port-reader.ts), which answers quick ops itself, and calls
   * onChunk with the bytes of every other frame, in order, forever. The chunk is a view into
   * shared memory that is reused: onChunk must copy what it keeps before it returns.
   *
   * Handing bytes over: the reader fills a slot and wakes this thread (Atomics.notify; here
   * Atomics.waitAsync, so the event loop runs meanwhile). A 16 B echo in a TCG guest: ~0.3 ms
   * with a blocking read on this thread (which would stall the event loop), ~0.65 ms through
   * the reader thread, ~1.1 ms through Bun's thread pool (fs.read), ~1.3 ms with postMessage.
   */
  async readLoop(onChunk: (b: Uint8Array) => void) {
    const reader = new Worker(new URL("./port-reader.ts", import.meta.url).href);
    reader.postMessage({ fd: this.fd, shared: this.shared, trace: this.trace });
    const ctl = this.ctl;
    for (let slot = 0; ; slot ^= 1) {
      const wait = Atomics.waitAsync(ctl, 2 * slot, 0);
      if (wait.async) await wait.value;
      const n = Atomics.load(ctl, 2 * slot + 1);
      this.moved(n);
      onChunk(slotView(this.shared, slot, n));
      Atomics.store(ctl, 2 * slot, 0);
      Atomics.notify(ctl, 2 * slot);
    }
  }

  // Large traffic leaves garbage: collect once this thread has been quiet for a moment (idle-gc.ts).
  private moved(n: number) {
    if (!this.traffic.add(n)) return;
    clearTimeout(this.gcTimer);
    this.gcTimer = setTimeout(() => this.traffic.collect(), GC_IDLE_MS);
  }

  /** Quick requests the reader thread answered (they never reach onChunk). */
  get answeredByReader() {
    return Atomics.load(this.ctl, LOCAL_REQUESTS);
  }

  /**
   * Writes bytes in order, never interleaved: at once while the port takes them, else queued.
   * The reader thread writes its answers too: this thread takes the write lock with its first
   * write and gives it back once what it wrote in this turn of the event loop is out (the
   * buffers of one frame are written in one turn).
   */
  write(bytes: Uint8Array) {
    this.moved(bytes.byteLength);
    if (!this.locked) {
      lockWrites(this.ctl);
      this.locked = true;
      queueMicrotask(() => this.queued.length === 0 && this.unlock());
    }
    if (this.queued.length === 0) {
      const at = this.writeNow(bytes, 0);
      if (at === bytes.byteLength) return;
      bytes = bytes.subarray(at);
    }
    this.queued.push(bytes);
    if (this.queued.length === 1) void this.drain();
  }

  // A write(2) on the port takes 32 KiB at most; it happens here while poll says the port can
  // take more. Returns how far it got.
  private writeNow(bytes: Uint8Array, at: number) {
    while (at < bytes.byteLength && this.canPoll && writable(this.fd)) {
      try {
        at += writeSync(this.fd, bytes, at, bytes.byteLength - at);
      } catch {
        break; // EINTR and the like: the blocking way says what is real
      }
    }
    return at;
  }

  // The host is slow or away: what is queued goes out through the thread pool, in order.
  // A failed write drops what is queued (the host is gone), and never keeps the lock from the
  // reader thread.
  private async drain() {
    try {
      while (this.queued.length) {
        const bytes = this.queued[0]!;
        let at = 0;
        while (at < bytes.byteLength) {
          at += await new Promise<number>((res, rej) => write(this.fd, bytes, at, bytes.byteLength - at, null, (e, n) => (e ? rej(e) : res(n))));
          at = this.writeNow(bytes, at);
        }
        this.queued.shift();
      }
    } catch (e) {
      console.error("provium-agent: port write failed:", e);
      this.queued = [];
    } finally {
      this.unlock();
    }
  }

  private unlock() {
    if (!this.locked) return;
    this.locked = false;
    unlockWrites(this.ctl);
  }
}
