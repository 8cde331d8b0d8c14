-- The devices on the debian profile (a root disk: boot files go through guest-init's switch
-- into it; acpid runs from the agent disk's busybox). One VM, powered off at the end.
local host_file = os.tmpname()
local f = io.open(host_file, "wb"); f:write("debian boot file\n"); f:close()
local vm = provium:vm("deb", "debian"):boot({ files = { ["/etc/provium-test/deb.txt"] = host_file }, initial_time = 1900000000 })

test("debian: boot files land on the root disk; the clock started at initial_time", function(t)
  t:assert_eq(vm:read_file("/etc/provium-test/deb.txt"), "debian boot file\n")
  local now = vm:clock():get()
  t:assert(now >= 1900000000 and now < 1900000000 + 300, "guest time " .. now)
end)

test("debian: console, a disk with a fault, then the power button", function(t)
  local c = vm:console()
  vm:run("echo deb-console-line > /dev/ttyS0")
  c:expect("deb-console-line")
  local d = vm:attach_disk({ size = "4M" })
  d:fault_inject("eio_write")
  t:assert_neq(vm:run("dd if=/dev/zero of=" .. d:device() .. " bs=4096 count=1 oflag=direct").exit_code, 0)
  d:clear_faults()
  vm:run("dd if=/dev/zero of=" .. d:device() .. " bs=4096 count=1 oflag=direct"):assert_ok()
  vm:power_button()
  t:assert_eq(vm:state(), "shutdown")
end)
