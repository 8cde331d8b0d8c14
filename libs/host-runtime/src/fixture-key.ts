// The cache key of a fixture: everything that could change what its builder produces.
// Found by scanning the builder's source (and its helpers') for literal calls, so that the
// key is known before anything is built.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { type RemoteCache, contentKey, ensureAgentBinary, ensureDebianKernel, hashFile, kernelIdentity } from "@provium/vmm";
import { protocolVersion } from "@provium/protocol";
import type { RuntimeConfig as Config, Profile } from "./config";
import { literalCalls } from "./lua-scan";

/** Resolves the agent and default kernel once (both cached, cheap after the first run). */
export async function keyContext(config: Config, cacheDir: string, agentEntry: string, remote: RemoteCache | undefined, onProgress: (m: string) => void): Promise<KeyContext> {
  const [agent, kernel] = await Promise.all([ensureAgentBinary({ cacheDir, entry: agentEntry, onProgress, remote }), ensureDebianKernel({ cacheDir, onProgress, remote })]);
  // By their paths inside the cache (which carry their content keys), so that one fixture has
  // one key in every cache dir: a remote cache shares it between machines.
  return { config, agent: relative(cacheDir, agent), defaultKernel: relative(cacheDir, kernel.kernel) };
}

export const TOOL_VERSION = "0.1.0";

const SCANNED = new Set(["require", "vm_fixture", "lab_fixture", "push_file", "depends_on_file"]);

/** Where `name` ("dir/base") is defined: under the roots, then next to the caller. */
export function findFixture(name: string, config: Config, fromDir: string): string | null {
  const bases = [...(config.roots.length ? config.roots : [config.dir]), fromDir];
  for (const base of bases) {
    const p = resolve(base, `${name}.fixture.lua`);
    if (existsSync(p)) return p;
  }
  return null;
}

export function findHelper(name: string, config: Config, fromDir: string): string | null {
  const rel = name.replaceAll(".", "/");
  for (const base of [fromDir, ...config.roots])
    for (const cand of [join(base, rel + ".lua"), join(base, rel, "init.lua")]) if (existsSync(cand)) return cand;
  return null;
}

export interface KeyContext {
  config: Config;
  /** The agent binary and the default kernel, by their content-addressed paths in the cache dir. */
  agent: string;
  defaultKernel: string;
}

// A profile's identity: its definition, the bytes of the files it names, and the agent and
// kernel it gets when it names none. Not where it was defined, nor where its files are: a
// checkout elsewhere (another CI runner) has the same fixtures.
function profileIdentity(p: Profile, ctx: KeyContext): string {
  const { origin: _, kernel, initrd, shares, ...rest } = p;
  // A kernel by path may be a build tree or an unpacked package: its image and modules count.
  const identity = (f: string, isKernel: boolean) => (!existsSync(f) ? `missing:${f}` : isKernel ? kernelIdentity(f) : hashFile(f));
  const files = [kernel, initrd].map((f, i) => (f && !f.includes("{out}") ? identity(f, i === 0) : null)).filter((f) => f !== null);
  const built = [kernel, initrd].map((f) => (f?.includes("{out}") ? f : null)); // made by `build`: named by the command
  const mounts = shares?.map((s) => ({ mount: s.mount, readOnly: !!s.readOnly })); // where the host dirs are is not part of it
  return JSON.stringify({ ...rest, ...(mounts ? { shares: mounts } : {}), files, built, kernel: kernel ? null : ctx.defaultKernel, agent: p.injectAgent ? ctx.agent : null });
}

/** Returns the key and the host files it covers (for `provium fixture stale`). */
export function fixtureKey(path: string, ctx: KeyContext, seen = new Set<string>()): { key: string; deps: string[] } {
  if (seen.has(path)) throw new Error(`fixture ${path} resumes itself (a cycle through ${[...seen].join(" -> ")})`);
  seen.add(path);
  const parts: (string | Uint8Array)[] = [TOOL_VERSION, String(protocolVersion)];
  const deps: string[] = [path];
  const dir = dirname(path);
  const sources = [path];
  // Helpers it requires, recursively.
  let calls: ReturnType<typeof literalCalls> = [];
  for (let i = 0; i < sources.length; i++) {
    const src = readFileSync(sources[i]!);
    // By its path in the project (not on this machine), so that checkouts elsewhere share the key.
    parts.push(`source:${relative(ctx.config.dir, sources[i]!)}`, src.toString("utf8"));
    const found = literalCalls(src, sources[i]!, SCANNED);
    if (i === 0) calls = found;
    for (const c of found.filter((c) => c.fn === "require")) {
      const helper = findHelper(c.arg, ctx.config, dirname(sources[i]!));
      if (helper && !sources.includes(helper)) sources.push(helper);
    }
  }
  deps.push(...sources.slice(1));
  // Fixtures it resumes.
  for (const c of calls.filter((c) => c.fn === "vm_fixture" || c.fn === "lab_fixture")) {
    const parent = findFixture(c.arg, ctx.config, dir);
    if (!parent) throw new Error(`${path}:${c.line}: resumes fixture "${c.arg}", which does not exist`);
    const sub = fixtureKey(parent, ctx, new Set(seen));
    parts.push(`fixture:${c.arg}`, sub.key);
    deps.push(...sub.deps);
  }
  // Host files: literal push_file sources (unless the call says auto_dep = false) and
  // lab:depends_on_file literals, relative to the builder's directory.
  const hostFiles = calls.filter((c) => (c.fn === "push_file" && c.autoDep) || c.fn === "depends_on_file").map((c) => c.arg);
  for (const f of hostFiles) {
    const abs = isAbsolute(f) ? f : resolve(dir, f);
    parts.push(`host:${f}`, existsSync(abs) ? hashFile(abs) : "missing");
    deps.push(abs);
  }
  // Every profile's kernel and initrd identity.
  for (const name of Object.keys(ctx.config.profiles).sort()) parts.push(`profile:${name}`, profileIdentity(ctx.config.profiles[name]!, ctx));
  return { key: contentKey(parts), deps };
}
