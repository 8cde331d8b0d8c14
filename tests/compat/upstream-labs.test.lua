-- Labs, VMs and boot options as upstream's conformance tests use them (peios/provium,
-- provium-host/tests/conformance_lab_*.rs, claim, naming, clock, vm_state_machine). Nothing
-- here boots a VM: upstream-boot.test.lua has the ones that need a guest.
local line_of = function() return debug.getinfo(2, "l").currentline end
local file_vm = provium:vm("filevm", "minimal")
local file_lab = provium:lab("filelab")

test("members() gives {kind, name}: VMs, then bridges, then sub-labs, each sorted", function(t)
  local lab = provium:lab("m")
  lab:vm("zeta", "minimal")
  lab:vm("alpha", "minimal")
  lab:bridge("wan", {})
  lab:bridge("lan", {})
  lab:lab("dc2")
  lab:lab("dc1")
  t:assert_eq(lab:members(), {
    { kind = "vm", name = "alpha" }, { kind = "vm", name = "zeta" },
    { kind = "bridge", name = "lan" }, { kind = "bridge", name = "wan" },
    { kind = "lab", name = "dc1" }, { kind = "lab", name = "dc2" },
  })
  t:assert_eq(lab:bridge_names(), { "lan", "wan" })
  t:assert_eq(lab:sub_lab_names(), { "dc1", "dc2" })
  t:assert_eq(lab.lan:name(), "lan", "a bridge is a member: lab.NAME finds it")
  -- the file's own lab lists what the top level made, and this test's sub-lab
  local kinds = {}
  for _, m in ipairs(provium:members()) do kinds[m.kind .. ":" .. m.name] = true end
  t:assert(kinds["vm:filevm"] and kinds["lab:filelab"] and kinds["lab:m"], "provium:members() has the file's vm, its lab and this test's")
end)

test("include and remove check their arguments, a list before anything joins", function(t)
  local sub = provium:lab("inc")
  local a = provium:vm("a", "minimal")
  local line = line_of() + 1
  local e = t:assert_raises(function() sub:include({ a, "not-userdata" }) end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": lab:include: list entry 2 must be a vm, bridge or lab userdata, got string")
  t:assert_eq(sub:members(), {}, "nothing joined")
  t:assert_contains(t:assert_raises(function() sub:include(42) end), "lab:include: expected a vm, bridge or lab (or a list of them), got number")
  t:assert_contains(t:assert_raises(function() sub:include() end), "got nil")
  t:assert_contains(t:assert_raises(function() sub:remove(42) end), "lab:remove: expected a name, vm, bridge or lab, got number")
  t:assert_contains(t:assert_raises(function() sub:remove({}) end), "got table")
  sub:include({ a, file_vm })
  t:assert_eq(sub:vm("a"), a)
  sub:include(a) -- the same object again is no error
  local other = provium:lab("other")
  local a2 = other:vm("a", "minimal")
  t:assert_contains(t:assert_raises(function() sub:include(a2) end), "vm name 'a' is already used in this lab (by a vm)")
  sub:remove("a")
  t:assert_contains(t:assert_raises(function() sub:vm("a") end), "no vm named a in lab inc")
  sub:remove(file_vm)
  sub:remove("never-there")
  t:assert_eq(sub:members(), {})
end)

test("inside a test, re-creating a file-scope VM or lab name raises naming it", function(t)
  local line = line_of() + 1
  local e = t:assert_raises(function() provium:vm("filevm", "minimal") end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": provium:vm(\"filevm\", ...): name 'filevm' is already declared at the file's top level (lab provium, a vm)")
  t:assert_contains(e, "provium:vm(\"filevm\") to reuse it")
  e = t:assert_raises(function() provium:lab("filelab") end)
  t:assert_contains(e, "provium:lab(\"filelab\"): name 'filelab' is already declared at the file's top level (lab provium, a lab)")
  t:assert_eq(provium.filelab, file_lab, "the file's lab is untouched")
  -- names made in this test may be used once too
  provium:lab("mine")
  t:assert_contains(t:assert_raises(function() provium:lab("mine") end), "lab name 'mine' is already used in this lab (by a lab)")
end)

test("a sub-lab made in a test leaves its parent at the test's end", function(t)
  t:assert_eq(provium.mine, nil)
  t:assert_eq(provium.m, nil)
  local names = provium:sub_lab_names()
  t:assert_eq(names, { "filelab" })
end)

test("lab:vm with four arguments, non-table opts or a non-string name raises", function(t)
  local line = line_of() + 1
  local e = t:assert_raises(function() provium:vm("x", "minimal", {}, "extra") end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": lab:vm: expected 1, 2 or 3 arguments (name, profile, opts), got 4")
  t:assert_contains(t:assert_raises(function() provium:vm() end), "got 0")
  t:assert_contains(t:assert_raises(function() provium:vm("x", "minimal", "big") end), "lab:vm: opts must be a table, got string (\"big\")")
  t:assert_contains(t:assert_raises(function() provium:vm(42, "minimal") end), "lab:vm: name must be a string, got number (42)")
  t:assert_contains(t:assert_raises(function() provium:vm("x", 7) end), "lab:vm: profile must be a string, got number (7)")
  t:assert_contains(t:assert_raises(function() provium:vm("x", "minimal", { ram = 1 }) end), "lab:vm: unknown option 'ram' (known: memory, cpus)")
  t:assert_eq(provium.x, nil, "nothing made")
end)

