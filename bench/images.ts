// Boot to agent-ready for each built-in profile, and where the time goes; the busybox floor
// guest of `bun run bench` boots in turn with them (same kernel, same QEMU command line), so
// the ratio of the two is of one sitting. Each Provium boot runs with `provium.trace`:
// guest-init and the agent print the guest's uptime at each step on the console, and the
// uptime at the boot's hello is learnt from the next hello (its bootMs, less the host time
// since). The host's time from launch to hello splits into:
//   firmware+load     QEMU start, SeaBIOS, kernel and initrd copied in (host total - guest uptime)
//   kernel            kernel start -> /init runs (includes unpacking the initramfs)
//   then each step of guest-init and of the agent, in the order they happened.
// Usage: bun bench/images.ts [profile...]   (BOOTS=5 by default; the first run builds the images)
//        EXTRA_CMDLINE="..." also boots each profile with these kernel arguments, in turn (A/B).
import { builtinProfiles } from "@provium/host-runtime";
import { cacheRoot } from "@provium/vmm";
import { bootGuest } from "./guest";
import { floorImage } from "@provium/test-kit";
import { FloorGuest } from "./floor";
import { stats } from "./stats";

const BOOTS = Number(process.env.BOOTS ?? 5);
const profiles = process.argv.slice(2).length ? process.argv.slice(2) : ["minimal", "debian"];
const extra = process.env.EXTRA_CMDLINE ?? "";
const names = profiles.flatMap((p) => (extra ? [p, `${p} +${extra}`] : [p]));
const f = (ms: number) => (ms / 1000).toFixed(3);

const steps = new Map<string, Map<string, number[]>>();
const add = (profile: string, step: string, ms: number) => {
  const s = steps.get(profile) ?? new Map<string, number[]>();
  steps.set(profile, s);
  s.set(step, [...(s.get(step) ?? []), ms]);
};
const floorBoots: number[] = [];
const floorImg = await floorImage(cacheRoot());
let accel = "";
for (let i = 0; i < BOOTS; i++) {
  for (const name of names) {
    const [pname, plus] = name.split(" +");
    const base = builtinProfiles[pname!];
    if (!base) throw new Error(`no built-in profile ${pname}`);
    const profile = { ...base, cmdline: [base.cmdline, "provium.trace", plus].filter(Boolean).join(" ") };
    const g = await bootGuest(`${pname}${i}`, profile);
    const booted = performance.now();
    accel = g.accel;
    const hello = await g.agent.hello();
    const helloAt = (hello.bootMs ?? NaN) - (performance.now() - booted);
    const marks: [string, number][] = [];
    for (const m of g.vm.qemu!.consoleTail(200).matchAll(/provium-trace: ([\d.]+) (.+)/g)) if (!marks.some(([k]) => k === m[2])) marks.push([m[2]!, Number(m[1]) * 1000]);
    await g.vm.shutdown();
    marks.push(["hello answered", helloAt]);
    marks.sort((a, b) => a[1] - b[1]);
    add(name, "total (host: launch -> hello)", g.bootMs);
    add(name, "firmware+load (host total - guest uptime)", g.bootMs - helloAt);
    let prev = 0;
    for (const [label, at] of marks) {
      add(name, label === "init initramfs" ? "kernel -> /init" : `-> ${label}`, at - prev);
      prev = at;
    }
  }
  const fl = await FloorGuest.boot({ image: floorImg, memoryMiB: 512, cmdline: builtinProfiles.minimal!.cmdline, accel: accel as "kvm" | "tcg" }, `fboot${i}`);
  floorBoots.push(fl.bootMs);
  await fl.g.shutdown();
}
const floor = stats(floorBoots);
console.log(`${accel}, ${BOOTS} boots each, alternating; times in s (medians, p10, p90 of each step)\n`);
console.log(`busybox floor, launch -> hello: ${f(floor.median)} [${f(floor.p10)}, ${f(floor.p90)}]`);
for (const name of names) {
  const s = steps.get(name)!;
  const total = stats(s.get("total (host: launch -> hello)")!).median;
  console.log(`\n${name}: ${f(total)} s, ${(total / floor.median).toFixed(2)}x the floor\n\n| step | median | p10 | p90 |\n|---|--:|--:|--:|`);
  for (const [step, xs] of s) {
    const st = stats(xs);
    console.log(`| ${step} | ${f(st.median)} | ${f(st.p10)} | ${f(st.p90)} |`);
  }
}
