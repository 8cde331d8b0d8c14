// What happens to frames between two ports, per direction (from -> to): partitions (pairs cut
// both ways, and one-way cuts), isolation and the whole-bridge cut, then netem-like drop rate, latency with jitter and a token-bucket bandwidth limit.
// Rules are keyed by port name, not by connection, so they survive a VM's restore (its QEMU
// reconnects under the same name). Whole-bridge settings apply to every pair without a
// setting of its own, including ports attached later.

export interface Impairment {
  /** probability in [0, 1] that a frame is dropped */
  dropRate?: number;
  /** added one-way delay, ms */
  delayMs?: number;
  /** the delay varies uniformly by +- jitterMs (frames may then be reordered, as with netem) */
  jitterMs?: number;
  /** bits per second of Ethernet frame bytes */
  bps?: number;
}

/** Everything the table holds, as plain data (for lab snapshots). */
export interface ImpairmentState {
  all: Impairment;
  pairs: [string, string, Impairment][];
  /** one-way cuts, from -> to */
  blocked: [string, string][];
  /** pairs cut both ways (partition(a, b)), each once */
  cut?: [string, string][];
  isolated: string[];
  allBlocked: boolean;
}

const key = (from: string, to: string) => `${from}\u0000${to}`;
/** A pair cut both ways has one key, whichever side is named first. */
const pairKey = (a: string, b: string) => (a < b ? key(a, b) : key(b, a));
const FIELDS = ["dropRate", "delayMs", "jitterMs", "bps"] as const;

export class ImpairmentTable {
  private all: Impairment = {};
  private pairs = new Map<string, { from: string; to: string; rule: Impairment }>();
  private blocked = new Map<string, [string, string]>();
  private cut = new Map<string, [string, string]>();
  private isolated = new Set<string>();
  private allBlocked = false;
  /** bumped on every change: forwarding caches the "nothing set" fast path on it */
  version = 0;

  /** Merge `rule` into the whole-bridge setting (no from/to) or one direction's. */
  set(rule: Impairment, from?: string, to?: string): void {
    checkRule(rule);
    if (from === undefined || to === undefined) Object.assign(this.all, rule);
    else {
      const k = key(from, to);
      const cur = this.pairs.get(k) ?? { from, to, rule: {} };
      Object.assign(cur.rule, rule);
      this.pairs.set(k, cur);
    }
    this.version++;
  }

  /** One way: frames from `from` to `to` are dropped, the other way still flows. */
  partition(from: string, to: string): void {
    this.blocked.set(key(from, to), [from, to]);
    this.version++;
  }
  unpartition(from: string, to: string): void {
    this.blocked.delete(key(from, to));
    this.version++;
  }
  /** Both ways, as one pair: what isPartitioned reports (one-way cuts are not). */
  partitionPair(a: string, b: string): void {
    this.cut.set(pairKey(a, b), a < b ? [a, b] : [b, a]);
    this.version++;
  }
  unpartitionPair(a: string, b: string): void {
    this.cut.delete(pairKey(a, b));
    this.version++;
  }
  /** The pair is cut both ways, or the whole bridge is. */
  isPartitioned(a: string, b: string): boolean {
    return this.allBlocked || this.cut.has(pairKey(a, b));
  }
  isIsolated(port: string): boolean {
    return this.isolated.has(port);
  }
  isolate(port: string): void {
    this.isolated.add(port);
    this.version++;
  }
  unisolate(port: string): void {
    this.isolated.delete(port);
    this.version++;
  }
  partitionAll(): void {
    this.allBlocked = true;
    this.version++;
  }
  /** Undo partitionAll only: pairs cut, one-way cuts and isolation stay. */
  restoreAll(): void {
    this.allBlocked = false;
    this.version++;
  }
  /** No partition (pairs, one-way, the whole bridge) and no impairment. Isolation stays: it
   *  is topology, as the established reset() keeps it. */
  reset(): void {
    this.blocked.clear();
    this.cut.clear();
    this.allBlocked = false;
    this.all = {};
    this.pairs.clear();
    this.version++;
  }
  /** The whole-bridge setting (what is not set is absent). */
  whole(): Impairment {
    return { ...this.all };
  }
  /** Forget every rule naming `port` (it left the bridge). */
  forget(port: string): void {
    for (const [k, p] of this.pairs) if (p.from === port || p.to === port) this.pairs.delete(k);
    for (const [k, [a, b]] of this.blocked) if (a === port || b === port) this.blocked.delete(k);
    for (const [k, [a, b]] of this.cut) if (a === port || b === port) this.cut.delete(k);
    this.isolated.delete(port);
    this.version++;
  }

  /** True when no rule of any kind is set: frames take the fast path. */
  get empty(): boolean {
    return !this.allBlocked && this.blocked.size === 0 && this.cut.size === 0 && this.isolated.size === 0 && this.pairs.size === 0 && FIELDS.every((f) => !this.all[f]);
  }

  isBlocked(from: string, to: string): boolean {
    return this.allBlocked || this.isolated.has(from) || this.isolated.has(to) || this.blocked.has(key(from, to)) || this.cut.has(pairKey(from, to));
  }

  /** The direction's impairment: its own settings over the whole-bridge ones. */
  effective(from: string, to: string): Impairment {
    const own = this.pairs.get(key(from, to))?.rule;
    return own ? { ...this.all, ...own } : this.all;
  }

  save(): ImpairmentState {
    return {
      all: { ...this.all },
      pairs: [...this.pairs.values()].map((p) => [p.from, p.to, { ...p.rule }]),
      blocked: [...this.blocked.values()].map(([a, b]) => [a, b]),
      cut: [...this.cut.values()].map(([a, b]) => [a, b]),
      isolated: [...this.isolated],
      allBlocked: this.allBlocked,
    };
  }

  load(s: ImpairmentState): void {
    this.reset();
    this.isolated.clear();
    this.set(s.all);
    for (const [from, to, rule] of s.pairs) this.set(rule, from, to);
    for (const [a, b] of s.blocked) this.partition(a, b);
    for (const [a, b] of s.cut ?? []) this.partitionPair(a, b);
    for (const p of s.isolated) this.isolate(p);
    this.allBlocked = s.allBlocked;
    this.version++;
  }
}

function checkRule(rule: Impairment): void {
  const bad = (what: string, v: unknown) => {
    throw new Error(`${what} must be ${v}`);
  };
  if (rule.dropRate !== undefined && !(rule.dropRate >= 0 && rule.dropRate <= 1)) bad("drop rate", `a probability from 0 to 1, got ${rule.dropRate}`);
  if (rule.delayMs !== undefined && !(rule.delayMs >= 0 && rule.delayMs <= 60_000)) bad("latency", `from 0 to 60000 ms, got ${rule.delayMs}`);
  if (rule.jitterMs !== undefined && !(rule.jitterMs >= 0 && rule.jitterMs <= 60_000)) bad("jitter", `from 0 to 60000 ms, got ${rule.jitterMs}`);
  if (rule.bps !== undefined && !(rule.bps >= 0 && Number.isFinite(rule.bps))) bad("bandwidth", `a number of bits per second >= 0 (0: no limit), got ${rule.bps}`);
}
