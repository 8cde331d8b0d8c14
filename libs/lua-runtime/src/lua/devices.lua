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

-- vm:console(): a handle that holds nothing (as upstream), so it never blocks a snapshot.
-- The guest's output is reached through read() (a stream), read_log() and expect().
function VM:console()
  return setmetatable({ _vm = self }, Console)
end

-- A stream of what the guest prints from now on (next, read_until, expect, drain, close).
-- It is an open stream: a snapshot refuses while it is open.
function Console:read()
  return P.new_stream(self._vm, P.call("console.open", { vm = self._vm._id }), "console of vm " .. self._vm._name, console_source)
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

-- Waits up to `timeout` (default 30 s) for `pattern` (a plain substring) anywhere in what the
-- console printed since QEMU started, as upstream: earlier output counts, and each call looks
-- at the whole log again. Returns the pattern; raises naming it on timeout.
function Console:expect(pattern, timeout)
  P.check(pattern, "string", "pattern")
  local secs = timeout == nil and 30 or P.duration(timeout, "timeout")
  local r = P.call("console.expect", { vm = self._vm._id, pattern = pattern, timeout = secs })
  if not r.found then
    local why = r.ended and " failed: the console ended (its QEMU exited)" or (" timed out after " .. secs .. " s")
    P.raise("expect " .. P.repr(pattern) .. why .. " (console of vm " .. self._vm._name .. "); last output: " .. P.repr(r.tail))
  end
  return pattern
end

-- The handle holds nothing, so there is nothing to release (upstream: a no-op). Streams from
-- read() stay open until they are closed, or the test ends.
function Console:close() end

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

-- A time before 1970 goes to the guest, which refuses it (EINVAL), as upstream's does.
local function finite(v, what)
  if type(v) ~= "number" then P.raise(what .. " must be a number, got " .. type(v)) end
  if v ~= v or v == math.huge or v == -math.huge then P.raise(what .. " must be a finite number, got " .. P.num(v)) end
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

-- Moves the guest's time by a duration (seconds or "5s"; negative: back, "-5s"), in the
-- guest in one step.
function Clock:advance(d)
  local s = P.duration(d, "clock:advance duration", true)
  clock_call("clock_advance", self, math.floor(s * 1e9 + 0.5))
  return self
end

-- Guest time flows at the host's rate, so sleeping is the host's.
function Clock:sleep(d)
  P.call("clock.sleep", { seconds = P.duration(d, "clock:sleep duration") })
  return self
end

-- Boot options -------------------------------------------------------------------------------

-- files as upstream's list: {{path = "/etc/x", content = "bytes", mode = 0x1ed}, ...}; the
-- guest path may be relative to / ; missing parents are made; mode defaults to 0644.
local file_keys = { path = true, content = true, mode = true }
local function file_list(files)
  for k in pairs(files) do
    if math.type(k) ~= "integer" then P.raise("boot option files: a list {{path, content, mode}, ...} or a table {[\"/guest/path\"] = \"host/path\"}, not both (key " .. P.repr(k) .. ")") end
  end
  local out = {}
  for i, f in ipairs(files) do
    local where = "boot option files[" .. i .. "]"
    if type(f) ~= "table" then P.raise(where .. " must be a table {path = ..., content = ..., mode = ...}, got " .. type(f)) end
    for k in pairs(f) do
      if not file_keys[k] then P.raise(where .. ": unknown key '" .. tostring(k) .. "' (known: path, content, mode)") end
    end
    if type(f.path) ~= "string" then P.raise(where .. ".path must be a string, got " .. type(f.path)) end
    if type(f.content) ~= "string" then P.raise(where .. ".content must be a string, got " .. type(f.content)) end
    if f.mode ~= nil and (math.type(f.mode) ~= "integer" or f.mode < 0 or f.mode > 4095) then
      P.raise(where .. ".mode for " .. f.path .. " must be an integer permission mask from 0 to 0x0fff (e.g. 0x1ed for 0755), got " .. P.repr(f.mode))
    end
    local named = false
    for part in f.path:gmatch("[^/]+") do
      if part == "." or part == ".." then P.raise(where .. ": path " .. f.path .. " may not contain . or ..") end
      named = true
    end
    if not named then P.raise(where .. ": path " .. P.repr(f.path) .. " names no file") end
    out[i] = { path = f.path:sub(1, 1) == "/" and f.path or ("/" .. f.path), content = f.content, mode = f.mode }
  end
  return out
end

-- vm:boot(opts): host paths of `files` and `shares` are relative to the calling file, agent_timeout is a
-- duration; the host checks the rest (and names unknown options).
function P.boot_options(opts)
  P.check(opts, "table", "boot options")
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  if opts.files ~= nil then
    P.check(opts.files, "table", "boot option files")
    if #opts.files > 0 then
      out.files = file_list(opts.files)
    else
      out.files = {}
      for guest, host in pairs(opts.files) do
        if type(guest) ~= "string" or guest:sub(1, 1) ~= "/" then P.raise("boot option files: keys are absolute guest paths, got " .. P.repr(guest)) end
        if type(host) ~= "string" then P.raise("boot option files[\"" .. guest .. "\"] must be a host path (a string), got " .. type(host)) end
        out.files[guest] = host:sub(1, 1) == "/" and host or (P.caller_dir() .. "/" .. host)
      end
    end
  end
  for _, k in ipairs({ "initial_time", "rng_seed" }) do
    local v = opts[k]
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      P.raise("boot option " .. k .. " must be a finite number, got " .. P.num(v))
    end
  end
  if type(opts.disks) == "table" then -- host paths relative to the calling file; the host checks the rest
    out.disks = {}
    for i, d in ipairs(opts.disks) do
      if type(d) == "table" then
        local copy = {}
        for k, v in pairs(d) do copy[k] = v end
        for _, k in ipairs({ "path", "template" }) do
          if type(copy[k]) == "string" and copy[k] ~= "" and copy[k]:sub(1, 1) ~= "/" then copy[k] = P.caller_dir() .. "/" .. copy[k] end
        end
        d = copy
      end
      out.disks[i] = d
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

