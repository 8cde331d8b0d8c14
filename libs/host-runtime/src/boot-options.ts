// vm:boot(opts) and the profile keys that shape a boot: what QEMU gets (files, command line,
// entropy, the RTC's start), how long the agent may take, the disks plugged in before boot()
// returns (the profile's, then the boot's). Everything is checked before any VM of the boot starts.
import { existsSync, statSync } from "node:fs";
import type { BootFile, BootImage } from "@provium/vmm";
import type { BootExtras } from "./guest";
import type { Profile } from "./config";
import { parseDiskSize, type DiskSpec } from "./disks";
import { mergeShares, parseShares } from "./shares";

const KNOWN = ["files", "kernel_cmdline", "kernel_cmdline_append", "rng_seed", "initial_time", "agent_timeout", "disks", "shares", "qemu_args", "cold"];

export interface BootPlan {
  extras: (image: BootImage) => BootExtras;
  agentDeadlineMs: number;
  /** the exact guest time the agent sets once it answers */
  initialTimeNs?: bigint;
  disks: DiskSpec[];
  /** {cold = true}: boot cold even when the shape has a boot template (boot-templates.ts) */
  cold: boolean;
}

// A Lua sequence crosses as a JS array, or as an object keyed "1", "2", ... (an empty table: {}).
function listOf(v: unknown): unknown {
  if (Array.isArray(v) || typeof v !== "object" || v === null) return v;
  const keys = Object.keys(v);
  if (keys.every((k, i) => k === String(i + 1))) return keys.map((k) => (v as Record<string, unknown>)[k]);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`boot option ${what} must be a string, got ${typeof v}`);
  if (/[\n\0]/.test(v)) throw new Error(`boot option ${what} has a newline or NUL`);
  return v;
}

// files: upstream's list {{path, content, mode}} (the bytes themselves), or a table of guest
// path -> host file.
function files(v: unknown): BootFile[] {
  if (Array.isArray(v))
    return v.map((f: { path: string; content: string | Uint8Array; mode?: number }, i) => {
      const ok = typeof f === "object" && f !== null && typeof f.path === "string" && (typeof f.content === "string" || f.content instanceof Uint8Array);
      if (!ok) throw new Error(`boot option files[${i + 1}] must be a table {path = ..., content = ..., mode = ...}, got ${JSON.stringify(f)}`);
      return { path: f.path, data: typeof f.content === "string" ? new TextEncoder().encode(f.content) : f.content, mode: f.mode ?? 0o644 };
    });
  if (typeof v !== "object" || v === null) throw new Error('boot option files must be a list {{path = ..., content = ...}, ...} or a table {["/guest/path"] = "host/path", ...}');
  return Object.entries(v).map(([guest, host]) => {
    if (typeof host !== "string") throw new Error(`boot option files["${guest}"] must be a host path (a string), got ${typeof host}`);
    if (!existsSync(host) || !statSync(host).isFile()) throw new Error(`boot option files["${guest}"]: host file not found: ${host}`);
    return { path: guest, source: host };
  });
}

/** qemu_args: QEMU arguments appended as given (unsupported territory: Provium does not check them). */
export function qemuArgs(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((a) => typeof a !== "string")) throw new Error(`${what} must be a list of strings (QEMU arguments, e.g. {"-device", "virtio-rng-pci"}), got ${JSON.stringify(v)}`);
  return v as string[];
}

const DISK_SOURCES = ["path", "scratch", "template"] as const;
const DISK_KEYS = [...DISK_SOURCES, "id", "readonly"];

