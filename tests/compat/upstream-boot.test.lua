-- Labs, VMs and boot options as upstream's conformance tests use them, the part that needs a
-- guest: memory given in bytes, boot files in upstream's list form, the clock moved back, and
-- lab:snapshot(dir) / lab:restore(dir) with a bridge. One VM boots (and one is restored).
local MiB = 1024 * 1024
local site = provium:lab("site")
local main = site:vm("main", "minimal", { memory = 320 * MiB })
local ghost = provium:vm("ghost", "minimal") -- on the bridge, never booted
local lan = provium:bridge("lan", {})
lan:attach({ main, ghost })
main:boot({
  files = {
    { path = "/etc/provium-up/deep/hello.sh", content = "#!/bin/sh\necho hi from boot files\n", mode = 0x1ed },
    { path = "opt/plain.txt", content = "plain\0bytes" },
  },
})

test("memory given as an integer is bytes: a 320 MiB guest", function(t)
  local kib = tonumber(main:run("awk '/MemTotal/ {print $2}' /proc/meminfo"):assert_ok().stdout)
  -- the kernel keeps some for itself: MemTotal is a little under what QEMU gave
  t:assert(kib > 250 * 1024 and kib <= 320 * 1024, "MemTotal " .. kib .. " KiB for memory = 320 MiB in bytes")
end)

test("boot files in upstream's list form: content, mode, missing parents, 0644 by default", function(t)
  t:assert_eq(main:run("/etc/provium-up/deep/hello.sh"):assert_ok().stdout, "hi from boot files\n")
  t:assert_eq(main:stat("/etc/provium-up/deep/hello.sh").perm, 0x1ed)
  t:assert_eq(main:stat("/etc/provium-up/deep").entry_type, "directory", "parents made")
  t:assert_eq(main:read_file("/opt/plain.txt"), "plain\0bytes", "a path relative to / ; bytes kept")
  t:assert_eq(main:stat("/opt/plain.txt").perm, 0x1a4, "0644 when no mode is given")
end)

test("clock: a negative advance moves the guest's time back", function(t)
  local clock = main:clock()
  clock:set(2000000000)
  clock:advance(-5)
  local now = clock:get()
  t:assert(now >= 1999999995 and now < 1999999999, "advance(-5) from 2000000000: " .. now)
  clock:advance("-1h")
  now = clock:get()
  t:assert(now >= 1999996395 and now < 1999996399, "advance(\"-1h\"): " .. now)
  local date = tonumber(main:run("date +%s").stdout)
  t:assert(date >= 1999996395 and date < 1999996400, "date agrees: " .. date)
end)

test("clock: a time before 1970 goes to the guest, which refuses it (EINVAL)", function(t)
  local clock = main:clock()
  clock:set(2000000000)
  local e = t:assert_raises(function() clock:set(-1.5) end)
  t:assert_contains(e, "before 1970")
  t:assert_contains(e, "(EINVAL)")
  t:assert_contains(t:assert_raises(function() clock:set_ns(-1) end), "(EINVAL)")
  t:assert_contains(t:assert_raises(function() clock:advance(-3000000000) end), "(EINVAL)")
  local now = clock:get()
  t:assert(now >= 2000000000 and now < 2000000005, "the clock did not move: " .. now)
end)

local dir = os.tmpname() .. "-lab"
local main_ip

-- A snapshot directory is the user's to remove: its states, lab.json, then the directory.
local function remove_lab_dir(d)
  for _, v in ipairs(json.decode(io.open(d .. "/lab.json"):read("a")).vms) do os.remove(d .. "/" .. v.state) end
  os.remove(d .. "/lab.json")
  os.remove(d)
end

test("lab:snapshot(dir) returns dir; lab.json has the lab's bridges with their rules", function(t)
  main:write_file("/tmp/before-snapshot", "kept")
  main_ip = main:ip("lan")
  lan:add_latency(25)
  lan:partition(main, ghost)
  t:assert_eq(site:snapshot(dir), dir)
  local meta = json.decode(io.open(dir .. "/lab.json"):read("a"))
  t:assert_eq(#meta.vms, 1)
  t:assert_eq(meta.vms[1].name, "main")
  t:assert_eq(meta.vms[1].memory_bytes, 320 * MiB)
  t:assert_eq(#meta.bridges, 1)
  local b = meta.bridges[1]
  t:assert_eq(b.name, "lan")
  t:assert_eq(b.members, { "ghost", "main" })
  t:assert_eq(b.latency_ms, 25)
  t:assert_eq(b.partitions, { { "ghost", "main" } })
  t:assert_eq(b.fully_partitioned, false)
  t:assert_eq(b.uplink_enabled, false)
end)

test("restoring into another lab after the VM was removed brings back the VM and its bridge", { timeout = "300s" }, function(t)
  site:remove(main)
  main:shutdown()
  lan:reset()
  local fresh = provium:lab("fresh")
  fresh:restore(dir)
  local back = fresh:vm("main")
  t:assert(back ~= main, "a new VM")
  t:assert_eq(back:state(), "booted")
  t:assert_eq(back:read_file("/tmp/before-snapshot"), "kept")
  t:assert_eq(fresh.lan, lan, "the file's bridge of that name, now in the lab")
  t:assert_eq(fresh:members(), { { kind = "vm", name = "main" }, { kind = "bridge", name = "lan" } })
  t:assert_eq(back:ip("lan"), main_ip, "its NIC as it was")
  t:assert_contains(back:run("/provium/bin/busybox ip -o addr"):assert_ok().stdout, main_ip, "the guest has it")
  -- the bridge's rules came back: a snapshot of the restored lab says so
  local again = os.tmpname() .. "-lab"
  fresh:snapshot(again)
  local b = json.decode(io.open(again .. "/lab.json"):read("a")).bridges[1]
  t:assert_eq(b.latency_ms, 25)
  t:assert_eq(b.partitions, { { "ghost", "main" } })
  t:assert_eq(b.members, { "ghost", "main" })
  remove_lab_dir(dir)
  remove_lab_dir(again)
end)
