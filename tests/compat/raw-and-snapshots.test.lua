-- The established shapes of raw calls, whole-file reads and snapshots, on one real guest.
local vm = provium:vm("compat", "minimal"):boot()

local arch = vm:run("uname -m"):assert_ok().stdout:gsub("%s+$", "")
local NR = ({
  x86_64 = { read = 0, getpid = 39, uname = 63 },
  aarch64 = { read = 63, getpid = 172, uname = 160 },
})[arch]
if not NR then todo("no syscall table for " .. arch .. " in this test") end
local ENOSYS, FIONREAD = 38, 0x541B

test("syscall: ret, with result as its alias, errno and out_bufs", function(t)
  local r = vm:syscall(NR.getpid)
  t:assert(r.ret > 1, "a pid")
  t:assert_eq(r.result, r.ret)
  t:assert_eq(r.errno, 0)
  t:assert_eq(r.out_bufs, {})
end)

test("syscall: the table form {args, bufs, ptrs} is the positional call", function(t)
  local positional = vm:syscall(NR.uname, { { buf = 1 } }, { 390 })
  local tabled = vm:syscall(NR.uname, { args = { { buf = 1 } }, bufs = { 390 } })
  t:assert_eq(tabled.ret, 0)
  t:assert_eq(tabled.out_bufs[1]:sub(1, 5), "Linux")
  t:assert_eq(tabled.out_bufs[1], positional.out_bufs[1])
  -- ptrs too: the address of bufs[2] is written into bufs[1] before the call
  local p = vm:syscall(NR.getpid, { bufs = { 8, "x" }, ptrs = { { buf = 1, offset = 0, target = 2 } } })
  t:assert(string.unpack("<I8", p.out_bufs[1]) ~= 0, "the pointer was written")
  t:assert_eq(vm:syscall(NR.getpid, {}).ret, vm:syscall(NR.getpid).ret)
  local e = t:assert_raises(function() vm:syscall(NR.getpid, { args = {}, buffers = {} }) end)
  t:assert_contains(e, "raw-and-snapshots.test.lua:30: unknown syscall option key 'buffers'")
  e = t:assert_raises(function() vm:syscall(NR.getpid, { args = {} }, { 4 }) end)
  t:assert_contains(e, "not both")
end)

test("syscall: an unknown number returns ret -1 and ENOSYS; it does not raise", function(t)
  local r = vm:syscall(99999)
  t:assert_eq(r.ret, -1)
  t:assert_eq(r.result, -1)
  t:assert_eq(r.errno, ENOSYS)
  t:assert_eq(r.errno_name, "ENOSYS")
end)

test("syscall: arguments past the sixth are ignored, as the kernel does", function(t)
  vm:write_file("/tmp/seven", "abcdef")
  local h = vm:open_file("/tmp/seven", { read = true })
  local r = vm:syscall(NR.read, { h:fd(), { buf = 1 }, 3, 0, 0, 0, 77, 88 }, { 3 })
  t:assert_eq(r.ret, 3)
  t:assert_eq(r.out_bufs[1], "abc")
  r = vm:syscall(NR.read, { args = { h, { buf = 1 }, 3, 0, 0, 0, "ignored" }, bufs = { 3 } })
  t:assert_eq(r.out_bufs[1], "def")
  h:close()
end)

