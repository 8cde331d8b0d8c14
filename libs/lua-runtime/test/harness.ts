// Runs Lua test source on a real Lua thread against a fake host, for fast unit tests
// of the Lua-facing API. Guest behaviour itself is tested on real VMs elsewhere.
import { MessageChannel } from "node:worker_threads";
import { luaWorkerEntry, newBridgeSignal, serveCalls } from "../src";

export type Ops = Record<string, (args: any) => unknown>;

export async function runLua(source: string, ops: Ops = {}, displayPath = "t/x.test.lua") {
  const events: Record<string, any>[] = [];
  const calls: { op: string; args: any }[] = [];
  const all: Ops = {
    "file.plan": ({ tests }) => ({ verdicts: tests.map(() => "run") }),
    "test.begin": () => null,
    "test.failing": () => ({ debug: false, vm: null }),
    ...ops,
  };
  const { port1, port2 } = new MessageChannel();
  const signal = newBridgeSignal();
  const lua = new Worker(luaWorkerEntry);
  const done = new Promise<void>((resolve, reject) => {
    serveCalls(
      port1 as any,
      signal,
      async (op, args) => {
        calls.push({ op, args });
        if (!all[op]) throw new Error(`unknown host op '${op}'`);
        return all[op](args);
      },
      (e) => (e.kind === "lua_done" ? (e.error ? reject(new Error(String(e.error))) : resolve()) : events.push(e)),
    );
    lua.onerror = (e) => reject(new Error(e.message));
  });
  lua.postMessage({ port: port2, signal, displayPath, source }, [port2 as any]);
  try {
    await done;
  } finally {
    lua.terminate();
    port1.close();
  }
  return { events, calls, outcome: (name: string) => events.find((e) => e.test === name && /^test_(passed|failed|skipped)$/.test(e.kind)) };
}
