// The fixture cache: snapshot files on disk, indexed in bun:sqlite (WAL, busy timeout) so
// that every runner worker and every provium process on the machine shares one view. It holds
// fixtures and boot templates (warm boots), told apart by an entry's kind, under one LRU cap.
// An entry is a directory entries/<key>/ written under a temp name and renamed whole; a
// build holds a lock row with a heartbeat so concurrent runners build a fixture once.
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/** "fixture": a built fixture; "template": a boot template (warm boots, host-runtime's boot-templates.ts). */
export type EntryKind = "fixture" | "template";

export interface Entry {
  key: string;
  kind: EntryKind;
  name: string; // the fixture's path, e.g. "dir/base"
  dir: string;
  size: number; // bytes on disk
  created: number; // ms since the epoch
  lastUsed: number;
  meta: any; // what a restore needs (VM specs, file names), JSON
}

export interface CacheOptions {
  maxBytes?: number; // LRU eviction keeps the total under this (default 20 GB)
  staleLockMs?: number; // a build lock whose heartbeat is older than this is taken over
}

const DEFAULT_MAX = 20 * 1000 ** 3;

export function parseSize(v: string): number {
  const m = v.trim().match(/^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i);
  if (!m) throw new Error(`"${v}" is not a size: use bytes or e.g. "500M", "20G"`);
  const mult: Record<string, number> = { "": 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * mult[m[2]!.toUpperCase()]!);
}

function dirSize(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    // Sparse files count what they occupy, not their apparent length.
    n += f.isDirectory() ? dirSize(p) : statSync(p).blocks * 512;
  }
  return n;
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // someone else's live process
  }
}

export class FixtureCache {
  readonly db: Database;
  private readonly maxBytes: number;
  private readonly staleLockMs: number;

