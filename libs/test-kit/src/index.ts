// @provium/test-kit: what bench/, chaos/ and the packages' own tests share to boot guests
// outside a test run: the real agent's images, busybox reference guests (the floor, qemu-ga,
// hostile guests' prelude) and a shell "agent" on the port. Private to this repository.
export { imageOf, accelHere, bootGuestVm, sharedKernel } from "./boot";
export * from "./reference-guests";
export { ShellGuest, shellImage, SHELL_AGENT } from "./shell-guest";
