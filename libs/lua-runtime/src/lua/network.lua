-- Bridges between guests (a userspace switch on the host, no root), their NICs and captures.
-- The host holds every bridge's state (host-runtime's bridges.ts); these objects check
-- arguments. Members are named: a VM, or a name (graph state, as the established API allows).
local P = ...
local VM, Lab = P.VM, P.Lab

local Bridge = P.class("Bridge")
P.Bridge = Bridge
local Nic = P.class("Nic")
local Capture = P.class("Capture")
P.bridges = {} -- name -> Bridge, for the whole file (names are unique in a file)

Bridge.__tostring = function(b) return "bridge(" .. b._name .. ", " .. b._subnet .. ")" end
Nic.__tostring = function(n) return "nic(" .. n._name .. " on " .. n._bridge._name .. ")" end
Capture.__tostring = function(c) return "capture(" .. c._label .. ")" end

-- A member as the host takes it: a VM by id, or a name.
local function ref(x, what)
  if getmetatable(x) == VM then return x._id end
  if type(x) == "string" then return x end
  P.raise(what .. " must be a VM or a VM's name, got " .. type(x) .. (x ~= nil and (" (" .. P.repr(x) .. ")") or ""))
end

-- The VM named `name` in `lab` or its sub-labs.
local function find_vm(lab, name)
  local m = rawget(lab, "_members")[name]
  if getmetatable(m) == VM then return m end
  for _, sub in ipairs(rawget(lab, "_order")) do
    if getmetatable(sub) == Lab then
      local v = find_vm(sub, name)
      if v then return v end
    end
  end
end

-- A name attach() gives a NIC to: the VM of that name in the bridge's lab (or the file's), if any.
local function vm_named(b, name)
  return find_vm(b._lab, name) or (b._lab ~= provium and find_vm(provium, name)) or nil
end

-- provium:bridge(name, opts) creates a bridge (opts.subnet, default 10.0.N.0/24 for the file's
-- N-th bridge); provium:bridge(name) finds one. Made inside a test, it goes at the test's end.
function Lab:bridge(name, opts, ...)
  P.check(name, "string", "bridge name")
  if opts == nil and select("#", ...) == 0 then
    local b = P.bridges[name]
    if not b then P.raise("no bridge named " .. name .. " (make it with provium:bridge(" .. P.repr(name) .. ", {}))") end
    return b
  end
  P.check(opts, "table", "bridge options")
  for k in pairs(opts) do
    if k ~= "subnet" then P.raise("unknown bridge option '" .. tostring(k) .. "' (known: subnet)") end
  end
  local subnet = opts.subnet ~= nil and P.check(opts.subnet, "string", "subnet") or nil
  P.check_member_name(name)
  local old = P.bridges[name]
  if old then
    P.raise("bridge name '" .. name .. "' is already used in this file" .. (old._in_test and "" or " (made at the file's top level: provium:bridge(" .. P.repr(name) .. ") finds it)"))
  end
  P.check_free_name(self, name, "bridge", self._name .. ":bridge(\"" .. name .. "\")")
  local r = P.call("bridge.create", { name = name, subnet = subnet })
  local b = setmetatable({ _id = r.id, _name = name, _subnet = r.subnet, _lab = self, _in_test = P.in_test_scope() }, Bridge)
  P.bridges[name] = b
  self:include(b) -- a member of the lab that made it: lab.NAME, lab:members(), lab snapshots
  if b._in_test then P.on_scope_end(function() b:_release() end, "other") end
  return b
end

function Bridge:_release()
  P.bridges[self._name] = nil
  self._lab:remove(self)
  P.call("bridge.dispose", { bridge = self._id })
end

function Bridge:name() return self._name end
function Bridge:subnet() return self._subnet end

-- The members' names, sorted, each once.
function Bridge:members()
  return P.call("bridge.members", { bridge = self._id })
end

-- attach(vm | name | {vm or name, ...}): before the VMs boot. Every entry is checked before any
-- is attached; a name of a VM in the lab attaches that VM.
function Bridge:attach(x)
  local list = (type(x) == "table" and getmetatable(x) == nil) and x or { x }
  local refs = {}
  for i, v in ipairs(list) do
    refs[i] = ref(v, "attach item " .. i)
    if type(v) == "string" then
      local vm = vm_named(self, v)
      if vm then refs[i] = vm._id end
    end
  end
  if #refs == 0 then P.raise("attach takes a VM, a name or a list of them, got " .. P.repr(x)) end
  P.call("bridge.attach", { bridge = self._id, members = refs })
  return self
end

-- Leaves the bridge with its partitions and isolation. Before boot a VM loses its NIC; after,
-- its cable is pulled (attach plugs it back).
function Bridge:detach(x)
  P.call("bridge.detach", { bridge = self._id, member = ref(x, "detach argument") })
  return self
