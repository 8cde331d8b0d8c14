-- Networks between guests (issue 17): a bridge is a userspace switch on the host (no root, no
-- TAP, no tc). One lab for the file: two minimal guests and a debian one on bridge "lan".
local lan = provium:bridge("lan", {})
local a = provium:vm("a", "minimal", { memory = "256M" })
local b = provium:vm("b", "minimal", { memory = "256M" })
local c = provium:vm("c", "debian", { memory = "384M" })
lan:attach({ a, b, c })
provium:boot()

-- busybox ping from `from` to `to`: sent, received, loss %, average RTT (ms), raw output.
local function ping(from, to, args)
  local r = from:run("/provium/bin/busybox ping " .. (args or "-c 3 -W 5") .. " " .. to:ip(), { timeout = "120s" })
  local sent, got = r.stdout:match("(%d+) packets transmitted, (%d+) packets received")
  return {
    ok = r.exit_code == 0,
    sent = tonumber(sent), received = tonumber(got),
    loss = sent and (1 - tonumber(got) / tonumber(sent)) * 100,
    min = tonumber(r.stdout:match("min/avg/max = ([%d.]+)/")),
    avg = tonumber(r.stdout:match("min/avg/max = [%d.]+/([%d.]+)/")),
    out = r.stdout .. r.stderr,
  }
end

test("a VM attached at boot has its NIC up with its address when the agent answers (minimal and debian)", function(t)
  t:assert_eq(a:ip(), "10.0.1.1")
  t:assert_eq(b:ip("lan"), "10.0.1.2")
  t:assert_eq(c:ip(lan), "10.0.1.3")
  t:assert_eq(lan:subnet(), "10.0.1.0/24")
  for _, vm in ipairs({ a, c }) do
    local nic = vm:nic("lan")
    local r = vm:run("/provium/bin/busybox ip -o -4 addr show; for d in /sys/class/net/*; do if [ \"$(cat $d/address)\" = "
      .. nic:mac() .. " ]; then /provium/bin/busybox ip link show ${d##*/}; cat $d/carrier; fi; done")
    r:assert_ok()
    t:assert_contains(r.stdout, "inet " .. vm:ip() .. "/24")
    t:assert(r.stdout:match("<[%u_,-]*UP[%u_,-]*> mtu 1500 qdisc (%w+)") ~= "noop", "up, with a queue that sends:\n" .. r.stdout)
    t:assert_eq(r.stdout:match("(%d)\n$"), "1", "carrier")
  end
end)

test("two VMs ping each other through the bridge, and the NIC counters see it", function(t)
  lan:reset()
  local before = a:nic("lan"):counters()
  for _, p in ipairs({ ping(a, b), ping(b, a), ping(a, c) }) do
    t:assert(p.ok and p.received == 3, "ping failed:\n" .. p.out)
  end
  local after = a:nic("lan"):counters()
  t:assert(after.tx_packets - before.tx_packets >= 9, "a sent " .. (after.tx_packets - before.tx_packets) .. " frames")
  t:assert(after.rx_packets - before.rx_packets >= 9, "a received " .. (after.rx_packets - before.rx_packets) .. " frames")
  t:assert(after.tx_bytes > before.tx_bytes and after.rx_bytes > before.rx_bytes)
end)

test("a one-way partition stops traffic from a to b only", function(t)
  lan:reset()
  t:assert(ping(a, b).ok)
  lan:partition({ from = a, to = b })
  local at_a, at_b = a:nic("lan"):capture({ frames = true }), b:nic("lan"):capture({ frames = true })
  local dropped = a:nic("lan"):counters().dropped
  local p = ping(b, a, "-c 3 -W 2")
  t:assert_eq(p.received, 0, "a's replies must not reach b")
  local function delivered(cap, from)
    local n = 0
    for _, f in ipairs(cap:drain()) do if f.to ~= nil and f.from == from then n = n + 1 end end
    return n
  end
  t:assert(delivered(at_a, "b") >= 3, "b's requests reach a")
  t:assert_eq(delivered(at_b, "a"), 0, "nothing from a reaches b")
  t:assert(a:nic("lan"):counters().dropped > dropped, "the bridge counts a's dropped frames")
  at_a:close()
  at_b:close()
  lan:unpartition({ from = a, to = b })
  t:assert(ping(b, a).ok, "after unpartition")
  -- both ways, then partition_all / restore_all
  lan:partition(a, b)
  t:assert(not ping(a, b, "-c 1 -W 2").ok)
  lan:unpartition(a, b)
  lan:partition_all()
  t:assert(not ping(a, c, "-c 1 -W 2").ok)
  lan:restore_all()
  lan:isolate(b)
  t:assert(not ping(a, b, "-c 1 -W 2").ok)
  t:assert(ping(a, c, "-c 1 -W 5").ok, "isolating b leaves a and c talking")
  lan:unisolate(b)
  t:assert(ping(a, b).ok)
end)

