// The switch driven by fake QEMU stream clients (fake-nic.ts): learning and forwarding, record
// framing, partitions, impairments, counters, restore-style reconnection, state save/load.
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { encodeRecord, Switch } from "../src/index";
import { MAX_MACS } from "../src/switch";
import { BROADCAST, ethFrame, FakeNic } from "./fake-nic";

const MAC = { a: "52:54:00:00:00:0a", b: "52:54:00:00:00:0b", c: "52:54:00:00:00:0c" };
let sw: Switch;
let nics: FakeNic[] = [];

async function lan(...names: (keyof typeof MAC)[]): Promise<Record<string, FakeNic>> {
  sw = new Switch(fs.mkdtempSync(path.join(os.tmpdir(), "nsw-")));
  const out: Record<string, FakeNic> = {};
  for (const n of names) {
    out[n] = await FakeNic.connect(sw.addPort(n), MAC[n]);
    nics.push(out[n]);
  }
  while (names.some((n) => sw.connections(n) === 0)) await Bun.sleep(1);
  return out;
}
/** Every NIC announces itself (broadcast) so the switch learns all MACs; then clear inboxes. */
async function learnAll(n: Record<string, FakeNic>) {
  for (const nic of Object.values(n)) nic.send(BROADCAST, "hello");
  const k = Object.keys(n).length;
  for (const nic of Object.values(n)) await nic.waitFor(k - 1);
  for (const nic of Object.values(n)) nic.received.length = 0;
}
const settle = () => Bun.sleep(30);

afterEach(() => {
  for (const n of nics) n.close();
  nics = [];
  const dir = sw.dir;
  sw.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("forwarding", () => {
  test("broadcast floods every other port; unicast to a learned MAC goes to its port only", async () => {
    const n = await lan("a", "b", "c");
    n.a!.send(BROADCAST, "who");
    expect(await n.b!.waitFor(1)).toBe(1);
    expect(await n.c!.waitFor(1)).toBe(1);
    expect(n.a!.received).toEqual([]); // never back to the sender
    n.b!.send(MAC.a, "to-a"); // a is learned from its broadcast
    expect(await n.a!.waitFor(1)).toBe(1);
    await settle();
    expect(n.a!.payloads()).toEqual(["to-a"]);
    expect(n.c!.payloads()).toEqual(["who"]);
  });

  test("unicast to an unknown MAC floods", async () => {
    const n = await lan("a", "b", "c");
    n.a!.send("52:54:00:99:99:99", "lost?");
    expect(await n.b!.waitFor(1)).toBe(1);
    expect(await n.c!.waitFor(1)).toBe(1);
  });

  test("records split across writes and many records in one write are reassembled", async () => {
    const n = await lan("a", "b");
    const recs = ["one", "two", "three"].map((p) => encodeRecord(ethFrame(MAC.b, MAC.a, p)));
    const all = Buffer.concat(recs);
    for (let i = 0; i < all.length; i += 5) {
      n.a!.writeRaw(all.subarray(i, i + 5));
      await Bun.sleep(1);
    }
    n.a!.writeRaw(Buffer.concat([encodeRecord(ethFrame(MAC.b, MAC.a, "four")), encodeRecord(ethFrame(MAC.b, MAC.a, "five"))]));
    expect(await n.b!.waitFor(5)).toBe(5);
    expect(n.b!.payloads()).toEqual(["one", "two", "three", "four", "five"]);
  });

  test("a record longer than any frame drops that connection and nothing else", async () => {
    const n = await lan("a", "b");
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, 1 << 30);
    n.a!.writeRaw(bad);
    const end = performance.now() + 2000;
    while (!n.a!.closed && performance.now() < end) await Bun.sleep(5);
    expect(n.a!.closed).toBe(true);
    const c = await FakeNic.connect(sw.portPath("a")!, MAC.a);
    nics.push(c);
    c.send(MAC.b, "again");
    expect(await n.b!.waitFor(1)).toBe(1);
  });

  test("a port takes a second connection (a restore target); unicast follows the MAC to the newest sender", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    const a2 = await FakeNic.connect(sw.portPath("a")!, MAC.a);
    nics.push(a2);
    while (sw.connections("a") < 2) await Bun.sleep(1);
    a2.send(BROADCAST, "announce"); // QEMU's self-announce after an incoming migration
    await n.b!.waitFor(1);
    n.b!.send(MAC.a, "after-restore");
    expect(await a2.waitFor(1)).toBe(1);
    await settle();
    expect(a2.payloads()).toEqual(["after-restore"]);
    expect(n.a!.received).toEqual([]);
  });

  test("an unplugged port neither sends nor receives; plugged back, it does", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.setPlugged("b", false);
    n.a!.send(MAC.b, "x");
    n.b!.send(MAC.a, "y");
    await settle();
    expect(n.a!.received.length + n.b!.received.length).toBe(0);
    sw.setPlugged("b", true);
    n.a!.send(MAC.b, "z");
    expect(await n.b!.waitFor(1)).toBe(1);
  });

  test("closing the switch closes its connections and removes its sockets", async () => {
    const n = await lan("a", "b");
    const paths = [sw.portPath("a")!, sw.portPath("b")!];
    sw.close();
    const end = performance.now() + 2000;
    while (!(n.a!.closed && n.b!.closed) && performance.now() < end) await Bun.sleep(5);
    expect([n.a!.closed, n.b!.closed]).toEqual([true, true]);
    expect(paths.filter((p) => fs.existsSync(p))).toEqual([]);
  });
});

