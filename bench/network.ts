// `bun bench/network.ts [--rounds N]`: guest-to-guest networking through Provium's userspace
// switch (@provium/netswitch) against the floor, QEMU's own point-to-point `-netdev socket`
// link, between the SAME two guests: each has two NICs, one on the switch (10.0.1.0/24) and
// one on the floor link (10.0.2.0/24). Rounds interleave the two paths, so compare the ratios
// of one run. Measures ping round trips (busybox ping, warm ARP; the median of every round trip)
// and TCP throughput (nc, timed
// at the receiver from its first byte). Goals (issue 17): latency within 1.5x of the floor,
// throughput >= 0.7x. Writes bench/results/<time>-network.json; exits 1 past a goal.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { Switch } from "@provium/netswitch";
import { ShellGuest, shellImage } from "@provium/test-kit";
import { stats, type Stats } from "./stats";

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1] || 3);
const MIB = 8; // per throughput sample
const GOALS = { latency: 1.5, throughput: 0.7 };

const accel = await chooseAccel("auto", { cacheDir: cacheRoot() });
const image = await shellImage(cacheRoot());
const dir = mkdtempSync(join(os.tmpdir(), "provium-bench-net-"));
const sw = new Switch(join(dir, "sw"));
const floorPort = 47_000 + Math.floor(Math.random() * 1000);
const macs = { a: ["52:54:00:01:00:01", "52:54:00:02:00:01"], b: ["52:54:00:01:00:02", "52:54:00:02:00:02"] };

// The floor NIC (second) is configured from the guest: guest-init configures only switch NICs.
async function boot(name: "a" | "b", n: number, floorArg: string): Promise<ShellGuest> {
  const g = await ShellGuest.boot({
    name, kernel: image.kernel, initrd: image.initrd, memoryMiB: 256, cpus: 1, accel,
    nics: [{ id: "sw", socket: sw.addPort(name), mac: macs[name][0]!, address: `10.0.1.${n}/24` }],
    extraArgs: ["-netdev", `socket,id=p2p,${floorArg}`, "-device", `virtio-net-pci,netdev=p2p,mac=${macs[name][1]},romfile=`],
  });
  await g.ok(`for d in /sys/class/net/*; do [ "$(cat $d/address)" = ${macs[name][1]} ] && ip addr add 10.0.2.${n}/24 dev \${d##*/} && ip link set \${d##*/} up; done; true`);
  return g;
}

/** Every round trip of a ping run (ms): the medians are taken over all of them, so one
 *  descheduled moment of a loaded host weighs one sample, not a whole run's average. */
function pingTimes(out: string): number[] {
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (!times.length) throw new Error(`ping said: ${out}`);
  return times;
}

/** MiB/s of `MIB` MiB from a to b's address `ip`, timed at b from its first byte. */
async function throughput(a: ShellGuest, b: ShellGuest, ip: string): Promise<number> {
  const bytes = MIB * 1024 * 1024;
  // b's nc gets a stdin that never ends (busybox nc stops at stdin EOF).
  const recv = b.run(`rm -f /tmp/f; mkfifo /tmp/f; exec 5<>/tmp/f; nc -l -p 5001 <&5 | { head -c 1 >/dev/null; s=$(cut -d' ' -f1 /proc/uptime); head -c ${bytes} | wc -c; e=$(cut -d' ' -f1 /proc/uptime); echo $s $e; }`, 120_000);
  await Bun.sleep(300);
  const send = a.run(`dd if=/dev/zero bs=65536 count=${MIB * 16 + 1} 2>/dev/null | nc ${ip} 5001`, 120_000);
  const r = await recv;
  await send;
  const m = /(\d+)\n([\d.]+) ([\d.]+)\s*$/.exec(r.out);
  if (!m || Number(m[1]) !== bytes) throw new Error(`receiver said: ${r.out}`);
  return MIB / (Number(m[3]) - Number(m[2]));
}

let a: ShellGuest | null = null;
let b: ShellGuest | null = null;
try {
  const t0 = performance.now();
  a = await boot("a", 1, `listen=127.0.0.1:${floorPort}`); // the listener must be up before b connects
  b = await boot("b", 2, `connect=127.0.0.1:${floorPort}`);
  console.log(`booted 2 guests (${accel}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${rounds} rounds`);
  const paths = { switch: "10.0.1.2", floor: "10.0.2.2" } as const;
  for (const ip of Object.values(paths)) await a.ok(`ping -c 3 -W 5 ${ip}`); // warm ARP, caches
  const rtt: Record<keyof typeof paths, number[]> = { switch: [], floor: [] };
  const tput: Record<keyof typeof paths, number[]> = { switch: [], floor: [] };
  for (let r = 0; r < rounds; r++) {
    const order = (r % 2 ? ["floor", "switch"] : ["switch", "floor"]) as (keyof typeof paths)[];
    for (const p of order) rtt[p].push(...pingTimes(await a.ok(`ping -c 20 -i 0.05 ${paths[p]}`)));
    for (const p of order) tput[p].push(await throughput(a, b, paths[p]));
  }
  const s = { rtt: { switch: stats(rtt.switch), floor: stats(rtt.floor) }, tput: { switch: stats(tput.switch), floor: stats(tput.floor) } };
  const ratios = { latency: s.rtt.switch.median / s.rtt.floor.median, throughput: s.tput.switch.median / s.tput.floor.median };
  const row = (what: string, x: Stats, unit: string) => `${what.padEnd(28)} median ${x.median.toFixed(2)} ${unit}  p10 ${x.p10.toFixed(2)}  p90 ${x.p90.toFixed(2)}  (n=${x.n})`;
  console.log(row("ping rtt, switch", s.rtt.switch, "ms"));
  console.log(row("ping rtt, floor (socket p2p)", s.rtt.floor, "ms"));
  console.log(row(`TCP ${MIB} MiB, switch`, s.tput.switch, "MiB/s"));
  console.log(row(`TCP ${MIB} MiB, floor`, s.tput.floor, "MiB/s"));
  const ok = { latency: ratios.latency <= GOALS.latency, throughput: ratios.throughput >= GOALS.throughput };
  console.log(`latency switch/floor ${ratios.latency.toFixed(2)}x (goal <= ${GOALS.latency}x) ${ok.latency ? "ok" : "PAST THE GOAL"}`);
  console.log(`throughput switch/floor ${ratios.throughput.toFixed(2)}x (goal >= ${GOALS.throughput}x) ${ok.throughput ? "ok" : "PAST THE GOAL"}`);
  const resultsDir = join(import.meta.dir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const out = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, "-")}-network.json`);
  writeFileSync(out, JSON.stringify({ accel, rounds, mib: MIB, samples: { rtt, tput }, stats: s, ratios, goals: GOALS, load: os.loadavg() }, null, 2));
  console.log(`results: ${out}`);
  process.exitCode = ok.latency && ok.throughput ? 0 : 1;
} finally {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  sw.close();
  rmSync(dir, { recursive: true, force: true });
}
