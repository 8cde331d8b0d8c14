// FrameDecoder: the connection's reader. Same frames, limits and errors as FrameReader +
// decodeFrame, however the bytes are split.
import { describe, expect, test } from "bun:test";
import { FrameDecoder, FrameError, FrameReader, decodeFrame, encodeFrame, encodeFrameParts } from "../src";

const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
const frames = [
  encodeFrame({ response: { id: 1, done: true } }),
  encodeFrame({ request: { id: 2, worker: 3, op: { files: { writeFile: { path: "/x", data: big, offset: 9 } } } } }),
  encodeFrame({ response: { id: 3, files: { data: { data: new Uint8Array(), eof: true } } } }),
  encodeFrame({ request: { id: 4, op: { batch: [{ id: 1, op: { files: { stat: { path: "/a" } } } }, { id: 2, op: { stats: true } }] } } }),
];
const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
frames.reduce((at, f) => (all.set(f, at), at + f.byteLength), 0);
const expected = frames.map((f) => decodeFrame(f.subarray(4)));

function feed(d: FrameDecoder, bytes: Uint8Array, step: number) {
  const out = [];
  for (let at = 0; at < bytes.byteLength; at += step) out.push(...d.push(bytes.subarray(at, at + step)));
  return out;
}

describe("FrameDecoder", () => {
  test("decodes what FrameReader + decodeFrame decode, however the bytes are split", () => {
    for (const step of [1, 3, 4096, 65536, all.byteLength]) {
      const got = feed(new FrameDecoder(), step === 1 ? all.subarray(0, 200) : all, step);
      if (step === 1) expect(got).toEqual(expected.slice(0, 1));
      else expect(got).toEqual(expected);
    }
    const [first, second] = [feed(new FrameDecoder(), all, 7), feed(new FrameDecoder(), all, 100_001)];
    expect(first).toEqual(second);
    expect([...(first[1]!.request!.op!.files!.writeFile!.data as Uint8Array)]).toEqual([...big]);
  });

  test("large frames go out in parts whose concatenation is the frame", () => {
    const parts = encodeFrameParts({ request: { id: 2, worker: 3, op: { files: { writeFile: { path: "/x", data: big, offset: 9 } } } } });
    expect(parts.length).toBe(2);
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    parts.reduce((at, p) => (joined.set(p, at), at + p.byteLength), 0);
    expect(joined).toEqual(new Uint8Array(frames[1]!));
    expect(encodeFrameParts({ response: { id: 1, done: true } }).length).toBe(1);
  });

  test("refuses an oversized or short length before allocating", () => {
    expect(() => new FrameDecoder(1024).push(new Uint8Array([0xff, 0xff, 0xff, 0x7f]))).toThrow(/exceeds the 1024-byte limit/);
    expect(() => new FrameDecoder().push(new Uint8Array([4, 0, 0, 0]))).toThrow(/too short to hold a message/);
  });

  test("memory follows the bytes that arrived, not the length a peer announces", () => {
    const r = new FrameReader();
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 96 * 1024 * 1024, true);
    r.push(prefix);
    r.push(new Uint8Array(10));
    expect(r.reserved).toBeLessThanOrEqual(64 * 1024);
    // a real large frame still arrives whole and intact, however it is split
    const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 13) & 255);
    const frame = encodeFrame({ response: { id: 9, files: { data: { data, eof: true } } } });
    for (const step of [100_000, 1 << 20, 7777]) {
      const d = new FrameDecoder();
      const got = feed(d, frame, step);
      expect(got.length).toBe(1);
      expect(Buffer.compare(got[0]!.response!.files!.data!.data as Uint8Array, data)).toBe(0);
    }
  });

  test("a segment table that does not add up, or garbage, is a FrameError", () => {
    // one segment of 2 words announced in a body with room for 3: the general path says why
    const bad = new Uint8Array([32, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, ...new Array(24).fill(0)]);
    expect(() => new FrameDecoder().push(bad)).toThrow(FrameError);
    expect(() => new FrameDecoder().push(bad)).toThrow(/segments add up to/);
    // an empty segment: no root pointer
    expect(() => new FrameDecoder().push(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(FrameError);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
    for (let i = 0; i < 2000; i++) {
      const n = 8 + (i % 200);
      const body = new Uint8Array(n).map(rnd);
      body.set([0, 0, 0, 0], 0); // one segment...
      new DataView(body.buffer).setUint32(4, (n - 8) >> 3, true); // ...that fits: the in-place path
      const frame = new Uint8Array(4 + n);
      new DataView(frame.buffer).setUint32(0, n, true);
      frame.set(body, 4);
      try {
        new FrameDecoder().push(frame);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
  });

  test("FrameReader is unchanged for callers that want bodies", () => {
    const r = new FrameReader();
    expect(r.push(all).map((b) => decodeFrame(b))).toEqual(expected);
  });
});

describe("frames over the limit are refused by their sender", () => {
  test("a request too large fails alone; the connection lives on", async () => {
    const { AgentClient, AgentServer } = await import("../src");
    let server!: InstanceType<typeof AgentServer>;
    const client = new AgentClient({ write: (b) => void queueMicrotask(() => server.receive(b)), close() {} }, { maxFrame: 4096 });
    server = new AgentServer(
      { write: (b) => void queueMicrotask(() => client.receive(b)), close() {} },
      (req: any) => (req.op.files?.readFile ? { files: { data: { data: new Uint8Array(8192), eof: true } } } : { done: true }),
      (e) => ({ message: String((e as Error).message), errno: 0, errnoName: "" }),
      { maxFrame: 4096 },
    );
    await expect(client.request({ files: { writeFile: { path: "/x", data: new Uint8Array(8192) } } })).rejects.toThrow(/exceeds the 4096-byte limit/);
    // a reply too large comes back as a failure of that request
    const r = await client.request({ files: { readFile: { path: "/x" } } });
    expect(r.error?.message).toMatch(/could not encode its reply: frame of \d+ bytes exceeds the 4096-byte limit/);
    expect((await client.request({ stats: true })).stats).toBeDefined();
    expect(client.closed).toBe(false);
  });
});
