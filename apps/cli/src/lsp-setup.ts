// `provium lsp-setup`: Lua language-server definitions for the whole API, so that `vm:`,
// `t:` and friends complete and type-check in editors using lua-language-server.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { luaTypes as types } from "@provium/lua-runtime";

export function lspSetup(dir: string) {
  const typesDir = join(dir, ".provium", "types");
  mkdirSync(typesDir, { recursive: true });
  writeFileSync(join(typesDir, "provium.d.lua"), types);
  const rc = join(dir, ".luarc.json");
  const config = existsSync(rc) ? JSON.parse(readFileSync(rc, "utf8")) : {};
  const library: string[] = config["workspace.library"] ?? [];
  if (!library.includes(".provium/types")) library.push(".provium/types");
  Object.assign(config, {
    "runtime.version": "Lua 5.4",
    "workspace.library": library,
    "diagnostics.globals": [...new Set([...(config["diagnostics.globals"] ?? []), "provium", "test", "todo", "wait_until", "json"])],
  });
  writeFileSync(rc, JSON.stringify(config, null, 2) + "\n");
  return { rc, types: join(typesDir, "provium.d.lua") };
}
