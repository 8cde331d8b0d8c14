// Disks hot-plugged into a running VM, with faults switched on and off while the guest uses
// them (docs/prototypes/devices.md, item 4). Each disk is a raw "top" node whose `file` child
// is swapped with blockdev-reopen: the image itself (no fault), or the filter for the set of
// faults in force: a blkdebug node failing reads, writes or both with EIO, a throttle node,
// or a blkdebug node over the throttle one. The seven filters (one per non-empty set) are made
// at attach time, so a switch is one QMP command (~3 ms). Swapping under the raw node, never
// under a format driver: qcow2 keeps its data I/O on its own child and ignores the swap.
// The guest finds a disk by its serial (/sys/block/vdX/serial = the id): names follow probe order.
import * as fs from "node:fs";
import type { QemuVm } from "./qemu";

export type DiskFault = "eio_read" | "eio_write" | "slow";
export const DISK_FAULTS: readonly DiskFault[] = ["eio_read", "eio_write", "slow"];
// A set of faults as bits: its filter node is `${id}-f${mask}` (1..7).
const FAULT_BIT: Record<DiskFault, number> = { eio_read: 1, eio_write: 2, slow: 4 };
export const SECTOR_BYTES = 512;
// virtio-blk serials hold 20 bytes; QEMU node names must start with a letter.
const DISK_ID = /^[A-Za-z][A-Za-z0-9_]{0,19}$/;
const EIO = 5;

export interface HotDiskOptions {
  /** the disk's id: QEMU's node names and the serial the guest sees */
  id: string;
  /** the image on the host */
  file: string;
  /** default: qcow2 when the file has qcow2's magic, else raw */
  format?: "raw" | "qcow2";
  readOnly?: boolean;
  /** I/O operations per second while the "slow" fault is on (default 10) */
  slowIops?: number;
}

