// A guest that dies mid-op fails its test naming what died (found by `bun run chaos`: a QEMU
// killed or a kernel panic used to read "the agent connection closed" / "QMP connection
// closed", without the cause); the next file passes.
import { expect, test } from "bun:test";
import { DEATHS, runDeaths } from "../attacks/deaths";
import { leftovers } from "../harness";

test("QEMU killed, agent killed, kernel panic during a snapshot: each failure names its cause", async () => {
  const names = ["QEMU SIGKILLed during run", "QEMU SIGKILLed during a 64 MiB read_file", "agent SIGKILLed during run", "kernel panic during a snapshot"];
  const run = await runDeaths(names);
  for (const name of names) {
    const e = run.events.find((x) => x.test === name && (x.kind === "test_failed" || x.kind === "test_passed"));
    expect(e?.kind).toBe("test_failed");
    expect(e.reason).toMatch(DEATHS[name]!.names);
    expect(e.reason).toContain("last lines of the guest console");
  }
  expect(run.events.some((x) => x.kind === "test_passed" && x.test === "the next file passes")).toBe(true);
  expect(await leftovers(run.pid)).toEqual({ qemu: [], tempDirs: [], locks: 0 });
}, 240_000);
