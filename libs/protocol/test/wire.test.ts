// The generated wire codec against capnp-es (through the reflective reference codec): random
// frames of every struct in the schema must read the same through both, whichever of the two
// wrote them; and hostile bytes must fail as FrameError, quickly, without large allocations.
import { describe, expect, test } from "bun:test";
import * as $ from "capnp-es";
import { Frame } from "../src/generated/agent";
import { structs } from "../src/generated/wire";
import { FrameError, decodeFrame, encodeFrame, encodeFrameParts, type PlainFrame } from "../src";
import { INLINE_DATA_MAX } from "../src/wire";
import { fromPlain, toPlain } from "./reference-codec";

// The generated model's literal types, read through one loose shape.
type TypeModel = { kind: string; of?: any };
type Model = { name: string; fields: { name: string; type: TypeModel; group?: string; tag?: number }[] };
const byName = new Map<string, Model>((structs as readonly Model[]).map((s) => [s.name, s]));

let seed = 1;
// (the high bits: an LCG's low bits repeat with a short period)
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % n;
const pick = <T>(xs: T[]) => xs[rnd(xs.length)]!;
// (short ASCII is read by its own path, up to 64 bytes: both sides of that line, and a text
// that turns non-ASCII after an ASCII start)
const TEXTS = ["", "a", "/etc/hostname", "ünïcödé ✓", "/tmp/café", "emoji 🎉 pair", "x".repeat(33), "z".repeat(64), "w".repeat(65), "y".repeat(200), "nul\u0001ctl"];
const INTS: Record<string, number[]> = {
  int8: [0, 1, -1, 127, -128],
  uint8: [0, 1, 255],
  int16: [0, -32768, 32767],
  uint16: [0, 65535],
  int32: [0, -1, 2147483647, -2147483648],
  uint32: [0, 1, 4294967295],
  enum: [0, 1, 7],
};
const BIG64: Record<string, (number | bigint)[]> = {
  int64: [0, -1, 1, 4294967295, -4294967296, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 40, -(2 ** 40), 2n ** 62n, -(2n ** 63n)],
  uint64: [0, 1, 4294967295, 4294967296, Number.MAX_SAFE_INTEGER, 2n ** 53n, 2n ** 64n - 1n],
};

// (the reference codec needs bigints for 64-bit union members: it cannot tell their type)
function randomValue(t: TypeModel, depth: number, member = false): unknown {
  switch (t.kind) {
    case "void":
      return true;
    case "bool":
      return rnd(2) === 1;
    case "text":
      return pick(TEXTS);
    case "data":
      return new Uint8Array(pick([0, 1, 7, 8, 100, INLINE_DATA_MAX + 3])).map(() => rnd(256));
    case "struct":
      return randomStruct(byName.get(t.of)!, depth + 1);
    case "list": {
      const n = depth > 6 ? 0 : rnd(4);
      return Array.from({ length: n }, () => randomValue(t.of, depth + 1));
    }
    case "int64":
    case "uint64":
      return member ? BigInt(pick(BIG64[t.kind]!)) : pick(BIG64[t.kind]!);
    default:
      return pick(INTS[t.kind]!);
  }
}

// Fields generated, as "Struct.field"; union members are taken in turn, so all of them come up.
const generated = new Set<string>();
const turns = new Map<string, number>();
function randomStruct(s: Model, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const value = (f: Model["fields"][number]) => {
    generated.add(`${s.name}.${f.name}`);
    return f.group ? randomStruct(byName.get(f.group)!, depth) : randomValue(f.type, depth, f.tag !== undefined);
  };
  for (const f of s.fields) if (f.tag === undefined && rnd(4) > 0) o[f.name] = value(f);
  const members = s.fields.filter((f) => f.tag !== undefined);
  if (members.length) {
    const turn = turns.get(s.name) ?? 0;
    turns.set(s.name, turn + 1);
    const f = members[turn % members.length]!;
    o[f.name] = value(f);
  }
  return o;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.byteLength), 0);
  return out;
};
const referenceRead = (body: Uint8Array) => toPlain(new $.Message(body, false).getRoot(Frame));
const referenceWrite = (frame: PlainFrame) => {
  const msg = new $.Message();
  fromPlain(msg.initRoot(Frame), frame as never);
  return new Uint8Array(msg.toArrayBuffer());
};
// Both codecs give Data as Uint8Array and 64-bit values as numbers when safe: compare as such.
const norm = (x: unknown): unknown =>
  x instanceof Uint8Array ? [...x] : Array.isArray(x) ? x.map(norm) : x && typeof x === "object" ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)])) : x;

