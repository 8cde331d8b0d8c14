-- The end of a test kills and reaps its processes, closes its streams, joins its workers;
-- the next test starts clean. Bad input is a clear error at the caller's file:line.
local vm = provium:vm("v", "minimal"):boot()

local function census()
  return __provium_private.call("guest", { target = { vm = vm._id }, op = "agent_census", args = {} })
end
local function alive(pid) return vm:run("test -d /proc/" .. pid):ok() end
local function here() return debug.getinfo(2, "l").currentline end

-- A server started by the file's top level lives across tests, until the file ends.
local server = vm:run_async("while true; do sleep 1; done")
local server_pid = server:pid()
local baseline = census()

local left = {}

test("a test that leaves processes, streams, workers and tasks behind", function(t)
  local w = vm:spawn_worker()
  left.worker = w
  -- created in the "wrong" order on purpose: workers, streams, then processes
  left.wproc = w:run_async("sleep 100")
  left.wstream = left.wproc:stdout_stream()
  left.stream = vm:run_async("echo x; sleep 100"):stdout_stream()
  left.proc = vm:run_async("sleep 100")
  left.cat = vm:run_async("cat") -- stdin still open
  left.pids = { left.wproc:pid(), left.proc:pid(), left.cat:pid() }
  left.task = provium:spawn(function() return vm:run("echo from-task").stdout end)
  local c = census()
  t:assert_eq(c.workers, baseline.workers + 1)
  t:assert(c.processes >= baseline.processes + 4)
  t:assert(c.streams >= baseline.streams + 2)
end)

test("the next test starts clean", function(t)
  for _, pid in ipairs(left.pids) do t:assert(not alive(pid), "pid " .. pid .. " was killed and reaped") end
  t:assert_eq(census(), baseline)
  t:assert_contains(t:assert_raises(function() left.proc:status() end), "process is closed")
  t:assert(left.stream:eof(), "the stream was closed")
  t:assert_contains(t:assert_raises(function() left.worker:run("true") end), "worker is closed")
  t:assert_eq(left.task:join(), "from-task\n") -- the passing test waited for its task
  -- the top-level server is still there
  t:assert(alive(server_pid))
  t:assert_eq(server:status(), "running")
end)

test("a test that ends early (skipped on purpose) still cleans up", function(t)
  left.skipped = vm:run_async("sleep 100")
  left.skipped_pid = left.skipped:pid()
  left.skipped_worker = vm:spawn_worker()
  left.skipped_worker:run_async("sleep 100")
  left.abandoned = provium:spawn(function() vm:run("sleep 100") end)
  t:skip("skipped on purpose: checks that cleanup runs after a test that did not pass")
end)

test("after an early end the agent holds nothing of the test", function(t)
  t:assert(not alive(left.skipped_pid))
  t:assert_contains(t:assert_raises(function() left.abandoned:join() end), "the task was abandoned when its test ended")
  -- the abandoned task's `sleep 100` still runs in the agent until it ends; only the
  -- processes the test started are killed
  t:assert_eq(census().workers, baseline.workers)
  t:assert_eq(census().processes, baseline.processes)
end)

test("closing explicitly first is fine: the end of the test skips what is closed", function(t)
  local w = vm:spawn_worker()
  local p = w:run_async("sleep 100")
  local s = p:stdout_stream()
  w:close()
  p:close()
  s:close()
  local q = vm:run_async("true")
  q:wait("5s")
  q:close()
end)

test("bad input: clear errors at the caller's line", function(t)
  local p = vm:run_async("sleep 100")
  local cases = {
    { function() vm:run(42) end, "command must be a string, got number (42)" },
    { function() vm:run("echo", {args = "x"}) end, 'args must be a table, got string ("x")' },
    { function() vm:run("echo", {args = {{}}}) end, "args[1] must be a string, got table" },
    { function() vm:run("echo", {env = {A = {}}}) end, "env.A must be a string, got table" },
    { function() vm:run("echo", {cwd = 5}) end, "cwd must be a string, got number (5)" },
    { function() vm:run("echo", {stdin = true}) end, "stdin must be a string, got boolean (true)" },
    { function() vm:run("echo", {timeout = -1}) end, "timeout must be a non-negative number of seconds, got -1" },
    { function() vm:run("echo", {timeout = "fast"}) end, 'timeout "fast" is malformed' },
    { function() vm:run("echo", {timeout = "-5s"}) end, 'timeout "-5s" is malformed' },
    { function() vm:run_async("echo", {timeout = 1}) end, "run_async does not take timeout/timeout_ms" },
    { function() p:kill("sigbogus") end, "unknown signal 'sigbogus' (known: term, kill, int, hup, quit, stop, cont, usr1, usr2, alrm, pipe, chld, winch" },
    { function() p:kill(99) end, "signal number must be an integer from 1 to 64, got 99" },
    { function() p:wait(-1) end, "wait timeout must be a non-negative number of seconds, got -1" },
    { function() p:wait("1 fortnight") end, 'wait timeout "1 fortnight" is malformed' },
    { function() p:wait(0) end, "use proc:status() to poll" },
    { function() vm:spawn_worker():kill("nope") end, "unknown signal 'nope'" },
    { function() vm:spawn_worker():join(-2) end, "join timeout must be a non-negative number of seconds, got -2" },
    { function() provium:barrier(5, 2) end, "barrier name must be a string, got number (5)" },
    { function() provium:barrier("b", 2, -1) end, "barrier timeout must be a non-negative number of seconds, got -1" },
    { function() provium:spawn(42) end, "spawn body must be a function, got number (42)" },
  }
  for i, c in ipairs(cases) do
    local ok, e = pcall(c[1])
    t:assert(not ok, "case " .. i .. " raised")
    t:assert_contains(e, "scopes.test.lua:", "case " .. i .. " names the file")
    t:assert_contains(e, c[2], "case " .. i)
  end
  -- the line is the caller's
  local line = here() + 1
  local e = t:assert_raises(function() vm:run(42) end)
  t:assert_contains(e, "scopes.test.lua:" .. line .. ": ")
  -- a process already waited; a closed stream; a closed worker
  local q = vm:run_async("true")
  q:wait("5s")
  line = here() + 1
  e = t:assert_raises(function() q:wait("5s") end)
  t:assert_contains(e, "scopes.test.lua:" .. line .. ": process was already waited (true)")
  local s = vm:run_async("echo"):stdout_stream()
  s:close()
  line = here() + 1
  e = t:assert_raises(function() s:read_until("x") end)
  t:assert_contains(e, "scopes.test.lua:" .. line .. ': read_until "x" failed: the stream is closed')
  local w = vm:spawn_worker()
  w:close()
  line = here() + 1
  e = t:assert_raises(function() w:run_async("true") end)
  t:assert_contains(e, "scopes.test.lua:" .. line .. ": worker is closed")
end)
