// The host programs Provium runs, where to find them, and for each the one sentence that tells
// a user how to get it. An image build or a boot that stops for a missing program and the line
// `provium doctor` prints for it are these same words.
import * as fs from "node:fs";
import * as path from "node:path";

/** The command that installs Debian/Ubuntu packages. */
export function aptInstall(...packages: string[]): string {
  return `sudo apt-get install -y ${packages.join(" ")}`;
}

/** "<what> not found: [<why>; ]install it (Debian/Ubuntu: sudo apt-get install -y <pkg>)" */
export function notFound(what: string, pkg: string, why?: string): string {
  return `${what} not found: ${why ? `${why}; ` : ""}install it (Debian/Ubuntu: ${aptInstall(pkg)})`;
}

export interface HostTool {
  program: string;
  /** the Debian/Ubuntu package that has it */
  pkg: string;
  /** the sentence for its absence */
  missing: string;
  /** also look in the sbin directories (not on a normal user's PATH) */
  sbin?: boolean;
}

const tool = (program: string, pkg: string, why?: string, sbin?: boolean): HostTool => ({ program, pkg, missing: notFound(program, pkg, why), ...(sbin ? { sbin } : {}) });

export const QEMU = tool("qemu-system-x86_64", "qemu-system-x86");
export const QEMU_MISSING = QEMU.missing;
export const QEMU_IMG = tool("qemu-img", "qemu-utils", "copy-on-write disks (Debian images, snapshots of VMs with disks) need it");
export const MKE2FS = tool("mke2fs", "e2fsprogs", "disk images (the agent disk, Debian images) need it", true);
export const MMDEBSTRAP = tool("mmdebstrap", "mmdebstrap", "Debian images need it", true);
export const ZSTD = tool("zstd", "zstd", "compressed snapshots (the fixture cache) need it");
/** busybox must be a static build: it runs before any library exists in the guest (see findStaticBusybox). */
export const BUSYBOX = { program: "busybox", pkg: "busybox-static", missing: notFound("static busybox", "busybox-static", "every guest's init runs it") };

/** The tool's absolute path, or null. PATH is read at each call (tests and doctor change it). */
export function whichTool(t: HostTool): string | null {
  const PATH = `${process.env.PATH ?? ""}${t.sbin ? ":/usr/local/sbin:/usr/sbin:/sbin" : ""}`;
  return Bun.which(t.program, { PATH });
}

/** The tool's absolute path, else an Error with its sentence. */
export function requireTool(t: HostTool): string {
  const p = whichTool(t);
  if (!p) throw new Error(t.missing);
  return p;
}

/** Absolute path of the QEMU binary (explicit path, $PROVIUM_QEMU, or PATH), else a clear error. */
export function findQemu(qemuBinary?: string): string {
  const want = qemuBinary ?? process.env.PROVIUM_QEMU ?? QEMU.program;
  const found = want.includes("/") ? (isExecutable(want) ? want : null) : Bun.which(want, { PATH: process.env.PATH ?? "" });
  if (!found) throw new Error(want === QEMU.program ? QEMU_MISSING : `${want}: ${QEMU_MISSING}`);
  return found;
}

/** qemu-img from the same installation as `qemu` when it is there, else from PATH. */
export function findQemuImg(qemu?: string): string {
  const beside = qemu && path.join(path.dirname(qemu), QEMU_IMG.program);
  if (beside && isExecutable(beside)) return beside;
  return requireTool(QEMU_IMG);
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
