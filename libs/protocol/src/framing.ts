// Length-prefixed frames: a little-endian u32 byte count, then one unpacked capnp message.
// The reader never allocates more than the announced length, and refuses lengths over its
// limit before allocating anything: a hostile peer cannot balloon the reader's memory.
import type { Frame } from "./generated/agent";
import { readFrame, writeFrame } from "./generated/wire";
import type { Plain } from "./wire";

export type PlainFrame = Plain<Frame>;

/** Default cap on one frame: fits a 64 MiB read or command output with room to spare. */
export const DEFAULT_MAX_FRAME = 96 * 1024 * 1024;

export class FrameError extends Error {}

export function encodeFrame(frame: PlainFrame): Uint8Array {
  const parts = encodeFrameParts(frame);
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** One frame as buffers to write in order (their concatenation is the frame): large Data
 *  goes out as the caller's own buffer, not copied into the message. */
export function encodeFrameParts(frame: PlainFrame): Uint8Array[] {
  return writeFrame(frame);
}

/** A frame's body (the message after the length prefix) to its plain form; Data are views into `body`. */
export function decodeFrame(body: Uint8Array): PlainFrame {
  try {
    // Pointers may share or loop; the reader's budget bounds the work to the frame's own size.
    return readFrame(body);
  } catch (e) {
    throw new FrameError(`undecodable frame of ${body.byteLength} bytes: ${(e as Error).message}`);
  }
}

/** Accumulates bytes from a stream and yields whole frame bodies. */
export class FrameReader {
  private header = new Uint8Array(4);
  private headerFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Feeds a chunk; returns the frame bodies it completed. Throws FrameError on a bad length. */
  push(chunk: Uint8Array): Uint8Array[] {
    const done: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      if (!this.body) {
        const n = Math.min(4 - this.headerFill, chunk.byteLength - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill < 4) break;
        const len = new DataView(this.header.buffer).getUint32(0, true);
        if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
        if (len < 8) throw new FrameError(`frame of ${len} bytes is too short to hold a message`);
        this.body = Buffer.allocUnsafe(len); // every byte is filled before it is read
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.byteLength - this.bodyFill, chunk.byteLength - at);
      this.body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill === this.body.byteLength) {
        done.push(this.body);
        this.body = null;
        this.headerFill = this.bodyFill = 0;
      }
    }
    return done;
  }

  /** Bytes of a partial frame held right now (for tests and diagnostics). */
  get buffered() {
    return this.headerFill + this.bodyFill;
  }
}

/** Bytes in, decoded frames out (what a connection uses); same limits and errors as FrameReader. */
export class FrameDecoder {
  private reader: FrameReader;

  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.reader = new FrameReader(maxFrame);
  }

  push(chunk: Uint8Array): PlainFrame[] {
    return this.reader.push(chunk).map(decodeFrame);
  }
}
