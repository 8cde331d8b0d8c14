// `bun run pack`: the tarball a release publishes, dist/provium-<version>.tgz. ONE package,
// `provium`, carrying its @provium/* libraries inside it (node_modules/@provium/<name>/, listed
// in bundleDependencies), with every external dependency of every bundled library hoisted into
// provium's own `dependencies` at the exact version this checkout is tested with.
//
// Why one package and not one per library: Bun 1.4.5's `bun add -d a.tgz b.tgz` of tarballs
// that depend on each other still asks the registry for each `@provium/x@0.1.0` (404), so the
// libraries could only be installed by publishing all of them first; and bun install ignores
// the dependency lists of bundled packages, so theirs must be provium's. docs/install.md.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(import.meta.dir, "..");

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  bundleDependencies?: string[];
  [key: string]: unknown;
}

const readJson = (file: string): Manifest => JSON.parse(fs.readFileSync(file, "utf8"));

/** Every workspace package by name, with its directory. */
function workspacePackages(): Map<string, { dir: string; manifest: Manifest }> {
  const out = new Map<string, { dir: string; manifest: Manifest }>();
  for (const group of ["apps", "libs"])
    for (const name of fs.readdirSync(path.join(root, group))) {
      const dir = path.join(root, group, name);
      const pj = path.join(dir, "package.json");
      if (fs.existsSync(pj)) {
        const manifest = readJson(pj);
        out.set(manifest.name, { dir, manifest });
      }
    }
  return out;
}

/** The workspace packages `name` needs at run time (its `dependencies`, transitively). */
function runtimeClosure(name: string, ws: ReturnType<typeof workspacePackages>, seen = new Set<string>()): Set<string> {
  for (const dep of Object.keys(ws.get(name)!.manifest.dependencies ?? {}))
    if (ws.has(dep) && !seen.has(dep)) {
      seen.add(dep);
      runtimeClosure(dep, ws, seen);
    }
  return seen;
}

/** The exact version of an external package as installed in this checkout (what the tests ran). */
function installedVersion(name: string): string {
  const pj = path.join(root, "node_modules", name, "package.json");
  if (!fs.existsSync(pj)) throw new Error(`pack: ${name} is not installed in ${root}/node_modules (run bun install)`);
  return readJson(pj).version;
}

/** Copies a package's published files (its `files`, plus package.json and README). */
function copyPublished(from: string, to: string, manifest: Manifest) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of manifest.files ?? []) {
    const src = path.join(from, entry);
    if (!fs.existsSync(src)) throw new Error(`pack: ${manifest.name} lists "${entry}" in files, but ${src} does not exist`);
    fs.cpSync(src, path.join(to, entry), { recursive: true, filter: (f) => !/\.test\.[jt]s$/.test(f) });
  }
}

/** A manifest as published: workspace: versions made real, nothing only the repository uses. */
function publishedManifest(m: Manifest, ws: ReturnType<typeof workspacePackages>): Manifest {
  const { devDependencies: _dev, scripts: _scripts, ...rest } = m;
  const deps = Object.fromEntries(
    Object.entries(m.dependencies ?? {}).map(([dep, spec]) => [dep, spec.startsWith("workspace:") ? ws.get(dep)!.manifest.version : spec]),
  );
  return { ...rest, ...(m.dependencies ? { dependencies: deps } : {}) };
}

export async function pack(outDir = path.join(root, "dist")): Promise<string> {
  const ws = workspacePackages();
  const cli = ws.get("provium")!;
  const bundled = [...runtimeClosure("provium", ws)].sort();
  const stage = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), "provium-pack-"));
  try {
    // External dependencies of provium and every bundled library, one exact version each.
    const external = new Map<string, { version: string; by: string }>();
    for (const name of ["provium", ...bundled])
      for (const dep of Object.keys(ws.get(name)!.manifest.dependencies ?? {})) {
        if (ws.has(dep)) continue;
        const version = installedVersion(dep);
        const had = external.get(dep);
        if (had && had.version !== version) throw new Error(`pack: ${dep} is needed at ${had.version} by ${had.by} and at ${version} by ${name}`);
        external.set(dep, { version, by: name });
      }

    for (const name of bundled) {
      const { dir, manifest } = ws.get(name)!;
      if (manifest.private) throw new Error(`pack: ${name} is private but provium depends on it`);
      const to = path.join(stage, "node_modules", name);
      copyPublished(dir, to, manifest);
      fs.writeFileSync(path.join(to, "package.json"), JSON.stringify(publishedManifest(manifest, ws), null, 2) + "\n");
    }

    copyPublished(cli.dir, stage, cli.manifest);
    fs.copyFileSync(path.join(root, "README.md"), path.join(stage, "README.md"));
    const { dependencies: _deps, devDependencies: _dev, ...rest } = cli.manifest;
    const manifest: Manifest = {
      ...rest,
      description: "Integration tests that run inside real QEMU virtual machines, written in Lua",
      dependencies: Object.fromEntries([...external].sort(([a], [b]) => a.localeCompare(b)).map(([dep, { version }]) => [dep, version])),
      bundleDependencies: bundled,
      engines: { bun: `>=${Bun.version}` },
    };
    fs.writeFileSync(path.join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");

    fs.mkdirSync(outDir, { recursive: true });
    const tgz = path.join(outDir, `provium-${manifest.version}.tgz`);
    fs.rmSync(tgz, { force: true });
    const p = Bun.spawnSync(["bun", "pm", "pack", "--destination", outDir, "--quiet"], { cwd: stage, stdout: "pipe", stderr: "pipe" });
    if (!p.success || !fs.existsSync(tgz)) throw new Error(`pack: bun pm pack failed:\n${p.stderr.toString()}${p.stdout.toString()}`);
    return tgz;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const tgz = await pack(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`${path.relative(process.cwd(), tgz)} (${(fs.statSync(tgz).size / 1024).toFixed(0)} KiB)`);
}
