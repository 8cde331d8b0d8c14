// Boot to agent-ready for each built-in profile, and where the time goes. Boots alternate
// between the profiles so both see the same machine load. Each boot runs with `provium.trace`
// (guest-init prints the guest's uptime at each step on the console), and the guest's uptime
// is read once the agent answers, so host time splits into:
//   firmware+load  QEMU start, SeaBIOS, kernel and initrd copied in (host total - guest uptime)
//   kernel         kernel start -> /init runs (includes unpacking the initramfs)
//   init           /init: mounts, modules; for disk images also the root mount and the switch
//   agent          agent exec -> agent answers hello (Bun starting up; paged in from the
//                  initramfs for minimal, from the agent disk for debian)
// Usage: bun bench/images.ts [profile...]   (BOOTS=5 by default; the first run builds the images)
import { builtinProfiles } from "@provium/lua-runtime";
import { bootGuest } from "./guest";
import { stats } from "./stats";

const BOOTS = Number(process.env.BOOTS ?? 5);
const names = process.argv.slice(2).length ? process.argv.slice(2) : ["minimal", "debian"];
const PHASES = ["firmware+load", "kernel", "init", "agent"] as const;
const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const rows = new Map<string, Record<string, number[]>>();
const steps = new Map<string, Record<string, number[]>>();
let accel = "";
for (let i = 0; i < BOOTS; i++) {
  for (const name of names) {
    const base = builtinProfiles[name];
    if (!base) throw new Error(`no built-in profile ${name}`);
    const profile = { ...base, cmdline: [base.cmdline, "provium.trace"].filter(Boolean).join(" ") };
    const g = await bootGuest(`${name}${i}`, profile);
    accel = g.accel;
    const t = performance.now();
    const up = await g.agent.call({ exec: { argv: ["cat", "/proc/uptime"] } });
    const rtt = performance.now() - t;
    const uptimeMs = Number(new TextDecoder().decode((up as any).stdout).split(" ")[0]) * 1000 - rtt / 2;
    const marks = new Map<string, number>();
    for (const m of g.vm.qemu!.consoleTail(200).matchAll(/provium-trace: ([\d.]+) (.+)/g)) if (!marks.has(m[2]!)) marks.set(m[2]!, Number(m[1]) * 1000);
    await g.vm.shutdown();
    const initStart = marks.get("init initramfs") ?? NaN;
    const agentStart = marks.get("starting the agent") ?? NaN;
    const r = rows.get(name) ?? Object.fromEntries(["total", ...PHASES].map((k) => [k, [] as number[]]));
    rows.set(name, r);
    r.total!.push(g.bootMs);
    r["firmware+load"]!.push(g.bootMs - uptimeMs);
    r.kernel!.push(initStart);
    r.init!.push(agentStart - initStart);
    r.agent!.push(uptimeMs - agentStart);
    // Inside init: each step's duration since the previous mark.
    const s = steps.get(name) ?? {};
    steps.set(name, s);
    let prev = initStart;
    for (const [label, at] of marks) {
      if (label === "init initramfs") continue;
      (s[label] ??= []).push(at - prev);
      prev = at;
    }
  }
}
for (const name of names) {
  const r = rows.get(name)!;
  const st = stats(r.total!);
  console.log(`${name} (${accel}, n=${BOOTS}) boot to agent ready: median ${f(st.median)}  [p10 ${f(st.p10)}, p90 ${f(st.p90)}]`);
  console.log("  " + PHASES.map((k) => `${k} ${f(stats(r[k]!).median)}`).join("  "));
  console.log("  init steps: " + Object.entries(steps.get(name)!).map(([k, v]) => `${k} +${f(stats(v).median)}`).join(", "));
}