end

function Bridge:isolate(x)
  P.call("bridge.isolate", { bridge = self._id, member = ref(x, "isolate argument"), on = true })
  return self
end

function Bridge:unisolate(x)
  P.call("bridge.isolate", { bridge = self._id, member = ref(x, "unisolate argument"), on = false })
  return self
end

function Bridge:is_isolated(x)
  return P.call("bridge.is_isolated", { bridge = self._id, member = ref(x, "is_isolated argument") })
end

-- (a, b): the pair, both ways; ({from = a, to = b}): one way, between attached members.
local function partition_args(method, a, b)
  if type(a) == "table" and getmetatable(a) == nil and b == nil then
    for k in pairs(a) do
      if k ~= "from" and k ~= "to" then P.raise(method .. ": unknown key '" .. tostring(k) .. "' (known: from, to)") end
    end
    if a.from == nil then P.raise(method .. ": needs `from` (the one-way form is {from = a, to = b})") end
    if a.to == nil then P.raise(method .. ": needs `to` (the one-way form is {from = a, to = b})") end
    return ref(a.from, method .. " from"), ref(a.to, method .. " to"), true
  end
  if a == nil or b == nil then P.raise(method .. " takes (a, b) or ({from = a, to = b}), got " .. P.repr(a) .. ", " .. P.repr(b)) end
  return ref(a, method .. "'s first argument"), ref(b, method .. "'s second argument"), false
end

function Bridge:partition(a, b)
  local x, y, one_way = partition_args("partition", a, b)
  P.call("bridge.partition", { bridge = self._id, a = x, b = y, on = true, one_way = one_way })
  return self
end

function Bridge:unpartition(a, b)
  local x, y, one_way = partition_args("unpartition", a, b)
  P.call("bridge.partition", { bridge = self._id, a = x, b = y, on = false, one_way = one_way })
  return self
end

-- True when the pair is cut both ways (partition(a, b)) or the whole bridge is; a one-way
-- partition is not reported.
function Bridge:is_partitioned(a, b)
  return P.call("bridge.is_partitioned", { bridge = self._id, a = ref(a, "is_partitioned's first argument"), b = ref(b, "is_partitioned's second argument") })
end

function Bridge:partition_all() P.call("bridge.all", { bridge = self._id, what = "partition_all" }); return self end
-- Undoes partition_all only: pairs cut and isolation stay.
function Bridge:restore_all() P.call("bridge.all", { bridge = self._id, what = "restore_all" }); return self end
-- No impairment and no partition; isolation, routes and the uplink stay.
function Bridge:reset() P.call("bridge.all", { bridge = self._id, what = "reset" }); return self end

-- A magnitude: a finite number >= 0, else an error naming the call and the key.
local function magnitude(method, key, v)
  if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
    P.raise(method .. ": " .. key .. " must be a finite number >= 0, got " .. P.repr(v))
  end
  return v
end

-- An impairment: a number for the whole bridge, or a table with `key` (and from/to for one
-- direction; without both, the whole bridge). `extra` is another key the table may have.
-- Everything is checked before anything changes.
local function impair(b, method, v, key, extra, to_rule)
  local from, to, rule
  if type(v) == "number" then
    rule = to_rule(magnitude(method, key, v), {})
  elseif type(v) == "table" then
    for k in pairs(v) do
      if k ~= "from" and k ~= "to" and k ~= key and k ~= extra then
        P.raise(method .. ": unknown key '" .. tostring(k) .. "' (known: from, to, " .. key .. (extra and ", " .. extra or "") .. ")")
      end
    end
    local directional = v.from ~= nil or v.to ~= nil
    if directional then
      if v.from == nil then P.raise(method .. ": the directional form needs `from`") end
      if v.to == nil then P.raise(method .. ": the directional form needs `to`") end
      from, to = ref(v.from, method .. " from"), ref(v.to, method .. " to")
    end
    if v[key] == nil then P.raise(method .. ": " .. (directional and "the directional form " or "") .. "needs `" .. key .. "`") end
    rule = to_rule(magnitude(method, key, v[key]), v)
  else
    P.raise(method .. " takes a number or a table {from =, to =, " .. key .. " =}, got " .. P.repr(v))
  end
  P.call("bridge.impair", { bridge = b._id, op = method, from = from, to = to, rule = rule })
  return b
end

local function latency_rule(method)
  return function(ms, t)
    local jitter = t.jitter
    if jitter ~= nil then magnitude(method, "jitter", jitter) end
    return { delayMs = ms, jitterMs = jitter or 0 }
  end
end

-- A percentage, clamped to 100.
local function drop_rule(p) return { dropRate = math.min(p, 100) / 100 } end

