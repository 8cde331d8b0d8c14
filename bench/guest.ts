// Boots a guest for benchmarks through the same path the runner uses.
import { builtinProfiles } from "@provium/host-runtime";
import { bootGuestVm } from "@provium/test-kit";
import { ProviumDriver } from "./provium";

export async function bootGuest(name = "bench", profile = builtinProfiles.minimal!) {
  const { vm, bootMs, accel, image } = await bootGuestVm(profile, name);
  return { vm, agent: vm.agent!, driver: new ProviumDriver(vm), bootMs, accel, image };
}
