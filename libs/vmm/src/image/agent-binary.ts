// The guest agent as one self-contained executable (`bun build --compile`), rebuilt only when
// its sources, its Provium dependencies' sources, the external packages it bundles or the bun
// version change. The key holds no absolute path and no lockfile: the same sources installed in
// another project (node_modules/provium/...) or checked out elsewhere hit the same cached agent.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RemoteCache } from "./remote-cache";
import { contentKey, hashFile, markUsed, publish, pruneCache, tempSibling, type KeyPart } from "./cache-dir";

export interface EnsureAgentOptions {
  cacheDir: string;
  /** the agent's entry point (@provium/agent's `agentEntry`) */
  entry: string;
  onProgress?: (msg: string) => void;
  /**
   * Package directories whose sources feed the key. Default: the entry's package directory plus
   * every Provium package it depends on (node_modules excluded): `workspace:` ones in this
   * repository, the ones bundled inside the installed `provium` package elsewhere.
   */
  sourceRoots?: string[];
  /** bun executable (default: this process when it is bun, else `bun` on PATH) */
  bun?: string;
  /** a shared cache behind the local one (provium.toml's [cache] remote) */
  remote?: RemoteCache;
}

// Start-up under TCG, where the agent's JS was parsed and compiled at every boot (~1 s of a
// 5.6 s boot): the executable carries JSC bytecode (ESM, as the entry awaits at top level),
// starts with the JIT held back until the agent says its start-up is over (jit-policy.ts), and
// looks for no .env or bunfig.toml in the guest's working directory.
const BUILD_FLAGS = ["--bytecode", "--format=esm", "--compile-jit-policy=100", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];

const SOURCE_EXT = /\.(ts|tsx|mts|cts|js|mjs|cjs|jsx|json|wasm|capnp|lua|txt|sh)$/;

/** The bun to build with: this process if it is the bun CLI (not a compiled app), else PATH. */
export function findBun(explicit?: string): string {
  if (explicit) return explicit;
  if (/^bun(-debug|-profile)?$/.test(path.basename(process.execPath))) return process.execPath;
  const onPath = Bun.which("bun", { PATH: process.env.PATH ?? "" });
  if (!onPath) throw new Error("bun not found: it is needed to build the guest agent (https://bun.sh)");
  return onPath;
}

export async function ensureAgentBinary(opts: EnsureAgentOptions): Promise<string> {
  const entry = path.resolve(opts.entry);
  if (!fs.existsSync(entry)) throw new Error(`agent entry not found: ${entry}`);
  const bun = findBun(opts.bun);
  const pkgDir = packageDirOf(entry);
  const roots = opts.sourceRoots ?? [pkgDir, ...ownDeps(pkgDir)];
  const key = agentKey(bun, entry, pkgDir, roots);

  const dir = path.join(opts.cacheDir, "agents");
  const target = path.join(dir, `provium-agent-${key.slice(0, 32)}`);
  if (fs.existsSync(target)) {
    markUsed(target);
    return target;
  }
  if (await opts.remote?.fetch(opts.cacheDir, target, opts.onProgress)) return target;
  fs.mkdirSync(dir, { recursive: true });
  opts.onProgress?.("building guest agent (bun build --compile)");
  const tmp = tempSibling(target);
  // Worker entries the package names (`workerEntries` in its package.json) are compiled in as
  // entrypoints of their own: how a compiled binary finds `new Worker(new URL("./x.ts", ...))`.
  const pj = path.join(pkgDir, "package.json");
  const manifest = (fs.existsSync(pj) ? JSON.parse(fs.readFileSync(pj, "utf8")) : {}) as { workerEntries?: string[] };
  const workers = (manifest.workerEntries ?? []).map((w) => path.resolve(pkgDir, w));
  const cmd = [bun, "build", "--compile", "--minify", ...BUILD_FLAGS, entry, ...workers, "--outfile", tmp];
  // The guest is always x86_64 Linux: cross-compile when the host is not.
  if (process.arch !== "x64" || process.platform !== "linux") cmd.splice(3, 0, "--target=bun-linux-x64");
  const proc = Bun.spawn(cmd, { cwd: pkgDir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || !fs.existsSync(tmp)) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`building the agent failed (${cmd.join(" ")}):\n${(err || out).trim()}`);
  }
  fs.chmodSync(tmp, 0o755);
  publish(tmp, target);
  await opts.remote?.offer(opts.cacheDir, target, opts.onProgress);
  // Keep the newest few agents (each ~100 MB); older ones are stale source states.
  pruneCache(dir, target, [{ match: (f) => f.startsWith("provium-agent-"), afterMs: 0, keepNewest: 2 }]);
  return target;
}

