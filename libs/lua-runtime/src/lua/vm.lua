-- Labs, VMs and RunResults. The host holds the state of every VM (and raises the errors
-- about it); these objects validate arguments and shape results.
local P = ...

local signal_names = {
  [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT",
  [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
  [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM", [17] = "SIGCHLD", [18] = "SIGCONT",
  [19] = "SIGSTOP", [20] = "SIGTSTP", [28] = "SIGWINCH",
}
P.signal_names = signal_names

-- RunResult ---------------------------------------------------------------------------
local RunResult = P.class("RunResult")
P.RunResult = RunResult

function RunResult:ok()
  return self.exit_code == 0 and self.status == "exited"
end

function RunResult:assert_ok(msg)
  if self:ok() then return self end
  local how = self.status == "signalled"
      and ("killed by " .. (signal_names[self.signal] or ("signal " .. tostring(self.signal))))
      or self.status == "timed_out" and "timed out"
      or ("exit code " .. tostring(self.exit_code))
  P.raise((msg and (tostring(msg) .. ": ") or "") .. "command failed (status " .. self.status .. ", " .. how .. ")"
    .. "\nstdout: " .. P.repr(self.stdout) .. "\nstderr: " .. P.repr(self.stderr))
end

RunResult.__tostring = function(r)
  return "RunResult(" .. r.status .. ", exit_code " .. tostring(r.exit_code) .. ")"
end

-- Command options shared by run and run_async ------------------------------------------
local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
    n = n + 1
  end
  return n == #t
end

local known_opts = { args = true, env = true, env_clear = true, cwd = true, stdin = true, timeout = true, timeout_ms = true }

-- Shell form: run(string). Direct exec: run(cmd, {args = {...}, ...}) or run(cmd, {"a", "b"}).
-- Options without `args` keep the shell form.
function P.command(cmd, opts, allow_timeout)
  P.check(cmd, "string", "command")
  local spec = {}
  if opts == nil then
    spec.argv = { "/bin/sh", "-c", cmd }
    return spec
  end
  P.check(opts, "table", "options")
  if is_array(opts) then
    opts = { args = opts }
  end
  for k in pairs(opts) do
    if not known_opts[k] then P.raise("unknown option '" .. tostring(k) .. "' (known: args, env, env_clear, cwd, stdin, timeout, timeout_ms)") end
  end
  if opts.args ~= nil then
    P.check(opts.args, "table", "args")
    if not is_array(opts.args) then P.raise("args must be an array of strings") end
    spec.argv = { cmd }
    for i, a in ipairs(opts.args) do
      if type(a) ~= "string" and type(a) ~= "number" then P.raise("args[" .. i .. "] must be a string, got " .. type(a)) end
      spec.argv[#spec.argv + 1] = tostring(a)
    end
  else
    spec.argv = { "/bin/sh", "-c", cmd }
  end
  if opts.env ~= nil then
    P.check(opts.env, "table", "env")
    spec.env = {}
    for k, v in pairs(opts.env) do
      if type(k) ~= "string" then P.raise("env keys must be strings, got " .. type(k)) end
      if type(v) ~= "string" and type(v) ~= "number" then P.raise("env." .. k .. " must be a string, got " .. type(v)) end
      spec.env[#spec.env + 1] = { name = k, value = tostring(v) }
    end
  end
  if opts.env_clear ~= nil then spec.env_clear = P.check(opts.env_clear, "boolean", "env_clear") end
  if opts.cwd ~= nil then spec.cwd = P.check(opts.cwd, "string", "cwd") end
  if opts.stdin ~= nil then spec.stdin = P.check(opts.stdin, "string", "stdin") end
  if opts.timeout ~= nil or opts.timeout_ms ~= nil then
    if not allow_timeout then
      P.raise("run_async does not take timeout/timeout_ms (the process is not killed for you): use proc:wait(timeout)")
    end
    if opts.timeout ~= nil and opts.timeout_ms ~= nil then P.raise("give timeout or timeout_ms, not both") end
    local secs = opts.timeout_ms ~= nil and P.check(opts.timeout_ms, "number", "timeout_ms") / 1000 or P.duration(opts.timeout, "timeout")
    if secs <= 0 then P.raise("timeout must be greater than zero") end
    spec.timeout_ms = math.max(1, math.floor(secs * 1000 + 0.5))
  end
  return spec
end

-- VM ------------------------------------------------------------------------------------
local VM = P.class("VM")
P.VM = VM
VM.__tostring = function(vm) return "VM(" .. vm._name .. ", " .. vm:state() .. ")" end

-- Names a lab's dot form resolves to the API, never to a member (provium.pack(...)).
local reserved_names = { vm_fixture = true, lab_fixture = true, pack = true, unpack = true }

function P.check_member_name(name)
  if reserved_names[name] then
    P.raise("name '" .. name .. "' is reserved (vm_fixture, lab_fixture, pack and unpack are provium's own)")
  end
end

-- The Lua object of a host VM. One made inside a test is shut down when the test ends and
-- its name freed; one made at the file's top level lives until the file ends.
-- VMs by their host id (weak): --debug's prompt finds the VM of the test's last op here.
P.vms_by_id = setmetatable({}, { __mode = "v" })

function P.new_vm(id, name, profile)
  local vm = setmetatable({ _id = id, _name = name, _profile = profile, _labs = {}, _in_test = P.in_test_scope() }, VM)
  P.vms_by_id[id] = vm
  if vm._in_test then P.on_scope_end(function() vm:_dispose() end, "vm") end
  return vm
end

function VM:_dispose()
  for lab in pairs(self._labs) do lab:remove(self) end
  P.call("vm.dispose", { vm = self._id })
end

function VM:name() return self._name end
function VM:profile() return self._profile end

-- A positive integer (>= 3, as a vsock CID would be) the host gives the VM when it first
-- boots or is restored; nil before. Unique among the run's VMs, kept until shutdown.
function VM:cid()
  return P.call("vm.cid", { vm = self._id })
end

-- Open resources of this VM (its workers' included) that the test still holds.
local function count_owned(set, vm, still_open)
  local n = 0
  for r in pairs(set) do
    local owner = r._owner
    if (owner == vm or owner._vm == vm) and (still_open == nil or still_open(r)) then n = n + 1 end
  end
  return n
end

function VM:open_file_count() return count_owned(P.open_files, self) end
function VM:open_stream_count() return count_owned(P.open_streams, self) end

-- No open files or streams, and no process of the test that may still run (not yet
-- waited for or closed).
function VM:is_quiescent()
  return self:open_file_count() == 0 and self:open_stream_count() == 0
    and count_owned(P.open_processes, self, function(p) return not p._waited end) == 0
end

function VM:boot(opts)
  if opts ~= nil then opts = P.boot_options(opts) end
  P.call("vm.boot", { vms = { self._id }, opts = opts })
  return self
end

function VM:_target()
  return { vm = self._id }
end

-- Guest ops: `build` turns Lua arguments into the op's arguments, `shape` the host's
-- answer into what Lua gets. Defined once, each works on a VM, a worker and in a batch.
P.guest_ops = {}
P.guest_classes = { VM }

local function identity(x) return x end

-- `shape(result, owner, args)`: owner is the VM or worker the op ran on. `batch_build`, when
-- given, builds the op inside vm:batch instead (to refuse a form there).
function P.define_guest_op(name, build, shape, batch_build)
  shape = shape or identity
  local method = function(self, ...)
    local args = build(...)
    -- the op's name tells a worker this is new work (refused once it was joined)
    return shape(P.call("guest", { target = self:_target(name), op = name, args = args }), self, args)
  end
  P.guest_ops[name] = { build = build, shape = shape, method = method, batch_build = batch_build or build }
  for _, class in ipairs(P.guest_classes) do class[name] = method end
end

-- Another class with the VM's guest ops (workers): it gets those defined so far and later.
function P.add_guest_class(class)
  P.guest_classes[#P.guest_classes + 1] = class
  for name, def in pairs(P.guest_ops) do class[name] = def.method end
end

P.define_guest_op("run", function(cmd, opts)
  return { cmd = P.command(cmd, opts, true) }
end, function(r) return setmetatable(r, RunResult) end)

P.define_guest_op("agent_requests", function() return {} end)

-- vm:batch(fn): every guest op called on `b` is queued, then all go in ONE round trip.
-- Results come back in call order as {ok = value} or {err = message}.
function VM:batch(fn)
  P.check(fn, "function", "batch body")
  local queue = {}
  local b = setmetatable({}, {
    __index = function(_, name)
      local def = P.guest_ops[name]
      if not def then P.raise("vm:batch has no op '" .. tostring(name) .. "'") end
      return function(_, ...)
        queue[#queue + 1] = { op = name, args = def.batch_build(...), shape = def.shape }
      end
    end,
  })
  fn(b)
  if #queue == 0 then return {} end
  local wire = {}
  for i, q in ipairs(queue) do wire[i] = { op = q.op, args = q.args } end
  local results = P.call("guest.batch", { target = self:_target(), ops = wire })
  for i, r in ipairs(results) do
    if r.err == nil then r.ok = queue[i].shape(r.ok, self, queue[i].args) end
  end
  return results
end

function VM:shutdown()
  P.call("vm.shutdown", { vm = self._id })
end

-- Upstream's closer: shutdown, idempotent; a VM never booted becomes "shutdown" too.
function VM:close()
  P.call("vm.shutdown", { vm = self._id })
end

function VM:state()
  return P.call("vm.state", { vm = self._id })
end

-- "warm": its last boot restored its shape's boot template; "cold": it booted from power-on.
function VM:boot_kind()
  return P.call("vm.boot_kind", { vm = self._id })
end

function VM:console_log()
  return P.call("vm.console", { vm = self._id })
end

-- QEMU's human monitor (HMP, e.g. "info registers"): its text answer.
function VM:monitor(command)
  P.check(command, "string", "monitor command")
  return P.call("vm.monitor", { vm = self._id, command = command })
end

-- Labs ------------------------------------------------------------------------------------
-- A lab holds VMs, bridges and sub-labs by name (one namespace: `lab.NAME` finds any of them).
-- A VM name is unique in its lab, not in the file: two labs may each have a "web".
local Lab = P.class("Lab")
P.Lab = Lab

local function new_lab(name)
  return setmetatable({ _members = {}, _order = {}, _name = name, _in_test = P.in_test_scope() }, Lab)
end

-- "vm" | "bridge" | "lab" for what a lab can hold, else nil.
local function kind_of(x)
  local mt = getmetatable(x)
  if mt == VM then return "vm" end
  if mt == Lab then return "lab" end
  if mt ~= nil and mt == P.Bridge then return "bridge" end
  return nil
end
P.member_kind = kind_of

local function describe(v)
  return type(v) .. (v ~= nil and (" (" .. P.repr(v) .. ")") or "")
end

-- These take the dot form as well as the colon form: provium.pack(fmt, ...) and
-- provium:pack(fmt, ...) are the same call.
local dot_or_colon = { vm_fixture = true, lab_fixture = true, pack = true, unpack = true }

-- lab.NAME finds a member by name (a bridge a lab made is one of its members).
Lab.__index = function(lab, key)
  local m = rawget(Lab, key)
  if m ~= nil and dot_or_colon[key] then
    return function(first, ...)
      if first == lab then return m(lab, ...) end
      return m(lab, first, ...)
    end
  end
  if m ~= nil then return m end
  local members = rawget(lab, "_members")
  return members and members[key]
end

-- provium.KEY = v sets a file-wide setting; any other key is a mistake (a typo would
-- otherwise be a silent no-op). Fields of our own start with "_".
local settings = { "reset_between_tests", "timeout" }
Lab.__newindex = function(lab, key, value)
  if type(key) == "string" and key:sub(1, 1) == "_" then return rawset(lab, key, value) end
  local known = false
  for _, k in ipairs(settings) do known = known or k == key end
  if known and lab == provium then return rawset(lab, key, value) end
  if known then P.raise("lab." .. key .. " is a file-wide setting: set provium." .. key .. " instead") end
  P.raise("cannot set provium." .. tostring(key) .. ": not a file-wide setting (known keys: " .. table.concat(settings, ", ") .. ")")
end

-- Raises unless `name` is free in this lab. Inside a test, a name the file's top level made
-- says so: the test would otherwise silently shadow (or replace) a member other tests use.
local function check_free(lab, name, kind, how)
  P.check_member_name(name)
  local old = lab._members[name]
  if old == nil then return end
  if P.in_test_scope() and not old._in_test then
    P.raise(how .. ": name '" .. name .. "' is already declared at the file's top level (lab " .. lab._name
      .. ", a " .. kind_of(old) .. "); pick another name, or use " .. lab._name .. ":" .. kind_of(old) .. "(\"" .. name .. "\") to reuse it")
  end
  P.raise(kind .. " name '" .. name .. "' is already used in this lab (by a " .. kind_of(old) .. ")")
end
P.check_free_name = check_free

local vm_opts = { memory = true, cpus = true }

-- lab:vm(name) finds a VM; lab:vm(name, profile, opts?) creates one (opts: memory, cpus).
function Lab:vm(...)
  local n = select("#", ...)
  local name, profile, opts = ...
  if n < 1 or n > 3 then P.raise("lab:vm: expected 1, 2 or 3 arguments (name, profile, opts), got " .. n) end
  if type(name) ~= "string" then P.raise("lab:vm: name must be a string, got " .. describe(name)) end
  if profile == nil then
    local vm = self._members[name]
    if getmetatable(vm) ~= VM then P.raise("no vm named " .. name .. (self ~= provium and (" in lab " .. self._name) or "")) end
    return vm
  end
  if type(profile) ~= "string" then P.raise("lab:vm: profile must be a string, got " .. describe(profile)) end
  if opts ~= nil and type(opts) ~= "table" then P.raise("lab:vm: opts must be a table, got " .. describe(opts)) end
  opts = opts or {}
  for k in pairs(opts) do
    if not vm_opts[k] then P.raise("lab:vm: unknown option '" .. tostring(k) .. "' (known: memory, cpus)") end
  end
  check_free(self, name, "vm", self._name .. ":vm(\"" .. name .. "\", ...)")
  local id = P.call("vm.create", { name = name, profile = profile, memory = opts.memory, cpus = opts.cpus })
  return self:include(P.new_vm(id, name, profile))
end

local function include_one(lab, x)
  local name = x._name
  P.check_member_name(name)
  if lab._members[name] == x then return x end
  check_free(lab, name, kind_of(x), "lab:include")
  lab._members[name] = x
  lab._order[#lab._order + 1] = x
  if x._labs then x._labs[lab] = true end
  return x
end

-- lab:include(x) or lab:include({x, ...}): VMs, bridges and labs. A list is checked whole
-- before anything joins. Returns what it was given.
function Lab:include(x)
  if kind_of(x) then return include_one(self, x) end
  if type(x) ~= "table" or getmetatable(x) ~= nil then
    P.raise("lab:include: expected a vm, bridge or lab (or a list of them), got " .. describe(x))
  end
  local seen = {}
  for i, m in ipairs(x) do
    if not kind_of(m) then P.raise("lab:include: list entry " .. i .. " must be a vm, bridge or lab userdata, got " .. describe(m)) end
    P.check_member_name(m._name)
    if seen[m._name] and seen[m._name] ~= m then P.raise("lab:include: list entries " .. i .. " and an earlier one are both named '" .. m._name .. "'") end
    seen[m._name] = m
    local old = self._members[m._name]
    if old ~= nil and old ~= m then check_free(self, m._name, kind_of(m), "lab:include") end
  end
  for _, m in ipairs(x) do include_one(self, m) end
  return x
end

-- lab:remove(name | vm | bridge | lab): leaves the lab; nothing is shut down. A name the lab
-- does not hold is no error.
function Lab:remove(x)
  local name
  if type(x) == "string" then
    name = x
  elseif kind_of(x) then
    name = x._name
  else
    P.raise("lab:remove: expected a name, vm, bridge or lab, got " .. describe(x))
  end
  local m = self._members[name]
  if m == nil or (type(x) ~= "string" and m ~= x) then return end
  self._members[name] = nil
  for i, o in ipairs(self._order) do
    if o == m then table.remove(self._order, i); break end
  end
  if m._labs then m._labs[self] = nil end
end

function Lab:name()
  return self._name
end

-- Every VM of a lab, its sub-labs' included, each once, with its path from the lab
-- ("web", "dc1/web"): what a lab's boot, snapshot and restore cover.
function P.lab_vms(lab)
  local out, seen = {}, {}
  local function walk(l, prefix)
    for _, m in ipairs(l._order) do
      local kind = kind_of(m)
      if kind == "vm" and not seen[m] then
        seen[m] = true
        out[#out + 1] = { vm = m, path = prefix .. m._name }
      elseif kind == "lab" then
        walk(m, prefix .. m._name .. "/")
      end
    end
  end
  walk(lab, "")
  return out
end

-- The names of the lab's VMs, its sub-labs' included, sorted.
function Lab:vm_names()
  local seen, names = {}, {}
  for _, e in ipairs(P.lab_vms(self)) do
    if not seen[e.vm._name] then seen[e.vm._name] = true; names[#names + 1] = e.vm._name end
  end
  table.sort(names)
  return names
end

local function names_of(lab, kind)
  local names = {}
  for name, m in pairs(lab._members) do
    if kind_of(m) == kind then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- This lab's own bridges and sub-labs, by name, sorted.
function Lab:bridge_names() return names_of(self, "bridge") end
function Lab:sub_lab_names() return names_of(self, "lab") end

-- {kind = "vm" | "bridge" | "lab", name} for each of this lab's own members: VMs, then
-- bridges, then sub-labs, each kind sorted by name.
function Lab:members()
  local out = {}
  for _, kind in ipairs({ "vm", "bridge", "lab" }) do
    for _, name in ipairs(names_of(self, kind)) do out[#out + 1] = { kind = kind, name = name } end
  end
  return out
end

-- Binary structs, with string.pack's formats; errors name the test's line.
function Lab:pack(fmt, ...)
  P.check(fmt, "string", "pack format")
  local ok, r = pcall(string.pack, fmt, ...)
  if not ok then P.raise("pack: " .. tostring(r):gsub("^.-: ", "")) end
  return r
end

-- Returns the values, then the position after the last byte read (as string.unpack).
function Lab:unpack(fmt, bytes, pos)
  P.check(fmt, "string", "unpack format")
  P.check(bytes, "string", "unpack data")
  local r = table.pack(pcall(string.unpack, fmt, bytes, pos))
  if not r[1] then P.raise("unpack: " .. tostring(r[2]):gsub("^.-: ", "")) end
  return table.unpack(r, 2, r.n)
end

-- lab:lab(name?): a sub-lab. One made inside a test leaves its parent when the test ends.
function Lab:lab(name)
  if name ~= nil and type(name) ~= "string" then P.raise("lab:lab: name must be a string, got " .. describe(name)) end
  name = name or ("lab" .. tostring(#self._order + 1))
  check_free(self, name, "lab", self._name .. ":lab(\"" .. name .. "\")")
  local sub = include_one(self, new_lab(name))
  if sub._in_test then P.on_scope_end(function() self:remove(sub) end, "vm") end
  return sub
end

-- Boots every VM of the lab (its sub-labs' included) at once.
function Lab:boot()
  local ids = {}
  for i, e in ipairs(P.lab_vms(self)) do ids[i] = e.vm._id end
  P.call("vm.boot", { vms = ids })
  return self
end

function Lab:shutdown()
  for _, e in ipairs(P.lab_vms(self)) do e.vm:shutdown() end
end

provium = new_lab("provium")

-- lab:claim({memory, cpus}): reserve host capacity for this file up front; boots draw on it.
-- memory: bytes (an integer) or a string like "2G"; memory_bytes (upstream's tests) is bytes.
local claim_keys = { memory = true, memory_bytes = true, cpus = true }
function Lab:claim(want)
  P.check(want, "table", "claim")
  for k in pairs(want) do
    if not claim_keys[k] then P.raise("unknown claim key '" .. tostring(k) .. "' (known: memory, memory_bytes, cpus)") end
  end
  if want.memory ~= nil and want.memory_bytes ~= nil then P.raise("claim: give memory or memory_bytes, not both") end
  if want.memory_bytes ~= nil and math.type(want.memory_bytes) ~= "integer" then
    P.raise("claim memory_bytes must be an integer, got " .. P.repr(want.memory_bytes))
  end
  P.call("lab.claim", { memory = want.memory or want.memory_bytes, cpus = want.cpus })
  return self
end
