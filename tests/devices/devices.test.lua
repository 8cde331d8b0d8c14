-- The hypervisor side of a test on one shared `minimal` VM: the serial console both ways,
-- the guest's wall clock, hot-plugged disks with faults, and a reset (last: it reboots).
local vm = provium:vm("dev", "minimal"):boot()

-- A shell on ttyS0 that the console drives, as a getty would be (tty echo on: the test
-- matches what commands print, never the command text itself).
local function serial_shell()
  vm:run("setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1' </dev/null >/dev/null 2>&1 &")
end

test("console: read_log has the whole boot; write reaches a shell on ttyS0 and expect sees its answer", function(t)
  local log = vm:console():read_log()
  t:assert_contains(log, "SeaBIOS") -- from QEMU's first byte, before the kernel
  serial_shell()
  local c = vm:console()
  c:write("echo got-$((6 * 7))\n")
  t:assert_contains(c:expect("got-42"), "got-42")
  t:assert_contains(c:read_log(), "got-42")
  c:close()
  c:close() -- idempotent
end)

test("console: read() streams what the guest prints from now on", function(t)
  local s = vm:console():read()
  vm:run("echo streamed-line > /dev/ttyS0")
  t:assert_contains(s:read_until("streamed-line"), "streamed-line")
  s:close()
end)

test("console: expect raises naming the pattern on timeout; bad write options are refused", function(t)
  local c = vm:console()
  local e = t:assert_raises(function() c:expect("never-printed-xyz", "200ms") end)
  t:assert_contains(e, "devices.test.lua:32: expect \"never-printed-xyz\" timed out")
  e = t:assert_raises(function() c:write("x", { timeout_ms = 100 }) end)
  t:assert_contains(e, "devices.test.lua:34: console:write takes timeout")
  e = t:assert_raises(function() c:write("x", { wait = 1 }) end)
  t:assert_contains(e, "unknown console:write option 'wait'")
  t:assert_contains(t:assert_raises(function() c:write(42) end), "console data must be a string")
  c:write("\n", { timeout = "2s" })
  c:close() -- a handle holds nothing: close is upstream's no-op, the handle stays usable
  t:assert_eq(c:expect("got-42", "1s"), "got-42") -- printed by the first test: the log since boot
end)

test("clock: set, set_ns, advance and get move the guest's wall clock; date agrees", function(t)
  local clock = vm:clock()
  clock:set(2000000000.25)
  local now = clock:get()
  t:assert(now >= 2000000000.25 and now < 2000000005, "get after set: " .. now)
  local date = tonumber(vm:run("date +%s").stdout)
  t:assert(date >= 2000000000 and date < 2000000005, "date +%s after set: " .. date)
  local before = clock:get_ns()
  t:assert_eq(math.type(before), "integer")
  clock:advance("1h")
  local moved = clock:get_ns() - before
  t:assert(moved >= 3600 * 1000000000 and moved < 3605 * 1000000000, "advance 1h moved " .. moved)
  clock:set_ns(2100000000 * 1000000000 + 7)
  t:assert(tonumber(vm:run("date +%s").stdout) >= 2100000000, "date after set_ns")
  clock:advance(0.5)
  clock:sleep("10ms")
end)

test("clock: NaN, infinities and times before 1970 are refused naming the value", function(t)
  local clock = vm:clock()
  t:assert_contains(t:assert_raises(function() clock:set(0 / 0) end), "must be a finite number, got NaN")
  t:assert_contains(t:assert_raises(function() clock:set(math.huge) end), "got inf")
  t:assert_contains(t:assert_raises(function() clock:set(-1) end), "the guest clock can't go before 1970 (-1000000000 ns) (EINVAL)")
  t:assert_contains(t:assert_raises(function() clock:advance("-5 parsecs") end), "devices.test.lua:67: clock:advance duration \"-5 parsecs\" is malformed")
  t:assert_contains(t:assert_raises(function() clock:advance(0 / 0) end), "got NaN")
  t:assert_contains(t:assert_raises(function() clock:set_ns(1.5) end), "clock:set_ns wants an integer number of ns, got 1.5")
  t:assert_contains(t:assert_raises(function() clock:sleep("soon") end), "malformed")
end)

local function sh(cmd) return vm:run(cmd) end

