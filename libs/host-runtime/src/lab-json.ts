// lab.json: what a lab snapshot's directory says about its members, written by lab:snapshot(dir)
// and read by lab:restore(dir); and the removal of exactly what a snapshot wrote.
import { existsSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import type { VmSnapshot } from "./guest";
import type { BridgeState } from "./bridges";

// lab.json: the members of a lab snapshot, for people and for lab:restore(dir). A VM's `name`
// is its path in the lab ("web", or "dc1/web" for a sub-lab's). `snapshot` is what a restore
// needs, with the state's file relative to the directory.
export const LAB_JSON = "lab.json";

/**
 * A bridge in lab.json: upstream's fields (members by VM name, whole-bridge rules, partitions,
 * fully_partitioned), and `state`, the switch's exact state, which a restore loads.
 */
export interface LabJsonBridge {
  name: string;
  subnet: string;
  members: string[];
  latency_ms: number;
  drop_rate_pct: number;
  bandwidth_bps: number;
  uplink_enabled: boolean;
  routes: string[];
  isolated: string[];
  /** pairs cut both ways */
  partitions: [string, string][];
  /** pairs cut one way (from, to) */
  directional_partitions: [string, string][];
  directional_impairments: { from: string; to: string; latency_ms: number; drop_rate_pct: number; bandwidth_bps: number }[];
  fully_partitioned: boolean;
  /** the NIC id each member's QEMU has for this bridge (its device in the VM's saved state) */
  nics: Record<string, string>;
  state: BridgeState;
}

/** The parts of a lab snapshot, by path, and its bridges. */
export interface LabSnapshotParts {
  parts: Map<string, VmSnapshot>;
  bridges: LabJsonBridge[];
}

export function labJson(dir: string, parts: Map<string, VmSnapshot>, bridges: LabJsonBridge[]) {
  return {
    version: 2,
    vms: [...parts].map(([path, p]) => ({
      name: path,
      profile: p.spec.profile,
      memory_bytes: p.spec.memoryMiB * 1048576,
      memory_mib: p.spec.memoryMiB,
      cpus: p.spec.cpus,
      state: relative(dir, p.memory),
      snapshot: { ...p, memory: relative(dir, p.memory) },
    })),
    bridges,
  };
}

export function readLabJson(dir: string): LabSnapshotParts {
  const file = join(dir, LAB_JSON);
  let meta: { vms?: { name?: unknown; snapshot?: VmSnapshot }[]; bridges?: LabJsonBridge[] };
  try {
    meta = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`lab:restore: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parts = new Map<string, VmSnapshot>();
  for (const v of meta.vms ?? []) {
    const p = v.snapshot;
    if (!p || typeof v.name !== "string" || typeof p.memory !== "string" || !p.spec || !p.image) throw new Error(`lab:restore: ${file} is not a lab snapshot's (a member without its state)`);
    const memory = isAbsolute(p.memory) ? p.memory : join(dir, p.memory);
    if (!existsSync(memory)) throw new Error(`lab:restore: the state of vm '${v.name}' (${memory}) is missing`);
    parts.set(v.name, { ...p, memory });
  }
  const bridges = (meta.bridges ?? []).filter((b) => b && typeof b.name === "string" && b.state);
  if (!parts.size && !bridges.length) throw new Error(`lab:restore: ${file} lists no VMs and no bridges`);
  return { parts, bridges };
}

/** Removes what a snapshot wrote (its states, saved disks, lab.json), not the place it was put. */
export function removeSnapshotFiles(parts: Map<string, VmSnapshot>, labDir: string | null) {
  for (const p of parts.values()) {
    rmSync(p.memory, { force: true });
    // Only the disks saved with it (named after its state or VM), never a shared base image.
    const saved = (f: string) => f.startsWith(`${p.memory}.`) || (labDir !== null && dirname(f) === labDir && f.startsWith(join(labDir, `${p.vm}.`)));
    for (const d of p.image.drives ?? []) if (saved(d.file)) rmSync(d.file, { force: true });
  }
  if (!labDir) return;
  rmSync(join(labDir, LAB_JSON), { force: true });
  try {
    rmdirSync(labDir); // made for it, most likely; one holding anything else stays
  } catch {}
}
