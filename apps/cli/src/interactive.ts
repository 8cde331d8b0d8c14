// `provium repl` and `provium console`: a live guest driven from the terminal.
// The prompt is a small Lua program on a Lua thread, like a test file; lines come from
// readline (with history kept in the cache dir).
import { createInterface } from "node:readline";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pc from "picocolors";
import type { AccelRequest } from "@provium/vmm";
import { agentEntry } from "@provium/agent";
import { hostSetup, openSession } from "@provium/host-runtime";
import { startLuaThread } from "@provium/lua-runtime";
import { loadRunConfig } from "./run";
import { requireHost } from "./host-checks";

// The shell reads lines itself; the Lua prompt is P.repl (lua-runtime's repl.lua), as --debug's.
const shellLoop = `while true do
  local line = __repl_read("guest$ ")
  if line == nil then break end
  if line:match("%S") then
    local ok, r = pcall(vm.run, vm, line)
    if not ok then print(r) else
      if #r.stdout > 0 then print((r.stdout:gsub("\\n$", ""))) end
      if #r.stderr > 0 then print((r.stderr:gsub("\\n$", ""))) end
      if r.exit_code ~= 0 then print("[" .. r.status .. " " .. tostring(r.signal or r.exit_code) .. "]") end
    end
  end
end`;

const replProgram = (setup: string, shell: boolean) => `
local vm = ${setup}
_G.vm = vm
${shell ? `print("--- serial console of vm " .. vm:name() .. " ---\\n" .. vm:console_log() .. "\\n---")` : ""}
print(${shell ? `"shell on vm " .. vm:name() .. ": each line runs in the guest (Ctrl-D to quit)"` : `"vm is ready as \`vm\` (" .. vm:name() .. "); Lua 5.4 with the Provium API (Ctrl-D to quit)"`})
${shell ? shellLoop : `__repl("provium> ")`}
`;

export async function interactive(o: { profile?: string; fixture?: string; config?: string; accel?: string; shell: boolean }) {
  if (!o.profile === !o.fixture) throw new Error("give a profile, or --fixture NAME");
  const config = loadRunConfig(o.config);
  const profile = o.profile === undefined ? undefined : config.profiles[o.profile];
  requireHost(config, profile ? [profile] : undefined); // a fixture's profile is known only once it loads
  const host = await hostSetup(config, { agentEntry, accel: o.accel as AccelRequest | undefined });
  const historyFile = join(host.cacheDir, "repl_history");
  const history = existsSync(historyFile) ? readFileSync(historyFile, "utf8").split("\n").filter(Boolean).reverse() : [];
  const rl = createInterface({ input: process.stdin, output: process.stdout, history, historySize: 1000, terminal: !!process.stdin.isTTY });
  let closed = false;
  rl.on("close", () => (closed = true));
  const lines: string[] = [];
  let waiting: ((l: string | null) => void) | null = null;
  rl.on("line", (l) => (waiting ? (waiting(l), (waiting = null)) : lines.push(l)));
  rl.on("close", () => waiting?.(null));
  const session = openSession(host, resolve("repl.lua"), {
    onProgress: (m) => console.log(pc.dim(`… ${m}`)),
    emit: (kind, f) => kind === "progress" && console.log(pc.dim(`… ${f.message}`)),
    extraOps: {
      "repl.read": ({ prompt }) => {
        if (lines.length) return lines.shift()!;
        if (closed) return null;
        rl.setPrompt(String(prompt));
        rl.prompt();
        return new Promise((r) => (waiting = r));
      },
    },
  });
  const setup = o.fixture ? `provium:vm_fixture(${JSON.stringify(o.fixture)})` : `provium:vm("vm", ${JSON.stringify(o.profile)}):boot()`;
  const lua = startLuaThread({ displayPath: "repl", source: replProgram(setup, o.shell), mode: "repl" }, session.handle, (e) => {
    if (e.kind === "log") console.log(String(e.message));
    if (e.kind === "file_error") console.error(pc.red(String(e.traceback ?? e.reason)));
  });
  process.on("SIGINT", () => lua.stop("interrupted"));
  const why = await lua.done;
  if (why && why !== "interrupted") console.error(pc.red(why));
  rl.close();
  await session.close();
  mkdirSync(host.cacheDir, { recursive: true });
  writeFileSync(historyFile, [...(rl as any).history].reverse().slice(-1000).join("\n") + "\n");
  process.exit(0);
}
