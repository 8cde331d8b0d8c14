// Length-prefixed frames: a little-endian u32 byte count, then one unpacked capnp message.
// The reader never allocates more than the announced length, and refuses lengths over its
// limit before allocating anything: a hostile peer cannot balloon the reader's memory.
import * as $ from "capnp-es";
import { Frame } from "./generated/agent";
import { fromPlain, toPlain, type Plain } from "./codec";

export type PlainFrame = Plain<Frame>;

/** Default cap on one frame: fits a 64 MiB read or command output with room to spare. */
export const DEFAULT_MAX_FRAME = 96 * 1024 * 1024;

export class FrameError extends Error {}

export function encodeFrame(frame: PlainFrame): Uint8Array {
  const msg = new $.Message();
  fromPlain(msg.initRoot(Frame), frame);
  const body = new Uint8Array(msg.toArrayBuffer());
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength, true);
  out.set(body, 4);
  return out;
}

const MAX_SEGMENTS = 64;

/** Checks the segment table against the frame's length (capnp-es trusts it blindly). */
function checkSegmentTable(body: Uint8Array) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const count = view.getUint32(0, true) + 1;
  if (count > MAX_SEGMENTS) throw new FrameError(`frame claims ${count} segments (limit ${MAX_SEGMENTS})`);
  const headerBytes = (4 + 4 * count + 7) & ~7;
  if (headerBytes > body.byteLength) throw new FrameError(`frame of ${body.byteLength} bytes is shorter than its segment table`);
  let words = 0;
  for (let i = 0; i < count; i++) words += view.getUint32(4 + 4 * i, true);
  if (headerBytes + words * 8 !== body.byteLength)
    throw new FrameError(`frame's segments add up to ${headerBytes + words * 8} bytes, the frame holds ${body.byteLength}`);
}

export function decodeFrame(body: Uint8Array): PlainFrame {
  checkSegmentTable(body);
  try {
    // Pointers may share or loop; the budget bounds the work to the frame's own size.
    return toPlain(new $.Message(body, false).getRoot(Frame), { left: body.byteLength / 8 + 64, depth: 0 });
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
        this.body = new Uint8Array(len);
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
