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

/** A frame body's first buffer; it doubles as bytes arrive, and takes the announced length at
 *  once when a MiB has come (a real large frame: one copy of its first MiB, not a dozen). */
const FIRST_BODY_BYTES = 64 * 1024;
const TRUSTED_AFTER_BYTES = 1024 * 1024;

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
  private bodyLen = 0; // announced by the length prefix
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
        // The buffer grows with what arrives, not with what the prefix announces: a peer that
        // announces 96 MiB and sends nothing more costs a small buffer, not 96 MiB.
        this.body = Buffer.allocUnsafe(Math.min(len, FIRST_BODY_BYTES)); // every byte is filled before it is read
        this.bodyLen = len;
        this.bodyFill = 0;
      }
      const n = Math.min(this.bodyLen - this.bodyFill, chunk.byteLength - at);
      if (this.bodyFill + n > this.body.byteLength) {
        const want = this.bodyFill + n;
        const grown = Buffer.allocUnsafe(want >= TRUSTED_AFTER_BYTES ? this.bodyLen : Math.min(this.bodyLen, Math.max(want, 2 * this.body.byteLength)));
        grown.set(this.body.subarray(0, this.bodyFill));
        this.body = grown;
      }
      this.body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill === this.bodyLen) {
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

  /** Bytes of an unfinished frame held now, and the length it announced (0 when none). */
  get partial() {
    return { bytes: this.buffered, announced: this.body ? this.bodyLen : 0 };
  }

  /** Bytes allocated for the partial frame (for tests: it follows what arrived, not the prefix). */
  get reserved() {
    return this.body?.byteLength ?? 0;
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

  /** Bytes of an unfinished frame held now, and the length it announced (0 when none). */
  get partial() {
    return this.reader.partial;
  }
}