test("worker:syscall and vm:ioctl have the same shapes", function(t)
  local w = vm:spawn_worker()
  local r = w:syscall(NR.getpid, { args = {} })
  t:assert(r.ret > 1 and r.ret ~= vm:syscall(NR.getpid).ret, "the worker's own process")
  t:assert_eq(r.result, r.ret)
  t:assert_eq(w:syscall(99999).errno, ENOSYS)
  w:close()
  vm:run("rm -f /tmp/compat-fifo && mkfifo /tmp/compat-fifo"):assert_ok()
  local fifo = vm:open_file("/tmp/compat-fifo", { read = true, write = true })
  fifo:write("abc")
  local io = vm:ioctl(fifo, FIONREAD, "\0\0\0\0")
  t:assert_eq(io.result, io.ret)
  t:assert(io.out_data ~= nil and #io.out_data == 4, "out_data is the struct after the call")
  t:assert_eq(string.unpack("<i4", io.out_data), 3)
  t:assert_eq(io.out_bufs, {})
  fifo:close()
end)

test("read_file of a file over the cap is refused before anything is read", function(t)
  vm:run("truncate -s 2G /tmp/huge"):assert_ok()
  local before = vm:agent_requests()
  local e = t:assert_raises(function() vm:read_file("/tmp/huge") end)
  t:assert_contains(e, "raw-and-snapshots.test.lua:")
  t:assert_contains(e, "read_file /tmp/huge: the file is 2147483648 bytes (2048 MiB)")
  t:assert_contains(e, "vm:open_file")
  t:assert_contains(e, "vm:tail_file")
  -- one request (refused by its size, no piece read) and the agent_requests call itself
  t:assert_eq(vm:agent_requests() - before, 2)
  -- inside vm:batch the cap is one reply's: refused the same way, by its size
  vm:run("truncate -s 100M /tmp/big"):assert_ok()
  local r = vm:batch(function(b) b:read_file("/tmp/big") end)
  t:assert_contains(r[1].err, "read_file /tmp/big: the file is 104857600 bytes (100 MiB), more than read_file takes inside vm:batch (64 MiB)")
  -- a handle still reads it
  local h = vm:open_file("/tmp/huge", { read = true })
  h:seek(2147483648 - 4)
  t:assert_eq(h:read(16), "\0\0\0\0")
  h:close()
  vm:run("rm -f /tmp/huge /tmp/big"):assert_ok()
end)

test("vm:snapshot(path) writes to that host path and restores from it; tostring says snapshot", function(t)
  vm:run("echo saved > /tmp/snapstate"):assert_ok()
  local snap = vm:snapshot("compat-snap.mem") -- relative: to this file's directory
  t:assert(snap:path():match("^/.*/tests/compat/compat%-snap%.mem$"), "path: " .. snap:path())
  t:assert(tostring(snap):match("^snapshot%(%d+: compat%)$"), "tostring: " .. tostring(snap))
  t:assert(snap:size() > 1024 * 1024, "a memory snapshot is megabytes")
  vm:run("echo changed > /tmp/snapstate"):assert_ok()
  vm:restore(snap) -- loads the file at snap:path()
  t:assert_eq(vm:run("cat /tmp/snapstate").stdout, "saved\n")
  -- a snapshot without a path lives in the run's own directory, and says where
  local own = vm:snapshot()
  t:assert(own:path():match("/compat%.mem$"), "path: " .. own:path())
  t:assert(own:path() ~= snap:path())
  own:delete()
  snap:delete() -- the user's file goes only when asked
  t:assert_contains(t:assert_raises(function() vm:restore(snap) end), "snapshot was deleted")
  local e = t:assert_raises(function() vm:snapshot("") end)
  t:assert_contains(e, "raw-and-snapshots.test.lua:")
  t:assert_contains(e, "snapshot path must not be empty")
end)

test("lab:snapshot(dir) writes the states and lab.json and returns dir; a VM of a member's name blocks restoring the directory", function(t)
  vm:run("echo lab > /tmp/snapstate"):assert_ok()
  local dir = provium:snapshot("compat-lab")
  t:assert_eq(dir, "compat-lab", "upstream's shape: the directory, as given")
  local meta = json.decode(io.open(dir .. "/lab.json"):read("a")) -- relative to this file, as lab:snapshot's
  t:assert_eq(#meta.vms, 1)
  local m = meta.vms[1]
  t:assert_eq({ m.name, m.profile, m.memory_bytes, m.memory_mib, m.cpus, m.state }, { "compat", "minimal", 512 * 1024 * 1024, 512, 1, "compat.mem" })
  t:assert_eq(meta.bridges, {})
  -- a lab snapshot without a directory is the file's, and goes back into the VMs it was taken from
  local snap = provium:snapshot()
  t:assert(tostring(snap):match("^snapshot%(%d+: lab "), "tostring: " .. tostring(snap))
  vm:run("echo changed > /tmp/snapstate"):assert_ok()
  provium:restore(snap)
  t:assert_eq(vm:run("cat /tmp/snapstate").stdout, "lab\n")
  snap:delete()
  -- the directory alone does not say which VM it came from: this lab's 'compat' is in the way
  vm:run("echo changed > /tmp/snapstate"):assert_ok()
  local e = t:assert_raises(function() provium:restore(dir) end)
  t:assert_contains(e, "raw-and-snapshots.test.lua:")
  t:assert_contains(e, "vm name 'compat' is already used in this lab")
  t:assert_eq(vm:run("cat /tmp/snapstate").stdout, "changed\n") -- refused before anything changed
  e = t:assert_raises(function() provium:restore("compat-nowhere") end)
  t:assert_contains(e, "compat-nowhere/lab.json: ENOENT")
  -- the directory is the user's to remove
  t:assert(os.remove(dir .. "/compat.mem"))
  t:assert(os.remove(dir .. "/lab.json"))
  t:assert(os.remove(dir))
end)
