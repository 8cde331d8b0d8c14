// `provium lsp-setup`: Lua language-server definitions for the whole API, so that `vm:`,
// `t:` and friends complete and type-check in editors using lua-language-server.
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { luaTypes as types, luaTypesDir } from "@provium/lua-runtime";
import { ConfigError } from "./config";

/** Where the installed package keeps the types, through the project's `provium` link. */
const STABLE_TYPES = "node_modules/provium/node_modules/@provium/lua-runtime/types";

/**
 * The types as a path relative to `dir` when this provium is installed in `dir`'s node_modules
 * (they then follow upgrades); null when it runs from elsewhere (bunx's temp install, a checkout).
 */
export function installedTypesPath(dir: string): string | null {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : null);
  const types = real(luaTypesDir);
  const modules = real(join(dir, "node_modules"));
  if (!types || !modules) return null;
  if (real(join(dir, STABLE_TYPES)) === types) return STABLE_TYPES;
  return types.startsWith(modules + sep) ? relative(realpathSync(dir), types) : null;
}

/** The .luarc.json in `dir` as an object ({} when there is none); bad JSON is a clear error. */
export function readLuarc(dir: string): Record<string, any> {
  const rc = join(dir, ".luarc.json");
  try {
    return existsSync(rc) ? JSON.parse(readFileSync(rc, "utf8")) : {};
  } catch (e) {
    throw new ConfigError(`${rc}: not valid JSON (${(e as Error).message}); fix or remove it, then run this again`);
  }
}

/** Writes (or merges into) `dir`/.luarc.json; copies the types into .provium/types unless installed. */
export function lspSetup(dir: string) {
  const config = readLuarc(dir);
  const installed = installedTypesPath(dir);
  let library = installed;
  if (!library) {
    mkdirSync(join(dir, ".provium", "types"), { recursive: true });
    writeFileSync(join(dir, ".provium", "types", "provium.d.lua"), types);
    library = ".provium/types";
  }
  const libraries: string[] = config["workspace.library"] ?? [];
  if (!libraries.includes(library)) libraries.push(library);
  Object.assign(config, {
    "runtime.version": "Lua 5.4",
    "workspace.library": libraries,
    "diagnostics.globals": [...new Set([...(config["diagnostics.globals"] ?? []), "provium", "test", "todo", "wait_until", "json"])],
  });
  const rc = join(dir, ".luarc.json");
  writeFileSync(rc, JSON.stringify(config, null, 2) + "\n");
  return { rc, types: join(dir, library, "provium.d.lua"), installed: !!installed };
}
