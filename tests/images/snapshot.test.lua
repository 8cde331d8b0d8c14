-- A Debian guest's disk writes go to its overlay: a snapshot saves the overlay with the
-- memory, so a restore brings back disk and memory in step.
local vm = provium:vm("v", "debian"):boot()

test("disk state written before a snapshot is back after restore; later writes are gone", function(t)
  vm:run("echo before > /root/on-disk && sync"):assert_ok()
  local snap = vm:snapshot()
  vm:run("echo after > /root/on-disk && touch /root/later && sync"):assert_ok()
  vm:restore(snap)
  t:assert_eq(vm:run("cat /root/on-disk").stdout, "before\n")
  t:assert_eq(vm:run("test -e /root/later").exit_code, 1)
  -- Writes after the restore work, and a second restore drops them again.
  vm:run("echo again > /root/on-disk && sync"):assert_ok()
  vm:restore(snap)
  t:assert_eq(vm:run("cat /root/on-disk").stdout, "before\n")
end)
