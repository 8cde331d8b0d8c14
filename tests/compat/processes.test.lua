-- Processes, streams and workers as the spec's running-commands page has them (issue 14):
-- a wait whose timeout passes kills, stream close/eof/drain, tail offsets from the end,
-- a worker joined once, run_async of a missing program. One VM for the file.
local vm = provium:vm("v", "minimal"):boot()

local function here() return debug.getinfo(2, "l").currentline end

-- Gone, or a zombie its new parent has not reaped yet.
local function dead(pid)
  return vm:run("test ! -e /proc/" .. pid .. " || grep -q ') Z' /proc/" .. pid .. "/stat"):ok()
end

test("wait(timeout): when it passes, the process group is killed and the result says timed out", function(t)
  local proc = vm:run_async("echo started; sleep 100 & echo $!; wait")
  local r = proc:wait("700ms")
  t:assert_eq(r.timed_out, true)
  t:assert_eq(r.status, "timed_out")
  t:assert_eq(r.exit_code, -2)
  t:assert_eq(r.signal, nil)
  local started, child = r.stdout:match("^(%a+)\n(%d+)\n$")
  t:assert_eq(started, "started", "the output written before the kill is in the result")
  t:assert_eq(proc:status(), "exited")
  wait_until(function() return dead(child) end, {timeout = "5s", desc = "the background child went with the group"})
  t:assert_contains(t:assert_raises(function() proc:wait("1s") end), "process was already waited")
  -- wait(0) stays refused
  local p = vm:run_async("sleep 100")
  t:assert_contains(t:assert_raises(function() p:wait(0) end), "use proc:status() to poll")
  t:assert_eq(p:status(), "running")
  -- a process that ends in time is not timed out
  t:assert_eq(vm:run_async("exit 3"):wait("10s").status, "exited")
  -- a worker counts a timed-out wait as timed out (-2), the worst
  local w = vm:spawn_worker()
  t:assert_eq(w:run_async("sleep 100"):wait(0.3).exit_code, -2)
  t:assert_eq(w:join("10s"), -2)
end)

test("stream close: idempotent, eof() true, nothing more is read, the process runs on", function(t)
  local proc = vm:run_async("echo one; sleep 100")
  local s = proc:stdout_stream()
  t:assert_eq(s:read_until("\n", "10s"), "one\n")
  s:close()
  s:close()
  t:assert(s:eof(), "a closed stream is at its end")
  t:assert_eq(s:next(), nil)
  local rest = s:drain()
  t:assert_eq(type(rest), "table")
  t:assert_eq(#rest, 0)
  local line = here() + 1
  local e = t:assert_raises(function() s:read_until("never") end)
  t:assert_contains(e, "processes.test.lua:" .. line .. ': read_until "never" failed: the stream is closed')
  -- closing the stream left the process running
  t:assert_eq(proc:status(), "running")
  t:assert(proc:kill("term"))
  t:assert_eq(proc:wait("10s").signal, 15)
end)

test("bytes received before close stay readable (next, then nil)", function(t)
  local proc = vm:run_async("printf 'a\\nb\\n'; sleep 100")
  local out = proc:stdout_stream()
  -- one write, so one chunk: read_until keeps "b\n" received but unread
  t:assert_eq(out:read_until("\n", "10s"), "a\n")
  out:close()
  t:assert(out:eof())
  t:assert_eq(out:next(), "b\n")
  t:assert_eq(out:next(), nil)
  t:assert_eq(#out:drain(), 0)
  t:assert_eq(proc:status(), "running")
end)

test("next returns nil at end of stream; drain returns the chunks in arrival order", function(t)
  local proc = vm:run_async("echo a; sleep 1; echo b")
  local out = proc:stdout_stream()
  local chunks = out:drain("20s")
  t:assert_eq(#chunks, 2)
  t:assert_eq(chunks[1], "a\n")
  t:assert_eq(chunks[2], "b\n")
  t:assert(out:eof())
  t:assert_eq(out:next("1s"), nil)
  t:assert_eq(#out:drain("1s"), 0)
  t:assert_eq(proc:wait("10s").exit_code, 0)
end)

test("tail_file: a negative start counts back from the end, clamped at byte 0", function(t)
  vm:write_file("/tmp/tailed", "0123456789")
  local s = vm:tail_file("/tmp/tailed", {start = -4})
  t:assert_eq(s:read_until("9", "10s"), "6789")
  vm:run("printf more >> /tmp/tailed"):assert_ok()
  t:assert_eq(s:read_until("more", "10s"), "more")
  local whole = vm:tail_file("/tmp/tailed", {start = -1000})
  t:assert_eq(whole:read_until("more", "10s"), "0123456789more")
  local far = vm:tail_file("/tmp/tailed", {start = math.mininteger})
  t:assert_eq(far:read_until("more", "10s"), "0123456789more")
  local line = here() + 1
  local e = t:assert_raises(function() vm:tail_file("/tmp/tailed", {start = 1.5}) end)
  t:assert_contains(e, "processes.test.lua:" .. line .. ': start must be "end", "beginning", "start" or a byte offset (negative: from the end), got 1.5')
end)

test("a worker is joined once: a second join and new work after it raise, naming it", function(t)
  local w = vm:spawn_worker({name = "joiner"})
  local p = w:run_async("exit 4")
  t:assert_eq(w:join("10s"), 4)
  t:assert_eq(p:wait("5s").exit_code, 4) -- what it started stays usable
  local line = here() + 1
  local e = t:assert_raises(function() w:join() end)
  t:assert_contains(e, "processes.test.lua:" .. line .. ": worker joiner was already joined")
  line = here() + 1
  e = t:assert_raises(function() w:run("true") end)
  t:assert_contains(e, "processes.test.lua:" .. line .. ": worker joiner was joined: it takes no more work (run)")
  t:assert_contains(t:assert_raises(function() w:run_async("true") end), "worker joiner was joined")
  t:assert_contains(t:assert_raises(function() w:read_file("/etc/hostname") end), "worker joiner was joined")
  -- a join that timed out did not join: join again
  local w2 = vm:spawn_worker()
  w2:run_async("sleep 0.5")
  t:assert_raises(function() w2:join(0.1) end)
  t:assert_eq(w2:join("10s"), 0)
  w:close()
  w:close()
end)

test("run_async of a missing program raises naming it; vm:run still says 127", function(t)
  local line = here() + 1
  local e = t:assert_raises(function() vm:run_async("/nope", {args = {}}) end)
  t:assert_contains(e, "processes.test.lua:" .. line .. ": run_async /nope: No such file or directory")
  e = t:assert_raises(function() vm:run_async("no-such-program", {"x"}) end)
  t:assert_contains(e, "run_async no-such-program x: No such file")
  t:assert_eq(vm:run("/nope", {args = {}}).exit_code, 127)
  -- through a shell it is the shell's 127, as with vm:run
  t:assert_eq(vm:run_async("/nope"):wait("10s").exit_code, 127)
end)
