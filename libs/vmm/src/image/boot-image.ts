// Turns a profile into what QEMU boots: kernel, initrd (with the agent overlaid) and
// command line. Each profile is prepared once per process; the parts are cached across runs.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { DriveOptions } from "../machine/qemu";
import { ensureAgentBinary } from "./agent-binary";
import type { RemoteCache } from "./remote-cache";
import { ensureAgentDisk } from "./agent-disk";
import { DISK_MODULES, ensureImage, NET_MODULES } from "./initramfs";
import { ensureDebianKernel } from "./kernel";
import { AGENT_DRIVERS, DISK_DRIVERS, driverState, requireDrivers, resolveKernelSource, SHARE_DRIVERS, type KernelSource } from "./kernel-source";
import { ensureRootfs } from "./rootfs";

/** What a profile says about its image (provium.toml's `[profiles.NAME]`, resolved). */
export interface Profile {
  name: string;
  kernel?: string; // a bzImage, kernel build tree or unpacked kernel package (kernel-source.ts); absent: Debian's cloud kernel
  initrd?: string; // absent: the agent overlay alone is the initrd
  cmdline: string;
  injectAgent: boolean;
  build?: string; // a command run once before the profile's first boot; `{out}` expanded
  origin: string; // where it was defined, for messages
  rootfs?: { packages: string[] }; // Debian images: the whole package list, bases included
}

export interface BootImage {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** disks (the root disk of a Debian image: a shared base behind a per-VM overlay) */
  drives?: DriveOptions[];
  /** why this kernel cannot mount `shares` (no 9p), when it cannot */
  noShares?: string;
}

/** Where images are cached and what goes into them: the agent program is the caller's to name
 *  (the CLI hands over @provium/agent's entry), so this library knows no path outside itself. */
export interface ImageContext {
  cacheDir: string;
  agentEntry: string;
  onProgress: (msg: string) => void;
  /** a shared cache behind the local one: parts are downloaded instead of built, uploaded after */
  remote?: RemoteCache;
}

const prepared = new Map<string, Promise<BootImage>>();

export function prepareImage(profile: Profile, ctx: ImageContext): Promise<BootImage> {
  // By name and kernel: one process runs a profile under several kernels (a matrix, --kernel).
  const key = `${profile.name}\0${profile.kernel ?? ""}`;
  let p = prepared.get(key);
  if (!p) {
    p = build(profile, ctx);
    prepared.set(key, p);
    p.catch(() => prepared.delete(key)); // a failed build is retried next time
  }
  return p;
}

// The kernel a profile boots: its own by path (checked for the drivers the agent needs), else
// Debian's cloud kernel from the cache.
async function kernelOf(profile: Profile, kernel: string | undefined, ctx: ImageContext): Promise<KernelSource> {
  if (!kernel) {
    const k = await ensureDebianKernel({ cacheDir: ctx.cacheDir, onProgress: ctx.onProgress, remote: ctx.remote });
    return { ...resolveKernelSource(k.kernel, "Debian's cloud kernel"), given: `Debian's cloud kernel (${k.version})` };
  }
  const src = resolveKernelSource(kernel, `${profile.origin}.kernel`);
  if (profile.injectAgent) requireDrivers(src, AGENT_DRIVERS, "the agent", `${profile.origin}.kernel`);
  return src;
}

/** Why `src` cannot mount shares (9p), or undefined when it can (or cannot tell: a bare bzImage). */
function noShares(src: KernelSource): string | undefined {
  const missing = SHARE_DRIVERS.filter((d) => driverState(src, d) === "missing");
  if (!missing.length) return undefined;
  const what = src.given.startsWith("Debian's") ? src.given : `the kernel ${src.given}`;
  return `shares need 9p over virtio in the guest kernel, and ${what} lacks ${missing.map((d) => `${d.option} (${d.module})`).join(" and ")}, neither built in nor as a module: use a kernel built with ${SHARE_DRIVERS.map((d) => `${d.option}=y or =m`).join(" and ")} (Debian's generic kernel, linux-image-amd64, has both) with --kernel or a profile's kernel`;
}

// A kernel whose disk drivers are there (built in or modules) can take the agent from a disk.
const hasDiskDrivers = (src: KernelSource) => DISK_DRIVERS.every((d) => ["builtin", "module"].includes(driverState(src, d)));

