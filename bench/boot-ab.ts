// Cold boot to agent ready of two agent builds in turn, with the busybox floor between them, so
// machine load falls on all three alike: the before/after of a change to the agent's start-up,
// measured in one sitting. "A" is an agent executable you give (e.g. built from an older tree
// with its own flags), put on an agent disk of its own; "B" is this tree's `minimal` profile.
// Usage: bun bench/boot-ab.ts AGENT_A [extra kernel arguments for A]   (BOOTS=6 by default)
// e.g. cryptomgr.notests=0 gives A the kernel's crypto self-tests back. AGENT_A `--bare` is
// bench/bare-agent.ts (hello and nothing else) built with the agent's own flags.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { builtinProfiles, GuestVm } from "@provium/host-runtime";
import { cacheRoot, chooseAccel, ensureAgentBinary, ensureAgentDisk, type BootImage } from "@provium/vmm";
import { agentEntry } from "@provium/agent";
import { floorImage, imageOf } from "@provium/test-kit";
import { FloorGuest } from "./floor";
import { stats } from "./stats";
import { readFileSync } from "node:fs";

/** CPU seconds QEMU has used (user + system): the boot's work, which load stretches far less
 *  than its wall time (a busy host delays the vCPU thread; it does not make it do more). */
function cpuSeconds(pid: number) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15, in ticks of 1/100 s
}

const [agentA, ...extraA] = process.argv.slice(2);
if (!agentA) throw new Error("usage: bun bench/boot-ab.ts AGENT_A [extra kernel arguments for A]");
const BOOTS = Number(process.env.BOOTS ?? 6);
const cacheDir = cacheRoot();
const accel = await chooseAccel("auto", { cacheDir });
const profile = builtinProfiles.minimal!;
const imageB = await imageOf(profile, cacheDir, () => {});
// A's disk goes to a private cache: it is thrown away, and evicts nobody's disk from the shared one.
const privateCache = mkdtempSync(join(tmpdir(), "provium-boot-ab-"));
const binaryA =
  agentA === "--bare"
    ? await ensureAgentBinary({ cacheDir: privateCache, entry: join(import.meta.dir, "bare-agent.ts"), sourceRoots: [import.meta.dir, dirname(dirname(agentEntry)), dirname(Bun.resolveSync("@provium/protocol/package.json", import.meta.dir))] })
    : resolve(agentA);
const diskA = await ensureAgentDisk({ cacheDir: privateCache, agentBinary: binaryA });
const imageA: BootImage = { ...imageB, cmdline: [imageB.cmdline, ...extraA].join(" "), drives: [{ file: diskA.image, format: "raw", readOnly: true }] };
const floorImg = await floorImage(cacheDir);

async function boot(name: string, image: BootImage) {
  const vm = new GuestVm({ name, profile: "minimal", memoryMiB: 512, cpus: 1 }, () => {});
  const t = performance.now();
  await vm.boot(image, accel, 120_000);
  const ms = performance.now() - t;
  const cpu = cpuSeconds(vm.qemu!.pid);
  await vm.shutdown();
  return [ms, cpu] as const;
}

const times: Record<"A" | "B" | "floor", number[]> = { A: [], B: [], floor: [] };
const cpu: Record<"A" | "B" | "floor", number[]> = { A: [], B: [], floor: [] };
try {
  for (let i = 0; i < BOOTS; i++) {
    // The order turns each round, so neither build always follows the floor.
    const order = i % 2 ? (["B", "A"] as const) : (["A", "B"] as const);
    for (const k of order) {
      const [ms, s] = await boot(`${k}${i}`, k === "A" ? imageA : imageB);
      times[k].push(ms);
      cpu[k].push(s);
    }
    const f = await FloorGuest.boot({ image: floorImg, memoryMiB: 512, cmdline: profile.cmdline, accel }, `floor${i}`);
    times.floor.push(f.bootMs);
    cpu.floor.push(cpuSeconds(f.g.vm.pid));
    await f.g.shutdown();
  }
} finally {
  rmSync(privateCache, { recursive: true, force: true });
}
const f = (ms: number) => (ms / 1000).toFixed(2);
const floorMed = stats(times.floor).median;
const floorCpu = stats(cpu.floor).median;
console.log(`${accel}, ${BOOTS} boots each, in turn; launch -> hello: wall s and QEMU's CPU s (median [p10, p90], ratio to the floor's median)`);
for (const k of ["A", "B", "floor"] as const) {
  const s = stats(times[k]), c = stats(cpu[k]);
  console.log(`${k.padEnd(5)} wall ${f(s.median)} [${f(s.p10)}, ${f(s.p90)}] ${(s.median / floorMed).toFixed(2)}x   cpu ${c.median.toFixed(2)} [${c.p10.toFixed(2)}, ${c.p90.toFixed(2)}] ${(c.median / floorCpu).toFixed(2)}x`);
}
