-- vm:run_async and the Process object; signal names.
--
-- Output rule: the agent keeps each process's stdout and stderr from the moment it starts.
-- proc:stdout_stream() (or stderr_stream()) hands that output, from its first byte, to a
-- stream; proc:wait() returns in its RunResult the output no stream was opened for (a
-- stream opened for stdout means r.stdout == "", whatever the stream read or left).
local P = ...
local Process = P.class("Process")
P.Process = Process
P.open_processes = {} -- for vm:is_quiescent()

local signals = {
  hup = 1, int = 2, quit = 3, kill = 9, usr1 = 10, usr2 = 12, pipe = 13, alrm = 14, term = 15,
  chld = 17, cont = 18, stop = 19, winch = 28,
}
local known = "term, kill, int, hup, quit, stop, cont, usr1, usr2, alrm, pipe, chld, winch"

-- A signal as a number: nil is SIGTERM; names with or without "sig", any case; 1..64.
function P.signal_number(sig)
  if sig == nil then return 15 end
  local n = sig
  if type(sig) == "string" then
    local name = sig:lower():gsub("^sig", "")
    n = signals[name] or tonumber(name)
    if not n then P.raise("unknown signal '" .. sig .. "' (known: " .. known .. ", with or without 'sig', or a number)") end
  elseif type(sig) ~= "number" then
    P.raise("signal must be a name or a number, got " .. type(sig))
  end
  if n ~= math.floor(n) or n < 1 or n > 64 then
    P.raise("signal number must be an integer from 1 to 64, got " .. tostring(sig))
  end
  return math.tointeger(n)
end

local function label_of(cmd, spec)
  local s = (spec.argv[1] == "/bin/sh" and spec.argv[2] == "-c" and spec.argv[3] == cmd) and cmd or table.concat(spec.argv, " ")
  if #s > 60 then s = s:sub(1, 57) .. "..." end
  return s
end

P.define_guest_op("run_async", function(cmd, opts)
  local spec = P.command(cmd, opts, false)
  return { cmd = spec, label = label_of(cmd, spec) }
end, function(r, owner, args)
  local p = setmetatable({
    _owner = owner, _handle = r.handle, _label = args.label, _where = P.where(2),
    _waited = false, _closed = false, _streams = {},
  }, Process)
  P.open_processes[p] = true
  P.on_scope_end(function() p:close() end, "process")
  return p
end)

Process.__tostring = function(p) return "Process(" .. p._label .. ")" end

function Process:_call(op, args)
  if self._closed then P.raise("process is closed (" .. self._label .. ")") end
  args = args or {}
  args.handle = self._handle
  return P.call("guest", { target = self._owner:_target(), op = op, args = args })
end

-- Sends a signal (default SIGTERM) to the process and its process group. Returns false
-- when the process had already exited.
function Process:kill(sig)
  local n = P.signal_number(sig)
  return self:_call("process_signal", { signal = n })
end
Process.signal = Process.kill

-- The live PID inside the guest (asked each time); nil once the process has exited.
function Process:pid()
  return self:_call("process_pid")
end

-- The agent-side handle: stable, even after the process has exited.
function Process:handle()
  return self._handle
end

-- "running" or "exited" (signalled included), without waiting.
function Process:status()
  return self:_call("process_status")
end

local function fmt_secs(s)
  return (string.format("%.3f", s):gsub("%.?0+$", ""))
end

-- Waits for the process to end (forever without a timeout) and returns its RunResult.
-- When the timeout passes first, the agent SIGKILLs the process group, as vm:run's timeout
-- does, and the RunResult says so: timed_out, status "timed_out", exit_code -2.
function Process:wait(timeout)
  if self._closed then P.raise("process is closed (" .. self._label .. ")") end
  local ms, secs = 0, nil
  if timeout ~= nil then
    secs = P.duration(timeout, "wait timeout")
    if secs == 0 then
      P.raise("wait(0) would not wait at all (and would kill the process): use proc:status() to poll")
    end
    ms = math.max(1, math.floor(secs * 1000 + 0.5))
  end
  if self._waited then P.raise("process was already waited (" .. self._label .. "): wait returns its result once") end
  self._waited = true
  local ok, r = pcall(self._call, self, "process_wait", { timeout_ms = ms })
  if not ok then
    self._waited = false
    error(r, 0)
  end
  if not r.exited then -- killed at the timeout, yet not reaped: stuck in the kernel
    self._waited = false
    P.raise("process still running after wait's timeout (" .. fmt_secs(secs) .. " s) and a SIGKILL (" .. self._label .. "); wait again")
  end
  return setmetatable(r.result, P.RunResult)
end

function Process:stdin_write(data)
  P.check(data, "string", "stdin data")
  self:_call("process_stdin_write", { data = data })
end

function Process:close_stdin()
  self:_call("process_close_stdin")
end

local function stream(self, which)
  local s = self._streams[which]
  if s then return s end
  local handle = self:_call("process_stream", { stderr = which == "stderr" })
  s = P.new_stream(self._owner, handle, self._label .. " " .. which)
  self._streams[which] = s
  return s
end

-- The process's stdout as a stream, from its first byte; the same stream on every call.
function Process:stdout_stream() return stream(self, "stdout") end
function Process:stderr_stream() return stream(self, "stderr") end

-- Kills the process (SIGKILL) if it runs, reaps it and releases it in the agent. Streams
-- opened from it stay readable until closed. Idempotent.
function Process:close()
  if self._closed then return end
  self._closed = true
  P.open_processes[self] = nil
  if self._owner._closed then return end -- a closed worker took its processes with it
  pcall(function()
    P.call("guest", { target = self._owner:_target(), op = "process_close", args = { handle = self._handle } })
  end)
end
