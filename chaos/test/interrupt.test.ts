// Ctrl-C of `provium fixture build` mid-build: the run ends and leaves no QEMU, no temp dir and
// no cache lock (the lock was left before; found by `bun run chaos`).
import { expect, test } from "bun:test";
import { leftovers, provium, suite } from "../harness";

test("SIGINT during a fixture build leaves no QEMU, temp dir or cache lock", async () => {
  const dir = suite({
    "base.fixture.lua": `-- MARKER
local vm = provium:vm("b", "minimal"):boot()
return vm:snapshot()`,
  });
  // Signalled once the builder's VM is up, i.e. while the lock is held.
  const r = await provium(dir, ["fixture", "build"], { kill: { when: () => false, afterMs: 4000, signal: "SIGINT" } });
  expect(r.code).not.toBe(0);
  expect(await leftovers(r.pid)).toEqual({ qemu: [], tempDirs: [], locks: 0 });
}, 120_000);
