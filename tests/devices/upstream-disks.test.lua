-- Disks in upstream's shapes (peios/provium's disk_ud.rs, vm_ud.rs and conformance_disk.rs) on
-- one `minimal` VM: boot option disks (path, scratch, template), attach_disk({id, size, image}),
-- a blank disk with no backing image, faults as a set, detach.
local function host_file(bytes)
  local path = os.tmpname()
  local f = io.open(path, "wb"); f:write(bytes); f:close()
  return path
end
local function host_read(path, n)
  local f = io.open(path, "rb"); local s = f:read(n or "a"); f:close()
  return s
end

local data_img = host_file(string.rep("D", 8192))
local seed = host_file("SEED" .. string.rep("\0", 4096 - 4))
local vm = provium:vm("updisk", "minimal"):boot({
  disks = {
    { path = data_img, id = "data", readonly = true },
    { scratch = "1M", id = "state" },
    { template = seed, id = "seeded" },
    { scratch = 4096 },
  },
})

local function serial_dev(id) -- the guest's /dev name of the disk with that serial
  return vm:run("for f in /sys/block/*/serial; do [ \"$(cat $f)\" = " .. id .. " ] && basename ${f%/serial}; done").stdout:gsub("%s+$", "")
end

test("boot option disks: path, scratch (a size or bytes) and template, each found by vm:disk(id)", function(t)
  local state = vm:disk("state")
  t:assert_eq(state:size(), 1024 * 1024, "scratch disk is the size asked for")
  t:assert_eq(state:read_sectors(0, 1), string.rep("\0", 512))
  t:assert_eq(vm:disk("boot3"):size(), 4096, "an unnamed boot disk is boot<its position from 0>")
  local data = vm:disk("data")
  t:assert_eq(data:size(), 8192)
  t:assert_eq(data:read_sectors(0, 1), string.rep("D", 512))
  t:assert_eq(vm:run("cat /sys/block/" .. serial_dev("data") .. "/ro").stdout, "1\n")
  local seeded = vm:disk("seeded")
  t:assert_eq(seeded:read_sectors(0, 1):sub(1, 4), "SEED", "the copy starts from the template's contents")
  seeded:write_sectors(0, "MINE")
  t:assert_eq(seeded:read_sectors(0, 1):sub(1, 5), "MINE\0")
  t:assert_eq(host_read(seed, 4), "SEED", "the template itself is untouched")
  for _, id in ipairs({ "data", "state", "seeded", "boot3" }) do
    t:assert_neq(serial_dev(id), "", "the guest sees " .. id)
  end
end)

test("boot option disks: exactly one of path / scratch / template, sizes checked and quoted", function(t)
  local never = provium:vm("refused", "minimal") -- refused before any VM starts: it stays "created"
  local function refused(disks)
    return t:assert_raises(function() never:boot({ disks = disks }) end)
  end
  local e = refused({ { path = "/tmp/x.img", scratch = "1M", id = "d" } })
  t:assert_contains(e, "upstream-disks.test.lua:")
  t:assert_contains(e, "boot option disks[1]: give exactly one of path, scratch or template, got path and scratch")
  t:assert_contains(refused({ { id = "d" } }), "exactly one of path, scratch or template, got none")
  t:assert_contains(refused({ { scratch = "512Q", id = "d" } }), 'disks[1].scratch: disk size must be bytes or a string like "64M" or "1G", got "512Q"')
  t:assert_contains(refused({ { scratch = "1M" }, { scratch = 0 } }), "disks[2].scratch")
  t:assert_contains(refused({ { scratch = "1M", id = "d" }, { scratch = "1M", id = "d" } }), "a second disk with id 'd'")
  local missing = os.tmpname()
  os.remove(missing)
  t:assert_contains(refused({ { path = missing, id = "d" } }), "disks[1].path: host image not found: " .. missing)
  t:assert_eq(io.open(missing, "rb"), nil, "a named path is never created")
  t:assert_contains(refused({ { scratch = "1M", size = 5 } }), "disks[1]: unknown key size")
  t:assert_eq(never:state(), "created")
end)

