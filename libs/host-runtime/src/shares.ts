// `shares`: host directories mounted in the guest over virtio-9p, from vm:boot({shares}) and a
// profile's `shares` key. Both spell one table: { ["/mnt/src"] = "../src" } or
// { ["/mnt/src"] = { path = "../src", readonly = true } }; relative host paths are resolved
// against `baseDir` (the test file's directory for a boot option, provium.toml's for a profile).
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { ShareOptions } from "@provium/vmm";

/** Parses a `shares` table; `what` names it in errors (e.g. "boot option shares"). */
export function parseShares(v: unknown, baseDir: string, what: string): ShareOptions[] {
  const shape = `${what} must be a table {["/guest/dir"] = "host/dir"} or {["/guest/dir"] = { path = "host/dir", readonly = true }}`;
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new Error(shape);
  return Object.entries(v).map(([mount, spec]) => {
    const at = `${what}["${mount}"]`;
    if (!/^\/[^\s,]*$/.test(mount)) throw new Error(`${what}: the guest mount point ${JSON.stringify(mount)} must be an absolute path without spaces or commas`);
    let host: unknown = spec;
    let readOnly = false;
    if (typeof spec === "object" && spec !== null && !(spec instanceof Uint8Array)) {
      const s = spec as Record<string, unknown>;
      const unknown = Object.keys(s).filter((k) => k !== "path" && k !== "readonly");
      if (unknown.length) throw new Error(`${at}: unknown key ${unknown.join(", ")} (known: path, readonly)`);
      if (s.readonly !== undefined && typeof s.readonly !== "boolean") throw new Error(`${at}.readonly must be true or false, got ${JSON.stringify(s.readonly)}`);
      host = s.path;
      readOnly = s.readonly === true;
    }
    if (typeof host !== "string" || !host) throw new Error(`${at} must be a host directory (a string, or { path = ..., readonly = true }), got ${typeof host}`);
    const path = resolve(baseDir, host);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`${at}: host directory not found: ${path}`);
    return { mount, path, readOnly };
  });
}

/** A profile's shares with a boot's on top (the boot's win for the same mount point). */
export function mergeShares(profile: ShareOptions[] = [], boot: ShareOptions[] = []): ShareOptions[] {
  const byMount = new Map(profile.map((s) => [s.mount, s]));
  for (const s of boot) byMount.set(s.mount, s);
  return [...byMount.values()];
}
