// provium.toml: `[provium]` (roots, cache_dir, cache_max_size) and `[profiles.NAME]`.
// Built-in profiles need no file. Paths in a profile are relative to the config file.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";

export interface Profile {
  name: string;
  kernel?: string; // absent: Debian's cloud kernel
  initrd?: string; // absent: the agent overlay alone is the initrd
  cmdline: string;
  injectAgent: boolean;
  build?: string; // a command run once before the profile's first boot; `{out}` expanded
  origin: string; // where it was defined, for messages
}

export interface Config {
  file: string | null;
  dir: string;
  roots: string[];
  cacheDir?: string;
  cacheMaxSize?: string;
  profiles: Record<string, Profile>;
}

export const builtinProfiles: Record<string, Profile> = {
  minimal: { name: "minimal", cmdline: "", injectAgent: true, origin: "built in" },
};

const profileKeys = new Set(["kernel", "initrd", "cmdline", "cmdline_file", "inject_agent", "build"]);
const topKeys = new Set(["roots", "cache_dir", "cache_max_size"]);

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
  for (const [name, p] of Object.entries<any>(raw.profiles ?? {})) {
    const where = `${file}: profiles.${name}`;
    for (const k of Object.keys(p)) if (!profileKeys.has(k)) throw new ConfigError(`${where}: unknown key '${k}' (known: ${[...profileKeys].join(", ")})`);
    const str = (k: string) => {
      if (p[k] !== undefined && typeof p[k] !== "string") throw new ConfigError(`${where}.${k} must be a string`);
      return p[k] as string | undefined;
    };
    if (p.cmdline !== undefined && p.cmdline_file !== undefined) throw new ConfigError(`${where}: give cmdline or cmdline_file, not both`);
    if (p.inject_agent !== undefined && typeof p.inject_agent !== "boolean") throw new ConfigError(`${where}.inject_agent must be true or false`);
    const path = (v?: string) => (v === undefined ? undefined : isAbsolute(v) || v.includes("{out}") ? v : resolve(cfg.dir, v));
    let cmdline = str("cmdline") ?? "";
    const cmdlineFile = path(str("cmdline_file"));
    if (cmdlineFile) {
      try {
        cmdline = readFileSync(cmdlineFile, "utf8").trim();
      } catch (e) {
        throw new ConfigError(`${where}.cmdline_file: cannot read ${cmdlineFile}: ${(e as NodeJS.ErrnoException).code}`);
      }
    }
    cfg.profiles[name] = {
      name,
      kernel: path(str("kernel")),
      initrd: path(str("initrd")),
      cmdline,
      injectAgent: p.inject_agent ?? true,
      build: str("build"),
      origin: where,
    };
  }
  return cfg;
}

export function unknownProfile(cfg: Config, name: string) {
  const known = Object.keys(cfg.profiles).sort().join(", ");
  const where = cfg.file ? `in ${cfg.file}` : "(no provium.toml found)";
  return `unknown profile '${name}' ${where}; known profiles: ${known}`;
}
