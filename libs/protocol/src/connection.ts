// One duplex byte stream carrying frames in both directions: the shared half of the
// host's client and the agent's server. Transports plug in as a write function plus
// calls to `receive` for every chunk read.
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameError, encodeFrameParts, type PlainFrame } from "./framing";

export interface Transport {
  write(bytes: Uint8Array): void | Promise<unknown>;
  close(): void;
}

export class FrameConnection {
  private reader: FrameDecoder;
  private closedWith: Error | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly onFrame: (f: PlainFrame) => void,
    private readonly onClose: (why: Error) => void,
    private readonly maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.reader = new FrameDecoder(maxFrame);
  }

  get closed() {
    return this.closedWith !== null;
  }

  /** What the peer sent of a frame it has not finished. */
  get partial() {
    return this.reader.partial;
  }

  /** Writes one frame; a large one as several buffers, in order (the transport queues them). */
  send(frame: PlainFrame) {
    if (this.closedWith) throw this.closedWith;
    const parts = encodeFrameParts(frame);
    // The peer would refuse it and drop the connection: refuse it here, for this frame only.
    let size = -4;
    for (const p of parts) size += p.byteLength;
    if (size > this.maxFrame) throw new FrameError(`frame of ${size} bytes exceeds the ${this.maxFrame}-byte limit`);
    let last: void | Promise<unknown> = undefined;
    for (const part of parts) last = this.transport.write(part);
    return last;
  }

  receive(chunk: Uint8Array) {
    if (this.closedWith) return;
    try {
      for (const frame of this.reader.push(chunk)) this.onFrame(frame);
    } catch (e) {
      this.close(e instanceof FrameError ? e : new FrameError(`bad frame: ${(e as Error).message}`));
    }
  }

  /** Ends the connection once; everything waiting on it learns why. */
  close(why: Error = new Error("connection closed")) {
    if (this.closedWith) return;
    this.closedWith = why;
    try {
      this.transport.close();
    } finally {
      this.onClose(why);
    }
  }
}
