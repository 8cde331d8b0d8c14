// Frame fuzzing: random and mutated frames into the host's decoder and request multiplexer
// (AgentClient) and into the agent's decoder and dispatcher (AgentServer, whose decodeFrame
// the agent's port reader shares). Valid frames come from the schema (schema-arbitrary.ts);
// each case then gets mutations: bit flips, overwritten words (crafted pointers among them),
// truncation, trailing garbage, a forged length prefix, replayed and out-of-order replies,
// pure noise, and a split into arbitrary chunks. A case must not throw out of `receive`, must
// settle every pending request with its own reply or a named connection error, and must finish
// quickly; memory is sampled for its peak.
import fc from "fast-check";
import { AgentClient, AgentConnectionError, AgentServer, DEFAULT_MAX_FRAME, FrameDecoder, encodeFrame, type PlainFrame } from "@provium/protocol";
import { struct } from "../schema-arbitrary";
import { heapStats } from "bun:jsc";
import type { AttackResult } from "../table";

// What the JS heap may hold after a full GC once all cases are over: more means cases leak.
const HEAP_AFTER_MIB = 64;

// A case slower than this, again when re-run alone, counts as a hang (a slow case once is
// usually this shared machine's scheduler or a GC pause: it is re-run before it counts).
const HANG_MS = 250;

/** A small fast PRNG (xorshift32) for the volume; fast-check drives the shrinking property. */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
  return { next, int: (n: number) => Math.floor(next() * n) };
}
type Rng = ReturnType<typeof prng>;

// Words a hostile peer would craft: far pointers, lists of 2^29 elements, struct pointers far
// out, composite tags that lie, and plain noise.
const NASTY_WORDS = [
  [0x02, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // far pointer into a segment that is not there
  [0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // list, element size 7 (composite), 2^29-1 words
  [0x01, 0, 0, 0, 0xf9, 0xff, 0xff, 0xff], // list of 2^29 pointers
  [0xfc, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x01, 0x00], // struct pointer to the end of the world
  [0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // struct pointer to itself (a loop)
  [0, 0, 0, 0, 0, 0, 0, 0],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];

/** One mutated byte string made from valid frames (each with its 4-byte length prefix). */
export function mutate(frames: Uint8Array[], rng: Rng): Uint8Array {
  const kind = rng.int(10);
  if (kind === 0) return Uint8Array.from({ length: rng.int(600) }, () => rng.int(256)); // noise
  if (kind === 1) return concat(Array.from({ length: 1 + rng.int(4) }, () => frames[rng.int(frames.length)]!)); // replayed / out of order
  const out = new Uint8Array(frames[rng.int(frames.length)]!);
  const view = new DataView(out.buffer);
  for (let m = 1 + rng.int(4); m > 0; m--) {
    switch (rng.int(6)) {
      case 0: // bit flips
        if (out.length > 4) out[4 + rng.int(out.length - 4)]! ^= 1 << rng.int(8);
        break;
      case 1: {
        // a word overwritten (segment table or pointers)
        const words = (out.length - 4) >> 3;
        if (words > 0) out.set(NASTY_WORDS[rng.int(NASTY_WORDS.length)]!, 4 + 8 * rng.int(words));
        break;
      }
      case 2: // the length prefix lies
        view.setUint32(0, [0, 1, 7, 8, out.length - 5, out.length + 3, DEFAULT_MAX_FRAME, DEFAULT_MAX_FRAME + 1, 0xffffffff][rng.int(9)]! >>> 0, true);
        break;
      case 3: // the segment count lies
        if (out.length >= 8) view.setUint32(4, [0, 1, 63, 64, 0xffffffff][rng.int(5)]!, true);
        break;
      case 4: // a random byte
        out[rng.int(out.length)] = rng.int(256);
        break;
      default: // truncated, or garbage after it
        return rng.int(2) ? out.subarray(0, rng.int(out.length)) : concat([out, Uint8Array.from({ length: rng.int(64) }, () => rng.int(256))]);
    }
  }
  return out;
}

function concat(parts: Uint8Array[]) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.byteLength), 0);
  return out;
}

/** Feeds `bytes` in arbitrary chunks. */
function feed(receive: (c: Uint8Array) => void, bytes: Uint8Array, rng: Rng) {
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + rng.int(Math.max(1, bytes.length - at));
    receive(bytes.subarray(at, at + n));
    at += n;
  }
}

interface Tally {
  cases: number;
  crashes: string[];
  hangs: number;
  unnamed: string[];
  crossed: number;
}

// The host: three requests in flight, then the case's bytes. Every request must end with its
// own reply or an AgentConnectionError; nothing may escape `receive`.
function hostCase(bytes: Uint8Array, rng: Rng, t: Tally) {
  const client = new AgentClient({ write() {}, close() {} });
  for (let i = 0; i < 3; i++) {
    client.request({ stats: true }).then(
      (r) => r.id !== i + 1 && t.crossed++,
      (e) => !(e instanceof AgentConnectionError) && t.unnamed.push(`host: ${(e as Error).message}`),
    );
  }
  try {
    feed((c) => client.receive(c), bytes, rng);
  } catch (e) {
    t.crashes.push(`host receive threw: ${(e as Error).stack}`);
  }
  client.close(new AgentConnectionError("case over"));
}

