// vm:boot(opts) and the profile keys that shape a boot: what QEMU gets (files, command line,
// entropy, the RTC's start), how long the agent may take, the disks plugged in before boot()
// returns. Everything is checked before any VM of the boot starts.
import { existsSync, statSync } from "node:fs";
import type { BootFile, BootImage } from "@provium/vmm";
import type { BootExtras } from "./guest";
import type { Profile } from "./config";
import type { DiskSpec } from "./disks";

const KNOWN = ["files", "kernel_cmdline", "kernel_cmdline_append", "rng_seed", "initial_time", "agent_timeout", "cold"];

export interface BootPlan {
  extras: (image: BootImage) => BootExtras;
  agentDeadlineMs: number;
  /** the exact guest time the agent sets once it answers */
  initialTimeNs?: bigint;
  disks: DiskSpec[];
  /** {cold = true}: boot cold even when the shape has a boot template (boot-templates.ts) */
  cold: boolean;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`boot option ${what} must be a string, got ${typeof v}`);
  if (/[\n\0]/.test(v)) throw new Error(`boot option ${what} has a newline or NUL`);
  return v;
}

function files(v: unknown): BootFile[] {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error('boot option files must be a table {["/guest/path"] = "host/path", ...}');
  return Object.entries(v).map(([guest, host]) => {
    if (typeof host !== "string") throw new Error(`boot option files["${guest}"] must be a host path (a string), got ${typeof host}`);
    if (!existsSync(host) || !statSync(host).isFile()) throw new Error(`boot option files["${guest}"]: host file not found: ${host}`);
    return { path: guest, source: host };
  });
}

function initialTime(v: unknown): Date {
  const ms = typeof v === "number" ? v * 1000 : typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new Error(`boot option initial_time must be seconds since the epoch or an ISO 8601 time like "2030-01-01T00:00:00Z", got ${JSON.stringify(v)}`);
  if (ms < 0 || ms >= Date.UTC(10000, 0, 1)) throw new Error(`boot option initial_time ${JSON.stringify(v)} is outside 1970..9999`);
  return new Date(ms);
}

function seed(v: unknown): Uint8Array {
  if (typeof v === "number" && Number.isInteger(v)) return new TextEncoder().encode(String(v));
  if (typeof v === "string" && v.length) return new TextEncoder().encode(v);
  if (v instanceof Uint8Array && v.length) return v;
  throw new Error(`boot option rng_seed must be a non-empty string or an integer, got ${typeof v}`);
}

// A prepared image's command line is Provium's own part, then the profile's (boot-image.ts).
function ownCmdline(image: BootImage, profile: Profile): string {
  if (!profile.cmdline) return image.cmdline;
  if (!image.cmdline.endsWith(profile.cmdline)) throw new Error(`internal: the image's command line does not end with profile ${profile.name}'s`);
  return image.cmdline.slice(0, image.cmdline.length - profile.cmdline.length).trim();
}

export function bootOptions(opts: Record<string, unknown>, profile: Profile, defaultDeadlineMs: number): BootPlan {
  const unknown = Object.keys(opts).filter((k) => !KNOWN.includes(k));
  if (unknown.length) throw new Error(`unknown boot option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (known: ${KNOWN.join(", ")})`);
  const bootFiles = opts.files !== undefined ? files(opts.files) : undefined;
  const replace = opts.kernel_cmdline !== undefined ? str(opts.kernel_cmdline, "kernel_cmdline") : undefined;
  const append = opts.kernel_cmdline_append !== undefined ? str(opts.kernel_cmdline_append, "kernel_cmdline_append") : undefined;
  const rngSeed = opts.rng_seed !== undefined ? seed(opts.rng_seed) : undefined;
  const rtcBase = opts.initial_time !== undefined ? initialTime(opts.initial_time) : undefined;
  let agentDeadlineMs = profile.agentBootTimeoutMs ?? defaultDeadlineMs;
  if (opts.agent_timeout !== undefined) {
    const s = opts.agent_timeout;
    if (typeof s !== "number" || !Number.isFinite(s) || s <= 0) throw new Error(`boot option agent_timeout must be a positive number of seconds, got ${JSON.stringify(s)}`);
    agentDeadlineMs = s * 1000;
  }
  if (opts.cold !== undefined && typeof opts.cold !== "boolean") throw new Error(`boot option cold must be true or false, got ${typeof opts.cold}`);
  return {
    cold: opts.cold === true,
    agentDeadlineMs,
    initialTimeNs: rtcBase ? BigInt(rtcBase.getTime()) * 1_000_000n : undefined,
    disks: profile.disks ?? [],
    extras: (image) => {
      const cmdline = replace === undefined && append === undefined ? undefined : [ownCmdline(image, profile), replace ?? profile.cmdline, append].filter(Boolean).join(" ");
      return { bootFiles, rngSeed, rtcBase, cmdline };
    },
  };
}
