// provium.trace on a real `minimal` guest: guest-init and the agent print each boot step with
// the guest's uptime on the console (bench/images.ts reads them), in order, and the agent keeps
// its start-up variables (PROVIUM_TRACE, BUN_JSC_useFTLJIT) from the commands it runs.
import { expect, test } from "bun:test";
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { imageOf } from "@provium/test-kit";
import { GuestVm } from "../src/guest";
import { builtinProfiles } from "../src/config";

const STEPS = ["init initramfs", "modules loaded", "agent disk mounted", "network configured", "starting the agent", "agent process started", "agent main runs", "agent port open", "agent reader serves"];

test(
  "provium.trace: every boot step on the console, in order; the commands see no start-up variables",
  async () => {
    const cacheDir = cacheRoot();
    const accel = await chooseAccel("auto", { cacheDir });
    const base = builtinProfiles.minimal!;
    const image = await imageOf({ ...base, name: "minimal-traced" }, cacheDir, () => {});
    const vm = new GuestVm({ name: "traced", profile: "minimal", memoryMiB: 256, cpus: 1 }, () => {});
    try {
      await vm.boot({ ...image, cmdline: `${image.cmdline} provium.trace` }, accel, 120_000);
      const marks = new Map<string, number>();
      for (const m of vm.qemu!.consoleTail(200).matchAll(/provium-trace: ([\d.]+) (.+)/g)) marks.set(m[2]!, Number(m[1]));
      expect([...marks.keys()]).toEqual(STEPS);
      const at = STEPS.map((s) => marks.get(s)!);
      expect(at).toEqual([...at].sort((a, b) => a - b));
      const env = new TextDecoder().decode((await vm.ready().call({ exec: { argv: ["env"] } })).stdout);
      expect(env).toContain("PATH=");
      expect(env).not.toContain("PROVIUM_TRACE");
      expect(env).not.toContain("BUN_JSC_");
    } finally {
      await vm.shutdown();
    }
  },
  180_000,
);
