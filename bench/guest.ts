// Boots a guest for benchmarks through the same path the runner uses.
import { cacheRoot, chooseAccel } from "@provium/vmm";
import { GuestVm } from "../apps/cli/src/runner/guest";
import { prepareImage } from "@provium/vmm";
import { builtinProfiles } from "../apps/cli/src/config";

export async function bootGuest(name = "bench", profile = builtinProfiles.minimal!) {
  const cacheDir = cacheRoot();
  const accel = await chooseAccel((process.env.PROVIUM_ACCEL as any) ?? "auto", { cacheDir });
  const image = await prepareImage(profile, cacheDir, () => {});
  const vm = new GuestVm({ name, profile: profile.name, memoryMiB: 512, cpus: 1 }, () => {});
  const t = performance.now();
  await vm.boot(image, accel, 120_000);
  return { vm, agent: vm.agent!, bootMs: performance.now() - t, accel, image };
}
