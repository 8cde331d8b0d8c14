-- Whole-file ops on a real guest: read_file, write_file, push_file, stat, listdir, mkdir,
-- unlink, rename, their errors, and all of them inside vm:batch.
local vm = provium:vm("files", "minimal"):boot()

test("config round-trips", function(t)
  local body = "key1=value1\nkey2=value2\n"
  vm:write_file("/etc/test.conf", body)
  t:assert_eq(vm:read_file("/etc/test.conf"), body)
  t:assert_eq(vm:stat("/etc/test.conf").size, #body)
  t:assert_eq(vm:run("cat /etc/test.conf").stdout, body)
end)

test("write_file replaces the contents and creates the file", function(t)
  vm:write_file("/tmp/data", "binary\0bytes")
  t:assert_eq(vm:read_file("/tmp/data"), "binary\0bytes")
  vm:write_file("/tmp/data", "short")
  t:assert_eq(vm:read_file("/tmp/data"), "short")
  t:assert_eq(vm:run("wc -c < /tmp/data").stdout, "5\n")
end)

test("bytes survive both ways: NUL, every byte value, empty files", function(t)
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  local bytes = table.concat(all):rep(3)
  vm:write_file("/tmp/bytes", bytes)
  t:assert_eq(vm:read_file("/tmp/bytes"), bytes)
  t:assert_eq(vm:run("wc -c < /tmp/bytes").stdout, "768\n")
  t:assert_eq(vm:run("od -An -tx1 -j254 -N4 /tmp/bytes").stdout, " fe ff 00 01\n")
  vm:write_file("/tmp/empty", "")
  t:assert_eq(vm:read_file("/tmp/empty"), "")
  t:assert_eq(vm:stat("/tmp/empty").size, 0)
  vm:run("printf 'a\\000b\\377' > /tmp/from-guest"):assert_ok()
  t:assert_eq(vm:read_file("/tmp/from-guest"), "a\0b\255")
end)

test("64 MiB both ways", { timeout = "3m" }, function(t)
  local block = {}
  for i = 0, 4095 do block[#block + 1] = string.pack("<I4", i * 2654435761 % 4294967296) end
  local base = table.concat(block) -- 16 KiB of varied bytes
  local big = base:rep(4096) -- 64 MiB
  t:assert_eq(#big, 64 * 1024 * 1024)
  vm:write_file("/tmp/big", big)
  t:assert_eq(vm:stat("/tmp/big").size, #big)
  local sum = vm:run("md5sum /tmp/big | cut -d' ' -f1"):assert_ok().stdout
  local back = vm:read_file("/tmp/big")
  t:assert(back == big, "the 64 MiB read back differs")
  -- The guest's own view agrees: the same bytes again through the shell.
  t:assert_eq(vm:run("head -c 16384 /tmp/big | md5sum | cut -d' ' -f1").stdout,
    vm:run("tail -c 16384 /tmp/big | md5sum | cut -d' ' -f1").stdout)
  t:assert_neq(sum, "")
  vm:unlink("/tmp/big")
end)

test("read_file of /proc and /sys files (size 0 in stat)", function(t)
  t:assert_contains(vm:read_file("/proc/cmdline"), "console=")
  t:assert_eq(vm:stat("/proc/cmdline").size, 0)
  t:assert_eq(vm:read_file("/proc/sys/kernel/ostype"), "Linux\n")
end)

test("push_file: host paths relative to this file's directory", function(t)
  vm:push_file("fixtures/pushed.bin", "/tmp/pushed.bin")
  t:assert_eq(vm:read_file("/tmp/pushed.bin"), "pushed from the host\n\0\1\2")
  vm:push_file("./fixtures/pushed.bin", "/tmp/pushed2.bin", { auto_dep = false })
  t:assert_eq(vm:stat("/tmp/pushed2.bin").size, 24)
  local e = t:assert_raises(function() vm:push_file("fixtures/missing.bin", "/tmp/x") end)
  t:assert_contains(e, "whole.test.lua:")
  t:assert_contains(e, "push_file fixtures/missing.bin -> /tmp/x: cannot read host file ")
  t:assert_contains(e, "tests/files/fixtures/missing.bin: ENOENT")
  e = t:assert_raises(function() vm:push_file("fixtures/pushed.bin", "/tmp/x", { autodep = false }) end)
  t:assert_contains(e, "unknown push_file option key 'autodep'")
end)

test("stat: size, mtime, mtime_ns, perm", function(t)
  vm:write_file("/tmp/st", "0123456789")
  vm:run("chmod 0640 /tmp/st"):assert_ok()
  local m = vm:stat("/tmp/st")
  t:assert_eq(m.size, 10)
  t:assert_eq(m.perm, 0x1a0) -- 0o640
  t:assert_eq(m.entry_type, "file")
  t:assert_eq(math.type(m.mtime_ns), "integer")
  t:assert_eq(math.type(m.mtime), "float")
  t:assert_eq(m.mtime_ns // 1000000000, tonumber(vm:run("stat -c %Y /tmp/st").stdout))
  t:assert(math.abs(m.mtime - m.mtime_ns / 1e9) < 1e-6)
  vm:run("chmod 7777 /tmp/st"):assert_ok()
  t:assert_eq(vm:stat("/tmp/st").perm, 4095)
end)

test("stat: mtime_ns is exact to the nanosecond", function(t)
  -- utimensat(AT_FDCWD, path, {atime, mtime}, 0) sets the time with nanoseconds.
  local nr = ({ x86_64 = 280, aarch64 = 88 })[vm:run("uname -m").stdout:gsub("%s+$", "")]
  if not nr then t:skip("no utimensat number for this architecture") end
  vm:write_file("/tmp/ns", "x")
  local times = string.pack("<i8i8i8i8", 1700000000, 1, 1700000000, 123456789)
  local r = vm:syscall(nr, { -100, "/tmp/ns", { buf = 1 }, 0 }, { times })
  t:assert_eq(r.result, 0)
  local m = vm:stat("/tmp/ns")
  t:assert_eq(m.mtime_ns, 1700000000123456789)
  t:assert(math.abs(m.mtime - 1700000000.123456789) < 1e-6)
end)

test("stat: every entry type; symlinks are not followed unless asked", function(t)
  vm:run("rm -rf /tmp/types && mkdir /tmp/types && cd /tmp/types && mkfifo fifo && mknod blk b 7 0 && ln -s /etc/passwd link && touch file"):assert_ok()
  vm:run("syslogd -O /tmp/types/messages"):assert_ok() -- makes /dev/log, a unix socket
  wait_until(function() return vm:run("test -S /dev/log"):ok() end, { timeout = 10, desc = "/dev/log" })
  local want = {
    ["/tmp/types/file"] = "file", ["/tmp/types"] = "directory", ["/tmp/types/link"] = "symlink",
    ["/tmp/types/fifo"] = "fifo", ["/dev/log"] = "socket", ["/tmp/types/blk"] = "block_device",
    ["/dev/null"] = "char_device",
  }
  for path, ty in pairs(want) do t:assert_eq(vm:stat(path).entry_type, ty, path) end
  t:assert_eq(vm:stat("/tmp/types/link", { follow = true }).entry_type, "file")
  t:assert_eq(vm:stat("/tmp/types/link").size, #"/etc/passwd")
  vm:run("killall syslogd")
end)

test("listdir: {name, entry_type}, sorted by name", function(t)
  vm:run("rm -rf /tmp/ls && mkdir -p /tmp/ls/sub && cd /tmp/ls && touch b a && ln -s a c && mkfifo d"):assert_ok()
  t:assert_eq(vm:listdir("/tmp/ls"), {
    { name = "a", entry_type = "file" }, { name = "b", entry_type = "file" },
    { name = "c", entry_type = "symlink" }, { name = "d", entry_type = "fifo" },
    { name = "sub", entry_type = "directory" },
  })
  local seen = {}
  for _, e in ipairs(vm:listdir("/dev")) do seen[e.name] = e.entry_type end
  t:assert_eq(seen.null, "char_device")
  t:assert_eq(vm:listdir("/tmp/ls/sub"), {})
end)

test("/tmp has the expected files", function(t)
  vm:run("rm -rf /tmp/* 2>/dev/null; true")
  vm:write_file("/tmp/a", "")
  vm:write_file("/tmp/b", "")
  local names = {}
  for _, e in ipairs(vm:listdir("/tmp")) do
    if e.entry_type == "file" then table.insert(names, e.name) end
  end
  table.sort(names)
  t:assert(names[1] == "a" and names[2] == "b")
end)

test("mkdir: plain, parents, perm", function(t)
  vm:run("rm -rf /tmp/d /tmp/private"):assert_ok()
  vm:mkdir("/tmp/d")
  t:assert_eq(vm:stat("/tmp/d").entry_type, "directory")
  vm:mkdir("/tmp/d/e/f", { parents = true })
  t:assert_eq(vm:stat("/tmp/d/e/f").entry_type, "directory")
  vm:mkdir("/tmp/d/e/f", { parents = true }) -- exists: fine with parents
  vm:mkdir("/tmp/private", { perm = 0x1c0 }) -- 0o700
  t:assert_eq(vm:stat("/tmp/private").perm, 0x1c0)
  vm:mkdir("/tmp/d/open", { perm = 0x1ff }) -- 0o777 exactly, not less the umask
  t:assert_eq(vm:stat("/tmp/d/open").perm, 0x1ff)
  local e = t:assert_raises(function() vm:mkdir("/tmp/d") end)
  t:assert_contains(e, "mkdir /tmp/d: File exists (EEXIST)")
  e = t:assert_raises(function() vm:mkdir("/tmp/x/y/z") end)
  t:assert_contains(e, "mkdir /tmp/x/y/z: No such file or directory (ENOENT)")
  e = t:assert_raises(function() vm:mkdir("/tmp/q", { perm = 0x1000 }) end)
  t:assert_contains(e, "perm must be an integer from 0 to 4095")
end)

test("unlink: files, symlinks and empty directories; refuses a non-empty one", function(t)
  vm:run("rm -rf /tmp/u && mkdir -p /tmp/u/full /tmp/u/empty && touch /tmp/u/full/x /tmp/u/f && ln -s f /tmp/u/l"):assert_ok()
  vm:unlink("/tmp/u/f")
  vm:unlink("/tmp/u/l")
  vm:unlink("/tmp/u/empty")
  local e = t:assert_raises(function() vm:unlink("/tmp/u/full") end)
  t:assert_contains(e, "unlink /tmp/u/full: Directory not empty (ENOTEMPTY)")
  t:assert_eq(vm:listdir("/tmp/u"), { { name = "full", entry_type = "directory" } })
  e = t:assert_raises(function() vm:unlink("/tmp/u/nope") end)
  t:assert_contains(e, "unlink /tmp/u/nope: No such file or directory (ENOENT)")
end)

test("rename: atomic, replaces the target", function(t)
  vm:write_file("/tmp/r1", "one")
  vm:write_file("/tmp/r2", "two")
  vm:rename("/tmp/r1", "/tmp/r2")
  t:assert_eq(vm:read_file("/tmp/r2"), "one")
  t:assert(not vm:run("test -e /tmp/r1"):ok())
  local e = t:assert_raises(function() vm:rename("/tmp/r1", "/tmp/r3") end)
  t:assert_contains(e, "rename /tmp/r1 -> /tmp/r3: No such file or directory (ENOENT)")
end)

test("errors name the op, the path, the errno and the test's line", function(t)
  local e = t:assert_raises(function() vm:read_file("/nope") end)
  t:assert_eq(e, "tests/files/whole.test.lua:183: read_file /nope: No such file or directory (ENOENT)")
  e = t:assert_raises(function() vm:read_file("/tmp") end)
  t:assert_contains(e, "read_file /tmp: Is a directory (EISDIR)")
  e = t:assert_raises(function() vm:write_file("/proc/nope", "x") end)
  t:assert_contains(e, "write_file /proc/nope: ")
  e = t:assert_raises(function() vm:listdir("/nope/x") end)
  t:assert_contains(e, "listdir /nope/x: No such file or directory (ENOENT)")
  e = t:assert_raises(function() vm:stat("") end)
  t:assert_contains(e, "whole.test.lua:191: path must not be empty")
  e = t:assert_raises(function() vm:write_file("/tmp/x", 42) end)
  t:assert_contains(e, "data must be a string, got number")
end)

test("permission errors carry EACCES; writes to /proc/sys work", function(t)
  -- The agent runs as root, which passes most permission checks; /proc/sys files without
  -- a write bit refuse even root.
  local e = t:assert_raises(function() vm:write_file("/proc/sys/kernel/version", "x") end)
  t:assert_contains(e, "write_file /proc/sys/kernel/version: Permission denied (EACCES)")
  local old = vm:read_file("/proc/sys/kernel/hostname")
  vm:write_file("/proc/sys/kernel/hostname", "renamed")
  t:assert_eq(vm:run("hostname").stdout, "renamed\n")
  vm:write_file("/proc/sys/kernel/hostname", old)
end)

test("a mixed batch: one round trip, failures do not stop the rest", function(t)
  vm:unlink("/tmp/a")
  local before = vm:agent_requests()
  local results = vm:batch(function(b)
    b:write_file("/tmp/a", "1")
    b:write_file("/tmp/b", "2")
    b:read_file("/tmp/a")
    b:read_file("/tmp/does-not-exist")
    b:stat("/tmp/b")
    b:mkdir("/tmp/batchdir")
    b:listdir("/tmp/batchdir")
    b:rename("/tmp/b", "/tmp/c")
    b:unlink("/tmp/c")
    b:push_file("fixtures/pushed.bin", "/tmp/pushed-in-batch")
  end)
  t:assert_eq(vm:agent_requests() - before, 2) -- the batch and the agent_requests call
  t:assert_eq(results[1].ok, true)
  t:assert_eq(results[3].ok, "1")
  t:assert_contains(results[4].err, "No such file")
  t:assert_eq(results[4].err, "read_file /tmp/does-not-exist: No such file or directory (ENOENT)")
  t:assert_eq(results[5].ok.size, 1)
  t:assert_eq(results[5].ok.entry_type, "file")
  t:assert_eq(results[7].ok, {})
  for i = 8, 10 do t:assert_eq(results[i].ok, true, "op " .. i) end
  t:assert_eq(vm:read_file("/tmp/pushed-in-batch"), "pushed from the host\n\0\1\2")
end)

test("the spec's batch example", function(t)
  local results = vm:batch(function(b)
    b:write_file("/tmp/a", "1")
    b:write_file("/tmp/b", "2")
    b:write_file("/tmp/c", "3")
    b:read_file("/tmp/a")
    b:stat("/tmp/b")
  end)
  t:assert_eq(results[4].ok, "1")
  t:assert_eq(results[5].ok.size, 1)
end)

test("read_file and write_file of a FIFO wait for the other end (opened off the agent's main thread)", function(t)
  vm:run("rm -f /tmp/wf && mkfifo /tmp/wf"):assert_ok()
  local writer = vm:run_async("sleep 0.5; echo through > /tmp/wf")
  local reader = vm:run_async("sleep 0.5; cat /tmp/wf > /tmp/wf-out")
  t:assert_eq(vm:read_file("/tmp/wf"), "through\n")
  writer:wait("10s")
  vm:write_file("/tmp/wf", "back\n") -- opens once the reader has opened its end
  reader:wait("10s")
  t:assert_eq(vm:read_file("/tmp/wf-out"), "back\n")
end)
