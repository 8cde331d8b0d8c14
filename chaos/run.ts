// `bun run chaos [--quick] [--only NAME,NAME]`: attacks the running system and prints what
// survived: one row per attack (tries, failures named correctly, crashes, hangs, leaks,
// peak memory). Exits non-zero on any crash, hang, leak or unnamed failure. Not part of
// `bun run test` (it takes minutes); its pieces have quick regression tests there.
import { fuzzFrames } from "./attacks/frame-fuzz";
import { interrupts } from "./attacks/interrupts";
import { deaths } from "./attacks/deaths";
import { hostileGuest } from "./attacks/hostile-guest";
import { floods } from "./attacks/floods";
import { concurrentRuns } from "./attacks/concurrent-runs";
import { fullDisks } from "./attacks/full-disks";
import { failed, printTable, type AttackResult } from "./table";

const quick = process.argv.includes("--quick");
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1]?.split(",") : undefined;

const attacks: Record<string, () => Promise<AttackResult[]>> = {
  frames: () => fuzzFrames({ cases: quick ? 50_000 : 1_000_000, propertyRuns: quick ? 2_000 : 20_000 }),
  interrupts: () => interrupts({ tries: quick ? 3 : 20 }),
  deaths: () => deaths({ rounds: quick ? 1 : 3 }),
  hostile: () => hostileGuest({ rounds: quick ? 1 : 3 }),
  floods: () => floods({ processes: quick ? 1_000 : 10_000 }),
  concurrent: () => concurrentRuns({ rounds: quick ? 1 : 3 }),
  "full-disks": () => fullDisks(),
};

const rows: AttackResult[] = [];
for (const [name, attack] of Object.entries(attacks)) {
  if (only && !only.includes(name)) continue;
  console.log(`chaos: ${name}`);
  rows.push(...(await attack()));
}
console.log();
printTable(rows);
const bad = rows.filter(failed);
console.log(bad.length ? `\n${bad.length} attack(s) found a defect` : `\nall ${rows.length} attacks survived`);
process.exit(bad.length ? 1 : 0);
