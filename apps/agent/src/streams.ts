// Byte streams: a bounded buffer between a producer inside the guest (a process pipe, a
// file being tailed) and the host, which long-polls with streamRead. The producer is paused
// (its `push` waits) while the buffer is full, so nothing is lost and memory stays bounded.
import type { Resource } from "./namespace";

const DEFAULT_LIMIT = 16 * 1024 * 1024;
const DEFAULT_READ = 1024 * 1024;

export class ByteStream implements Resource {
  readonly kind = "stream";
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  private closed = false;
  private readers: (() => void)[] = [];
  private writers: (() => void)[] = [];

  constructor(
    private readonly limit = DEFAULT_LIMIT,
    private readonly onClose?: () => void,
  ) {}

  /** Adds bytes; resolves once there is room again (backpressure for the producer). */
  async push(chunk: Uint8Array) {
    if (this.closed || this.ended || chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    this.wake(this.readers);
    while (this.buffered > this.limit && !this.closed) await new Promise<void>((r) => this.writers.push(r));
  }

  end() {
    this.ended = true;
    this.wake(this.readers);
  }

  get eof() {
    return this.ended && this.buffered === 0;
  }

  /** Up to maxBytes, waiting up to timeoutMs for the first byte. */
  async read(maxBytes = DEFAULT_READ, timeoutMs = 0): Promise<{ data: Uint8Array; eof: boolean }> {
    if (this.buffered === 0 && !this.ended && !this.closed && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.readers.push(done);
      });
    }
    const max = maxBytes || DEFAULT_READ;
    const out: Uint8Array[] = [];
    let n = 0;
    while (this.chunks.length && n < max) {
      const head = this.chunks[0]!;
      const take = Math.min(head.byteLength, max - n);
      out.push(head.subarray(0, take));
      n += take;
      if (take === head.byteLength) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    this.buffered -= n;
    if (this.buffered <= this.limit) this.wake(this.writers);
    return { data: out.length === 1 ? out[0]! : Buffer.concat(out), eof: this.eof };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.ended = true;
    this.chunks = [];
    this.buffered = 0;
    this.wake(this.readers);
    this.wake(this.writers);
    this.onClose?.();
  }

  private wake(list: (() => void)[]) {
    for (const f of list.splice(0)) f();
  }
}

/** Feeds a ReadableStream (e.g. a child's stdout) into a ByteStream, with backpressure. */
export async function pipeInto(src: ReadableStream<Uint8Array>, dst: ByteStream) {
  try {
    for await (const chunk of src) await dst.push(chunk);
  } catch {
    /* the source broke: end the stream */
  }
  dst.end();
}