// Upstream's boot disks: {{path = "img", id = "d", readonly = true}, {scratch = "1M", id = "s"},
// {template = "seed.img"}}, plugged in after the profile's. Unnamed ones are boot0, boot1, ...
function bootDisks(v: unknown): DiskSpec[] {
  if (!Array.isArray(v)) throw new Error('boot option disks must be a list of tables like {path = "img.raw", id = "data"} or {scratch = "1M"}');
  const ids = new Set<string>();
  return v.map((d, i) => {
    const at = `boot option disks[${i + 1}]`;
    if (typeof d !== "object" || d === null || Array.isArray(d)) throw new Error(`${at} must be a table like {path = "img.raw"} or {scratch = "1M"}, got ${JSON.stringify(d)}`);
    const e = d as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !DISK_KEYS.includes(k));
    if (unknown.length) throw new Error(`${at}: unknown key ${unknown.join(", ")} (known: ${DISK_KEYS.join(", ")})`);
    const given = DISK_SOURCES.filter((k) => e[k] !== undefined);
    if (given.length !== 1) throw new Error(`${at}: give exactly one of path, scratch or template, got ${given.length ? given.join(" and ") : "none"}`);
    const id = e.id === undefined ? `boot${i}` : e.id;
    if (typeof id !== "string") throw new Error(`${at}.id must be a string, got ${JSON.stringify(id)}`);
    if (ids.has(id)) throw new Error(`${at}: a second disk with id '${id}'`);
    ids.add(id);
    if (e.readonly !== undefined && typeof e.readonly !== "boolean") throw new Error(`${at}.readonly must be a boolean, got ${JSON.stringify(e.readonly)}`);
    const spec: DiskSpec = { id, readonly: e.readonly as boolean | undefined };
    if (e.scratch !== undefined) {
      try {
        spec.size = parseDiskSize(e.scratch);
      } catch (err) {
        throw new Error(`${at}.scratch: ${(err as Error).message}`);
      }
      return spec;
    }
    const key = given[0] as "path" | "template";
    const file = e[key];
    if (typeof file !== "string" || !file) throw new Error(`${at}.${key} must be a host path (a string), got ${JSON.stringify(file)}`);
    if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`${at}.${key}: host image not found: ${file}`);
    spec[key] = file;
    return spec;
  });
}

function initialTime(v: unknown): Date {
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`boot option initial_time must be a finite number of seconds since the epoch, got ${Number.isNaN(v) ? "NaN" : v}`);
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
  const disks = opts.disks !== undefined ? bootDisks(opts.disks) : [];
  // The Lua side made relative host paths relative to the cwd (from the calling file's directory).
  const shares = mergeShares(profile.shares, opts.shares !== undefined ? parseShares(opts.shares, process.cwd(), "boot option shares") : []);
  const extraQemu = [...(profile.qemuArgs ?? []), ...(opts.qemu_args !== undefined ? qemuArgs(listOf(opts.qemu_args), "boot option qemu_args") : [])];
  let agentDeadlineMs = profile.agentBootTimeoutMs ?? defaultDeadlineMs;
  if (opts.agent_timeout !== undefined) {
    const s = opts.agent_timeout;
    if (typeof s !== "number" || !Number.isFinite(s) || s <= 0) throw new Error(`boot option agent_timeout must be a positive, finite number of seconds, got ${typeof s === "number" ? String(s) : JSON.stringify(s)}`);
    agentDeadlineMs = s * 1000;
  }
  if (opts.cold !== undefined && typeof opts.cold !== "boolean") throw new Error(`boot option cold must be true or false, got ${typeof opts.cold}`);
  return {
    cold: opts.cold === true,
    agentDeadlineMs,
    initialTimeNs: rtcBase ? BigInt(rtcBase.getTime()) * 1_000_000n : undefined,
    disks: [...(profile.disks ?? []), ...disks],
    extras: (image) => {
      const cmdline = replace === undefined && append === undefined ? undefined : [ownCmdline(image, profile), replace ?? profile.cmdline, append].filter(Boolean).join(" ");
      if (shares.length && image.noShares) throw new Error(`${opts.shares !== undefined ? "boot option shares" : `${profile.origin}.shares`}: ${image.noShares}`);
      return { bootFiles, rngSeed, rtcBase, cmdline, qemuArgs: extraQemu.length ? extraQemu : undefined, ...(shares.length ? { shares } : {}) };
    },
  };
}
