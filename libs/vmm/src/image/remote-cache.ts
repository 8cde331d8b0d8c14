// A shared cache on any S3-compatible store, behind the local one: what a runner would build
// (kernels, agents, images, fixture snapshots) is looked up there by the same content-keyed
// path it has under the local cache dir, downloaded instead of built, and uploaded after a
// build. Through Bun's own S3 client; endpoint and credentials from the usual S3_* / AWS_*
// variables.
//
// Layout under the prefix: `blobs/<sha256>` holds an entry's bytes (zstd; a directory as a tar
// first), named by their own digest, and `keys/<path>.json` says which blob an entry is. The
// blob is written before its key, so a key only ever names a whole blob; two runners that
// upload one entry at once each write their own blob and the last key wins, leaving one good
// object either way. A download is checked against the digest before it is used: a corrupt or
// partial one is thrown away and built locally. A store that is down or refuses costs one
// warning and local builds, never a failed run.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { publish, tempSibling } from "./cache-dir";

export interface RemoteCacheOptions {
  /** s3://bucket/prefix */
  url: string;
  /** false: look up and download only (untrusted pull-request runners) */
  write: boolean;
  onWarning?: (msg: string) => void;
}

interface KeyRecord {
  v: 1;
  blob: string; // sha256 of the blob's bytes
  size: number;
  kind: "file" | "dir";
  mode: number; // a file's permission bits (the agent binary is executable)
  meta?: unknown; // what the uploader said of the entry beside its bytes (a fixture's restore meta)
}

const LOOKUP_TIMEOUT_MS = 15_000;

export function parseRemoteUrl(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`remote cache must be s3://bucket/prefix, got ${JSON.stringify(url)}`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, "") };
}

export class RemoteCache {
  private readonly s3: Bun.S3Client;
  private readonly prefix: string;
  private down: string | null = null;

  constructor(private readonly o: RemoteCacheOptions) {
    const { bucket, prefix } = parseRemoteUrl(o.url);
    this.prefix = prefix ? `${prefix}/` : "";
    this.s3 = new Bun.S3Client({ bucket }); // endpoint and credentials: S3_* / AWS_* variables
  }

  /** fetchAs for a file or directory under the local cache dir, by its path there. */
  async fetch(cacheDir: string, target: string, onProgress?: (msg: string) => void): Promise<boolean> {
    return (await this.fetchAs(relKey(cacheDir, target), target, onProgress)) !== null;
  }

  /** offerAs for a file or directory under the local cache dir, by its path there. */
  offer(cacheDir: string, target: string, onProgress?: (msg: string) => void): Promise<void> {
    return this.offerAs(relKey(cacheDir, target), target, onProgress);
  }

