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
  return frameOf(msg);
}

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * The length prefix, segment table and segments in one buffer: what `toArrayBuffer()` builds,
 * without its copy of every segment into a buffer we would then copy again. (Large Data makes
 * this matter in a guest under TCG, where each copy of a MiB costs about a millisecond.)
 */
function frameOf(msg: $.Message): Uint8Array {
  msg.getSegment(0); // a message always has its first segment
  const segments = (msg as unknown as { _capnp: { segments: { buffer: ArrayBuffer; byteLength: number }[] } })._capnp.segments;
  const header = pad8(4 + 4 * segments.length);
  let body = header;
  for (const s of segments) body += pad8(s.byteLength);
  const out: Uint8Array = Buffer.allocUnsafe(4 + body); // every byte is written below
  out.fill(0, 4, 4 + header);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, body, true);
  view.setUint32(4, segments.length - 1, true);
  segments.forEach((s, i) => view.setUint32(8 + 4 * i, pad8(s.byteLength) / 8, true));
  let at = 4 + header;
  for (const s of segments) {
    out.set(new Uint8Array(s.buffer, 0, pad8(s.byteLength)), at);
    at += pad8(s.byteLength);
  }
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
    // A body that is a whole ArrayBuffer (as FrameReader makes them) is read without the
    // extra copy capnp-es makes of a view; it still copies each segment out of it.
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const msg = new $.Message(whole ? (body.buffer as ArrayBuffer) : body, false);
    return toPlain(msg.getRoot(Frame), { left: body.byteLength / 8 + 64, depth: 0 });
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