const versions = new Map<string, string>();
function bunVersion(bun: string): string {
  if (bun === process.execPath && process.versions.bun) return `${Bun.version}+${Bun.revision}`;
  let v = versions.get(bun);
  if (!v) {
    const r = Bun.spawnSync([bun, "--revision"], { stdout: "pipe", stderr: "pipe" });
    if (!r.success) throw new Error(`${bun} --revision failed: ${r.stderr.toString().trim()}`);
    v = r.stdout.toString().trim();
    versions.set(bun, v);
  }
  return v;
}

function packageDirOf(file: string): string {
  const pj = findUp(path.dirname(file), ["package.json"]);
  return pj ? path.dirname(pj) : path.dirname(file);
}

function findUp(start: string, names: string[]): string | null {
  let dir = start;
  for (;;) {
    for (const n of names) if (fs.existsSync(path.join(dir, n))) return path.join(dir, n);
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * The agent's cache key: bun, flags, and per package its name, its build-relevant manifest and
 * each source by path relative to the package and content hash; then name@version of every
 * external package the sources may bundle (transitively), as installed where they are.
 */
function agentKey(bun: string, entry: string, pkgDir: string, roots: string[]): string {
  const parts: KeyPart[] = ["provium-agent-v2", bunVersion(bun), process.arch, ...BUILD_FLAGS, "entry", `${manifestOf(pkgDir).name ?? ""}:${path.relative(pkgDir, entry)}`];
  const packages = [...new Set(roots.map((r) => path.resolve(r)))].map((dir) => ({ dir, manifest: manifestOf(dir) }));
  const external = new Set<string>();
  for (const { dir, manifest } of packages.sort((a, b) => (a.manifest.name ?? a.dir).localeCompare(b.manifest.name ?? b.dir))) {
    const { dependencies, devDependencies: _d, version: _v, files, scripts: _s, private: _p, ...build } = manifest;
    parts.push("package", manifest.name ?? path.basename(dir), JSON.stringify(Object.fromEntries(Object.entries(build).sort(([a], [b]) => a.localeCompare(b)))));
    for (const f of listSources(dir, files)) if (f !== path.join(dir, "package.json")) parts.push(path.relative(dir, f), hashFile(f));
    for (const name of Object.keys(dependencies ?? {})) if (!isProvium(name, dependencies![name]!)) externalVersions(dir, name, external);
  }
  parts.push("external", ...[...external].sort());
  return contentKey(parts);
}

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

function manifestOf(dir: string): Manifest {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  } catch {
    return {};
  }
}

const isProvium = (name: string, spec: string) => spec.startsWith("workspace:") || name.startsWith("@provium/");

/** name@version of an installed package `name` as `from` resolves it, and of its dependencies. */
function externalVersions(from: string, name: string, out: Set<string>) {
  const pj = findUp(from, [path.join("node_modules", name, "package.json")]);
  if (!pj) return out.add(`${name}@missing`);
  const m = manifestOf(path.dirname(pj));
  const id = `${name}@${m.version}`;
  if (out.has(id)) return;
  out.add(id);
  for (const dep of Object.keys(m.dependencies ?? {})) externalVersions(path.dirname(pj), dep, out);
}

/** Package dirs of the Provium packages a package depends on at run time, resolved through
 *  node_modules (transitively): their sources are the agent's too. */
function ownDeps(pkgDir: string, seen = new Set<string>()): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(manifestOf(pkgDir).dependencies ?? {})) {
    if (typeof spec !== "string" || !isProvium(name, spec)) continue;
    const link = findUp(pkgDir, [path.join("node_modules", name)]);
    if (!link) continue;
    const real = fs.realpathSync(link);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(real, ...ownDeps(real, seen));
  }
  return out;
}

/** A package's sources: under its published `files` when it names them (what an installed copy
 *  has: a checkout's scripts/ would make its key differ), else the whole package. */
function listSources(root: string, files?: unknown): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      // Tests and benchmarks are not part of the binary.
      if (e.name === "node_modules" || e.name.startsWith(".") || /^(test|tests|__tests__|bench)$/.test(e.name) || /\.test\.[jt]sx?$/.test(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && SOURCE_EXT.test(e.name)) out.push(p);
    }
  };
  const published = Array.isArray(files) ? files.map((f) => path.join(root, String(f))) : [root];
  for (const p of published) {
    if (fs.statSync(p, { throwIfNoEntry: false })?.isFile()) out.push(p);
    else walk(p);
  }
  return [...new Set(out)].sort();
}