local disk_keys = { size = true, image = true, path = true, scratch = true, readonly = true, id = true }
local DEFAULT_BLANK = "4G" -- upstream's attach_disk size when none is given

local function new_disk(vm, r)
  return setmetatable({ _vm = vm, _id = r.id, _device = r.device, _size = r.size }, Disk)
end

-- Three kinds (see docs/devices.md): {image = "img.raw"} (also `path`; the host file is the
-- disk, its size the disk's), {scratch = "64M"} (a new disk in the VM's run dir whose sectors
-- the host reads and writes) and {size = "64M"} (upstream's: a blank disk with no backing
-- image for the host's sector ops; 4G when no size is given). Optionally with id and readonly.
-- Returns the disk once the guest sees it (disk:device() is its /dev path there).
function VM:attach_disk(spec)
  if spec == nil then spec = {} end
  P.check(spec, "table", "attach_disk spec")
  for k in pairs(spec) do
    if not disk_keys[k] then P.raise("unknown attach_disk key '" .. tostring(k) .. "' (known: id, image, path, readonly, scratch, size)") end
  end
  for _, k in ipairs({ "size", "scratch" }) do
    local v = spec[k]
    if v ~= nil and type(v) ~= "number" and type(v) ~= "string" then
      P.raise("attach_disk " .. k .. " must be bytes or a string like \"64M\", got " .. type(v))
    end
  end
  if spec.image ~= nil and spec.path ~= nil then P.raise("attach_disk: give image or path (the same: a host file), not both") end
  local image = spec.image or spec.path
  if image ~= nil and spec.scratch ~= nil then P.raise("attach_disk: give image (a host file) or scratch (a new disk), not both") end
  if image ~= nil then
    P.check(image, "string", "attach_disk image")
    if image:sub(1, 1) ~= "/" then image = P.caller_dir() .. "/" .. image end
  end
  if spec.readonly ~= nil then P.check(spec.readonly, "boolean", "attach_disk readonly") end
  if spec.id ~= nil then P.check(spec.id, "string", "attach_disk id") end
  local wire = { readonly = spec.readonly, id = spec.id }
  if image ~= nil then wire.path = image -- an image's size is its file's: `size` says nothing more
  elseif spec.scratch ~= nil then wire.size = spec.scratch
  else wire.size, wire.hostSectors = spec.size or DEFAULT_BLANK, false end
  return new_disk(self, P.call("disk.attach", { vm = self._id, spec = wire }))
end

-- The disk attached with that id (attach_disk's, a profile's disk1, disk2, ..., a boot option's).
function VM:disk(id)
  P.check(id, "string", "disk id")
  local info = P.call("disk.info", { vm = self._id, id = id })
  if info == nil then P.raise("no disk '" .. id .. "' on vm " .. self._name) end
  return new_disk(self, info)
end

-- The arguments of a disk's host ops: which VM and disk, and more.
local function disk_args(d, more)
  more = more or {}
  more.vm, more.id = d._vm._id, d._id
  return more
end

local function disk_info(d)
  if d._detached then return nil end
  local info = P.call("disk.info", disk_args(d))
  if info == nil then d._detached = true end -- detached through another handle, or its VM went
  return info
end

function Disk:id() return self._id end
function Disk:device() return self._device end

-- Bytes, as the guest sees them now (an image's file may have grown); after detach, the last known.
function Disk:size()
  local info = disk_info(self)
  if info then self._size = info.size end
  return self._size
end

function Disk:is_detached()
  return disk_info(self) == nil
end

-- The faults in force, sorted ({} once detached).
function Disk:active_faults()
  local info = disk_info(self)
  return info and info.faults or {}
end

local function sector_arg(v, what)
  if math.type(v) ~= "integer" then P.raise(what .. " must be an integer, got " .. P.repr(v)) end
  return v
end

-- Reads `count` 512-byte sectors from `lba` of the image as the guest sees it.
function Disk:read_sectors(lba, count)
  return P.call("disk.read_sectors", disk_args(self, { lba = sector_arg(lba, "lba"), count = sector_arg(count, "sector count") }))
end

-- Writes `data` from the start of sector `lba` (whole sectors, or a part of one). The guest
-- sees it for blocks it has not cached.
function Disk:write_sectors(lba, data)
  P.check(data, "string", "sector data")
  P.call("disk.write_sectors", disk_args(self, { lba = sector_arg(lba, "lba"), data = data }))
  return self
end

-- "eio_read" | "eio_write" | "slow", beside those in force: the guest's I/O to this disk fails
-- (or crawls), and so do the host's sector ops, until clear_faults.
function Disk:fault_inject(kind)
  P.check(kind, "string", "fault kind")
  P.call("disk.fault_inject", disk_args(self, { kind = kind }))
  return self
end

function Disk:clear_faults()
  P.call("disk.clear_faults", disk_args(self))
  return self
end

-- Unplugs the disk from the guest; a disk made by attach_disk (scratch, size) is deleted.
-- Idempotent; sector ops raise "detached" afterwards.
function Disk:detach()
  if self._detached then return end
  P.call("disk.detach", disk_args(self))
  self._detached = true
end
