// Fixtures: a *.fixture.lua builds guests and returns a snapshot; provium:vm_fixture(name)
// resumes it, building it on first use. Builds run on a Lua thread of their own against a
// child session whose snapshots are written (zstd-compressed) straight into the cache.
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { FixtureCache } from "@provium/fixture-cache";
import { onProcessExit, type RemoteCache } from "@provium/vmm";
import type { RuntimeConfig as Config } from "./config";
import type { VmSnapshot } from "./guest";
import { startLuaThread } from "@provium/lua-runtime";
import { cacheRelative, fetchEntry, fetchMissing, inCache } from "./cache-paths";
import { findFixture, fixtureKey, keyContext, type KeyContext } from "./fixture-key";

export interface BuilderSession {
  handle(op: string, args: any): Promise<unknown>;
  takeSnapshot(id: number): VmSnapshot[];
  close(): Promise<void>;
}

export interface FixtureHost {
  config: Config;
  cacheDir: string;
  agentEntry: string;
  /** the shared remote cache behind the local one, when provium.toml's [cache] remote names one */
  remote?: RemoteCache;
  cache: FixtureCache;
  emit(kind: string, fields: Record<string, unknown>): void;
  /** A session for a builder, whose snapshots go (compressed) into `snapshotDir`. */
  builderSession(filePath: string, snapshotDir: string): BuilderSession;
}

let keyCtx: Promise<KeyContext> | null = null;

export async function keyOf(path: string, host: FixtureHost) {
  keyCtx ??= keyContext(host.config, host.cacheDir, host.agentEntry, host.remote, (m) => host.emit("progress", { message: m }));
  return fixtureKey(path, await keyCtx);
}

export function fixturePath(name: string, config: Config, fromDir: string) {
  const path = findFixture(name, config, fromDir);
  if (!path) {
    const where = [...(config.roots.length ? config.roots : [config.dir]), fromDir].map((d) => relative(process.cwd(), d) || ".");
    throw new Error(`no fixture named "${name}" (looked for ${name}.fixture.lua under ${[...new Set(where)].join(", ")})`);
  }
  return path;
}

// Paths inside an entry are stored relative to it ("@entry/..."), and the images it boots
// relative to the cache dir (cache-paths.ts), so entries can move between caches and machines.
const ENTRY = "@entry/";

const filesOf = (parts: VmSnapshot[]) => parts.flatMap((p) => [p.memory, p.image.kernel, p.image.initrd, ...(p.image.drives ?? []).map((d) => d.file)]);

/** The entry's snapshot parts, once every file they name is here: an image part this cache
 *  lacks (pruned, or the entry came from another machine) comes from the remote cache. */
async function partsOf(entry: { dir: string; meta: any }, host: FixtureHost): Promise<VmSnapshot[] | null> {
  const parts: VmSnapshot[] = inCache(JSON.parse(JSON.stringify(entry.meta?.parts ?? []).replaceAll(ENTRY, entry.dir + "/")), host.cacheDir);
  await fetchMissing(filesOf(parts), host.cacheDir, host.remote, (message) => host.emit("progress", { message }));
  return parts.length && filesOf(parts).every((f) => !f || existsSync(f)) ? parts : null;
}

/** The snapshot parts of fixture `name`, from the cache or freshly built. */
export async function resumeFixture(name: string, fromDir: string, host: FixtureHost, opts: { rebuild?: boolean } = {}) {
  const path = fixturePath(name, host.config, fromDir);
  const { key } = await keyOf(path, host);
  if (opts.rebuild) host.cache.remove(key);
  for (;;) {
    const got = await host.cache.lockForBuild(key);
    if ("entry" in got) {
      const parts = await partsOf(got.entry, host);
      if (parts) {
        host.emit("fixture_cache_hit", { fixture: name, key });
        return { key, parts, built: false };
      }
      host.emit("progress", { message: `warning: fixture ${name}: cache entry ${key.slice(0, 12)} is incomplete; rebuilding` });
      host.cache.remove(key);
      continue;
    }
    // An interrupted build gives its lock back too (found by `bun run chaos`: Ctrl-C of
    // `provium fixture build` left the lock for the next build to wait out).
    const forgetLock = onProcessExit(() => got.lock.release());
    try {
      const fetched = await fromRemote(name, key, host);
      if (fetched) return { key, parts: fetched, built: false };
      const parts = await build(name, path, key, host);
      return { key, parts, built: true };
    } finally {
      forgetLock();
      got.lock.release();
    }
  }
}

