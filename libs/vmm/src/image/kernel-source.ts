// A kernel by path (`--kernel PATH`, a profile's `kernel`, a matrix entry): a bzImage, a kernel
// build tree, or an unpacked kernel package, resolved to the image QEMU boots, the modules dir
// the guest's drivers come from and the kernel's config (to tell a driver that is built in from
// one that is missing). Errors name what is missing and what to run.
import * as fs from "node:fs";
import * as path from "node:path";
import { contentKey, hashFile } from "./cache-dir";
import { builtinModules, moduleFiles } from "./kernel-modules";

export interface KernelSource {
  /** what QEMU's -kernel gets */
  kernel: string;
  /** lib/modules/<ver>, when the kernel comes with modules */
  moduleDir?: string;
  /** the kernel's .config / boot/config-<ver>, parsed (CONFIG_X -> "y" | "m" | value), when found */
  config?: Map<string, string>;
  kind: "image" | "build tree" | "package";
  /** the path as given */
  given: string;
}

/** A driver the guest needs: its module name and the option that builds it. */
export interface KernelDriver {
  module: string;
  option: string;
}

/** What every guest needs: the PCI transport and the agent's port. */
export const AGENT_DRIVERS: KernelDriver[] = [
  { module: "virtio_pci", option: "CONFIG_VIRTIO_PCI" },
  { module: "virtio_console", option: "CONFIG_VIRTIO_CONSOLE" },
];
/** What a disk image (a root disk, the agent disk) needs besides. */
export const DISK_DRIVERS: KernelDriver[] = [
  { module: "virtio_blk", option: "CONFIG_VIRTIO_BLK" },
  { module: "ext4", option: "CONFIG_EXT4_FS" },
];
/** What `shares` (virtio-9p) needs. */
export const SHARE_DRIVERS: KernelDriver[] = [
  { module: "9p", option: "CONFIG_9P_FS" },
  { module: "9pnet_virtio", option: "CONFIG_NET_9P_VIRTIO" },
];

const isBzImage = (file: string) => {
  try {
    const fd = fs.openSync(file, "r");
    const buf = Buffer.alloc(4);
    fs.readSync(fd, buf, 0, 4, 0x202);
    fs.closeSync(fd);
    return buf.toString("latin1") === "HdrS"; // the x86 boot protocol's header signature
  } catch {
    return false;
  }
};

