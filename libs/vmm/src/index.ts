// @provium/vmm: guest images (image/) and the QEMU machines that boot them (machine/).
export { cacheRoot, contentKey, hashFile, atomicWriteFile, type KeyPart } from "./image/cache-dir";
export { ensureDebianKernel, cachedDebianKernel, resolveKernelPackage, type DebianKernel, type EnsureKernelOptions } from "./image/kernel";
export { ensureAgentBinary, findBun, type EnsureAgentOptions } from "./image/agent-binary";
export { encodeCpio, cpioChunks, parseCpio, withParents, type CpioEntry, type ParsedCpioEntry } from "./image/cpio";
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
  POWER_MODULES,
  type AgentOverlayOptions,
  type EnsureImageOptions,
  type GuestImage,
} from "./image/initramfs";
export { ensureAgentDisk, type EnsureAgentDiskOptions, type AgentDisk } from "./image/agent-disk";
export { ensureRootfs, hostRelease, hostAptSources, checkPackageName, type EnsureRootfsOptions, type Rootfs } from "./image/rootfs";
export { RemoteCache, parseRemoteUrl, type RemoteCacheOptions } from "./image/remote-cache";
export { prepareImage, type BootImage, type ImageContext, type Profile } from "./image/boot-image";
export { chooseAccel, accelArgs, kvmUsable, kvmStatus, kvmFix, type KvmStatus, probeAccel, resetAccelCache, type Accel, type AccelRequest, type ChooseAccelOptions } from "./machine/accel";
export { QmpClient, QmpError, type QmpEvent, type QmpConnectOptions } from "./machine/qmp";
export { QemuVm, liveVms, SHM, type LaunchOptions, type VmExit, type DriveOptions, type VmDrive } from "./machine/qemu";
export { installExitCleanup, onProcessExit, runExitCleanups } from "./machine/exit-cleanup";
export {
  findQemu,
  findQemuImg,
  whichTool,
  requireTool,
  aptInstall,
  notFound,
  QEMU,
  QEMU_MISSING,
  QEMU_IMG,
  MKE2FS,
  MMDEBSTRAP,
  ZSTD,
  BUSYBOX,
  type HostTool,
} from "./host-tools";
export { saveMemory, loadMemory, openIncoming, INCOMING_ARGS, type IncomingStream, type SaveOptions } from "./machine/migration";
export { ownedTempDir, sweepStaleRunDirs, LazyTempDir } from "./machine/sweep";
export { ConsoleHost } from "./machine/console";
export { resetMachine, pressPowerButton, waitExit } from "./machine/power";
export { HotDisk, createRawDisk, imageFormat, DISK_FAULTS, SECTOR_BYTES, type DiskFault, type HotDiskOptions } from "./machine/disks";
export { bootFileEntries, writeInitrdWithFiles, type BootFile } from "./machine/boot-files";
export { kernelCmdline, MAX_CMDLINE_BYTES, type GuestEnd } from "./machine/qemu";
export { DIE_WITH_PARENT, type NicOptions } from "./machine/qemu";
export type { ShareOptions } from "./machine/shares";
export { NET_MODULES, SHARE_MODULES, imageModules } from "./image/initramfs";
export { moduleClosure, moduleDepends, moduleFiles, builtinModules, type KernelModule } from "./image/kernel-modules";
export { resolveKernelSource, requireDrivers, driverState, kernelIdentity, AGENT_DRIVERS, DISK_DRIVERS, SHARE_DRIVERS, type KernelSource, type KernelDriver } from "./image/kernel-source";
