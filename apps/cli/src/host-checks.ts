// What this host has and lacks for the profiles a project may boot: one check per piece, each
// with the sentence for a missing one (the words @provium/vmm throws when it meets the gap, so a
// boot, a run and `provium doctor` all say the same thing) and the package that fills it.
// `provium doctor` prints every check; a run that boots VMs stops at once on the required
// pieces that cost nothing to check (QEMU, busybox, mke2fs), before any worker starts.
import { existsSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import {
  BUSYBOX,
  cachedDebianKernel,
  findBun,
  findQemu,
  findQemuImg,
  findStaticBusybox,
  kvmFix,
  kvmStatus,
  MKE2FS,
  MMDEBSTRAP,
  QEMU,
  QEMU_IMG,
  resolveKernelPackage,
  whichTool,
  ZSTD,
  type HostTool,
} from "@provium/vmm";
import type { Config, Profile } from "./config";
import { discoverBy } from "./discover";

export type Level = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  level: Level;
  detail: string;
  /** the Debian/Ubuntu package that fills a gap */
  pkg?: string;
}

/** A piece a run cannot do without is missing: a clear sentence, exit 2, no stack trace. */
export class HostError extends Error {}

/**
 * The profiles a project may boot: those its provium.toml defines, and the built-in `minimal`
 * (what the scaffolded test and most suites boot) unless the project brings its own guests (a
 * profile with inject_agent = false): such a project is taken at its word. The built-in
 * `debian` counts only through a recipe based on it; a test that boots it directly meets the
 * Debian tools' sentences at its first boot instead.
 */
export function profilesInPlay(config: Config): Profile[] {
  const own = Object.values(config.profiles).filter((p) => p.origin !== "built in");
  const ownGuests = own.some((p) => !p.injectAgent);
  return ownGuests || !config.profiles.minimal ? own : [config.profiles.minimal, ...own];
}

export interface Needs {
  /** the agent is injected: busybox runs the guest's init */
  busybox: boolean;
  /** mke2fs: the agent disk (our kernel and initramfs alone) or a Debian root filesystem */
  mke2fs: boolean;
  /** Debian's cloud kernel, fetched with apt-get download */
  kernel: boolean;
  /** Debian images: mmdebstrap, and qemu-img for each VM's copy-on-write overlay */
  debian: boolean;
  /** *.fixture.lua under the roots: fixture snapshots are zstd-compressed */
  fixtures: boolean;
}

export function needsOf(config: Config, ps = profilesInPlay(config)): Needs {
  const debian = ps.some((p) => !!p.rootfs);
  return {
    busybox: ps.some((p) => p.injectAgent),
    mke2fs: debian || ps.some((p) => p.injectAgent && !p.kernel && !p.initrd),
    kernel: ps.some((p) => !p.kernel),
    debian,
    fixtures: config.file !== null && hasFixtures(config),
  };
}

function hasFixtures(config: Config): boolean {
  try {
    return discoverBy(config.roots.length ? config.roots : [config.dir], ".fixture.lua").length > 0;
  } catch {
    return false; // a missing root is the run's error to report, not doctor's
  }
}

// A missing piece fails only when the project needs it; otherwise it is a warning saying when it would.
function missing(name: string, sentence: string, pkg: string | undefined, needed: boolean, onlyFor: string): Check {
  return needed ? { name, level: "fail", detail: sentence, pkg } : { name, level: "warn", detail: `${sentence} (only ${onlyFor})`, pkg };
}

export function checkQemu(): Check {
  try {
    return { name: "QEMU", level: "ok", detail: findQemu() };
  } catch (e) {
    return { name: "QEMU", level: "fail", detail: (e as Error).message, pkg: QEMU.pkg };
  }
}

export function checkBusybox(needs: Needs): Check {
  try {
    return { name: "busybox", level: "ok", detail: `${findStaticBusybox()} (static)` };
  } catch (e) {
    return missing("busybox", (e as Error).message, BUSYBOX.pkg, needs.busybox, "for profiles that inject the agent");
  }
}

function checkTool(name: string, t: HostTool, needed: boolean, onlyFor: string, find: () => string | null = () => whichTool(t)): Check {
  const p = find();
  return p ? { name, level: "ok", detail: p } : missing(name, t.missing, t.pkg, needed, onlyFor);
}

export const checkMke2fs = (needs: Needs) => checkTool("e2fsprogs", MKE2FS, needs.mke2fs, "for the agent disk and Debian images");

/**
 * The checks a run makes before it starts any worker (synchronous, no process spawned), for the
 * profiles it may boot (default: those in play; `repl` and `console` name theirs).
 */