  /**
   * Fills `target` (a path that does not exist yet) with the entry `rel` of the store. Its meta
   * (what offerAs was given) when it is there now, downloaded whole and checked; null on a miss,
   * a corrupt object or a store that is down.
   */
  async fetchAs(rel: string, target: string, onProgress?: (msg: string) => void): Promise<{ meta?: unknown } | null> {
    if (this.down) return null;
    let rec: KeyRecord | null;
    try {
      rec = await this.lookup(rel);
    } catch (e) {
      this.markDown(e);
      return null;
    }
    if (!rec) return null;
    onProgress?.(`downloading ${rel} from the remote cache (${(rec.size / 2 ** 20).toFixed(1)} MiB)`);
    const blob = tempSibling(target) + ".zst";
    const out = tempSibling(target);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      await Bun.write(blob, this.s3.file(this.blobKey(rec.blob)));
      const got = await sha256File(blob);
      if (got !== rec.blob) {
        this.warn(`remote cache: ${rel} is corrupt (its blob's digest is ${got.slice(0, 12)}, the key says ${rec.blob.slice(0, 12)}); building it here instead`);
        return null;
      }
      await unpack(blob, out, rec.kind);
      if (rec.kind === "file") fs.chmodSync(out, rec.mode & 0o777);
      publish(out, target);
      return { meta: rec.meta };
    } catch (e) {
      this.warn(`remote cache: downloading ${rel} failed (${(e as Error).message}); building it here instead`);
      return null;
    } finally {
      fs.rmSync(blob, { force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  }

  /** Uploads a freshly built file or directory as the entry `rel`, with `meta` beside it (no-op
   *  when read-only or down). */
  async offerAs(rel: string, target: string, onProgress?: (msg: string) => void, meta?: unknown): Promise<void> {
    if (!this.o.write || this.down) return;
    const st = fs.statSync(target);
    const kind = st.isDirectory() ? "dir" : "file";
    const blob = tempSibling(target) + ".zst";
    try {
      await pack(target, blob, kind);
      const digest = await sha256File(blob);
      const size = fs.statSync(blob).size;
      onProgress?.(`uploading ${rel} to the remote cache (${(size / 2 ** 20).toFixed(1)} MiB)`);
      await this.s3.write(this.blobKey(digest), Bun.file(blob));
      const rec: KeyRecord = { v: 1, blob: digest, size, kind, mode: st.mode & 0o777, ...(meta !== undefined ? { meta } : {}) };
      await this.s3.write(this.keyKey(rel), JSON.stringify(rec), { type: "application/json" });
    } catch (e) {
      this.markDown(e);
    } finally {
      fs.rmSync(blob, { force: true });
    }
  }

  private async lookup(rel: string): Promise<KeyRecord | null> {
    const file = this.s3.file(this.keyKey(rel));
    const read = (async () => {
      if (!(await file.exists())) return null;
      return (await file.json()) as KeyRecord;
    })();
    const rec = await withTimeout(read, LOOKUP_TIMEOUT_MS, `no answer within ${LOOKUP_TIMEOUT_MS / 1000} s`);
    if (!rec) return null;
    const ok = rec.v === 1 && /^[0-9a-f]{64}$/.test(rec.blob) && (rec.kind === "file" || rec.kind === "dir") && Number.isSafeInteger(rec.size) && Number.isInteger(rec.mode);
    if (!ok) {
      this.warn(`remote cache: ${rel}'s key record is malformed; building it here instead`);
      return null;
    }
    return rec;
  }

  private blobKey(digest: string) {
    return `${this.prefix}blobs/${digest}`;
  }

  private keyKey(rel: string) {
    return `${this.prefix}keys/${rel}.json`;
  }

  private markDown(e: unknown) {
    if (this.down) return;
    this.down = (e as Error)?.message ?? String(e);
    this.warn(`remote cache ${this.o.url} is unreachable (${this.down}); building locally for the rest of this run`);
  }

  private warn(msg: string) {
    this.o.onWarning?.(msg);
  }
}

function relKey(cacheDir: string, target: string): string {
  const rel = path.relative(cacheDir, target);
  if (!rel || rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`remote cache: ${target} is not under the cache dir ${cacheDir}`);
  return rel.split(path.sep).join("/");
}

async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of Bun.file(file).stream()) h.update(chunk);
  return h.digest("hex");
}

async function run(cmd: string[], what: string) {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${err.trim().split("\n").slice(-2).join(" | ")}`);
}

// zstd keeps sparse files (root filesystems) small on the wire and sparse again on disk.
async function pack(target: string, blob: string, kind: "file" | "dir") {
  if (kind === "file") return run(["zstd", "-q", "-T0", "-3", "-f", target, "-o", blob], "zstd");
  await run(["sh", "-c", 'tar -C "$1" -cf - . | zstd -q -T0 -3 -o "$2"', "pack", target, blob], "tar | zstd");
}

async function unpack(blob: string, out: string, kind: "file" | "dir") {
  if (kind === "file") return run(["zstd", "-q", "-d", "-f", blob, "-o", out], "zstd -d");
  fs.mkdirSync(out);
  await run(["sh", "-c", 'zstd -q -d -c "$1" | tar -C "$2" -xf -', "unpack", blob, out], "zstd -d | tar");
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(timer));
}
