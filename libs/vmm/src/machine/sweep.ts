// Temp directories left by a provium that was killed outright (SIGKILL: no exit handler ran),
// removed by the next run. Every one is made by ownedTempDir and names its owner's pid
// (provium-<kind>-p<pid>-XXXXXX: a VM's run dir, a run's snapshots, the KVM probe's firmware).
// One is stale once no process has that pid and no live process names it (a QEMU dies with its
// parent, see DIE_WITH_PARENT in qemu.ts, but one started without setpriv would outlive it and
// still use its run dir).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onProcessExit } from "./exit-cleanup";

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

/** A new temp dir `<parent>/provium-<kind>-p<pid>-XXXXXX` that the sweep removes once this
 *  process is gone. */
export function ownedTempDir(kind: string, parent = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(parent, `provium-${kind}-p${process.pid}-`));
}

/** Removes stale temp dirs under `parent` older than `minAgeMs`; returns what it removed. */
export function sweepStaleRunDirs(parent = os.tmpdir(), minAgeMs = 60_000): string[] {
  const orphans: string[] = [];
  try {
    for (const name of fs.readdirSync(parent)) {
      const owner = OWNED.exec(name)?.[1];
      if (!owner || fs.existsSync(`/proc/${owner}`)) continue;
      const d = path.join(parent, name);
      try {
        if (Date.now() - fs.statSync(d).mtimeMs > minAgeMs) orphans.push(d);
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    return [];
  }
  const cmdlines = orphans.length ? liveCommandLines() : [];
  const stale = orphans.filter((d) => !cmdlines.some((c) => c.includes(d + "/")));
  for (const d of stale) fs.rmSync(d, { recursive: true, force: true });
  return stale;
}

/** An owned temp dir made on first use, removed by `remove()`, at exit, or (after a SIGKILL)
 *  by the next run's sweep: what a test file keeps its own files in (os.tmpname's, its
 *  snapshots, its bridges' sockets). */
export class LazyTempDir {
  private dir: string | null = null;
  private forget = () => {};

  constructor(
    private readonly kind: string,
    private readonly parent?: string,
  ) {}

  get path(): string {
    if (!this.dir) {
      const dir = (this.dir = ownedTempDir(this.kind, this.parent));
      this.forget = onProcessExit(() => fs.rmSync(dir, { recursive: true, force: true }));
    }
    return this.dir;
  }

  remove(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.forget();
    this.dir = null;
  }
}
