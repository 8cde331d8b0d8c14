-- The smallest useful suite: boot the built-in `minimal` guest and run commands in it.
local vm = provium:vm("v", "minimal"):boot()

test("echo round-trips", function(t)
  local r = vm:run("echo hello")
  r:assert_ok()
  t:assert_eq(r.stdout, "hello\n")
end)

test("exit codes and stderr come back", function(t)
  local r = vm:run("echo oops >&2; exit 3")
  t:assert_eq(r.exit_code, 3)
  t:assert_eq(r.status, "exited")
  t:assert_eq(r.stderr, "oops\n")
  t:assert(not r:ok())
end)

test("a missing command is exit code 127, not an error", function(t)
  local r = vm:run("no-such-command-here")
  t:assert_eq(r.exit_code, 127)
  t:assert_contains(r.stderr, "not found")
end)
