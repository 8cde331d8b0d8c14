// lab.json: what a lab snapshot's directory says about its members, written by lab:snapshot(dir)
// and read by lab:restore(dir); and the removal of exactly what a snapshot wrote.
import { existsSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import type { VmSnapshot } from "./guest";

// lab.json: the members of a lab snapshot, for people and for lab:restore(dir). `snapshot` is
// what a restore needs, with the state's file relative to the directory.
export const LAB_JSON = "lab.json";

export function labJson(dir: string, parts: VmSnapshot[]) {
  return {
    version: 1,
    vms: parts.map((p) => ({
      name: p.vm,
      profile: p.spec.profile,
      memory_mib: p.spec.memoryMiB,
      cpus: p.spec.cpus,
      state: relative(dir, p.memory),
      snapshot: { ...p, memory: relative(dir, p.memory) },
    })),
  };
}

export function readLabJson(dir: string): Map<string, VmSnapshot> {
  const file = join(dir, LAB_JSON);
  let meta: { vms?: { name?: unknown; snapshot?: VmSnapshot }[] };
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
    parts.set(v.name, { ...p, vm: v.name, memory });
  }
  if (!parts.size) throw new Error(`lab:restore: ${file} lists no VMs`);
  return parts;
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
