// The Cap'n Proto wire format, read and written directly: what the code generated from the
// schema (generated/wire.ts) calls for pointers, text, data and lists. capnp-es builds an
// object per pointer and per field access; in a guest under TCG, where JS runs ~40x slower
// than on the host, that was most of a small request's cost. Here a struct is read straight
// into its plain object and written straight from it, in two passes (size, then write) into
// one zeroed buffer.
//
// Reading is for untrusted bytes: every pointer is checked against its segment, and a budget
// of words bounds the work (pointers may share or loop), as does a nesting depth.

import type * as $ from "capnp-es";

type Builtin = keyof $.Struct | "which" | "toString";
/** The plain-object shape of a generated capnp-es struct type (the codec's data model): a
 *  struct is an object of its fields; a union carries only its live member; Data is a
 *  Uint8Array; a List an array; Void is `true`; UInt64/Int64 are numbers when safe. */
export type Plain<T> = T extends $.Data
  ? Uint8Array
  : T extends $.List<infer U>
    ? Plain<U>[]
    : T extends $.Struct
      ? { [K in keyof T as K extends `_${string}` | Builtin ? never : K]?: Plain<T[K]> }
      : T extends void
        ? true
        : T extends bigint
          ? number
          : T;

const MAX_DEPTH = 64;
const MAX_SEGMENTS = 64;
const TWO32 = 4294967296;
const SAFE_HI = 0x200000; // |hi| below 2^21: the 64-bit value is a safe integer

