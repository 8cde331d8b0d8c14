-- vm:run on a real guest: every example of running-commands.md that the busybox `minimal`
-- guest can run (python3, nginx, curl and printenv ones are in debian.test.lua).
local vm = provium:vm("v", "minimal"):boot()

test("sync exec returns a RunResult", function(t)
  local r = vm:run("echo hello")
  r:assert_ok()
  t:assert_eq(r.stdout, "hello\n")
  t:assert_eq(r.stderr, "")
  t:assert_eq(r.exit_code, 0)
  t:assert_eq(r.status, "exited")
  t:assert_eq(r.signal, nil)
  t:assert_eq(r.timed_out, false)
  t:assert(r:ok())
end)

test("shell form: metacharacters go through /bin/sh -c", function(t)
  t:assert_eq(vm:run("echo hello | tr a-z A-Z").stdout, "HELLO\n")
  vm:run("touch /etc/a.conf /etc/b.conf"):assert_ok()
  local r = vm:run("ls /etc/*.conf | head -3")
  r:assert_ok()
  t:assert_eq(r.stdout, "/etc/a.conf\n/etc/b.conf\n")
  t:assert_eq(vm:run("echo $((6 * 7)) > /tmp/x && cat /tmp/x").stdout, "42\n")
end)

test("direct exec: args are passed as they are, without a shell", function(t)
  t:assert_eq(vm:run("echo", {args = {"hello"}}).stdout, "hello\n")
  t:assert_eq(vm:run("echo", {"hello"}).stdout, "hello\n")
  t:assert_eq(vm:run("echo", {args = {"$HOME", "a  b", "*", ";", "|"}}).stdout, "$HOME a  b * ; |\n")
  t:assert_eq(vm:run("echo", {"x", "y"}).stdout, "x y\n")
  -- a table with any non-array key is options: without args the command is a shell line
  t:assert_eq(vm:run("echo $X", {env = {X = "opts"}}).stdout, "opts\n")
  -- a missing program is exit code 127, as a shell would say
  local r = vm:run("/no/such/program", {args = {}})
  t:assert_eq(r.exit_code, 127)
  t:assert_contains(r.stderr, "command not found")
end)

test("environment, cwd and stdin, alone and combined", function(t)
  t:assert_eq(vm:run("echo $FOO", {env = {FOO = "bar"}}).stdout, "bar\n")
  t:assert_eq(vm:run("ls", {cwd = "/etc"}).stdout, vm:run("ls /etc").stdout)
  t:assert_eq(vm:run("pwd", {cwd = "/etc"}).stdout, "/etc\n")
  t:assert_eq(vm:run("cat", {stdin = "hello\n"}).stdout, "hello\n")
  local r = vm:run("echo $X >&2; cat", {env = {X = "from-env"}, stdin = "from-stdin\n", cwd = "/tmp"})
  t:assert_eq(r.stderr, "from-env\n")
  t:assert_eq(r.stdout, "from-stdin\n")
  -- without stdin a command reads end of file at once
  t:assert_eq(vm:run("cat").stdout, "")
end)

