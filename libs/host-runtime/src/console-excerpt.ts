// The part of a guest's console a failure report shows: what the guest printed after its
// firmware (SeaBIOS and iPXE lines say nothing about a failure), its last lines, or from the
// kernel's panic line on when there was one (a panic's trace is longer than a tail).

// SeaBIOS's last line before the kernel takes over ("Booting from ROM..." for -kernel boots).
const FIRMWARE_LAST = /^Booting from [^\n]*$/gm;

export function failureExcerpt(raw: string, lines: number): string {
  const text = cleanConsole(raw.replace(/\r/g, ""));
  let start = 0;
  for (const m of text.matchAll(FIRMWARE_LAST)) start = m.index! + m[0].length;
  const after = text.slice(start).replace(/^\n+/, "").trimEnd();
  if (!after) return "(nothing after the firmware's lines)";
  const all = after.split("\n");
  const panic = all.findLastIndex((l) => l.includes("Kernel panic - not syncing"));
  // From a little before the panic line (what triggered it), when a tail would miss it.
  if (panic >= 0 && panic < all.length - lines) {
    const from = Math.max(0, panic - 3);
    return all.slice(from, from + lines).join("\n");
  }
  return all.slice(-lines).join("\n");
}

/** Console text without terminal escapes (firmware clears the screen) and runs of blank lines. */
export function cleanConsole(text: string) {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, "")
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "")
    .split("\n")
    .filter((l, i, all) => l.trim() || (i > 0 && all[i - 1]!.trim()))
    .join("\n");
}