describe("partitions", () => {
  test("a one-way partition stops a -> b only, and counts the drops on a", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.partition("a", "b");
    n.a!.send(MAC.b, "blocked");
    n.b!.send(MAC.a, "passes");
    expect(await n.a!.waitFor(1)).toBe(1);
    await settle();
    expect(n.b!.received).toEqual([]);
    expect(sw.counters("a")).toMatchObject({ tx_packets: 2, dropped: 1 });
    sw.impairments.unpartition("a", "b");
    n.a!.send(MAC.b, "again");
    expect(await n.b!.waitFor(1)).toBe(1);
  });

  test("isolate cuts a port off both ways; partition_all cuts everyone; restore_all lifts only that", async () => {
    const n = await lan("a", "b", "c");
    await learnAll(n);
    sw.impairments.isolate("a");
    n.a!.send(BROADCAST, "from-a");
    n.b!.send(MAC.c, "b-c");
    n.c!.send(MAC.a, "c-a");
    expect(await n.c!.waitFor(1)).toBe(1);
    await settle();
    expect(n.c!.payloads()).toEqual(["b-c"]);
    expect(n.a!.received.length + n.b!.received.length).toBe(0);
    sw.impairments.partitionAll();
    n.b!.send(MAC.c, "none");
    await settle();
    expect(n.c!.received.length).toBe(1);
    sw.impairments.restoreAll();
    expect(sw.impairments.isIsolated("a")).toBe(true);
    sw.impairments.unisolate("a");
    n.b!.send(MAC.c, "b-c2");
    n.c!.send(MAC.a, "c-a2");
    expect(await n.a!.waitFor(1)).toBe(1);
    expect(await n.c!.waitFor(2)).toBe(2);
  });
});

