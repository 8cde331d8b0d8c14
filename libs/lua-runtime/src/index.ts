export * from "./bridge";
/** Path of the Lua-thread worker entry, for `new Worker(...)`. */
export const luaWorkerEntry = new URL("./lua-thread/worker.ts", import.meta.url).href;
export { newOpenFdTable, closeLeftFds } from "./lua-thread/host-fs";
