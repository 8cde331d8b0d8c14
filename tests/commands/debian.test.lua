-- The examples of running-commands.md that need a Debian guest (python3, nginx, curl, ss,
-- printenv), with the page's own lines, in the page's order, on one VM: the busybox
-- `minimal` guest lacks these programs. `web` (provium.toml) is the built-in debian profile
-- plus nginx, curl, python3 and iproute2.
local vm = provium:vm("v", "web"):boot()

test("printenv sees the env option", function(t)
  t:assert_eq(vm:run("printenv FOO", {env = {FOO = "bar"}}).stdout, "bar\n")
end)

test("env, cwd and stdin combined (python3)", function(t)
  local r = vm:run("python3 -c 'import os, sys; print(os.environ[\"X\"], file=sys.stderr); print(sys.stdin.read())'", {
      env  = {X = "from-env"},
      stdin = "from-stdin\n",
  })
  t:assert_eq(r.stderr, "from-env\n")
  -- the page expects "from-stdin\n", but print() adds a newline after what it read
  t:assert_eq(r.stdout, "from-stdin\n\n")
end)

-- The page's lines between the two python examples, in order: the issue 14 report ran them all
-- in one file before nginx, which then never listened. Kept here so the order is the page's.
test("env_clear and a timeout, between the python examples", function(t)
  local r = vm:run("env", {env = {PATH = "/usr/bin"}, env_clear = true})
  t:assert_eq(r.stdout:match("PATH=([^\n]*)"), "/usr/bin")
  t:assert(vm:run("sleep 100", {timeout = "500ms"}).timed_out)
end)

test("run_async a python server, stream its stdout, signal it, wait", function(t)
  -- server.py in the agent's working directory (/root), as the page's relative path expects
  vm:write_file("/root/server.py", table.concat({
    "import http.server",
    "server = http.server.HTTPServer(('', 8080), http.server.SimpleHTTPRequestHandler)",
    "print('listening on port 8080', flush=True)",
    "server.serve_forever()",
  }, "\n"))
  local proc = vm:run_async("python3", {args = {"server.py"}})
  local out  = proc:stdout_stream()
  out:expect("listening on port 8080", "10s")
  -- … do other things …
  proc:kill("term")
  local r = proc:wait("2s")
  t:assert_eq(r.status, "signalled")
  t:assert_eq(r.signal, 15)
end)

test("fixture installs curl", function(t)
    local r = vm:run("which curl")
    r:assert_ok()
    t:assert(r.stdout:find("/usr/bin/curl"))
end)

test("nginx serves index", function(t)
    local proc = vm:run_async("nginx", {args = {"-g", "daemon off;"}})
    local out  = proc:stdout_stream()
    -- nginx writes nothing to stdout in this mode; use wait_until on
    -- the listening port.
    wait_until(function()
        return vm:run("ss -ltn | grep :80"):ok()
    end, {timeout = "10s", desc = "nginx listening on :80"})
    local r = vm:run("curl -s http://localhost/")
    r:assert_ok()
    t:assert(r.stdout:find("Welcome to nginx"))
end)