-- add_latency(ms) or ({from, to, ms, jitter}): one-way delay added to every frame.
function Bridge:add_latency(v)
  return impair(self, "add_latency", v, "ms", "jitter", latency_rule("add_latency"))
end

-- drop_rate(p) or ({from, to, p}): p is a percentage (0 to 100; more is 100).
function Bridge:drop_rate(v)
  return impair(self, "drop_rate", v, "p", nil, drop_rule)
end

-- bandwidth_limit(bps) or ({from, to, bps}): bits per second of Ethernet frames; 0 lifts it.
function Bridge:bandwidth_limit(v)
  return impair(self, "bandwidth_limit", v, "bps", nil, function(bps) return { bps = bps } end)
end

-- The established directional spellings: a table with from, to and the magnitude, always.
local function directional(method, key, v)
  P.check(v, "table", method .. " argument")
  if v.from == nil then P.raise(method .. ": needs `from`") end
  if v.to == nil then P.raise(method .. ": needs `to`") end
  if v[key] == nil then P.raise(method .. ": needs `" .. key .. "`") end
  return v
end

function Bridge:add_directional_latency(v)
  return impair(self, "add_directional_latency", directional("add_directional_latency", "ms", v), "ms", "jitter", latency_rule("add_directional_latency"))
end

function Bridge:directional_drop_rate(v)
  return impair(self, "directional_drop_rate", directional("directional_drop_rate", "p", v), "p", nil, drop_rule)
end

-- The whole-bridge settings (0: none).
local function setting(b, key)
  local v = P.call("bridge.settings", { bridge = b._id })[key]
  return math.tointeger(v) or v
end
function Bridge:latency_ms() return setting(self, "latency_ms") end
function Bridge:drop_rate_pct() return setting(self, "drop_rate_pct") end
function Bridge:bandwidth_bps() return setting(self, "bandwidth_bps") end

-- route(bridge | name | {list}): records that this bridge may reach those (routes() lists
-- them). As in the established implementation, no frame is routed between bridges.
function Bridge:route(x)
  local list = (type(x) == "table" and getmetatable(x) == nil) and x or { x }
  local names = {}
  for i, v in ipairs(list) do
    if getmetatable(v) == Bridge then names[i] = v._name
    elseif type(v) == "string" then names[i] = v
    else P.raise("route item " .. i .. " must be a bridge or a bridge's name, got " .. type(v) .. (v ~= nil and (" (" .. P.repr(v) .. ")") or "")) end
  end
  if #names == 0 then P.raise("route takes a bridge, a name or a list of them, got " .. P.repr(x)) end
  P.call("bridge.route", { bridge = self._id, to = names })
  return self
end

function Bridge:routes()
  return P.call("bridge.routes", { bridge = self._id })
end

-- The way out to the host's network (QEMU user networking behind a helper QEMU). Members that
-- run get a default route through its gateway; ones booted later add it themselves.
function Bridge:enable_uplink()
  P.call("bridge.uplink", { bridge = self._id, on = true })
  local gw = P.call("bridge.gateway", { bridge = self._id })
  for _, name in ipairs(self:members()) do
    local vm = vm_named(self, name)
    if vm and vm:state() == "booted" then
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
-- capture(): a Stream of the bytes of a pcap file (what `tcpdump -w -` writes);
-- capture({pcap = path}): into a pcap file; capture({frames = true}): frame by frame.
local capture_source = {
  read = function(s, timeout_ms) return P.call("capture.read", { capture = s._handle, timeout_ms = timeout_ms }) end,
  close = function(s) pcall(P.call, "capture.close", { capture = s._handle }) end,
}

local function new_capture(owner, b, member, opts, label)
  if opts == nil then
    local id = P.call("capture.open", { bridge = b._id, member = member, stream = true })
    return P.new_stream(owner, id, "capture of " .. label, capture_source)
  end
  P.check(opts, "table", "capture options")
  for k in pairs(opts) do
    if k ~= "pcap" and k ~= "frames" then P.raise("unknown capture option '" .. tostring(k) .. "' (known: pcap, frames)") end
  end
  local pcap
  if opts.pcap ~= nil then
    if opts.frames then P.raise("capture: give pcap or frames, not both") end
    pcap = P.check(opts.pcap, "string", "pcap path")
    if pcap == "" then P.raise("pcap path must not be empty") end
    if pcap:sub(1, 1) ~= "/" then pcap = P.caller_dir() .. "/" .. pcap end
  elseif opts.frames ~= true then
    P.raise("capture options: give pcap = path or frames = true (no options: a stream of pcap bytes)")
  end
  local id = P.call("capture.open", { bridge = b._id, member = member, pcap = pcap })
  local c = setmetatable({ _id = id, _label = label, _pcap = pcap, _frames = {}, _closed = false }, Capture)
  P.on_scope_end(function() c:close() end, "stream")
  return c
