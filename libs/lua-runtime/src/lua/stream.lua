-- Streams: bytes from a guest-side source (process output, a file tail), read with
-- long polls. Bytes produced before the stream was opened are not lost (the agent buffers
-- from the start). Patterns and delimiters are plain substrings, not Lua patterns.
-- Closing ends the stream for the test: eof() is true, nothing more is fetched, and what
-- the host had already received stays readable (next, read_until, drain).
local P = ...
local Stream = P.class("Stream")
P.Stream = Stream
P.open_streams = {}

-- Upstream's defaults: read_until and expect wait 10 s, drain gathers for 0.5 s, and next
-- without a timeout waits until bytes arrive or the stream ends.
local UNTIL_TIMEOUT = 10
local DRAIN_TIMEOUT = 0.5
-- One long poll waits at most this long, so that a wait without a deadline still polls.
local POLL_MS = 30000

-- The guest's streams are read with the stream_read/stream_close guest ops; `source` (a
-- table of read(handle, timeout_ms) -> {data, eof} and close(handle)) reads another kind
-- (the serial console's, kept on the host).
local guest_source = {
  read = function(s, timeout_ms)
    return P.call("guest", { target = s._owner:_target(), op = "stream_read", args = { handle = s._handle, timeout_ms = timeout_ms } })
  end,
  close = function(s)
    if s._owner._closed then return end -- a closed worker took its streams with it
    pcall(P.call, "guest", { target = s._owner:_target(), op = "stream_close", args = { handle = s._handle } })
  end,
}

function P.new_stream(owner, handle, label, source)
  local s = setmetatable({
    _owner = owner, _handle = handle, _label = label, _where = P.where(2),
    _chunks = {}, _eof = false, _closed = false, _source = source or guest_source,
  }, Stream)
  P.open_streams[s] = true
  P.on_scope_end(function() s:close() end, "stream")
  return s
end

Stream.__tostring = function(s) return "Stream(" .. s._label .. ")" end

local function now() return P.call("clock.now") end

local function deadline_of(timeout, default)
  if timeout == nil then return default == math.huge and math.huge or now() + default end
  return now() + P.duration(timeout, "timeout")
end

-- Long polls until something arrives; false when the deadline passed with nothing new, or
-- nothing more can come.
function Stream:_fill(deadline)
  while not self._eof do -- not ended, nor closed
    local left = deadline - now()
    if left <= 0 then return false end
    local r = self._source.read(self, math.max(1, math.floor(math.min(left * 1000, POLL_MS))))
    if #r.data > 0 then self._chunks[#self._chunks + 1] = r.data end
    if r.eof then self._eof = true end
    if #r.data > 0 or r.eof then return true end
  end
  return false
end

function Stream:_take_all()
  local s = table.concat(self._chunks)
  self._chunks = {}
  return s
end

-- The next bytes available; nil at end of stream, and nil when none arrive in time (as
-- upstream: a timeout is not an error here). Without a timeout it waits for bytes or the end.
function Stream:next(timeout)
  local deadline = deadline_of(timeout, math.huge)
  while #self._chunks == 0 do
    if self._eof then return nil end
    if not self:_fill(deadline) then return nil end
  end
  return self:_take_all()
end

-- Everything up to and including the first `delim`.
function Stream:read_until(delim, timeout, verb)
  P.check(delim, "string", "delimiter")
  local deadline = deadline_of(timeout, UNTIL_TIMEOUT)
  while true do
    local buf = table.concat(self._chunks)
    self._chunks = buf ~= "" and { buf } or {} -- never an empty chunk: next() would return ""
    local _, stop = buf:find(delim, 1, true)
    if stop then
      self._chunks = stop < #buf and { buf:sub(stop + 1) } or {}
      return buf:sub(1, stop)
    end
    if not self:_fill(deadline) then
      local tail = #buf > 300 and ("..." .. buf:sub(-300)) or buf
      local why = self._closed and " failed: the stream is closed" or self._eof and " failed: the stream ended" or " timed out"
      P.raise((verb or "read_until") .. " " .. P.repr(delim) .. why
        .. " (" .. self._label .. "); unread output: " .. P.repr(tail))
    end
  end
end

-- Like read_until, named for assertions: raises when the text does not appear in time.
function Stream:expect(pattern, timeout)
  return self:read_until(pattern, timeout, "expect")
end

-- Everything until end of stream, or until the timeout (no error; default 0.5 s), as a list
-- of chunks in the order they arrived (empty when nothing came).
function Stream:drain(timeout)
  local deadline = deadline_of(timeout, DRAIN_TIMEOUT)
  while self:_fill(deadline) do end
  local chunks = self._chunks
  self._chunks = {}
  return chunks
end

-- True once nothing more will come: the source ended and everything was read, or the
-- stream was closed.
function Stream:eof()
  return self._closed or (self._eof and #self._chunks == 0)
end

function Stream:close()
  if self._closed then return end
  self._closed = true
  self._eof = true
  P.open_streams[self] = nil
  self._source.close(self)
end

-- For failure reports: each open stream, where it was opened, and the last of what it held
-- (what the test had not read yet, plus whatever is waiting in the guest right now).
function P.stream_report()
  local out = {}
  for s in pairs(P.open_streams) do
    pcall(function()
      if not s._eof then
        local r = s._source.read(s, 0)
        if #r.data > 0 then s._chunks[#s._chunks + 1] = r.data end
        if r.eof then s._eof = true end
      end
    end)
    local held = table.concat(s._chunks)
    out[#out + 1] = { label = s._label, opened_at = s._where:gsub(": $", ""), unread = #held > 2000 and held:sub(-2000) or held, eof = s._eof }
  end
  if #out == 0 then return nil end
  table.sort(out, function(a, b) return a.opened_at < b.opened_at end)
  return out
end
