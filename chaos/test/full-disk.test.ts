// A snapshot into a full temp dir fails saying "No space left on device", removes what it
// wrote, and the VM runs on (it was left paused, so the next op hung: found by `bun run chaos`).
import { expect, test } from "bun:test";
import { canMountSmallTmp, fullDisks } from "../attacks/full-disks";

// Skipped where no tmpfs can be mounted (not root, or a container without CAP_SYS_ADMIN).
test.skipIf(!canMountSmallTmp())("the host's temp dir full during a snapshot: a clear error, the VM runs on, nothing left", async () => {
  const [r] = await fullDisks({ guestFill: false });
  expect(r!.notes).toEqual([]);
  expect([r!.tries, r!.namedFailures, r!.leaks]).toEqual([1, 1, 0]);
}, 180_000);
