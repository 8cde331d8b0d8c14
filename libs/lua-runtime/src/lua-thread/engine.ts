// One wasmoon engine per test file, with the host bridge and the Lua prelude installed.
import { LuaFactory, LuaRawResult, decorateFunction, type LuaEngine } from "wasmoon";
// Imported as a file so that `bun build --compile` embeds it.
import wasmPath from "wasmoon/dist/glue.wasm" with { type: "file" };
import { preludeChunks } from "./prelude";
import { Marshal } from "./marshal";
import type { HostFiles } from "./host-fs";
import type { SyncCaller } from "../bridge";


let factory: LuaFactory | null = null;

/** `hostFiles` backs Lua's io and os on the host's filesystem; the caller closes what it
 *  left open when the engine is done. */
export async function createEngine(caller: SyncCaller, hostFiles: HostFiles): Promise<LuaEngine> {
  factory ??= new LuaFactory(wasmPath);
  const engine = await factory.createEngine({ injectObjects: false, enableProxy: false, traceAllocations: false });
  const lua = (engine as any).global.lua;
  const marshal = new Marshal(lua);
  // Raw functions: arguments are read and results pushed on the Lua stack by Marshal.
  const raw = (fn: (L: number, argc: number) => number) =>
    decorateFunction((thread: any, argc: number) => new LuaRawResult(fn(thread.address, argc)), {
      receiveThread: true,
      receiveArgsQuantity: true,
    });
  engine.global.set(
    "__host_call",
    raw((L) => {
      const reply = caller.call(marshal.read(L, 1) as string, marshal.read(L, 2));
      marshal.push(L, reply);
      return 1;
    }),
  );
  // Non-blocking host calls for lab:spawn's tasks (spawn.lua): submit, take what arrived, wait.
  engine.global.set(
    "__host_submit",
    raw((L) => {
      marshal.push(L, caller.submit(marshal.read(L, 1) as string, marshal.read(L, 2)));
      return 1;
    }),
  );
  engine.global.set(
    "__host_take",
    raw((L) => {
      const ids = (marshal.read(L, 1) as number[] | null) ?? [];
      marshal.push(L, caller.takeArrived(Array.isArray(ids) ? ids : Object.values(ids)).map(([id, reply]) => ({ id, reply })));
      return 1;
    }),
  );
  engine.global.set(
    "__host_wait",
    raw((L) => {
      const ids = (marshal.read(L, 1) as number[] | null) ?? [];
      caller.waitFor(Array.isArray(ids) ? ids : Object.values(ids), Number(marshal.read(L, 2) ?? 100));
      return 0;
    }),
  );
  engine.global.set(
    "__host_emit",
    raw((L) => {
      caller.emit(marshal.read(L, 1) as Record<string, unknown>);
      return 0;
    }),
  );
  // io.lua's file operations: __host_fs(op, ...) returns Lua's (value | nil, message, errno).
  engine.global.set(
    "__host_fs",
    raw((L) => {
      const results = hostFiles.call(marshal.read(L, 1) as string, {
        value: (i) => marshal.read(L, i + 1),
        bytes: (i) => marshal.bytesAt(L, i + 1),
      });
      for (const v of results) marshal.push(L, v);
      return results.length;
    }),
  );
  if (process.env.PROVIUM_TEST_HOOKS === "1") engine.global.set("__provium_test_hooks", true);
  // Each prelude chunk receives the shared private table P as `...`.
  engine.global.set("__prelude", preludeChunks.map(([, src]) => src));
  engine.doStringSync(`
    local P = {}
    for i, src in ipairs(__prelude) do
      local names = {${preludeChunks.map(([n]) => `"${n}"`).join(",")}}
      assert(load(src, "=[provium]/" .. names[i]))(P)
    end
    __prelude = nil
    __provium_private = P
  `);
  return engine;
}
