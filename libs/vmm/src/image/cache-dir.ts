// Where Provium keeps downloaded kernels, built agents and images, plus the two primitives
// every cache entry relies on: content keys and atomic publication.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** $PROVIUM_CACHE_DIR, else $XDG_CACHE_HOME/provium, else ~/.cache/provium (XDG convention). */
export function cacheRoot(): string {
  const env = process.env;
  if (env.PROVIUM_CACHE_DIR) return path.resolve(env.PROVIUM_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), "provium");
  return path.join(os.homedir(), ".cache", "provium");
}

export type KeyPart = string | Uint8Array | number | null | undefined;

/** sha256 over a list of parts. Each part is length-prefixed so ["ab","c"] != ["a","bc"]. */
export function contentKey(parts: KeyPart[]): string {
  const h = createHash("sha256");
  for (const p of parts) {
    const bytes = p == null ? new Uint8Array(0) : typeof p === "string" || typeof p === "number" ? Buffer.from(String(p)) : p;
    h.update(`${p == null ? "n" : typeof p === "object" ? "b" : "s"}${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest("hex");
}

// Hashing a 100 MB agent binary costs ~0.2 s; remember digests per (inode, size, mtime, ctime)
// for the life of the process so repeated ensureImage calls stay cheap.
const hashMemo = new Map<string, string>();

/** sha256 (hex) of a file's bytes, memoised on its stat identity. */
export function hashFile(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  const id = `${path.resolve(file)}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const hit = hashMemo.get(id);
  if (hit) return hit;
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const digest = h.digest("hex");
  hashMemo.set(id, digest);
  return digest;
}

/** A sibling temp name: same directory, so the final rename stays on one filesystem (atomic). */
export function tempSibling(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Write a file so readers see either the old or the complete new content, never a torn one
 * (concurrent provium runs share the cache).
 */
export function atomicWriteFile(target: string, data: string | Uint8Array | Uint8Array[], mode = 0o644): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    const fd = fs.openSync(tmp, "w", mode);
    try {
      for (const chunk of Array.isArray(data) ? data : [data]) writeAll(fd, typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/**
 * Publish a fully built directory or file at `target` by renaming `tmp` onto it. If another
 * process won the race (target already exists), keep theirs and drop ours.
 */
export function publish(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e: any) {
    if (fs.existsSync(target) && (e.code === "ENOTEMPTY" || e.code === "EEXIST" || e.code === "EISDIR")) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Read and parse a JSON file, or undefined when missing/corrupt (caches self-heal). */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** A cache hit: its mtime becomes the time of last use, which pruning goes by. */
export function markUsed(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {}
}

export const DAY_MS = 24 * 3600 * 1000;

/** What pruning removes: entries whose name matches, unused (mtime) for longer than `afterMs`. */
export interface PruneRule {
  match: (name: string) => boolean;
  afterMs: number;
  /** this many of the newest matches stay whatever their age */
  keepNewest?: number;
}

/**
 * Removes what `rules` say from a cache directory, never `keep` (the entry just used) and never
 * an entry another process removed first (concurrent runs share the cache).
 */
export function pruneCache(dir: string, keep: string, rules: PruneRule[], remove = (p: string) => fs.rmSync(p, { recursive: true, force: true })): void {
  const now = Date.now();
  const entries = fs.readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (p === keep) return [];
    try {
      return [{ name, p, t: fs.lstatSync(p).mtimeMs }];
    } catch {
      return [];
    }
  });
  for (const rule of rules) {
    const hits = entries.filter((e) => rule.match(e.name)).sort((a, b) => b.t - a.t);
    for (const e of hits.slice(rule.keepNewest ?? 0))
      if (now - e.t > rule.afterMs)
        try {
          remove(e.p);
        } catch {}
  }
}