test("add_latency adds the asked delay, within 20%, measured with ping", function(t)
  lan:reset()
  local base = ping(a, b, "-c 10 -i 0.2 -q")
  lan:add_latency({ from = a, to = b, ms = 50 })
  local slow = ping(a, b, "-c 10 -i 0.2 -q")
  lan:reset()
  t:assert(base.min and slow.min, base.out .. slow.out)
  -- The fastest of 10 round trips: a loaded host adds to some, never takes away.
  local added = slow.min - base.min
  t:log(string.format("rtt min %.2f -> %.2f ms (avg %.2f -> %.2f): +%.1f ms for 50 ms one way", base.min, slow.min, base.avg, slow.avg, added))
  t:assert(added >= 40 and added <= 60, "added " .. added .. " ms, asked 50")
end)

test("a 10% drop rate drops 5-15% of 1000 pings", function(t)
  lan:reset()
  lan:drop_rate({ from = a, to = b, p = 10 })
  local p = ping(a, b, "-c 1000 -i 0.01 -q -W 5")
  lan:reset()
  t:log(string.format("%d of %d answered: %.1f%% lost", p.received or -1, p.sent or -1, p.loss or -1))
  t:assert_eq(p.sent, 1000, p.out)
  t:assert(p.loss >= 5 and p.loss <= 15, "lost " .. tostring(p.loss) .. "%")
end)

test("a bandwidth limit holds within 20% for a 4 MiB transfer", function(t)
  lan:reset()
  local bps = 8000000
  lan:bandwidth_limit({ from = a, to = b, bps = bps })
  -- Timed at the receiver, from its first byte (busybox nc never half-closes).
  local recv = b:run_async("nc -l -p 5001 | { head -c 1 >/dev/null; s=$(cut -d' ' -f1 /proc/uptime);"
    .. " head -c 4194304 | wc -c; e=$(cut -d' ' -f1 /proc/uptime); echo $s $e; }")
  local send = a:run_async("sleep 0.5; dd if=/dev/zero bs=65536 count=65 2>/dev/null | nc " .. b:ip() .. " 5001")
  local r = recv:wait("60s")
  send:close()
  lan:reset()
  local got, s, e = r.stdout:match("(%d+)\n([%d.]+) ([%d.]+)")
  t:assert_eq(got, "4194304", "receiver said: " .. r.stdout .. r.stderr)
  local rate = 4 * 1024 * 1024 * 8 / (tonumber(e) - tonumber(s))
  t:log(string.format("4 MiB at %.2f Mbit/s (limit %.2f)", rate / 1e6, bps / 1e6))
  t:assert(rate >= bps * 0.8 and rate <= bps * 1.2, "rate " .. rate .. " bit/s")
end)

