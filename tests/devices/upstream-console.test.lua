-- Consoles and streams in upstream's shapes (peios/provium console_stream_ud.rs, result_ud.rs):
-- console:expect over everything since boot, a console handle that holds no stream,
-- console:read() as the stream that blocks snapshots, stream:next's nil on timeout and the
-- stream defaults. One shared `minimal` VM.
local vm = provium:vm("upc", "minimal"):boot()

local function here() return debug.getinfo(2, "l").currentline end

test("console:expect sees what the console printed before the handle, since boot; every call looks at the whole log", function(t)
  vm:run("echo printed-before-the-handle > /dev/ttyS0"):assert_ok()
  local c = vm:console()
  t:assert_eq(c:expect("printed-before-the-handle", "5s"), "printed-before-the-handle")
  t:assert_eq(c:expect("SeaBIOS", "5s"), "SeaBIOS") -- the firmware's first lines count too
  -- the same text again: upstream polls the whole log each call, so it is still there
  t:assert_eq(c:expect("printed-before-the-handle", "1s"), "printed-before-the-handle")
  -- and it waits for what comes later
  vm:run("(sleep 1; echo printed-later > /dev/ttyS0) >/dev/null 2>&1 &"):assert_ok()
  t:assert_eq(c:expect("printed-later", "20s"), "printed-later")
  local line = here() + 1
  local e = t:assert_raises(function() c:expect("never-printed-upc", "300ms") end)
  t:assert_contains(e, "upstream-console.test.lua:" .. line .. ': expect "never-printed-upc" timed out after 0.3 s (console of vm upc)')
  c:close()
  c:close()
  t:assert_eq(c:expect("printed-later", "1s"), "printed-later") -- close releases nothing: upstream's no-op
end)

test("a bare vm:console() handle holds no stream: a snapshot works; console:read() is a stream and blocks it", function(t)
  local c = vm:console()
  local snap = vm:snapshot()
  t:assert(snap:size() > 0, "the snapshot was taken")
  snap:delete()
  local read_at = here() + 1
  local s = c:read()
  local e = t:assert_raises(function() vm:snapshot() end)
  t:assert_contains(e, "cannot snapshot while streams are open")
  t:assert_contains(e, "console of vm upc opened at tests/devices/upstream-console.test.lua:" .. read_at)
  vm:run("echo into-the-stream > /dev/ttyS0"):assert_ok()
  t:assert_contains(s:read_until("into-the-stream", "10s"), "into-the-stream")
  s:close()
  vm:snapshot():delete() -- closed: snapshots work again
end)

test("vm:console() on a VM never booted is a handle; what reaches the machine says it is not booted", function(t)
  local early = provium:vm("upc-early", "minimal")
  local c = early:console()
  t:assert_eq(tostring(c), "Console(upc-early)")
  t:assert_contains(t:assert_raises(function() c:read() end), "VM not booted")
  t:assert_contains(t:assert_raises(function() c:expect("x", "1s") end), "VM not booted")
  t:assert_contains(t:assert_raises(function() c:read_log() end), "VM not booted")
end)

test("stream:next(timeout) returns nil on timeout, as at end of stream, then the bytes once they come", function(t)
  local s = vm:console():read()
  t:assert_eq(s:next("300ms"), nil)
  t:assert(not s:eof(), "a timeout is not the end")
  vm:run("echo next-after-timeout > /dev/ttyS0"):assert_ok()
  local got = ""
  while not got:find("next-after-timeout", 1, true) do
    local chunk = s:next("10s")
    t:assert(chunk ~= nil, "the line came")
    got = got .. chunk
  end
  s:close()
  -- a process's stream too
  local proc = vm:run_async("sleep 30")
  local out = proc:stdout_stream()
  t:assert_eq(out:next(0.3), nil)
  proc:kill("kill")
  t:assert_eq(out:next("10s"), nil) -- and nil at its end
  t:assert(out:eof())
end)

test("stream defaults as upstream: read_until and expect wait 10 s, drain 0.5 s, next waits for bytes", function(t)
  local s = vm:console():read()
  local t0 = os.time()
  local e = t:assert_raises(function() s:read_until("never-in-the-stream") end)
  local waited = os.time() - t0
  t:assert_contains(e, 'read_until "never-in-the-stream" timed out')
  t:assert(waited >= 9 and waited <= 14, "read_until waited " .. waited .. " s, not 10")
  t0 = os.time()
  t:assert_eq(#s:drain(), 0)
  t:assert(os.time() - t0 <= 2, "drain() waited " .. (os.time() - t0) .. " s, not 0.5")
  s:close()
  local proc = vm:run_async("sleep 2; echo late-line")
  t:assert_eq(proc:stdout_stream():next(), "late-line\n") -- no timeout: waits for the bytes
end)
