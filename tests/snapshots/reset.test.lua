-- provium.reset_between_tests: each test starts from the state the top level left.
provium.reset_between_tests = true
local vm = provium:vm("v", "minimal"):boot()
vm:run("echo base > /tmp/state"):assert_ok()

test("first test changes the guest", function(t)
  t:assert_eq(vm:run("cat /tmp/state").stdout, "base\n")
  vm:run("echo dirty > /tmp/state; touch /tmp/extra"):assert_ok()
end)

test("second test sees the top level's state again", function(t)
  t:assert_eq(vm:run("cat /tmp/state").stdout, "base\n")
  t:assert_eq(vm:run("test -e /tmp/extra").exit_code, 1)
end)
