// Durations on the command line: seconds, or "500ms", "5s", "5m", "2h" (as in Lua).
const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

export function parseDurationSeconds(v: string): number {
  const m = v.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/);
  if (!m) throw new Error(`"${v}" is not a duration: use seconds or a string like "500ms", "5s", "1m", "2h"`);
  const secs = Number(m[1]) * units[m[2] ?? "s"]!;
  if (!(secs > 0)) throw new Error(`"${v}" must be greater than zero`);
  return secs;
}
