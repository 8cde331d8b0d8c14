// Host directories in the guest over virtio-9p (QEMU's local fsdev, security_model=none: no
// root needed; files the guest makes belong to the user running QEMU). guest-init.sh mounts
// each one before the agent starts, from `provium.share=TAG,DIR[,ro]` on the command line.
import * as fs from "node:fs";

export interface ShareOptions {
  /** the host directory */
  path: string;
  /** where the guest mounts it (absolute; no spaces or commas: it travels on the command line) */
  mount: string;
  /** the guest can read only (QEMU refuses writes too: EROFS) */
  readOnly?: boolean;
}

/** QEMU parses "key=value,key=value": a comma inside a value is written ",,". */
const qv = (s: string) => s.replace(/,/g, ",,");
const tag = (i: number) => `provium${i}`;

export function checkShare(s: ShareOptions): void {
  if (!/^\/[^\s,]*$/.test(s.mount)) throw new Error(`share mount point must be an absolute guest path without spaces or commas, got ${JSON.stringify(s.mount)}`);
  let dir = false;
  try {
    dir = fs.statSync(s.path).isDirectory();
  } catch {}
  if (!dir) throw new Error(`share ${s.mount}: host directory not found: ${s.path}`);
}

export function shareArgs(shares: readonly ShareOptions[]): string[] {
  return shares.flatMap((s, i) => [
    "-fsdev", `local,id=fs${i},path=${qv(s.path)},security_model=none${s.readOnly ? ",readonly=on" : ""}`,
    "-device", `virtio-9p-pci,fsdev=fs${i},mount_tag=${tag(i)}`,
  ]);
}

export function shareCmdline(shares: readonly ShareOptions[]): string {
  return shares.map((s, i) => `provium.share=${tag(i)},${s.mount}${s.readOnly ? ",ro" : ""}`).join(" ");
}
