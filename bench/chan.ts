// A byte channel over a VM's unix-socket chardev, for the raw floor and the qemu-guest-agent
// peer: exact-length and line reads over Bun's socket (the same host socket stack the
// agent connection uses), and writes that never drop bytes.
import { connectUnix, type UnixConnection } from "@provium/protocol";

export class ByteChan {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(private conn: UnixConnection | null) {}

  static async connect(path: string): Promise<ByteChan> {
    const ch = new ByteChan(null);
    ch.conn = await connectUnix(path, {
      data: (c) => ch.push(c),
      close: () => ch.end(),
      error: () => ch.end(),
    });
    return ch;
  }

  private push(c: Uint8Array) {
    this.chunks.push(new Uint8Array(c)); // Bun reuses its read buffer
    this.size += c.byteLength;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private end() {
    this.closed = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async more() {
    if (this.closed) throw new Error("the guest closed the channel");
    await new Promise<void>((r) => (this.wake = r));
  }

  send(b: Uint8Array | string) {
    this.conn!.write(b);
  }

  /** Exactly n bytes (one buffer). */
  async readExact(n: number): Promise<Uint8Array> {
    while (this.size < n) await this.more();
    return this.take(n);
  }

  /** Counts n bytes off the channel without keeping them (bulk transfers). */
  async discard(n: number): Promise<void> {
    let left = n;
    for (;;) {
      while (left > 0 && this.chunks.length) {
        const head = this.chunks[0]!;
        if (head.byteLength <= left) {
          left -= head.byteLength;
          this.size -= head.byteLength;
          this.chunks.shift();
        } else {
          this.chunks[0] = head.subarray(left);
          this.size -= left;
          left = 0;
        }
      }
      if (left === 0) return;
      await this.more();
    }
  }

  /** One line, without its "\n". */
  async readLine(): Promise<string> {
    for (;;) {
      let seen = 0;
      for (const c of this.chunks) {
        const i = c.indexOf(10);
        if (i >= 0) {
          const line = this.take(seen + i + 1);
          return new TextDecoder().decode(line.subarray(0, line.byteLength - 1));
        }
        seen += c.byteLength;
      }
      await this.more();
    }
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.chunks[0]!;
      const k = Math.min(head.byteLength, n - at);
      out.set(head.subarray(0, k), at);
      at += k;
      if (k === head.byteLength) this.chunks.shift();
      else this.chunks[0] = head.subarray(k);
    }
    this.size -= n;
    return out;
  }

  close() {
    this.conn?.end();
  }
}

/** Connects, retrying while QEMU creates the socket. */
export async function connectChan(path: string, deadlineMs = 30_000): Promise<ByteChan> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await ByteChan.connect(path);
    } catch (e) {
      if (Date.now() > end) throw e;
      await Bun.sleep(2);
    }
  }
}
