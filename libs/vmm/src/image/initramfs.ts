// The guest image: an initramfs "overlay" carrying /init, busybox, the agent with its glibc and
// the virtio modules. Linux unpacks concatenated cpio archives in order, so appending the
// overlay to a user's initrd injects the agent without unpacking theirs. Kept uncompressed:
// decompressing ~100 MB under TCG costs seconds, reading it costs nothing.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RemoteCache } from "./remote-cache";
import { atomicWriteFile, contentKey, DAY_MS, hashFile, markUsed, pruneCache, type KeyPart } from "./cache-dir";
import { cpioChunks, withParents, type CpioEntry } from "./cpio";
import { elfInterpreter, isElf } from "./elf";
import { ensureDebianKernel } from "./kernel";
import { moduleClosure, moduleFiles, readModule, type KernelModule } from "./kernel-modules";
import { aptInstall, BUSYBOX } from "../host-tools";
import GUEST_INIT from "./guest-init.sh" with { type: "text" };

/** The /init script every Provium guest runs (embedded at build time, so a compiled CLI has it). */
export const GUEST_INIT_SCRIPT: string = GUEST_INIT;

/** Load order: each needs the ones before it. */
export const VIRTIO_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_console"] as const;

/**
 * What a root disk needs on top: virtio_blk, ext4 and the crc32c its checksums ask the crypto
 * API for (no modprobe in the guest to load it on demand). Debian's cloud kernel has ext4 and
 * crc32c built in (absent here, so skipped); its generic kernel has them as modules.
 */
export const DISK_MODULES = ["virtio_blk", "crc32c_generic", "ext4"] as const;

/**
 * Power events (shipped in every image, loaded if present): button + evdev make the ACPI power
 * button an input event for busybox acpid; pvpanic tells QEMU about a kernel panic.
 */
export const POWER_MODULES = ["button", "evdev", "pvpanic", "pvpanic_mmio"] as const;
/** What a virtio NIC needs, in load order (guest-init.sh loads them when a NIC is configured). */
export const NET_MODULES = ["failover", "net_failover", "virtio_net"] as const;
/** What `shares` (virtio-9p) need: shipped whenever the kernel has them as modules, loaded only for a boot with shares. */
export const SHARE_MODULES = ["9p", "9pnet_virtio"] as const;

/** A static busybox (it runs before any library exists in the guest), else a clear error. */
export function findStaticBusybox(explicit?: string): string {
  const candidates = explicit ? [explicit] : [Bun.which(BUSYBOX.program, { PATH: process.env.PATH ?? "" }), "/bin/busybox", "/usr/bin/busybox"].filter((p): p is string => !!p);
  for (const c of candidates) {
    if (!fs.existsSync(c)) continue;
    if (!isElf(c) || elfInterpreter(c) === null) return fs.realpathSync(c);
    if (explicit) throw new Error(`${c} is dynamically linked: the guest needs a static busybox (Debian/Ubuntu: ${aptInstall(BUSYBOX.pkg)})`);
  }
  throw new Error(BUSYBOX.missing);
}

/**
 * The named modules from a kernel's lib/modules/<ver> dir, decompressed, in the order given.
 * Modules the kernel doesn't ship (built in) are simply absent; dependencies are not added
 * (imageModules does that).
 */
export function findVirtioModules(moduleDir: string, names: readonly string[] = VIRTIO_MODULES): KernelModule[] {
  const files = moduleFiles(moduleDir);
  return names.flatMap((name) => {
    const file = files.get(name);
    return file ? [{ name, data: readModule(file) }] : [];
  });
}

/**
 * An image's modules by when guest-init.sh loads them, each group dependencies first: `boot`
 * (virtio, power, and what `extra` adds but NICs), `net` (the NIC drivers in `extra`, loaded for
 * a boot with a NIC), `share` (virtio-9p, loaded for a boot with shares). Each group's list goes
 * into /provium/modules/<group>.order.
 */
export function imageModules(moduleDir: string, extra: readonly string[] = []): Record<"boot" | "net" | "share", KernelModule[]> {
  const isNet = (m: string) => (NET_MODULES as readonly string[]).includes(m);
  const boot = moduleClosure(moduleDir, [...VIRTIO_MODULES, ...POWER_MODULES, ...extra.filter((m) => !isNet(m))]);
  const loaded = new Set(boot.map((m) => m.name));
  return { boot, net: moduleClosure(moduleDir, extra.filter(isNet), loaded), share: moduleClosure(moduleDir, SHARE_MODULES, loaded) };
}

