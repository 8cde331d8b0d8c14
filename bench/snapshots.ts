// Snapshot save, restore to agent-ready, and a fixture-style resume (zstd) against a cold boot.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { bootGuest } from "./guest";
import { fmt, stats } from "./stats";

const N = Number(process.env.SNAP_N ?? 10);
const dir = mkdtempSync(join(tmpdir(), "provium-bench-snap-"));
const g = await bootGuest("snap");
const boots = [g.bootMs];
for (let i = 0; i < 4; i++) {
  const b = await bootGuest(`cold${i}`);
  boots.push(b.bootMs);
  await b.vm.shutdown();
}

const saves: number[] = [];
const savesZ: number[] = [];
let snap, snapZ;
for (let i = 0; i < N; i++) {
  let t = performance.now();
  snap = await g.vm.snapshot(join(dir, `raw${i}`));
  saves.push(performance.now() - t);
  t = performance.now();
  snapZ = await g.vm.snapshot(join(dir, `z${i}`), { compress: true });
  savesZ.push(performance.now() - t);
}
const restores: number[] = [];
const restoresZ: number[] = [];
for (let i = 0; i < N; i++) {
  let t = performance.now();
  await g.vm.restore(snap!, 60_000);
  await g.agent; // restore() returns once the agent answered hello
  restores.push(performance.now() - t);
  t = performance.now();
  await g.vm.restore(snapZ!, 60_000);
  restoresZ.push(performance.now() - t);
}
console.log(`snapshot size: ${(snap!.bytes / 1e6).toFixed(1)} MB raw, ${(snapZ!.bytes / 1e6).toFixed(1)} MB zstd`);
console.log(`cold boot to agent ready:        ${fmt(stats(boots))}`);
console.log(`snapshot save (raw):             ${fmt(stats(saves))}`);
console.log(`snapshot save (zstd, fixtures):  ${fmt(stats(savesZ))}`);
console.log(`restore to agent ready (raw):    ${fmt(stats(restores))}`);
console.log(`fixture resume (zstd) to ready:  ${fmt(stats(restoresZ))}`);
console.log(`cold boot / fixture resume:      ${(stats(boots).median / stats(restoresZ).median).toFixed(1)}x`);
await g.vm.shutdown();
rmSync(dir, { recursive: true, force: true });
