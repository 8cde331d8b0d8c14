// Which reference measure each Provium measure of `bun run bench` is set against:
// [the raw floor's counterpart, qemu-guest-agent's counterpart]. The table's ratio columns
// (run.ts) and a comparison against a baseline (compare.ts) use the same pairs.
export const PAIRS: Record<string, [string?, string?]> = {
  "p.noop": ["f.echo16", "q.ping"],
  "p.stat": ["f.echo16", "q.ping"],
  "p.stat_early": ["f.echo16", "q.ping"],
  "p.stat_cold": ["f.echo16", "q.ping"],
  "p.run_true": ["f.run_true", "q.exec_true"],
  "p.run_echo": [undefined, "q.exec_echo"],
  "p.write1m": ["f.h2g1m", "q.write1m"],
  "p.read1m": ["f.g2h1m", "q.read1m"],
  "p.write16m": ["f.h2g16m"],
  "p.read16m": ["f.g2h16m"],
  "p.stream64m": ["f.g2h64m"],
  "p.boot": ["f.boot", "q.boot"],
  "p.warm_boot": ["f.boot", "q.boot"],
  "p.save": ["f.save"],
  "p.restore": ["f.restore"],
  "p.restore_launch": ["f.restore"],
};

/** Provium measure -> its floor counterpart, where it has one. */
export const FLOOR_OF: Record<string, string> = Object.fromEntries(
  Object.entries(PAIRS).flatMap(([id, [floor]]) => (floor ? [[id, floor]] : [])),
);
