-- Lua's io and os on the host's real filesystem, with a real guest: a temp file written with
-- os.tmpname + io.open goes into the guest byte for byte; host files read as in any Lua.
local vm = provium:vm("hostio", "minimal"):boot()

test("a file written via os.tmpname + io.open is pushed and the guest reads the same bytes", function(t)
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  local data = "\239\187\191" .. table.concat(all) .. "\0\r\nend"
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  t:assert_eq(f:write(data), f)
  t:assert_eq(f:close(), true)
  vm:push_file(path, "/tmp/pushed.bin", { auto_dep = false })
  t:assert_eq(vm:run("cat /tmp/pushed.bin"):assert_ok().stdout, data)
  t:assert_eq(vm:run("wc -c < /tmp/pushed.bin"):assert_ok().stdout:match("%d+"), tostring(#data))
  t:assert_eq(os.remove(path), true)
  t:assert_eq(io.open(path), nil)
end)

test("io.open reads the host's own files: /etc/hostname and this test file (relative path)", function(t)
  -- push_file reads host files in the runner itself: the same bytes, by another road.
  vm:push_file("/etc/hostname", "/tmp/host-hostname", { auto_dep = false })
  local f = assert(io.open("/etc/hostname"))
  t:assert_eq(f:read("a"), vm:read_file("/tmp/host-hostname"))
  f:close()
  vm:push_file("host-io.test.lua", "/tmp/self.lua", { auto_dep = false })
  local first = io.lines("host-io.test.lua")()
  t:assert_eq(first, vm:run("head -n 1 /tmp/self.lua"):assert_ok().stdout:gsub("\n$", ""))
  t:assert_contains(first, "Lua's io and os on the host's real filesystem")
end)

test("a report written with io.output + io.write and renamed with os.rename is a host file", function(t)
  local tmp = os.tmpname()
  io.output(tmp)
  io.write(vm:run("uname -s"):assert_ok().stdout, "lines: ", 2, "\n")
  io.close()
  io.output(io.stdout)
  t:assert_eq(os.rename(tmp, tmp .. ".txt"), true)
  t:assert_eq(io.open(tmp), nil)
  vm:push_file(tmp .. ".txt", "/tmp/report.txt", { auto_dep = false })
  t:assert_eq(vm:run("cat /tmp/report.txt"):assert_ok().stdout, "Linux\nlines: 2\n")
end)
