-- vm:boot(opts): files placed before the agent answers, the kernel command line, an entropy
-- seed, the initial wall clock, the agent's deadline. One VM gets them all.
local host_file = os.tmpname()
local f = io.open(host_file, "wb"); f:write("from the host\n"); f:close()

local vm = provium:vm("opts", "minimal"):boot({
  files = { ["/etc/provium-test/hello.txt"] = host_file, ["/tmp/conf/relative.txt"] = "boot.test.lua" },
  kernel_cmdline_append = "provium.testmark=appended",
  rng_seed = "some entropy",
  initial_time = "2031-05-06T07:08:09Z",
  agent_timeout = "120s",
})

test("files are in place when boot returns; a relative host path is the test file's neighbour", function(t)
  t:assert_eq(vm:read_file("/etc/provium-test/hello.txt"), "from the host\n")
  t:assert_contains(vm:read_file("/tmp/conf/relative.txt"), "-- vm:boot(opts): files placed before the agent answers")
  t:assert_eq(vm:run("stat -c %a /tmp").stdout, "1777\n") -- existing directories keep their modes
  t:assert_eq(vm:run("ls /provium-files /provium-rng-seed 2>/dev/null").stdout, "") -- consumed by init
end)

test("the command line keeps the profile's part and gets the appended one", function(t)
  local cmdline = vm:read_file("/proc/cmdline")
  t:assert_contains(cmdline, "provium.testmark=appended")
  t:assert_contains(cmdline, "init_on_free=1") -- the minimal profile's own
end)

test("initial_time: the guest's clock started there", function(t)
  local utc = 1935817689 -- 2031-05-06T07:08:09Z
  local now = vm:clock():get()
  t:assert(now >= utc and now < utc + 120, "guest time " .. now .. " is initial_time plus the boot")
end)

test("kernel_cmdline replaces the profile's part, Provium's own stays", function(t)
  local v = provium:vm("replaced", "minimal"):boot({ kernel_cmdline = "provium.testmark=replaced" })
  local cmdline = v:read_file("/proc/cmdline")
  t:assert_contains(cmdline, "provium.testmark=replaced")
  t:assert(not cmdline:find("init_on_free=1", 1, true), "the profile's cmdline is replaced: " .. cmdline)
  t:assert_contains(cmdline, "console=ttyS0")
end)

test("bad boot options are refused before anything starts, naming what was wrong", function(t)
  local function boot_err(opts)
    local v = provium:vm("bad" .. tostring(math.random(1e9)), "minimal")
    local e = t:assert_raises(function() v:boot(opts) end)
    t:assert_eq(v:state(), "created")
    return e
  end
  t:assert_contains(boot_err({ colour = "red" }), "unknown boot option colour (known: files, kernel_cmdline")
  t:assert_contains(boot_err({ files = { ["relative"] = host_file } }), "keys are absolute guest paths")
  t:assert_contains(boot_err({ files = { ["/x"] = "/nonexistent/host/file" } }), 'files["/x"]: host file not found: /nonexistent/host/file')
  t:assert_contains(boot_err({ initial_time = "yesterday" }), "initial_time must be seconds since the epoch or an ISO 8601 time")
  t:assert_contains(boot_err({ initial_time = -1 }), "outside 1970..9999")
  t:assert_contains(boot_err({ rng_seed = {} }), "rng_seed must be a non-empty string or an integer")
  t:assert_contains(boot_err({ agent_timeout = 0 }), "agent_timeout must be greater than zero")
  t:assert_contains(boot_err({ kernel_cmdline_append = string.rep("x", 2100) }), "kernel command line too long")
  t:assert_contains(boot_err({ kernel_cmdline = 5 }), "kernel_cmdline must be a string")
end)
