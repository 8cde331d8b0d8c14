// A package's entry point is its only door: no file may reach into another package's files,
// by a relative path or a deep specifier (`@provium/x/src/...`), and every `@provium/*` a
// package imports is one its package.json declares. bench/ and chaos/ count as packages of
// their own. Imports are found by Bun's own parser (Bun.Transpiler's scanImports); files
// named by `new URL("...", import.meta.url)` are checked too.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface Violation {
  file: string;
  specifier: string;
  why: string;
}

interface Pkg {
  dir: string;
  name: string;
  declared: Set<string>;
}

const SOURCE = /\.(ts|tsx|mts|js|mjs)$/;
// A file (it has an extension) named relative to the module: `new URL("./x.ts", import.meta.url)`.
const URL_REF = /new URL\(\s*["'`]([^"'`]+\.[a-z]+)["'`]\s*,\s*import\.meta\.url\s*\)/g;

function packagesOf(root: string, groups: string[], loose: string[]): Pkg[] {
  const pkgs: Pkg[] = [];
  for (const g of groups) {
    const base = join(root, g);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base)) {
      const pj = join(base, d, "package.json");
      if (!existsSync(pj)) continue;
      const m = JSON.parse(readFileSync(pj, "utf8"));
      pkgs.push({ dir: join(base, d), name: m.name, declared: new Set(Object.keys({ ...m.dependencies, ...m.devDependencies })) });
    }
  }
  // Folders without a package.json of their own (bench/, chaos/) may use whatever the root declares.
  const rootPj = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const rootDeps = new Set(Object.keys({ ...rootPj.dependencies, ...rootPj.devDependencies }));
  for (const d of loose) if (existsSync(join(root, d))) pkgs.push({ dir: join(root, d), name: d, declared: new Set([...rootDeps, ...pkgs.map((p) => p.name)]) });
  return pkgs;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (SOURCE.test(e.name)) out.push(p);
  }
  return out;
}

const inside = (dir: string, p: string) => p === dir || p.startsWith(dir + sep);

/** Every import in the tree that crosses a package's boundary other than through an entry point. */
export function boundaryViolations(root: string, groups = ["apps", "libs"], loose = ["bench", "chaos", "scripts"]): Violation[] {
  const pkgs = packagesOf(root, groups, loose);
  const transpiler = new Bun.Transpiler({ loader: "ts" });
  const out: Violation[] = [];
  for (const pkg of pkgs) {
    for (const file of sources(pkg.dir)) {
      const code = readFileSync(file, "utf8").replace(/^#!.*/, ""); // a bin's shebang
      const rel = relative(root, file);
      let specs: string[];
      try {
        specs = transpiler.scanImports(code).map((i) => i.path);
      } catch (e) {
        out.push({ file: rel, specifier: "", why: `does not parse: ${(e as Error).message}` });
        continue;
      }
      specs.push(...[...code.matchAll(URL_REF)].map((m) => m[1]!));
      for (const spec of specs) {
        if (spec.startsWith(".")) {
          const target = resolve(dirname(file), spec);
          if (!inside(pkg.dir, target)) out.push({ file: rel, specifier: spec, why: `reaches outside ${relative(root, pkg.dir)} (into ${relative(root, target)})` });
        } else if (spec.startsWith("@provium/")) {
          const [scope, name, ...rest] = spec.split("/");
          const pkgName = `${scope}/${name}`;
          if (rest.length) out.push({ file: rel, specifier: spec, why: `imports ${pkgName}'s internals, not its entry point` });
          else if (pkgName !== pkg.name && !pkg.declared.has(pkgName)) out.push({ file: rel, specifier: spec, why: `${pkgName} is not a dependency in ${relative(root, pkg.dir)}/package.json` });
        }
      }
    }
  }
  return out;
}

if (import.meta.main) {
  const v = boundaryViolations(resolve(import.meta.dir, ".."));
  for (const x of v) console.log(`${x.file}: '${x.specifier}' ${x.why}`);
  console.log(v.length ? `${v.length} boundary violations` : "no boundary violations");
  process.exit(v.length ? 1 : 0);
}

