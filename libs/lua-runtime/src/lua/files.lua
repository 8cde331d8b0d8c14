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
-- vm:syscall(nr, args?, bufs?, ptrs?): args are integers, strings (passed as a pointer to a
-- NUL-terminated copy) or {buf = i} (the address of bufs[i]); bufs are strings or sizes
-- (zero-filled); ptrs are {buf = i, offset = k, target = j}: before the call the address of
-- bufs[j] is written at byte k of bufs[i]. Returns {ret, result (= ret), errno, errno_name,
-- out_bufs}; a failed call (an unknown number too: ENOSYS) returns ret -1 and does not raise.
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

-- The table form vm:syscall(nr, {args = ..., bufs = ..., ptrs = ...}) is the same call.
local syscall_keys = { args = true, bufs = true, ptrs = true }
local function syscall_form(args, bufs, ptrs)
  if type(args) ~= "table" or getmetatable(args) ~= nil or next(args) == nil or math.type(next(args)) == "integer" then
    return args, bufs, ptrs
  end
  if bufs ~= nil or ptrs ~= nil then
    P.raise("syscall takes (nr, args, bufs, ptrs) or (nr, {args = ..., bufs = ..., ptrs = ...}), not both")
  end
  opts_arg(args, syscall_keys, "syscall option")
  return args.args, args.bufs, args.ptrs
end

-- The kernel reads six argument registers; like it, we ignore any further arguments.
local MAX_SYSCALL_ARGS = 6

P.define_guest_op("syscall", function(nr, args, bufs, ptrs)
  int_arg(nr, "syscall number")
  args, bufs, ptrs = syscall_form(args, bufs, ptrs)
  bufs = list_arg(bufs, "bufs")
  local wbufs = {}
  for i, b in ipairs(bufs) do wbufs[i] = buf_arg(b, "bufs[" .. i .. "]") end
  args = list_arg(args, "args")
  local wargs = {}
  for i, a in ipairs(args) do
    if getmetatable(a) == P.File then
      wargs[i] = a:fd_or_raise()
    elseif type(a) == "table" then
      if math.type(a.buf) ~= "integer" or a.buf < 1 or a.buf > #bufs then
        P.raise("args[" .. i .. "] = {buf = i} needs 1 <= i <= " .. #bufs .. ", got " .. P.repr(a.buf))
      end
      wargs[i] = { buf = a.buf }
    elseif math.type(a) == "integer" or type(a) == "string" or type(a) == "boolean" then
      wargs[i] = a
    else
      P.raise("args[" .. i .. "] must be an integer, a string, a File or {buf = i}, got " .. P.repr(a))
    end
  end
  local wptrs = {}
  for i, p in ipairs(list_arg(ptrs, "ptrs")) do
    P.check(p, "table", "ptrs[" .. i .. "]")
    for _, k in ipairs({ "buf", "target" }) do
      if math.type(p[k]) ~= "integer" or p[k] < 1 or p[k] > #bufs then
        P.raise("ptrs[" .. i .. "]." .. k .. " must be a buffer index from 1 to " .. #bufs .. ", got " .. P.repr(p[k]))
      end
    end
    if math.type(p.offset) ~= "integer" or p.offset < 0 then P.raise("ptrs[" .. i .. "].offset must be an integer >= 0") end
    wptrs[i] = { buf = p.buf, offset = p.offset, target = p.target }
  end
  for i = MAX_SYSCALL_ARGS + 1, #wargs do wargs[i] = nil end
  return { nr = nr, args = wargs, bufs = wbufs, ptrs = wptrs }
end)

-- vm:ioctl(fd, cmd, data?, ptrs?): data is nil (0), an integer (passed by value) or the
-- bytes of the argument struct (a string or a size); ptrs are {offset = k, data = bytes |
-- size}: each becomes a buffer whose address is written at byte k of data. Returns
-- {result, errno, errno_name, out_data, out_bufs} (the buffers after the call).
P.define_guest_op("ioctl", function(fd, cmd, data, ptrs)
  fd = P.fd_of(fd, "ioctl fd")
  int_arg(cmd, "ioctl request")
  local wdata
  if data ~= nil then
    if math.type(data) == "integer" then wdata = data
    elseif type(data) == "string" or type(data) == "table" then wdata = buf_arg(data, "data")
    else P.raise("ioctl data must be an integer, bytes (a string) or {size = n}, got " .. P.repr(data)) end
  end
  local wptrs = {}
  for i, p in ipairs(list_arg(ptrs, "ptrs")) do
    P.check(p, "table", "ptrs[" .. i .. "]")
    if math.type(p.offset) ~= "integer" or p.offset < 0 then P.raise("ptrs[" .. i .. "].offset must be an integer >= 0") end
    wptrs[i] = { offset = p.offset, data = buf_arg(p.data, "ptrs[" .. i .. "].data") }
  end
  if #wptrs > 0 and (wdata == nil or math.type(wdata) == "integer") then
    P.raise("ioctl ptrs point from inside data: pass the argument struct as data (bytes)")
  end
  return { fd = fd, cmd = cmd, data = wdata, ptrs = wptrs }
end)
