-- Guest files: whole-file ops, directories, open_file (File objects are in file.lua),
-- tails and raw calls. Each is a guest op: a method of VMs and workers, and of `b` in
-- vm:batch. Arguments are checked here so that mistakes name the test's file:line.
local P = ...

local function path_arg(p, what)
  P.check(p, "string", what or "path")
  if p == "" then P.raise((what or "path") .. " must not be empty") end
  return p
end

local function opts_arg(opts, known, what)
  if opts == nil then return {} end
  P.check(opts, "table", what)
  for k in pairs(opts) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      P.raise("unknown " .. what .. " key '" .. tostring(k) .. "' (known: " .. table.concat(names, ", ") .. ")")
    end
  end
  return opts
end

local function perm_arg(v, what)
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < 0 or v > 4095 then
    P.raise(what .. " must be an integer from 0 to 4095 (0o7777), got " .. P.repr(v))
  end
  return v
end

local function flag(v, what)
  if v ~= nil and type(v) ~= "boolean" then P.raise(what .. " must be a boolean, got " .. type(v)) end
  return v
end

local function int_arg(v, what)
  if math.type(v) ~= "integer" then P.raise(what .. " must be an integer, got " .. P.repr(v)) end
  return v
end

local caller_dir = P.caller_dir

P.caller_dir = caller_dir

P.define_guest_op("read_file", function(path)
  return { path = path_arg(path) }
end)

P.define_guest_op("write_file", function(path, data)
  path_arg(path)
  P.check(data, "string", "data")
  return { path = path, data = data }
end)

P.define_guest_op("push_file", function(host_path, guest_path, opts)
  path_arg(host_path, "host path")
  path_arg(guest_path, "guest path")
  opts = opts_arg(opts, { auto_dep = true }, "push_file option")
  return { host = host_path, guest = guest_path, base = caller_dir(), auto_dep = flag(opts.auto_dep, "auto_dep") }
end)

P.define_guest_op("stat", function(path, opts)
  opts = opts_arg(opts, { follow = true }, "stat option")
  return { path = path_arg(path), follow = flag(opts.follow, "follow") }
end)

P.define_guest_op("listdir", function(path)
  return { path = path_arg(path) }
end)

P.define_guest_op("mkdir", function(path, opts)
  opts = opts_arg(opts, { parents = true, perm = true }, "mkdir option")
  return { path = path_arg(path), parents = flag(opts.parents, "parents"), perm = perm_arg(opts.perm, "perm") }
end)

P.define_guest_op("unlink", function(path)
  return { path = path_arg(path) }
end)

P.define_guest_op("rename", function(from, to)
  return { from = path_arg(from, "rename source"), to = path_arg(to, "rename target") }
end)

local mode_keys = { read = true, write = true, create = true, truncate = true, append = true, exclusive = true, perm = true }

P.define_guest_op("open_file", function(path, mode)
  path_arg(path)
  if mode == nil then P.raise("open_file needs a mode table, e.g. {read = true}") end
  P.check(mode, "table", "open_file mode")
  for k, v in pairs(mode) do
    if not mode_keys[k] then
      P.raise("unknown open_file mode key '" .. tostring(k) .. "' (known: append, create, exclusive, perm, read, truncate, write)")
    end
    if k ~= "perm" then flag(v, "mode." .. k) end
  end
  perm_arg(mode.perm, "mode.perm")
  if not (mode.read or mode.write or mode.append) then
    P.raise("open_file mode needs at least one of read, write, append")
  end
  if mode.exclusive and not mode.create then P.raise("mode.exclusive needs create = true") end
  return { path = path, mode = mode }
end, function(r, owner)
  return P.new_file(owner, r)
end)

