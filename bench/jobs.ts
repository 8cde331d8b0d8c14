// A suite of 20 small test files (each boots a guest and runs a few commands), run with
// --jobs 1 and --jobs 2: wall time and the ratio. Files are generated into a temp dir.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

const FILES = Number(process.env.JOB_FILES ?? 20);
const dir = mkdtempSync(join(tmpdir(), "provium-bench-jobs-"));
for (let i = 0; i < FILES; i++)
  writeFileSync(
    join(dir, `f${String(i).padStart(2, "0")}.test.lua`),
    `local vm = provium:vm("v", "minimal"):boot()
test("commands ${i}", function(t)
  for n = 1, 5 do t:assert_eq(vm:run("echo " .. n).stdout, n .. "\\n") end
end)
`,
  );
const main = resolve(import.meta.dir, "../apps/cli/src/main.ts");
const wall: Record<number, number> = {};
for (const jobs of [1, 2]) {
  const t = performance.now();
  const p = Bun.spawn(["bun", main, dir, "-j", String(jobs), "-q", "--cpu-overcommit", "4"], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`--jobs ${jobs} failed:\n${out}`);
  wall[jobs] = performance.now() - t;
  console.log(`--jobs ${jobs}: ${(wall[jobs]! / 1000).toFixed(1)} s for ${FILES} files  (${out.trim().split("\n").at(-1)})`);
}
console.log(`speed-up with 2 jobs: ${(wall[1]! / wall[2]!).toFixed(2)}x`);
rmSync(dir, { recursive: true, force: true });
