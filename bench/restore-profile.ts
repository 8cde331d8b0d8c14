// Where a restore's time goes: per phase, Provium's minimal guest against the busybox floor
// guest, interleaved. `bun bench/restore-profile.ts` (N=5 rounds by default).
//   launch      QemuVm.launch -> QMP connected
//   connect     the agent socket connected
//   load        migrate-incoming -> MIGRATION completed
//   cont        `cont` answered
//   first       first request written -> its reply (Provium: hello; floor: ping)
//   second      one more round trip (Provium: stats no-op; floor: ping)
// and the TCG translation blocks QEMU made by the first reply (HMP `info jit`).
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { cacheRoot, chooseAccel, INCOMING_ARGS, loadMemory, openIncoming, QemuVm } from "@provium/vmm";
import { builtinProfiles, GuestVm } from "@provium/host-runtime";
import { connectAgent } from "@provium/protocol";
import { floorImage, imageOf, launchRef } from "@provium/test-kit";
import { FloorGuest } from "./floor";
import { connectChan } from "./chan";
import { stats } from "./stats";
import { ProviumDriver } from "./provium";

const N = Number(process.env.N ?? 5);
const cacheDir = cacheRoot();
const accel = await chooseAccel((process.env.PROVIUM_ACCEL as "auto" | "kvm" | "tcg") ?? "auto", { cacheDir });
const profile = builtinProfiles.minimal!;
const image = await imageOf(profile, cacheDir, () => {});
const floorImg = await floorImage(cacheDir);
const refOpts = { memoryMiB: 512, cmdline: profile.cmdline, accel };
const dir = mkdtempSync(join(tmpdir(), "provium-rprof-"));

const rows = new Map<string, number[]>();
const add = (k: string, v: number) => rows.set(k, [...(rows.get(k) ?? []), v]);

async function tbCount(vm: QemuVm): Promise<number> {
  const out: string = await vm.qmp.execute("human-monitor-command", { "command-line": "info jit" });
  return Number(/TB count\s+(\d+)/.exec(out)?.[1] ?? NaN);
}

try {
  const vm = new GuestVm({ name: "prof", profile: "minimal", memoryMiB: 512, cpus: 1 }, () => {});
  await vm.boot(image, accel, 120_000);
  // As in the bench: work of every kind, a command last, then the guest idles (the bench's
  // restores load its last snapshot, taken after several save/cont cycles). IDLE_MS=0: the
  // snapshot right after the command (then the agent's deferred work, GC and the like, runs
  // after every restore, translated anew each time).
  const d = new ProviumDriver(vm);
  for (let i = 0; i < 10; i++) {
    await d.noop();
    await d.stat("/tmp");
    await d.run("true");
    await d.writeFile("/tmp/x", new Uint8Array(1 << 20));
    await d.readFile("/tmp/x");
  }
  await d.writeFile("/tmp/x", new Uint8Array(16 << 20));
  await d.readFile("/tmp/x");
  await d.run("dd if=/dev/zero bs=1M count=64 2>/dev/null");
  await d.run("rm -f /tmp/x");
  await Bun.sleep(Number(process.env.IDLE_MS ?? 1000));
  const snap = await vm.snapshot(join(dir, "p"));
  await vm.shutdown();
  const fl = await FloorGuest.boot({ image: floorImg, ...refOpts });
  const fbytes = await fl.g.snapshot(join(dir, "f.mem"));
  await fl.g.shutdown();
  console.log(`snapshot MB: provium ${(snap.bytes / 1e6).toFixed(1)}, floor ${(fbytes / 1e6).toFixed(1)}`);

  for (let r = 0; r < N; r++) {
    {
      let t = performance.now();
      const lap = (k: string) => { const n = performance.now(); add(`p.${k}`, n - t); t = n; };
      const t0 = t;
      const stream = openIncoming(snap.memory);
      const q = await QemuVm.launch({ name: "p-r", kernel: snap.image.kernel, initrd: snap.image.initrd, cmdline: snap.image.cmdline, memoryMiB: 512, cpus: 1, accel, drives: snap.image.drives, extraArgs: INCOMING_ARGS, fds: stream.fds });
      stream.close();
      lap("launch");
      const agent = await connectAgent(q.agentSocket, () => {});
      lap("connect");
      await loadMemory(q, stream);
      lap("load");
      await q.qmp.execute("cont");
      lap("cont");
      await agent.hello();
      lap("first");
      add("p.total", performance.now() - t0);
      add("p.tbs", await tbCount(q));
      t = performance.now();
      await agent.call({ stats: true } as never);
      lap("second");
      agent.close(new Error("done"));
      await q.shutdown({ graceMs: 0 });
    }
    {
      let t = performance.now();
      const lap = (k: string) => { const n = performance.now(); add(`f.${k}`, n - t); t = n; };
      const t0 = t;
      const stream = openIncoming(join(dir, "f.mem"));
      const q = await launchRef({ name: "f-r", image: floorImg, ...refOpts, extraArgs: INCOMING_ARGS, fds: stream.fds });
      stream.close();
      lap("launch");
      const chan = await connectChan(q.agentSocket);
      lap("connect");
      await loadMemory(q, stream);
      lap("load");
      await q.qmp.execute("cont");
      lap("cont");
      chan.send("ping\n");
      await chan.readLine();
      lap("first");
      add("f.total", performance.now() - t0);
      add("f.tbs", await tbCount(q));
      t = performance.now();
      chan.send("ping\n");
      await chan.readLine();
      lap("second");
      chan.close();
      await q.shutdown({ graceMs: 0 });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
console.log("| phase | provium median (p10-p90) | floor median (p10-p90) |\n|---|--:|--:|");
for (const k of ["launch", "connect", "load", "cont", "first", "total", "second", "tbs"]) {
  const p = stats(rows.get(`p.${k}`)!), fl = stats(rows.get(`f.${k}`)!);
  console.log(`| ${k} | ${f(p.median)} (${f(p.p10)}-${f(p.p90)}) | ${f(fl.median)} (${f(fl.p10)}-${f(fl.p90)}) |`);
}
