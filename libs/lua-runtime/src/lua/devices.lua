-- The hypervisor side of a VM: its serial console, its wall clock, power (reset, the power
-- button) and disks plugged in while it runs. The host holds the state; these objects check
-- arguments and shape results.
local P = ...
local VM = P.VM

-- Console ----------------------------------------------------------------------------------
local Console = P.class("Console")
P.Console = Console
Console.__tostring = function(c) return "Console(" .. c._vm._name .. ")" end

local console_source = {
  read = function(s, timeout_ms) return P.call("console.read", { handle = s._handle, timeout_ms = timeout_ms }) end,
  close = function(s) pcall(function() P.call("console.close", { handle = s._handle }) end) end,
}

local function console_stream(vm, label)
  return P.new_stream(vm, P.call("console.open", { vm = vm._id }), label, console_source)
end

-- vm:console(): expect() sees what the guest prints from this call on.
function VM:console()
  local c = setmetatable({ _vm = self, _closed = false }, Console)
  c._stream = console_stream(self, "console of vm " .. self._name)
  return c
end

-- A stream of what the guest prints from now on (next, read_until, expect, drain, close).
function Console:read()
  return console_stream(self._vm, "console of vm " .. self._vm._name)
end

-- Everything the guest printed since QEMU started (the firmware's output included), as bytes.
function Console:read_log()
  return P.call("console.log", { vm = self._vm._id })
end

-- Sends bytes to the guest's serial port. opts.timeout: how long the guest may take to read them.
function Console:write(data, opts)
  P.check(data, "string", "console data")
  local timeout
  if opts ~= nil then
    P.check(opts, "table", "console:write options")
    for k in pairs(opts) do
      if k == "timeout_ms" then P.raise("console:write takes timeout (a duration: seconds or \"500ms\"), not timeout_ms") end
      if k ~= "timeout" then P.raise("unknown console:write option '" .. tostring(k) .. "' (known: timeout)") end
    end
    if opts.timeout ~= nil then
      timeout = P.duration(opts.timeout, "timeout")
      if timeout <= 0 then P.raise("timeout must be greater than zero") end
    end
  end
  P.call("console.write", { vm = self._vm._id, data = data, timeout = timeout })
  return self
end

-- Waits for `pattern` (a plain substring) in what the guest printed since vm:console() (or the
-- last expect); returns the text up to and including it. Raises naming the pattern on timeout.
function Console:expect(pattern, timeout)
  P.check(pattern, "string", "pattern")
  if self._closed then P.raise("console of vm " .. self._vm._name .. " is closed") end
  return self._stream:expect(pattern, timeout)
end

function Console:close()
  if self._closed then return end
  self._closed = true
  self._stream:close()
end

-- Clock --------------------------------------------------------------------------------------
local Clock = P.class("Clock")
P.Clock = Clock
Clock.__tostring = function(c) return "Clock(" .. c._vm._name .. ")" end

function VM:clock()
  return setmetatable({ _vm = self }, Clock)
end

local function clock_call(op, clock, ns)
  return P.call("guest", { target = clock._vm:_target(), op = op, args = { ns = ns } })
end

-- The guest's wall clock: seconds since the epoch (a float), or ns (an integer).
function Clock:get() return clock_call("clock_get", self) / 1e9 end
function Clock:get_ns() return clock_call("clock_get", self) end

local function finite(v, what)
  if type(v) ~= "number" then P.raise(what .. " must be a number, got " .. type(v)) end
  if v ~= v or v == math.huge or v == -math.huge then P.raise(what .. " must be a finite number, got " .. tostring(v)) end
  if v < 0 then P.raise(what .. " must not be before 1970 (got " .. tostring(v) .. ")") end
  return v
end

function Clock:set(t)
  local s = finite(t, "clock:set time (seconds since the epoch)")
  local whole = math.floor(s)
  clock_call("clock_set", self, whole * 1000000000 + math.floor((s - whole) * 1e9 + 0.5))
  return self
end

function Clock:set_ns(ns)
  if math.type(ns) ~= "integer" then P.raise("clock:set_ns wants an integer number of ns, got " .. tostring(ns)) end
  finite(ns, "clock:set_ns time")
  clock_call("clock_set", self, ns)
  return self
end

-- Moves the guest's time forward by a duration (seconds or "5s"), in the guest in one step.
function Clock:advance(d)
  local s = P.duration(d, "clock:advance duration")
  clock_call("clock_advance", self, math.floor(s * 1e9 + 0.5))
  return self
end

-- Guest time flows at the host's rate, so sleeping is the host's.
function Clock:sleep(d)
  P.call("clock.sleep", { seconds = P.duration(d, "clock:sleep duration") })
  return self
end

-- Boot options -------------------------------------------------------------------------------

-- vm:boot(opts): host paths of `files` and `shares` are relative to the calling file, agent_timeout is a
-- duration; the host checks the rest (and names unknown options).
function P.boot_options(opts)
  P.check(opts, "table", "boot options")
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  if opts.files ~= nil then
    P.check(opts.files, "table", "boot option files")
    out.files = {}
    for guest, host in pairs(opts.files) do
      if type(guest) ~= "string" or guest:sub(1, 1) ~= "/" then P.raise("boot option files: keys are absolute guest paths, got " .. P.repr(guest)) end
      if type(host) ~= "string" then P.raise("boot option files[\"" .. guest .. "\"] must be a host path (a string), got " .. type(host)) end
      out.files[guest] = host:sub(1, 1) == "/" and host or (P.caller_dir() .. "/" .. host)
    end
  end
  -- shares: { ["/mnt/src"] = "../src" } or { ["/mnt/src"] = { path = "../src", readonly = true } }
  if type(opts.shares) == "table" then
    local rel = function(h) return (type(h) == "string" and h:sub(1, 1) ~= "/") and (P.caller_dir() .. "/" .. h) or h end
    out.shares = {}
    for guest, spec in pairs(opts.shares) do
      if type(spec) == "table" then
        local copy = {}
        for k, v in pairs(spec) do copy[k] = v end
        copy.path = rel(spec.path)
        out.shares[guest] = copy
      else
        out.shares[guest] = rel(spec)
      end
    end
  end
  if opts.agent_timeout ~= nil then
    out.agent_timeout = P.duration(opts.agent_timeout, "boot option agent_timeout")
    if out.agent_timeout <= 0 then P.raise("boot option agent_timeout must be greater than zero") end
  end
  return out
end

-- Power -------------------------------------------------------------------------------------

-- Reboots the guest in place (same machine, disks stay attached); returns once its agent answers.
function VM:reset()
  P.call("vm.reset", { vm = self._id })
  return self
end

-- Presses the ACPI power button; returns once the guest powered off (state "shutdown").
function VM:power_button(timeout)
  P.call("vm.power_button", { vm = self._id, timeout = timeout ~= nil and P.duration(timeout, "timeout") or nil })
  return self
end

-- Disks -------------------------------------------------------------------------------------
local Disk = P.class("Disk")
P.Disk = Disk
Disk.__tostring = function(d) return "Disk(" .. d._id .. " on " .. d._vm._name .. ")" end

local disk_keys = { size = true, path = true, readonly = true, id = true }

-- attach_disk({size = "64M"}) or attach_disk({path = "img.raw", readonly = true}), optionally
-- with id; returns the disk once the guest sees it (disk:device() is its /dev path there).
function VM:attach_disk(spec)
  P.check(spec, "table", "attach_disk spec")
  for k in pairs(spec) do
    if not disk_keys[k] then P.raise("unknown attach_disk key '" .. tostring(k) .. "' (known: size, path, readonly, id)") end
  end
  if (spec.size == nil) == (spec.path == nil) then P.raise("attach_disk: give size (a new empty disk) or path (an image on the host)") end
  if spec.size ~= nil and type(spec.size) ~= "number" and type(spec.size) ~= "string" then
    P.raise("attach_disk size must be bytes or a string like \"64M\", got " .. type(spec.size))
  end
  local path = spec.path
  if path ~= nil then
    P.check(path, "string", "attach_disk path")
    if path:sub(1, 1) ~= "/" then path = P.caller_dir() .. "/" .. path end
  end
  if spec.readonly ~= nil then P.check(spec.readonly, "boolean", "attach_disk readonly") end
  if spec.id ~= nil then P.check(spec.id, "string", "attach_disk id") end
  local r = P.call("disk.attach", { vm = self._id, spec = { size = spec.size, path = path, readonly = spec.readonly, id = spec.id } })
  return setmetatable({ _vm = self, _id = r.id, _device = r.device }, Disk)
end

-- The disk attached with that id (attach_disk's, or a profile's disk1, disk2, ...).
function VM:disk(id)
  P.check(id, "string", "disk id")
  local info = P.call("disk.info", { vm = self._id, id = id })
  if info == nil then P.raise("no disk '" .. id .. "' on vm " .. self._name) end
  return setmetatable({ _vm = self, _id = info.id, _device = info.device }, Disk)
end

-- The arguments of a disk's host ops: which VM and disk, and more.
local function disk_args(d, more)
  more = more or {}
  more.vm, more.id = d._vm._id, d._id
  return more
end

function Disk:id() return self._id end
function Disk:device() return self._device end
function Disk:size()
  local info = P.call("disk.info", disk_args(self))
  if info == nil then P.raise("disk " .. self._id .. " is detached") end
  return info.size
end

local function sector_arg(v, what)
  if math.type(v) ~= "integer" then P.raise(what .. " must be an integer, got " .. P.repr(v)) end
  return v
end

-- Reads `count` 512-byte sectors from `lba` of the image as the guest sees it.
function Disk:read_sectors(lba, count)
  return P.call("disk.read_sectors", disk_args(self, { lba = sector_arg(lba, "lba"), count = sector_arg(count, "sector count") }))
end

-- Writes whole 512-byte sectors at `lba`. The guest sees them for blocks it has not cached.
function Disk:write_sectors(lba, data)
  P.check(data, "string", "sector data")
  P.call("disk.write_sectors", disk_args(self, { lba = sector_arg(lba, "lba"), data = data }))
  return self
end

-- "eio_read" | "eio_write" | "slow": the guest's I/O to this disk fails (or crawls) until clear_faults.
function Disk:fault_inject(kind)
  P.check(kind, "string", "fault kind")
  P.call("disk.fault_inject", disk_args(self, { kind = kind }))
  return self
end

function Disk:clear_faults()
  P.call("disk.clear_faults", disk_args(self))
  return self
end

-- Unplugs the disk from the guest; a disk made by attach_disk({size}) is deleted. Idempotent.
function Disk:detach()
  if self._detached then return end
  P.call("disk.detach", disk_args(self))
  self._detached = true
end
