-- Profile keys (provium.toml's [profiles.devices]): disks plugged in before boot() returns,
-- cmdline_file combined with cmdline, agent_boot_timeout.
local vm = provium:vm("prof", "devices"):boot()

test("a profile's disks are attached when boot returns, by id", function(t)
  local d1, scratch = vm:disk("disk1"), vm:disk("scratch")
  t:assert_eq(d1:size(), 2 * 1024 * 1024)
  t:assert_eq(scratch:size(), 1024 * 1024)
  t:assert_eq(vm:run("cat /sys/block/" .. scratch:device():sub(6) .. "/serial").stdout, "scratch")
  scratch:fault_inject("eio_read")
  t:assert_neq(vm:run("dd if=" .. scratch:device() .. " of=/dev/null bs=512 count=1 iflag=direct").exit_code, 0)
  scratch:clear_faults()
end)

test("cmdline_file's words, then cmdline's", function(t)
  local cmdline = vm:read_file("/proc/cmdline")
  local a, b = cmdline:find("provium.devmark=fromfile", 1, true), cmdline:find("provium.devmark=inline", 1, true)
  t:assert(a and b and a < b, cmdline)
end)

test("agent_boot_timeout bounds the boot, and vm:boot's agent_timeout overrides a profile's", function(t)
  local e = t:assert_raises(function() provium:vm("impatient", "devices-impatient"):boot() end)
  t:assert_contains(e, "did not answer within 0.001 s of boot")
  e = t:assert_raises(function() provium:vm("hurried", "minimal"):boot({ agent_timeout = "1ms" }) end)
  t:assert_contains(e, "did not answer within 0.001 s of boot")
end)