const utf8 = new TextDecoder("utf-8", { fatal: false });
/** Buffer's latin1Slice, which takes any Uint8Array (Bun, Node); absent elsewhere. */
const latin1: ((this: Uint8Array, start: number, end: number) => string) | undefined =
  typeof Buffer === "function" ? (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice : undefined;
const utf8Out = new TextEncoder();

/** Element sizes of a list pointer. */
const BYTE = 2, POINTER = 6, COMPOSITE = 7;
const ELEMENT_BITS = [0, 1, 8, 16, 32, 64, 64, 0];

export class WireReader {
  readonly views: DataView[] = [];
  readonly bytes: Uint8Array[] = [];
  /** Words the message may still make us visit. */
  budget: number;
  depth = 0;
  // What the last successful struct()/list() found (read at once by the caller):
  s = 0; // segment
  d = 0; // byte offset of the struct's data section, or of a list's first element
  dw = 0; // data words (struct, or each element of a composite list)
  pw = 0; // pointer words (likewise)
  n = 0; // list element count
  es = 0; // list element size code

  /** `body` is a message without its length prefix: segment table, then segments. */
  constructor(body: Uint8Array) {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (body.byteLength < 8) throw new Error(`message of ${body.byteLength} bytes is too short`);
    const count = view.getUint32(0, true) + 1;
    if (count > MAX_SEGMENTS) throw new Error(`message claims ${count} segments (limit ${MAX_SEGMENTS})`);
    const header = (4 + 4 * count + 7) & ~7;
    if (header > body.byteLength) throw new Error(`message of ${body.byteLength} bytes is shorter than its segment table`);
    let at = header;
    for (let i = 0; i < count; i++) {
      const len = view.getUint32(4 + 4 * i, true) * 8;
      if (at + len > body.byteLength) throw new Error(`segment ${i} (${len} bytes) runs past the message's ${body.byteLength} bytes`);
      this.bytes.push(new Uint8Array(body.buffer, body.byteOffset + at, len));
      this.views.push(new DataView(body.buffer, body.byteOffset + at, len));
      at += len;
    }
    if (at !== body.byteLength) throw new Error(`message's segments add up to ${at} bytes, it holds ${body.byteLength}`);
    if (this.bytes[0]!.byteLength < 8) throw new Error("message has no root pointer");
    this.budget = body.byteLength / 8 + 64;
  }

  private spend(words: number) {
    if ((this.budget -= words) < 0) throw new Error("message refers to more data than it holds (shared or looping pointers)");
  }

  enter() {
    if (++this.depth > MAX_DEPTH) throw new Error(`message nests deeper than ${MAX_DEPTH} levels`);
  }

  /**
   * Follows the pointer at byte `at` of segment `s` (far pointers included) to its target:
   * sets this.s and this.d (target byte) and returns the pointer word's high half, or
   * returns -1 for a null pointer. `kind` is what the field expects (0 struct, 1 list).
   */
  private target(s: number, at: number, kind: number): number {
    const v = this.views[s]!;
    let lo = v.getUint32(at, true);
    let hi = v.getUint32(at + 4, true);
    if (lo === 0 && hi === 0) return -1;
    if ((lo & 3) === 2) {
      // Far: a landing pad in another segment.
      const padSeg = hi;
      const pad = (lo >>> 3) * 8;
      const pv = this.views[padSeg];
      if (!pv || pad + ((lo & 4) ? 16 : 8) > pv.byteLength) throw new Error(`far pointer to segment ${padSeg} word ${pad / 8} is out of bounds`);
      const plo = pv.getUint32(pad, true), phi = pv.getUint32(pad + 4, true);
      if (!(lo & 4)) {
        if ((plo & 3) === 2) throw new Error("far pointer lands on another far pointer");
        return this.near(padSeg, pad, plo, phi, kind);
      }
      // Double far: a far pointer to the content, then a tag describing it.
      if ((plo & 3) !== 2 || plo & 4) throw new Error("double-far landing pad does not start with a far pointer");
      const contentSeg = phi;
      const cv = this.views[contentSeg];
      if (!cv) throw new Error(`far pointer to segment ${contentSeg}, which does not exist`);
      lo = pv.getUint32(pad + 8, true);
      hi = pv.getUint32(pad + 12, true);
      if ((lo & 3) !== kind) throw new Error(kind === 0 ? "expected a struct pointer" : "expected a list pointer");
      this.s = contentSeg;
      this.d = (plo >>> 3) * 8;
      return hi;
    }
    return this.near(s, at, lo, hi, kind);
  }

  private near(s: number, at: number, lo: number, hi: number, kind: number): number {
    if ((lo & 3) !== kind) throw new Error((lo & 3) === 3 ? "capability pointer where data was expected" : kind === 0 ? "expected a struct pointer" : "expected a list pointer");
    this.s = s;
    this.d = at + 8 + ((lo | 0) >> 2) * 8;
    return hi;
  }

  private within(bytes: number) {
    if (this.d < 0 || this.d + bytes > this.views[this.s]!.byteLength) throw new Error(`pointer to ${bytes} bytes at ${this.d} is outside segment ${this.s}`);
  }

  /** Resolves a struct pointer; false when null (the caller reads the defaults). */
  struct(s: number, at: number): boolean {
    const hi = this.target(s, at, 0);
    if (hi === -1) return false;
    this.dw = hi & 0xffff;
    this.pw = hi >>> 16;
    this.within((this.dw + this.pw) * 8);
    this.spend(this.dw + this.pw || 1);
    return true;
  }

  /** Resolves a list of structs (composite form); false when null. */
  structList(s: number, at: number): boolean {
    const hi = this.target(s, at, 1);
    if (hi === -1) return false;
    if ((hi & 7) !== COMPOSITE) throw new Error(`list of structs has element size ${hi & 7}, expected the composite form`);
    const words = hi >>> 3;
    this.within(8 + words * 8);
    const v = this.views[this.s]!;
    const tlo = v.getUint32(this.d, true), thi = v.getUint32(this.d + 4, true);
    if ((tlo & 3) !== 0) throw new Error("composite list tag is not struct-shaped");
    this.n = tlo >>> 2;
    this.dw = thi & 0xffff;
    this.pw = thi >>> 16;
    if (this.n * (this.dw + this.pw) > words) throw new Error(`composite list of ${this.n} elements overruns its ${words} words`);
    this.spend(Math.max(this.n, words));
    this.d += 8;
    return true;
  }

  /** Resolves a list of non-struct elements; false when null. */
  list(s: number, at: number, elementSize: number): boolean {
    const hi = this.target(s, at, 1);
    if (hi === -1) return false;
    this.es = hi & 7;
    if (this.es !== elementSize) throw new Error(`list has element size ${this.es}, expected ${elementSize}`);
    this.n = hi >>> 3;
    const bytes = Math.ceil((this.n * ELEMENT_BITS[this.es]!) / 8);
    this.within(bytes);
    this.spend(Math.max(bytes / 8, this.es === 0 ? this.n : 0));
    return true;
  }

  text(s: number, at: number): string {
    if (!this.list(s, at, BYTE) || this.n === 0) return "";
    const b = this.bytes[this.s]!;
    const start = this.d, len = this.n - 1;
    if (b[start + len] !== 0) throw new Error("text is not NUL-terminated");
    if (len <= 64 && latin1) {
      // Short ASCII (names, paths): bytes are characters. Checked by a loop, then made into a
      // string at once: in a TCG guest ~1.1 us for a 12-byte path, against ~3.2 us for a
      // string built a character at a time and ~2.4 us for TextDecoder.
      let i = start;
      while (i < start + len && b[i]! < 0x80) i++;
      if (i === start + len) return latin1.call(b, start, start + len);
    }
    return utf8.decode(b.subarray(start, start + len));
  }

  /** A view into the message, not a copy. */
  data(s: number, at: number): Uint8Array {
    if (!this.list(s, at, BYTE)) return new Uint8Array(0);
    return this.bytes[this.s]!.subarray(this.d, this.d + this.n);
  }

  textList(s: number, at: number): string[] {
    if (!this.list(s, at, POINTER)) return [];
    const seg = this.s, d = this.d, out = new Array<string>(this.n);
    for (let i = 0; i < out.length; i++) out[i] = this.text(seg, d + i * 8);
    return out;
  }

  dataList(s: number, at: number): Uint8Array[] {
    if (!this.list(s, at, POINTER)) return [];
    const seg = this.s, d = this.d, out = new Array<Uint8Array>(this.n);
    for (let i = 0; i < out.length; i++) out[i] = this.data(seg, d + i * 8);
    return out;
  }
}

/** A 64-bit field as a number when it is a safe integer, else a bigint. */
export function readU64(v: DataView, at: number): number | bigint {
  const hi = v.getUint32(at + 4, true);
  return hi < SAFE_HI ? hi * TWO32 + v.getUint32(at, true) : v.getBigUint64(at, true);
}

export function readI64(v: DataView, at: number): number | bigint {
  const hi = v.getInt32(at + 4, true);
  if (hi >= -SAFE_HI && hi < SAFE_HI) {
    const n = hi * TWO32 + v.getUint32(at, true);
    if (n >= -Number.MAX_SAFE_INTEGER) return n;
  }
  return v.getBigInt64(at, true);
}

/** Large Data is not copied into the message: it goes out as its own buffer, in place. */
export const INLINE_DATA_MAX = 16 * 1024;
const ZEROS = new Uint8Array(8);
const pad8 = (n: number) => (n + 7) & ~7;

export class WireWriter {
  /** utf8 byte lengths of texts, in the order the size pass met them (the write pass meets them again). */
  private lens: number[] = [];
  private li = 0;
  /** Bytes of large Data, which follow the rest of the segment. */
  blobBytes = 0;
  private blobAt = 0;
  private blobs: Uint8Array[] = [];
  buf!: Uint8Array;
  v!: DataView;
  private next = 0;
  private end = 0;

  // ---- size pass: words that a value needs outside its struct

  textWords(s: string): number {
    if (typeof s !== "string") throw new TypeError(`expected a string, got ${typeof s}`);
    let len = s.length;
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 0x80) {
        len = Buffer.byteLength(s, "utf8");
        break;
      }
    }
    this.lens.push(len);
    return (len + 8) >>> 3; // with its NUL
  }

  dataWords(d: Uint8Array): number {
    if (!(d instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${typeof d}`);
    if (d.byteLength > INLINE_DATA_MAX) {
      this.blobBytes += pad8(d.byteLength);
      return 0;
    }
    return pad8(d.byteLength) >>> 3;
  }

  textListWords(list: string[]): number {
    let n = list.length;
    for (const s of list) n += this.textWords(s);
    return n;
  }

  dataListWords(list: Uint8Array[]): number {
    let n = list.length;
    for (const d of list) n += this.dataWords(d);
    return n;
  }

  // ---- write pass

  /** Allocates the message: a 12-byte frame header (length, one-segment table), `words` of
   *  structs and small values, then the large Data. Returns the byte offset of word 0. */
  begin(words: number): number {
    const bytes = 12 + words * 8;
    // zeroed: unset fields read as their defaults. (The ArrayBuffer first: asking a typed
    // array for its .buffer afterwards costs JSC an allocation of its own.)
    const ab = new ArrayBuffer(bytes);
    this.buf = new Uint8Array(ab);
    this.v = new DataView(ab);
    const segBytes = words * 8 + this.blobBytes;
    this.v.setUint32(0, 8 + segBytes, true);
    this.v.setUint32(8, segBytes / 8, true);
    this.next = 12;
    this.end = bytes;
    this.blobAt = bytes;
    return this.alloc(1);
  }

  alloc(words: number): number {
    const at = this.next;
    this.next += words * 8;
    if (this.next > this.end) throw new Error("wire writer overran its size pass (a generator bug)");
    return at;
  }

  /** The frame as buffers to write in order: [header + segment start, large Data, padding, ...]. */
  finish(): Uint8Array[] {
    if (this.next !== this.end || this.li !== this.lens.length) throw new Error("wire writer disagrees with its size pass (a generator bug)");
    return [this.buf, ...this.blobs];
  }

  structPtr(at: number, target: number, dw: number, pw: number) {
    this.v.setUint32(at, ((target - at - 8) / 8) << 2, true);
    this.v.setUint32(at + 4, dw | (pw << 16), true);
  }

  private listPtr(at: number, target: number, es: number, count: number) {
    this.v.setUint32(at, (((target - at - 8) / 8) << 2) | 1, true);
    this.v.setUint32(at + 4, (es | (count << 3)) >>> 0, true);
  }

  /** A composite list of n structs of dw+pw words: returns the byte offset of element 0. */
  structList(at: number, n: number, dw: number, pw: number): number {
    const t = this.alloc(1 + n * (dw + pw));
    this.listPtr(at, t, COMPOSITE, n * (dw + pw));
    this.v.setUint32(t, n << 2, true);
    this.v.setUint32(t + 4, dw | (pw << 16), true);
    return t + 8;
  }

  text(at: number, s: string) {
    const len = this.lens[this.li++]!;
    const t = this.alloc((len + 8) >>> 3);
    if (len === s.length) {
      const b = this.buf;
      for (let i = 0; i < len; i++) b[t + i] = s.charCodeAt(i);
    } else utf8Out.encodeInto(s, this.buf.subarray(t, t + len));
    this.listPtr(at, t, BYTE, len + 1);
  }

  data(at: number, d: Uint8Array) {
    const len = d.byteLength;
    if (len > INLINE_DATA_MAX) {
      this.listPtr(at, this.blobAt, BYTE, len);
      this.blobAt += pad8(len);
      this.blobs.push(d);
      if (len & 7) this.blobs.push(ZEROS.subarray(0, 8 - (len & 7)));
      return;
    }
    const t = this.alloc(pad8(len) >>> 3);
    this.buf.set(d, t);
    this.listPtr(at, t, BYTE, len);
  }

  textList(at: number, list: string[]) {
    const t = this.alloc(list.length);
    this.listPtr(at, t, POINTER, list.length);
    for (let i = 0; i < list.length; i++) this.text(t + i * 8, list[i]!);
  }

  dataList(at: number, list: Uint8Array[]) {
    const t = this.alloc(list.length);
    this.listPtr(at, t, POINTER, list.length);
    for (let i = 0; i < list.length; i++) this.data(t + i * 8, list[i]!);
  }

  setBool(at: number, bit: number, value: unknown) {
    if (value) this.buf[at] = this.buf[at]! | (1 << bit);
  }

  /** Int64 and UInt64 alike: two's complement. */
  set64(at: number, value: number | bigint) {
    // Most are small counts (sizes, link counts, inodes): one word, the other stays zero.
    if (typeof value === "bigint") return value < 0n ? this.v.setBigInt64(at, value, true) : this.v.setBigUint64(at, value, true);
    if (value >>> 0 === value) return this.v.setUint32(at, value, true);
    setWords(this.v, at, value);
  }
}

function setWords(v: DataView, at: number, n: number) {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${n} is not an integer that fits 64 bits exactly`);
  const hi = Math.floor(n / TWO32);
  v.setUint32(at, n - hi * TWO32, true);
  v.setInt32(at + 4, hi, true);
}

export function unionClash(struct: string, a: string, b: string): Error {
  return new Error(`${struct} sets both '${a}' and '${b}' of its union`);
}

export function noField(struct: string, key: string): Error {
  return new Error(`${struct} has no field '${key}'`);
}
