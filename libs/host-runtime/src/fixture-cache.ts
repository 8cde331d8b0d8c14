// The fixture cache of a configuration: under the cache dir, capped by cache_max_size.
import { join } from "node:path";
import { FixtureCache, parseSize } from "@provium/fixture-cache";
import type { RuntimeConfig as Config } from "./config";

export function openFixtureCache(config: Config, cacheDir: string) {
  let maxBytes: number | undefined;
  try {
    maxBytes = config.cacheMaxSize ? parseSize(config.cacheMaxSize) : undefined;
  } catch (e) {
    throw new Error(`${config.file}: provium.cache_max_size: ${(e as Error).message}`);
  }
  return new FixtureCache(join(cacheDir, "fixtures"), { maxBytes });
}

/** The cache, opened on first use (a run that resumes no fixture never touches it). */
export function lazyFixtureCache(config: Config, cacheDir: string) {
  let cache: FixtureCache | null = null;
  return () => (cache ??= openFixtureCache(config, cacheDir));
}