test("setting an unknown provium.<key> raises listing the known keys", function(t)
  local line = line_of() + 1
  local e = t:assert_raises(function() provium.reset_betwen_tests = true end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": cannot set provium.reset_betwen_tests: not a file-wide setting (known keys: reset_between_tests, timeout)")
  t:assert_eq(rawget(provium, "reset_betwen_tests"), nil)
  t:assert_contains(t:assert_raises(function() file_lab.timeout = 5 end), "lab.timeout is a file-wide setting: set provium.timeout instead")
end)

test("VM names are per lab: two labs may each have a 'web'", function(t)
  local dc1, dc2 = provium:lab("dc1"), provium:lab("dc2")
  local w1 = dc1:vm("web", "minimal")
  local w2 = dc2:vm("web", "minimal")
  local w0 = provium:vm("web", "minimal")
  t:assert(w1 ~= w2 and w2 ~= w0, "three VMs")
  t:assert_eq(dc1:vm("web"), w1)
  t:assert_eq(dc2.web, w2)
  t:assert_eq(provium:vm("web"), w0)
  t:assert_contains(t:assert_raises(function() dc1:vm("web", "minimal") end), "vm name 'web' is already used in this lab (by a vm)")
end)

test("memory: an integer is bytes, strings have units; bad ones are refused at creation, quoted", function(t)
  provium:vm("bytes", "minimal", { memory = 320 * 1024 * 1024 })
  provium:vm("small_m", "minimal", { memory = "320m" })
  provium:vm("one_g", "minimal", { memory = "1g" })
  provium:vm("kib", "minimal", { memory = "327680k" })
  local line = line_of() + 1
  local e = t:assert_raises(function() provium:vm("mib", "minimal", { memory = 512 }) end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": memory 512 is less than the 16 MiB a VM needs (an integer is bytes: for 512 MiB write \"512M\")")
  t:assert_contains(t:assert_raises(function() provium:vm("bad", "minimal", { memory = "lots" }) end), 'memory must be bytes (an integer) or a string like "320m", "512M" or "2G", got "lots"')
  t:assert_contains(t:assert_raises(function() provium:vm("neg", "minimal", { memory = -5 }) end), "got -5")
  t:assert_contains(t:assert_raises(function() provium:vm("frac", "minimal", { memory = "1.5G" }) end), 'got "1.5G"')
  t:assert_eq(provium.mib, nil)
  t:assert_eq(provium.bad, nil)
end)

test("a VM bigger than the whole pool fails at once with 'exceeds pool total'", function(t)
  local huge = provium:vm("huge", "minimal", { memory = 64 * 1024 * 1024 * 1024 * 1024 })
  local started = __provium_private.call("clock.now")
  local e = t:assert_raises(function() huge:boot() end)
  -- at once: not after waiting for room that never comes (bounded loosely: image preparation
  -- starts beside the refusal and the machine may be loaded)
  t:assert(__provium_private.call("clock.now") - started < 60, "at once")
  t:assert_contains(e, "vm huge: boot needs 67108864 MiB and 1 vCPUs")
  t:assert_contains(e, "which exceeds pool total: the host pool has ")
  t:assert_eq(huge:state(), "created")
end)

test("a claim bigger than the pool says 'budget'; a second claim raises 'one-shot'", function(t)
  local line = line_of() + 1
  local e = t:assert_raises(function() provium:claim({ memory = "64T" }) end)
  t:assert_contains(e, "upstream-labs.test.lua:" .. line .. ": lab claim exceeds total pool budget: it needs 67108864 MiB and 0 vCPUs, which exceeds pool total")
  t:assert_contains(t:assert_raises(function() provium:claim({ memory = "1G", memory_bytes = 1 }) end), "give memory or memory_bytes, not both")
  t:assert_contains(t:assert_raises(function() provium:claim({ ram = 1 }) end), "unknown claim key 'ram' (known: memory, memory_bytes, cpus)")
  provium:claim({ memory_bytes = 1024 * 1024, cpus = 0 })
  e = t:assert_raises(function() provium:claim({ memory_bytes = 1024 }) end)
  t:assert_contains(e, "lab claim already taken for this file (a claim is one-shot)")
end)

test("vm:close() is idempotent and a never-booted VM becomes shutdown", function(t)
  local v = provium:vm("closer", "minimal")
  t:assert_eq(v:state(), "created")
  v:close()
  t:assert_eq(v:state(), "shutdown")
  v:close()
  t:assert_eq(v:state(), "shutdown")
  t:assert_contains(t:assert_raises(function() v:boot() end), "VM is shutdown; create a new one")
end)