test("attach_disk({id, size, image}): the host file is the disk, its size the disk's (it grows with it)", function(t)
  local img = host_file(string.rep("\0", 4096))
  local d = vm:attach_disk({ id = "vdimg", size = 4096, image = img })
  t:assert_eq(d:id(), "vdimg")
  t:assert_eq(d:size(), 4096)
  t:assert_eq(vm:run("cat /sys/block/" .. serial_dev("vdimg") .. "/size").stdout, "8\n")
  d:write_sectors(1, "HELLO")
  t:assert_eq(host_read(img, 517):sub(513), "HELLO")
  local f = io.open(img, "ab"); f:write(string.rep("\0", 4096)); f:close()
  t:assert_eq(d:size(), 8192, "size() follows the image file")
  d:detach()
  -- an empty image attaches too (a disk of no sectors), as upstream's tests make them
  local empty = host_file("")
  local e = vm:attach_disk({ id = "vda", size = 512, image = empty })
  t:assert_eq(e:size(), 0)
  e:detach()
  os.remove(img)
  os.remove(empty)
end)

test("attach_disk({id, size}) without an image: the guest's blank disk; the host's sector ops raise", function(t)
  local b = vm:attach_disk({ id = "blank", size = 1024 * 1024 })
  t:assert_eq(b:size(), 1024 * 1024)
  t:assert_neq(serial_dev("blank"), "", "the guest sees it")
  local e = t:assert_raises(function() b:read_sectors(0, 1) end)
  t:assert_contains(e, "upstream-disks.test.lua:")
  t:assert_contains(e, "no backing image")
  t:assert_contains(t:assert_raises(function() b:write_sectors(0, "x") end), "no backing image")
  b:detach()
end)

test("faults are a set: active_faults() sorted; the guest and the host's sector ops both see them", function(t)
  local d = vm:attach_disk({ scratch = "1M", id = "faulty" })
  local dev = "/dev/" .. serial_dev("faulty")
  local read = "dd if=" .. dev .. " of=/dev/null bs=4096 count=1 iflag=direct"
  local write = "dd if=/dev/zero of=" .. dev .. " bs=4096 seek=10 count=1 oflag=direct"
  t:assert_eq(d:active_faults(), {})
  d:fault_inject("slow")
  d:fault_inject("eio_read")
  t:assert_eq(d:active_faults(), { "eio_read", "slow" })
  t:assert_contains(t:assert_raises(function() d:read_sectors(0, 1) end), "EIO")
  t:assert_neq(vm:run(read).exit_code, 0, "the guest's read fails")
  d:write_sectors(0, "still writable")
  vm:run(write):assert_ok()
  d:fault_inject("eio_write")
  t:assert_eq(d:active_faults(), { "eio_read", "eio_write", "slow" })
  t:assert_contains(t:assert_raises(function() d:write_sectors(0, "x") end), "EIO")
  t:assert_neq(vm:run(write).exit_code, 0, "and now its writes too")
  local e = t:assert_raises(function() d:fault_inject("nonsense_mode") end)
  t:assert_contains(e, 'unknown fault "nonsense_mode" (known: eio_read, eio_write, slow)')
  t:assert_eq(vm:disk("faulty"):active_faults(), { "eio_read", "eio_write", "slow" }, "the same through another handle")
  d:clear_faults()
  t:assert_eq(d:active_faults(), {})
  t:assert_eq(d:read_sectors(0, 1):sub(1, 14), "still writable")
  vm:run(read):assert_ok()
  d:detach()
end)

test("detach: is_detached(), sector ops raise 'detached'; vm:disk names an unknown id", function(t)
  local d = vm:attach_disk({ scratch = "1M", id = "gone" })
  local same = vm:disk("gone")
  t:assert_eq(d:is_detached(), false)
  d:detach()
  t:assert_eq(d:is_detached(), true)
  t:assert_eq(same:is_detached(), true, "through every handle")
  t:assert_contains(t:assert_raises(function() d:read_sectors(0, 1) end), "read_sectors: disk gone is detached")
  t:assert_contains(t:assert_raises(function() same:write_sectors(0, "x") end), "write_sectors: disk gone is detached")
  t:assert_eq(d:size(), 1024 * 1024, "the last size known")
  d:detach() -- idempotent
  same:detach()
  t:assert_contains(t:assert_raises(function() vm:disk("gone") end), "no disk 'gone' on vm updisk")
  t:assert_contains(t:assert_raises(function() vm:disk("nope") end), "no disk 'nope' on vm updisk")
end)

