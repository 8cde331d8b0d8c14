-- What makes a boot faster (issue 18), checked on a real guest. The boot's speed itself is
-- checked by `bun run bench` (bench/bounds.ts: cold boot / the busybox floor's boot).
local vm = provium:vm("speed", "minimal"):boot()

test("the kernel skips the crypto self-tests at boot (cryptomgr.notests)", function(t)
  -- ~225 ms of a TCG boot; the algorithms still register and work.
  t:assert_contains(vm:read_file("/proc/cmdline"), "cryptomgr.notests")
  local log = vm:run("dmesg")
  log:assert_ok()
  t:assert_contains(log.stdout, "alg: self-tests disabled")
  t:assert_contains(vm:read_file("/proc/crypto"), "sha256")
  t:assert_eq(vm:run("echo abc | sha256sum").stdout, "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb  -\n")
end)
