// Taps and pcap files: what a bridge tap and a NIC tap see, and that the files open in pcap
// readers (the npm pcap-parser, and tcpdump when the host has it).
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
// @ts-ignore: no types for pcap-parser
import pcapParser from "pcap-parser";
import { FrameQueue, PcapSink, PcapStream, Switch } from "../src/index";
import { BROADCAST, FakeNic } from "./fake-nic";

const MAC = { a: "52:54:00:00:00:0a", b: "52:54:00:00:00:0b" };
let sw: Switch;
let dir: string;
let nics: FakeNic[] = [];

async function lan(): Promise<[FakeNic, FakeNic]> {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nsw-cap-"));
  sw = new Switch(path.join(dir, "sw"));
  const a = await FakeNic.connect(sw.addPort("a"), MAC.a);
  const b = await FakeNic.connect(sw.addPort("b"), MAC.b);
  nics = [a, b];
  while (sw.connections("a") === 0 || sw.connections("b") === 0) await Bun.sleep(1);
  a.send(BROADCAST, "hi-a");
  b.send(BROADCAST, "hi-b");
  await a.waitFor(1);
  await b.waitFor(1);
  return [a, b];
}

afterEach(() => {
  for (const n of nics) n.close();
  sw.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function readPcap(file: string): Promise<{ header: any; packets: { header: any; data: Buffer }[] }> {
  return new Promise((resolve, reject) => {
    const p = pcapParser.parse(file);
    let header: any;
    const packets: { header: any; data: Buffer }[] = [];
    p.on("globalHeader", (h: any) => (header = h));
    p.on("packet", (pk: any) => packets.push(pk));
    p.on("end", () => resolve({ header, packets }));
    p.on("error", reject);
  });
}

describe("captures", () => {
  test("a bridge tap sees each frame once as it enters, even one a partition then drops", async () => {
    const [a, b] = await lan();
    const q = new FrameQueue();
    sw.tap(q);
    sw.impairments.partition("b", "a");
    a.send(MAC.b, "ping");
    b.send(MAC.a, "pong");
    await b.waitFor(2);
    const f1 = await q.next(1000);
    const f2 = await q.next(1000);
    expect([f1!.from, Buffer.from(f1!.frame.subarray(14)).toString(), f1!.to]).toEqual(["a", "ping", null]);
    expect([f2!.from, Buffer.from(f2!.frame.subarray(14)).toString()]).toEqual(["b", "pong"]);
    expect(await q.next(50)).toBeNull();
  });

  test("a NIC tap sees what its guest sent and what was delivered to it, not others' traffic", async () => {
    const [a, b] = await lan();
    const c = await FakeNic.connect(sw.addPort("c"), "52:54:00:00:00:0c");
    nics.push(c);
    while (sw.connections("c") === 0) await Bun.sleep(1);
    const q = new FrameQueue();
    sw.tap(q, "a");
    b.send(MAC.a, "to-a");
    c.send(MAC.b, "c-to-b");
    a.send(MAC.b, "from-a");
    await b.waitFor(3);
    await Bun.sleep(20);
    const seen = q.drain().map((f) => [f.from, f.to, Buffer.from(f.frame.subarray(14)).toString()]);
    expect(seen).toEqual([
      ["b", "a", "to-a"],
      ["a", null, "from-a"],
    ]);
  });

  test("a pcap file holds the frames with their bytes and opens in pcap-parser", async () => {
    const [a, b] = await lan();
    const file = path.join(dir, "cap.pcap");
    const sink = new PcapSink(file);
    const untap = sw.tap(sink);
    for (let i = 0; i < 5; i++) a.send(MAC.b, `frame-${i}`);
    await b.waitFor(6);
    untap();
    const { header, packets } = await readPcap(file);
    expect(header).toMatchObject({ majorVersion: 2, minorVersion: 4, linkLayerType: 1, snapshotLength: 65535 });
    expect(packets.map((p) => p.data.subarray(14).toString())).toEqual([0, 1, 2, 3, 4].map((i) => `frame-${i}`));
    const p0 = packets[0]!;
    expect(p0.data.subarray(0, 6)).toEqual(Buffer.from([0x52, 0x54, 0, 0, 0, 0x0b]));
    expect(p0.header.originalLength).toBe(14 + 7);
    const ts = p0.header.timestampSeconds + p0.header.timestampMicroseconds / 1e6;
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(10);
  });

  test.skipIf(!Bun.which("tcpdump"))("tcpdump reads the pcap file", async () => {
    const [a, b] = await lan();
    const file = path.join(dir, "cap.pcap");
    const untap = sw.tap(new PcapSink(file));
    a.send(MAC.b, "for-tcpdump");
    await b.waitFor(2);
    untap();
    const r = Bun.spawnSync(["tcpdump", "-nn", "-e", "-r", file], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("52:54:00:00:00:0a > 52:54:00:00:00:0b, ethertype Unknown (0x88b5), length 25");
  });

  test("a queue nobody reads stops at its byte cap and counts what it lost", async () => {
    const [a, b] = await lan();
    const q = new FrameQueue(1000);
    sw.tap(q);
    for (let i = 0; i < 100; i++) a.send(MAC.b, "0123456789"); // 24 bytes each
    await b.waitFor(101);
    expect(q.drain().length).toBe(41);
    expect(q.lost).toBe(59);
  });
});

describe("pcap stream", () => {
  test("the bytes of a pcap file, read as they come: the header first, then a record per frame", async () => {
    const [a, b] = await lan();
    const stream = new PcapStream();
    const stop = sw.tap(stream, "b");
    const first = await stream.read(0);
    expect(Buffer.from(first.data).readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(first).toMatchObject({ eof: false });
    expect(first.data.length).toBe(24);
    a.send(MAC.b, "to-b");
    const rec = await stream.read(5000);
    const incl = Buffer.from(rec.data).readUInt32LE(8);
    expect(Buffer.from(rec.data.subarray(16, 16 + incl)).toString("latin1")).toEndWith("to-b");
    expect(stream.frames).toBe(1);
    stop();
    expect(await stream.read(1000)).toEqual({ data: new Uint8Array(0) as any, eof: true });
    void b;
  });
});
