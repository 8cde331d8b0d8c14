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
import { ensureRootfs } from "./rootfs";

/** What a profile says about its image (provium.toml's `[profiles.NAME]`, resolved). */
export interface Profile {
  name: string;
  kernel?: string; // absent: Debian's cloud kernel
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
  let p = prepared.get(profile.name);
  if (!p) {
    p = build(profile, ctx);
    prepared.set(profile.name, p);
    p.catch(() => prepared.delete(profile.name)); // a failed build is retried next time
  }
  return p;
}

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
  let moduleDir: string | undefined;
  if (!kernel) ({ kernel, moduleDir } = await ensureDebianKernel({ cacheDir, onProgress, remote }));
  if (!profile.injectAgent) {
    if (!initrd) throw new Error(`${profile.origin}: inject_agent = false needs an initrd that starts the agent itself`);
    return { kernel, initrd, cmdline: profile.cmdline };
  }
  const agentBinary = await ensureAgentBinary({ cacheDir, entry: agentEntry, onProgress, remote });
  if (!initrd && moduleDir) {
    // Our kernel and our initramfs alone (the minimal profile): the agent comes from a small
    // read-only disk instead of the initramfs, so the ~110 MB binary is not unpacked into RAM
    // (only the pages it runs from are read in): snapshots shrink by ~65 MB and restore faster.
    const [image, disk] = await Promise.all([
      ensureImage({ cacheDir, kernel, injectAgent: true, agentOnDisk: true, moduleDir, extraModules: [...DISK_MODULES, ...NET_MODULES], onProgress, remote }),
      ensureAgentDisk({ cacheDir, agentBinary, onProgress, remote }),
    ]);
    return {
      kernel: image.kernel,
      initrd: image.initrd!,
      cmdline: ["provium.agent=/dev/vda", profile.cmdline].filter(Boolean).join(" "),
      drives: [{ file: disk.image, format: "raw", readOnly: true }],
    };
  }
  const image = await ensureImage({ cacheDir, kernel, initrd, injectAgent: true, agentBinary, moduleDir, onProgress, remote });
  return { kernel: image.kernel, initrd: image.initrd!, cmdline: profile.cmdline };
}

// A Debian image: the usual kernel with a small initramfs (busybox, virtio_blk) that mounts the
// root disk (a shared base behind a per-VM overlay), mounts the agent disk on its /provium and
// switches into it (guest-init.sh). Each part is cached by its own inputs; the root filesystem
// builds while the agent does.
async function buildDebian(profile: Profile, packages: string[], { cacheDir, agentEntry, onProgress, remote }: ImageContext): Promise<BootImage> {
  const boot = (async () => {
    const { kernel, moduleDir } = await ensureDebianKernel({ cacheDir, onProgress, remote });
    return ensureImage({ cacheDir, kernel, injectAgent: true, agentOnDisk: true, moduleDir, extraModules: [...DISK_MODULES, ...NET_MODULES], onProgress, remote });
  })();
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
  };
}