function parseConfig(file: string): Map<string, string> | undefined {
  if (!fs.existsSync(file)) return undefined;
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

// The lib/modules/<ver> under `root` (INSTALL_MOD_PATH); `release` picks one when there are several.
function modulesUnder(root: string, release: string | undefined, where: string): string | undefined {
  const dir = path.join(root, "lib", "modules");
  if (!fs.existsSync(dir)) return undefined;
  const versions = fs.readdirSync(dir).filter((v) => fs.statSync(path.join(dir, v)).isDirectory());
  if (release && versions.includes(release)) return path.join(dir, release);
  if (versions.length === 1) return path.join(dir, versions[0]!);
  if (!versions.length) return undefined;
  throw new Error(`${where}: ${dir} holds modules of several kernels (${versions.join(", ")}); point at one kernel image (boot/vmlinuz-<version>)`);
}

/** Resolves a kernel path, or throws naming what is missing. `where` prefixes messages (e.g. "--kernel"). */
export function resolveKernelSource(given: string, where = "kernel"): KernelSource {
  const at = path.resolve(given);
  if (!fs.existsSync(at)) throw new Error(`${where}: ${given} does not exist`);
  if (fs.statSync(at).isFile()) {
    // A bzImage alone, or one inside an unpacked package (boot/vmlinuz-<ver> beside lib/modules/<ver>).
    if (!isBzImage(at)) throw new Error(`${where}: ${given} is not a bzImage (no x86 boot header: a vmlinux or another architecture's image?); a build tree has it at arch/x86/boot/bzImage`);
    const version = /^vmlinuz-(.+)$/.exec(path.basename(at))?.[1];
    const root = path.dirname(path.dirname(at));
    const moduleDir = version && path.basename(path.dirname(at)) === "boot" ? modulesUnder(root, version, where) : undefined;
    const config = version ? parseConfig(path.join(path.dirname(at), `config-${version}`)) : undefined;
    return { kernel: at, moduleDir, config, kind: moduleDir ? "package" : "image", given };
  }
  const bz = path.join(at, "arch", "x86", "boot", "bzImage");
  const isTree = fs.existsSync(path.join(at, "Kconfig")) || fs.existsSync(path.join(at, "arch", "x86", "boot")) || fs.existsSync(path.join(at, ".config"));
  if (isTree) {
    if (!fs.existsSync(bz)) throw new Error(`${where}: ${given} is a kernel build tree without arch/x86/boot/bzImage: run make (e.g. \`make -j$(nproc) bzImage modules\`) in it first`);
    const release = readTrim(path.join(at, "include", "config", "kernel.release"));
    const config = parseConfig(path.join(at, ".config"));
    const moduleDir = modulesUnder(at, release, where);
    if (!moduleDir && config?.get("CONFIG_MODULES") === "y" && [...config.values()].includes("m"))
      throw new Error(`${where}: ${given} builds modules but has none installed: run \`make modules_install INSTALL_MOD_PATH=${given}\` (Provium reads ${path.join(given, "lib", "modules", release ?? "<release>")})`);
    return { kernel: bz, moduleDir, config, kind: "build tree", given };
  }
  const bootDir = path.join(at, "boot");
  const images = fs.existsSync(bootDir) ? fs.readdirSync(bootDir).filter((f) => f.startsWith("vmlinuz-")) : [];
  if (!images.length) throw new Error(`${where}: ${given} is neither a kernel image (bzImage), a kernel build tree (arch/x86/boot/bzImage) nor an unpacked kernel package (boot/vmlinuz-*, lib/modules/*)`);
  if (images.length > 1) throw new Error(`${where}: ${given} holds several kernels (${images.map((i) => `boot/${i}`).join(", ")}): point at one of them`);
  return { ...resolveKernelSource(path.join(bootDir, images[0]!), where), given };
}

function readTrim(file: string) {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined;
}

/**
 * How `driver` is there: "builtin" or "module", "missing", or "unknown" (a bare bzImage: no
 * config to tell, the boot will show).
 */
export function driverState(src: KernelSource, d: KernelDriver): "builtin" | "module" | "missing" | "unknown" {
  if (src.moduleDir && moduleFiles(src.moduleDir).has(d.module)) return "module";
  if (src.moduleDir && builtinModules(src.moduleDir).has(d.module)) return "builtin";
  const v = src.config?.get(d.option);
  if (v === "y") return "builtin";
  if (src.config || src.moduleDir) return "missing";
  return "unknown";
}

/** Throws naming each of `drivers` the kernel has neither built in nor as a module. `why`: what needs them. */
export function requireDrivers(src: KernelSource, drivers: readonly KernelDriver[], why: string, where = "kernel"): void {
  const missing = drivers.filter((d) => driverState(src, d) === "missing");
  if (!missing.length) return;
  const m = missing.map((d) => `${d.module} (${d.option}${src.config?.get(d.option) === "m" ? "=m, but no module file: run make modules_install" : ""})`);
  throw new Error(`${where}: ${src.given} has ${missing.length > 1 ? "drivers" : "a driver"} ${why} needs neither built in nor as a module: ${m.join(", ")}; build the kernel with ${missing.map((d) => `${d.option}=y or =m`).join(" and ")}`);
}

/**
 * A kernel's identity for fixture keys: its image's bytes and its modules' names and sizes
 * (hashing ~400 MB of modules per run would cost more than it catches; no mtimes, so a checkout
 * elsewhere has the same key).
 */
export function kernelIdentity(given: string): string {
  const src = resolveKernelSource(given);
  const mods = src.moduleDir ? [...moduleFiles(src.moduleDir).entries()].map(([n, f]) => `${n}:${fs.statSync(f).size}`).sort() : [];
  return contentKey([hashFile(src.kernel), ...mods]);
}
