-- File: an open file in the guest (vm:open_file / worker:open_file). Reads and writes move
-- the guest's own file offset; tell() asks the agent rather than trusting a local copy.
-- A File is closed when the test that opened it ends; using it after close raises.
local P = ...
local File = P.class("File")
P.File = File

local READ_ALL_PIECE = 16 * 1024 * 1024
P.open_files = {} -- for vm:open_file_count()

function P.new_file(owner, r)
  local f = setmetatable({ _owner = owner, _handle = r.handle, _fd = r.fd, _path = r.path, _closed = false }, File)
  P.open_files[f] = true
  P.on_scope_end(function() f:close() end, "file")
  return f
end

File.__tostring = function(f)
  return "File(" .. f._path .. (f._closed and ", closed" or "") .. ")"
end

function File:_call(op, args)
  if self._closed then P.raise("file is closed (" .. self._path .. ")") end
  args.handle, args.path = self._handle, self._path
  return P.call("guest", { target = self._owner:_target(), op = op, args = args })
end

-- Up to n bytes from the current offset; "" at end of file.
function File:read(n)
  if self._closed then P.raise("file is closed (" .. self._path .. ")") end
  if math.type(n) ~= "integer" or n < 0 then P.raise("read size must be an integer >= 0, got " .. P.repr(n)) end
  if n == 0 then return "" end
  return self:_call("file_read", { n = n }).data
end

-- Everything from the current offset to end of file (the agent reads 64 KiB at a time).
function File:read_all()
  local parts = {}
  repeat
    local r = self:_call("file_read", { all = true, n = READ_ALL_PIECE })
    parts[#parts + 1] = r.data
  until r.eof
  return table.concat(parts)
end

-- Writes at the current offset (at the end with append); returns the bytes written, which
-- may be fewer than #data (a partial write, as write(2)).
function File:write(data)
  if self._closed then P.raise("file is closed (" .. self._path .. ")") end
  P.check(data, "string", "data")
  return self:_call("file_write", { data = data })
end

local whences = { set = true, cur = true, ["end"] = true }

-- seek(offset, "set" | "cur" | "end"), "set" by default; returns the new offset.
function File:seek(offset, whence)
  if self._closed then P.raise("file is closed (" .. self._path .. ")") end
  if math.type(offset) ~= "integer" then P.raise("seek offset must be an integer, got " .. P.repr(offset)) end
  whence = whence or "set"
  if not whences[whence] then P.raise('seek whence must be "set", "cur" or "end", got ' .. P.repr(whence)) end
  return self:_call("file_seek", { offset = offset, whence = whence })
end

function File:tell()
  return self:_call("file_seek", { offset = 0, whence = "cur" })
end

-- The guest descriptor (for vm:syscall and vm:ioctl); 0 once closed.
function File:fd()
  if self._closed then return 0 end
  return self._fd
end

function File:fd_or_raise()
  if self._closed then P.raise("file is closed (" .. self._path .. ")") end
  return self._fd
end

-- A stream of what is appended to the file from the current offset on.
function File:tail_stream()
  local r = P.call("guest", { target = self._owner:_target(), op = "fd_stream", args = { fd = self:fd_or_raise() } })
  return P.new_stream(self._owner, r.handle, "tail " .. self._path)
end

-- Idempotent. The guest-side close is best effort: a VM that is gone has closed it anyway.
function File:close()
  if self._closed then return end
  self._closed = true
  P.open_files[self] = nil
  if self._owner._closed then return end -- a closed worker closed its files with it
  pcall(P.call, "guest", { target = self._owner:_target(), op = "file_close", args = { handle = self._handle, path = self._path } })
end
