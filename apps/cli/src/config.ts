// provium.toml: `[provium]` (roots, cache_dir, cache_max_size), `[cache]` (remote,
// remote_write), `[profiles.NAME]` and `[matrix]` (matrix.ts).
// Built-in profiles need no file. Paths in a profile are relative to the config file.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { builtinProfiles, parseShares, type Profile, type RuntimeConfig } from "@provium/host-runtime";
import { parseRemoteUrl } from "@provium/vmm";
import { parseMatrix, type Matrix } from "./matrix";

export { builtinProfiles, type Profile };
/** The runtime's configuration and what only the CLI reads: the [matrix] of kernels. */
export type Config = RuntimeConfig & { matrix?: Matrix };


const profileKeys = new Set(["kernel", "initrd", "cmdline", "cmdline_file", "inject_agent", "build", "base", "packages", "disks", "agent_boot_timeout", "shares", "qemu_args", "warm_boot"]);
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;
const topKeys = new Set(["roots", "cache_dir", "cache_max_size"]);
const cacheKeys = new Set(["remote", "remote_write"]);

export class ConfigError extends Error {}

/** Finds provium.toml in `start` or its parents. */
export function findConfig(start: string): string | null {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const f = join(dir, "provium.toml");
    if (existsSync(f)) return f;
    if (dirname(dir) === dir) return null;
  }
}

