// Boots a guest for benchmarks through the same path the runner uses.
import { cacheRoot, chooseAccel, prepareImage } from "@provium/vmm";
import { builtinProfiles, GuestVm } from "@provium/lua-runtime";
import { ProviumDriver } from "./provium";

export async function bootGuest(name = "bench", profile = builtinProfiles.minimal!) {
  const cacheDir = cacheRoot();
  const accel = await chooseAccel((process.env.PROVIUM_ACCEL as any) ?? "auto", { cacheDir });
  const image = await prepareImage(profile, cacheDir, () => {});
  const vm = new GuestVm({ name, profile: profile.name, memoryMiB: 512, cpus: 1 }, () => {});
  const t = performance.now();
  await vm.boot(image, accel, 120_000);
  return { vm, agent: vm.agent!, driver: new ProviumDriver(vm), bootMs: performance.now() - t, accel, image };
}
