// The VMs of one test file: created by name, booted (each with its share of host capacity),
// disposed at the end of the test that made them, numbered for vm:cid().
import { prepareImage } from "@provium/vmm";
import { GuestVm, type VmEvent } from "./guest";
import type { HostSetup } from "./host-setup";
import { bootOptions } from "./boot-options";
import { unknownProfile } from "./config";
import { vmMemoryMiB } from "./memory-size";
import { CapacityShares } from "./capacity-claim";
import { BootTemplates } from "./boot-templates";

const DEFAULT_MEMORY_MIB = 512;

// vm:cid(): numbers from 3 up, as vsock CIDs (0-2 are reserved there; we use virtio-serial,
// so it only names the VM). Unique in the run when its workers share the counter.
const ownCids = new Int32Array(new SharedArrayBuffer(4));
const FIRST_CID = 3;

export interface VmRegistryOptions extends HostSetup {
  listOnly?: boolean;
  onProgress: (msg: string) => void;
  onVmEvent: VmEvent;
  cidCounter?: Int32Array;
  emit: (kind: string, fields: Record<string, unknown>) => void;
}

export class VmRegistry {
  private vms: GuestVm[] = [];
  private cids = new Map<GuestVm, number>();
  readonly shares: CapacityShares;
  private readonly templates: BootTemplates;

  constructor(private readonly o: VmRegistryOptions) {
    this.shares = new CapacityShares(o.acquire);
    this.templates = new BootTemplates({ cache: o.fixtures, emit: o.emit, enabled: o.config.warmBoot !== false, cacheDir: o.cacheDir, remote: o.remote });
  }

  get(id: unknown): GuestVm {
    const vm = this.vms[Number(id)];
    if (!vm) throw new Error(`no such vm (id ${id})`);
    return vm;
  }

  all(): readonly GuestVm[] {
    return this.vms;
  }

  // A VM's name is unique in its lab (Lua checks that), not in the file.
  create(a: { name: string; profile: string; memory?: unknown; cpus?: unknown }) {
    if (!this.o.config.profiles[a.profile]) throw new Error(unknownProfile(this.o.config, a.profile));
    const memoryMiB = a.memory === undefined || a.memory === null ? DEFAULT_MEMORY_MIB : vmMemoryMiB(a.memory);
    const cpus = a.cpus === undefined || a.cpus === null ? 1 : Number(a.cpus);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new Error(`cpus must be an integer from 1 to 64, got ${a.cpus}`);
    this.vms.push(new GuestVm({ name: a.name, profile: a.profile, memoryMiB, cpus, ...(this.o.gdb ? { gdb: this.o.gdb } : {}) }, this.o.onVmEvent));
    return this.vms.length - 1;
  }

  /** Shut down (a VM made inside a test, at its end; an undone restore). */
  async dispose(id: unknown) {
    await this.get(id).shutdown();
  }

  /** A VM's share of host capacity, held until it shuts down. */
  async reserveFor(vm: GuestVm) {
    vm.onShutdown(await this.shares.reserve({ memoryMiB: vm.spec.memoryMiB, cpus: vm.spec.cpus }));
  }

  // Given on the first ask once the VM has run (booted or restored); kept for its life.
  cid(id: unknown): number | null {
    const vm = this.get(id);
    if (vm.state === "created") return null;
    let cid = this.cids.get(vm);
    if (cid === undefined) this.cids.set(vm, (cid = FIRST_CID + Atomics.add(this.o.cidCounter ?? ownCids, 0, 1)));
    return cid;
  }

  /** The whole console log: the running QEMU's, or what a dead VM left. */
  consoleLog(id: unknown): Uint8Array {
    const vm = this.get(id);
    if (vm.state === "dead" && vm.deadLog) return vm.deadLog;
    return vm.machine().console.readLog();
  }

  diskInfo(id: unknown, diskId: string) {
    const vm = this.get(id);
    if (!vm.disks.has(diskId)) return null;
    const { disk, device } = vm.disks.get(diskId);
    return { id: disk.id, device, size: disk.size(), readonly: disk.readOnly, faults: disk.faults };
  }

  async boot(ids: unknown[], opts?: Record<string, unknown>) {
    const vms = ids.map((id) => this.get(id));
    for (const vm of vms) vm.checkBootable();
    if (this.o.listOnly) return;
    // Images are prepared while the shares are reserved, so a VM that waits for room has its
    // image ready when it gets it. No VM boots before every share is granted: a lab that can
    // never fit fails at once (before an image build that may take minutes), booting nothing.
    const profiles = vms.map((vm) => this.o.config.profiles[vm.spec.profile]!);
    const launch = profiles.map((p) => bootOptions(opts ?? {}, p, this.o.agentDeadlineMs));
    const preparing = profiles.map((p) => prepareImage(p, this.o));
    const reserving = vms.map((vm) =>
      this.shares.reserve({ memoryMiB: vm.spec.memoryMiB, cpus: vm.spec.cpus }).catch((e: Error) => {
        throw new Error(`vm ${vm.spec.name}: boot ${e.message}`);
      }),
    );
    let releases: (() => void)[];
    try {
      releases = await Promise.all(reserving);
    } catch (e) {
      for (const r of reserving) r.then((release) => release(), () => {}); // shares granted after all go back
      for (const p of preparing) p.catch(() => {});
      throw e;
    }
    const results = await Promise.allSettled(
      vms.map(async (vm, i) => {
        const image = await preparing[i]!.catch((e) => {
          releases[i]!();
          throw e;
        });
        const { initialTimeNs, disks } = launch[i]!;
        const t0 = Date.now();
        try {
          await this.templates.boot(vm, image, this.o.accel, launch[i]!, profiles[i]!); // warm or cold
        } finally {
          // The share is held while a QEMU runs: back at once when none started.
          if (vm.state === "created") releases[i]!();
          else vm.onShutdown(releases[i]!);
        }
        // The RTC has whole seconds: set the exact time, as if the machine started at initial_time.
        if (initialTimeNs !== undefined) await vm.ready().call({ clock: { set: (initialTimeNs + BigInt(Date.now() - t0) * 1_000_000n) as unknown as number } });
        for (const d of disks) await vm.disks.attach(d);
      }),
    );
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  }

  async close() {
    await Promise.allSettled(this.vms.map((v) => v.shutdown()));
    this.shares.releaseClaim();
  }
}
