// Starts the Lua thread of one file (a test file or a fixture builder) against a session's
// host ops. `done` resolves with a failure reason, or undefined when the file finished.
import { MessageChannel } from "node:worker_threads";
import { newBridgeSignal, serveCalls } from "../bridge";
import { closeLeftFds, newOpenFdTable } from "./host-fs";

/** Path of the Lua-thread worker entry, for `new Worker(...)`. */
export const luaWorkerEntry = new URL("./worker.ts", import.meta.url).href;

export interface LuaThread {
  done: Promise<string | undefined>;
  /** Ends the thread now (a timeout, Ctrl-C); `done` resolves with `why`. */
  stop(why: string): void;
}

export function startLuaThread(
  file: { displayPath: string; source: string; mode?: "test" | "fixture" | "repl" },
  handle: (op: string, args: any) => Promise<unknown>,
  onEvent: (e: Record<string, unknown>) => void,
): LuaThread {
  let finish!: (why?: string) => void;
  const done = new Promise<string | undefined>((r) => (finish = r));
  const { port1, port2 } = new MessageChannel();
  const signal = newBridgeSignal();
  serveCalls(port1 as any, signal, handle, (e) => {
    if (e.kind === "lua_done") finish(e.error ? `the Lua runtime crashed: ${e.error}` : undefined);
    else onEvent(e);
  });
  // Host files Lua opened (io.open): closed here if the thread is stopped before it can.
  const openFds = newOpenFdTable();
  const lua = new Worker(luaWorkerEntry);
  lua.onerror = (e) => finish(`the Lua runtime crashed: ${e.message}`);
  lua.addEventListener("close", () => closeLeftFds(openFds));
  lua.postMessage({ port: port2, signal, openFds, ...file }, [port2 as any]);
  void done.then(() => {
    lua.terminate();
    port1.close();
  });
  return { done, stop: (why) => finish(why) };
}
