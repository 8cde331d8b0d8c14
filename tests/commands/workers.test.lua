-- Workers, tasks (lab:spawn) and barriers on a real guest.
local vm = provium:vm("v", "minimal"):boot()

local function now() return __provium_private.call("clock.now") end

test("two writers in parallel, one worker each", function(t)
  local w1 = vm:spawn_worker()
  local w2 = vm:spawn_worker()
  local p1 = w1:run_async("dd if=/dev/urandom of=/tmp/a bs=1M count=8")
  local p2 = w2:run_async("dd if=/dev/urandom of=/tmp/b bs=1M count=8")
  p1:wait("60s"):assert_ok()
  p2:wait("60s"):assert_ok()
  t:assert_eq(vm:run("wc -c < /tmp/a; wc -c < /tmp/b").stdout:gsub("%s+", " "), "8388608 8388608 ")
end)

test("two workers run in parallel inside the guest", function(t)
  local w1, w2 = vm:spawn_worker(), vm:spawn_worker()
  w1:run("true") -- warm up: the first command after boot is slower
  local started = now()
  local p1 = w1:run_async("sleep 1")
  local p2 = w2:run_async("sleep 1")
  p1:wait("30s"):assert_ok()
  p2:wait("30s"):assert_ok()
  local took = now() - started
  t:assert(took < 1.8, "two sleeps of 1 s took " .. took .. " s")
  -- the same with tasks, each running a synchronous command in its own worker
  started = now()
  local a = provium:spawn(function() return w1:run("sleep 1") end)
  local b = provium:spawn(function() return w2:run("sleep 1") end)
  a:join():assert_ok()
  b:join():assert_ok()
  took = now() - started
  t:assert(took < 1.8, "two tasks of 1 s took " .. took .. " s")
end)

test("a worker has the VM's surface: run, run_async, batch", function(t)
  local w = vm:spawn_worker({name = "helper"})
  t:assert_eq(w:run("echo hi").stdout, "hi\n")
  t:assert_eq(w:run("cat", {stdin = "x\0y"}).stdout, "x\0y")
  t:assert_eq(w:run("sleep 100", {timeout = 0.3}).status, "timed_out")
  t:assert_eq(w:run_async("echo async"):wait("5s").stdout, "async\n")
  local rs = w:batch(function(b) b:run("echo 1"); b:run_async("echo 2") end)
  t:assert_eq(rs[1].ok.stdout, "1\n")
  t:assert_eq(rs[2].ok:wait("5s").stdout, "2\n")
  local out = w:run_async("echo streamed"):stdout_stream()
  t:assert_eq(table.concat(out:drain("5s")), "streamed\n")
  t:assert_eq(tostring(w), "Worker(helper)")
end)

test("join returns the worst exit code of the worker's reaped children", function(t)
  t:assert_eq(vm:spawn_worker():join(), 0) -- no children
  local w = vm:spawn_worker()
  w:run("exit 0")
  w:run("exit 3")
  t:assert_eq(w:join(), 3)
  w = vm:spawn_worker() -- a worker is joined once
  local p = w:run_async("sleep 0.5; exit 7")
  t:assert_eq(w:join("30s"), 7) -- waits for the running child
  t:assert_eq(p:wait("5s").exit_code, 7) -- its processes stay usable
  w = vm:spawn_worker()
  w:run_async("sleep 100")
  local e = t:assert_raises(function() w:join(0.3) end)
  t:assert_contains(e, "worker join timed out: 1 process(es) of " .. w.name .. " still running")
  -- kill signals every running child of the worker, and only those
  local outside = vm:run_async("sleep 100")
  t:assert_eq(w:kill("kill"), 1)
  t:assert_eq(w:join("10s"), -1) -- signalled ranks worse than any exit code
  t:assert_eq(outside:status(), "running")
  outside:kill()
end)

test("kill defaults to SIGTERM and reaches every child", function(t)
  local w = vm:spawn_worker()
  local a = w:run_async("sleep 100")
  local b = w:run_async("sleep 100")
  t:assert_eq(w:kill(), 2)
  t:assert_eq(a:wait("10s").signal, 15)
  t:assert_eq(b:wait("10s").signal, 15)
  t:assert_eq(w:kill(), 0)
end)

test("close terminates and joins; idempotent; a closed worker raises", function(t)
  local w = vm:spawn_worker()
  local h = w:handle()
  t:assert_eq(w:handle(), h)
  local p = w:run_async("sleep 100")
  local pid = p:pid()
  w:close()
  w:close()
  t:assert(not vm:run("test -d /proc/" .. pid):ok(), "the worker's process is gone")
  t:assert_eq(w:handle(), h)
  local line = debug.getinfo(1, "l").currentline + 1
  local e = t:assert_raises(function() w:run("true") end)
  t:assert_contains(e, "workers.test.lua:" .. line .. ": worker is closed (" .. w.name .. ")")
  for _, f in ipairs({ "run_async", "kill", "join", "batch" }) do
    t:assert_contains(t:assert_raises(function() w[f](w, f == "batch" and function() end or "true") end), "worker is closed")
  end
  -- the worker's processes went with it: using them raises, closing them does not
  t:assert_contains(t:assert_raises(function() p:status() end), "worker is closed")
  p:close()
  t:assert(vm:spawn_worker():handle() ~= h)
end)

test("barriers: tasks driving workers meet, then go on", function(t)
  local w1, w2 = vm:spawn_worker(), vm:spawn_worker()
  local function party(w, name)
    w:run("echo " .. name .. " >> /tmp/before")
    provium:barrier("phase", 3, "30s")
    -- every party wrote before any reads
    return w:run("cat /tmp/before | sort | tr '\\n' ' '").stdout
  end
  vm:run("rm -f /tmp/before")
  local a = provium:spawn(party, w1, "a")
  local b = provium:spawn(party, w2, "b")
  t:assert_eq(party(vm, "main"), "a b main ")
  t:assert_eq(a:join(), "a b main ")
  t:assert_eq(b:join(), "a b main ")
  -- the same name again: a barrier resets once it opened
  local c = provium:spawn(function() provium:barrier("phase", 2) return "c" end)
  provium:barrier("phase", 2)
  t:assert_eq(c:join(), "c")
end)

test("a barrier timeout returns false to every waiting party", function(t)
  local lab = provium:lab("sub")
  t:assert_eq(lab:barrier("rendezvous", 3, "300ms"), false)
  local task = provium:spawn(function() return provium:barrier("two", 3, 0.5) end)
  t:assert_eq(provium:barrier("two", 3, 0.5), false)
  t:assert_eq(task:join(), false)
  t:assert_contains(t:assert_raises(function() provium:barrier("b", -1) end), "barrier count must be a positive integer, got -1")
end)

test("a task's error comes back from join with its line", function(t)
  local line = debug.getinfo(1, "l").currentline + 1
  local task = provium:spawn(function() vm:run("true"); vm:run(42) end)
  local e = t:assert_raises(function() task:join() end)
  t:assert_contains(e, "workers.test.lua:" .. line .. ": command must be a string, got number (42)")
end)
