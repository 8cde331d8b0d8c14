// @provium/vmm: kernels, guest images and QEMU VMs for Provium.
export { cacheRoot, contentKey, hashFile, atomicWriteFile, type KeyPart } from "./cache-dir";
export { ensureDebianKernel, type DebianKernel, type EnsureKernelOptions } from "./kernel";
export { ensureAgentBinary, findBun, type EnsureAgentOptions } from "./agent-binary";
export { encodeCpio, cpioChunks, parseCpio, withParents, type CpioEntry, type ParsedCpioEntry } from "./cpio";
export {
  ensureImage,
  buildAgentOverlay,
  agentOverlayEntries,
  agentTreeEntries,
  findStaticBusybox,
  findVirtioModules,
  agentLibraries,
  GUEST_INIT_SCRIPT,
  VIRTIO_MODULES,
  DISK_MODULES,
  type AgentOverlayOptions,
  type EnsureImageOptions,
  type GuestImage,
  type KernelModule,
} from "./initramfs";
export { chooseAccel, accelArgs, kvmUsable, probeAccel, resetAccelCache, type Accel, type AccelRequest, type ChooseAccelOptions } from "./accel";
export { QmpClient, QmpError, type QmpEvent, type QmpConnectOptions } from "./qmp";
export { QemuVm, liveVms, type LaunchOptions, type VmExit, type DriveOptions, type VmDrive } from "./qemu";
export { ensureAgentDisk, type EnsureAgentDiskOptions, type AgentDisk } from "./agent-disk";
export { ensureRootfs, hostRelease, hostAptSources, checkPackageName, type EnsureRootfsOptions, type Rootfs } from "./rootfs";
export { installExitCleanup, onProcessExit, runExitCleanups } from "./exit-cleanup";
export { findQemu, QEMU_MISSING } from "./qemu-binary";
export { saveMemory, loadMemory, openIncoming, INCOMING_ARGS, type IncomingStream, type SaveOptions } from "./migration";
export { ownedTempDir, sweepStaleRunDirs } from "./sweep";
