// `bun run bench [--quick]`: round-trip latency of Provium's guest ops side by side with the
// raw virtio-serial floor and qemu-guest-agent, in one run, on one kernel.
//
// Three guests run at once (1 vCPU, 512 MiB each, the same kernel and QEMU command line):
//   Provium   the `minimal` profile, driven through the runner's GuestOps (provium.ts)
//   floor     busybox echoing bytes on the port (floor.ts)
//   peer      Debian's qemu-guest-agent (peer.ts)
// Measurements are interleaved round by round, so load from elsewhere (other VMs on the
// machine) lands on all three alike: compare ratios within a run, not times across runs.
// Prints a table, writes bench/results/<time>-<mode>.json, and exits 1 when a ratio is past
// its bound (bounds.ts). --quick takes fewer samples (for CI, ~1-2 min).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg, tmpdir } from "node:os";
import { cacheRoot, chooseAccel, ensureDebianKernel } from "@provium/vmm";
import { builtinProfiles, GuestVm, openSession } from "@provium/host-runtime";
import { FixtureCache } from "@provium/fixture-cache";
import { agentEntry } from "@provium/agent";
import { stats, type Stats } from "./stats";
import { floorImage, imageOf, peerImage } from "@provium/test-kit";
import { FloorGuest } from "./floor";
import { PeerGuest } from "./peer";
import { ProviumDriver } from "./provium";
import { RATIOS, ratioOk } from "./bounds";
import { PAIRS } from "./pairs";
import { compareResults, formatComparison, readResult, thresholdArg } from "./compare";

const quick = process.argv.includes("--quick");
// --compare BASELINE.json: this run against a saved one (compare.ts); read now, so a wrong path
// fails before the run, not after minutes of it.
const compareAt = process.argv.indexOf("--compare");
if (compareAt >= 0 && !process.argv[compareAt + 1]) throw new Error("--compare needs a baseline: a bench/results/*.json file");
const baseline = compareAt >= 0 ? readResult(process.argv[compareAt + 1]!) : null;
const threshold = thresholdArg(process.argv);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 8 : 30));
const BOOTS = Number(process.env.BENCH_BOOTS ?? (quick ? 2 : 5));
const SNAPS = Number(process.env.BENCH_SNAPS ?? (quick ? 2 : 5));
const WARM_STATS = 2000;
const EARLY_STATS = 200;
const WARM_BATCHES = 150;
const EARLY_BATCHES = 10;
const MEMORY_MIB = 512;
const KiB = 1024, MiB = 1024 * 1024;
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

const cacheDir = cacheRoot();
const accel = await chooseAccel((process.env.PROVIUM_ACCEL as "auto" | "kvm" | "tcg") ?? "auto", { cacheDir });
const profile = builtinProfiles.minimal!;
log(`preparing images (${accel})`);
const [image, floorImg, peerImg, kernel] = await Promise.all([
  imageOf(profile, cacheDir, log),
  floorImage(cacheDir),
  peerImage(cacheDir),
  ensureDebianKernel({ cacheDir }),
]);
// The reference guests get the minimal profile's command line (init_on_free: same memory
// behaviour, same snapshot sizes for the same content).
const refOpts = { memoryMiB: MEMORY_MIB, cmdline: profile.cmdline, accel };
const load0 = loadavg();

const samples = new Map<string, number[]>();
const add = (id: string, ms: number | number[]) => {
  const list = samples.get(id) ?? [];
  list.push(...(Array.isArray(ms) ? ms : [ms]));
  samples.set(id, list);
};

async function bootProvium(name: string) {
  const vm = new GuestVm({ name, profile: profile.name, memoryMiB: MEMORY_MIB, cpus: 1 }, () => {});
  const t = performance.now();
  await vm.boot(image, accel, 120_000);
  return { vm, ms: performance.now() - t };
}