function moduleEntries(groups: Record<string, KernelModule[]>): CpioEntry[] {
  const entries: CpioEntry[] = [];
  for (const [group, mods] of Object.entries(groups)) {
    for (const m of mods) entries.push({ type: "file", path: `provium/modules/${m.name}.ko`, data: m.data, mode: 0o644 });
    if (mods.length) entries.push({ type: "file", path: `provium/modules/${group}.order`, data: new TextEncoder().encode(mods.map((m) => m.name).join("\n") + "\n"), mode: 0o644 });
  }
  return entries;
}

/** The loader and shared libraries a dynamic ELF needs (via ldd), or null for static/non-ELF files. */
export function agentLibraries(binary: string): { interp: string; libs: string[] } | null {
  if (!isElf(binary)) return null;
  const interp = elfInterpreter(binary);
  if (!interp) return null;
  if (!Bun.which("ldd", { PATH: process.env.PATH ?? "" })) throw new Error("ldd not found: it is needed to collect the agent's libraries (part of glibc: libc-bin)");
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`ldd ${binary} failed: ${r.stderr.toString().trim()}`);
  const libs: string[] = [];
  for (const line of r.stdout.toString().split("\n")) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m && m[1] !== interp && path.basename(m[1]!) !== path.basename(interp)) libs.push(m[1]!);
  }
  return { interp, libs };
}

export interface AgentOverlayOptions {
  /** required unless agentOnDisk */
  agentBinary?: string;
  /** lib/modules/<ver> of the guest kernel; omit when the kernel has virtio built in */
  moduleDir?: string;
  /** static busybox path (default: found on the host) */
  busybox?: string;
  /** replace the embedded /init (tests) */
  initScript?: string;
  /** modules to ship besides VIRTIO_MODULES (e.g. DISK_MODULES for a root disk) */
  extraModules?: readonly string[];
  /**
   * The agent comes from a disk mounted on /provium after the switch to a root disk
   * (ensureAgentDisk, `provium.agent=` on the command line): the overlay keeps only /init,
   * busybox and the modules, so the kernel has ~110 MB less to unpack.
   */
  agentOnDisk?: boolean;
}

/**
 * The /provium tree the agent runs from: provium/bin/busybox, provium/agent, its loader at
 * provium/lib/ld.so and its libraries in provium/lib (private, so a user rootfs keeps its own
 * glibc untouched), and provium/init (guest-init.sh, run again after switching to a root disk).
 */
export function agentTreeEntries(opts: { agentBinary: string; busybox?: string; initScript?: string }): CpioEntry[] {
  const busybox = findStaticBusybox(opts.busybox);
  const entries: CpioEntry[] = [
    { type: "dir", path: "provium", mode: 0o755 },
    { type: "file", path: "provium/bin/busybox", data: fs.readFileSync(busybox), mode: 0o755 },
    { type: "file", path: "provium/agent", data: fs.readFileSync(opts.agentBinary), mode: 0o755 },
  ];
  const deps = agentLibraries(opts.agentBinary);
  if (deps) {
    entries.push({ type: "file", path: "provium/lib/ld.so", data: fs.readFileSync(deps.interp), mode: 0o755 });
    for (const lib of deps.libs) entries.push({ type: "file", path: `provium/lib/${path.basename(lib)}`, data: fs.readFileSync(lib), mode: 0o755 });
  }
  entries.push({ type: "file", path: "provium/init", data: new TextEncoder().encode(opts.initScript ?? GUEST_INIT_SCRIPT), mode: 0o755 });
  return withParents(entries);
}

/**
 * Entries of the overlay: /init, /provium/bin/busybox, /provium/agent, the agent's loader at
 * /provium/lib/ld.so and its libraries in /provium/lib (private, so a user rootfs keeps its
 * own glibc untouched), /provium/modules/*.ko and /dev/console (the kernel opens it for /init).
 */
