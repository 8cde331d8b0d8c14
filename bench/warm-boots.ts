// `bun bench/warm-boots.ts [rounds]`: warm boots (issue 25) against cold ones, the way a test
// file boots (a session's vm.boot), with the boot template in a cache of this script's own.
//   1. boot to agent ready: cold ({cold = true}) and warm, alternating, `rounds` of each;
//   2. memory: 4 VMs booted cold and kept running, then 4 warm ones: their QEMUs' RSS (and its
//      anonymous, file and shared parts) and PSS, from /proc (a clone's pages of the template
//      are shared through the page cache when its memory is mapped from the template).
// Prints medians and the figures; docs/performance.md quotes them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { builtinProfiles, openSession } from "@provium/host-runtime";
import { FixtureCache } from "@provium/fixture-cache";
import { agentEntry } from "@provium/agent";
import { stats } from "./stats";

const ROUNDS = Number(process.argv[2] ?? 5);
const MEMORY = "512M";
const cacheDir = cacheRoot();
const accel = await chooseAccel((process.env.PROVIUM_ACCEL as "auto" | "kvm" | "tcg") ?? "auto", { cacheDir });
const profile = builtinProfiles.minimal!;
const templateDir = mkdtempSync(join(tmpdir(), "provium-warm-bench-"));
const templates = new FixtureCache(templateDir);
const pids = new Map<string, number>();
const session = openSession(
  { config: { file: null, dir: tmpdir(), roots: [], profiles: { minimal: profile } }, cacheDir, agentEntry, accel, agentDeadlineMs: 120_000, fixtures: () => templates, acquire: async () => () => {} },
  join(tmpdir(), "warm-bench.test.lua"),
  { onVmEvent: (kind, info) => kind === "vm_spawned" && pids.set(info.vm, info.pid), emit: (kind, f) => kind === "progress" && console.error(`  ${f.message}`) },
);
const log = (m: string) => console.error(`warm-boots: ${m}`);
let n = 0;

// `expect`: how the boot must go (the shape's first boot is cold whatever it asks).
async function boot(cold: boolean, expect = cold ? "cold" : "warm") {
  const name = `${cold ? "cold" : "warm"}${n++}`;
  const id = (await session.handle("vm.create", { name, profile: profile.name, memory: MEMORY })) as number;
  const t = performance.now();
  await session.handle("vm.boot", { vms: [id], opts: cold ? { cold: true } : {} });
  const ms = performance.now() - t;
  const kind = await session.handle("vm.boot_kind", { vm: id });
  if (kind !== expect) throw new Error(`${name} booted ${kind}`);
  return { id, name, ms };
}

function memoryOf(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem"), pss };
}

async function four(cold: boolean) {
  const vms = [];
  for (let i = 0; i < 4; i++) vms.push(await boot(cold));
  await Bun.sleep(1000);
  // What each guest has touched once it answered a command, as a test's first op would.
  for (const v of vms) await session.handle("guest", { target: { vm: v.id }, op: "run", args: { cmd: { argv: ["true"] } } });
  const m = vms.map((v) => memoryOf(pids.get(v.name)!));
  for (const v of vms) await session.handle("vm.dispose", { vm: v.id });
  const sum = (k: keyof (typeof m)[0]) => Math.round(m.reduce((s, x) => s + x[k], 0) / 1024);
  return { rss: sum("rss"), anon: sum("anon"), file: sum("file"), shmem: sum("shmem"), pss: sum("pss") };
}

log("the shape's first boot saves its template");
await session.handle("vm.dispose", { vm: (await boot(false, "cold")).id });

const cold: number[] = [];
const warm: number[] = [];
log(`${ROUNDS} rounds of a cold and a warm boot (load ${loadavg()[0]!.toFixed(2)})`);
for (let i = 0; i < ROUNDS; i++) {
  for (const [list, isCold] of [[cold, true], [warm, false]] as const) {
    const b = await boot(isCold);
    list.push(b.ms);
    await session.handle("vm.dispose", { vm: b.id });
  }
}
log("memory of 4 cold VMs, then of 4 warm ones");
const memCold = await four(true);
const memWarm = await four(false);
const c = stats(cold), w = stats(warm);
console.log(`accel ${accel}, ${ROUNDS} rounds, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log(`| boot to agent ready | median ms | min | max |\n|---|--:|--:|--:|`);
console.log(`| cold | ${c.median.toFixed(0)} | ${c.min.toFixed(0)} | ${c.max.toFixed(0)} |`);
console.log(`| warm | ${w.median.toFixed(0)} | ${w.min.toFixed(0)} | ${w.max.toFixed(0)} |`);
console.log(`warm / cold: ${(w.median / c.median).toFixed(3)}`);
console.log(`| 4 VMs' QEMUs (MiB) | RSS | anon | file | shmem | PSS |\n|---|--:|--:|--:|--:|--:|`);
for (const [what, m] of [["cold", memCold], ["warm", memWarm]] as const) console.log(`| ${what} | ${m.rss} | ${m.anon} | ${m.file} | ${m.shmem} | ${m.pss} |`);
console.log(`template: ${(templates.list("template")[0]?.size ?? 0) / 1e6} MB on disk`);
await session.close();
templates.close();
rmSync(templateDir, { recursive: true, force: true });
