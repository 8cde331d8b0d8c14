// require("a.b") of a test file: helpers are looked up next to the test file, then under each root.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export function findModule(name: string, filePath: string, roots: string[]) {
  const rel = name.replaceAll(".", "/");
  for (const base of [dirname(filePath), ...roots])
    for (const cand of [join(base, rel + ".lua"), join(base, rel, "init.lua")])
      if (existsSync(cand)) return { path: relative(process.cwd(), cand) || cand, source: readFileSync(cand, "utf8") };
  return null;
}