// The agent: whatever decodes is answered (synchronously or not, or by a throwing handler);
// what it writes back must itself be well-formed frames.
function agentCase(bytes: Uint8Array, rng: Rng, t: Tally) {
  const written: Uint8Array[] = [];
  const mode = rng.int(3);
  const server = new AgentServer(
    { write: (b) => void written.push(b.slice()), close() {} },
    () => {
      if (mode === 0) return { done: true as const };
      if (mode === 1) throw new Error("handler failed");
      return Promise.resolve({ done: true as const });
    },
    (e) => ({ message: String((e as Error)?.message ?? e), errno: 0, errnoName: "" }),
  );
  try {
    feed((c) => server.receive(c), bytes, rng);
    const out = new FrameDecoder();
    for (const w of written) out.push(w);
  } catch (e) {
    t.crashes.push(`agent: ${(e as Error).stack}`);
  }
  server.close();
}

export interface FuzzOptions {
  cases: number;
  seed?: number;
  /** fast-check property runs (they shrink a failure to a minimal case). */
  propertyRuns?: number;
}

/** Runs the fuzz on both sides; returns one result row per side. */
export async function fuzzFrames(o: FuzzOptions): Promise<AttackResult[]> {
  const seed = o.seed ?? 0x5eed;
  const corpus = fc.sample(struct("Frame"), { numRuns: 4000, seed }).map((f) => encodeFrame(f as PlainFrame));
  // Replies with ids the host is waiting for (1-3), and some it is not.
  corpus.push(
    ...fc.sample(struct("Response"), { numRuns: 2000, seed: seed + 1 }).map((r, i) => encodeFrame({ response: { ...r, id: i % 5 } } as PlainFrame)),
  );
  // Deep nesting: a batch of batches, 100 levels.
  let deep: Record<string, unknown> = { id: 1, op: { stats: true } };
  for (let i = 0; i < 100; i++) deep = { id: 1, op: { batch: [deep] } };
  corpus.push(encodeFrame({ request: deep } as PlainFrame));

  const rows: AttackResult[] = [];
  for (const side of ["host", "agent"] as const) {
    const run = side === "host" ? hostCase : agentCase;
    const t: Tally = { cases: 0, crashes: [], hangs: 0, unnamed: [], crossed: 0 };
    const rng = prng(seed + (side === "host" ? 7 : 13));
    let peak = process.memoryUsage().rss;
    let worst = 0;
    const started = performance.now();
    const timed = (bytes: Uint8Array, seed: number) => {
      const t0 = performance.now();
      run(bytes, prng(seed), t);
      return performance.now() - t0;
    };
    for (let i = 0; i < o.cases; i++) {
      const bytes = mutate(corpus, rng);
      const caseSeed = rng.int(2 ** 31);
      let ms = timed(bytes, caseSeed);
      if (ms > HANG_MS) ms = Math.min(ms, timed(bytes, caseSeed), timed(bytes, caseSeed));
      worst = Math.max(worst, ms);
      if (ms > HANG_MS) t.hangs++;
      t.cases++;
      if (i % 20000 === 0) {
        await Bun.sleep(0); // let settled requests report
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    // The same, as a fast-check property: a failure is shrunk to its smallest case.
    const property = fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s) => {
      const before = t.crashes.length;
      const r = prng(s);
      run(mutate(corpus, r), r, t);
      return t.crashes.length === before;
    });
    const check = fc.check(property, { numRuns: o.propertyRuns ?? 20000, seed });
    await Bun.sleep(10);
    peak = Math.max(peak, process.memoryUsage().rss);
    Bun.gc(true);
    const heapMiB = heapStats().heapSize / 1048576;
    rows.push({
      attack: `frame fuzz (${side} decoder${side === "host" ? " + multiplexer" : " + dispatcher"})`,
      tries: t.cases + check.numRuns,
      namedFailures: t.cases + check.numRuns - t.crashes.length - t.unnamed.length,
      crashes: t.crashes.length + (check.failed && !t.crashes.length ? 1 : 0),
      hangs: t.hangs,
      // a reply delivered to another request's caller, or a heap that kept what cases left
      leaks: t.crossed + (heapMiB > HEAP_AFTER_MIB ? 1 : 0),
      peakMiB: Math.round(peak / 1048576),
      notes: [
        `${((performance.now() - started) / 1000).toFixed(1)} s, worst case ${worst.toFixed(1)} ms, JS heap after GC ${heapMiB.toFixed(1)} MiB (peak RSS is the GC's lazy reuse)`,
        ...t.crashes.slice(0, 3),
        ...t.unnamed.slice(0, 3),
        ...(check.failed ? [`shrunk counterexample seed: ${JSON.stringify(check.counterexample)}`] : []),
      ],
    });
  }
  return rows;
}
