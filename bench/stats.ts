// Summary statistics for benchmark samples (milliseconds).
export interface Stats {
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!;
  return { n: s.length, median: q(0.5), p10: q(0.1), p90: q(0.9), min: s[0]!, max: s.at(-1)! };
}

export async function sample(n: number, fn: () => Promise<unknown>, warmup = 2): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

export function fmt(s: Stats) {
  const f = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
  return `median ${f(s.median)} ms  p10 ${f(s.p10)}  p90 ${f(s.p90)}  (n=${s.n})`;
}
