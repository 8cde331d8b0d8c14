// vm:attach_disk and vm:disk(id): the disks a test plugs into a running VM (libs/vmm's
// HotDisk). A disk made from a size (or copied from a template) lives in the VM's run dir, so
// it goes with the VM, at shutdown, at exit and after a SIGKILL (the next run's sweep). attach
// returns once the guest sees the device, and says where: disks are named in probe order,
// found by serial. The host's sector reads and writes honour the faults in force, as
// upstream's do (eio_read fails reads with EIO, slow adds 50 ms).
import { createRawDisk, DISK_FAULTS, HotDisk, type DiskFault, type QemuVm } from "@provium/vmm";
import type { AgentClient } from "@provium/protocol";
import { copyFileSync, existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** What the disks need of their VM (GuestVm, which owns them): its agent, its QEMU, its name. */
export interface DiskOwner {
  readonly spec: { name: string };
  ready(): AgentClient;
  machine(): QemuVm;
  consoleExcerpt(): string;
}

export interface DiskSpec {
  /** a new blank disk of this many bytes (or "64M") in the VM's run dir */
  size?: number | string;
  /** an image on the host: the guest's writes go to it */
  path?: string;
  /** a host image copied into the VM's run dir: the copy is the disk, the template stays as it was */
  template?: string;
  readonly?: boolean;
  id?: string;
  /** false: the host does not read or write its sectors (upstream's attach_disk({size}): no backing image) */
  hostSectors?: boolean;
}

/** Latency a host-side sector op takes while "slow" is in force (upstream's SLOW_FAULT_MS). */
const SLOW_FAULT_MS = 50;

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
  /** made from a size or a template: deleted at detach */
  made: boolean;
  hostSectors: boolean;
}

export class VmDisks {
  private disks = new Map<string, AttachedDisk>();
  private detached = new Set<string>();
  private count = 0;

  constructor(private readonly vm: DiskOwner) {}

  async attach(spec: DiskSpec): Promise<{ id: string; device: string; size: number }> {
    // The spec first: a wrong argument is named as such whatever the VM's state.
    if ([spec.size, spec.path, spec.template].filter((v) => v !== undefined).length !== 1) throw new Error("attach_disk: give exactly one of size (a new blank disk), path (an image on the host) or template (a copy of one)");
    const hostImage = (f: string) => {
      if (!existsSync(f)) throw new Error(`attach_disk: host image not found: ${f}`);
      if (!statSync(f).isFile()) throw new Error(`attach_disk: ${f} is not a regular file`);
      return f;
    };
    const image = spec.path !== undefined ? hostImage(String(spec.path)) : undefined;
    const template = spec.template !== undefined ? hostImage(String(spec.template)) : undefined;
    const bytes = spec.size !== undefined ? parseDiskSize(spec.size) : 0;
    const agent = this.vm.ready();
    const qemu = this.vm.machine();
    let id = spec.id;
    if (id === undefined) do id = `disk${++this.count}`; while (this.disks.has(id));
    if (this.disks.has(id)) throw new Error(`attach_disk: vm ${this.vm.spec.name} already has a disk '${id}'`);
    const made = image === undefined;
    const file = image ?? join(qemu.runDir, `disk-${id}.raw`);
    if (made && /^[A-Za-z][A-Za-z0-9_]{0,19}$/.test(id)) {
      if (template) copyFileSync(template, file);
      else createRawDisk(file, bytes);
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
    this.disks.set(id, { disk, device, made, hostSectors: spec.hostSectors !== false });
    this.detached.delete(id);
    return { id, device, size: disk.size() };
  }

  /** The disk named `id`, raising when there is none (or it was detached). */
  get(id: unknown, op?: string): AttachedDisk {
    this.vm.machine();
    const d = this.disks.get(String(id));
    if (!d) {
      if (this.detached.has(String(id))) throw new Error(`${op ? `${op}: ` : ""}disk ${id} is detached`);
      const known = [...this.disks.keys()].join(", ") || "none";
      throw new Error(`no disk '${id}' on vm ${this.vm.spec.name} (attached: ${known})`);
    }
    return d;
  }

  has(id: unknown): boolean {
    return this.disks.has(String(id));
  }

  async detach(id: unknown) {
    if (this.detached.has(String(id))) return; // idempotent, through any handle
    const d = this.get(id);
    await d.disk.detach();
    this.disks.delete(d.disk.id);
    this.detached.add(d.disk.id);
    if (d.made) rmSync(d.disk.file, { force: true });
  }

  async fault(id: unknown, kind: unknown) {
    if (!DISK_FAULTS.includes(kind as DiskFault)) throw new Error(`fault_inject: unknown fault ${JSON.stringify(kind)} (known: ${DISK_FAULTS.join(", ")})`);
    await this.get(id, "fault_inject").disk.inject(kind as DiskFault);
  }

  /** The host's view of a disk's sectors, as upstream's: refused without a backing image, EIO
   *  under eio_read/eio_write, 50 ms later under slow. */
  private async sectorDisk(id: unknown, op: "read_sectors" | "write_sectors", eio: DiskFault) {
    const d = this.get(id, op);
    if (!d.hostSectors) {
      throw new Error(
        `${op}: disk ${d.disk.id} has no backing image the host reads: attach_disk({size}) made a blank disk for the guest; give attach_disk an image (a host file), or scratch = SIZE`,
      );
    }
    if (d.disk.has(eio)) throw new Error(`${op}: EIO (fault_inject ${eio} on disk ${d.disk.id})`);
    if (d.disk.has("slow")) {
      await Bun.sleep(SLOW_FAULT_MS);
      if (d.disk.has(eio)) throw new Error(`${op}: EIO (fault_inject ${eio} on disk ${d.disk.id}, set during a slow op)`);
    }
    return d.disk;
  }

  async readSectors(id: unknown, lba: number, count: number) {
    return (await this.sectorDisk(id, "read_sectors", "eio_read")).readSectors(lba, count);
  }

  async writeSectors(id: unknown, lba: number, data: Uint8Array) {
    (await this.sectorDisk(id, "write_sectors", "eio_write")).writeSectors(lba, data);
    return true as const;
  }

  /** Hot-plugged disks are not in a snapshot (QEMU's command line has them not): refuse. */
  refuseSnapshot() {
    if (this.disks.size) throw new Error(`vm ${this.vm.spec.name} has attached disks (${[...this.disks.keys()].join(", ")}): detach them before a snapshot`);
  }

  /** The QEMU went away (shutdown, death, restore): its disks with it (their files were in its run dir). */
  forget() {
    for (const d of this.disks.values()) {
      d.disk.detached = true;
      this.detached.add(d.disk.id);
    }
    this.disks.clear();
  }
}