// Warm boots go the way a test file's do (a session's vm.boot), with their boot template in a
// cache of the bench's own: its first boot is cold and saves the template, the rest restore it.
const templateDir = mkdtempSync(join(tmpdir(), "provium-bench-templates-"));
const templates = new FixtureCache(templateDir);
const warmSession = openSession(
  { config: { file: null, dir: tmpdir(), roots: [], profiles: { minimal: profile } }, cacheDir, agentEntry, accel, agentDeadlineMs: 120_000, fixtures: () => templates, acquire: async () => () => {} },
  join(tmpdir(), "bench.test.lua"),
);
let warmBoots = 0;
async function bootWarm() {
  const id = await warmSession.handle("vm.create", { name: `warm${warmBoots++}`, profile: profile.name, memory: `${MEMORY_MIB}M` });
  const t = performance.now();
  await warmSession.handle("vm.boot", { vms: [id] });
  const ms = performance.now() - t;
  const kind = await warmSession.handle("vm.boot_kind", { vm: id });
  await warmSession.handle("vm.dispose", { vm: id });
  return { ms, kind };
}

// ---- cold boots, alternating Provium and the busybox floor guest; then a warm boot
log(`cold and warm boots (${BOOTS} each)`);
if ((await bootWarm()).kind !== "cold") throw new Error("the bench's first boot should have made the boot template");
for (let i = 0; i < BOOTS; i++) {
  const p = await bootProvium(`boot${i}`);
  add("p.boot", p.ms);
  await p.vm.shutdown();
  const f = await FloorGuest.boot({ image: floorImg, ...refOpts }, `fboot${i}`);
  add("f.boot", f.bootMs);
  await f.g.shutdown();
  const w = await bootWarm();
  if (w.kind !== "warm") throw new Error(`warm boot ${i} was ${w.kind}`);
  add("p.warm_boot", w.ms);
}
await warmSession.close();
templates.close();
rmSync(templateDir, { recursive: true, force: true });

// ---- the three guests of the latency rounds
log("booting the three guests");
const pv = await bootProvium("provium");
const fl = await FloorGuest.boot({ image: floorImg, ...refOpts });
const qg = await PeerGuest.boot({ image: peerImg, ...refOpts });
add("q.boot", qg.bootMs);
const p = new ProviumDriver(pv.vm);
const floor = fl.g;
const qemuVersion = pv.vm.qemu?.qmp.greeting?.version?.qemu ?? null;
const peer = qg.g;

const pattern = (size: number) => {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i += 512) d[i] = (i >> 9) & 255;
  return d;
};
const data4k = pattern(4 * KiB), data1m = pattern(MiB), data16m = pattern(16 * MiB);
await p.writeFile("/tmp/stat-me", new Uint8Array(16));
for (const [name, d] of [["4k", data4k], ["1m", data1m], ["16m", data16m]] as const) await p.writeFile(`/tmp/r${name}`, d);
const expectLen = (got: Uint8Array, n: number, what: string) => {
  if (got.byteLength !== n) throw new Error(`${what}: ${got.byteLength} bytes, expected ${n}`);
};

interface Probe {
  id: string;
  /** samples per round (each call is timed), or `total` calls spread over the rounds */
  each?: number;
  total?: number;
  /** returns its own samples (ms), or nothing: then the call is timed */
  fn: () => Promise<unknown>;
  selfTimed?: boolean;
}

/** `count` calls back to back, timed each, after an untimed first: the way the floor's echo is
 *  measured (floor.ts). The first call after other work or idling pays for caches gone cold
 *  (in the guest, in QEMU and on the host): ~1 ms for a stat, then ~0.5, ~0.4, ... */
