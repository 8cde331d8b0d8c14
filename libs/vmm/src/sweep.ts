// Temp directories left by a provium that was killed outright (SIGKILL: no exit handler ran),
// removed by the next run:
// - run dirs: its QEMUs die with it (see DIE_WITH_PARENT in qemu.ts), and any provium-XXXX dir
//   QEMU has written to (its QMP socket or console log; QEMU removes its sockets when it exits
//   on a signal) that no live process names goes;
// - dirs made with ownedTempDir (a run's snapshots): they name their owner's pid, and go once
//   no process has that pid.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

function liveCommandLines(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(fs.readFileSync(`/proc/${pid}/cmdline`, "latin1"));
    } catch {}
  }
  return out;
}

const OWNED = /^provium-[a-z]+-p(\d+)-/;

/** A new temp dir `provium-<kind>-p<pid>-XXXXXX` that the sweep removes once this process is gone. */
export function ownedTempDir(kind: string, parent = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(parent, `provium-${kind}-p${process.pid}-`));
}

/** Removes stale temp dirs under `parent` older than `minAgeMs`; returns what it removed. */
export function sweepStaleRunDirs(parent = os.tmpdir(), minAgeMs = 60_000): string[] {
  const runDirs: string[] = [];
  const orphans: string[] = [];
  try {
    for (const name of fs.readdirSync(parent)) {
      if (!name.startsWith("provium-")) continue;
      const d = path.join(parent, name);
      try {
        if (Date.now() - fs.statSync(d).mtimeMs <= minAgeMs) continue;
        const owner = OWNED.exec(name)?.[1];
        if (owner) {
          if (!fs.existsSync(`/proc/${owner}`)) orphans.push(d);
        } else if (fs.existsSync(path.join(d, "qmp.sock")) || fs.existsSync(path.join(d, "console.log"))) runDirs.push(d);
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    return [];
  }
  const cmdlines = runDirs.length ? liveCommandLines() : [];
  const stale = [...runDirs.filter((d) => !cmdlines.some((c) => c.includes(d + "/"))), ...orphans];
  for (const d of stale) fs.rmSync(d, { recursive: true, force: true });
  return stale;
}
