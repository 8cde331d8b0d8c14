// Power events from the host side: a hard reset and the ACPI power button.
import type { QemuVm } from "./qemu";

/**
 * Reboots the guest in place (same QEMU, same sockets) and resolves once `ready()` does (the
 * caller's "agent is back"). QEMU runs with -no-reboot, which turns a reset into an exit, so
 * resets are allowed for the duration: the firmware itself resets the guest twice ~50 ms
 * after ours, and a guest reboot or panic during that window must not end QEMU either. Back to
 * -no-reboot once the guest is up, whatever happened.
 */
export async function resetMachine(vm: QemuVm, ready: () => Promise<void>): Promise<void> {
  await vm.qmp.execute("set-action", { reboot: "reset" });
  try {
    await vm.qmp.execute("system_reset");
    await ready();
  } finally {
    if (vm.exitStatus === null) await vm.qmp.execute("set-action", { reboot: "shutdown" }).catch(() => {});
  }
}

/**
 * Presses the ACPI power button. guest-init runs busybox acpid, which powers the guest off on
 * it; QEMU then exits with SHUTDOWN reason "guest-shutdown" (vm.guestEnd = "poweroff").
 * Resolves when QEMU took the press, not when the guest is down (see waitExit).
 */
export async function pressPowerButton(vm: QemuVm): Promise<void> {
  await vm.qmp.execute("system_powerdown");
}

/** Resolves true when QEMU exits within `ms`, false otherwise. */
export async function waitExit(vm: QemuVm, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const r = await Promise.race([vm.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)))]);
  clearTimeout(timer);
  return r;
}
