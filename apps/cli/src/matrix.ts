// A suite across kernels: provium.toml's `[matrix] kernel = { lts = "PATH", next = "PATH" }`
// runs each test file once per entry (`--matrix kernel=lts,next` picks entries), and
// `--kernel PATH` runs it once on one kernel. A kernel (a bzImage, a build tree or an unpacked
// package: @provium/vmm's resolveKernelSource) replaces Debian's cloud kernel in every profile
// that names no kernel of its own; a profile's own kernel is the profile's business.
import { isAbsolute, resolve } from "node:path";
import { AGENT_DRIVERS, requireDrivers, resolveKernelSource } from "@provium/vmm";
import type { Config } from "./config";

/** One entry of the matrix: its name and the kernel it runs on. */
export interface MatrixEntry {
  name: string;
  kernel: string;
}

export interface Matrix {
  /** entry name -> kernel path (absolute), in the order provium.toml gives them */
  kernel: Record<string, string>;
}

const ENTRY_NAME = /^[A-Za-z0-9][\w.-]*$/;

/** provium.toml's [matrix] table; `err` makes the error the caller throws. */
export function parseMatrix(raw: unknown, file: string, dir: string, err: (msg: string) => Error): Matrix | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "object" || raw === null) throw err(`${file}: [matrix] must be a table like kernel = { lts = "PATH", next = "PATH" }`);
  const keys = Object.keys(raw);
  const unknown = keys.filter((k) => k !== "kernel");
  if (unknown.length) throw err(`${file}: unknown key matrix.${unknown[0]} (known: kernel)`);
  const k = (raw as { kernel?: unknown }).kernel;
  if (typeof k !== "object" || k === null || Array.isArray(k) || !Object.keys(k).length)
    throw err(`${file}: matrix.kernel must be a table of entries like { lts = "PATH", next = "PATH" }`);
  const kernel: Record<string, string> = {};
  for (const [name, path] of Object.entries(k)) {
    if (!ENTRY_NAME.test(name)) throw err(`${file}: matrix.kernel.${name}: an entry name is letters, digits, '.', '_' or '-'`);
    if (typeof path !== "string" || !path) throw err(`${file}: matrix.kernel.${name} must be a kernel path (a string)`);
    kernel[name] = isAbsolute(path) ? path : resolve(dir, path);
  }
  return { kernel };
}

/**
 * The entries a run goes through: `--matrix kernel=a,b` picks from provium.toml's matrix, no
 * flag takes all of it, `--kernel PATH` none (one run on that kernel). null: no matrix.
 */
export function matrixEntries(config: Config, spec: string | undefined, kernelFlag: string | undefined, err: (msg: string) => Error): MatrixEntry[] | null {
  const all = config.matrix?.kernel;
  if (spec !== undefined) {
    if (kernelFlag !== undefined) throw err("--kernel and --matrix together: --kernel runs one kernel, --matrix several; give one");
    const m = /^kernel=(.+)$/.exec(spec);
    if (!m) throw err(`--matrix takes kernel=ENTRY[,ENTRY...], got ${JSON.stringify(spec)}`);
    if (!all) throw err(`--matrix ${spec}: ${config.file ?? "(no provium.toml found)"} has no [matrix] kernel = { ... } table`);
    const names = m[1]!.split(",").map((n) => n.trim()).filter(Boolean);
    const unknown = names.filter((n) => !(n in all));
    if (unknown.length) throw err(`--matrix: no kernel entr${unknown.length > 1 ? "ies" : "y"} ${unknown.join(", ")} in ${config.file} (known: ${Object.keys(all).join(", ")})`);
    return [...new Set(names)].map((name) => ({ name, kernel: all[name]! }));
  }
  if (kernelFlag !== undefined || !all) return null;
  return Object.entries(all).map(([name, kernel]) => ({ name, kernel }));
}

/** Checks a kernel path (and the agent's drivers in it) before any VM boots: a wrong one fails the run once, not every file. */
export function checkKernel(path: string, where: string, err: (msg: string) => Error): void {
  try {
    requireDrivers(resolveKernelSource(path, where), AGENT_DRIVERS, "the agent", where);
  } catch (e) {
    throw err((e as Error).message);
  }
}

/** The configuration with `kernel` in every profile that names none of its own. */
export function withKernel(config: Config, kernel: string): Config {
  const profiles = Object.fromEntries(Object.entries(config.profiles).map(([name, p]) => [name, p.kernel || p.build ? p : { ...p, kernel }]));
  return { ...config, profiles };
}

/** "[lts] tests/x.test.lua": how reports name a file run under a matrix entry. */
export const fileLabel = (e: { file?: string; matrix?: unknown }) => (e.matrix ? `[${e.matrix}] ${e.file ?? ""}` : (e.file ?? ""));
