-- The examples of running-commands.md that need a Debian guest (python3, nginx, curl, ss,
-- printenv): the busybox `minimal` guest lacks them. `web` (provium.toml) is the built-in
-- debian profile plus nginx and iproute2.

-- Created at the top level (so it lives on between tests), booted by the first test that runs.
local web = provium:vm("v", "web")
local function guest()
  if web:state() == "created" then web:boot() end
  return web
end

test("printenv sees the env option", function(t)
  local vm = guest()
  t:assert_eq(vm:run("printenv FOO", {env = {FOO = "bar"}}).stdout, "bar\n")
end)

test("env, cwd and stdin combined (python3)", function(t)
  local vm = guest()
  local r = vm:run("python3 -c 'import os, sys; print(os.environ[\"X\"], file=sys.stderr); print(sys.stdin.read())'", {
    env = {X = "from-env"},
    stdin = "from-stdin\n",
  })
  t:assert_eq(r.stderr, "from-env\n")
  -- the page expects "from-stdin\n", but print() adds a newline after what it read
  t:assert_eq(r.stdout, "from-stdin\n\n")
end)

test("run_async a python server, signal it, wait", function(t)
  local vm = guest()
  vm:run("cat > /tmp/server.py", {stdin = "import time\nprint('listening on port 8080', flush=True)\ntime.sleep(1000)\n"}):assert_ok()
  local proc = vm:run_async("python3", {args = {"/tmp/server.py"}, cwd = "/tmp"})
  local out = proc:stdout_stream()
  out:expect("listening on port 8080", "10s")
  proc:kill("term")
  local r = proc:wait("2s")
  t:assert_eq(r.status, "signalled")
  t:assert_eq(r.signal, 15)
end)

test("fixture installs curl", function(t)
  local vm = guest()
  local r = vm:run("which curl")
  r:assert_ok()
  t:assert(r.stdout:find("/usr/bin/curl"))
end)

test("nginx serves index", function(t)
  local vm = guest()
  local proc = vm:run_async("nginx", {args = {"-g", "daemon off;"}})
  local out = proc:stdout_stream()
  wait_until(function()
    return vm:run("ss -ltn | grep :80"):ok()
  end, {timeout = "10s", desc = "nginx listening on :80"})
  local r = vm:run("curl -s http://localhost/")
  r:assert_ok()
  t:assert(r.stdout:find("Welcome to nginx"))
  out:close()
end)