test("wrong arguments on a created VM name the argument, not the state", function(t)
  local v = provium:vm("fresh", "minimal")
  local cases = {
    { function() v:run(42) end, "command must be a string, got number" },
    { function() v:read_file(42) end, "path must be a string, got number" },
    { function() v:write_file("/x", {}) end, "data must be a string, got table" },
    { function() v:attach_disk({ size = "lots" }) end, "lots" },
    { function() v:attach_disk({ path = "/nonexistent/disk.img" }) end, "host image not found: /nonexistent/disk.img" },
    { function() v:clock():set("soon") end, "must be a number, got string" },
    { function() v:clock():advance(0 / 0) end, "NaN" },
    { function() v:boot({ files = { { path = "/x", content = 5 } } }) end, "boot option files[1].content must be a string, got number" },
    { function() v:snapshot(42) end, "snapshot path must be a string, got number" },
  }
  for i, c in ipairs(cases) do
    local e = t:assert_raises(c[1], "case " .. i)
    t:assert_contains(e, c[2], "case " .. i)
    t:assert(not e:find("not booted", 1, true), "case " .. i .. " names the state: " .. e)
  end
  t:assert_eq(v:state(), "created")
end)

test("boot files in upstream's list form are checked before anything starts", function(t)
  local v = provium:vm("files", "minimal")
  local bad = {
    { { { path = "/a/../b", content = "" } }, "boot option files[1]: path /a/../b may not contain . or .." },
    { { { path = "./a", content = "" } }, "may not contain . or .." },
    { { { path = "/", content = "" } }, 'boot option files[1]: path "/" names no file' },
    { { { path = "/a", content = "", mode = "0644" } }, "boot option files[1].mode for /a must be an integer permission mask from 0 to 0x0fff (e.g. 0x1ed for 0755), got \"0644\"" },
    { { { path = "/a", content = "", mode = 0x10000 } }, "got 65536" },
    { { { path = "/a", content = "", owner = "root" } }, "boot option files[1]: unknown key 'owner' (known: path, content, mode)" },
    { { { path = "/a", content = "x" }, ["/b"] = "host" }, "not both" },
    { { "just a string" }, "boot option files[1] must be a table {path = ..., content = ..., mode = ...}, got string" },
  }
  for i, c in ipairs(bad) do
    t:assert_contains(t:assert_raises(function() v:boot({ files = c[1] }) end), c[2], "case " .. i)
  end
  t:assert_eq(v:state(), "created")
end)

test("NaN and infinite boot options say NaN / finite", function(t)
  local v = provium:vm("nan", "minimal")
  t:assert_contains(t:assert_raises(function() v:boot({ initial_time = 0 / 0 }) end), "boot option initial_time must be a finite number, got NaN")
  t:assert_contains(t:assert_raises(function() v:boot({ initial_time = math.huge }) end), "boot option initial_time must be a finite number, got inf")
  t:assert_contains(t:assert_raises(function() v:boot({ agent_timeout = 0 / 0 }) end), "boot option agent_timeout must be a finite non-negative number of seconds, got NaN")
  t:assert_contains(t:assert_raises(function() v:boot({ agent_timeout = math.huge }) end), "finite")
  t:assert_contains(t:assert_raises(function() v:boot({ rng_seed = -math.huge }) end), "boot option rng_seed must be a finite number, got -inf")
  t:assert_contains(t:assert_raises(function() v:clock():set(0 / 0) end), "clock:set time (seconds since the epoch) must be a finite number, got NaN")
  t:assert_contains(t:assert_raises(function() v:clock():advance(-math.huge) end), "clock:advance duration must be a finite number of seconds, got -inf")
  t:assert_eq(v:state(), "created")
end)

test("a lab of bridges only: lab:snapshot(dir) returns dir, lab.json says fully_partitioned, restore brings the rules back", function(t)
  local net = provium:lab("netonly")
  local b = net:bridge("lan2", {})
  b:attach({ provium:vm("x", "minimal"), provium:vm("y", "minimal") }) -- never booted: not in the lab
  b:add_latency(40)
  b:partition_all()
  local dir = os.tmpname() .. "-net"
  t:assert_eq(net:snapshot(dir), dir)
  local meta = json.decode(io.open(dir .. "/lab.json"):read("a"))
  t:assert_eq(meta.vms, {})
  t:assert_eq(#meta.bridges, 1)
  local rec = meta.bridges[1]
  t:assert_eq({ rec.name, rec.members, rec.latency_ms, rec.fully_partitioned, rec.partitions }, { "lan2", { "x", "y" }, 40, true, {} })
  b:reset()
  local fresh = provium:lab("fresh2")
  fresh:restore(dir)
  t:assert_eq(fresh.lan2, b, "the file's bridge of that name joins the lab")
  t:assert_eq(fresh:bridge_names(), { "lan2" })
  local again = os.tmpname() .. "-net"
  fresh:snapshot(again)
  rec = json.decode(io.open(again .. "/lab.json"):read("a")).bridges[1]
  t:assert_eq({ rec.latency_ms, rec.fully_partitioned }, { 40, true }, "the rules came back")
  for _, d in ipairs({ dir, again }) do
    t:assert(os.remove(d .. "/lab.json"))
    t:assert(os.remove(d))
  end
end)
