import { describe, expect, test } from "bun:test";
import { ByteStream } from "../src/streams";

describe("ByteStream", () => {
  test("bytes pushed before the first read are kept", async () => {
    const s = new ByteStream();
    await s.push(new Uint8Array([1, 2]));
    await s.push(new Uint8Array([3]));
    s.end();
    const r = await s.read();
    expect([...r.data]).toEqual([1, 2, 3]);
    expect(r.eof).toBe(true);
  });

  test("a read waits for data up to its timeout", async () => {
    const s = new ByteStream();
    const t = performance.now();
    const empty = await s.read(0, 50);
    expect(empty.data.byteLength).toBe(0);
    expect(empty.eof).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(45);
    setTimeout(() => s.push(new Uint8Array([9])), 10);
    expect([...(await s.read(0, 5000)).data]).toEqual([9]);
  });

  test("maxBytes splits chunks and the producer waits while the buffer is full", async () => {
    const s = new ByteStream(4);
    let pushed = false;
    const p = s.push(new Uint8Array(10)).then(() => (pushed = true));
    await Bun.sleep(5);
    expect(pushed).toBe(false);
    expect((await s.read(3)).data.byteLength).toBe(3);
    await Bun.sleep(1);
    expect(pushed).toBe(false);
    expect((await s.read(100)).data.byteLength).toBe(7);
    await p;
    expect(pushed).toBe(true);
  });

  test("close releases waiting readers and producers", async () => {
    const full = new ByteStream(1);
    const w = full.push(new Uint8Array(5));
    full.close();
    await w; // the producer is not left waiting forever
    const empty = new ByteStream();
    const r = empty.read(0, 10_000);
    empty.close();
    expect((await r).eof).toBe(true);
  });
});
