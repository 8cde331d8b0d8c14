// The modules of a kernel's lib/modules/<ver> dir, with what each needs: a module's .modinfo
// names its dependencies (`depends=`), so we need no modules.dep (an unpacked Debian package
// has none: depmod writes it at install) and no depmod. What the guest loads is the closure of
// what it wants, dependencies first; a wanted module the dir lacks is built in (or missing,
// which kernel-source.ts tells apart from the kernel's config).
import * as fs from "node:fs";
import * as path from "node:path";

export interface KernelModule {
  name: string;
  data: Uint8Array;
}

const MODULE_FILE = /\.ko(\.(xz|zst|gz))?$/;
/** Module names compare with - and _ alike, as the kernel does. */
export const moduleName = (file: string) => path.basename(file).replace(MODULE_FILE, "").replace(/-/g, "_");

// name -> file, from modules.order (what `make modules_install` and a package both ship), else
// a walk of kernel/ (a hand-made dir). A compressed file stands for the one modules.order names.
const indexes = new Map<string, Map<string, string>>();
export function moduleFiles(moduleDir: string): Map<string, string> {
  const cached = indexes.get(moduleDir);
  if (cached) return cached;
  const byName = new Map<string, string>();
  const order = path.join(moduleDir, "modules.order");
  const rels = fs.existsSync(order) ? fs.readFileSync(order, "utf8").split("\n").filter(Boolean) : walk(moduleDir, "kernel");
  for (const rel of rels) {
    const bare = rel.replace(MODULE_FILE, "");
    for (const cand of [rel, `${bare}.ko`, `${bare}.ko.xz`, `${bare}.ko.zst`, `${bare}.ko.gz`]) {
      const full = path.join(moduleDir, cand);
      if (fs.existsSync(full)) {
        byName.set(moduleName(rel), full);
        break;
      }
    }
  }
  indexes.set(moduleDir, byName);
  return byName;
}

function walk(root: string, rel: string): string[] {
  const dir = path.join(root, rel);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(root, `${rel}/${d.name}`) : MODULE_FILE.test(d.name) ? [`${rel}/${d.name}`] : []));
}

/** Built-in modules by name (modules.builtin, one path a line), empty when the dir has none. */
export function builtinModules(moduleDir: string): Set<string> {
  const f = path.join(moduleDir, "modules.builtin");
  return new Set(fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map(moduleName) : []);
}

/** A module file's bytes, decompressed (busybox insmod reads plain .ko only). */
export function readModule(file: string): Uint8Array {
  if (file.endsWith(".gz")) return Bun.gunzipSync(fs.readFileSync(file));
  const tool = file.endsWith(".xz") ? ["xz", "-dc", file] : file.endsWith(".zst") ? ["zstd", "-dcq", file] : null;
  if (!tool) return fs.readFileSync(file);
  const r = Bun.spawnSync(tool, { stdout: "pipe", stderr: "pipe" });
  if (!r.success) throw new Error(`${tool.join(" ")} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** The `depends=` of a module's .modinfo (NUL-separated key=value strings). */
export function moduleDepends(data: Uint8Array): string[] {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  const at = text.indexOf("\0depends=");
  if (at < 0) return [];
  const end = text.indexOf("\0", at + 1);
  return text.slice(at + 9, end < 0 ? undefined : end).split(",").filter(Boolean).map((n) => n.replace(/-/g, "_"));
}

/**
 * The modules to load for `wanted`, dependencies first, each once; modules in `loaded` (shipped
 * and loaded before) are left out. Wanted modules the dir lacks are skipped (built in).
 */
export function moduleClosure(moduleDir: string, wanted: readonly string[], loaded: ReadonlySet<string> = new Set()): KernelModule[] {
  const files = moduleFiles(moduleDir);
  const out: KernelModule[] = [];
  const seen = new Set<string>(loaded);
  const visit = (name: string, chain: string[]) => {
    if (seen.has(name)) return;
    const file = files.get(name);
    if (!file) return;
    seen.add(name);
    const data = readModule(file);
    for (const dep of moduleDepends(data)) if (!chain.includes(dep)) visit(dep, [...chain, name]);
    out.push({ name, data });
  };
  for (const name of wanted) visit(name.replace(/-/g, "_"), []);
  return out;
}