export function requireHost(config: Config, profiles?: Profile[]): void {
  const needs = needsOf(config, profiles);
  for (const c of [checkQemu(), checkBusybox(needs), checkMke2fs(needs)]) if (c.level === "fail") throw new HostError(c.detail);
}

/** Every check `provium doctor` prints, in order. */
export async function allChecks(config: Config, cacheDir: string): Promise<Check[]> {
  const needs = needsOf(config);
  const qemu = checkQemu();
  if (qemu.level === "ok") qemu.detail = `${qemuVersion(qemu.detail)} (${qemu.detail})`;
  return [
    qemu,
    checkTool("qemu-img", QEMU_IMG, needs.debian, "for Debian images and snapshots of VMs with disks", () => {
      try {
        return findQemuImg(qemu.level === "ok" ? findQemu() : undefined);
      } catch {
        return null;
      }
    }),
    await checkKvm(cacheDir, qemu.level === "ok"),
    checkBusybox(needs),
    checkMke2fs(needs),
    checkTool("mmdebstrap", MMDEBSTRAP, needs.debian, "for Debian images (base = \"debian\")"),
    await checkKernel(cacheDir, needs),
    checkTool("zstd", ZSTD, needs.fixtures, "for fixtures (*.fixture.lua)"),
    checkCacheSpace(cacheDir),
    checkBun(),
  ];
}

function qemuVersion(qemu: string): string {
  const r = Bun.spawnSync([qemu, "--version"], { stdout: "pipe", stderr: "pipe" });
  return /version (\S+)/.exec(r.stdout.toString())?.[1] ?? "(version unknown)";
}

// KVM only makes guests faster: without it they run under TCG, so its absence is a warning.
async function checkKvm(cacheDir: string, haveQemu: boolean): Promise<Check> {
  const env = process.env.PROVIUM_ACCEL;
  const forced = env && env !== "auto" ? ` (PROVIUM_ACCEL=${env} decides for runs)` : "";
  const device = "/dev/kvm";
  const tcg = "guests run under TCG, several times slower";
  const status = haveQemu ? await kvmStatus({ cacheDir }) : null;
  if (!status) return { name: "KVM", level: "warn", detail: "not checked: the probe guest needs QEMU" };
  if (status.kind === "usable") return { name: "KVM", level: "ok", detail: `${device} usable${forced}` };
  if (status.kind === "probe-failed")
    return { name: "KVM", level: "warn", detail: `${device} opens, but a probe guest does not run under it (it hangs or QEMU fails: nested virtualization?): ${tcg}; to use KVM, ${kvmFix("probe-failed")}${forced}` };
  const what = status.reason === "ENOENT" ? `no ${device}` : `${device} is not usable (${status.reason})`;
  return { name: "KVM", level: "warn", detail: `${what}: ${tcg}; to use KVM, ${kvmFix(status.reason, device)}${forced}` };
}

async function checkKernel(cacheDir: string, needs: Needs): Promise<Check> {
  const cached = cachedDebianKernel(cacheDir);
  if (cached) return { name: "kernel", level: "ok", detail: `${cached.version} in the cache` };
  try {
    const pkg = await resolveKernelPackage();
    return { name: "kernel", level: "ok", detail: `${pkg}: fetched with apt-get download on the first run` };
  } catch (e) {
    return missing("kernel", (e as Error).message, undefined, needs.kernel, "for profiles without their own kernel");
  }
}

// A first run caches the kernel (~100 MB unpacked), the agent (~110 MB) and its disk; each Debian
// image and fixture adds a few hundred MB.
const GiB = 1024 ** 3;
const FAIL_BELOW = 0.5 * GiB;
const WARN_BELOW = 2 * GiB;

function checkCacheSpace(cacheDir: string): Check {
  let dir = cacheDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const st = statfsSync(dir);
    const free = st.bavail * st.bsize;
    const detail = `${(free / GiB).toFixed(1)} GiB free for ${cacheDir}`;
    if (free < FAIL_BELOW) return { name: "cache", level: "fail", detail: `${detail}: a first run needs about 0.5 GiB (set PROVIUM_CACHE_DIR or provium.cache_dir elsewhere, or free space)` };
    if (free < WARN_BELOW) return { name: "cache", level: "warn", detail: `${detail}: Debian images and fixtures take a few hundred MB each` };
    return { name: "cache", level: "ok", detail };
  } catch (e) {
    return { name: "cache", level: "warn", detail: `cannot tell the free space for ${cacheDir}: ${(e as Error).message}` };
  }
}

function checkBun(): Check {
  try {
    return { name: "Bun", level: "ok", detail: `${Bun.version} (${findBun()}; it compiles the guest agent)` };
  } catch (e) {
    return { name: "Bun", level: "fail", detail: (e as Error).message };
  }
}
