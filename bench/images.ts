// Boot to agent-ready for each built-in profile, and where the time goes. Each boot runs with
// `provium.trace` (guest-init prints the guest's uptime at each step on the console), and the
// guest's uptime is read once the agent answers, so host time splits into:
//   firmware+load  QEMU start, SeaBIOS, kernel and initrd copied in (host total - guest uptime)
//   kernel         kernel start -> /init runs (initramfs unpacked)
//   init           /init: mounts, modules; for disk images also the root mount and the switch
//   agent          agent exec -> agent answers hello (Bun starting up)
// Usage: bun bench/images.ts [profile...]   (BOOTS=5 by default; first run builds the images)
import { builtinProfiles } from "../apps/cli/src/config";
import { bootGuest } from "./guest";
import { stats } from "./stats";

const BOOTS = Number(process.env.BOOTS ?? 5);
const names = process.argv.slice(2).length ? process.argv.slice(2) : ["minimal", "debian"];
const med = (xs: number[]) => stats(xs).median;
const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

for (const name of names) {
  const base = builtinProfiles[name];
  if (!base) throw new Error(`no built-in profile ${name}`);
  const profile = { ...base, cmdline: [base.cmdline, "provium.trace"].filter(Boolean).join(" ") };
  const rows: Record<string, number[]> = { total: [], "firmware+load": [], kernel: [], init: [], agent: [] };
  let accel = "";
  for (let i = 0; i < BOOTS; i++) {
    const g = await bootGuest(`${name}${i}`, profile);
    accel = g.accel;
    const t = performance.now();
    const up = await g.agent.call({ exec: { argv: ["cat", "/proc/uptime"] } });
    const rtt = performance.now() - t;
    const uptimeMs = Number(new TextDecoder().decode((up as any).stdout).split(" ")[0]) * 1000 - rtt / 2;
    const marks = new Map<string, number>();
    for (const m of g.vm.qemu!.consoleTail(200).matchAll(/provium-trace: ([\d.]+) (.+)/g)) if (!marks.has(m[2]!)) marks.set(m[2]!, Number(m[1]) * 1000);
    const initStart = marks.get("init initramfs") ?? NaN;
    const agentStart = marks.get("starting the agent") ?? NaN;
    rows.total!.push(g.bootMs);
    rows["firmware+load"]!.push(g.bootMs - uptimeMs);
    rows.kernel!.push(initStart);
    rows.init!.push(agentStart - initStart);
    rows.agent!.push(uptimeMs - agentStart);
    if (name !== "minimal" && i === 0) {
      const mounted = marks.get("root disk mounted");
      const stage2 = marks.get("init root");
      console.log(`  (${name}: modules loaded at ${f(marks.get("modules loaded") ?? NaN)}, root mounted ${f(mounted ?? NaN)}, switched ${f(stage2 ?? NaN)}, agent exec ${f(agentStart)})`);
    }
    await g.vm.shutdown();
  }
  console.log(`${name} (${accel}, n=${BOOTS}) boot to agent ready: median ${f(med(rows.total!))}  [p10 ${f(stats(rows.total!).p10)}, p90 ${f(stats(rows.total!).p90)}]`);
  console.log("  " + ["firmware+load", "kernel", "init", "agent"].map((k) => `${k} ${f(med(rows[k]!))}`).join("  "));
}
