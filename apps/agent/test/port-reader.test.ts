// The port reader's frame routing, with a fake port that returns at most one 4 KiB "virtio
// buffer" per read: quick requests are answered on the reader, every other frame reaches the
// main thread byte for byte and in order, and a bad length stops the reader after handing it on.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrame, type PlainRequest } from "@provium/protocol";
import { FrameRouter, isQuick, LOOK_MAX } from "../src/port-reader";

const dir = mkdtempSync(join(tmpdir(), "provium-port-reader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stat = (id: number): PlainRequest => ({ id, op: { files: { stat: { path: `/p${id}` } } } });
const exec = (id: number): PlainRequest => ({ id, op: { exec: { argv: ["true"] } } });
// stdin for a process: never quick; `size` decides whether it is looked at whole or streamed
const stdin = (id: number, size: number): PlainRequest => ({ id, op: { process: { stdinWrite: { handle: 1, data: new Uint8Array(size).fill(id) } } } });

function route(stream: Uint8Array, step: number) {
  let at = 0;
  const forwarded: number[] = [];
  const answered: PlainRequest[] = [];
  let room = new Uint8Array(5000);
  const router = new FrameRouter({
    read(buf, off, len) {
      if (at >= stream.byteLength) throw new Error("read past the stream");
      const n = Math.min(len, step, stream.byteLength - at);
      buf.set(stream.subarray(at, at + n), off);
      at += n;
      return n;
    },
    forward: (bytes) => forwarded.push(...bytes),
    room: () => room,
    commit: (n) => forwarded.push(...room.subarray(0, n)),
    answer: (req) => answered.push(req),
  });
  let going = true;
  while (going && (at < stream.byteLength || router.pending > 0)) going = router.next();
  return { forwarded: new Uint8Array(forwarded), answered, going };
}

const joined = (frames: Uint8Array[]) => {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
  frames.reduce((o, f) => (out.set(f, o), o + f.byteLength), 0);
  return out;
};

describe("port reader", () => {
  test("quick ops are answered on the reader; everything else is forwarded exactly, in order", () => {
    const quickBatch: PlainRequest = { id: 9, op: { batch: [stat(1), stat(2)] } };
    const mixedBatch: PlainRequest = { id: 10, op: { batch: [stat(3), exec(4)] } };
    const frames = [stat(1), exec(2), stdin(3, 200_000), quickBatch, mixedBatch, stat(4), stdin(5, 100)].map((request) => encodeFrame({ request }));
    const garbage = new Uint8Array([16, 0, 0, 0, ...new Array(16).fill(0xff)]);
    const stream = joined([...frames, garbage, encodeFrame({ request: stat(6) })]);
    for (const step of [1, 7, 4096]) {
      const r = route(stream, step);
      expect(r.answered.map((q) => q.id)).toEqual([1, 9, 4, 6]);
      expect(r.forwarded).toEqual(joined([frames[1]!, frames[2]!, frames[4]!, frames[6]!, garbage]));
    }
  });

  test("a frame larger than what is looked at streams on, in pieces, exactly", () => {
    const big = encodeFrame({ request: stdin(7, LOOK_MAX + 100) });
    const after = encodeFrame({ request: stat(8) });
    for (const step of [1000, 4096]) {
      const r = route(joined([encodeFrame({ request: stat(6) }), big, after]), step);
      expect(r.answered.map((q) => q.id)).toEqual([6, 8]);
      expect(r.forwarded.byteLength).toBe(big.byteLength);
      expect(r.forwarded).toEqual(new Uint8Array(big));
    }
  });

  test("a bad length is handed on and ends the reading", () => {
    const r = route(joined([encodeFrame({ request: stat(1) }), new Uint8Array([0xff, 0xff, 0xff, 0x7f, 1, 2, 3])]), 4096);
    expect(r.answered.length).toBe(1);
    expect([...r.forwarded]).toEqual([0xff, 0xff, 0xff, 0x7f]);
    expect(r.going).toBe(false);
  });

  test("which requests are quick: hello, and whole reads and writes only of regular files", () => {
    writeFileSync(join(dir, "full"), "data");
    writeFileSync(join(dir, "empty"), "");
    const read = (path: string): PlainRequest => ({ id: 1, op: { files: { readFile: { path } } } });
    const write = (path: string): PlainRequest => ({ id: 1, op: { files: { writeFile: { path, data: new Uint8Array(1) } } } });
    const hello: PlainRequest = { id: 1, op: { hello: { protocolVersion: 1 } } };
    const quick: PlainRequest[] = [hello, stat(1), { id: 1, op: { files: { listdir: "/" } } }, { id: 1, op: { batch: [stat(1), read(join(dir, "full"))] } }, read(join(dir, "full")), write(join(dir, "full")), write(join(dir, "new"))];
    expect(quick.map(isQuick)).toEqual(quick.map(() => true));
    const slow: PlainRequest[] = [{ ...hello, worker: 3 }, { ...stat(1), worker: 3 }, { id: 1, op: { batch: [stat(1), { ...stat(2), worker: 3 }] } }, exec(1), stdin(1, 10), { id: 1, op: { batch: [] } }, { id: 1, op: { stats: true } }, { id: 1, op: { files: { open: { path: "/x" } } } }, read(join(dir, "empty")), read(join(dir, "missing")), read("/proc/self/status"), read(dir), write("/dev/null"), write(dir)];
    expect(slow.map(isQuick)).toEqual(slow.map(() => false));
  });
});
