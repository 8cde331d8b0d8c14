// --bench-out FILE: every benchmark sample of a run, with what they were measured on (host,
// accelerator, kernel, matrix entry), for `provium bench compare` (bench-cmd.ts). Built from
// events only, like every report.
import { writeFileSync } from "node:fs";
import { cpus, hostname, release } from "node:os";
import type { RunEvent } from "../events";
import { fileLabel } from "../matrix";

export const BENCH_FORMAT = "provium-bench-v1";

export interface BenchRecord {
  file: string;
  /** the matrix entry it ran under, if any */
  matrix?: string;
  /** the kernel path it ran on ("default": Debian's cloud kernel, or a profile's own) */
  kernel: string;
  name: string;
  unit: string;
  /** which way is worse */
  better: "lower" | "higher";
  samples: number[];
}

export interface BenchFile {
  format: typeof BENCH_FORMAT;
  when: string;
  host: { name: string; cpu: string; cores: number; os: string };
  accel: string;
  benchmarks: BenchRecord[];
}

/** "[lts] tests/x.bench.lua › name": how a benchmark is named in reports and comparisons. */
export const benchLabel = (b: Pick<BenchRecord, "file" | "matrix" | "name">) => `${fileLabel(b)} › ${b.name}`;

export function benchFile(events: RunEvent[], accel: string): BenchFile {
  const started = events.find((e) => e.kind === "run_started");
  const kernels = (started?.matrix_kernels ?? {}) as Record<string, string>;
  const benchmarks: BenchRecord[] = events
    .filter((e) => e.kind === "bench_result")
    .map((e) => ({
      file: e.file ?? "",
      ...(e.matrix ? { matrix: String(e.matrix) } : {}),
      kernel: e.matrix ? kernels[String(e.matrix)]! : String(started?.kernel ?? "default"),
      name: String(e.test),
      unit: String(e.unit ?? ""),
      better: e.better === "higher" ? "higher" : "lower",
      samples: (e.samples as number[]) ?? [],
    }));
  const cpu = cpus()[0]?.model ?? "unknown";
  return { format: BENCH_FORMAT, when: new Date().toISOString(), host: { name: hostname(), cpu, cores: cpus().length, os: release() }, accel, benchmarks };
}

export function writeBenchOut(path: string, events: RunEvent[], accel: string): void {
  writeFileSync(path, JSON.stringify(benchFile(events, accel), null, 1) + "\n");
}