-- Classic pcap, read with string.unpack: the global header, then records.
local function read_pcap(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  local magic, major, minor, _, _, snaplen, linktype, pos = string.unpack("<I4I2I2i4I4I4I4", data)
  local frames = {}
  while pos <= #data do
    local _, _, incl, orig, p = string.unpack("<I4I4I4I4", data, pos)
    frames[#frames + 1] = { data = data:sub(p, p + incl - 1), orig = orig }
    pos = p + incl
  end
  return { magic = magic, version = major .. "." .. minor, snaplen = snaplen, linktype = linktype, frames = frames }
end

local function mac_bytes(mac) return (mac:gsub("(%x%x):?", function(h) return string.char(tonumber(h, 16)) end)) end

-- ICMP echo requests (type 8) or replies (0) from MAC `src` carrying `pattern`.
local function icmp_count(frames, src, icmp_type, pattern)
  local n = 0
  for _, f in ipairs(frames) do
    local d = f.data
    if d:sub(7, 12) == mac_bytes(src) and d:sub(13, 14) == "\8\0" and d:byte(24) == 1
      and d:byte(35) == icmp_type and d:find(pattern, 43, true) then n = n + 1 end
  end
  return n
end

test("a pcap capture opens with a pcap reader and holds the frames sent", function(t)
  lan:reset()
  local path = os.tmpname()
  local cap = lan:capture({ pcap = path })
  t:assert(ping(a, b, "-c 5 -i 0.2 -p ca -W 5").ok) -- payload: 0xca bytes
  t:assert(cap:close() >= 10)
  local pcap = read_pcap(path)
  t:assert_eq(string.format("%x", pcap.magic), "a1b2c3d4")
  t:assert_eq(pcap.version, "2.4")
  t:assert_eq(pcap.linktype, 1) -- Ethernet
  t:assert_eq(icmp_count(pcap.frames, a:nic(lan):mac(), 8, "\202\202\202\202"), 5)
  t:assert_eq(icmp_count(pcap.frames, b:nic(lan):mac(), 0, "\202\202\202\202"), 5)
  os.remove(path)
end)

test("a NIC capture streams what that guest sent and received", function(t)
  lan:reset()
  local cap = a:nic("lan"):capture({ frames = true })
  t:assert(ping(a, b, "-c 2 -p be -W 5").ok)
  local sent, got = 0, 0
  for _ = 1, 50 do
    local f = cap:next("5s")
    if f.from == "a" and icmp_count({ f }, a:nic(lan):mac(), 8, "\190\190\190") == 1 then sent = sent + 1 end
    if f.to == "a" and icmp_count({ f }, b:nic(lan):mac(), 0, "\190\190\190") == 1 then got = got + 1 end
    if sent == 2 and got == 2 then break end
  end
  cap:close()
  t:assert_eq(sent, 2)
  t:assert_eq(got, 2)
end)

test("disconnect() is seen by the guest as link down; reconnect() brings it back", function(t)
  lan:reset()
  local nic = a:nic("lan")
  nic:disconnect()
  local r = a:run("for d in /sys/class/net/*; do [ \"$(cat $d/address)\" = " .. nic:mac() .. " ] && cat $d/carrier; done")
  t:assert_eq(r.stdout, "0\n")
  t:assert(not ping(a, b, "-c 1 -W 2").ok)
  nic:reconnect()
  t:assert(ping(a, b, "-c 2 -W 5").received >= 1, "after reconnect")
  -- detach of a booted member pulls its cable the same way; attach plugs it back
  lan:detach(b)
  t:assert_eq(b:run("cat /sys/class/net/*/carrier | sort | head -1").stdout, "0\n")
  t:assert(not ping(a, b, "-c 1 -W 2").ok, "b is detached")
  lan:attach(b)
  t:assert(ping(a, b, "-c 2 -W 5").received >= 1, "b is attached again")
end)

test("the uplink: the gateway (the host side) answers only while it is enabled", function(t)
  lan:reset()
  local gw = lan:gateway()
  t:assert_eq(gw, "10.0.1.254")
  local function ping_gw() return a:run("/provium/bin/busybox ping -c 1 -W 5 " .. gw).exit_code == 0 end
  t:assert(not ping_gw(), "no uplink by default")
  lan:enable_uplink()
  t:assert(ping_gw(), "through the uplink")
  lan:disable_uplink()
  t:assert(not ping_gw(), "after disable_uplink")
end)

test("lab:snapshot/restore cover bridges: the rules come back and the restored lab talks", function(t)
  lan:reset()
  lan:partition({ from = a, to = b })
  local snap = provium:snapshot()
  lan:reset()
  t:assert(ping(a, b).ok)
  provium:restore(snap)
  t:assert(not ping(a, b, "-c 1 -W 2").ok, "the partition was restored")
  lan:unpartition({ from = a, to = b })
  t:assert(ping(a, b).ok, "restored a -> b")
  t:assert(ping(b, a).ok, "restored b -> a")
  t:assert(ping(c, a).ok, "restored debian c -> a")
  snap:delete()
end)

test("misuse says what is wrong", function(t)
  local d = provium:vm("d", "minimal")
  t:assert_contains(t:assert_raises(function() lan:partition({ from = a, to = d }) end), "partition: vm d is not attached to bridge lan")
  lan:attach(b) -- a member already: nothing changes
  t:assert_eq(#lan:members(), 3)
  local e = t:assert_raises(function() provium:bridge("late", {}):attach(a) end)
  t:assert_contains(e, "bridge late: vm a is already booted; attach VMs before they boot")
  t:assert_contains(t:assert_raises(function() lan:drop_rate(-1) end), "drop_rate: p must be a finite number >= 0, got -1")
  t:assert_contains(t:assert_raises(function() lan:add_latency({ from = a, ms = 5 }) end), "add_latency: the directional form needs `to`")
  t:assert_contains(t:assert_raises(function() lan:add_latency({ ms = 5, jiter = 1 }) end), "add_latency: unknown key 'jiter'")
  t:assert_contains(t:assert_raises(function() a:nic("nope") end), "no bridge named nope")
  t:assert_contains(t:assert_raises(function() provium:bridge("x", { subnet = "10.0.0.0" }) end), 'subnet must look like "10.0.1.0/24"')
  t:assert_contains(t:assert_raises(function() provium:bridge("x") end), "no bridge named x")
  t:assert_eq(d:ip(), nil)
end)