/** "qcow2" when the file starts with qcow2's magic, else "raw". */
export function imageFormat(file: string): "raw" | "qcow2" {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    return head.toString("latin1") === "QFI\xfb" ? "qcow2" : "raw";
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates a sparse raw image of `bytes` (a whole number of sectors). */
export function createRawDisk(file: string, bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % SECTOR_BYTES) throw new Error(`disk size must be a positive multiple of ${SECTOR_BYTES} bytes, got ${bytes}`);
  const fd = fs.openSync(file, "wx");
  try {
    fs.ftruncateSync(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
}

export class HotDisk {
  readonly id: string;
  readonly file: string;
  readonly format: "raw" | "qcow2";
  readonly readOnly: boolean;
  /** the faults in force */
  private readonly inForce = new Set<DiskFault>();
  detached = false;

  private constructor(
    private readonly vm: QemuVm,
    opts: HotDiskOptions,
    format: "raw" | "qcow2",
  ) {
    this.id = opts.id;
    this.file = opts.file;
    this.format = format;
    this.readOnly = !!opts.readOnly;
  }

  private get devId() {
    return `${this.id}-dev`;
  }
  // The node the filters and the top node read: the format node of a qcow2, the file of a raw image.
  private get imageNode() {
    return this.format === "qcow2" ? `${this.id}-fmt` : `${this.id}-file`;
  }
  private filterNode(mask: number) {
    return `${this.id}-f${mask}`;
  }
  private get throttleGroup() {
    return `${this.id}-tg`;
  }

  /** Plugs the disk into the running VM; the guest sees a new /dev/vdX ~200-300 ms later. */
  static async attach(vm: QemuVm, opts: HotDiskOptions): Promise<HotDisk> {
    if (!DISK_ID.test(opts.id)) throw new Error(`disk id ${JSON.stringify(opts.id)}: letters, digits and _ only, starting with a letter, at most 20 (it is the disk's serial)`);
    if (!fs.existsSync(opts.file)) throw new Error(`disk image not found: ${opts.file}`);
    const format = opts.format ?? imageFormat(opts.file);
    const disk = new HotDisk(vm, opts, format);
    const ro = disk.readOnly ? { "read-only": true } : {};
    const made: { node?: string; object?: string }[] = [];
    const add = async (args: Record<string, unknown>) => {
      await vm.qmp.execute("blockdev-add", { ...args, ...ro });
      made.push({ node: String(args["node-name"]) });
    };
    try {
      await add({ driver: "file", "node-name": `${opts.id}-file`, filename: opts.file });
      if (format === "qcow2") await add({ driver: "qcow2", "node-name": disk.imageNode, file: `${opts.id}-file` });
      await add({ driver: "raw", "node-name": opts.id, file: disk.imageNode });
      // A throttle over the image (4); blkdebug failing reads (1), writes (2) or both (3) over
      // the image, and the same over the throttle (5..7). blkdebug on top: it only sees the
      // read/write events the raw node sends its own child, which a throttle would not pass on.
      await vm.qmp.execute("object-add", { "qom-type": "throttle-group", id: disk.throttleGroup, limits: { "iops-total": opts.slowIops ?? 10 } });
      made.push({ object: disk.throttleGroup });
      await add({ driver: "throttle", "node-name": disk.filterNode(4), "throttle-group": disk.throttleGroup, file: disk.imageNode });
      const rules: Record<number, { event: string; iotype: string }[]> = {
        1: [{ event: "read_aio", iotype: "read" }],
        2: [{ event: "write_aio", iotype: "write" }],
        3: [{ event: "read_aio", iotype: "read" }, { event: "write_aio", iotype: "write" }],
      };
      for (const mask of [1, 2, 3, 5, 6, 7]) {
        const injectError = rules[mask & 3]!.map((r) => ({ ...r, errno: EIO, immediately: true }));
        await add({ driver: "blkdebug", "node-name": disk.filterNode(mask), image: mask & 4 ? disk.filterNode(4) : disk.imageNode, "inject-error": injectError });
      }
      // report: an I/O error goes to the guest, it never pauses the VM (virtio-blk's default for writes is enospc)
      await vm.qmp.execute("device_add", { driver: "virtio-blk-pci", id: disk.devId, drive: opts.id, serial: opts.id, werror: "report", rerror: "report" });
    } catch (e) {
      for (const m of made.reverse()) {
        if (m.node) await vm.qmp.execute("blockdev-del", { "node-name": m.node }).catch(() => {});
        else await vm.qmp.execute("object-del", { id: m.object }).catch(() => {});
      }
      throw e;
    }
    return disk;
  }

  /** The faults in force, sorted. */
  get faults(): DiskFault[] {
    return [...this.inForce].sort();
  }

  has(fault: DiskFault) {
    return this.inForce.has(fault);
  }

  /** Switches a fault on, beside those in force. */
  async inject(fault: DiskFault): Promise<void> {
    this.checkAttached();
    if (!DISK_FAULTS.includes(fault)) throw new Error(`unknown disk fault ${JSON.stringify(fault)}: one of ${DISK_FAULTS.join(", ")}`);
    let mask = FAULT_BIT[fault];
    for (const f of this.inForce) mask |= FAULT_BIT[f];
    await this.swapTo(this.filterNode(mask));
    this.inForce.add(fault);
  }

  /** The guest's I/O goes to the image again, at full speed. */
  async clear(): Promise<void> {
    this.checkAttached();
    await this.swapTo(this.imageNode);
    this.inForce.clear();
  }

  private swapTo(child: string) {
    return this.vm.qmp.execute("blockdev-reopen", { options: [{ driver: "raw", "node-name": this.id, file: child, ...(this.readOnly ? { "read-only": true } : {}) }] });
  }

  /**
   * Unplugs the disk: the guest's kernel acks by itself (a mounted filesystem sees EIO
   * afterwards), then the nodes go, and QEMU holds no descriptor on the image. Idempotent.
   */
  async detach(timeoutMs = 10_000): Promise<void> {
    if (this.detached) return;
    const gone = new Promise<void>((resolve) => {
      // Two DEVICE_DELETED per device: the virtio backend's (no `device`), then the device's.
      const off = this.vm.qmp.on("DEVICE_DELETED", (e) => {
        if (e.data?.device === this.devId) {
          off();
          resolve();
        }
      });
    });
    await this.vm.qmp.execute("device_del", { id: this.devId });
    let timer: Timer | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`disk ${this.id}: the guest did not release the device within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([gone, late]);
    } finally {
      clearTimeout(timer);
    }
    this.detached = true;
    // parents before children: the top node, the blkdebugs over the throttle, the throttle, the others, the image
    const nodes = [this.id, ...[5, 6, 7, 4, 1, 2, 3].map((m) => this.filterNode(m)), ...(this.format === "qcow2" ? [this.imageNode] : []), `${this.id}-file`];
    for (const node of nodes) await this.vm.qmp.execute("blockdev-del", { "node-name": node });
    await this.vm.qmp.execute("object-del", { id: this.throttleGroup });
  }

  /** The disk's size in bytes, as the guest sees it. */
  size(): number {
    if (this.format === "raw") return fs.statSync(this.file).size;
    const head = Buffer.alloc(32);
    const fd = fs.openSync(this.file, "r");
    try {
      fs.readSync(fd, head, 0, 32, 0);
    } finally {
      fs.closeSync(fd);
    }
    return Number(head.readBigUInt64BE(24)); // qcow2 header: virtual size
  }

  /**
   * Reads `count` sectors from `lba` straight from the image. QEMU opens raw images through
   * the host page cache (cache=writeback), so this sees what the guest wrote to the device;
   * the guest sees host writes for blocks it has not cached (O_DIRECT, or drop its caches).
   */
  readSectors(lba: number, count: number): Uint8Array {
    this.checkRange(lba, count, "read_sectors");
    const buf = Buffer.alloc(count * SECTOR_BYTES);
    this.io("r", (fd) => fs.readSync(fd, buf, 0, buf.length, lba * SECTOR_BYTES));
    return buf;
  }

  /** Writes `data` into the image from the start of sector `lba` (a part of a sector too). */
  writeSectors(lba: number, data: Uint8Array): void {
    if (this.readOnly) throw new Error(`disk ${this.id} is read-only`);
    if (data.length === 0) return;
    this.checkRange(lba, Math.ceil(data.length / SECTOR_BYTES), "write_sectors");
    this.io("r+", (fd) => fs.writeSync(fd, data, 0, data.length, lba * SECTOR_BYTES));
  }

  private io(mode: "r" | "r+", fn: (fd: number) => void) {
    this.checkAttached();
    if (this.format !== "raw") throw new Error(`disk ${this.id}: sector I/O needs a raw image (this one is ${this.format})`);
    const fd = fs.openSync(this.file, mode);
    try {
      fn(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private checkRange(lba: number, count: number, what: string) {
    const sectors = Math.floor(this.size() / SECTOR_BYTES);
    if (!Number.isSafeInteger(lba) || lba < 0) throw new Error(`${what}: lba must be an integer >= 0, got ${lba}`);
    if (!Number.isSafeInteger(count) || count < 1) throw new Error(`${what}: the sector count must be an integer >= 1, got ${count}`);
    if (lba + count > sectors) throw new Error(`${what}: sectors ${lba}..${lba + count - 1} are past the end of disk ${this.id} (${sectors} sectors)`);
  }

  private checkAttached() {
    if (this.detached) throw new Error(`disk ${this.id} is detached`);
  }
}