  constructor(readonly root: string, opts: CacheOptions = {}) {
    mkdirSync(join(root, "entries"), { recursive: true });
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX;
    this.staleLockMs = opts.staleLockMs ?? 30_000;
    this.db = new Database(join(root, "index.sqlite"), { create: true });
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS entries (
      key TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL,
      created INTEGER NOT NULL, last_used INTEGER NOT NULL, meta TEXT NOT NULL)`);
    this.addKindColumn();
    this.db.exec(`CREATE TABLE IF NOT EXISTS locks (
      key TEXT PRIMARY KEY, owner TEXT NOT NULL, heartbeat INTEGER NOT NULL)`);
    this.sweepStaging();
  }

  // An index made before boot templates has no kind column: every entry in it is a fixture.
  private addKindColumn() {
    const cols = this.db.query("PRAGMA table_info(entries)").all() as { name: string }[];
    if (cols.some((c) => c.name === "kind")) return;
    try {
      this.db.exec("ALTER TABLE entries ADD COLUMN kind TEXT NOT NULL DEFAULT 'fixture'");
    } catch (e) {
      if (!/duplicate column/i.test((e as Error).message)) throw e; // another process added it first
    }
  }

  // Staging dirs of builds whose process is gone (killed mid-build) are never committed.
  private sweepStaging() {
    for (const f of readdirSync(join(this.root, "entries"))) {
      const pid = Number(/^\.staging-(\d+)-/.exec(f)?.[1]);
      if (pid && !alive(pid)) rmSync(join(this.root, "entries", f), { recursive: true, force: true });
    }
  }

  close() {
    this.db.close();
  }

  private row(r: any): Entry {
    return { key: r.key, kind: r.kind ?? "fixture", name: r.name, dir: join(this.root, "entries", r.key), size: r.size, created: r.created, lastUsed: r.last_used, meta: JSON.parse(r.meta) };
  }

  /** The entry for `key` if it is whole (its directory exists); touches its LRU time. */
  lookup(key: string): Entry | null {
    const r = this.db.query("SELECT * FROM entries WHERE key = ?").get(key);
    if (!r) return null;
    const e = this.row(r);
    if (!existsSync(e.dir)) {
      this.remove(key);
      return null;
    }
    this.db.query("UPDATE entries SET last_used = ? WHERE key = ?").run(Date.now(), key);
    return e;
  }

  /** Every entry, or those of one kind. */
  list(kind?: EntryKind): Entry[] {
    const rows = kind ? this.db.query("SELECT * FROM entries WHERE kind = ? ORDER BY name, created").all(kind) : this.db.query("SELECT * FROM entries ORDER BY kind, name, created").all();
    return rows.map((r) => this.row(r));
  }

  remove(key: string) {
    this.db.query("DELETE FROM entries WHERE key = ?").run(key);
    rmSync(join(this.root, "entries", key), { recursive: true, force: true });
  }

  /** Removes every entry (of one kind: only those, and no build in progress). */
  clean(kind?: EntryKind) {
    for (const e of this.list(kind)) this.remove(e.key);
    if (!kind) for (const f of readdirSync(join(this.root, "entries"))) rmSync(join(this.root, "entries", f), { recursive: true, force: true });
  }

  /** A fresh directory to build an entry in (inside the cache, so the final rename is atomic). */
  stagingDir(): string {
    const dir = join(this.root, "entries", `.staging-${process.pid}-${randomBytes(6).toString("hex")}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Publishes a staged directory as the entry for `key`, then evicts past the size cap. */
  commit(key: string, name: string, staged: string, meta: unknown, kind: EntryKind = "fixture"): Entry {
    const dir = join(this.root, "entries", key);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staged, dir);
    const now = Date.now();
    const size = dirSize(dir);
    this.db
      .query("INSERT OR REPLACE INTO entries (key, kind, name, size, created, last_used, meta) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(key, kind, name, size, now, now, JSON.stringify(meta));
    this.evict(key);
    return this.lookup(key)!;
  }

  /** Removes least-recently-used entries until the total fits the cap (never `keep`). */
  evict(keep?: string) {
    let total = (this.db.query("SELECT COALESCE(SUM(size), 0) AS n FROM entries").get() as any).n as number;
    if (total <= this.maxBytes) return;
    for (const e of this.db.query("SELECT key, size FROM entries ORDER BY last_used ASC").all() as any[]) {
      if (total <= this.maxBytes) break;
      if (e.key === keep) continue;
      this.remove(e.key);
      total -= e.size;
    }
  }

  /**
   * Takes the build lock for `key`, or waits while someone else builds it. Resolves to the
   * finished entry if the other builder produced it, else to a lock to build under.
   */
  async lockForBuild(key: string, pollMs = 200): Promise<{ entry: Entry } | { lock: BuildLock }> {
    for (;;) {
      const got = this.tryLock(key);
      if (got) return got;
      await Bun.sleep(pollMs);
    }
  }

  /** The entry for `key`, else its build lock, else null while someone else builds it. */
  tryLock(key: string): { entry: Entry } | { lock: BuildLock } | null {
    const owner = `${process.pid}-${randomBytes(6).toString("hex")}`;
    const now = Date.now();
    // The entry is looked up in the same transaction that takes the lock: looked up before
    // it, a builder that committed and let go in between was built again (seen under load).
    const got = this.db.transaction((): Entry | "locked" | "waiting" => {
      const hit = this.lookup(key);
      if (hit) return hit;
      const held = this.db.query("SELECT owner, heartbeat FROM locks WHERE key = ?").get(key) as any;
      if (held && now - held.heartbeat < this.staleLockMs) return "waiting";
      this.db.query("INSERT OR REPLACE INTO locks (key, owner, heartbeat) VALUES (?, ?, ?)").run(key, owner, now);
      return "locked";
    }).immediate();
    if (got === "locked") return { lock: new BuildLock(this, key, owner) };
    return got === "waiting" ? null : { entry: got };
  }
}

export class BuildLock {
  private timer: Timer;

  constructor(private readonly cache: FixtureCache, readonly key: string, readonly owner: string) {
    this.timer = setInterval(() => {
      cache.db.query("UPDATE locks SET heartbeat = ? WHERE key = ? AND owner = ?").run(Date.now(), key, owner);
    }, 2000);
  }

  release() {
    clearInterval(this.timer);
    this.cache.db.query("DELETE FROM locks WHERE key = ? AND owner = ?").run(this.key, this.owner);
  }
}
