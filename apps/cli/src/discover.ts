// Finds *.test.lua files under the given paths (files or directories, recursively).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";

const SKIP_DIRS = new Set(["node_modules", ".git"]);

export function discover(paths: string[]): string[] {
  return discoverBy(paths, ".test.lua");
}

/** Files ending in `suffix` under the given paths (files or directories, recursively). */
export function discoverBy(paths: string[], suffix: string): string[] {
  const found = new Set<string>();
  const walk = (p: string) => {
    for (const entry of readdirSync(p, { withFileTypes: true })) {
      const full = join(p, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(full);
      } else if (entry.name.endsWith(suffix)) found.add(full);
    }
  };
  for (const raw of paths) {
    const p = resolve(raw);
    if (!existsSync(p)) throw new Error(`no such file or directory: ${raw}`);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".lua")) found.add(p);
    else throw new Error(`${raw} is not a .lua file`);
  }
  return [...found].sort();
}

/** `file`'s path under the first of `roots` that holds it (upstream's --filter matches this);
 *  "" when a root is the file itself. */
export function rootRelative(file: string, roots: string[]): string {
  for (const raw of roots) {
    const root = resolve(raw);
    if (root === file) return "";
    if (file.startsWith(root + sep)) return relative(root, file);
  }
  return relative(process.cwd(), file);
}
