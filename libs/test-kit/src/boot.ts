// Booting guests outside a test run (bench, chaos, the libraries' own tests): the image of a
// profile with the real agent, in the normal cache, on the accelerator the run would pick.
import { agentEntry } from "@provium/agent";
import { GuestVm, type Profile } from "@provium/host-runtime";
import { cacheRoot, chooseAccel, ensureDebianKernel, prepareImage, type BootImage, type DebianKernel } from "@provium/vmm";

/** A profile's image (kernel, initrd with the agent, command line), built once per process. */
export function imageOf(profile: Profile, cacheDir = cacheRoot(), onProgress: (msg: string) => void = () => {}): Promise<BootImage> {
  return prepareImage(profile, { cacheDir, agentEntry, onProgress });
}

/** The accelerator a run would use here (PROVIUM_ACCEL overrides, as for the CLI). */
export function accelHere(cacheDir = cacheRoot()) {
  return chooseAccel((process.env.PROVIUM_ACCEL as "auto" | "kvm" | "tcg" | undefined) ?? "auto", { cacheDir });
}

/** One VM of `profile`, booted to agent ready; bootMs is the wall time of boot() alone. */
export async function bootGuestVm(profile: Profile, name = "kit", o: { memoryMiB?: number; cpus?: number } = {}) {
  const [image, accel] = await Promise.all([imageOf(profile), accelHere()]);
  const vm = new GuestVm({ name, profile: profile.name, memoryMiB: o.memoryMiB ?? 512, cpus: o.cpus ?? 1 }, () => {});
  const t = performance.now();
  await vm.boot(image, accel, 120_000);
  return { vm, bootMs: performance.now() - t, accel, image };
}

// Debian's kernel, fetched once per process into the normal cache (or $PROVIUM_TEST_KERNEL_CACHE).
let kernelP: Promise<DebianKernel> | null = null;
export function sharedKernel(): Promise<DebianKernel> {
  kernelP ??= ensureDebianKernel({ cacheDir: process.env.PROVIUM_TEST_KERNEL_CACHE ?? cacheRoot() });
  return kernelP;
}