describe("impairments", () => {
  test("drop rate 0.3 drops about 30% of 2000 frames, in one direction only", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.set({ dropRate: 0.3 }, "a", "b");
    for (let i = 0; i < 2000; i++) n.a!.send(MAC.b, String(i));
    for (let i = 0; i < 100; i++) n.b!.send(MAC.a, String(i));
    await n.a!.waitFor(100);
    await Bun.sleep(200);
    const got = n.b!.received.length;
    expect(got).toBeGreaterThan(2000 * 0.63);
    expect(got).toBeLessThan(2000 * 0.77);
    expect(n.a!.received.length).toBe(100);
    expect(sw.counters("a").dropped).toBe(2000 - got);
  });

  test("latency delays by the asked time, whole-bridge or per direction", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.set({ delayMs: 80 });
    let t0 = performance.now();
    n.a!.send(MAC.b);
    await n.b!.waitFor(1);
    const ab = performance.now() - t0;
    sw.impairments.set({ delayMs: 10 }, "b", "a"); // its own setting wins over the bridge's
    t0 = performance.now();
    n.b!.send(MAC.a);
    await n.a!.waitFor(1);
    const ba = performance.now() - t0;
    // Upper bounds are loose: timers fire late on a loaded host, never early.
    expect(ab).toBeGreaterThanOrEqual(78);
    expect(ab).toBeLessThan(250);
    expect(ba).toBeGreaterThanOrEqual(9);
    expect(ba).toBeLessThan(ab - 20);
  }, { retry: 2 }); // timing: a host loaded by other work can stall the event loop

  test("jitter spreads the delay over [ms - jitter, ms + jitter]", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.set({ delayMs: 50, jitterMs: 40 }, "a", "b");
    const sent = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      sent.set(String(i), performance.now());
      n.a!.send(MAC.b, String(i));
    }
    const arrivals: number[] = [];
    const end = performance.now() + 2000;
    let seen = 0;
    while (seen < 40 && performance.now() < end) {
      await Bun.sleep(1);
      for (const p of n.b!.payloads().slice(seen)) arrivals.push(performance.now() - sent.get(p)!);
      seen = n.b!.received.length;
    }
    expect(seen).toBe(40);
    expect(Math.min(...arrivals)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...arrivals)).toBeLessThan(250);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThan(30); // it did vary
  }, { retry: 2 }); // timing: a host loaded by other work can stall the event loop

  test("a bandwidth limit paces a burst to the asked rate (one direction only)", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    const bps = 8_000_000; // 1 MB/s
    sw.impairments.set({ bps }, "a", "b");
    const frame = new Uint8Array(986); // + 14 header = 1000-byte frames
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) n.a!.send(MAC.b, frame); // 200 kB, under the 256 KiB queue
    for (let i = 0; i < 200; i++) n.b!.send(MAC.a, frame);
    await n.a!.waitFor(200);
    const back = performance.now() - t0;
    expect(await n.b!.waitFor(200, 5000)).toBe(200);
    const secs = (performance.now() - t0) / 1000;
    const expected = (200_000 - 16 * 1024) / 1_000_000; // the first 16 KiB go as a burst
    expect(secs).toBeGreaterThan(expected * 0.8);
    expect(secs).toBeLessThan(expected * 1.6); // late timers on a loaded host lose at most the burst's worth
    expect(back).toBeLessThan((secs * 1000) / 2); // b -> a is not limited
  }, { retry: 2 }); // timing: a host loaded by other work can stall the event loop

  test("a burst beyond the bandwidth queue is tail-dropped and counted", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.set({ bps: 1_000_000 }, "a", "b");
    const frame = new Uint8Array(1486); // 1500-byte frames
    for (let i = 0; i < 400; i++) n.a!.send(MAC.b, frame); // 600 kB against a 256 KiB queue
    await Bun.sleep(300);
    expect(sw.counters("a").dropped).toBeGreaterThan(150);
    sw.impairments.reset();
  });

  test("reset clears partitions and impairments, keeps isolation; save/load carries them to another switch", async () => {
    const n = await lan("a", "b");
    await learnAll(n);
    sw.impairments.partition("a", "b");
    sw.impairments.partitionPair("b", "a");
    sw.impairments.isolate("b");
    sw.impairments.set({ delayMs: 5 }, "b", "a");
    sw.impairments.set({ dropRate: 0.1 });
    sw.setPlugged("a", false);
    const saved = sw.save();
    expect(saved).toEqual({
      unplugged: ["a"],
      impairments: { all: { dropRate: 0.1 }, pairs: [["b", "a", { delayMs: 5 }]], blocked: [["a", "b"]], cut: [["a", "b"]], isolated: ["b"], allBlocked: false },
    });
    expect([sw.impairments.isPartitioned("a", "b"), sw.impairments.isPartitioned("b", "a")]).toEqual([true, true]);
    sw.impairments.reset();
    sw.setPlugged("a", true);
    expect(sw.impairments.isPartitioned("a", "b")).toBe(false);
    expect(sw.impairments.isIsolated("b")).toBe(true); // reset keeps isolation
    sw.impairments.unisolate("b");
    expect(sw.impairments.empty).toBe(true);
    sw.load(saved);
    expect(sw.save()).toEqual(saved);
  });

  test("bad values are refused with what was wrong", () => {
    sw = new Switch(fs.mkdtempSync(path.join(os.tmpdir(), "nsw-")));
    expect(() => sw.impairments.set({ dropRate: 1.5 })).toThrow("drop rate must be a probability from 0 to 1, got 1.5");
    expect(() => sw.impairments.set({ delayMs: -1 })).toThrow("latency must be from 0 to 60000 ms, got -1");
    expect(() => sw.impairments.set({ bps: NaN })).toThrow("bandwidth must be a number of bits per second");
    expect(() => sw.counters("nope")).toThrow("no port nope on this switch");
  });
});

