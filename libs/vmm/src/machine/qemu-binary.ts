// Locating qemu-system-x86_64, with the one error message users need when it is missing.
import * as fs from "node:fs";

export const QEMU_MISSING =
  "qemu-system-x86_64 not found: install it (Debian/Ubuntu: apt-get install qemu-system-x86)";

/** Absolute path of the QEMU binary (explicit path, $PROVIUM_QEMU, or PATH), else a clear error. */
export function findQemu(qemuBinary?: string): string {
  const want = qemuBinary ?? process.env.PROVIUM_QEMU ?? "qemu-system-x86_64";
  const found = want.includes("/") ? (isExecutable(want) ? want : null) : Bun.which(want, { PATH: process.env.PATH ?? "" });
  if (!found) throw new Error(want === "qemu-system-x86_64" ? QEMU_MISSING : `${want}: ${QEMU_MISSING}`);
  return found;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