export function agentOverlayEntries(opts: AgentOverlayOptions): CpioEntry[] {
  const busybox = findStaticBusybox(opts.busybox);
  const entries: CpioEntry[] = [
    { type: "dir", path: "dev", mode: 0o755 },
    { type: "char", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
  ];
  if (opts.agentOnDisk) {
    entries.push({ type: "dir", path: "provium", mode: 0o755 }, { type: "file", path: "provium/bin/busybox", data: fs.readFileSync(busybox), mode: 0o755 });
  } else {
    if (!opts.agentBinary) throw new Error("agentOverlayEntries: agentBinary is required unless agentOnDisk");
    entries.push(...agentTreeEntries({ agentBinary: opts.agentBinary, busybox, initScript: opts.initScript }));
  }
  if (opts.moduleDir) entries.push(...moduleEntries(imageModules(opts.moduleDir, opts.extraModules)));
  entries.push({ type: "file", path: "init", data: new TextEncoder().encode(opts.initScript ?? GUEST_INIT_SCRIPT), mode: 0o755 });
  return withParents(entries);
}

/** The overlay as one uncompressed newc archive. */
export function buildAgentOverlay(opts: AgentOverlayOptions): Uint8Array {
  return Buffer.concat(cpioChunks(agentOverlayEntries(opts)));
}

/** The overlay's options (moduleDir defaults to the Debian kernel's when `kernel` is defaulted). */
export interface EnsureImageOptions extends AgentOverlayOptions {
  cacheDir: string;
  /** guest kernel; default: Debian's cloud kernel (downloaded and cached) */
  kernel?: string;
  /** user initrd to extend; none = the overlay alone is the initrd (the `minimal` profile) */
  initrd?: string;
  injectAgent: boolean;
  onProgress?: (msg: string) => void;
  /** a shared cache behind the local one (provium.toml's [cache] remote) */
  remote?: RemoteCache;
}

export interface GuestImage {
  kernel: string;
  /** null only when injectAgent is false and no initrd was given */
  initrd: string | null;
  /** sha256 of every input */
  key: string;
}

const IMAGE_FORMAT = "provium-image-v1";

export async function ensureImage(opts: EnsureImageOptions): Promise<GuestImage> {
  let { kernel, moduleDir } = opts;
  if (!kernel) {
    const k = await ensureDebianKernel({ cacheDir: opts.cacheDir, onProgress: opts.onProgress, remote: opts.remote });
    kernel = k.kernel;
    moduleDir ??= k.moduleDir;
  }
  if (!fs.existsSync(kernel)) throw new Error(`kernel not found: ${kernel}`);
  if (opts.initrd && !fs.existsSync(opts.initrd)) throw new Error(`initrd not found: ${opts.initrd}`);
  if (!opts.injectAgent) {
    return { kernel, initrd: opts.initrd ?? null, key: contentKey([IMAGE_FORMAT, "plain", hashFile(kernel), opts.initrd ? hashFile(opts.initrd) : null]) };
  }
  if (!opts.agentBinary && !opts.agentOnDisk) throw new Error("ensureImage: injectAgent needs agentBinary");
  const busybox = findStaticBusybox(opts.busybox);
  const modules: Record<string, KernelModule[]> = moduleDir ? imageModules(moduleDir, opts.extraModules) : {};
  const parts: KeyPart[] = [
    IMAGE_FORMAT,
    hashFile(kernel),
    opts.initrd ? hashFile(opts.initrd) : null,
    opts.agentOnDisk ? "agent-on-disk" : hashFile(opts.agentBinary!),
    hashFile(busybox),
    opts.initScript ?? GUEST_INIT_SCRIPT,
  ];
  for (const [group, mods] of Object.entries(modules)) for (const m of mods) parts.push(group, m.name, contentKey([m.data]));
  // The agent's libraries come from the host: a glibc upgrade must rebuild the image.
  const deps = opts.agentOnDisk ? null : agentLibraries(opts.agentBinary!);
  if (deps) for (const f of [deps.interp, ...deps.libs]) parts.push(path.basename(f), hashFile(f));
  const key = contentKey(parts);

  const dir = path.join(opts.cacheDir, "images");
  const target = path.join(dir, `${key}.initrd`);
  if (fs.existsSync(target)) {
    markUsed(target);
    return { kernel, initrd: target, key };
  }
  if (await opts.remote?.fetch(opts.cacheDir, target, opts.onProgress)) return { kernel, initrd: target, key };
  opts.onProgress?.(`building guest image ${key.slice(0, 12)} (${opts.initrd ? "user initrd + " : ""}agent overlay)`);
  const chunks: Uint8Array[] = [];
  if (opts.initrd) {
    const user = fs.readFileSync(opts.initrd);
    chunks.push(user);
    // The kernel looks for the next archive at a 4-byte boundary, skipping zeros.
    const pad = (512 - (user.length % 512)) % 512;
    if (pad) chunks.push(new Uint8Array(pad));
  }
  chunks.push(...cpioChunks(agentOverlayEntries({ agentBinary: opts.agentBinary, moduleDir, busybox, initScript: opts.initScript, extraModules: opts.extraModules, agentOnDisk: opts.agentOnDisk })));
  atomicWriteFile(target, chunks);
  await opts.remote?.offer(opts.cacheDir, target, opts.onProgress);
  // Each image is ~100 MB: drop ones unused for a week (another run may still be using a fresh one).
  pruneCache(dir, target, [{ match: () => true, afterMs: 7 * DAY_MS }]);
  return { kernel, initrd: target, key };
}


