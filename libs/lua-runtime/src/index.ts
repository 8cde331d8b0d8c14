// @provium/lua-runtime: the whole runtime of a test file. Its Lua half (lua/, run by the
// engine in lua-thread/ on a thread of its own), the bridge between the two, and the host
// half (host/: the session that answers Lua's calls and owns the file's VMs).
export * from "./bridge";
export { newOpenFdTable, closeLeftFds } from "./lua-thread/host-fs";
export { startLuaThread, luaWorkerEntry, type LuaThread } from "./lua-thread/start";
export * from "./host";
