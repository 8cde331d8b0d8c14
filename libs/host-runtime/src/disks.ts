// vm:attach_disk and vm:disk(id): the disks a test plugs into a running VM (libs/vmm's
// HotDisk). A disk made from a size lives in the VM's run dir, so it goes with the VM, at
// shutdown, at exit and after a SIGKILL (the next run's sweep). attach returns once the guest
// sees the device, and says where: disks are named in probe order, found by serial.
import { createRawDisk, DISK_FAULTS, HotDisk, type DiskFault, type QemuVm } from "@provium/vmm";
import type { AgentClient } from "@provium/protocol";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** What the disks need of their VM (GuestVm, which owns them): its agent, its QEMU, its name. */
export interface DiskOwner {
  readonly spec: { name: string };
  ready(): AgentClient;
  machine(): QemuVm;
  consoleExcerpt(): string;
}

export interface DiskSpec {
  size?: number | string;
  path?: string;
  readonly?: boolean;
  id?: string;
}

const UNITS: Record<string, number> = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30, T: 2 ** 40 };

/** Bytes from 4096, "64M", "1G", "512K" (binary units), a whole number of 512-byte sectors. */
export function parseDiskSize(v: unknown): number {
  const m = typeof v === "string" ? /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(v) : null;
  const bytes = typeof v === "number" ? v : m ? Number(m[1]) * UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`disk size must be bytes or a string like "64M" or "1G", got ${JSON.stringify(v)}`);
  if (bytes % 512) throw new Error(`disk size must be a whole number of 512-byte sectors, got ${bytes} bytes`);
  if (bytes > 2 ** 44) throw new Error(`disk size ${v} is over 16T`);
  return bytes;
}

// Waits (5 s at most) for the block device whose serial is the id; prints its /dev path.
const findBySerial = (id: string) =>
  `n=0; while [ $n -lt 250 ]; do for f in /sys/block/*/serial; do [ "$(cat "$f" 2>/dev/null)" = ${id} ] && { d=\${f%/serial}; echo /dev/\${d##*/}; exit 0; }; done; sleep 0.02; n=$((n+1)); done; exit 1`;

export interface AttachedDisk {
  disk: HotDisk;
  device: string;
  /** made by attach_disk({size}): deleted at detach */
  made: boolean;
}

export class VmDisks {
  private disks = new Map<string, AttachedDisk>();
  private count = 0;

  constructor(private readonly vm: DiskOwner) {}

  async attach(spec: DiskSpec): Promise<{ id: string; device: string }> {
    // The spec first: a wrong argument is named as such whatever the VM's state.
    if ((spec.size === undefined) === (spec.path === undefined)) throw new Error("attach_disk: give size (a new empty disk) or path (an image on the host), not both");
    const bytes = spec.size !== undefined ? parseDiskSize(spec.size) : 0;
    if (spec.path !== undefined && !existsSync(String(spec.path))) throw new Error(`attach_disk: host image not found: ${spec.path}`);
    const agent = this.vm.ready();
    const qemu = this.vm.machine();
    let id = spec.id;
    if (id === undefined) do id = `disk${++this.count}`; while (this.disks.has(id));
    if (this.disks.has(id)) throw new Error(`attach_disk: vm ${this.vm.spec.name} already has a disk '${id}'`);
    let file: string;
    const made = spec.size !== undefined;
    if (made) {
      file = join(qemu.runDir, `disk-${id}.raw`);
      if (/^[A-Za-z][A-Za-z0-9_]{0,19}$/.test(id)) createRawDisk(file, bytes);
    } else {
      file = String(spec.path);
      if (!existsSync(file)) throw new Error(`attach_disk: host image not found: ${file}`);
      if (!statSync(file).isFile()) throw new Error(`attach_disk: ${file} is not a regular file`);
    }
    let disk: HotDisk;
    try {
      disk = await HotDisk.attach(qemu, { id, file, readOnly: !!spec.readonly });
    } catch (e) {
      if (made) rmSync(file, { force: true });
      throw new Error(`attach_disk: ${(e as Error).message}`);
    }
    const r = await agent.call({ exec: { argv: ["/bin/sh", "-c", findBySerial(id)] } });
    if (r.exitCode !== 0) {
      await disk.detach().catch(() => {});
      if (made) rmSync(file, { force: true });
      throw new Error(`attach_disk: the guest did not see disk ${id} within 5 s (does its kernel have virtio_blk and ACPI PCI hotplug?)${this.vm.consoleExcerpt()}`);
    }
    const device = new TextDecoder().decode(r.stdout).trim();
    if (!/^\/dev\/[a-z]+[0-9]*$/.test(device)) {
      // the guest is not trusted: what it printed must look like a disk's node
      await disk.detach().catch(() => {});
      if (made) rmSync(file, { force: true });
      throw new Error(`attach_disk: the guest named disk ${id} ${JSON.stringify(device.slice(0, 100))}, not a /dev/NAME path`);
    }
    this.disks.set(id, { disk, device, made });
    return { id, device };
  }

  /** The disk named `id`, raising when there is none. */
  get(id: unknown): AttachedDisk {
    this.vm.machine();
    const d = this.disks.get(String(id));
    if (!d) {
      const known = [...this.disks.keys()].join(", ") || "none";
      throw new Error(`no disk '${id}' on vm ${this.vm.spec.name} (attached: ${known})`);
    }
    return d;
  }

  has(id: unknown): boolean {
    return this.disks.has(String(id));
  }

  async detach(id: unknown) {
    const d = this.get(id);
    await d.disk.detach();
    this.disks.delete(d.disk.id);
    if (d.made) rmSync(d.disk.file, { force: true });
  }

  async fault(id: unknown, kind: unknown) {
    if (!DISK_FAULTS.includes(kind as DiskFault)) throw new Error(`fault_inject: unknown fault ${JSON.stringify(kind)} (known: ${DISK_FAULTS.join(", ")})`);
    await this.get(id).disk.inject(kind as DiskFault);
  }

  /** Hot-plugged disks are not in a snapshot (QEMU's command line has them not): refuse. */
  refuseSnapshot() {
    if (this.disks.size) throw new Error(`vm ${this.vm.spec.name} has attached disks (${[...this.disks.keys()].join(", ")}): detach them before a snapshot`);
  }

  /** The QEMU went away (shutdown, death, restore): its disks with it (their files were in its run dir). */
  forget() {
    for (const d of this.disks.values()) d.disk.detached = true;
    this.disks.clear();
  }
}
