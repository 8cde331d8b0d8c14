// Guest files at the host-op level (the requests, pieces and reply shaping the runner uses,
// without the Lua bridge): read_file and write_file of 4 KiB, 1 MiB and 16 MiB, and stat.
// Prints medians (ms) and throughput. RUNS sets the samples per figure (fewer for 16 MiB),
// WARMUP the rounds of small ops first (0 to see a cold agent).
import { bootGuest } from "./guest";
import { fmt, sample } from "./stats";

const RUNS = Number(process.env.RUNS ?? 30);

const g = await bootGuest("files");
const call = g.driver.call.bind(g.driver);

const line = (label: string, stats: string) => console.log(`${label.padEnd(26)}${stats}`);
const KiB = 1024, MiB = 1024 * 1024;

// Under TCG the agent's JIT needs a few hundred calls to warm up: before that a 4 KiB write
// takes several times as long. Figures below are for a warm agent (as in a long test file).
const WARMUP = Number(process.env.WARMUP ?? 300);
const warm = new Uint8Array(64 * 1024);
for (let i = 0; i < WARMUP; i++) {
  await call("write_file", { path: "/tmp/warm", data: warm });
  await call("read_file", { path: "/tmp/warm" });
  await call("stat", { path: "/tmp/warm" });
}
console.log(`accelerator: ${g.accel}; agent warmed with ${WARMUP} rounds of write/read/stat`);
for (const [label, size] of [["4 KiB", 4 * KiB], ["1 MiB", MiB], ["16 MiB", 16 * MiB]] as const) {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = i & 255;
  const n = size >= 16 * MiB ? Math.max(3, Math.round(RUNS / 6)) : RUNS;
  const w = await sample(n, () => call("write_file", { path: "/tmp/bench", data }));
  const r = await sample(n, async () => {
    const got = (await call("read_file", { path: "/tmp/bench" })) as Uint8Array;
    if (got.byteLength !== size) throw new Error(`read ${got.byteLength} bytes, wrote ${size}`);
  });
  const rate = (ms: number) => `${((size / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;
  line(`write_file ${label}:`, `${fmt(w)}  ${rate(w.median)}`);
  line(`read_file ${label}:`, `${fmt(r)}  ${rate(r.median)}`);
}
line(`stat:`, fmt(await sample(RUNS, () => call("stat", { path: "/tmp/bench" }))));
await g.vm.shutdown();
