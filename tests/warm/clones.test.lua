-- Warm boots (issue 25): a VM whose shape has booted before restores that boot's template. The
-- VMs here have a shape of their own (288M of memory), so no other file is saving its template
-- while this one boots: the first boot below makes it (or a run before did), later ones are warm.
local SHAPE = { memory = "288M" }
local first = provium:vm("first", "minimal", SHAPE):boot()

local function warm_vm(name, bridge)
  local v = provium:vm(name, "minimal", SHAPE)
  if bridge then bridge:attach({ v }) end
  return v:boot()
end

local RANDOM = "/provium/bin/busybox od -An -tx1 -N32 /dev/urandom | tr -d ' \\n'; echo; cat /proc/sys/kernel/random/uuid"

test("two clones of one template draw different bytes from /dev/urandom and different uuids", function(t)
  local a, b = warm_vm("a"), warm_vm("b")
  t:assert_eq(a:boot_kind(), "warm")
  t:assert_eq(b:boot_kind(), "warm")
  local ra, rb = a:run(RANDOM), b:run(RANDOM)
  ra:assert_ok()
  rb:assert_ok()
  local bytes_a, uuid_a = ra.stdout:match("^(%x+)\n(%S+)\n$")
  local bytes_b, uuid_b = rb.stdout:match("^(%x+)\n(%S+)\n$")
  t:assert(bytes_a and #bytes_a == 64 and uuid_a, "unexpected output: " .. ra.stdout)
  t:assert(bytes_a ~= bytes_b, "both clones read " .. bytes_a .. " from /dev/urandom")
  t:assert(uuid_a ~= uuid_b, "both clones made uuid " .. uuid_a)
  local bytes_f, uuid_f = first:run(RANDOM).stdout:match("^(%x+)\n(%S+)\n$")
  t:assert(bytes_f ~= bytes_a and bytes_f ~= bytes_b and uuid_f ~= uuid_a, "a clone shares randomness with the first VM")
end)

test("a clone's wall clock is the host's, not its template's", function(t)
  local a = warm_vm("clock")
  t:assert_eq(a:boot_kind(), "warm")
  local guest, host = a:clock():get(), os.time()
  t:assert(math.abs(guest - host) <= 2, ("guest clock %.3f, host %d"):format(guest, host))
end)

test("a clone's console log starts with its template's boot log, then its own", function(t)
  local a, b = warm_vm("log1"), warm_vm("log2")
  local la, lb = a:console_log(), b:console_log()
  -- The template's log is what both start with: the longest common prefix holds the boot.
  local n = 0
  while n < #la and n < #lb and la:byte(n + 1) == lb:byte(n + 1) do n = n + 1 end
  local boot = la:sub(1, n)
  t:assert(#boot > 0, "the clones' console logs share no beginning")
  t:assert_contains(boot, "SeaBIOS")
  a:run("echo provium-own-line > /dev/console"):assert_ok()
  t:assert_contains(a:console_log():sub(n + 1), "provium-own-line")
  t:assert(not b:console_log():find("provium-own-line", 1, true), "one clone's output in the other's log")
end)

test("two clones on one bridge get their own MACs and addresses and ping each other", function(t)
  local lan = provium:bridge("warmlan", {})
  local maker = warm_vm("n1", lan) -- the first VM of this NIC shape makes its template
  local a, b = warm_vm("n2", lan), warm_vm("n3", lan)
  t:assert_eq(a:boot_kind(), "warm")
  t:assert_eq(b:boot_kind(), "warm")
  for _, v in ipairs({ a, b }) do
    local nic = v:nic("warmlan")
    local r = v:run("/provium/bin/busybox ip -o -4 addr show; cat /sys/class/net/*/address")
    r:assert_ok()
    t:assert_contains(r.stdout, "inet " .. v:ip() .. "/24")
    t:assert_contains(r.stdout, nic:mac())
  end
  t:assert(a:nic("warmlan"):mac() ~= b:nic("warmlan"):mac())
  for _, pair in ipairs({ { a, b }, { b, a }, { a, maker } }) do
    local r = pair[1]:run("/provium/bin/busybox ping -c 2 -W 5 " .. pair[2]:ip(), { timeout = "60s" })
    t:assert(r.exit_code == 0, ("%s -> %s: %s%s"):format(pair[1]:name(), pair[2]:name(), r.stdout, r.stderr))
  end
end)

test("boot files, rng_seed and initial_time are applied to a clone as to a cold boot", function(t)
  local host_file = os.tmpname()
  local f = io.open(host_file, "wb"); f:write("from the host\n"); f:close()
  local v = provium:vm("opts", "minimal", SHAPE):boot({
    files = { ["/etc/provium-warm/hello.txt"] = host_file },
    rng_seed = "seed",
    initial_time = "2031-05-06T07:08:09Z",
  })
  t:assert_eq(v:boot_kind(), "warm")
  t:assert_eq(v:read_file("/etc/provium-warm/hello.txt"), "from the host\n")
  t:assert_eq(v:run("stat -c %a /tmp").stdout, "1777\n")
  t:assert_eq(v:run("ls /provium-files /provium-rng-seed /run/provium-warm 2>/dev/null").stdout, "")
  local now = v:clock():get()
  t:assert(now >= 1935817689 and now < 1935817689 + 60, "guest time " .. now)
end)

test("{cold = true} boots from power-on even when a template exists", function(t)
  local v = provium:vm("cold", "minimal", SHAPE):boot({ cold = true })
  t:assert_eq(v:boot_kind(), "cold")
  t:assert_eq(first:boot_kind() ~= nil, true)
end)
