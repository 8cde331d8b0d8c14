// Restores take a QEMU launched ahead for the same snapshot (GuestVm's spare), on a real
// `minimal` guest: the state is the snapshot's, the spare is the QEMU that runs next, a spare
// that died is replaced by a fresh launch, and none outlives the VM.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { GuestVm } from "../src/guest";
import { imageOf } from "@provium/test-kit";
import { builtinProfiles } from "../src/config";

const dir = mkdtempSync(join(tmpdir(), "provium-spare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function guestText(vm: GuestVm, cmd: string) {
  const r = await vm.ready().call({ exec: { argv: ["/bin/sh", "-c", cmd] } });
  return new TextDecoder().decode(r.stdout);
}

test(
  "restores run on the spare QEMU, the guest state is the snapshot's, and no spare outlives the VM",
  async () => {
    const cacheDir = cacheRoot();
    const accel = await chooseAccel("auto", { cacheDir });
    const image = await imageOf(builtinProfiles.minimal!, cacheDir, () => {});
    const spawned: number[] = [];
    const vm = new GuestVm({ name: "spare", profile: "minimal", memoryMiB: 256, cpus: 1 }, (kind, info) => {
      if (kind === "vm_spawned") spawned.push(info.pid);
    });
    try {
      await vm.boot(image, accel, 120_000);
      await guestText(vm, "echo saved > /tmp/state");
      const snap = await vm.snapshot(join(dir, "s"));
      const firstSpare = await vm.sparePid();
      expect(firstSpare).toBeNumber();
      expect(firstSpare).not.toBe(vm.qemu!.pid);

      await guestText(vm, "echo changed > /tmp/state");
      await vm.restore(snap, 60_000);
      expect(vm.qemu!.pid).toBe(firstSpare!);
      expect(spawned.at(-1)).toBe(firstSpare!);
      expect(await guestText(vm, "cat /tmp/state")).toBe("saved\n");

      // The next spare waits for the same snapshot; one that died is replaced by a fresh launch.
      const secondSpare = await vm.sparePid();
      expect(secondSpare).toBeNumber();
      expect(secondSpare).not.toBe(firstSpare);
      process.kill(secondSpare!, "SIGKILL");
      await guestText(vm, "echo changed > /tmp/state");
      await vm.restore(snap, 60_000);
      expect(vm.qemu!.pid).not.toBe(secondSpare!);
      expect(await guestText(vm, "cat /tmp/state")).toBe("saved\n");

      const lastSpare = (await vm.sparePid())!;
      const running = vm.qemu!.pid;
      await vm.shutdown();
      expect(alive(running)).toBe(false);
      expect(alive(lastSpare)).toBe(false);
      expect(await vm.sparePid()).toBeNull();
    } finally {
      await vm.shutdown();
    }
  },
  180_000,
);
