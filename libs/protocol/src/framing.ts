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

/** Frames at or above this size go out as [prefix + segment table, segment views]: writing
 *  them one after the other saves copying a large segment into one buffer first. */
const SPLIT_AT = 64 * 1024;

/** One frame as buffers to write in order (their concatenation is the frame). */
export function encodeFrameParts(frame: PlainFrame): Uint8Array[] {
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
function frameOf(msg: $.Message): Uint8Array[] {
  msg.getSegment(0); // a message always has its first segment
  const segments = (msg as unknown as { _capnp: { segments: { buffer: ArrayBuffer; byteLength: number }[] } })._capnp.segments;
  const header = pad8(4 + 4 * segments.length);
  let body = header;
  for (const s of segments) body += pad8(s.byteLength);
  const split = body >= SPLIT_AT;
  const out: Uint8Array = Buffer.allocUnsafe(4 + (split ? header : body)); // every byte is written below
  out.fill(0, 4, 4 + header);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, body, true);
  view.setUint32(4, segments.length - 1, true);
  segments.forEach((s, i) => view.setUint32(8 + 4 * i, pad8(s.byteLength) / 8, true));
  const views = segments.map((s) => new Uint8Array(s.buffer, 0, pad8(s.byteLength)));
  if (split) return [out, ...views];
  let at = 4 + header;
  for (const v of views) {
    out.set(v, at);
    at += v.byteLength;
  }
  return [out];
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

/**
 * Bytes in, decoded frames out (what a connection uses). A single-segment frame -- what
 * encodeFrame makes -- is read into a buffer of its own that the message then reads in place:
 * no copy of the body, which matters for large Data in a guest under TCG. Anything else goes
 * the general way (FrameReader's body, decodeFrame). Same limits and errors as those two.
 */
export class FrameDecoder {
  private head = new Uint8Array(12); // length prefix, then the first 8 bytes of the body
  private headFill = 0;
  private len = 0;
  private seg: Uint8Array | null = null; // the single segment being filled
  private body: Uint8Array | null = null; // a multi-segment body being filled
  private fill = 0;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  push(chunk: Uint8Array): PlainFrame[] {
    const out: PlainFrame[] = [];
    let at = 0;
    while (at < chunk.byteLength) {
      const target = this.seg ?? this.body;
      if (!target) {
        const before = this.headFill;
        const n = Math.min(12 - before, chunk.byteLength - at);
        this.head.set(chunk.subarray(at, at + n), before);
        this.headFill += n;
        at += n;
        if (before < 4 && this.headFill >= 4) this.checkLength();
        if (this.headFill < 12) continue;
        const started = this.start();
        if (this.fill === started.byteLength) out.push(this.finish()); // nothing more to read
        continue;
      }
      const n = Math.min(target.byteLength - this.fill, chunk.byteLength - at);
      target.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === target.byteLength) out.push(this.finish());
    }
    return out;
  }

  private checkLength() {
    this.len = new DataView(this.head.buffer).getUint32(0, true);
    if (this.len > this.maxFrame) throw new FrameError(`frame of ${this.len} bytes exceeds the ${this.maxFrame}-byte limit`);
    if (this.len < 8) throw new FrameError(`frame of ${this.len} bytes is too short to hold a message`);
  }

  private start(): Uint8Array {
    const view = new DataView(this.head.buffer);
    const single = view.getUint32(4, true) === 0;
    const words = view.getUint32(8, true);
    if (single && words > 0 && 8 + words * 8 === this.len) {
      this.fill = 0;
      return (this.seg = Buffer.allocUnsafeSlow(words * 8)); // its own ArrayBuffer, filled before use
    }
    // General case (several segments, or a table that does not add up: decodeFrame says why).
    this.body = new Uint8Array(this.len);
    this.body.set(this.head.subarray(4, 12));
    this.fill = 8;
    return this.body;
  }

  private finish(): PlainFrame {
    const seg = this.seg;
    const body = this.body;
    this.seg = this.body = null;
    this.headFill = this.fill = 0;
    if (body) return decodeFrame(body);
    try {
      const msg = new $.Message(seg!.buffer as ArrayBuffer, false, true);
      return toPlain(msg.getRoot(Frame), { left: seg!.byteLength / 8 + 64, depth: 0 });
    } catch (e) {
      throw new FrameError(`undecodable frame of ${this.len} bytes: ${(e as Error).message}`);
    }
  }
}

