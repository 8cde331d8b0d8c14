// Cached snapshots (fixtures, boot templates) across cache dirs and machines: the images they
// boot recorded relative to the cache dir ("@cache/images/KEY.initrd"), so that an entry means the
// same anywhere; an image the local cache lacks (pruned, or the entry came from elsewhere)
// fetched from the remote cache; and a whole entry downloaded from there into the local cache.
import { existsSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { Entry, EntryKind, FixtureCache } from "@provium/fixture-cache";
import { onProcessExit, type RemoteCache } from "@provium/vmm";

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

/**
 * The remote cache's entry `rel`, downloaded into a staging dir and committed as the local entry
 * `key` of `kind`, with the name and meta `admit` makes of it (null: refused, nothing kept). Null
 * on a miss. The staging dir goes whatever happens, an interrupted process's too.
 */
export async function fetchEntry(
  o: { cache: FixtureCache; remote: RemoteCache; rel: string; key: string; kind: EntryKind; onProgress: (msg: string) => void },
  admit: (staged: string, meta: unknown) => { name: string; meta: unknown } | null,
): Promise<Entry | null> {
  const staged = o.cache.stagingDir();
  rmSync(staged, { recursive: true, force: true }); // the download lands on this name whole
  const forget = onProcessExit(() => rmSync(staged, { recursive: true, force: true }));
  try {
    const got = await o.remote.fetchAs(o.rel, staged, o.onProgress);
    const admitted = got && admit(staged, got.meta);
    return admitted ? o.cache.commit(o.key, admitted.name, staged, admitted.meta, o.kind) : null;
  } finally {
    rmSync(staged, { recursive: true, force: true });
    forget();
  }
}