test("env_clear: the guest sees only the keys given", function(t)
  local r = vm:run("env", {env = {PATH = "/usr/bin"}, env_clear = true})
  r:assert_ok()
  local keys = {}
  for line in r.stdout:gmatch("[^\n]+") do
    local k = line:match("^([^=]+)=")
    if k ~= "PWD" and k ~= "SHLVL" and k ~= "_" then keys[#keys + 1] = line end
  end
  t:assert_eq(keys, {"PATH=/usr/bin"})
  -- without env_clear, env merges with the agent's environment
  local merged = vm:run("env", {env = {EXTRA = "1"}}).stdout
  t:assert_contains(merged, "EXTRA=1")
  t:assert_contains(merged, "HOME=")
  -- guest-init gives the agent a JSC option under TCG (provium.noftl); commands never see it
  t:assert(not merged:find("BUN_JSC_", 1, true), merged)
end)

test("timeouts: every spelling kills the command and reports timed_out", function(t)
  for _, opts in ipairs({ {timeout_ms = 500}, {timeout = 0.5}, {timeout = "500ms"} }) do
    local started = os.time()
    local r = vm:run("sleep 100", opts)
    t:assert_eq(r.status, "timed_out", json.encode(opts))
    t:assert_eq(r.timed_out, true)
    t:assert_eq(r.exit_code, -2)
    t:assert_eq(r.signal, nil)
    t:assert(not r:ok())
    t:assert(os.time() - started < 20, "the timeout fired")
  end
  -- longer timeouts do not fire on a quick command
  t:assert(vm:run("sleep 0.1", {timeout = "5s"}):ok())
  t:assert(vm:run("true", {timeout = "1m"}):ok())
  local line = debug.getinfo(1, "l").currentline + 1
  local e = t:assert_raises(function() vm:run("sleep 100", {timeout = 0.3}):assert_ok() end)
  t:assert_contains(e, "run.test.lua:" .. line .. ": command failed (status timed_out, timed out)")
end)

test("timeouts kill the whole process group, background children included", function(t)
  local r = vm:run("sleep 101 & sleep 102", {timeout = 0.5})
  t:assert(r.timed_out)
  wait_until(function() return not vm:run("ps").stdout:find("sleep 10[12]") end, {timeout = "10s", desc = "sleeps gone"})
end)

test("the flaky pattern: timed_out disambiguates from an exit code of -2", function(t)
  vm:run("printf '#!/bin/sh\\nsleep \"$1\"\\nexit \"$2\"\\n' > /tmp/flaky && chmod +x /tmp/flaky"):assert_ok()
  local function check(r)
    if r.timed_out then return "timed out" elseif not r:ok() then return "failed: " .. r.exit_code end
    return "ok"
  end
  t:assert_eq(check(vm:run("/tmp/flaky 100 0", {timeout = "1s"})), "timed out")
  t:assert_eq(check(vm:run("/tmp/flaky 0 3", {timeout = "2s"})), "failed: 3")
  t:assert_eq(check(vm:run("/tmp/flaky 0 0", {timeout = "2s"})), "ok")
  -- exit(-2) is 254 for the kernel: a clean exit never looks like a timeout
  local r = vm:run("exit -2")
  t:assert_eq(r.timed_out, false)
  t:assert_eq(r.status, "exited")
end)

test("signalled: exit_code -1, status, signal number; assert_ok names the signal", function(t)
  for _, c in ipairs({ {"TERM", 15, "SIGTERM"}, {"KILL", 9, "SIGKILL"}, {"USR1", 10, "SIGUSR1"}, {"INT", 2, "SIGINT"} }) do
    local r = vm:run("echo partial; echo oops >&2; kill -" .. c[1] .. " $$")
    t:assert_eq(r.status, "signalled")
    t:assert_eq(r.signal, c[2])
    t:assert_eq(r.exit_code, -1)
    t:assert_eq(r.timed_out, false)
    t:assert_eq(r.stdout, "partial\n")
    local line = debug.getinfo(1, "l").currentline + 1
    local e = t:assert_raises(function() r:assert_ok("step " .. c[1]) end)
    t:assert_contains(e, "run.test.lua:" .. line .. ": step " .. c[1] .. ": command failed (status signalled, killed by " .. c[3] .. ")")
    t:assert_contains(e, 'stdout: "partial\\n"')
    t:assert_contains(e, 'stderr: "oops\\n"')
  end
  -- a shell that returns 255 exited; it was not signalled
  local r = vm:run("exit 255")
  t:assert_eq(r.status, "exited")
  t:assert_eq(r.signal, nil)
  local e = t:assert_raises(function() r:assert_ok() end)
  t:assert_contains(e, "command failed (status exited, exit code 255)")
end)

test("bytes survive: NUL and invalid UTF-8 in stdout, stderr and stdin", function(t)
  local r = vm:run("printf 'a\\000b\\377\\376'; printf '\\000\\300\\200' >&2")
  t:assert_eq(r.stdout, "a\0b\255\254")
  t:assert_eq(r.stderr, "\0\192\128")
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  local bytes = table.concat(all)
  local echoed = vm:run("cat", {stdin = bytes})
  t:assert_eq(#echoed.stdout, 256)
  t:assert_eq(echoed.stdout, bytes)
  t:assert_eq(vm:run("od -An -tx1 | tr -d ' \\n'", {stdin = "\0\255\0"}).stdout, "00ff00")
  t:assert_eq(vm:run("echo", {args = {"caf\195\169"}}).stdout, "caf\195\169\n")
end)

test("64 MiB of stdout arrives whole, and the agent keeps answering meanwhile", function(t)
  local size = 64 * 1024 * 1024
  local big = provium:spawn(function()
    return vm:run("head -c " .. size .. " /dev/zero | tr '\\0' 'x'; echo -n end >&2")
  end)
  -- while the big output travels, other requests are answered
  local quick = 0
  while not big:done() do
    t:assert_eq(vm:run("echo quick").stdout, "quick\n")
    quick = quick + 1
  end
  local r = big:join()
  r:assert_ok()
  t:assert_eq(#r.stdout, size)
  t:assert_eq(r.stdout:sub(1, 4), "xxxx")
  t:assert_eq(r.stdout:sub(-4), "xxxx")
  t:assert(not r.stdout:find("[^x]"), "every byte is x")
  t:assert_eq(r.stderr, "end")
  t:assert(quick > 0)
  -- a few MiB mixed with binary bytes, to check nothing is re-encoded on the way
  local r2 = vm:run("head -c 5000000 /dev/urandom > /tmp/r; cat /tmp/r; md5sum /tmp/r >&2")
  t:assert_eq(#r2.stdout, 5000000)
  local sum = vm:run("md5sum", {stdin = r2.stdout}).stdout:match("^%x+")
  t:assert_eq(sum, r2.stderr:match("^%x+"))
end)

test("output past the cap (a quarter of guest memory) kills the command with a clear error; the VM lives on", function(t)
  -- 512 MiB guest: the cap is ~128 MiB; 1 GiB used to OOM-kill the agent and the VM with it
  local ok, err = pcall(vm.run, vm, "head -c 1073741824 /dev/zero")
  t:assert(not ok)
  t:assert_contains(tostring(err), "MiB (vm:run keeps at most a quarter of the guest's memory), so it was killed")
  t:assert_contains(tostring(err), "(EFBIG)")
  t:assert_eq(vm:run("echo alive").stdout, "alive\n")
end)

test("the agent gives the memory of large transfers back once the port is quiet", function(t)
  local function meminfo(key) return tonumber(vm:run("grep " .. key .. ": /proc/meminfo").stdout:match("%d+")) end
  local total = meminfo("MemTotal")
  for _ = 1, 3 do t:assert_eq(#vm:run("dd if=/dev/zero bs=1M count=64 2>/dev/null").stdout, 64 * 1024 * 1024) end
  local data = string.rep("y", 16 * 1024 * 1024)
  for _ = 1, 2 do
    vm:write_file("/tmp/big", data)
    t:assert_eq(#vm:read_file("/tmp/big"), #data)
  end
  vm:run("rm /tmp/big; sleep 0.5") -- the agent collects 50 ms after its last traffic
  -- JSC's own heuristics sometimes left such buffers uncollected: once, after a bench-like
  -- workload, 36 of ~470 MiB were still available. (Not every run shows it without the idle
  -- collection; this guards the outcome, whatever holds the memory.)
  local available = meminfo("MemAvailable")
  t:assert(available > total * 0.6, ("MemAvailable %d kB of MemTotal %d kB"):format(available, total))
end)

test("background children do not hold the reply; what they write within 100 ms is kept", function(t)
  local now = function() return __provium_private.call("clock.now") end
  local started = now()
  -- "soon" is written just after the shell itself has exited, "late" long after the grace
  local r = vm:run("(while kill -0 $$ 2>/dev/null; do :; done; echo soon) & (sleep 5; echo late) & echo now")
  r:assert_ok()
  t:assert_eq(r.stdout, "now\nsoon\n")
  t:assert(now() - started < 3, "the reply waited for the sleeping child")
end)

test("stdout and stderr are pipes: /dev/stdout and /dev/stderr can be opened", function(t)
  local r = vm:run("stat -L -c %F /dev/stdout /dev/stderr; echo out > /dev/stdout; echo err > /dev/stderr")
  r:assert_ok()
  t:assert_eq(r.stdout, "fifo\nfifo\nout\n")
  t:assert_eq(r.stderr, "err\n")
end)
