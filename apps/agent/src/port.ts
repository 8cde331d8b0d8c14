// The guest end of the host channel: the virtio-serial port named `provium.agent`.
// A port can be opened once, so one O_RDWR fd carries both directions. While no host is
// connected (before it attaches, or around a snapshot restore) reads return EOF; we poll.
import { existsSync, openSync, read, readdirSync, readFileSync, readSync, write, writeSync } from "node:fs";
import { hasLibc, readable, writable } from "./rawcalls";

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
  private writing: Promise<unknown> = Promise.resolve();
  readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "r+");
  }

  /**
   * Calls onChunk for what is read, forever. The chunk is a view into a buffer that is
   * reused: onChunk must copy what it keeps before it returns.
   *
   * A read(2) on the port returns one virtio buffer (4 KiB) at most. Waiting for data goes
   * through the thread pool (a blocking read); what else is queued then is drained here with
   * non-blocking reads (poll says so), so a large frame costs no thread hop per 4 KiB.
   */
  async readLoop(onChunk: (b: Uint8Array) => void) {
    const buf = Buffer.allocUnsafe(1 << 20);
    const canPoll = hasLibc();
    for (;;) {
      let n = await new Promise<number>((res, rej) => read(this.fd, buf, 0, buf.length, null, (e, n) => (e ? rej(e) : res(n))));
      if (n === 0) {
        await Bun.sleep(5); // host not connected
        continue;
      }
      while (canPoll && buf.length - n >= 64 * 1024 && readable(this.fd)) {
        let k = 0;
        try {
          k = readSync(this.fd, buf, n, buf.length - n, null);
        } catch {
          /* EINTR and the like: the next blocking read reports what is real */
        }
        if (k <= 0) break;
        n += k;
      }
      onChunk(buf.subarray(0, n));
    }
  }

  /** Queues bytes; writes never interleave. */
  write(bytes: Uint8Array) {
    this.writing = this.writing.then(() => this.writeAll(bytes));
    return this.writing;
  }

  // A write(2) on the port takes 32 KiB at most. When poll says the port can take more, the
  // write happens here; otherwise (the host is slow or away) it waits in the thread pool.
  private async writeAll(bytes: Uint8Array) {
    const canPoll = hasLibc();
    let at = 0;
    while (at < bytes.byteLength) {
      if (canPoll && writable(this.fd)) {
        try {
          at += writeSync(this.fd, bytes, at, bytes.byteLength - at);
          continue;
        } catch {
          /* EINTR and the like: retry the blocking way */
        }
      }
      at += await new Promise<number>((res, rej) =>
        write(this.fd, bytes, at, bytes.byteLength - at, null, (e, n) => (e ? rej(e) : res(n))),
      );
    }
  }
}