local MAX_BACK = (1 << 53) - 1 -- stays a plain number on its way to the agent
-- vm:tail_file(path, {start = "end" | "beginning" | "start" | offset}); a negative offset
-- counts back from the end (clamped at byte 0).
P.define_guest_op("tail_file", function(path, opts)
  path_arg(path)
  opts = opts_arg(opts, { start = true }, "tail_file option")
  local start = opts.start
  if start == nil or start == "end" then
    return { path = path, from_end = true, start = 0 }
  elseif start == "beginning" or start == "start" then
    start = 0
  elseif math.type(start) ~= "integer" then
    P.raise('start must be "end", "beginning", "start" or a byte offset (negative: from the end), got ' .. P.repr(start))
  elseif start < 0 then -- bytes back from the end; no file is 2^53 bytes (math.mininteger has no positive twin)
    return { path = path, from_end = true, start = start < -MAX_BACK and MAX_BACK or -start }
  end
  return { path = path, from_end = false, start = start }
end, function(r, owner)
  return P.new_stream(owner, r.handle, r.label)
end)

-- A File or a descriptor number of the agent (as file:fd() gives).
function P.fd_of(x, what)
  if getmetatable(x) == P.File then return x:fd_or_raise() end
  if math.type(x) ~= "integer" or x < 0 then P.raise(what .. " must be a File or a file descriptor (integer), got " .. P.repr(x)) end
  return x
end

P.define_guest_op("fd_stream", function(fd_or_file)
  return { fd = P.fd_of(fd_or_file, "fd_stream argument") }
end, function(r, owner)
  return P.new_stream(owner, r.handle, r.label)
end)

