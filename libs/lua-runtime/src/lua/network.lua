-- Bridges between guests (a userspace switch on the host, no root), their NICs and captures.
-- The host holds every bridge's state (host/bridges.ts); these objects check arguments.
local P = ...
local VM, Lab = P.VM, P.Lab

local Bridge = P.class("Bridge")
P.Bridge = Bridge
local Nic = P.class("Nic")
local Capture = P.class("Capture")
P.bridges = {} -- name -> Bridge, for the whole file
local bridge_list = {}

Bridge.__tostring = function(b) return "bridge(" .. b._name .. ", " .. b._subnet .. ")" end
Nic.__tostring = function(n) return "nic(" .. n._vm._name .. " on " .. n._bridge._name .. ")" end
Capture.__tostring = function(c) return "capture(" .. c._label .. ")" end

local function check_vm(v, what)
  if getmetatable(v) ~= VM then P.raise(what .. " must be a VM, got " .. P.repr(v)) end
  return v
end

-- lab:bridge(name, opts?): a new bridge (opts.subnet, default 10.0.N.0/24 for the file's N-th
-- bridge), or the file's bridge of that name.
function Lab:bridge(name, opts)
  P.check(name, "string", "bridge name")
  local b = P.bridges[name]
  if b then
    if opts ~= nil then P.raise("bridge '" .. name .. "' already exists: options are given when it is made") end
    return b
  end
  local subnet
  if opts ~= nil then
    P.check(opts, "table", "bridge options")
    for k in pairs(opts) do
      if k ~= "subnet" then P.raise("unknown bridge option '" .. tostring(k) .. "' (known: subnet)") end
    end
    if opts.subnet ~= nil then subnet = P.check(opts.subnet, "string", "subnet") end
  end
  local r = P.call("bridge.create", { name = name, subnet = subnet })
  b = setmetatable({ _id = r.id, _name = name, _subnet = r.subnet, _members = {} }, Bridge)
  P.bridges[name] = b
  bridge_list[#bridge_list + 1] = b
  return b
end

function Bridge:name() return self._name end
function Bridge:subnet() return self._subnet end

function Bridge:members()
  local out = {}
  for _, vm in ipairs(self._members) do out[#out + 1] = vm end
  return out
end

local function is_member(b, vm)
  for _, m in ipairs(b._members) do if m == vm then return true end end
  return false
end

-- attach(vm) or attach({vm, ...}): before the VMs boot.
function Bridge:attach(vms)
  if getmetatable(vms) == VM then vms = { vms } end
  P.check(vms, "table", "attach argument (a VM or a list of VMs)")
  local ids = {}
  for i, vm in ipairs(vms) do ids[i] = check_vm(vm, "attach item " .. i)._id end
  P.call("bridge.attach", { bridge = self._id, vms = ids })
  for _, vm in ipairs(vms) do
    if not is_member(self, vm) then self._members[#self._members + 1] = vm end
  end
  return self
end

-- Before boot the VM loses its NIC; after, its cable is pulled (attach plugs it back).
function Bridge:detach(vm)
  P.call("bridge.detach", { bridge = self._id, vm = check_vm(vm, "detach argument")._id })
  if vm:state() == "created" then
    for i, m in ipairs(self._members) do if m == vm then table.remove(self._members, i); break end end
  end
  return self
end

function Bridge:isolate(vm)
  P.call("bridge.isolate", { bridge = self._id, vm = check_vm(vm, "isolate argument")._id, on = true })
  return self
end

function Bridge:unisolate(vm)
  P.call("bridge.isolate", { bridge = self._id, vm = check_vm(vm, "unisolate argument")._id, on = false })
  return self
end

-- (a, b): both ways; ({from = a, to = b}): one way.
local function pairs_of(method, a, b)
  if getmetatable(a) == VM then
    check_vm(b, method .. "'s second argument")
    return { { a, b }, { b, a } }
  end
  if type(a) ~= "table" or b ~= nil then
    P.raise(method .. " takes (vm_a, vm_b) or ({from = vm, to = vm}), got " .. P.repr(a))
  end
  return { { check_vm(a.from, method .. " from"), check_vm(a.to, method .. " to") } }
end

function Bridge:partition(a, b)
  for _, p in ipairs(pairs_of("partition", a, b)) do
    P.call("bridge.partition", { bridge = self._id, from = p[1]._id, to = p[2]._id, on = true })
  end
  return self
end

function Bridge:unpartition(a, b)
  for _, p in ipairs(pairs_of("unpartition", a, b)) do
    P.call("bridge.partition", { bridge = self._id, from = p[1]._id, to = p[2]._id, on = false })
  end
  return self
end

function Bridge:partition_all() P.call("bridge.all", { bridge = self._id, what = "partition_all" }); return self end
function Bridge:restore_all() P.call("bridge.all", { bridge = self._id, what = "restore_all" }); return self end
function Bridge:reset() P.call("bridge.all", { bridge = self._id, what = "reset" }); return self end

-- An impairment: a number for the whole bridge, or a table with `key` (and from/to for one
-- direction: both or neither). `extra` is another key the table may have.
local function impair(b, method, v, key, extra, to_rule)
  local from, to, rule
  if type(v) == "number" then
    rule = to_rule(v, {})
  elseif type(v) == "table" then
    for k in pairs(v) do
      if k ~= "from" and k ~= "to" and k ~= key and k ~= extra then
        P.raise(method .. ": unknown key '" .. tostring(k) .. "' (known: from, to, " .. key .. (extra and ", " .. extra or "") .. ")")
      end
    end
    if (v.from == nil) ~= (v.to == nil) then P.raise(method .. ": give both from and to, or neither") end
    if v.from ~= nil then from, to = check_vm(v.from, method .. " from")._id, check_vm(v.to, method .. " to")._id end
    if type(v[key]) ~= "number" then P.raise(method .. ": " .. key .. " must be a number, got " .. P.repr(v[key])) end
    rule = to_rule(v[key], v)
  else
    P.raise(method .. " takes a number or a table {from =, to =, " .. key .. " =}, got " .. P.repr(v))
  end
  P.call("bridge.impair", { bridge = b._id, from = from, to = to, rule = rule })
  return b
end

-- add_latency(ms) or ({from, to, ms, jitter}): one-way delay added to every frame.
function Bridge:add_latency(v)
  return impair(self, "add_latency", v, "ms", "jitter", function(ms, t)
    if ms < 0 then P.raise("add_latency: ms must be >= 0, got " .. ms) end
    local jitter = t.jitter
    if jitter ~= nil and (type(jitter) ~= "number" or jitter < 0) then P.raise("add_latency: jitter must be a number of ms >= 0, got " .. P.repr(jitter)) end
    return { delayMs = ms, jitterMs = jitter or 0 }
  end)
end

-- drop_rate(p) or ({from, to, p}): p is a probability (0 to 1); above 1, a percentage (to 100).
function Bridge:drop_rate(v)
  return impair(self, "drop_rate", v, "p", nil, function(p)
    if p < 0 or p > 100 then P.raise("drop_rate: p must be a probability from 0 to 1 (or a percentage up to 100), got " .. p) end
    return { dropRate = p > 1 and p / 100 or p }
  end)
end

-- bandwidth_limit(bps) or ({from, to, bps}): bits per second of Ethernet frames; 0 lifts it.
function Bridge:bandwidth_limit(v)
  return impair(self, "bandwidth_limit", v, "bps", nil, function(bps)
    if bps < 0 then P.raise("bandwidth_limit: bps must be >= 0, got " .. bps) end
    return { bps = bps }
  end)
end

-- The way out to the host's network (QEMU user networking behind a helper QEMU). Members that
-- run get a default route through its gateway; ones booted later add it themselves.
function Bridge:enable_uplink()
  P.call("bridge.uplink", { bridge = self._id, on = true })
  local gw = P.call("bridge.gateway", { bridge = self._id })
  for _, vm in ipairs(self._members) do
    if vm:state() == "booted" then
      vm:run("/provium/bin/busybox ip route replace default via " .. gw):assert_ok("enable_uplink: default route in " .. vm._name)
    end
  end
  return self
end

function Bridge:disable_uplink()
  P.call("bridge.uplink", { bridge = self._id, on = false })
  return self
end

function Bridge:gateway() return P.call("bridge.gateway", { bridge = self._id }) end

-- Captures --------------------------------------------------------------------------------
local function new_capture(b, vm, opts, label)
  local pcap
  if opts ~= nil then
    P.check(opts, "table", "capture options")
    for k in pairs(opts) do
      if k ~= "pcap" then P.raise("unknown capture option '" .. tostring(k) .. "' (known: pcap)") end
    end
    if opts.pcap ~= nil then
      pcap = P.check(opts.pcap, "string", "pcap path")
      if pcap == "" then P.raise("pcap path must not be empty") end
      if pcap:sub(1, 1) ~= "/" then pcap = P.caller_dir() .. "/" .. pcap end
    end
  end
  local id = P.call("capture.open", { bridge = b._id, vm = vm and vm._id, pcap = pcap })
  local c = setmetatable({ _id = id, _label = label, _pcap = pcap, _frames = {}, _closed = false }, Capture)
  P.on_scope_end(function() c:close() end, "stream")
  return c
end

-- capture(): every frame that enters the bridge, once; capture({pcap = path}): into a pcap file.
function Bridge:capture(opts)
  return new_capture(self, nil, opts, "bridge " .. self._name)
end

-- The next frame, as {data, from, to, time}: waits up to `timeout` (default 30 s) and raises
-- if none comes; nil once closed and read.
function Capture:next(timeout)
  if self._pcap then P.raise("this capture writes " .. self._pcap .. ": read the file after close()") end
  if #self._frames == 0 and not self._closed then
    local secs = timeout == nil and 30 or P.duration(timeout, "timeout")
    local got = P.call("capture.next", { capture = self._id, timeout = secs })
    if #got == 0 then P.raise("capture:next timed out (" .. self._label .. ")") end
    for _, f in ipairs(got) do self._frames[#self._frames + 1] = f end
  end
  return table.remove(self._frames, 1)
end

-- Every frame captured so far, without waiting.
function Capture:drain()
  if self._pcap then P.raise("this capture writes " .. self._pcap .. ": read the file after close()") end
  local out = self._frames
  self._frames = {}
  if not self._closed then
    for _, f in ipairs(P.call("capture.next", { capture = self._id, timeout = 0 })) do out[#out + 1] = f end
  end
  return out
end

function Capture:path() return self._pcap end

-- Stops capturing (idempotent); a pcap file is complete after it. Returns the frames written
-- to the file (pcap) or dropped because nobody read them (a stream holds up to 16 MiB).
function Capture:close()
  if self._closed then return 0 end
  self._closed = true
  local r = P.call("capture.close", { capture = self._id })
  -- A pcap written during a test goes onto its report (--html), as t:attach would put it.
  -- (its path is already the host's: relative to the runner's directory, or absolute)
  if self._pcap and P.current_test then
    P.call("test.attach", { test = P.current_test.name, name = self._pcap:match("[^/]*$"), path = self._pcap, dir = "." })
  end
  return self._pcap and r.frames or r.lost
end

-- NICs ------------------------------------------------------------------------------------
local function bridge_of(x, what)
  if getmetatable(x) == Bridge then return x end
  P.check(x, "string", what)
  local b = P.bridges[x]
  if not b then P.raise("no bridge named " .. x) end
  return b
end

-- vm:nic(bridge): this VM's NIC on that bridge (a Bridge or its name).
function VM:nic(name)
  local b = bridge_of(name, "nic name (a bridge or its name)")
  local info = P.call("nic.info", { bridge = b._id, vm = self._id })
  return setmetatable({ _vm = self, _bridge = b, _mac = info.mac, _ip = info.address }, Nic)
end

-- vm:ip(bridge?): its address on that bridge, or on its first; nil when on none.
function VM:ip(bridge)
  local b = bridge ~= nil and bridge_of(bridge, "bridge") or nil
  return P.call("vm.ip", { vm = self._id, bridge = b and b._id })
end

function Nic:mac() return self._mac end
function Nic:ip() return self._ip end

-- rx/tx from the guest's side, as `ip -s link` counts: rx_packets, rx_bytes, tx_packets,
-- tx_bytes, dropped.
function Nic:counters()
  return P.call("nic.counters", { bridge = self._bridge._id, vm = self._vm._id })
end

-- What this NIC sent and what it was delivered, as tcpdump on its interface would see.
function Nic:capture(opts)
  return new_capture(self._bridge, self._vm, opts, "nic of " .. self._vm._name .. " on " .. self._bridge._name)
end

-- Waits (up to 5 s) until the guest sees the link `want` ("up" or "down"), by its MAC.
local function await_operstate(nic, want)
  local cmd = "i=0; while [ $i -lt 50 ]; do for d in /sys/class/net/*; do"
    .. " [ \"$(cat $d/address)\" = " .. nic._mac .. " ] && [ \"$(cat $d/operstate)\" = " .. want .. " ] && exit 0; done;"
    .. " sleep 0.1; i=$((i + 1)); done; exit 1"
  local r = nic._vm:run(cmd)
  if r.exit_code ~= 0 then P.raise("the guest did not see its link " .. want .. " within 5 s (" .. tostring(nic) .. ")") end
end

-- The cable is pulled: the guest sees its link down (QMP set_link). Returns once it does.
function Nic:disconnect()
  P.call("nic.link", { bridge = self._bridge._id, vm = self._vm._id, up = false })
  await_operstate(self, "down")
  return self
end

function Nic:reconnect()
  P.call("nic.link", { bridge = self._bridge._id, vm = self._vm._id, up = true })
  await_operstate(self, "up")
  return self
end

-- Lab snapshots cover the bridges their VMs are on (members plugged in or not, rules) ------
function P.save_bridges(vm_ids)
  local in_lab = {}
  for _, id in ipairs(vm_ids) do in_lab[id] = true end
  local ids = {}
  for _, b in ipairs(bridge_list) do
    for _, vm in ipairs(b._members) do
      if in_lab[vm._id] then ids[#ids + 1] = b._id; break end
    end
  end
  if #ids == 0 then return nil end
  return P.call("bridge.save", { bridges = ids })
end

function P.load_bridges(states)
  if states then P.call("bridge.load", { states = states }) end
end