// A message of several segments, each given as [lo, hi] words.
function segmentsOf(...segs: [number, number][][]) {
  const header = (4 + 4 * segs.length + 7) & ~7;
  const b = new Uint8Array(header + segs.reduce((n, s) => n + s.length * 8, 0));
  const v = new DataView(b.buffer);
  v.setUint32(0, segs.length - 1, true);
  let at = header;
  segs.forEach((s, i) => {
    v.setUint32(4 + 4 * i, s.length, true);
    for (const [lo, hi] of s) (v.setUint32(at, lo >>> 0, true), v.setUint32(at + 4, hi >>> 0, true), (at += 8));
  });
  return b;
}
const message = (...words: [number, number][]) => segmentsOf(words);

describe("wire codec against capnp-es", () => {
  test("every struct of the schema reads the same through both, whoever wrote it", () => {
    // (2000: with ReadFile.refuseOver, 1000 frames of this seed no longer reached RawPtr.target;
    // 4000: with FileOp.readMem and RawCall.async, 2000 no longer reached RawCall.ptrs)
    for (let i = 0; i < 4000; i++) {
      const frame = randomStruct(byName.get("Frame")!, 0) as PlainFrame;
      const ours = encodeFrame(frame).subarray(4);
      expect(norm(decodeFrame(ours))).toEqual(norm(referenceRead(ours)));
      const theirs = referenceWrite(frame);
      expect(norm(decodeFrame(theirs))).toEqual(norm(referenceRead(theirs)));
    }
    // the random frames reached every field of every struct
    const all = structs.flatMap((s) => s.fields.map((f) => `${s.name}.${f.name}`));
    expect(all.filter((f) => !generated.has(f))).toEqual([]);
  });

  test("what is written is what is read back", () => {
    const frame: PlainFrame = {
      request: {
        id: 4294967295,
        worker: 3,
        op: { exec: { argv: ["sh", "-c", "echo ✓"], env: [{ name: "A", value: "" }], envClear: true, cwd: "/tmp", stdin: new Uint8Array([0, 1, 2]), timeoutMs: 9 } },
      },
    };
    const back = decodeFrame(encodeFrame(frame).subarray(4));
    expect(norm(back.request!.op!.exec)).toEqual(norm(frame.request!.op!.exec));
    expect(back.request!.id).toBe(4294967295);
    const seek = decodeFrame(encodeFrame({ request: { id: 1, op: { files: { seek: { handle: 2, offset: -5, whence: 2 } } } } }).subarray(4));
    expect(seek.request!.op!.files!.seek).toEqual({ handle: 2, offset: -5, whence: 2 });
  });

  test("multi-segment messages: single and double far pointers", () => {
    // seg0: root = far -> seg1 w0 | a double-far landing pad: far -> seg1 w3, tag Response (1, 1)
    // seg1: pad: struct -> w1 | Frame {tag 1} | Frame.response = double far -> seg0 w1 | Response {id 5, done} | null
    const body = segmentsOf(
      [[2, 1], [2 | (3 << 3), 1], [0, 1 | (1 << 16)]],
      [[0, 1 | (1 << 16)], [1, 0], [2 | 4 | (1 << 3), 0], [5, 6], [0, 0]],
    );
    expect(decodeFrame(body)).toEqual({ response: { id: 5, done: true } });
  });

  test("large Data goes out as the caller's own buffer, small Data is copied in", () => {
    const big = new Uint8Array(INLINE_DATA_MAX + 5).fill(7);
    const parts = encodeFrameParts({ response: { id: 1, streamData: { data: big, eof: false } } });
    expect(parts[1]).toBe(big);
    expect(parts[2]!.byteLength).toBe(3); // padding to a word
    expect(decodeFrame(concat(parts).subarray(4)).response!.streamData!.data).toEqual(big);
    expect(encodeFrameParts({ response: { id: 1, streamData: { data: new Uint8Array(INLINE_DATA_MAX), eof: false } } }).length).toBe(1);
  });

  test("a plain object the schema does not allow is a clear error", () => {
    expect(() => encodeFrame({ request: { id: 1, op: { stats: true }, bogus: 1 } } as never)).toThrow("Request has no field 'bogus'");
    expect(() => encodeFrame({ request: { id: 1, op: { stats: true, hello: {} } } } as never)).toThrow("Request.op sets both 'stats' and 'hello' of its union");
    expect(() => encodeFrame({ response: { id: 1, stats: { requests: 1.5 } } })).toThrow(/1.5 is not an integer/);
    expect(() => encodeFrame({ request: { id: 1, op: { files: { listdir: 5 } } } } as never)).toThrow(/expected a string/);
  });
});

