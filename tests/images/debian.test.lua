-- The built-in debian profile: the host's Debian release with python3, curl and procps on a
-- copy-on-write root disk. Two VMs of the same profile share the base image but never see
-- each other's writes.
local a = provium:vm("a", "debian"):boot()

test("python3, curl and procps run in Debian userspace", function(t)
  local r = a:run("python3 -c 'print(1+1)'")
  r:assert_ok()
  t:assert_eq(r.stdout, "2\n")
  t:assert_contains(a:run("curl --version"):assert_ok().stdout, "curl ")
  t:assert_contains(a:run("ps -e -o comm="):assert_ok().stdout, "ps\n") -- procps, not busybox
  t:assert_contains(a:run("cat /etc/os-release").stdout, "Debian")
  -- the root is the disk, not the initramfs; the shell is Debian's
  t:assert_contains(a:run("grep ' / ' /proc/mounts").stdout, "/dev/vda / ext4 ")
  t:assert_eq(a:run("readlink -f /bin/sh").stdout, "/usr/bin/dash\n")
  -- /tmp is on the disk, as in Debian, and /provium (the agent) is read-only
  t:assert_eq(a:run("stat -c %a /tmp && df --output=source /tmp | tail -1").stdout, "1777\n/dev/vda\n")
  t:assert_neq(a:run("touch /provium/x").exit_code, 0)
end)

test("a file written by one VM is not seen by another VM of the same profile", function(t)
  a:run("echo from-a > /root/mark && sync"):assert_ok()
  t:assert_eq(a:run("cat /root/mark").stdout, "from-a\n")
  local b = provium:vm("b", "debian"):boot()
  local r = b:run("cat /root/mark")
  t:assert_neq(r.exit_code, 0)
  t:assert_contains(r.stderr, "No such file")
  b:shutdown()
end)
