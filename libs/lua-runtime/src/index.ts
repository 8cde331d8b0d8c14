// @provium/lua-runtime: the Lua half of a test file's runtime. The Lua API (lua/, run by the
// engine in lua-thread/ on a thread of its own), its LuaLS types (types/), and the bridge over
// which it calls the host (answered by @provium/host-runtime's session).
import { fileURLToPath } from "node:url";
import luaTypes from "../types/provium.d.lua" with { type: "text" };

export * from "./bridge";
export { newOpenFdTable, closeLeftFds } from "./lua-thread/host-fs";
export { startLuaThread, luaWorkerEntry, type LuaThread } from "./lua-thread/start";
export { preludeChunks as luaApiSources } from "./lua-thread/prelude";
/** The LuaLS definitions of the whole API (types/provium.d.lua), as text. */
export { luaTypes };
/** The directory holding them, for a `.luarc.json` that points at the installed package. */
export const luaTypesDir = fileURLToPath(new URL("../types", import.meta.url));
