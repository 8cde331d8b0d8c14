-- Raw calls in upstream's shapes (peios/provium's vm_ud.rs, ops/syscall.rs, read_mem.rs and
-- conformance_syscall_bufs.rs), on one real guest: the plain form, integer ptrs and nested
-- pointers, syscall_async, read_mem, ioctl's {bufs, ptr_offsets} and its raising on failure,
-- batch:syscall, and workers as processes of their own.
local vm = provium:vm("upraw", "minimal"):boot()

local arch = vm:run("uname -m"):assert_ok().stdout:gsub("%s+$", "")
local NR = ({
  x86_64 = { read = 0, close = 3, mmap = 9, munmap = 11, dup = 32, getpid = 39, socket = 41, uname = 63,
    getuid = 102, setuid = 105, writev = 20 },
  aarch64 = { read = 63, close = 57, mmap = 222, munmap = 215, dup = 23, getpid = 172, socket = 198, uname = 160,
    getuid = 174, setuid = 146, writev = 66 },
})[arch]
if not NR then todo("no syscall table for " .. arch .. " in this test") end
local TCGETS, SIOCGIFCONF = 0x5401, 0x8912
local EBADF, EIO = 9, 5

test("the plain form: vm:syscall(nr, a1, ..., a6), integers; past six they are dropped", function(t)
  local pid = vm:syscall(NR.getpid)
  t:assert(pid.ret > 1, "a pid")
  t:assert_eq(pid.result, pid.ret)
  t:assert_eq(vm:syscall(NR.getpid, 1, 2, 3, 4, 5, 6, 7, 8).ret, pid.ret)
  local bad = vm:syscall(NR.close, 987654)
  t:assert_eq(bad.ret, -1)
  t:assert_eq(bad.errno, EBADF)
  local dup = vm:syscall(NR.dup, 0)
  t:assert(dup.ret > 2, "dup(0) gives a new descriptor")
  t:assert_eq(vm:syscall(NR.close, dup.ret).ret, 0)
  t:assert_eq(vm:syscall(9999).errno, 38) -- ENOSYS, returned, not raised
end)

test("table form: ptrs as integers put bufs[i]'s address in argument slot ptrs[i] (0-based)", function(t)
  local r = vm:syscall(NR.uname, { args = { 0 }, bufs = { string.rep("\0", 390) }, ptrs = { 0 } })
  t:assert_eq(r.ret, 0)
  t:assert_eq(r.out_bufs[1]:sub(1, 5), "Linux")
  vm:write_file("/tmp/upraw", "abcdef")
  local h = vm:open_file("/tmp/upraw", { read = true })
  r = vm:syscall(NR.read, { args = { h:fd(), 0, 4 }, bufs = { string.rep("\0", 4) }, ptrs = { 1 } })
  t:assert_eq(r.ret, 4)
  t:assert_eq(r.out_bufs[1], "abcd")
  h:close()
  local e = t:assert_raises(function() vm:syscall(NR.getpid, { bufs = { "x" }, ptrs = { 6 } }) end)
  t:assert_contains(e, "upstream-rawcalls.test.lua:")
  t:assert_contains(e, "ptrs[1] = 6: an argument slot is 0 to 5")
end)

test("table form: nested = {{parent, child, offset}} writes child buffers' addresses into parents", function(t)
  local h = vm:open_file("/tmp/upnested", { write = true, create = true, truncate = true })
  local iov = string.pack("<I8I8I8I8", 0, 3, 0, 2) -- two {base, len}: the bases come from nested
  local r = vm:syscall(NR.writev, {
    args = { h:fd(), 0, 2 },
    bufs = { iov, "abc", "de" },
    ptrs = { 1 },
    nested = { { parent = 1, child = 2, offset = 0 }, { parent = 1, child = 3, offset = 16 } },
  })
  t:assert_eq(r.ret, 5)
  local base1, len1, base2 = string.unpack("<I8I8I8", r.out_bufs[1])
  t:assert(base1 ~= 0 and base2 ~= 0 and base1 ~= base2, "two addresses were written")
  t:assert_eq(len1, 3)
  h:close()
  t:assert_eq(vm:read_file("/tmp/upnested"), "abcde")
  local e = t:assert_raises(function() vm:syscall(NR.getpid, { bufs = { 16, "x" }, nested = { { parent = 1, child = 2 } } }) end)
  t:assert_contains(e, "nested[1] has no offset")
  e = t:assert_raises(function() vm:syscall(NR.getpid, { bufs = { 16 }, nested = { { parent = 1, child = 2, offset = 0 } } }) end)
  t:assert_contains(e, "nested[1].child must be a buffer index from 1 to 1, got 2")
end)

test("syscall_async: a handle whose await() gives the result; other ops run meanwhile; awaited once", function(t)
  vm:run("rm -f /tmp/upfifo && mkfifo /tmp/upfifo"):assert_ok()
  local h = vm:open_file("/tmp/upfifo", { read = true, write = true })
  local pending = vm:syscall_async(NR.read, { args = { h:fd(), 0, 5 }, bufs = { string.rep("\0", 5) }, ptrs = { 1 } })
  -- the read waits in the guest for the fifo while these run
  t:assert_eq(vm:run("echo meanwhile").stdout, "meanwhile\n")
  t:assert_eq(vm:syscall(NR.getpid).errno, 0)
  vm:run("printf hello > /tmp/upfifo"):assert_ok()
  local r = pending:await()
  t:assert_eq(r.ret, 5)
  t:assert_eq(r.result, 5)
  t:assert_eq(r.errno, 0)
  t:assert_eq(r.out_bufs[1], "hello")
  t:assert_contains(t:assert_raises(function() pending:await() end), "already awaited")
  t:assert_eq(vm:syscall_async(NR.getpid):await().ret, vm:syscall(NR.getpid).ret)
  h:close()
end)

