-- vm:spawn_worker() and the Worker object: a namespace of its own in the VM's agent, with
-- the VM's surface (run, run_async, every guest op, batch). What it starts lives in its
-- namespace: kill() signals its running processes, join() waits for them, close() ends it.
local P = ...
local Worker = P.class("Worker")
P.Worker = Worker
P.add_guest_class(Worker)
function Worker:batch(fn)
  self:_target("batch")
  return P.VM.batch(self, fn)
end

Worker.__tostring = function(w) return "Worker(" .. w.name .. (w._closed and ", closed" or "") .. ")" end

local function guest(w, op, args)
  return P.call("guest", { target = { vm = w._vm._id, worker = w._id }, op = op, args = args or {} })
end

function P.VM:spawn_worker(opts)
  local name
  if opts ~= nil then
    P.check(opts, "table", "spawn_worker options")
    for k in pairs(opts) do
      if k ~= "name" then P.raise("unknown spawn_worker option '" .. tostring(k) .. "' (known: name)") end
    end
    if opts.name ~= nil then name = P.check(opts.name, "string", "worker name") end
  end
  local id = P.call("guest", { target = self:_target(), op = "worker_spawn", args = {} })
  local w = setmetatable({ _vm = self, _id = id, _closed = false, name = name or (self._name .. "/worker" .. id) }, Worker)
  P.on_scope_end(function() w:close() end, "worker")
  return w
end

-- `new_work`: the name of an op that starts work in the worker (run, open_file, ...):
-- refused once the worker was joined. Its processes, streams and files stay usable.
function Worker:_target(new_work)
  if self._closed then P.raise("worker is closed (" .. self.name .. ")") end
  if new_work and self._joined then
    P.raise("worker " .. self.name .. " was joined: it takes no more work (" .. new_work .. "); spawn another worker")
  end
  return { vm = self._vm._id, worker = self._id }
end

-- The agent's id of the worker's namespace: stable, also after close.
function Worker:handle()
  return self._id
end

-- Sends a signal (default SIGTERM) to every running process of the worker; returns how many.
function Worker:kill(sig)
  self:_target()
  return guest(self, "worker_kill", { signal = P.signal_number(sig) })
end

-- Waits until none of the worker's processes runs, and returns the worst exit code of
-- those reaped (0 when all succeeded or there were none; -1 signalled, -2 timed out rank
-- worst). With a timeout, raises if processes still run when it passes. A worker is joined
-- once: a second join, and new work after it, raise.
function Worker:join(timeout)
  self:_target()
  if self._joined then P.raise("worker " .. self.name .. " was already joined: join returns its result once") end
  local ms = 0
  if timeout ~= nil then
    local secs = P.duration(timeout, "join timeout")
    if secs == 0 then P.raise("join timeout must be greater than zero") end
    ms = math.max(1, math.floor(secs * 1000 + 0.5))
  end
  local j = guest(self, "worker_join", { timeout_ms = ms })
  if not j.done then
    P.raise("worker join timed out: " .. j.running .. " process(es) of " .. self.name .. " still running")
  end
  self._joined = true
  return j.worst
end

-- Terminates the worker's processes (SIGTERM, then SIGKILL after 2 s), joins them and
-- drops the worker's namespace with everything in it. Idempotent.
function Worker:close()
  if self._closed then return end
  self._closed = true
  pcall(guest, self, "worker_close")
end
