-- Shared plumbing for the Lua-facing API: host calls, errors that name the test's
-- file:line, durations and value formatting. Loaded first; later chunks get `P`.
local P = ...
local host_call, host_emit = __host_call, __host_emit
__host_call, __host_emit = nil, nil

-- The first stack frame that belongs to user code (a chunk loaded from a file), so that
-- errors name the line of the test that called into the API, not our internals.
function P.where(level)
  level = (level or 2) + 1
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return "" end
    if info.source:sub(1, 1) == "@" and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
    level = level + 1
  end
end

-- The directory of the Lua file that called into the API (test, fixture or helper), for
-- host paths relative to it. Chunk names are paths relative to the runner's cwd.
function P.caller_dir()
  local level = 3
  while true do
    local info = debug.getinfo(level, "S")
    if not info then return "." end
    if info.source:sub(1, 1) == "@" then
      return info.source:sub(2):match("^(.*)/[^/]*$") or "."
    end
    level = level + 1
  end
end

function P.raise(msg)
  error(P.where(2) .. msg, 0)
end

-- The one way Lua reaches the host: blocking unless spawn.lua's tasks are running.
P.host_call = host_call

function P.call(op, args)
  local r = P.host_call(op, args or {})
  if r.err ~= nil then P.raise(r.err) end
  return r.ok
end

P.emit = host_emit

-- PROVIUM_TEST_HOOKS=1 (the runner's own tests only): a way to crash the runner worker.
if __provium_test_hooks then
  function __provium_test_crash_worker() P.call("debug.crash_worker") end
end
__provium_test_hooks = nil

-- A number as messages show it: NaN and infinities by name (tostring gives "-nan", "inf").
function P.num(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  return tostring(v)
end

-- Durations: a number of seconds, or "500ms" / "5s" / "5m" / "2h". `signed`: negative ones
-- too ("-5s"), for moving a clock back.
local units = { ms = 0.001, s = 1, m = 60, h = 3600 }
function P.duration(v, what, signed)
  what = what or "duration"
  local kind = signed and "number of seconds" or "non-negative number of seconds"
  if type(v) == "number" then
    if v ~= v then P.raise(what .. " must be a finite " .. kind .. ", got NaN") end
    if v == math.huge or v == -math.huge then P.raise(what .. " must be a finite " .. kind .. ", got " .. P.num(v)) end
    if v < 0 and not signed then P.raise(what .. " must be a " .. kind .. ", got " .. P.num(v)) end
    return v
  end
  if type(v) == "string" then
    local sign, n, unit = v:match("^%s*(-?)%s*([%d%.]+)%s*(%a+)%s*$")
    if n and tonumber(n) and units[unit] and (sign == "" or signed) then
      return (sign == "-" and -1 or 1) * tonumber(n) * units[unit]
    end
    P.raise(what .. ' "' .. v .. '" is malformed: use seconds or a string like "500ms", "5s", "1m", "2h"' .. (signed and ' (or "-5s" back)' or ""))
  end
  P.raise(what .. " must be a number of seconds or a string like \"5s\", got " .. type(v))
end

function P.check(v, ty, what)
  if type(v) ~= ty then P.raise(what .. " must be a " .. ty .. ", got " .. type(v) .. (v ~= nil and (" (" .. P.repr(v) .. ")") or "")) end
  return v
end

-- A short readable rendering of any value, for assertion messages.
function P.repr(v, depth)
  depth = depth or 0
  local ty = type(v)
  if ty == "string" then
    if #v > 200 then return string.format("%q", v:sub(1, 200)):gsub("\\\n", "\\n") .. "... (" .. #v .. " bytes)" end
    return (string.format("%q", v):gsub("\\\n", "\\n"))
  end
  if ty ~= "table" or depth > 2 then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  local parts, n = {}, 0
  if #v > 0 and next(v, #v) == nil then -- a sequence: render without keys
    for i = 1, math.min(#v, 10) do parts[i] = P.repr(v[i], depth + 1) end
    if #v > 10 then parts[#parts + 1] = "..." end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  for k, x in pairs(v) do
    n = n + 1
    if n > 10 then parts[#parts + 1] = "..."; break end
    local key = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or ("[" .. P.repr(k, depth + 1) .. "]")
    parts[#parts + 1] = key .. " = " .. P.repr(x, depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function P.deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not P.deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- print goes to the test's log, not the terminal.
function print(...)
  local parts = table.pack(...)
  for i = 1, parts.n do parts[i] = tostring(parts[i]) end
  host_emit({ kind = "log", message = table.concat(parts, "\t") })
end

-- Objects are plain tables with a metatable; this makes one with a __name for messages.
function P.class(name)
  local c = { __name = name }
  c.__index = c
  return c
end

return P