test("read_mem(addr, len): the agent's own memory; nil and the errno for an unmapped address", function(t)
  -- an anonymous page of the agent (PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS), filled by uname
  local page = vm:syscall(NR.mmap, 0, 4096, 3, 0x22, -1, 0).ret
  t:assert(page > 0, "mmap gave an address")
  t:assert_eq(vm:syscall(NR.uname, page).ret, 0)
  t:assert_eq(vm:read_mem(page, 5), "Linux")
  t:assert_eq(#vm:read_mem(page, 4096), 4096)
  local data, errno = vm:read_mem(0, 8)
  t:assert_eq(data, nil)
  t:assert_eq(errno, EIO)
  t:assert_eq(vm:syscall(NR.munmap, page, 4096).ret, 0)
  data, errno = vm:read_mem(page, 5)
  t:assert_eq(data, nil, "unmapped again")
  t:assert_eq(errno, EIO)
end)

test("ioctl: a failing ioctl raises with its errno; bad fds and requests are named", function(t)
  local h = vm:open_file("/dev/null", { read = true })
  local e = t:assert_raises(function() vm:ioctl(h:fd(), TCGETS, string.rep("\0", 60)) end)
  t:assert_contains(e, "upstream-rawcalls.test.lua:")
  t:assert_contains(e, "(ENOTTY)")
  h:close()
  e = t:assert_raises(function() vm:ioctl(987654, TCGETS, string.rep("\0", 60)) end)
  t:assert_contains(e, "ioctl fd 987654 request 0x5401")
  t:assert_contains(e, "EBADF")
  t:assert_contains(t:assert_raises(function() vm:ioctl("3", TCGETS) end), 'ioctl fd must be a File or a file descriptor (integer), got "3"')
  t:assert_contains(t:assert_raises(function() vm:ioctl(0, "TCGETS") end), 'ioctl request must be an integer, got "TCGETS"')
  local c = vm:open_file("/dev/console", { read = true })
  local ok = vm:ioctl(c, TCGETS, string.rep("\0", 60))
  t:assert_eq(ok.ret, 0)
  t:assert_eq(ok.result, 0)
  t:assert_eq(#ok.out_data, 60)
  c:close()
end)

test("ioctl: {bufs, ptr_offsets} put the buffers' addresses into data (SIOCGIFCONF)", function(t)
  local s = vm:syscall(NR.socket, 2, 2, 0).ret -- AF_INET, SOCK_DGRAM
  t:assert(s > 2, "a socket")
  -- struct ifconf {int ifc_len; char *ifc_buf} on a 64-bit guest: the pointer is at byte 8
  local r = vm:ioctl(s, SIOCGIFCONF, string.pack("<i4i4I8", 40 * 8, 0, 0), { bufs = { string.rep("\0", 40 * 8) }, ptr_offsets = { 8 } })
  t:assert_eq(r.ret, 0)
  local len, _, buf = string.unpack("<i4i4I8", r.out_data)
  t:assert(buf ~= 0, "the buffer's address was written into data")
  t:assert(len >= 40 and len % 40 == 0, "the kernel filled ifreqs through the pointer: " .. len .. " bytes")
  t:assert_eq(r.out_bufs[1]:sub(1, 3), "lo\0")
  vm:syscall(NR.close, s)
end)

test("batch: b:syscall(nr) yields {ok = {...}}; the table form there raises", function(t)
  local results = vm:batch(function(b)
    b:syscall(NR.getpid)
    b:syscall(NR.close, 987654)
  end)
  t:assert(results[1].ok.ret > 1)
  t:assert_eq(results[1].ok.errno, 0)
  t:assert_eq(results[2].ok.ret, -1)
  t:assert_eq(results[2].ok.errno, EBADF)
  local e = t:assert_raises(function()
    vm:batch(function(b) b:syscall(NR.getpid, { args = {}, bufs = {}, ptrs = {} }) end)
  end)
  t:assert_contains(e, "batch:syscall does not take the table form")
end)

test("workers are processes of their own: their getpid and credentials are not the agent's", function(t)
  local w = vm:spawn_worker()
  local agent_pid = vm:syscall(NR.getpid).ret
  local worker_pid = w:syscall(NR.getpid).ret
  t:assert(worker_pid > 1 and worker_pid ~= agent_pid, "worker pid " .. worker_pid .. ", agent pid " .. agent_pid)
  t:assert_eq(w:syscall(NR.getpid).ret, worker_pid, "the same process for each call")
  t:assert_eq(vm:run("cat /proc/" .. worker_pid .. "/status"):assert_ok().stdout:match("PPid:%s*(%d+)"), tostring(agent_pid))
  t:assert_eq(w:syscall(NR.getuid).ret, 0)
  t:assert_eq(w:syscall(NR.setuid, 1000).ret, 0)
  t:assert_eq(w:syscall(NR.getuid).ret, 1000, "the worker keeps the uid it set")
  t:assert_eq(vm:syscall(NR.getuid).ret, 0, "the agent is still root")
  t:assert_eq(vm:run("id -u").stdout, "0\n")
  t:assert_eq(w:syscall_async(NR.getpid):await().ret, worker_pid)
  w:close()
  -- gone (reaped) within 5 s
  vm:run("for i in $(seq 50); do kill -0 " .. worker_pid .. " 2>/dev/null || exit 0; sleep 0.1; done; exit 1"):assert_ok()
end)
