// The snapshots of one test file: vm:snapshot / lab:snapshot, restores (into the same VMs,
// or into new ones for lab members and fixtures), and their files' lifetime.
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LazyTempDir } from "@provium/vmm";
import type { GuestVm, VmSnapshot } from "./guest";
import type { VmRegistry } from "./vm-registry";
import { LAB_JSON, labJson, readLabJson, removeSnapshotFiles } from "./lab-json";

export class SnapshotStore {
  // One entry per snapshot: a part per VM, by VM name. Deleted when the file ends.
  private snapshots = new Map<number, Map<string, VmSnapshot>>();
  // Per snapshot: where it lives, whether the user chose that place (then it outlives the
  // file), and the VMs it was taken from (a lab restore goes back into those).
  private info = new Map<number, { path: string; kept: boolean; lab: boolean; from: Map<string, GuestVm> }>();
  private nextId = 1;
  // Where snapshots taken without a path go: a fixture builder's straight into the cache's
  // staging dir, others into a temp dir of the file's own (a run interrupted or ending before
  // close() still takes it away).
  private readonly tmp = new LazyTempDir("snap");
  private get root() {
    return this.o.snapshotsInto ?? this.tmp.path;
  }

  constructor(
    private readonly vms: VmRegistry,
    private readonly o: { agentDeadlineMs: number; /** A fixture builder's: compressed, into the cache's staging. */ snapshotsInto?: string },
  ) {}

  private get(id: unknown) {
    const snap = this.snapshots.get(Number(id));
    if (!snap) throw new Error("snapshot was deleted");
    return snap;
  }

  size(id: unknown) {
    return [...this.get(id).values()].reduce((n, s) => n + s.bytes, 0);
  }

  path(id: unknown) {
    this.get(id);
    return this.info.get(Number(id))!.path;
  }

  // VMs are saved one after another: each pauses only for its own save. A VM's snapshot with a
  // `path` goes to that file, a lab's into that directory (relative: to the calling Lua file's
  // directory), and is kept when the file ends; a lab's directory also gets lab.json.
  async create(ids: unknown[], kind: "vm" | "lab", path?: string, base?: string) {
    const id = this.nextId++;
    const chosen = path ? resolve(base ?? ".", path) : null;
    const dir = chosen ? (kind === "lab" ? chosen : dirname(chosen)) : join(this.root, String(id));
    const parts = new Map<string, VmSnapshot>();
    const from = new Map<string, GuestVm>();
    try {
      for (const vmId of ids) {
        const vm = this.vms.get(vmId);
        const file = chosen && kind === "vm" ? chosen : undefined;
        parts.set(vm.spec.name, await vm.snapshot(dir, { compress: !!this.o.snapshotsInto, file }));
        from.set(vm.spec.name, vm);
      }
      if (kind === "lab") writeFileSync(join(dir, LAB_JSON), JSON.stringify(labJson(dir, [...parts.values()]), null, 2));
    } catch (e) {
      if (chosen) removeSnapshotFiles(parts, kind === "lab" ? dir : null);
      else rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.snapshots.set(id, parts);
    const where = kind === "vm" ? [...parts.values()][0]?.memory ?? dir : dir;
    this.info.set(id, { path: where, kept: !!chosen, lab: kind === "lab", from });
    return { id, label: kind === "vm" ? [...parts.keys()].join(", ") : "lab" };
  }

  async restore(snapId: unknown, ids: unknown[]) {
    const snap = this.get(snapId);
    const vms = ids.map((id) => this.vms.get(id));
    await Promise.all(
      vms.map((vm) => {
        // A one-VM snapshot restores into any VM; a lab's goes by name.
        const part = snap.size === 1 ? [...snap.values()][0]! : snap.get(vm.spec.name);
        if (!part) throw new Error(`the snapshot has no state for vm ${vm.spec.name} (it holds ${[...snap.keys()].join(", ")})`);
        return vm.restore(part, this.o.agentDeadlineMs);
      }),
    );
    return true;
  }

  // lab:restore: each member of the snapshot goes back into the VM it was taken from when the
  // lab holds it; a member the lab lacks becomes a new VM of the lab (returned, for Lua to
  // adopt). A lab VM of a member's name that is another VM is refused before anything changes.
  async restoreLab(ids: unknown[], snapId?: unknown, path?: string, base?: string) {
    const snap = snapId != null ? this.get(snapId) : readLabJson(resolve(base ?? ".", String(path)));
    const from = snapId != null ? this.info.get(Number(snapId))!.from : new Map<string, GuestVm>();
    const inLab = new Map(ids.map((id) => this.vms.get(id)).map((vm) => [vm.spec.name, vm]));
    for (const name of snap.keys()) {
      const vm = inLab.get(name);
      if (vm && vm !== from.get(name))
        throw new Error(`lab:restore: vm name '${name}' is already used in this lab by a VM the snapshot was not taken from; restore into a lab without it`);
    }
    const fresh = [...snap.values()].filter((part) => !inLab.has(part.vm));
    await Promise.all([...snap.values()].filter((part) => inLab.has(part.vm)).map((part) => inLab.get(part.vm)!.restore(part, this.o.agentDeadlineMs)));
    return this.restoreParts(fresh, { rename: false });
  }

  // New VMs of this file, each restored from one snapshot part; undone as a whole on failure.
  // `rename`: a name already used gets a suffix (fixtures), else it is an error.
  async restoreParts(parts: VmSnapshot[], opts: { rename: boolean }) {
    const made: { id: number; name: string; profile: string }[] = [];
    try {
      for (const part of parts) {
        let vmName = part.vm;
        for (let n = 2; opts.rename && this.vms.hasName(vmName); n++) vmName = `${part.vm}#${n}`;
        const id = this.vms.create({ name: vmName, profile: part.spec.profile, memory: part.spec.memoryMiB, cpus: part.spec.cpus });
        made.push({ id, name: vmName, profile: part.spec.profile });
        const vm = this.vms.get(id);
        await this.vms.reserveFor(vm);
        await vm.restore(part, this.o.agentDeadlineMs);
      }
      return made;
    } catch (e) {
      for (const m of made) await this.vms.dispose(m.id);
      throw e;
    }
  }

  /** Hands a snapshot's files over (to the fixture cache): the store no longer owns them. */
  take(id: number) {
    if (this.info.get(id)?.kept) throw new Error("a fixture returns a snapshot taken without a path: the cache decides where it lives");
    const parts = [...this.get(id).values()];
    this.snapshots.delete(id);
    return parts;
  }

  delete(id: unknown) {
    const snap = this.snapshots.get(Number(id));
    if (!snap) return true;
    const info = this.info.get(Number(id));
    this.snapshots.delete(Number(id));
    this.info.delete(Number(id));
    // A QEMU launched ahead to restore it has nothing left to wait for.
    for (const part of snap.values()) for (const vm of this.vms.all()) void vm.dropSpare(part);
    // A kept snapshot's place is the user's: only the files it wrote there go.
    if (info?.kept) removeSnapshotFiles(snap, info.lab ? info.path : null);
    else rmSync(join(this.root, String(id)), { recursive: true, force: true });
    return true;
  }

  close() {
    this.tmp.remove();
  }
}
