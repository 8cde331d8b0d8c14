// The record framing of QEMU's stream netdev, under arbitrary chunking and hostile lengths.
import { describe, expect, test } from "bun:test";
import { encodeRecord, FrameError, formatMac, MAX_FRAME, parseMac, RecordReader } from "../src/index";

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

describe("RecordReader", () => {
  test("any split of a stream of records gives back the same frames, in order", () => {
    const rand = rng(17);
    for (let round = 0; round < 50; round++) {
      const frames = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Uint8Array.from({ length: Math.floor(rand() * (rand() < 0.1 ? 70_000 : 1600)) % MAX_FRAME }, () => Math.floor(rand() * 256)));
      const stream = Buffer.concat(frames.map(encodeRecord));
      const reader = new RecordReader(64); // small: it must grow
      const got: Uint8Array[] = [];
      let batches = 0;
      for (let off = 0; off < stream.length; ) {
        const n = Math.min(stream.length - off, 1 + Math.floor(rand() * (rand() < 0.5 ? 7 : 100_000)));
        reader.push(stream.subarray(off, off + n), (f, rec) => {
          expect(rec.length).toBe(f.length + 4);
          got.push(f.slice());
        }, () => batches++);
        off += n;
      }
      expect(got.length).toBe(frames.length);
      for (let i = 0; i < frames.length; i++) expect(Buffer.from(got[i]!).equals(Buffer.from(frames[i]!))).toBe(true);
      expect(batches).toBeGreaterThan(0);
    }
  });

  test("a length past MAX_FRAME is refused as soon as its 4 bytes are in, without buffering it", () => {
    const reader = new RecordReader(64);
    const bad = new Uint8Array(4);
    new DataView(bad.buffer).setUint32(0, MAX_FRAME + 1);
    expect(() => reader.push(bad, () => {})).toThrow(FrameError);
    expect(() => new RecordReader().push(bad, () => {})).toThrow(`frame of ${MAX_FRAME + 1} bytes (the limit is ${MAX_FRAME})`);
  });

  test("MACs parse and print; anything else is refused", () => {
    expect(formatMac(parseMac("52:54:00:AB:cd:01"))).toBe("52:54:00:ab:cd:01");
    expect(() => parseMac("52:54:00:ab:cd")).toThrow('not a MAC address: "52:54:00:ab:cd"');
  });
});
