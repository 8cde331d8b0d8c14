// Memory sizes as vm options, lab:claim and --mem give them: an integer is bytes (upstream's
// unit), a string has a unit ("320m", "512M", "2G", "1024k", "2GiB"); bare digits are bytes.
// QEMU and the capacity pool count whole MiB, so a size is rounded up to one.
const MiB = 1048576;
const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB };

/** The smallest memory a VM is given: below it a guest cannot boot (and an integer this small is most likely MiB meant as bytes). */
export const MIN_VM_MEMORY = 16 * MiB;

export function parseMemoryBytes(v: unknown, what = "memory"): number {
  let bytes = NaN;
  if (typeof v === "number" || typeof v === "bigint") bytes = Number(v);
  else if (typeof v === "string") {
    const m = v.trim().match(/^(\d+)\s*([kmgt]?)(i?b)?$/i);
    if (m) bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new Error(`${what} must be bytes (an integer) or a string like "320m", "512M" or "2G", got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
  return bytes;
}

/** A VM's memory in whole MiB, from bytes or a string; too little for a guest is refused. */
export function vmMemoryMiB(v: unknown): number {
  const bytes = parseMemoryBytes(v);
  if (bytes < MIN_VM_MEMORY) {
    const hint = typeof v === "number" ? ` (an integer is bytes: for ${v} MiB write "${v}M")` : "";
    throw new Error(`memory ${typeof v === "string" ? JSON.stringify(v) : v} is less than the 16 MiB a VM needs${hint}`);
  }
  return Math.ceil(bytes / MiB);
}

/** A size in whole MiB (rounded up): lab:claim and --mem. */
export function parseMemory(v: unknown, what = "memory"): number {
  return Math.ceil(parseMemoryBytes(v, what) / MiB);
}
