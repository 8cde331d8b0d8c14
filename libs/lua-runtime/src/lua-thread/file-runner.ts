// Runs one test file in its own engine: the top level once, then its tests in order.
// Everything the file does reaches the I/O thread as host calls and events.
import { createEngine } from "./engine";
import { HostFiles } from "./host-fs";
import type { SyncCaller } from "../bridge";

// A test file registers tests and runs them; a fixture file (mode "fixture") returns the
// snapshot it built, which is reported as a `fixture_result` event.
export async function runFile(caller: SyncCaller, displayPath: string, source: string, mode: "test" | "fixture" | "repl" = "test", openFds?: SharedArrayBuffer) {
  const hostFiles = new HostFiles(openFds);
  const engine = await createEngine(caller, hostFiles);
  try {
    engine.global.set("__file_source", source);
    engine.global.set("__file_path", displayPath);
    engine.global.set("__file_mode", mode);
    engine.doStringSync(`
      local P = __provium_private
      local src, path, mode = __file_source, __file_path, __file_mode
      __file_source, __file_path, __file_mode = nil, nil, nil
      if mode == "repl" then
        -- The interactive prompt's program reads lines from the host and shows values.
        __repl_read = function(prompt) return P.call("repl.read", { prompt = prompt }) end
        __repl = function(prompt) P.repl(function() return __repl_read(prompt) end, print, _G) end
      end
      local chunk, err = load(src, "@" .. path, "t")
      if not chunk then
        P.emit({ kind = "file_error", reason = err })
        return
      end
      local ok, err = xpcall(chunk, function(e)
        -- the file's own frames: the runner's (this chunk, xpcall) say nothing to its author
        local tb = debug.traceback(tostring(e), 2):gsub("\\n%s*%[C%]: in function 'xpcall'.*$", "")
        return { message = tostring(e), traceback = tb }
      end)
      if not ok then
        P.emit({ kind = "file_error", reason = err.message, traceback = err.traceback })
        return
      end
      if mode == "fixture" then
        if getmetatable(err) ~= P.Snapshot then
          P.emit({ kind = "file_error", reason = path .. ": a fixture must return a snapshot (e.g. return vm:snapshot()), it returned " .. P.repr(err) })
        else
          P.emit({ kind = "fixture_result", snap = err._id })
        end
        return
      end
      P.run_tests()
    `);
  } finally {
    engine.global.close();
    hostFiles.closeAll();
  }
}