-- Raw calls ---------------------------------------------------------------------------------
-- vm:syscall(nr, ...) in three forms, one call (see docs/files.md):
--   vm:syscall(nr, a1, ..., a6)                          the plain form (past six, ignored)
--   vm:syscall(nr, {args = ..., bufs = ..., ptrs = ..., nested = ...})    the table form
--   vm:syscall(nr, args, bufs, ptrs)                     the same as lists
-- args are integers, strings (a pointer to a NUL-terminated copy), Files (their descriptor),
-- booleans or {buf = i} (the address of bufs[i]); bufs are strings, sizes (zero-filled) or
-- {data, size}. ptrs: an integer p at position i puts the address of bufs[i] in argument
-- slot p (0-based, upstream's form); {buf = i, offset = k, target = j} writes the address of
-- bufs[j] at byte k of bufs[i], as nested = {{parent = i, child = j, offset = k}} does.
-- Returns {ret, result (= ret), errno, errno_name, out_bufs}; a failed call (an unknown
-- number too: ENOSYS) returns ret -1 and does not raise.
local function buf_arg(b, what)
  local ty = type(b)
  if ty == "string" then return b end
  if math.type(b) == "integer" and b >= 0 then return b end
  if ty == "table" then
    if b.data ~= nil then P.check(b.data, "string", what .. ".data") end
    if b.size ~= nil and (math.type(b.size) ~= "integer" or b.size < 0) then P.raise(what .. ".size must be an integer >= 0") end
    return { data = b.data, size = b.size }
  end
  P.raise(what .. " must be a string (bytes), a size or {data = ..., size = ...}, got " .. P.repr(b))
end

local function list_arg(v, what)
  if v == nil then return {} end
  P.check(v, "table", what)
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then P.raise(what .. " must be a list") end
  end
  return v
end

local function buf_index(v, what, nbufs)
  if math.type(v) ~= "integer" or v < 1 or v > nbufs then
    P.raise(what .. " must be a buffer index from 1 to " .. nbufs .. ", got " .. P.repr(v))
  end
  return v
end

-- The kernel reads six argument registers; like it, we ignore any further arguments.
local MAX_SYSCALL_ARGS = 6

local function raw_arg(a, what, nbufs)
  if getmetatable(a) == P.File then return a:fd_or_raise() end
  if type(a) == "table" then
    if math.type(a.buf) ~= "integer" or a.buf < 1 or a.buf > nbufs then
      P.raise(what .. " = {buf = i} needs 1 <= i <= " .. nbufs .. ", got " .. P.repr(a.buf))
    end
    return { buf = a.buf }
  end
  if math.type(a) == "float" and math.tointeger(a) then return math.tointeger(a) end
  if math.type(a) == "integer" or type(a) == "string" or type(a) == "boolean" then return a end
  P.raise(what .. " must be an integer, a string, a File or {buf = i}, got " .. P.repr(a))
end

local syscall_keys = { args = true, bufs = true, ptrs = true, nested = true }

-- The call's parts from any form: {args = list, bufs = list, ptrs = list, nested = list}, and
-- whether it was the table form.
local function syscall_parts(...)
  local n, first = select("#", ...), ...
  if type(first) ~= "table" or getmetatable(first) ~= nil then -- the plain form: integers
    local args = {}
    for i = 1, math.min(n, MAX_SYSCALL_ARGS) do
      local a = select(i, ...)
      args[i] = a == nil and 0 or a
    end
    return { args = args }, false
  end
  local args, bufs, ptrs = ...
  if next(args) == nil or math.type(next(args)) == "integer" then -- the lists
    return { args = args, bufs = bufs, ptrs = ptrs }, false
  end
  if n > 1 then
    P.raise("syscall takes (nr, args, bufs, ptrs) or (nr, {args = ..., bufs = ..., ptrs = ...}), not both")
  end
  opts_arg(args, syscall_keys, "syscall option")
  return args, true
end

local function syscall_build(nr, ...)
  int_arg(nr, "syscall number")
  local parts = syscall_parts(...)
  local bufs = list_arg(parts.bufs, "bufs")
  local wbufs = {}
  for i, b in ipairs(bufs) do wbufs[i] = buf_arg(b, "bufs[" .. i .. "]") end
  local wargs = {}
  for i, a in ipairs(list_arg(parts.args, "args")) do
    if i > MAX_SYSCALL_ARGS then break end
    wargs[i] = raw_arg(a, "args[" .. i .. "]", #bufs)
  end
  local wptrs = {}
  for i, p in ipairs(list_arg(parts.ptrs, "ptrs")) do
    if math.type(p) == "integer" then -- upstream's form: bufs[i]'s address goes into argument slot p
      if p < 0 or p >= MAX_SYSCALL_ARGS then P.raise("ptrs[" .. i .. "] = " .. p .. ": an argument slot is 0 to 5 (0-based)") end
      buf_index(i, "ptrs[" .. i .. "] (its buffer)", #bufs)
      for slot = #wargs + 1, p do wargs[slot] = 0 end
      wargs[p + 1] = { buf = i }
    else
      P.check(p, "table", "ptrs[" .. i .. "]")
      buf_index(p.buf, "ptrs[" .. i .. "].buf", #bufs)
      buf_index(p.target, "ptrs[" .. i .. "].target", #bufs)
      if math.type(p.offset) ~= "integer" or p.offset < 0 then P.raise("ptrs[" .. i .. "].offset must be an integer >= 0") end
      wptrs[#wptrs + 1] = { buf = p.buf, offset = p.offset, target = p.target }
    end
  end
  for i, e in ipairs(list_arg(parts.nested, "nested")) do
    local what = "nested[" .. i .. "]"
    P.check(e, "table", what)
    for _, k in ipairs({ "parent", "child", "offset" }) do
      if e[k] == nil then P.raise(what .. " has no " .. k .. " (it takes {parent = i, child = j, offset = k})") end
    end
    buf_index(e.parent, what .. ".parent", #bufs)
    buf_index(e.child, what .. ".child", #bufs)
    if math.type(e.offset) ~= "integer" or e.offset < 0 then P.raise(what .. ".offset must be an integer >= 0") end
    wptrs[#wptrs + 1] = { buf = e.parent, offset = e.offset, target = e.child }
  end
  return { nr = nr, args = wargs, bufs = wbufs, ptrs = wptrs }
end

-- Inside vm:batch only the plain form and the lists (upstream refuses the table form there).
local function syscall_batch_build(nr, ...)
  local _, tabled = syscall_parts(...)
  if tabled then
    P.raise("batch:syscall does not take the table form {args = ..., bufs = ..., ptrs = ...}: call vm:syscall outside the batch, or pass plain integers")
  end
  return syscall_build(nr, ...)
end

P.define_guest_op("syscall", syscall_build, nil, syscall_batch_build)

-- vm:syscall_async(...): the same call, sent now; handle:await() returns its result (once).
-- Other ops go on meanwhile (a worker runs it on a thread of its own process).
local PendingSyscall = P.class("PendingSyscall")
PendingSyscall.__tostring = function(h) return "PendingSyscall(" .. h._what .. ")" end

function PendingSyscall:await()
  if self._awaited then P.raise("syscall_async: handle already awaited (" .. self._what .. ")") end
  self._awaited = true
  local r = P.host_await(self._id)
  if r.err ~= nil then P.raise(r.err) end
  return r.ok
end

for _, class in ipairs(P.guest_classes) do
  class.syscall_async = function(self, nr, ...)
    local args = syscall_build(nr, ...)
    args.async = true
    local id = P.host_submit("guest", { target = self:_target("syscall_async"), op = "syscall", args = args })
    return setmetatable({ _id = id, _what = "syscall " .. nr .. " on " .. tostring(self) }, PendingSyscall)
  end
end

-- vm:read_mem(addr, len): bytes of the agent's own memory (a worker's: its process's), or
-- nil and the errno when the range is not mapped.
P.define_guest_op("read_mem", function(addr, len)
  int_arg(addr, "read_mem address")
  int_arg(len, "read_mem length")
  if len < 0 then P.raise("read_mem length must be >= 0, got " .. len) end
  return { addr = addr, len = len }
end, function(r)
  if r.errno ~= 0 then return nil, r.errno end
  return r.data
end)

-- vm:ioctl(fd, cmd, data?, opts?): data is nil (0), an integer (passed by value) or the bytes
-- of the argument struct (a string or a size). opts is upstream's {bufs = {...}, ptr_offsets
-- = {...}} (the address of bufs[i] goes at byte ptr_offsets[i] of data) or a list of
-- {offset = k, data = bytes | size}. Returns {ret, result, errno, errno_name, out_data,
-- out_bufs} (the buffers after the call); a failing ioctl raises with its errno.
local function ioctl_ptrs(opts)
  if opts == nil then return {} end
  P.check(opts, "table", "ioctl options")
  if next(opts) == nil or math.type(next(opts)) == "integer" then -- ours: a list of {offset, data}
    local out = {}
    for i, p in ipairs(list_arg(opts, "ptrs")) do
      P.check(p, "table", "ptrs[" .. i .. "]")
      if math.type(p.offset) ~= "integer" or p.offset < 0 then P.raise("ptrs[" .. i .. "].offset must be an integer >= 0") end
      out[i] = { offset = p.offset, data = buf_arg(p.data, "ptrs[" .. i .. "].data") }
    end
    return out
  end
  opts_arg(opts, { bufs = true, ptr_offsets = true }, "ioctl option")
  local bufs, offsets = list_arg(opts.bufs, "bufs"), list_arg(opts.ptr_offsets, "ptr_offsets")
  if #offsets > #bufs then P.raise("ptr_offsets has " .. #offsets .. " entries for " .. #bufs .. " bufs") end
  local out = {}
  for i, b in ipairs(bufs) do
    local off = offsets[i]
    if off ~= nil and (math.type(off) ~= "integer" or off < 0) then P.raise("ptr_offsets[" .. i .. "] must be an integer >= 0, got " .. P.repr(off)) end
    out[i] = { offset = off, data = buf_arg(b, "bufs[" .. i .. "]") } -- no offset: a buffer nothing points at
  end
  return out
end

P.define_guest_op("ioctl", function(fd, cmd, data, opts)
  fd = P.fd_of(fd, "ioctl fd")
  int_arg(cmd, "ioctl request")
  local wdata
  if data ~= nil then
    if math.type(data) == "integer" then wdata = data
    elseif type(data) == "string" or type(data) == "table" then wdata = buf_arg(data, "data")
    else P.raise("ioctl data must be an integer, bytes (a string) or {size = n}, got " .. P.repr(data)) end
  end
  local wptrs = ioctl_ptrs(opts)
  if #wptrs > 0 and (wdata == nil or math.type(wdata) == "integer") then
    P.raise("ioctl ptrs point from inside data: pass the argument struct as data (bytes)")
  end
  return { fd = fd, cmd = cmd, data = wdata, ptrs = wptrs }
end)
