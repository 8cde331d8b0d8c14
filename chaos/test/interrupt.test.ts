// Ctrl-C of `provium fixture build` mid-build: the run ends and leaves no QEMU, no temp dir and
// no cache lock (the lock was left before; found by `bun run chaos`).
import { expect, test } from "bun:test";
import { leftovers, provium, suite } from "../harness";

test("SIGINT during a fixture build leaves no QEMU, temp dir or cache lock", async () => {
  const dir = suite({
    "base.fixture.lua": `-- MARKER
local vm = provium:vm("b", "minimal"):boot()
vm:run("sleep 600")
return vm:snapshot()`,
  });
  // Signalled while the builder boots or sleeps, i.e. while the lock is held, however fast
  // the machine (the builder never ends by itself in time).
  const r = await provium(dir, ["fixture", "build"], { kill: { afterMs: 4000, signal: "SIGINT" } });
  expect(r.code).not.toBe(0);
  expect(await leftovers(r.pid)).toEqual({ qemu: [], tempDirs: [], locks: 0 });
}, 120_000);

// SIGTERM mid-boot used to leave the run dir of a VM whose start had not reached the main
// thread yet (2 of 4 tries in a chaos run); the run now stops through its workers.
test("SIGTERM while the example suite boots or runs leaves no QEMU, temp dir or lock", async () => {
  const repo = new URL("../..", import.meta.url).pathname;
  for (const at of [400, 1200, 2500]) {
    const r = await provium(repo, ["examples/"], { kill: { afterMs: at, signal: "SIGTERM" } });
    expect(await leftovers(r.pid)).toEqual({ qemu: [], tempDirs: [], locks: 0 });
  }
}, 180_000);