describe("counters", () => {
  test("tx is what the NIC sent, rx what it was given, from the guest's side", async () => {
    const n = await lan("a", "b");
    n.a!.send(BROADCAST, "12345"); // 19 bytes
    n.a!.send(BROADCAST, "1234567890"); // 24 bytes
    await n.b!.waitFor(2);
    expect(sw.counters("a")).toEqual({ tx_packets: 2, tx_bytes: 43, rx_packets: 0, rx_bytes: 0, dropped: 0, errors: 0 });
    expect(sw.counters("b")).toEqual({ tx_packets: 0, tx_bytes: 0, rx_packets: 2, rx_bytes: 43, dropped: 0, errors: 0 });
  });

  test("errors: a frame shorter than an Ethernet header, and a record too long (its connection goes)", async () => {
    const n = await lan("a", "b");
    n.a!.writeRaw(encodeRecord(new Uint8Array(10)));
    n.a!.send(BROADCAST, "after");
    await n.b!.waitFor(1);
    expect(sw.counters("a")).toMatchObject({ tx_packets: 1, errors: 1 });
    n.a!.writeRaw(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    while (sw.connections("a") > 0) await Bun.sleep(1);
    expect(sw.counters("a").errors).toBe(2);
  });
});

describe("bounds (the guest is untrusted)", () => {
  test("source MACs past MAX_MACS are not learned: frames to them flood instead", async () => {
    const n = await lan("a", "b", "c");
    // a invents MAX_MACS source addresses, then one more
    const fake = (i: number) => `02:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}:01`;
    for (let i = 0; i <= MAX_MACS; i++) n.a!.writeRaw(encodeRecord(ethFrame(BROADCAST, fake(i), "spoof")));
    expect(await n.b!.waitFor(MAX_MACS + 1, 10_000)).toBe(MAX_MACS + 1);
    n.b!.received.length = 0;
    n.c!.received.length = 0;
    n.b!.send(fake(0), "learned"); // learned: only a's port gets it
    n.b!.send(fake(MAX_MACS), "not learned"); // the table was full: flooded to a and c
    expect(await n.c!.waitFor(1)).toBe(1);
    await settle();
    expect(n.c!.payloads()).toEqual(["not learned"]);
  });
});

test("frames held by a delay are bounded (16 MiB): past that they are dropped and counted", async () => {
  const n = await lan("a", "b");
  await learnAll(n);
  sw.impairments.set({ delayMs: 2000 }, "a", "b");
  const big = new Uint8Array(65_000);
  for (let i = 0; i < 300; i++) n.a!.send(MAC.b, big); // ~19.5 MB
  const end = performance.now() + 3000;
  while (sw.counters("a").tx_packets < 300 && performance.now() < end) await Bun.sleep(10);
  const dropped = sw.counters("a").dropped;
  expect(dropped).toBeGreaterThan(30);
  expect(dropped).toBeLessThan(60); // 16 MiB / 65 kB = 258 held
  sw.impairments.reset();
});