test("disks: attach_disk({scratch}) appears in the guest; sectors written on either side are seen on the other", function(t)
  local d = vm:attach_disk({ scratch = "8M" })
  t:assert_eq(d:id(), "disk1")
  t:assert_eq(vm:run("cat /sys/block/" .. d:device():sub(6) .. "/serial").stdout, "disk1")
  t:assert_eq(d:size(), 8 * 1024 * 1024)
  t:assert_eq(vm:disk("disk1"):device(), d:device())
  d:write_sectors(100, string.rep("HOST", 128))
  t:assert_eq(sh("dd if=" .. d:device() .. " bs=512 skip=100 count=1 iflag=direct 2>/dev/null | head -c 8").stdout, "HOSTHOST")
  sh("printf GUESTWROTE | dd of=" .. d:device() .. " bs=512 seek=201 conv=sync oflag=direct 2>/dev/null"):assert_ok()
  t:assert_eq(d:read_sectors(201, 1):sub(1, 10), "GUESTWROTE")
  t:assert_eq(#d:read_sectors(0, 3), 1536)
  d:detach()
end)

test("disks: eio_read, eio_write and slow are real in the guest until clear_faults", function(t)
  local d = vm:attach_disk({ scratch = "4M", id = "faulty" })
  local dev = d:device()
  local read = "dd if=" .. dev .. " of=/dev/null bs=4096 count=1 iflag=direct"
  local write = "dd if=/dev/zero of=" .. dev .. " bs=4096 seek=10 count=1 oflag=direct"
  d:fault_inject("eio_read")
  local r = sh(read)
  t:assert_neq(r.exit_code, 0)
  t:assert_contains(r.stderr, "Input/output error")
  sh(write):assert_ok()
  d:clear_faults() -- faults add up: eio_write alone now
  d:fault_inject("eio_write")
  sh(read):assert_ok()
  t:assert_contains(sh(write).stderr, "Input/output error")
  d:clear_faults()
  sh(read):assert_ok()
  sh(write):assert_ok()
  -- slow: 10 I/O operations a second. One dd of 30 direct reads (process starts would drown
  -- the difference on a busy host): ~3 s throttled, milliseconds otherwise.
  local timed = "s=$(cut -d' ' -f1 /proc/uptime); dd if=" .. dev .. " of=/dev/null bs=4096 count=30 iflag=direct 2>/dev/null;"
    .. " e=$(cut -d' ' -f1 /proc/uptime); echo \"$s $e\" | awk '{print $2 - $1}'"
  d:fault_inject("slow")
  local slow = tonumber(sh(timed).stdout)
  d:clear_faults()
  local fast = tonumber(sh(timed).stdout)
  t:assert(slow > 2 and fast < slow / 4, "30 direct reads: slow " .. slow .. " s, cleared " .. fast .. " s")
  d:detach()
  t:assert_contains(sh("ls /sys/block").stdout, "vd") -- the VM's own disks stay
end)

test("disks: a read-only image from the host, bad arguments, detach", function(t)
  local img = os.tmpname()
  local f = io.open(img, "wb"); f:write(string.rep("\0", 65536)); f:close()
  local d = vm:attach_disk({ path = img, readonly = true })
  t:assert_eq(vm:run("cat /sys/block/" .. d:device():sub(6) .. "/ro").stdout, "1\n")
  t:assert_neq(sh("dd if=/dev/zero of=" .. d:device() .. " bs=512 count=1 oflag=direct").exit_code, 0)
  t:assert_contains(t:assert_raises(function() d:write_sectors(0, string.rep("x", 512)) end), "is read-only")
  t:assert_contains(t:assert_raises(function() d:read_sectors(127, 2) end), "past the end of disk")
  t:assert_contains(t:assert_raises(function() d:read_sectors(-1, 1) end), "lba must be an integer >= 0, got -1")
  t:assert_contains(t:assert_raises(function() d:read_sectors(0.5, 1) end), "devices.test.lua:128: lba must be an integer, got 0.5")
  t:assert_contains(t:assert_raises(function() d:fault_inject("eio") end), 'unknown fault "eio" (known: eio_read, eio_write, slow)')
  t:assert_contains(t:assert_raises(function() vm:attach_disk({ size = "3" }) end), "whole number of 512-byte sectors")
  t:assert_contains(t:assert_raises(function() vm:attach_disk({ scratch = "lots" }) end), 'disk size must be bytes or a string like "64M"')
  t:assert_contains(t:assert_raises(function() vm:attach_disk({ scratch = "1M", path = img }) end), "give image (a host file) or scratch (a new disk), not both")
  t:assert_contains(t:assert_raises(function() vm:attach_disk({ path = "/nonexistent.img" }) end), "host image not found: /nonexistent.img")
  t:assert_contains(t:assert_raises(function() vm:attach_disk({ sizes = 1 }) end), "unknown attach_disk key 'sizes'")
  t:assert_contains(t:assert_raises(function() vm:disk("nope") end), "no disk 'nope' on vm dev")
  local dev = d:device()
  d:detach()
  d:detach() -- idempotent
  t:assert(not sh("ls /sys/block").stdout:find(dev:sub(6), 1, true), "the device left the guest")
  t:assert_contains(t:assert_raises(function() vm:disk(d:id()) end), "no disk")
  os.remove(img)
end)

test("reset: the guest reboots (new boot_id), the agent is back, attached disks stay", function(t)
  local d = vm:attach_disk({ scratch = "1M", id = "stays" })
  local before = vm:run("cat /proc/sys/kernel/random/boot_id").stdout
  vm:run("echo gone > /tmp/marker")
  t:assert_eq(vm:reset(), vm)
  t:assert_eq(vm:state(), "booted")
  local after = vm:run("cat /proc/sys/kernel/random/boot_id").stdout
  t:assert_neq(after, before)
  t:assert_eq(vm:run("cat /tmp/marker 2>/dev/null").stdout, "") -- tmpfs: a new boot
  t:assert_contains(vm:run("cat /sys/block/*/serial").stdout, "stays")
  d:detach()
end)
