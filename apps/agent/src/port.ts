// The guest end of the host channel: the virtio-serial port named `provium.agent`.
// A port can be opened once, so one O_RDWR fd carries both directions. While no host is
// connected (before it attaches, or around a snapshot restore) reads return EOF; we poll.
import { existsSync, openSync, read, readdirSync, readFileSync, write } from "node:fs";

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

  /** Calls onChunk for every chunk read, forever. */
  async readLoop(onChunk: (b: Uint8Array) => void) {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = await new Promise<number>((res, rej) => read(this.fd, buf, 0, buf.length, null, (e, n) => (e ? rej(e) : res(n))));
      if (n === 0) {
        await Bun.sleep(5); // host not connected
        continue;
      }
      onChunk(Uint8Array.prototype.slice.call(buf, 0, n));
    }
  }

  /** Queues bytes; writes never interleave. */
  write(bytes: Uint8Array) {
    this.writing = this.writing.then(() => this.writeAll(bytes));
    return this.writing;
  }

  private async writeAll(bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.byteLength) {
      at += await new Promise<number>((res, rej) =>
        write(this.fd, bytes, at, bytes.byteLength - at, null, (e, n) => (e ? rej(e) : res(n))),
      );
    }
  }
}
