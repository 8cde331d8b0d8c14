-- Test registration, the `t` context passed to each test, and the per-file test loop.
local P = ...
local tests = {}
local file_todo = nil

function test(name, meta, fn)
  if type(meta) == "function" and fn == nil then meta, fn = {}, meta end
  P.check(name, "string", "test name")
  P.check(meta, "table", "test meta")
  P.check(fn, "function", "test body")
  -- meta.tags: a list of strings, or one string (kept as a list of one for the runner).
  if type(meta.tags) == "string" then meta.tags = { meta.tags } end
  if meta.tags ~= nil then
    P.check(meta.tags, "table", "meta tags")
    for i, tag in ipairs(meta.tags) do P.check(tag, "string", "meta tags[" .. i .. "]") end
  end
  -- meta.skip: a reason (or true): the test is reported as skipped and never runs.
  if meta.skip ~= nil and type(meta.skip) ~= "string" and type(meta.skip) ~= "boolean" then
    P.raise("meta skip must be a reason string or a boolean, got " .. type(meta.skip) .. " (" .. P.repr(meta.skip) .. ")")
  end
  tests[#tests + 1] = { name = name, meta = meta, fn = fn, where = P.where(1) }
end

function todo(reason)
  file_todo = tostring(reason or "todo")
end

-- Sentinels thrown by t:skip and t:fail travel as tables so the loop can tell them apart.
local Skip = P.class("Skip")
local T = P.class("TestContext")

function T:assert(cond, msg)
  if not cond then P.raise("assertion failed" .. (msg and (": " .. tostring(msg)) or "")) end
  return cond
end

function T:assert_eq(actual, expected, msg)
  if not P.deep_equal(actual, expected) then
    P.raise((msg and (tostring(msg) .. ": ") or "") .. "expected " .. P.repr(expected) .. ", got " .. P.repr(actual))
  end
end

function T:assert_neq(actual, unexpected, msg)
  if P.deep_equal(actual, unexpected) then
    P.raise((msg and (tostring(msg) .. ": ") or "") .. "expected a value other than " .. P.repr(unexpected))
  end
end

function T:assert_contains(hay, needle, msg)
  local found = false
  if type(hay) == "string" then
    found = hay:find(tostring(needle), 1, true) ~= nil
  elseif type(hay) == "table" then
    for _, v in pairs(hay) do if P.deep_equal(v, needle) then found = true; break end end
  else
    P.raise("assert_contains: haystack must be a string or table, got " .. type(hay))
  end
  if not found then
    P.raise((msg and (tostring(msg) .. ": ") or "") .. P.repr(hay) .. " does not contain " .. P.repr(needle))
  end
end

function T:assert_raises(fn, msg)
  P.check(fn, "function", "assert_raises argument")
  local ok, err = pcall(fn)
  if ok then P.raise((msg and (tostring(msg) .. ": ") or "") .. "expected an error, none was raised") end
  if getmetatable(err) == Skip then error(err, 0) end
  return err
end

function T:fail(msg)
  P.raise("failed: " .. tostring(msg or "t:fail()"))
end

function T:skip(reason)
  error(setmetatable({ reason = tostring(reason or "skipped") }, Skip), 0)
end

function T:log(msg)
  P.emit({ kind = "log", test = self.name, message = tostring(msg) })
end

-- t:attach(name, value): onto the test's report. A string naming a host file (relative to the
-- test file's directory) attaches the file, any other string itself; {path = ...} is always a
-- file, {data = ...} always the bytes.
function T:attach(name, value)
  P.check(name, "string", "attachment name")
  if name == "" then P.raise("attachment name must not be empty") end
  local args = { test = self.name, name = name, dir = P.caller_dir() }
  if type(value) == "table" then
    for k in pairs(value) do
      if k ~= "path" and k ~= "data" then P.raise("unknown attachment option '" .. tostring(k) .. "' (known: path, data)") end
    end
    if (value.path == nil) == (value.data == nil) then P.raise("give the attachment as {path = ...} or {data = ...}") end
    if value.path ~= nil then args.path = P.check(value.path, "string", "attachment path") end
    if value.data ~= nil then args.data = P.check(value.data, "string", "attachment data") end
  else
    args.value = P.check(value, "string", "attachment (a host path or a string)")
  end
  P.call("test.attach", args)
end

-- The traceback of a failure, without the runner's own frames: the user's code only.
local function traceback(err)
  if getmetatable(err) == Skip then return err end
  local msg = type(err) == "string" and err or P.repr(err)
  local lines = {}
  for line in debug.traceback(msg, 2):gmatch("[^\n]+") do
    if line:find("in function 'xpcall'", 1, true) then break end
    if not line:find("[provium]/", 1, true) and not line:find("[C]: in function 'error'", 1, true) then
      lines[#lines + 1] = line
    end
  end
  return { message = msg, traceback = table.concat(lines, "\n"), streams = P.stream_report and P.stream_report() or nil }
end

-- Runs the file's tests in order. `select` (from the host) filters by name and meta;
-- each test's resources are closed by P.close_scope before the next one starts.
function P.run_tests()
  local list = {}
  for i, tc in ipairs(tests) do list[i] = { name = tc.name, meta = tc.meta } end
  local file_timeout = rawget(provium, "timeout")
  local host = P.call("file.plan", {
    tests = list,
    timeout = file_timeout ~= nil and P.duration(file_timeout, "provium.timeout") or nil,
  })
  for i, tc in ipairs(tests) do
    local verdict = host.verdicts[i]
    if verdict == "list" then
      P.emit({ kind = "test_listed", test = tc.name, meta = tc.meta, todo = file_todo })
    elseif file_todo then
      P.emit({ kind = "test_skipped", test = tc.name, meta = tc.meta, reason = "todo: " .. file_todo })
    elseif verdict ~= "run" then
      if verdict ~= "filtered" then P.emit({ kind = "test_skipped", test = tc.name, meta = tc.meta, reason = verdict }) end
    elseif tc.meta.skip then
      local reason = tc.meta.skip == true and "skipped" or tc.meta.skip
      P.emit({ kind = "test_skipped", test = tc.name, meta = tc.meta, reason = reason })
    else
      P.emit({ kind = "test_started", test = tc.name, meta = tc.meta })
      P.call("test.begin", { name = tc.name, timeout = tc.meta.timeout and P.duration(tc.meta.timeout, "meta timeout") or nil })
      P.open_scope()
      local t = setmetatable({ name = tc.name, meta = tc.meta }, T)
      P.current_test = t -- what closes with the test attaches to it (a capture's pcap)
      local ok, err = xpcall(P.before_test, traceback, i)
      if ok then ok, err = xpcall(tc.fn, traceback, t) end
      local stop = false
      if not ok and getmetatable(err) ~= Skip then
        -- Before the test's VMs are shut down: the host keeps their consoles (and --debug
        -- opens a prompt on them).
        local asked, failing = pcall(function() return P.call("test.failing", { name = tc.name }) end)
        if asked and failing.debug then
          local prompted, word = pcall(P.debug_prompt, t, err, failing.vm)
          stop = prompted and word == ".stop"
        end
      end
      local closed_ok, close_err = pcall(P.close_scope, ok)
      P.current_test = nil
      if ok and not closed_ok then ok, err = false, traceback(close_err) end
      if ok then
        P.emit({ kind = "test_passed", test = tc.name, meta = tc.meta })
      elseif getmetatable(err) == Skip then
        P.emit({ kind = "test_skipped", test = tc.name, meta = tc.meta, reason = err.reason })
      else
        P.emit({ kind = "test_failed", test = tc.name, meta = tc.meta, reason = err.message, traceback = err.traceback, streams = err.streams })
      end
      if stop then break end
    end
  end
  local ok, err = pcall(P.close_file_scope)
  if not ok then P.emit({ kind = "file_error", reason = tostring(err) }) end
end

-- Scopes: what code opens registers a closer with its kind. At the end of a test its
-- closers run kind by kind -- tasks, processes, streams, other resources (files, ...),
-- workers, VMs -- and within a kind newest first, whatever the order of creation. What the
-- file's top level opens lives until the file ends, then is closed the same way.
-- A closer gets `ok`: false when the test failed.
local ranks = { task = 1, process = 2, stream = 3, worker = 5, vm = 6 }
local OTHER = 4
local file_scope, test_scope = {}, nil
function P.on_scope_end(closer, kind)
  local scope = test_scope or file_scope
  scope[#scope + 1] = { fn = closer, rank = ranks[kind] or OTHER, seq = #scope + 1 }
end
local function close(scope, ok)
  table.sort(scope, function(a, b)
    if a.rank ~= b.rank then return a.rank < b.rank end
    return a.seq > b.seq
  end)
  local first_err
  for _, c in ipairs(scope) do
    local good, err = pcall(c.fn, ok)
    if not good and not first_err then first_err = err end
  end
  if first_err then error(first_err, 0) end
end
function P.open_scope()
  test_scope = {}
end
function P.in_test_scope()
  return test_scope ~= nil
end
function P.close_scope(ok)
  local scope = test_scope or {}
  test_scope = nil
  close(scope, ok ~= false)
end
function P.close_file_scope()
  local scope = file_scope
  file_scope = {}
  close(scope, true)
end
