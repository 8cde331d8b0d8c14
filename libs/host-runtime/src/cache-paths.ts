// What a cached snapshot (a fixture's, a boot template's) says of the images it boots: their
// paths relative to the cache dir ("@cache/images/KEY.initrd"), so that the entry means the same
// in another cache dir or on another machine; and, when the local cache lacks one of them
// (pruned, or the entry came from elsewhere), fetching it from the remote cache.
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import type { RemoteCache } from "@provium/vmm";

const CACHE = "@cache/";

/** `value` (JSON) with paths under `cacheDir` made relative to it. */
export function cacheRelative<T>(value: T, cacheDir: string): T {
  return JSON.parse(JSON.stringify(value).replaceAll(cacheDir + "/", CACHE));
}

/** `value` (JSON) with cache-relative paths made absolute under `cacheDir`. */
export function inCache<T>(value: T, cacheDir: string): T {
  return JSON.parse(JSON.stringify(value).replaceAll(CACHE, cacheDir + "/"));
}

/** A file's identity for a key: inside the cache its path there (which carries its content key),
 *  the same on every machine; elsewhere what `outside` makes of it. */
export function cacheIdentity(file: string, cacheDir: string, outside: (file: string) => string): string {
  const rel = relative(cacheDir, file);
  return rel && !rel.startsWith("..") ? `cache:${rel}` : outside(file);
}

/** Fetches from the remote cache the cache entries (two levels down: images/KEY.initrd,
 *  kernels/PACKAGE/...) of those `files` that are missing here. */
export async function fetchMissing(files: string[], cacheDir: string, remote: RemoteCache | undefined, onProgress: (msg: string) => void) {
  if (!remote) return;
  const entries = files
    .filter((f) => f && !existsSync(f))
    .map((f) => relative(cacheDir, f).split("/"))
    .filter((r) => r.length >= 2 && r[0] !== "..")
    .map((r) => join(cacheDir, r[0]!, r[1]!));
  for (const e of new Set(entries)) await remote.fetch(cacheDir, e, onProgress);
}
