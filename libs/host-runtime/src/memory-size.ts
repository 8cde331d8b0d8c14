// Memory sizes as profiles and vm options give them: MiB as an integer, or "512M" / "2G".
export function parseMemory(v: unknown): number {
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  const m = typeof v === "string" ? v.trim().match(/^(\d+)\s*([MG])i?B?$/i) : null;
  if (!m) throw new Error(`memory must be MiB as an integer or a string like "512M" or "2G", got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2]!.toUpperCase() === "G" ? 1024 : 1);
}

