// `provium fixture list | build | rebuild | clean | stale`: the fixture cache from the shell.
import { relative, resolve } from "node:path";
import { cacheRoot, type AccelRequest } from "@provium/vmm";
import { agentEntry } from "@provium/agent";
import { hostSetup, keyOf, openFixtureCache, openRemoteCache, openSession, type FixtureHost } from "@provium/host-runtime";
import type { FixtureCache } from "@provium/fixture-cache";
import type { Config } from "./config";
import { loadRunConfig } from "./run";
import { discoverBy } from "./discover";
import { requireHost } from "./host-checks";

function setup(o: { config?: string }) {
  const config = loadRunConfig(o.config);
  const cacheDir = config.cacheDir ?? cacheRoot();
  return { config, cacheDir, cache: openFixtureCache(config, cacheDir) };
}

const size = (n: number) => (n > 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

// Fixture names are paths relative to the root they are under, without the suffix.
function fixtureFiles(config: ReturnType<typeof setup>["config"], paths: string[]) {
  const roots = config.roots.length ? config.roots : [config.dir];
  const files = discoverBy(paths.length ? paths : roots, ".fixture.lua");
  return files.map((f) => {
    const root = roots.find((r) => !relative(r, f).startsWith("..")) ?? config.dir;
    return { path: f, name: relative(root, f).replace(/\.fixture\.lua$/, "") };
  });
}

// Boot templates (warm boots) live in the same cache: listed after the fixtures, as "template".
export function fixtureList(o: { config?: string }) {
  const { cache } = setup(o);
  const rows = cache.list();
  if (!rows.length) return console.log("the fixture cache is empty");
  for (const e of rows) console.log(`${e.kind === "template" ? "template " : ""}${e.name}  ${e.key.slice(0, 16)}  ${size(e.size)}  last used ${new Date(e.lastUsed).toISOString()}`);
  const templates = rows.filter((e) => e.kind === "template").length;
  console.log(`${rows.length} entries (${rows.length - templates} fixtures, ${templates} boot templates), ${size(rows.reduce((n, e) => n + e.size, 0))} in ${cache.root}`);
}

export function fixtureClean(o: { config?: string; templates?: boolean }) {
  const { cache } = setup(o);
  const n = cache.list(o.templates ? "template" : undefined).length;
  cache.clean(o.templates ? "template" : undefined);
  console.log(o.templates ? `removed ${n} boot templates` : `removed ${n} fixture cache entries (fixtures and boot templates)`);
}

/** What fixture keys need (the agent's and kernel's keys, looked up or built); nothing else. */
function keysOnly(config: Config, cacheDir: string, cache: FixtureCache): FixtureHost {
  return {
    config,
    cacheDir,
    agentEntry,
    remote: openRemoteCache(config, (m) => console.error(`provium: warning: ${m}`)),
    cache,
    emit: () => {},
    builderSession: () => {
      throw new Error("computing fixture keys builds no fixture");
    },
  };
}

/** Entries whose key no fixture on disk produces any more, and fixtures not built yet. */
export async function fixtureStale(paths: string[], o: { config?: string }) {
  const { config, cacheDir, cache } = setup(o);
  const host = keysOnly(config, cacheDir, cache);
  const current = new Set<string>();
  for (const f of fixtureFiles(config, paths)) {
    const { key } = await keyOf(f.path, host);
    current.add(key);
    if (!cache.lookup(key)) console.log(`not built: ${f.name}  ${key.slice(0, 16)}`);
  }
  for (const e of cache.list("fixture")) if (!current.has(e.key)) console.log(`stale: ${e.name}  ${e.key.slice(0, 16)}  ${size(e.size)}`);
}

export async function fixtureBuild(paths: string[], o: { config?: string; rebuild?: boolean; accel?: string }) {
  const { config, cacheDir, cache } = setup(o);
  requireHost(config);
  const host = { ...(await hostSetup(config, { agentEntry, accel: o.accel as AccelRequest | undefined })), fixtures: () => cache };
  let failed = 0;
  for (const f of fixtureFiles(config, paths)) {
    const session = openSession(host, resolve(f.path), {
      onProgress: (m) => console.log(`  … ${m}`),
      emit: (kind, fields) => {
        if (kind === "fixture_build_done") console.log(`built ${fields.fixture} (${size(Number(fields.size))}, ${(Number(fields.duration_ms) / 1000).toFixed(1)} s)`);
        else if (kind === "fixture_cache_hit") console.log(`cached ${fields.fixture}`);
        else if (kind === "progress") console.log(`  … ${fields.message}`);
      },
    });
    try {
      if (o.rebuild) cache.remove((await keyOf(f.path, keysOnly(config, cacheDir, cache))).key);
      await session.handle("fixture.lab", { name: f.name });
    } catch (e) {
      failed++;
      console.error(`fixture ${f.name}: ${(e as Error).message}`);
    } finally {
      await session.close();
    }
  }
  process.exit(failed ? 1 : 0);
}