export function loadConfig(file: string | null, cwd = process.cwd()): Config {
  const cfg: Config = { file, dir: file ? dirname(file) : cwd, roots: [], profiles: { ...builtinProfiles } };
  if (!file) return cfg;
  let raw: any;
  try {
    raw = Bun.TOML.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: not valid TOML: ${(e as Error).message}`);
  }
  const top = raw.provium ?? {};
  for (const k of Object.keys(top)) if (!topKeys.has(k)) throw new ConfigError(`${file}: unknown key provium.${k} (known: ${[...topKeys].join(", ")})`);
  if (top.roots !== undefined) {
    if (!Array.isArray(top.roots) || top.roots.some((r: unknown) => typeof r !== "string"))
      throw new ConfigError(`${file}: provium.roots must be an array of strings`);
    cfg.roots = top.roots.map((r: string) => resolve(cfg.dir, r));
  }
  if (top.cache_dir !== undefined) cfg.cacheDir = resolve(cfg.dir, String(top.cache_dir));
  if (top.cache_max_size !== undefined) cfg.cacheMaxSize = String(top.cache_max_size);
  const cache = raw.cache ?? {};
  for (const k of Object.keys(cache)) if (!cacheKeys.has(k)) throw new ConfigError(`${file}: unknown key cache.${k} (known: ${[...cacheKeys].join(", ")})`);
  if (cache.remote !== undefined) {
    try {
      if (typeof cache.remote !== "string") throw new Error("it must be a string");
      parseRemoteUrl(cache.remote);
    } catch (e) {
      throw new ConfigError(`${file}: cache.remote: ${(e as Error).message}`);
    }
    if (cache.remote_write !== undefined && typeof cache.remote_write !== "boolean") throw new ConfigError(`${file}: cache.remote_write must be true or false`);
    cfg.remoteCache = { url: cache.remote, write: cache.remote_write ?? true };
  } else if (cache.remote_write !== undefined) throw new ConfigError(`${file}: cache.remote_write without cache.remote`);
  const matrix = parseMatrix(raw.matrix, file, cfg.dir, (m) => new ConfigError(m));
  if (matrix) cfg.matrix = matrix;
  for (const [name, p] of Object.entries<any>(raw.profiles ?? {})) {
    const where = `${file}: profiles.${name}`;
    for (const k of Object.keys(p)) if (!profileKeys.has(k)) throw new ConfigError(`${where}: unknown key '${k}' (known: ${[...profileKeys].join(", ")})`);
    const str = (k: string) => {
      if (p[k] !== undefined && typeof p[k] !== "string") throw new ConfigError(`${where}.${k} must be a string`);
      return p[k] as string | undefined;
    };
    if (p.inject_agent !== undefined && typeof p.inject_agent !== "boolean") throw new ConfigError(`${where}.inject_agent must be true or false`);
    const path = (v?: string) => (v === undefined ? undefined : isAbsolute(v) || v.includes("{out}") ? v : resolve(cfg.dir, v));
    // cmdline_file's words first, then cmdline's (both may be given)
    let fromFile = "";
    const cmdlineFile = path(str("cmdline_file"));
    if (cmdlineFile) {
      try {
        fromFile = readFileSync(cmdlineFile, "utf8").replace(/\s+/g, " ").trim();
      } catch (e) {
        throw new ConfigError(`${where}.cmdline_file: cannot read ${cmdlineFile}: ${(e as NodeJS.ErrnoException).code}`);
      }
    }
    const cmdline = [fromFile, str("cmdline")?.trim()].filter(Boolean).join(" ");
    let agentBootTimeoutMs: number | undefined;
    if (p.agent_boot_timeout !== undefined) {
      if (typeof p.agent_boot_timeout !== "number" || !(p.agent_boot_timeout > 0)) throw new ConfigError(`${where}.agent_boot_timeout must be a positive number of seconds`);
      agentBootTimeoutMs = p.agent_boot_timeout * 1000;
    }
    if (p.warm_boot !== undefined && typeof p.warm_boot !== "boolean") throw new ConfigError(`${where}.warm_boot must be true or false`);
    const disks = p.disks === undefined ? undefined : profileDisks(p.disks, where, path);
    let shares: Profile["shares"];
    try {
      shares = p.shares === undefined ? undefined : parseShares(p.shares, cfg.dir, `${where}.shares`);
    } catch (e) {
      throw new ConfigError((e as Error).message); // it names the file already (`where`)
    }
    if (p.qemu_args !== undefined && (!Array.isArray(p.qemu_args) || p.qemu_args.some((a: unknown) => typeof a !== "string")))
      throw new ConfigError(`${where}.qemu_args must be an array of strings (QEMU arguments, e.g. ["-device", "virtio-rng-pci"])`);
    const base = str("base");
    let packages: string[] | undefined;
    if (p.packages !== undefined) {
      if (!Array.isArray(p.packages)) throw new ConfigError(`${where}.packages must be an array of package names`);
      for (const n of p.packages)
        if (typeof n !== "string" || !PACKAGE_NAME.test(n)) throw new ConfigError(`${where}.packages: ${JSON.stringify(n)} is not a Debian package name`);
      packages = p.packages;
      if (base === undefined) throw new ConfigError(`${where}: packages needs a base to add them to (e.g. base = "debian")`);
    }
    if (base !== undefined) {
      const clash = ["kernel", "initrd", "build"].filter((k) => p[k] !== undefined);
      if (p.inject_agent === false) clash.push("inject_agent");
      if (clash.length) throw new ConfigError(`${where}: base (a Debian image recipe) cannot be combined with ${clash.join(", ")}`);
    }
    cfg.profiles[name] = {
      name,
      kernel: path(str("kernel")),
      initrd: path(str("initrd")),
      cmdline,
      injectAgent: p.inject_agent ?? true,
      build: str("build"),
      origin: where,
      ...(base !== undefined ? { base } : {}),
      ...(packages ? { packages } : {}),
      ...(disks ? { disks } : {}),
      ...(shares ? { shares } : {}),
      ...(agentBootTimeoutMs ? { agentBootTimeoutMs } : {}),
      ...(p.qemu_args?.length ? { qemuArgs: p.qemu_args } : {}),
      ...(p.warm_boot === false ? { warmBoot: false } : {}),
    };
  }
  for (const prof of Object.values(cfg.profiles)) resolveRecipe(cfg, prof, []);
  return cfg;
}

// `disks = [{ size = "64M" }, { path = "data.img", readonly = true, id = "data" }]`: plugged
// into each VM of the profile once its agent answers; paths relative to the config file.
function profileDisks(v: unknown, where: string, path: (p?: string) => string | undefined): Profile["disks"] {
  if (!Array.isArray(v)) throw new ConfigError(`${where}.disks must be an array of tables like { size = "64M" } or { path = "x.img", readonly = true }`);
  return v.map((d, i) => {
    const at = `${where}.disks[${i + 1}]`;
    if (typeof d !== "object" || d === null) throw new ConfigError(`${at} must be a table`);
    for (const k of Object.keys(d)) if (!["size", "path", "readonly", "id"].includes(k)) throw new ConfigError(`${at}: unknown key '${k}' (known: size, path, readonly, id)`);
    if ((d.size === undefined) === (d.path === undefined)) throw new ConfigError(`${at}: give size or path`);
    if (d.path !== undefined && typeof d.path !== "string") throw new ConfigError(`${at}.path must be a string`);
    if (d.readonly !== undefined && typeof d.readonly !== "boolean") throw new ConfigError(`${at}.readonly must be true or false`);
    if (d.id !== undefined && typeof d.id !== "string") throw new ConfigError(`${at}.id must be a string`);
    return { ...d, ...(d.path !== undefined ? { path: path(d.path) } : {}) };
  });
}

// A recipe's package list and command line are its base's plus its own, down to a built-in image.
function resolveRecipe(cfg: Config, prof: Profile, chain: string[]): void {
  if (prof.rootfs || prof.base === undefined) return;
  const where = `${prof.origin}.base`;
  if (chain.includes(prof.name)) throw new ConfigError(`${where}: recipes form a cycle: ${[...chain, prof.name].join(" -> ")}`);
  const base = cfg.profiles[prof.base];
  if (!base) {
    const known = Object.values(cfg.profiles).filter((q) => q.rootfs || q.base !== undefined).map((q) => q.name).sort();
    throw new ConfigError(`${where}: unknown base '${prof.base}' (known: ${known.join(", ")})`);
  }
  resolveRecipe(cfg, base, [...chain, prof.name]);
  if (!base.rootfs) throw new ConfigError(`${where}: '${prof.base}' is not an image recipe (a base is 'debian' or a profile that has a base)`);
  prof.rootfs = { packages: [...new Set([...base.rootfs.packages, ...(prof.packages ?? [])])] };
  prof.cmdline = [base.cmdline, prof.cmdline].filter(Boolean).join(" ");
}