describe("hostile bytes", () => {
  const fails = (body: Uint8Array, why: RegExp) => {
    expect(() => decodeFrame(body)).toThrow(FrameError);
    expect(() => decodeFrame(body)).toThrow(why);
  };

  test("a list of 2^29 empty structs in a few words is refused before it is built", () => {
    // root -> Frame {tag 1: response} -> Response {tag 3: batch} whose list is composite and
    // announces 2^29-1 zero-sized elements in 0 words
    const t0 = performance.now();
    fails(
      message(
        [0, 1 | (1 << 16)], // root: struct at +0, 1 data word, 1 pointer
        [1, 0], // Frame data: union tag 1 = response
        [0, 1 | (1 << 16)], // Frame.response -> next word
        [0, 3], // Response data: id 0, tag 3 = batch
        [1, 7], // Response.batch: composite list at +0 of 0 words
        [0x1fffffff << 2, 0], // tag: 2^29-1 elements of 0 words
      ),
      /more data than it holds/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("a pointer loop and deep nesting end with an error", () => {
    // Frame.request -> Request {op tag 2: batch} -> a list of one Request whose batch is the list itself
    fails(
      message(
        [0, 1 | (1 << 16)],
        [0, 0],
        [0, 2 | (1 << 16)],
        [0, 0],
        [2, 0],
        [1, 7 | (3 << 3)],
        [1 << 2, 2 | (1 << 16)],
        [0, 0],
        [2, 0],
        [(-4 << 2) | 1, 7 | (3 << 3)],
      ),
      /more data than it holds|nests deeper/,
    );
    // a chain of batch-in-batch 100 deep, built honestly
    let req: any = { id: 1, op: { stats: true } };
    for (let i = 0; i < 100; i++) req = { id: 1, op: { batch: [req] } };
    fails(encodeFrame({ request: req }).subarray(4), /nests deeper than 64/);
  });

  test("pointers out of their segment, wrong kinds and bad text are errors", () => {
    fails(message([100 << 2, 1 | (1 << 16)]), /outside segment/);
    fails(message([0, 1 | (1 << 16)], [0, 0], [1, 2 | (3 << 3)]), /expected a struct pointer/);
    fails(message([2 | (5 << 3), 9]), /far pointer to segment 9/);
    fails(message([3, 0]), /capability pointer/);
    // Frame.request -> Request {op tag 6: files} -> FileOp {tag 3: listdir} = "aaa" without its NUL
    fails(
      message([0, 1 | (1 << 16)], [0, 0], [0, 2 | (1 << 16)], [0, 0], [6, 0], [0, 1 | (1 << 16)], [3, 0], [1, 2 | (3 << 3)], [0x616161, 0]),
      /not NUL-terminated/,
    );
  });

  test("short text that is not UTF-8 reads as TextDecoder reads it, ASCII as itself", () => {
    // Frame.request -> Request {op tag 6: files} -> FileOp {tag 3: listdir} = bytes, then NUL
    const listdir = (bytes: number[]) => {
      const words: [number, number][] = [];
      const b = [...bytes, 0];
      while (b.length % 8) b.push(0);
      for (let i = 0; i < b.length; i += 8) words.push([b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24), b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)]);
      const head: [number, number][] = [[0, 1 | (1 << 16)], [0, 0], [0, 2 | (1 << 16)], [0, 0], [6, 0], [0, 1 | (1 << 16)], [3, 0], [1, 2 | ((bytes.length + 1) << 3)]];
      return decodeFrame(message(...head, ...words)).request!.op!.files!.listdir;
    };
    expect(listdir([0x61, 0xff, 0x62])).toBe("a\ufffdb");
    expect(listdir([0x2f, 0x61, 0xc3])).toBe("/a\ufffd"); // cut short in a sequence
    expect(listdir([0x61, 0x00, 0x62])).toBe("a\u0000b");
    expect(listdir([...Buffer.from("/tmp/stat-me")])).toBe("/tmp/stat-me");
  });

  test("random mutations of valid frames decode or fail as FrameError, never otherwise", () => {
    seed = 99;
    for (let i = 0; i < 300; i++) {
      const body = encodeFrame(randomStruct(byName.get("Frame")!, 0) as PlainFrame).slice(4);
      for (let k = 0; k < 20; k++) {
        const m = body.slice();
        for (let j = 0; j <= rnd(4); j++) m[8 + rnd(m.byteLength - 8)] = rnd(256);
        try {
          decodeFrame(m);
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError);
        }
      }
    }
  });
});
