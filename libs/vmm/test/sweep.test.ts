import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { ownedTempDir, sweepStaleRunDirs } from "../src/index";

test("a temp dir goes once its owner process is gone and no live process names it; others stay", async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "sweep-"));
  // A real pid whose process has exited (and been reaped).
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const mk = (name: string, ageMs: number) => {
    const d = path.join(parent, name);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "console.log"), "");
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(d, t, t);
    return d;
  };
  const mine = ownedTempDir("run", parent);
  expect(path.basename(mine)).toStartWith(`provium-run-p${process.pid}-`);
  fs.utimesSync(mine, new Date(0), new Date(0));
  const stale = mk(`provium-run-p${gone.pid}-aaaaaa`, 120_000);
  const empty = path.join(parent, `provium-run-p${gone.pid}-bbbbbb`); // killed before QEMU wrote to it
  fs.mkdirSync(empty);
  fs.utimesSync(empty, new Date(0), new Date(0));
  const snaps = mk(`provium-snap-p${gone.pid}-cccccc`, 120_000);
  const young = mk(`provium-run-p${gone.pid}-dddddd`, 0);
  const other = mk("provium-notours", 120_000);
  // A live process (a QEMU that outlived its provium) whose command line names the dir.
  const used = mk(`provium-run-p${gone.pid}-eeeeee`, 120_000);
  const holder = Bun.spawn(["sh", "-c", "sleep 30", `${used}/qmp.sock`], { stderr: "ignore" });
  try {
    const named = () => {
      try {
        return fs.readFileSync(`/proc/${holder.pid}/cmdline`, "latin1").includes(used);
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 500 && !named(); i++) await Bun.sleep(10);
    expect(sweepStaleRunDirs(parent).sort()).toEqual([stale, empty, snaps].sort());
    expect([mine, young, other, used].every((d) => fs.existsSync(d))).toBe(true);
  } finally {
    holder.kill();
    fs.rmSync(parent, { recursive: true, force: true });
  }
});