end

function Bridge:capture(opts)
  return new_capture(self, self, nil, opts, "bridge " .. self._name)
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

local function new_nic(b, vm, name)
  return setmetatable({ _bridge = b, _vm = vm, _name = name }, Nic)
end

-- bridge:nic(vm | name): that member's NIC on this bridge.
function Bridge:nic(x)
  if getmetatable(x) == VM then return new_nic(self, x, x._name) end
  P.check(x, "string", "nic argument (a VM or its name)")
  return new_nic(self, vm_named(self, x), x)
end

-- vm:nic(bridge | "ethN"): this VM's NIC on that bridge (a Bridge or its name), or its N-th
-- NIC, counting its bridges by name (the order of its NICs, so the guest's ethN).
function VM:nic(x)
  local b
  if getmetatable(x) == Bridge then b = x
  else
    P.check(x, "string", "nic name (a bridge, its name or a guest interface like eth0)")
    b = P.bridges[x]
    local n = not b and tonumber(x:match("^eth(%d+)$"))
    if n then
      local name = P.call("nic.of_vm", { vm = self._id })[n + 1]
      b = name and P.bridges[name]
    end
    if not b then
      P.raise("vm:nic: no NIC " .. x .. " on vm " .. self._name .. " (no bridge named " .. x .. (n and "" or ", and not a guest interface like eth0") .. ")")
    end
  end
  if not P.call("nic.info", { bridge = b._id, member = self._id }).member then
    P.raise("vm:nic: vm " .. self._name .. " has no NIC on bridge " .. b._name .. " (attach it first)")
  end
  return new_nic(b, self, self._name)
end

-- vm:ip(bridge?): its address on that bridge, or on its first; nil when on none.
function VM:ip(bridge)
  local b = bridge ~= nil and bridge_of(bridge, "bridge") or nil
  return P.call("vm.ip", { vm = self._id, bridge = b and b._id })
end

local function member_of(nic) return nic._vm and nic._vm._id or nic._name end
local function info(nic) return P.call("nic.info", { bridge = nic._bridge._id, member = member_of(nic) }) end

function Nic:vm_name() return self._name end
function Nic:bridge() return self._bridge._name end
function Nic:mac() return info(self).mac end
function Nic:ip() return info(self).address end

-- rx/tx from the guest's side, as `ip -s link` counts: rx_packets, rx_bytes, tx_packets,
-- tx_bytes, errors (frames the bridge refused), dropped. Zeros for a name with no VM.
function Nic:counters()
  return P.call("nic.counters", { bridge = self._bridge._id, member = member_of(self) })
end

-- The bytes of a pcap file (or, with options, as Bridge:capture) of what this NIC sent and
-- what was delivered to it: what tcpdump on its interface would see. Only once it booted.
function Nic:capture(opts)
  return new_capture(self, self._bridge, member_of(self), opts, "nic of " .. self._name .. " on " .. self._bridge._name)
end

-- Waits (up to 5 s) until the guest sees the link `want` ("up" or "down"), by its MAC.
local function await_operstate(nic, mac, want)
  local cmd = "i=0; while [ $i -lt 50 ]; do for d in /sys/class/net/*; do"
    .. " [ \"$(cat $d/address)\" = " .. mac .. " ] && [ \"$(cat $d/operstate)\" = " .. want .. " ] && exit 0; done;"
    .. " sleep 0.1; i=$((i + 1)); done; exit 1"
  local r = nic._vm:run(cmd)
  if r.exit_code ~= 0 then P.raise("the guest did not see its link " .. want .. " within 5 s (" .. tostring(nic) .. ")") end
end

-- The cable is pulled: a running guest sees its link down (QMP set_link), and this returns
-- once it does. A VM not running (or a name) leaves the bridge instead, as detach().
function Nic:disconnect()
  local i = info(self)
  if i.state ~= "booted" and i.state ~= "paused" then return self._bridge:detach(self._vm or self._name) and self end
  P.call("nic.link", { bridge = self._bridge._id, member = member_of(self), up = false })
  if i.state == "booted" then await_operstate(self, i.mac, "down") end
  return self
end

function Nic:reconnect()
  local i = info(self)
  if i.state ~= "booted" and i.state ~= "paused" then return self._bridge:attach(self._vm or self._name) and self end
  P.call("nic.link", { bridge = self._bridge._id, member = member_of(self), up = true })
  if i.state == "booted" then await_operstate(self, i.mac, "up") end
  return self
end

-- lab:restore: the bridge a lab snapshot names, as the file has it, or made anew in `lab`
-- (its subnet as it was). The restore then puts its members and rules back.
function P.bridge_for_restore(lab, name, subnet)
  return P.bridges[name] or lab:bridge(name, { subnet = subnet })
end
