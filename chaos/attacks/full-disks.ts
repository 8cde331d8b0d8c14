// Full disks: the host's temp dir full during a snapshot (a small tmpfs as TMPDIR; needs root
// to mount it, else skipped and said so), and a guest that fills its disk (the minimal
// profile's disk is its memory) before its fixture is saved. Clear errors, the VM usable
// after a failed snapshot, nothing half-written left in the temp dir or the fixture cache.
import { mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { countLeftovers, provium, suite } from "../harness";
import { newRow, type AttackResult } from "../table";

const SMALL_TMP = "/tmp/provium-chaos-small-tmp";

function mountSmallTmp(mib: number): boolean {
  if (process.getuid?.() !== 0) return false;
  mkdirSync(SMALL_TMP, { recursive: true });
  if (Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", SMALL_TMP]).success) return true;
  unmountSmallTmp(); // removes the directory
  return false;
}

/** Whether this host lets us mount the small tmpfs: root alone is not enough in a container
 *  without CAP_SYS_ADMIN. */
export function canMountSmallTmp(): boolean {
  if (!mountSmallTmp(1)) return false;
  unmountSmallTmp();
  return true;
}

function unmountSmallTmp() {
  Bun.spawnSync(["umount", SMALL_TMP]);
  try {
    rmdirSync(SMALL_TMP);
  } catch {}
}

export async function fullDisks(o: { guestFill?: boolean } = {}): Promise<AttackResult[]> {
  const rows: AttackResult[] = [];
  const tmpRow = newRow("host temp dir full during a snapshot");
  rows.push(tmpRow);
  if (!mountSmallTmp(48)) tmpRow.notes.push("skipped: mounting a small tmpfs needs root (and CAP_SYS_ADMIN)");
  else {
    try {
      const dir = suite({
        "full.test.lua": `local vm = provium:vm("v", "minimal"):boot()
test("a snapshot into a full temp dir fails clearly; the VM lives on", function(t)
  local ok, err = pcall(vm.snapshot, vm)
  t:assert(not ok, "the snapshot fitted in 48 MiB")
  t:assert_contains(tostring(err), "No space left on device")
  t:assert_eq(vm:run("echo alive").stdout, "alive\\n")
end)
`,
      });
      const run = await provium(dir, [".", "--timeout", "120s"], { env: { TMPDIR: SMALL_TMP } });
      tmpRow.tries++;
      tmpRow.peakMiB = run.peakRssMiB;
      const e = run.events.find((x) => x.kind === "test_passed" || x.kind === "test_failed");
      if (e?.kind === "test_passed") tmpRow.namedFailures++;
      else tmpRow.notes.push(`${e?.kind ?? "no result"}: ${String(e?.reason ?? run.stderr).split("\n").slice(0, 4).join(" | ")}`);
      const left = readdirSync(SMALL_TMP);
      tmpRow.leaks += left.length;
      if (left.length) tmpRow.notes.push(`left in the temp dir: ${left.join(", ")}`);
    } finally {
      unmountSmallTmp();
    }
  }

  if (o.guestFill === false) return rows;
  const fillRow = newRow("guest fills its disk, then its fixture is saved");
  fillRow.tries = 1;
  rows.push(fillRow);
  const dir = suite({
    "full.fixture.lua": `-- MARKER
local vm = provium:vm("b", "minimal"):boot()
vm:run("dd if=/dev/zero of=/tmp/fill bs=1M 2>/dev/null; sync")
vm:write_file("/root/marker", "MARKER")
return vm:snapshot()`,
    "use.test.lua": `local vm = provium:vm_fixture("full")
test("the fixture of a full guest resumes", function(t)
  t:assert_eq(vm:read_file("/root/marker"), "MARKER")
  t:assert_eq(vm:run("echo alive").stdout, "alive\\n")
end)
`,
  });
  const run = await provium(dir, ["."]);
  fillRow.peakMiB = run.peakRssMiB;
  const e = run.events.find((x) => x.kind === "test_passed" || x.kind === "test_failed");
  // Either way is fine if it is clear: resumed, or failed naming why; never half an entry.
  if (e?.kind === "test_passed" || (e?.kind === "test_failed" && /No space|ENOSPC|out of memory/i.test(e.reason))) fillRow.namedFailures++;
  else fillRow.notes.push(`${e?.kind ?? "no result"}: ${String(e?.reason ?? run.stderr).split("\n").slice(0, 4).join(" | ")}`);
  const list = await provium(dir, ["fixture", "stale"]);
  if (e?.kind !== "test_passed" && !/not built: full/.test(list.stdout)) {
    fillRow.leaks++;
    fillRow.notes.push(`a failed build left a cache entry: ${list.stdout.trim()}`);
  }
  await countLeftovers(fillRow, run.pid);
  return rows;
}