async function build(profile: Profile, ctx: ImageContext): Promise<BootImage> {
  const { cacheDir, agentEntry, onProgress, remote } = ctx;
  if (profile.rootfs) return buildDebian(profile, profile.rootfs.packages, ctx);
  let { kernel, initrd } = profile;
  if (profile.build) {
    const out = join(cacheDir, "profiles", profile.name);
    mkdirSync(out, { recursive: true });
    const cmd = profile.build.replaceAll("{out}", out);
    onProgress(`building profile ${profile.name}: ${cmd}`);
    const r = Bun.spawnSync(["/bin/sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${profile.origin}.build failed (exit ${r.exitCode}): ${cmd}\n${r.stderr.toString().slice(-2000)}`);
    kernel = kernel?.replaceAll("{out}", out);
    initrd = initrd?.replaceAll("{out}", out);
  }
  for (const [key, path] of [["kernel", kernel], ["initrd", initrd]] as const)
    if (path && !existsSync(path)) throw new Error(`${profile.origin}.${key}: ${path} does not exist`);
  const src = await kernelOf(profile, kernel, ctx);
  const moduleDir = src.moduleDir;
  const shares = { noShares: noShares(src) };
  if (!profile.injectAgent) {
    if (!initrd) throw new Error(`${profile.origin}: inject_agent = false needs an initrd that starts the agent itself`);
    return { kernel: src.kernel, initrd, cmdline: profile.cmdline, ...shares };
  }
  const agentBinary = await ensureAgentBinary({ cacheDir, entry: agentEntry, onProgress, remote });
  if (!initrd && moduleDir && hasDiskDrivers(src)) {
    // Our kernel and our initramfs alone (the minimal profile): the agent comes from a small
    // read-only disk instead of the initramfs, so the ~110 MB binary is not unpacked into RAM
    // (only the pages it runs from are read in): snapshots shrink by ~65 MB and restore faster.
    const [image, disk] = await Promise.all([
      ensureImage({ cacheDir, kernel: src.kernel, injectAgent: true, agentOnDisk: true, moduleDir, extraModules: [...DISK_MODULES, ...NET_MODULES], onProgress, remote }),
      ensureAgentDisk({ cacheDir, agentBinary, onProgress, remote }),
    ]);
    return {
      kernel: image.kernel,
      initrd: image.initrd!,
      cmdline: ["provium.agent=/dev/vda", profile.cmdline].filter(Boolean).join(" "),
      drives: [{ file: disk.image, format: "raw", readOnly: true }],
      ...shares,
    };
  }
  const image = await ensureImage({ cacheDir, kernel: src.kernel, initrd, injectAgent: true, agentBinary, moduleDir, extraModules: moduleDir ? NET_MODULES : undefined, onProgress, remote });
  return { kernel: image.kernel, initrd: image.initrd!, cmdline: profile.cmdline, ...shares };
}

// A Debian image: the usual kernel with a small initramfs (busybox, virtio_blk) that mounts the
// root disk (a shared base behind a per-VM overlay), mounts the agent disk on its /provium and
// switches into it (guest-init.sh). Each part is cached by its own inputs; the root filesystem
// builds while the agent does.
async function buildDebian(profile: Profile, packages: string[], ctx: ImageContext): Promise<BootImage> {
  const { cacheDir, agentEntry, onProgress, remote } = ctx;
  const src = await kernelOf(profile, profile.kernel, ctx);
  if (profile.kernel) requireDrivers(src, DISK_DRIVERS, "a root disk", `${profile.origin}.kernel`);
  const boot = ensureImage({ cacheDir, kernel: src.kernel, injectAgent: true, agentOnDisk: true, moduleDir: src.moduleDir, extraModules: [...DISK_MODULES, ...NET_MODULES], onProgress, remote });
  const agent = (async () => {
    const agentBinary = await ensureAgentBinary({ cacheDir, entry: agentEntry, onProgress, remote });
    return ensureAgentDisk({ cacheDir, agentBinary, onProgress, remote });
  })();
  const rootfs = ensureRootfs({ cacheDir, packages, label: `profile ${profile.name}`, onProgress, remote });
  const [image, agentDisk, root] = await Promise.all([boot, agent, rootfs]);
  return {
    kernel: image.kernel,
    initrd: image.initrd!,
    cmdline: ["provium.root=/dev/vda provium.agent=/dev/vdb", profile.cmdline].filter(Boolean).join(" "),
    drives: [
      { file: root.image, format: "raw", overlay: true },
      { file: agentDisk.image, format: "raw", readOnly: true },
    ],
    noShares: noShares(src),
  };
}