// A fixture's entry in the remote cache is its entry directory as built, with what the index
// holds of it (its restore meta) beside it in the key record.

async function fromRemote(name: string, key: string, host: FixtureHost): Promise<VmSnapshot[] | null> {
  if (!host.remote) return null;
  const progress = (message: string) => host.emit("progress", { message });
  try {
    const entry = await fetchEntry({ cache: host.cache, remote: host.remote, rel: `fixtures/${key}`, key, kind: "fixture", onProgress: progress }, (_, meta) => {
      if (!Array.isArray((meta as { parts?: unknown } | undefined)?.parts)) throw new Error("its record has no restore meta");
      return { name, meta };
    });
    if (!entry) return null;
    const parts = await partsOf(entry, host);
    if (!parts) {
      host.cache.remove(key);
      return null;
    }
    host.emit("fixture_cache_hit", { fixture: name, key, remote: true });
    return parts;
  } catch (e) {
    progress(`warning: fixture ${name}: the remote cache's copy is unusable (${(e as Error).message}); building it here`);
    return null;
  }
}

async function build(name: string, path: string, key: string, host: FixtureHost): Promise<VmSnapshot[]> {
  const started = Date.now();
  host.emit("fixture_build_started", { fixture: name, key });
  const staged = host.cache.stagingDir();
  // An interrupted run takes its half-built entry away (a killed one: the cache's next open).
  const forgetStaged = onProcessExit(() => rmSync(staged, { recursive: true, force: true }));
  const session = host.builderSession(path, staged);
  let result: number | null = null;
  let failure: string | undefined;
  const displayPath = relative(process.cwd(), path) || path;
  const lua = startLuaThread({ displayPath, source: readFileSync(path, "utf8"), mode: "fixture" }, (op, a) => session.handle(op, a), (e) => {
    if (e.kind === "fixture_result") result = e.snap as number;
    else if (e.kind === "file_error") failure = String(e.traceback ?? e.reason);
    else if (e.kind === "log" || e.kind === "progress") host.emit(e.kind, { ...e, fixture: name });
  });
  failure = (await lua.done) ?? failure;
  try {
    if (failure || result === null) throw new Error(`fixture ${name} failed to build:\n${failure ?? "it returned nothing"}`);
    const parts = session.takeSnapshot(result);
    await session.close();
    // Keep only the returned snapshot's files; other snapshots the builder took go.
    const keep = new Set(parts.map((p) => relative(staged, p.memory).split("/")[0]!));
    for (const f of readdirSync(staged)) if (!keep.has(f)) rmSync(join(staged, f), { recursive: true, force: true });
    const meta = { parts: cacheRelative(JSON.parse(JSON.stringify(parts).replaceAll(staged + "/", ENTRY)), host.cacheDir) };
    const entry = host.cache.commit(key, name, staged, meta);
    host.emit("fixture_build_done", { fixture: name, key, duration_ms: Date.now() - started, size: entry.size });
    await host.remote?.offerAs(`fixtures/${key}`, entry.dir, (message) => host.emit("progress", { message }), meta);
    return (await partsOf(entry, host))!;
  } catch (e) {
    await session.close();
    rmSync(staged, { recursive: true, force: true });
    throw e;
  } finally {
    forgetStaged();
  }
}
