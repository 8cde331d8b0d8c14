-- vm:syscall and vm:ioctl on a real guest: raw calls through the agent's libc.
-- Syscall numbers are per architecture; the guest runs the host's.
local vm = provium:vm("raw", "minimal"):boot()

local arch = vm:run("uname -m"):assert_ok().stdout:gsub("%s+$", "")
local NR = ({
  x86_64 = { read = 0, write = 1, close = 3, getpid = 39, uname = 63, writev = 20, openat = 257, pipe2 = 293 },
  aarch64 = { read = 63, write = 64, close = 57, getpid = 172, uname = 160, writev = 66, openat = 56, pipe2 = 59 },
})[arch]
local TCGETS, FIONREAD = 0x5401, 0x541B
if not NR then todo("no syscall table for " .. arch .. " in this test") end

test("getpid is the agent's pid", function(t)
  local r = vm:syscall(NR.getpid)
  t:assert_eq(r.errno, 0)
  t:assert_eq(math.type(r.result), "integer")
  t:assert(r.result > 1)
  -- the agent starts vm:run's shell directly: its parent is the agent
  t:assert_eq(r.result, tonumber(vm:run("echo $PPID").stdout))
  t:assert_eq(r.out_bufs, {})
end)

test("uname fills a 390-byte struct utsname", function(t)
  local r = vm:syscall(NR.uname, { { buf = 1 } }, { 390 })
  t:assert_eq(r.result, 0)
  local u = r.out_bufs[1]
  t:assert_eq(#u, 390)
  local field = function(i) return (u:sub(i * 65 + 1, i * 65 + 65):match("^[^%z]*")) end
  t:assert_eq(field(0), "Linux")
  t:assert_eq(field(1), vm:run("hostname"):assert_ok().stdout:gsub("%s+$", ""))
  t:assert_eq(field(2), vm:run("uname -r"):assert_ok().stdout:gsub("%s+$", ""))
  t:assert_eq(field(4), arch)
end)

test("a failing call returns -1 and its errno; it does not raise", function(t)
  local r = vm:syscall(NR.openat, { -100, "/does/not/exist", 0 })
  t:assert_eq(r.result, -1)
  t:assert_eq(r.errno, 2)
  t:assert_eq(r.errno_name, "ENOENT")
  r = vm:syscall(NR.close, { 987654 })
  t:assert_eq(r.result, -1)
  t:assert_eq(r.errno_name, "EBADF")
end)

test("a string argument is a pointer to a NUL-terminated copy; File descriptors work", function(t)
  local r = vm:syscall(NR.openat, { -100, "/proc/version", 0 })
  t:assert(r.result > 2, "a descriptor")
  local fd = r.result
  r = vm:syscall(NR.read, { fd, { buf = 1 }, 5 }, { 64 })
  t:assert_eq(r.result, 5)
  t:assert_eq(r.out_bufs[1]:sub(1, 5), "Linux")
  t:assert_eq(#r.out_bufs[1], 64)
  t:assert_eq(vm:syscall(NR.close, { fd }).result, 0)
  -- h:fd() is the agent's descriptor: raw reads move the File's own offset
  vm:write_file("/tmp/raw", "hello world")
  local h = vm:open_file("/tmp/raw", { read = true, write = true })
  r = vm:syscall(NR.read, { h:fd(), { buf = 1 }, 6 }, { 6 })
  t:assert_eq(r.out_bufs[1], "hello ")
  t:assert_eq(h:tell(), 6)
  t:assert_eq(h:read(5), "world")
  t:assert_eq(vm:syscall(NR.write, { h, "!", 1 }).result, 1) -- a File itself as an argument
  h:close()
  t:assert_eq(vm:read_file("/tmp/raw"), "hello world!")
end)

test("ptrs: writev with an iovec array pointing at two buffers", function(t)
  local h = vm:open_file("/tmp/iov", { write = true, create = true, truncate = true })
  local iov = string.pack("<I8I8I8I8", 0, 3, 0, 2) -- {base, len} x 2; bases filled in by ptrs
  local r = vm:syscall(NR.writev, { h:fd(), { buf = 1 }, 2 }, { iov, "abc", "de" },
    { { buf = 1, offset = 0, target = 2 }, { buf = 1, offset = 16, target = 3 } })
  t:assert_eq(r.result, 5)
  -- out_bufs come back as they are after the call: the iovec now holds real addresses
  local base1, len1 = string.unpack("<I8I8", r.out_bufs[1])
  t:assert(base1 ~= 0)
  t:assert_eq(len1, 3)
  h:close()
  t:assert_eq(vm:read_file("/tmp/iov"), "abcde")
end)

test("a blocking call blocks only itself: the agent keeps answering", function(t)
  vm:run("rm -f /tmp/rawfifo && mkfifo /tmp/rawfifo"):assert_ok()
  local h = vm:open_file("/tmp/rawfifo", { read = true, write = true })
  local reader = provium:spawn(function()
    return vm:syscall(NR.read, { h:fd(), { buf = 1 }, 5 }, { 5 })
  end)
  -- the read waits in the guest while these run
  t:assert_eq(vm:run("echo still answering").stdout, "still answering\n")
  vm:run("printf hello > /tmp/rawfifo"):assert_ok()
  local r = reader:join()
  t:assert_eq(r.result, 5)
  t:assert_eq(r.out_bufs[1], "hello")
end)

test("ioctl: TCGETS on /dev/null raises ENOTTY (a failing ioctl raises, as upstream's)", function(t)
  local h = vm:open_file("/dev/null", { read = true })
  local e = t:assert_raises(function() vm:ioctl(h, TCGETS, { size = 60 }) end)
  t:assert_contains(e, "rawcalls.test.lua:96: ioctl fd " .. h:fd() .. " request 0x5401: Inappropriate ioctl for device (ENOTTY)")
  e = t:assert_raises(function() vm:ioctl(h:fd(), TCGETS, string.rep("\0", 60)) end)
  t:assert_contains(e, "(ENOTTY)")
  h:close()
end)

test("ioctl: FIONREAD on a pipe counts the unread bytes", function(t)
  local r = vm:syscall(NR.pipe2, { { buf = 1 }, 0 }, { 8 })
  t:assert_eq(r.result, 0)
  local rfd, wfd = string.unpack("<i4i4", r.out_bufs[1])
  t:assert_eq(vm:syscall(NR.write, { wfd, "12345", 5 }).result, 5)
  r = vm:ioctl(rfd, FIONREAD, "\0\0\0\0")
  t:assert_eq(r.result, 0)
  t:assert_eq(string.unpack("<i4", r.out_data), 5)
  t:assert_eq(r.out_bufs, {})
  vm:syscall(NR.close, { rfd })
  vm:syscall(NR.close, { wfd })
end)

test("ioctl: TCGETS on a tty succeeds and fills struct termios", function(t)
  local h = vm:open_file("/dev/console", { read = true })
  local r = vm:ioctl(h, TCGETS, { size = 60 })
  t:assert_eq(r.result, 0)
  t:assert_eq(#r.out_data, 60)
  h:close()
end)

test("raw calls work inside vm:batch", function(t)
  local results = vm:batch(function(b)
    b:syscall(NR.getpid)
    b:syscall(NR.close, { 987654 })
    b:ioctl(987654, FIONREAD, "\0\0\0\0")
  end)
  t:assert(results[1].ok.result > 1)
  t:assert_eq(results[2].ok.errno_name, "EBADF")
  t:assert_contains(results[3].err, "EBADF") -- a failing ioctl is the batch entry's err
end)

test("bad arguments name the test's line", function(t)
  local e = t:assert_raises(function() vm:syscall("getpid") end)
  t:assert_contains(e, "rawcalls.test.lua:136: syscall number must be an integer")
  e = t:assert_raises(function() vm:syscall(NR.read, { 0, { buf = 2 } }, { 4 }) end)
  t:assert_contains(e, "args[2] = {buf = i} needs 1 <= i <= 1")
  e = t:assert_raises(function() vm:syscall(NR.read, {}, { 4 }, { { buf = 1, offset = 0, target = 9 } }) end)
  t:assert_contains(e, "ptrs[1].target must be a buffer index from 1 to 1")
  e = t:assert_raises(function() vm:syscall(NR.read, {}, { 4 }, { { buf = 1, offset = 0, target = 1 } }) end)
  t:assert_contains(e, "does not fit in buffer")
  e = t:assert_raises(function() vm:ioctl("x", 1) end)
  t:assert_contains(e, "ioctl fd must be a File or a file descriptor")
  e = t:assert_raises(function() vm:ioctl(0, 1, 5, { { offset = 0, data = "x" } }) end)
  t:assert_contains(e, "pass the argument struct as data")
end)

test("worker:open_file lives in the worker's namespace; closing the worker closes it", function(t)
  local w = vm:spawn_worker()
  local h = w:open_file("/tmp/from-worker", { write = true, create = true, truncate = true })
  h:write("hi")
  h:close()
  t:assert_eq(vm:read_file("/tmp/from-worker"), "hi")
  t:assert_eq(w:read_file("/tmp/from-worker"), "hi")
  t:assert_neq(w:syscall(NR.getpid).result, vm:syscall(NR.getpid).result) -- its raw calls run in its own process
  -- a file left open in the worker is closed with it
  local open = w:open_file("/tmp/from-worker", { read = true })
  local s = w:tail_file("/tmp/from-worker", { start = 0 })
  t:assert_eq(s:read_until("hi", "5s"), "hi")
  t:assert_eq(vm:run("ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -c ' /tmp/from-worker$'").stdout, "2\n")
  w:close()
  t:assert_eq(vm:run("ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -c ' /tmp/from-worker$'").stdout, "0\n")
  local e = t:assert_raises(function() open:read(1) end)
  t:assert_contains(e, "worker is closed")
  -- a handle of one namespace means nothing in another
  local mine = vm:open_file("/tmp/from-worker", { read = true })
  local w2 = vm:spawn_worker()
  local stolen = setmetatable({ _owner = w2, _handle = mine._handle, _fd = mine._fd, _path = "/tmp/from-worker", _closed = false }, getmetatable(mine))
  e = t:assert_raises(function() stolen:read(1) end)
  t:assert_contains(e, "read /tmp/from-worker: no open file with handle " .. mine._handle .. " (EBADF)")
  t:assert_eq(mine:read(2), "hi")
end)
