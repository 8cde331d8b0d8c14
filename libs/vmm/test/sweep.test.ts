import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { ownedTempDir, sweepStaleRunDirs } from "../src/index";

test("stale run dirs (no live process names them) are removed; live and young ones stay", async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "sweep-"));
  const mk = (name: string, ageMs: number, file = "qmp.sock") => {
    const d = path.join(parent, name);
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, file), "");
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(d, t, t);
    return d;
  };
  const stale = mk("provium-stale1", 120_000);
  const socketsGone = mk("provium-stale2", 120_000, "console.log"); // QEMU removed its sockets
  const other = mk("provium-other", 120_000, "notes.txt"); // not a run dir
  const young = mk("provium-young1", 0);
  // A live process whose command line names the dir (as QEMU's does).
  const live = mk("provium-live1", 120_000);
  const holder = Bun.spawn(["sh", "-c", "sleep 30", `${live}/qmp.sock`], { stderr: "ignore" });
  try {
    // Until the child has exec'd and its command line names the dir.
    const named = () => {
      try {
        return fs.readFileSync(`/proc/${holder.pid}/cmdline`, "latin1").includes(live);
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 500 && !named(); i++) await Bun.sleep(10);
    expect(sweepStaleRunDirs(parent).sort()).toEqual([stale, socketsGone]);
    expect(fs.existsSync(young) && fs.existsSync(live) && fs.existsSync(other)).toBe(true);
  } finally {
    holder.kill();
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test("a dir from ownedTempDir goes once its owner process is gone, not before", async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "sweep-"));
  try {
    const old = new Date(Date.now() - 120_000);
    const mine = ownedTempDir("snap", parent);
    expect(path.basename(mine)).toStartWith(`provium-snap-p${process.pid}-`);
    // One whose owner has exited (a real pid, reaped).
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    const orphan = path.join(parent, `provium-snap-p${dead.pid}-abc123`);
    fs.mkdirSync(orphan);
    for (const d of [mine, orphan]) {
      fs.writeFileSync(path.join(d, "0.mem"), "x");
      fs.utimesSync(d, old, old);
    }
    expect(sweepStaleRunDirs(parent)).toEqual([orphan]);
    expect(fs.existsSync(mine)).toBe(true);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});
