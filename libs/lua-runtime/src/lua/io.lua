-- Lua's io library, and os.remove / rename / tmpname / getenv, on the host's real
-- filesystem (host-fs.ts does the I/O; wasmoon's own io sees a filesystem in memory).
-- Relative paths resolve against the directory of the Lua file that names them, as
-- push_file's do. Failures return Lua's (nil, "path: message", errno); misuse raises.
-- io.write and io.stdout / io.stderr go to the test's log, like print; io.stdin is empty.
local P = ...
local host_fs = __host_fs
__host_fs = nil

local HostFile = { __name = "FILE*" }
HostFile.__index = HostFile

local function new_file(handle, path)
  return setmetatable({ _handle = handle, _path = path }, HostFile)
end

-- The standard streams: no host file behind them (the runner's own stdout carries reports).
local function std_file(name, sink)
  return setmetatable({ _path = name, _sink = sink }, HostFile)
end

local function checked(f, method)
  if getmetatable(f) ~= HostFile then
    P.raise("file:" .. method .. " needs a file (call it as f:" .. method .. "(...)), got " .. type(f))
  end
  if f._closed then P.raise("attempt to use a closed file") end
  return f
end

-- A number as io.write writes it: integers as %d, floats as %.14g (C Lua's formats).
local function piece(v, i)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then return string.format("%.14g", v) end
  if type(v) ~= "string" then P.raise("write argument #" .. i .. " must be a string or a number, got " .. type(v)) end
  return v
end

function HostFile:write(...)
  checked(self, "write")
  local parts = table.pack(...)
  for i = 1, parts.n do parts[i] = piece(parts[i], i) end
  local data = table.concat(parts, "", 1, parts.n)
  if self._sink == "stdin" then return nil, "Bad file descriptor", 9 end
  if self._sink then
    -- One log line per call (its last newline dropped): the log is line-based.
    if data ~= "" then P.emit({ kind = "log", message = (data:gsub("\n$", "")) }) end
    return self
  end
  local ok, err, errno = host_fs("write", self._handle, data)
  if not ok then return nil, err, errno end
  return self
end

-- One read format: an integer count, or "n", "l", "L", "a" (a leading "*" is allowed, as
-- in Lua 5.3). Returns the value (nil at end of file), or nil, message, errno on an error.
local function read_one(f, fmt)
  if type(fmt) == "number" then
    local n = math.tointeger(fmt)
    if not n or n < 0 then P.raise("read count must be an integer >= 0, got " .. P.repr(fmt)) end
    if f._sink then return nil end
    return host_fs("read_bytes", f._handle, n)
  end
  local kind = type(fmt) == "string" and fmt:gsub("^%*", ""):sub(1, 1)
  if kind == "a" then
    if f._sink then return "" end
    return host_fs("read_all", f._handle)
  end
  if kind ~= "n" and kind ~= "l" and kind ~= "L" then
    P.raise('invalid read format ' .. P.repr(fmt) .. ' (use "n", "l", "L", "a" or a byte count)')
  end
  if f._sink then return nil end
  if kind ~= "n" then return host_fs("read_line", f._handle, kind == "L") end
  local numeral, err, errno = host_fs("read_numeral", f._handle)
  if err then return nil, err, errno end
  return tonumber(numeral)
end

-- As Lua's read: one value per format ("l" by default), stopping at the first that fails.
local function read_formats(f, formats)
  local out = {}
  if formats.n == 0 then formats = { "l", n = 1 } end
  for i = 1, formats.n do
    local v, err, errno = read_one(f, formats[i])
    if err then return nil, err, errno end
    out[i] = v
    if v == nil then return table.unpack(out, 1, i) end
  end
  return table.unpack(out, 1, formats.n)
end

function HostFile:read(...)
  return read_formats(checked(self, "read"), table.pack(...))
end

-- An iterator of reads with `formats`; it closes the file at the end when `close_at_end`.
local function line_iterator(f, formats, close_at_end)
  return function()
    if f._closed then P.raise("file is already closed") end
    local values = table.pack(read_formats(f, formats))
    if values[1] == nil and values[2] ~= nil then P.raise(values[2]) end
    if values[1] == nil and close_at_end then f:close() end
    return table.unpack(values, 1, values.n)
  end
end

function HostFile:lines(...)
  return line_iterator(checked(self, "lines"), table.pack(...), false)
end

local whences = { set = true, cur = true, ["end"] = true }

function HostFile:seek(whence, offset)
  checked(self, "seek")
  whence = whence or "cur"
  if not whences[whence] then P.raise('seek whence must be "set", "cur" or "end", got ' .. P.repr(whence)) end
  local off = math.tointeger(offset or 0)
  if not off then P.raise("seek offset must be an integer, got " .. P.repr(offset)) end
  if self._sink then return nil, "Illegal seek", 29 end
  return host_fs("seek", self._handle, whence, off)
end

local buffer_modes = { no = true, full = true, line = true }

-- Writes are not buffered on the host side, so every mode behaves as "no".
function HostFile:setvbuf(mode)
  checked(self, "setvbuf")
  if not buffer_modes[mode] then P.raise('setvbuf mode must be "no", "full" or "line", got ' .. P.repr(mode)) end
  return true
end

function HostFile:flush()
  return checked(self, "flush")
end

function HostFile:close()
  checked(self, "close")
  if self._sink then return nil, "cannot close standard file" end
  self._closed = true
  return host_fs("close", self._handle)
end

HostFile.__close = function(f)
  if not f._closed and not f._sink then f:close() end
end
HostFile.__gc = HostFile.__close

HostFile.__tostring = function(f)
  return f._closed and "file (closed)" or "file (" .. f._path .. ")"
end

-- The library ---------------------------------------------------------------------------

local modes = { r = true, w = true, a = true, ["r+"] = true, ["w+"] = true, ["a+"] = true }

function io.open(path, mode)
  P.check(path, "string", "io.open path")
  mode = mode or "r"
  if type(mode) ~= "string" or not modes[mode:gsub("b", "")] or not mode:match("^[rwa]") then
    P.raise("io.open: invalid mode " .. P.repr(mode) .. ' (use "r", "w", "a", "r+", "w+" or "a+", optionally with "b")')
  end
  local handle, err, errno = host_fs("open", path, P.caller_dir(), mode)
  if not handle then return nil, err, errno end
  return new_file(handle, path)
end

function io.type(v)
  if getmetatable(v) ~= HostFile then return nil end
  return v._closed and "closed file" or "file"
end

io.stdin = std_file("stdin", "stdin")
io.stdout = std_file("stdout", "stdout")
io.stderr = std_file("stderr", "stderr")

local default = { input = io.stdin, output = io.stdout }

-- io.input / io.output: a file name (opened "r" / "w"; failing raises) or a file sets the
-- default; either way it returns the current one.
local function default_file(which, mode)
  return function(f)
    if type(f) == "string" then
      local opened, err = io.open(f, mode)
      if not opened then P.raise("cannot open file '" .. f .. "' (" .. err:gsub("^.-: ", "") .. ")") end
      default[which] = opened
    elseif f ~= nil then
      if io.type(f) ~= "file" then P.raise("io." .. which .. " needs a file name or an open file, got " .. P.repr(f)) end
      default[which] = f
    end
    return default[which]
  end
end
io.input = default_file("input", "r")
io.output = default_file("output", "w")

local function current(which)
  if default[which]._closed then P.raise("default " .. which .. " file is closed") end
  return default[which]
end

function io.read(...) return current("input"):read(...) end
function io.write(...) return current("output"):write(...) end

function io.close(f)
  return (f or current("output")):close()
end

-- io.lines(path, ...) closes the file at the end (and, as the 4th value, when a generic
-- for is left early); io.lines() reads the default input.
function io.lines(path, ...)
  if path == nil then return line_iterator(current("input"), table.pack(...), false) end
  P.check(path, "string", "io.lines path")
  local f, err = io.open(path, "r")
  if not f then P.raise(err) end
  return line_iterator(f, table.pack(...), true), nil, nil, f
end

-- A temp file opened "w+", removed with the run's other temp files.
function io.tmpfile()
  return io.open(os.tmpname(), "w+b")
end

-- A new empty file in the run's own temp dir (the runner removes the dir when the test
-- file ends, or at exit).
function os.tmpname()
  return P.call("host.tmpname")
end

function os.remove(path)
  P.check(path, "string", "os.remove path")
  return host_fs("remove", path, P.caller_dir())
end

function os.rename(from, to)
  P.check(from, "string", "os.rename source")
  P.check(to, "string", "os.rename target")
  return host_fs("rename", from, P.caller_dir(), to)
end

function os.getenv(name)
  P.check(name, "string", "os.getenv name")
  return host_fs("getenv", name)
end

-- loadfile / dofile read host files too (not the engine's in-memory filesystem). The chunk
-- is named by its path, so its errors name file:line and its own relative paths resolve
-- against its directory. A first line starting with "#" is skipped, as C Lua does.
function loadfile(path, mode, ...)
  P.check(path, "string", "loadfile path")
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open " .. err end
  local src = f:read("a")
  f:close()
  if src:sub(1, 1) == "#" then src = "--" .. src end
  local dir = P.caller_dir()
  local name = (path:sub(1, 1) == "/" or dir == ".") and path or dir .. "/" .. path
  -- An env given as nil is still given (the chunk gets no globals), as in C Lua.
  if select("#", ...) > 0 then return load(src, "@" .. name, mode or "bt", (...)) end
  return load(src, "@" .. name, mode or "bt")
end

function dofile(path)
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  return chunk()
end
