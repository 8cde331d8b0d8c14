// The host files a Lua file depends on, found by scanning literal calls (as fixture keys are):
// the helpers it requires, the fixtures it resumes with what they depend on, and the host
// files its literal push_file / depends_on_file calls name. `provium --since` runs the test
// files whose dependencies changed.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { RuntimeConfig as Config } from "./config";
import { findFixture, findHelper } from "./fixture-key";
import { literalCalls } from "./lua-scan";

const SCANNED = new Set(["require", "vm_fixture", "lab_fixture", "push_file", "depends_on_file"]);

/** Absolute paths of everything `file` depends on (itself excluded), transitively.
 *  Throws "<file>:<line>: ..." when a source does not parse. */
export function luaFileDeps(file: string, config: Config): string[] {
  const seen = new Set<string>([resolve(file)]);
  const queue = [resolve(file)];
  while (queue.length) {
    const src = queue.shift()!;
    const add = (p: string | null, scan: boolean) => {
      if (!p || seen.has(p)) return;
      seen.add(p);
      if (scan) queue.push(p);
    };
    for (const c of literalCalls(readFileSync(src), src, SCANNED)) {
      if (c.fn === "require") add(findHelper(c.arg, config, dirname(src)), true);
      else if (c.fn === "vm_fixture" || c.fn === "lab_fixture") add(findFixture(c.arg, config, dirname(src)), true);
      else if (c.fn === "depends_on_file" || c.autoDep) add(isAbsolute(c.arg) ? c.arg : resolve(dirname(src), c.arg), false);
    }
  }
  seen.delete(resolve(file));
  return [...seen];
}
