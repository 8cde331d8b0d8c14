// `bun bench/warm-boots.ts [rounds]`: warm boots (issue 25) against cold ones, the way a test
// file boots (a session's vm.boot), with boot templates in caches of this script's own. Two
// templates of one shape, one per way a clone gets its memory: "mapped" (the template's memory
// file mapped privately: what Provium does) and "stream" (the whole memory read from the
// migration stream into the new QEMU: PROVIUM_TEMPLATE_MEMORY=stream).
//   1. boot to agent ready: cold ({cold = true}), warm mapped and warm stream, and the busybox
//      floor's cold boot to hello (bench/floor.ts: `bun run bench`'s denominator), interleaved,
//      `rounds` of each;
//   2. memory: 4 VMs booted cold and kept running, then 4 of each warm kind: their QEMUs' RSS
//      (and its anonymous, file and shared parts) and PSS, from /proc.
// Prints medians and the figures; docs/performance.md quotes them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { builtinProfiles, openSession } from "@provium/host-runtime";
import { FixtureCache } from "@provium/fixture-cache";
import { agentEntry } from "@provium/agent";
import { stats } from "./stats";
import { floorImage } from "@provium/test-kit";
import { FloorGuest } from "./floor";

const ROUNDS = Number(process.argv[2] ?? 5);
const MEMORY = "512M";
const cacheDir = cacheRoot();
const accel = await chooseAccel((process.env.PROVIUM_ACCEL as "auto" | "kvm" | "tcg") ?? "auto", { cacheDir });
const profile = builtinProfiles.minimal!;
const made: string[] = [];
const pids = new Map<string, number>();
const log = (m: string) => console.error(`warm-boots: ${m}`);
let n = 0;

// A session whose boot templates live in a cache of its own, made the `memory` way.
function sessionFor(memory: "mapped" | "stream") {
  const dir = mkdtempSync(join(tmpdir(), `provium-warm-bench-${memory}-`));
  made.push(dir);
  const templates = new FixtureCache(dir);
  const session = openSession(
    { config: { file: null, dir: tmpdir(), roots: [], profiles: { minimal: profile } }, cacheDir, agentEntry, accel, agentDeadlineMs: 120_000, fixtures: () => templates, acquire: async () => () => {} },
    join(tmpdir(), "warm-bench.test.lua"),
    { onVmEvent: (kind, info) => kind === "vm_spawned" && pids.set(info.vm, info.pid), emit: (kind, f) => kind === "progress" && console.error(`  ${f.message}`) },
  );
  return { memory, session, templates };
}
type Side = ReturnType<typeof sessionFor>;

// `expect`: how the boot must go (the shape's first boot is cold whatever it asks).
async function boot(side: Side, cold: boolean, expect = cold ? "cold" : "warm") {
  const name = `${cold ? "cold" : side.memory}${n++}`;
  const { session } = side;
  const id = (await session.handle("vm.create", { name, profile: profile.name, memory: MEMORY })) as number;
  const t = performance.now();
  await session.handle("vm.boot", { vms: [id], opts: cold ? { cold: true } : {} });
  const ms = performance.now() - t;
  const kind = await session.handle("vm.boot_kind", { vm: id });
  if (kind !== expect) throw new Error(`${name} booted ${kind}`);
  return { id, name, ms, side };
}

function memoryOf(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem"), pss };
}

async function four(side: Side, cold: boolean) {
  const vms = [];
  for (let i = 0; i < 4; i++) vms.push(await boot(side, cold));
  await Bun.sleep(1000);
  // What each guest has touched once it answered a command, as a test's first op would.
  for (const v of vms) await side.session.handle("guest", { target: { vm: v.id }, op: "run", args: { cmd: { argv: ["true"] } } });
  const m = vms.map((v) => memoryOf(pids.get(v.name)!));
  for (const v of vms) await side.session.handle("vm.dispose", { vm: v.id });
  const sum = (k: keyof (typeof m)[0]) => Math.round(m.reduce((s, x) => s + x[k], 0) / 1024);
  return { rss: sum("rss"), anon: sum("anon"), file: sum("file"), shmem: sum("shmem"), pss: sum("pss") };
}

const sides = (["mapped", "stream"] as const).map(sessionFor);
for (const side of sides) {
  log(`the shape's first boot saves its template (${side.memory})`);
  process.env.PROVIUM_TEMPLATE_MEMORY = side.memory;
  await side.session.handle("vm.dispose", { vm: (await boot(side, false, "cold")).id });
}
const floorImg = await floorImage(cacheDir);
const times: Record<string, number[]> = { cold: [], mapped: [], stream: [], busybox: [] };
log(`${ROUNDS} rounds of a cold, a warm mapped and a warm stream boot, and the busybox floor's (load ${loadavg()[0]!.toFixed(2)})`);
for (let i = 0; i < ROUNDS; i++) {
  const f = await FloorGuest.boot({ image: floorImg, memoryMiB: 512, cmdline: profile.cmdline, accel }, `floor${i}`);
  times.busybox!.push(f.bootMs);
  await f.g.shutdown();
  for (const [what, side, cold] of [["cold", sides[0]!, true], ["mapped", sides[0]!, false], ["stream", sides[1]!, false]] as const) {
    const b = await boot(side, cold);
    times[what]!.push(b.ms);
    await side.session.handle("vm.dispose", { vm: b.id });
  }
}
log("memory of 4 cold VMs, then of 4 warm ones of each kind");
const mem = { cold: await four(sides[0]!, true), mapped: await four(sides[0]!, false), stream: await four(sides[1]!, false) };
console.log(`accel ${accel}, ${ROUNDS} rounds, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`| boot to agent ready | median ms | min | max | / cold | / busybox |\n|---|--:|--:|--:|--:|--:|`);
const cold = stats(times.cold!);
const busybox = stats(times.busybox!);
for (const [what, xs] of Object.entries(times)) {
  const st = stats(xs);
  console.log(`| ${what} | ${st.median.toFixed(0)} | ${st.min.toFixed(0)} | ${st.max.toFixed(0)} | ${(st.median / cold.median).toFixed(3)} | ${(st.median / busybox.median).toFixed(3)} |`);
}
console.log(`| 4 VMs' QEMUs (MiB) | RSS | anon | file | shmem | PSS |\n|---|--:|--:|--:|--:|--:|`);
for (const [what, m] of Object.entries(mem)) console.log(`| ${what} | ${m.rss} | ${m.anon} | ${m.file} | ${m.shmem} | ${m.pss} |`);
for (const side of sides) {
  const t = side.templates.list("template")[0]!;
  console.log(`template (${side.memory}): ${(t.size / 1e6).toFixed(1)} MB on disk`);
  await side.session.close();
  side.templates.close();
}
for (const d of made) rmSync(d, { recursive: true, force: true });
