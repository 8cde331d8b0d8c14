// Entry of a Lua thread: one per test file, started by the I/O thread that owns the VMs.
import { SyncCaller } from "../bridge";
import { runFile } from "./file-runner";

declare const self: Worker;

self.onmessage = async (e: MessageEvent) => {
  const { port, signal, displayPath, source, mode, openFds } = e.data;
  const caller = new SyncCaller(port, signal);
  try {
    await runFile(caller, displayPath, source, mode, openFds);
    caller.emit({ kind: "lua_done" });
  } catch (err) {
    caller.emit({ kind: "lua_done", error: (err as Error)?.stack ?? String(err) });
  }
};
