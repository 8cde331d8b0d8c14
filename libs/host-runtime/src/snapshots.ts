// The snapshots of one test file: vm:snapshot / lab:snapshot, restores (into the same VMs,
// or into new ones for lab members and fixtures), and their files' lifetime.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LazyTempDir } from "@provium/vmm";
import type { GuestVm, VmSnapshot } from "./guest";
import type { VmRegistry } from "./vm-registry";
import type { Bridges } from "./bridges";
import { LAB_JSON, labJson, readLabJson, removeSnapshotFiles, type LabJsonBridge, type LabSnapshotParts } from "./lab-json";

/** A VM made by a restore: `path` places it in the lab ("dc1/web" goes into sub-lab dc1). */
export interface MadeVm {
  id: number;
  name: string;
  profile: string;
  path: string;
}

export class SnapshotStore {
  // One entry per snapshot: a part per VM, by VM name (a lab's: by its path in the lab).
  // Deleted when the file ends.
  private snapshots = new Map<number, Map<string, VmSnapshot>>();
  // Per snapshot: where it lives, whether the user chose that place (then it outlives the
  // file), the VMs it was taken from (a lab restore goes back into those), a lab's bridges.
  private info = new Map<number, { path: string; kept: boolean; lab: boolean; from: Map<string, GuestVm>; bridges: LabJsonBridge[] }>();
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
    private readonly bridges: Bridges,
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
  // directory), and is kept when the file ends; a lab's directory also gets lab.json, with the
  // lab's bridges (`bridgeIds`, and those its VMs are on). A lab's parts are keyed by `names`,
  // the VMs' paths in the lab.
  async create(ids: unknown[], kind: "vm" | "lab", path?: string, base?: string, names?: string[], bridgeIds: number[] = []) {
    const id = this.nextId++;
    const chosen = path ? resolve(base ?? ".", path) : null;
    const dir = chosen ? (kind === "lab" ? chosen : dirname(chosen)) : join(this.root, String(id));
    const parts = new Map<string, VmSnapshot>();
    const from = new Map<string, GuestVm>();
    let bridges: LabJsonBridge[] = [];
    try {
      for (const [i, vmId] of ids.entries()) {
        const vm = this.vms.get(vmId);
        const key = (kind === "lab" && names?.[i]) || vm.spec.name;
        if (parts.has(key)) throw new Error(`two VMs of the snapshot are both '${key}'`);
        // A sub-lab's VM is saved under its path: two sub-labs may each have a "web".
        const file = chosen && kind === "vm" ? chosen : key !== vm.spec.name ? join(dir, `${key.replaceAll("/", "_")}.mem${this.o.snapshotsInto ? ".zst" : ""}`) : undefined;
        parts.set(key, await vm.snapshot(dir, { compress: !!this.o.snapshotsInto, file }));
        from.set(key, vm);
      }
      if (kind === "lab") {
        bridges = this.bridges.labJsonBridges(bridgeIds, ids.map(Number));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, LAB_JSON), JSON.stringify(labJson(dir, parts, bridges), null, 2));
      }
    } catch (e) {
      if (chosen) removeSnapshotFiles(parts, kind === "lab" ? dir : null);
      else rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.snapshots.set(id, parts);
    const where = kind === "vm" ? [...parts.values()][0]?.memory ?? dir : dir;
    this.info.set(id, { path: where, kept: !!chosen, lab: kind === "lab", from, bridges });
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

  private labParts(snapId?: unknown, path?: string, base?: string): LabSnapshotParts & { from: Map<string, GuestVm> } {
    if (snapId == null) return { ...readLabJson(resolve(base ?? ".", String(path))), from: new Map() };
    const parts = this.get(snapId);
    const info = this.info.get(Number(snapId))!;
    return { parts, bridges: info.bridges, from: info.from };
  }

  /** The bridges a lab snapshot holds (Lua makes sure each exists before lab:restore). */
  labBridges(snapId?: unknown, path?: string, base?: string) {
    return this.labParts(snapId, path, base).bridges.map((b) => ({ name: b.name, subnet: b.subnet }));
  }

  // lab:restore: each member of the snapshot goes back into the VM it was taken from when the
  // lab holds it (at the same path); a member the lab lacks becomes a new VM of the lab
  // (returned, for Lua to adopt), on the bridges it was on. A lab VM at a member's path that is
  // another VM is refused before anything changes. Then the bridges' rules come back.
  async restoreLab(a: { vms: number[]; paths?: string[]; snap?: number; path?: string; base?: string; bridges?: { name: string; id: number }[] }) {
    const { parts: snap, bridges: recs, from } = this.labParts(a.snap, a.path, a.base);
    const inLab = new Map(a.vms.map((id, i) => [a.paths?.[i] ?? this.vms.get(id).spec.name, this.vms.get(id)]));
    for (const name of snap.keys()) {
      const vm = inLab.get(name);
      if (vm && vm !== from.get(name))
        throw new Error(`lab:restore: vm name '${name}' is already used in this lab by a VM the snapshot was not taken from; restore into a lab without it`);
    }
    const bridgeIds = new Map((a.bridges ?? []).map((b) => [b.name, Number(b.id)]));
    for (const r of recs) if (!bridgeIds.has(r.name)) throw new Error(`internal: lab:restore has no bridge for '${r.name}'`);
    // A new VM rejoins the bridges it was on with its saved NICs (the state's devices).
    const join = (vm: GuestVm, part: VmSnapshot): VmSnapshot => {
      for (const r of recs) {
        const nic = part.spec.nics?.find((n) => n.id === r.nics[part.vm]);
        if (nic && r.members.includes(part.vm)) this.bridges.rejoin(bridgeIds.get(r.name)!, vm, nic);
      }
      return { ...part, spec: { ...part.spec, nics: vm.spec.nics } };
    };
    const fresh = [...snap].filter(([path]) => !inLab.has(path));
    await Promise.all([...snap].filter(([path]) => inLab.has(path)).map(([path, part]) => inLab.get(path)!.restore(part, this.o.agentDeadlineMs)));
    const made = await this.restoreParts(fresh.map(([, part]) => part), { paths: fresh.map(([path]) => path), join });
    for (const r of recs) await this.bridges.restoreLabJson(bridgeIds.get(r.name)!, r);
    return made;
  }

  // New VMs of this file, each restored from one snapshot part; undone as a whole on failure.
  // `taken`: names the target lab already uses; a part of such a name gets a suffix (fixtures).
  async restoreParts(parts: VmSnapshot[], opts: { taken?: Iterable<string>; paths?: string[]; join?: (vm: GuestVm, part: VmSnapshot) => VmSnapshot } = {}) {
    const made: MadeVm[] = [];
    const taken = new Set(opts.taken ?? []);
    try {
      for (const [i, part] of parts.entries()) {
        const path = opts.paths?.[i] ?? part.vm;
        let vmName = path.split("/").pop()!;
        for (let n = 2; taken.has(vmName); n++) vmName = `${part.vm}#${n}`;
        taken.add(vmName);
        const id = this.vms.create({ name: vmName, profile: part.spec.profile, memory: `${part.spec.memoryMiB}M`, cpus: part.spec.cpus });
        made.push({ id, name: vmName, profile: part.spec.profile, path: path.includes("/") ? path : vmName });
        const vm = this.vms.get(id);
        await this.vms.reserveFor(vm);
        await vm.restore(opts.join ? opts.join(vm, part) : part, this.o.agentDeadlineMs);
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