async function backToBack(fn: () => Promise<unknown>, count: number): Promise<number[]> {
  await fn();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** Starts of /bin/true per sample of the floor's process loop. */
const TRUE_LOOP = 10;
const OUT64 = "dd if=/dev/zero bs=1M count=64 2>/dev/null";
const stats100 = Array.from({ length: 100 }, (): ["stat", unknown] => ["stat", { path: "/tmp/stat-me" }]);
const probes: Probe[] = [
  // Provium
  { id: "p.noop", each: 1, selfTimed: true, fn: () => backToBack(() => p.noop(), 5) },
  { id: "p.stat", each: 1, selfTimed: true, fn: () => backToBack(() => p.stat("/tmp/stat-me"), 10) },
  { id: "p.run_true", each: 2, fn: async () => { if ((await p.run("true")).exit_code !== 0) throw new Error("run(true) failed"); } },
  { id: "p.run_echo", each: 2, fn: async () => { if (new TextDecoder().decode((await p.run("echo hi")).stdout) !== "hi\n") throw new Error("run(echo hi): wrong output"); } },
  { id: "p.write4k", each: 2, fn: () => p.writeFile("/tmp/w4k", data4k) },
  { id: "p.read4k", each: 2, fn: async () => expectLen(await p.readFile("/tmp/r4k"), 4 * KiB, "read_file 4 KiB") },
  { id: "p.write1m", each: 1, fn: () => p.writeFile("/tmp/w1m", data1m) },
  { id: "p.read1m", each: 1, fn: async () => expectLen(await p.readFile("/tmp/r1m"), MiB, "read_file 1 MiB") },
  { id: "p.write16m", total: quick ? 2 : 8, fn: () => p.writeFile("/tmp/w16m", data16m) },
  { id: "p.read16m", total: quick ? 2 : 8, fn: async () => expectLen(await p.readFile("/tmp/r16m"), 16 * MiB, "read_file 16 MiB") },
  { id: "p.batch100", each: 1, selfTimed: true, fn: () => backToBack(() => p.batch(stats100), 2) },
  { id: "p.single100", total: quick ? 4 : 10, fn: async () => { for (let i = 0; i < 100; i++) await p.stat("/tmp/stat-me"); } },
  // dd, not `head -c`: busybox head moves 4 KiB at a time and alone needs ~3.5 s for 64 MiB here.
  { id: "p.stream64m", total: quick ? 2 : 5, fn: async () => expectLen((await p.run(OUT64)).stdout, 64 * MiB, "64 MiB of output") },
  { id: "p.stat_cold", each: 1, fn: () => p.stat("/tmp/stat-me") }, // the first after other ops
  // the floor
  { id: "f.ping", each: 1, selfTimed: true, fn: () => backToBack(() => floor.ping(), 5) },
  { id: "f.echo16", each: 1, selfTimed: true, fn: () => floor.echo(16, 10) },
  { id: "f.true10", each: 2, fn: () => floor.starts(TRUE_LOOP) },
  { id: "f.h2g1b", each: 1, fn: () => floor.sink(new Uint8Array(1)) },
  { id: "f.g2h1b", each: 1, fn: () => floor.src(1) },
  { id: "f.h2g1m.raw", each: 1, fn: () => floor.sink(data1m) },
  { id: "f.g2h1m.raw", each: 1, fn: () => floor.src(MiB) },
  { id: "f.h2g16m.raw", total: quick ? 2 : 8, fn: () => floor.sink(data16m) },
  { id: "f.g2h16m.raw", total: quick ? 2 : 8, fn: () => floor.src(16 * MiB) },
  { id: "f.g2h64m.raw", total: quick ? 1 : 3, fn: () => floor.src(64 * MiB) },
  // the peer
  { id: "q.ping", each: 1, selfTimed: true, fn: () => backToBack(() => peer.ping(), 5) },
  { id: "q.exec_true", each: 2, fn: async () => { if ((await peer.exec("/bin/true")).exitcode !== 0) throw new Error("qemu-ga exec true failed"); } },
  { id: "q.exec_echo", each: 2, fn: async () => { const st = await peer.exec("/bin/echo", ["hi"], true); if (Buffer.from(st["out-data"] ?? "", "base64").toString() !== "hi\n") throw new Error("qemu-ga exec echo: wrong output"); } },
  { id: "q.write1m", each: 1, fn: () => peer.writeFile("/tmp/w1m", data1m) },
  { id: "q.read1m", each: 1, fn: async () => expectLen(await peer.readFile("/tmp/file1m"), MiB, "qemu-ga read 1 MiB") },
];

async function once(pr: Probe, keep: boolean) {
  const t = performance.now();
  const r = await pr.fn();
  const ms = performance.now() - t;
  if (keep) add(pr.id, pr.selfTimed ? (r as number[]) : ms);
}

// Warm-up. The agent's JS is compiled by JSC as calls repeat, and each new piece of JIT code is
// translated again by TCG: in a TCG guest a stat answers in ~0.45 ms for its first few hundred
// calls and in ~0.2-0.35 ms from ~2,000 on; the batch path (its loops over 100 ops, the list
// codec) takes ~100 batches to settle (~2x slower before). The rounds measure the steady state
// of both sides of each ratio; the first stats and batches after boot are rows of their own.
// The floor and the peer are C and shell.
log(`warm-up (${WARM_STATS} stat, ${WARM_STATS / 5} no-op, ${WARM_BATCHES} batches of 100 stat)`);
for (let i = 0; i < WARM_STATS; i++) {
  const t = performance.now();
  await p.stat("/tmp/stat-me");
  if (i < EARLY_STATS) add("p.stat_early", performance.now() - t);
}
for (let i = 0; i < WARM_STATS / 5; i++) await p.noop();
for (let i = 0; i < WARM_BATCHES; i++) {
  const t = performance.now();
  await p.batch(stats100);
  if (i < EARLY_BATCHES) add("p.batch_early", performance.now() - t);
}
log(`latency rounds (${ROUNDS})`);
for (const pr of probes) for (let i = 0; i < 2; i++) await once(pr, false); // page cache, first spawn
const doneCount = new Map<string, number>();
for (let r = 0; r < ROUNDS; r++) {
  for (const pr of probes) {
    let n = pr.each ?? 0;
    if (pr.total !== undefined) {
      const due = Math.floor(((r + 1) * pr.total) / ROUNDS);
      n = due - (doneCount.get(pr.id) ?? 0);
      doneCount.set(pr.id, due);
    }
    for (let i = 0; i < n; i++) await once(pr, true);
  }
  if ((r + 1) % 5 === 0) log(`  round ${r + 1}/${ROUNDS}`);
}
await peer.shutdown();

// ---- snapshots: save, then restore to ready, alternating Provium and the floor guest.
// The bench's own files go first: the snapshot should carry the agent, not 35 MB of test data.
await p.run("rm -f /tmp/r4k /tmp/r1m /tmp/r16m /tmp/w4k /tmp/w1m /tmp/w16m");
log(`snapshots (${SNAPS} each)`);
const snapDir = mkdtempSync(join(tmpdir(), "provium-bench-"));
let snapBytes = 0, floorSnapBytes = 0;
try {
  let snap;
  for (let i = 0; i < SNAPS; i++) {
    const t = performance.now();
    snap = await pv.vm.snapshot(join(snapDir, `p${i}`));
    add("p.save", performance.now() - t);
    snapBytes = snap.bytes;
    await pv.vm.sparePid(); // the spare's start-up (see below) does not overlap the floor's save
    const t2 = performance.now();
    floorSnapBytes = await floor.snapshot(join(snapDir, `f${i}.mem`));
    add("f.save", performance.now() - t2);
    await floor.vm.qmp.execute("cont");
  }
  await floor.shutdown();
  const floorFile = join(snapDir, `f${SNAPS - 1}.mem`);
  const stopOld = () => (pv.vm as unknown as { stop(): Promise<void> }).stop();
  for (let i = 0; i < SNAPS; i++) {
    // The old QEMU goes first (not timed). A restore takes the QEMU the VM launched ahead for
    // this snapshot (as reset_between_tests does); the busybox guest's QEMU is launched on the
    // clock. "restore_launch" is ours with the launch on the clock too, like for like.
    await stopOld();
    let t = performance.now();
    await pv.vm.restore(snap!, 60_000);
    add("p.restore", performance.now() - t);
    await p.stat("/tmp/stat-me"); // usable
    await pv.vm.dropSpare();
    await stopOld();
    t = performance.now();
    await pv.vm.restore(snap!, 60_000);
    add("p.restore_launch", performance.now() - t);
    await p.stat("/tmp/stat-me");
    await pv.vm.sparePid(); // the next spare's start-up does not overlap the floor's restore
    const f = await FloorGuest.restore(floorFile, { image: floorImg, ...refOpts }, `frestore${i}`);
    add("f.restore", f.ms);
    await f.g.ping();
    await f.g.shutdown();
  }
} finally {
  await pv.vm.shutdown();
  rmSync(snapDir, { recursive: true, force: true });
}

// ---- derived: the floor's bulk transfers without starting dd (the 1-byte run's median)
const med = (id: string) => stats(samples.get(id)!).median;
for (const [dir, start] of [["h2g", "f.h2g1b"], ["g2h", "f.g2h1b"]] as const)
  for (const size of ["1m", "16m", "64m"]) {
    const raw = samples.get(`f.${dir}${size}.raw`);
    if (raw) samples.set(`f.${dir}${size}`, raw.map((x) => Math.max(0.001, x - med(start))));
  }
// The floor of run("true"): one process start in the guest (the loop's time net of its line
// round trip, the ping, over its starts) plus one raw 16 B echo round trip.
samples.set("f.run_true", samples.get("f.true10")!.map((x) => Math.max(0.001, (x - med("f.ping")) / TRUE_LOOP + med("f.echo16"))));

// ---- report
const S: Record<string, Stats> = {};
for (const [id, xs] of samples) S[id] = stats(xs);

const LABELS: Record<string, string> = {
  "p.noop": "no-op round trip (agent `stats`)",
  "p.stat": "stat (tiny op), 10 back to back",
  "p.stat_early": `stat, the first ${EARLY_STATS} after boot`,
  "p.stat_cold": "stat, the first after other ops",
  "p.run_true": 'run("true") to exit code',
  "p.run_echo": 'run("echo hi") with output',
  "p.write4k": "write_file 4 KiB",
  "p.read4k": "read_file 4 KiB",
  "p.write1m": "write_file 1 MiB",
  "p.read1m": "read_file 1 MiB",
  "p.write16m": "write_file 16 MiB",
  "p.read16m": "read_file 16 MiB",
  "p.single100": "100 x stat, one by one",
  "p.batch100": "batch of 100 stat, 2 back to back",
  "p.batch_early": `batch of 100 stat, the first ${EARLY_BATCHES} after boot`,
  "p.stream64m": "run(dd ... 64 MiB) to its output",
  "p.boot": "cold boot to agent ready",
  "p.warm_boot": "warm boot to agent ready",
  "p.save": "snapshot save",
  "p.restore": "restore to agent ready (QEMU launched ahead)",
  "p.restore_launch": "restore to agent ready, QEMU launched on the clock",
  "f.ping": "shell ping/pong (no fork)",
  "f.echo16": "16 B echo round trip, 10 back to back",
  "f.run_true": "process start (/bin/true in a sh loop) + 16 B echo",
  "f.true10": `${TRUE_LOOP} x /bin/true in a sh loop + line round trip`,
  "f.h2g1b": "dd start-up (host->guest 1 B)",
  "f.g2h1b": "dd start-up (guest->host 1 B)",
  "f.h2g1m": "1 MiB host->guest (net of dd start-up)",
  "f.g2h1m": "1 MiB guest->host (net of dd start-up)",
  "f.h2g16m": "16 MiB host->guest (net)",
  "f.g2h16m": "16 MiB guest->host (net)",
  "f.g2h64m": "64 MiB guest->host (net)",
  "f.h2g1m.raw": "1 MiB host->guest incl. dd start-up",
  "f.g2h1m.raw": "1 MiB guest->host incl. dd start-up",
  "f.h2g16m.raw": "16 MiB host->guest incl. dd start-up",
  "f.g2h16m.raw": "16 MiB guest->host incl. dd start-up",
  "f.g2h64m.raw": "64 MiB guest->host incl. dd start-up",
  "f.boot": "cold boot to hello",
  "f.save": "snapshot save",
  "f.restore": "restore to pong",
  "q.boot": "cold boot to guest-sync",
  "q.ping": "guest-ping",
  "q.exec_true": "guest-exec true + status polls to exit",
  "q.exec_echo": "guest-exec echo hi, output captured",
  "q.write1m": "file open/write/close 1 MiB (1 MiB calls)",
  "q.read1m": "file open/read/close 1 MiB (1 MiB calls)",
};

const f = (x: number) => (x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const rows: string[][] = [["", "median ms", "p10", "p90", "N", "Provium/floor", "peer/Provium"]];
const section = (title: string, prefix: string) => {
  rows.push([`**${title}**`, "", "", "", "", "", ""]);
  for (const id of Object.keys(LABELS).filter((k) => k.startsWith(prefix) && S[k])) {
    const s = S[id]!;
    const [fid, qid] = PAIRS[id] ?? [];
    const rf = fid && S[fid] ? `${(s.median / S[fid]!.median).toFixed(2)}x` : "";
    const rq = qid && S[qid] ? `${(S[qid]!.median / s.median).toFixed(2)}x` : "";
    rows.push([LABELS[id]!, f(s.median), f(s.p10), f(s.p90), String(s.n), rf, rq]);
  }
};
section("Provium", "p.");
section("raw floor (busybox, dd on the port)", "f.");
section("peer (qemu-guest-agent)", "q.");
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
const md = rows.map((r) => `| ${r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`);
md.splice(1, 0, `|${widths.map((w, i) => (i ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`);

const ratios = RATIOS.map((r) => {
  const value = S[r.num]!.median / S[r.den]!.median;
  return { ...r, value, targetMet: ratioOk(r.kind, value, r.target), withinBound: ratioOk(r.kind, value, r.bound) };
});
const extra = {
  "100 single stat / batch of 100": S["p.single100"]!.median / S["p.batch100"]!.median,
  "no-op / raw 16 B echo": S["p.noop"]!.median / S["f.echo16"]!.median,
  "restore, QEMU launched on the clock / busybox restore": S["p.restore_launch"]!.median / S["f.restore"]!.median,
  "64 MiB output, MiB/s": 64 / (S["p.stream64m"]!.median / 1000),
  "read_file 16 MiB, MiB/s": 16 / (S["p.read16m"]!.median / 1000),
  "write_file 16 MiB, MiB/s": 16 / (S["p.write16m"]!.median / 1000),
  "snapshot MB (Provium / busybox)": `${(snapBytes / 1e6).toFixed(1)} / ${(floorSnapBytes / 1e6).toFixed(1)}`,
};

const load1 = loadavg();
console.log(`\nProvium bench (${quick ? "quick" : "full"}): ${accel}, ${cpus().length} cores, kernel ${kernel.version}, load ${load0[0]!.toFixed(1)} -> ${load1[0]!.toFixed(1)}`);
console.log("Times in ms; ratios compare medians of this run (interleaved rounds).\n");
console.log(md.join("\n"));
console.log("\n| ratio (medians, this run) | value | target | met | CI bound | ok |\n|---|--:|--:|:-:|--:|:-:|");
for (const r of ratios) {
  const op = r.kind === "max" ? "<=" : ">=";
  console.log(`| ${r.label} | ${r.value.toFixed(2)}x | ${op} ${r.target}x | ${r.targetMet ? "yes" : "NO"} | ${op} ${r.bound}x | ${r.withinBound ? "yes" : "FAIL"} |`);
}
console.log("");
for (const [k, v] of Object.entries(extra)) console.log(`${k}: ${typeof v === "number" ? v.toFixed(2) : v}`);

const resultsDir = join(import.meta.dir, "results");
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const out = join(resultsDir, `${stamp}-${quick ? "quick" : "full"}.json`);
let git = "";
try {
  git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir }).stdout.toString().trim();
} catch {}
writeFileSync(
  out,
  JSON.stringify(
    {
      when: new Date().toISOString(),
      mode: quick ? "quick" : "full",
      git,
      accel,
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      kernel: kernel.version,
      qemu: qemuVersion,
      loadavg: { start: load0, end: load1 },
      rounds: ROUNDS,
      snapshotBytes: { provium: snapBytes, floor: floorSnapBytes },
      measurements: Object.fromEntries(Object.entries(S).map(([id, s]) => [id, { label: LABELS[id] ?? id, ...s }])),
      ratios: ratios.map(({ id, label, num, den, kind, value, target, bound, targetMet, withinBound }) => ({ id, label, num, den, kind, value, target, bound, targetMet, withinBound })),
      extra,
      samples: Object.fromEntries(samples),
    },
    null,
    1,
  ),
);
console.log(`\nresults: ${out}`);
let regressed = false;
if (baseline) {
  const cur = readResult(out);
  const compared = compareResults(baseline, cur, threshold);
  console.log(`\n${formatComparison(compared, baseline, cur, threshold)}`);
  regressed = compared.some((r) => r.regression);
}
const failed = ratios.filter((r) => !r.withinBound);
if (failed.length) console.log(`FAIL: ${failed.map((r) => `${r.label} = ${r.value.toFixed(2)}x (bound ${r.kind === "max" ? "<=" : ">="} ${r.bound}x)`).join("; ")}`);
if (failed.length || regressed) process.exit(1);
