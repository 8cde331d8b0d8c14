// Runs one test file in its own engine: the top level once, then its tests in order.
// Everything the file does reaches the I/O thread as host calls and events.
import { createEngine } from "./engine";
import type { SyncCaller } from "../bridge";

export async function runFile(caller: SyncCaller, displayPath: string, source: string) {
  const engine = await createEngine(caller);
  try {
    engine.global.set("__file_source", source);
    engine.global.set("__file_path", displayPath);
    engine.doStringSync(`
      local P = __provium_private
      local src, path = __file_source, __file_path
      __file_source, __file_path = nil, nil
      local chunk, err = load(src, "@" .. path, "t")
      if not chunk then
        P.emit({ kind = "file_error", reason = err })
        return
      end
      local ok, err = xpcall(chunk, function(e)
        return { message = tostring(e), traceback = debug.traceback(tostring(e), 2) }
      end)
      if not ok then
        P.emit({ kind = "file_error", reason = err.message, traceback = err.traceback })
        return
      end
      P.run_tests()
    `);
  } finally {
    engine.global.close();
  }
}
