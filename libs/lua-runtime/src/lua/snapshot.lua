-- Snapshots of VMs and labs, pause/resume, and reset_between_tests.
local P = ...
local VM, Lab = P.VM, P.Lab

local Snapshot = P.class("Snapshot")
P.Snapshot = Snapshot
Snapshot.__tostring = function(s) return "snapshot(" .. s._id .. ": " .. s._what .. ")" end

function Snapshot:size()
  return P.call("snapshot.size", { snap = self._id })
end

-- Where its state lives on the host: a VM's file, a lab's directory (with lab.json).
function Snapshot:path()
  return P.call("snapshot.path", { snap = self._id })
end

function Snapshot:delete()
  P.call("snapshot.delete", { snap = self._id })
end

-- A snapshot of a guest with open streams would resume with readers that no longer match
-- the guest's buffers: refuse, naming each stream and where the test opened it. `who` names
-- what asked for the snapshot when the user did not (reset_between_tests).
local function refuse_open_streams(who)
  local open = {}
  for s in pairs(P.open_streams) do
    open[#open + 1] = "  " .. s._label .. " opened at " .. (s._where ~= "" and s._where:sub(1, -3) or "?")
  end
  if #open > 0 then
    table.sort(open)
    P.raise((who and (who .. ": ") or "") .. "cannot snapshot while streams are open (close them first):\n" .. table.concat(open, "\n"))
  end
end

-- A lab's VMs as host ids and their paths in the lab ("dc1/web").
local function lab_vms(lab)
  local ids, paths = {}, {}
  for i, e in ipairs(P.lab_vms(lab)) do ids[i], paths[i] = e.vm._id, e.path end
  return ids, paths
end

-- A snapshot to a chosen host path (relative: to the calling Lua file's directory) is the
-- user's: it stays when the file ends.
local function take(vm_ids_, kind, path, more)
  if path ~= nil then
    P.check(path, "string", "snapshot path")
    if path == "" then P.raise("snapshot path must not be empty") end
  end
  refuse_open_streams()
  local args = { vms = vm_ids_, kind = kind, path = path, base = path and P.caller_dir() }
  for k, v in pairs(more or {}) do args[k] = v end
  local r = P.call("snapshot.create", args)
  return setmetatable({ _id = r.id, _what = r.label }, Snapshot)
end

function VM:snapshot(path)
  return take({ self._id }, "vm", path)
end

function VM:restore(snap)
  if getmetatable(snap) ~= Snapshot then P.raise("restore needs a snapshot, got " .. P.repr(snap)) end
  refuse_open_streams()
  P.call("snapshot.restore", { snap = snap._id, vms = { self._id } })
  return self
end

function VM:pause()
  P.call("vm.pause", { vm = self._id })
  return self
end

function VM:resume()
  P.call("vm.resume", { vm = self._id })
  return self
end

-- lab:snapshot(dir): every VM of the lab (its sub-labs' included) and its bridges (those it
-- holds and those its VMs are on) into `dir`, with lab.json; returns `dir` (upstream). Without
-- a directory: a Snapshot the file owns.
function Lab:snapshot(dir)
  local ids, paths = lab_vms(self)
  local bridges = {}
  for _, m in pairs(self._members) do
    if P.member_kind(m) == "bridge" then bridges[#bridges + 1] = m._id end
  end
  local snap = take(ids, "lab", dir, { names = paths, bridges = bridges })
  if dir ~= nil then return dir end
  snap._what = "lab " .. tostring(self._name)
  return snap
end

local adopt

-- lab:restore(snap | dir): members go back into the VMs they were taken from; a member the
-- lab lacks (a directory from lab:snapshot(dir), a snapshot of another lab) becomes its VM,
-- in the sub-lab its path names. The snapshot's bridges come back with their rules: the
-- file's bridge of that name, or a new one, which joins this lab.
function Lab:restore(snap)
  local ids, paths = lab_vms(self)
  local args = { vms = ids, paths = paths }
  if getmetatable(snap) == Snapshot then
    args.snap = snap._id
  elseif type(snap) == "string" and snap ~= "" then
    args.path, args.base = snap, P.caller_dir()
  else
    P.raise("restore needs a snapshot or the directory of a lab snapshot, got " .. P.repr(snap))
  end
  refuse_open_streams()
  args.bridges = {}
  for i, b in ipairs(P.call("snapshot.lab_bridges", { snap = args.snap, path = args.path, base = args.base })) do
    local bridge = P.bridge_for_restore(self, b.name, b.subnet)
    if self._members[b.name] ~= bridge then self:include(bridge) end
    args.bridges[i] = { name = b.name, id = bridge._id }
  end
  adopt(self, P.call("snapshot.restore_lab", args))
  return self
end

function Lab:pause()
  for _, id in ipairs((lab_vms(self))) do P.call("vm.pause", { vm = id }) end
  return self
end

function Lab:resume()
  for _, id in ipairs((lab_vms(self))) do P.call("vm.resume", { vm = id }) end
  return self
end

-- provium.reset_between_tests = true: every test starts from the state the top level left.
local base
function P.before_test(index)
  if not rawget(provium, "reset_between_tests") then return end
  if index == 1 or base == nil then
    refuse_open_streams("reset_between_tests (the snapshot of the file's top level, taken before its first test)")
    base = provium:snapshot()
  else
    provium:restore(base)
  end
end

-- Fixtures: provium:vm_fixture("dir/name") resumes the snapshot that dir/name.fixture.lua
-- returns, building it on first use; lab_fixture does the same for a lab's snapshot.
-- New VMs go where their path says: "dc1/web" into sub-lab dc1 (made when missing).
function adopt(lab, made)
  local vms = {}
  for i, m in ipairs(made) do
    local into = lab
    for part in (m.path or m.name):gmatch("([^/]+)/") do
      local sub = into._members[part]
      if P.member_kind(sub) ~= "lab" then sub = into:lab(part) end
      into = sub
    end
    vms[i] = into:include(P.new_vm(m.id, m.name, m.profile))
  end
  return vms
end

local function taken(lab)
  local names = {}
  for name in pairs(lab._members) do names[#names + 1] = name end
  return names
end

function Lab:vm_fixture(name)
  P.check(name, "string", "fixture name")
  return adopt(self, P.call("fixture.vm", { name = name, taken = taken(self) }))[1]
end

function Lab:lab_fixture(name)
  P.check(name, "string", "fixture name")
  local sub = self:lab(name)
  adopt(sub, P.call("fixture.lab", { name = name, taken = taken(sub) }))
  return sub
end

-- Declares a host file the fixture depends on; the cache key reads literal paths from the
-- builder's source, so this only checks that the file is there.
function Lab:depends_on_file(path)
  P.check(path, "string", "path")
  return self
end
