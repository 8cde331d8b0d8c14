// Run directories left by a provium that was killed outright (SIGKILL: no exit handler ran).
// Its QEMUs die with it (see DIE_WITH_PARENT in qemu.ts); their run directories are removed
// here, by the next run: any provium-XXXX dir QEMU has written to (its QMP socket or console
// log; QEMU removes its sockets when it exits on a signal) that no live process names.
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

/** Removes stale run dirs under `parent` older than `minAgeMs`; returns what it removed. */
export function sweepStaleRunDirs(parent = os.tmpdir(), minAgeMs = 60_000): string[] {
  let candidates: string[];
  try {
    candidates = fs
      .readdirSync(parent)
      .filter((d) => d.startsWith("provium-"))
      .map((d) => path.join(parent, d))
      .filter((d) => {
        try {
          const qemuWasHere = fs.existsSync(path.join(d, "qmp.sock")) || fs.existsSync(path.join(d, "console.log"));
          return qemuWasHere && Date.now() - fs.statSync(d).mtimeMs > minAgeMs;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
  if (!candidates.length) return [];
  const cmdlines = liveCommandLines();
  const stale = candidates.filter((d) => !cmdlines.some((c) => c.includes(d + "/")));
  for (const d of stale) fs.rmSync(d, { recursive: true, force: true });
  return stale;
}
