-- Tasks (lab:spawn) and barriers (lab:barrier).
--
-- Host calls block the Lua thread, so tasks are coroutines run by a cooperative scheduler:
-- a host call made inside a task submits its request without waiting and yields; whoever
-- blocks (a host call outside any task, task:join(), the end of the test) runs the tasks
-- that can run and sleeps until any reply arrives. Where a task cannot yield (inside a C
-- callback such as a table.sort comparator) its call blocks, still running the others.
-- Coroutines a task creates itself pass the task's waits up (coroutine.resume/wrap are
-- wrapped), so host calls inside them do not block the other tasks either.
local P = ...
local host_call, submit, take, wait_for = P.host_call, __host_submit, __host_take, __host_wait
__host_submit, __host_take, __host_wait = nil, nil, nil
local raw_resume, raw_yield, status, running, isyieldable =
  coroutine.resume, coroutine.yield, coroutine.status, coroutine.running, coroutine.isyieldable
local pack, unpack = table.pack, table.unpack

local AWAIT = setmetatable({}, { __name = "provium.await" }) -- yielded by a task that waits

local Task = P.class("Task")
P.Task = Task
Task.__tostring = function(t) return "Task(" .. t._where:gsub(": $", "") .. ", " .. t._state .. ")" end

local live = {}                                         -- unfinished tasks, in spawn order
local task_of = setmetatable({}, { __mode = "k" })      -- coroutine -> the task it runs for

local function finish(task, ok, r)
  task._state = "done"
  for i, t in ipairs(live) do
    if t == task then table.remove(live, i); break end
  end
  if ok then task._results = pack(unpack(r, 2, r.n)) else task._err = r[2] end
end

-- Runs a task until it waits, yields or ends.
local function resume(task)
  local value = task._value
  task._value, task._state = nil, "running"
  local r
  if task._args then
    local args = task._args
    task._args = nil
    r = pack(raw_resume(task._co, unpack(args, 1, args.n)))
  else
    r = pack(raw_resume(task._co, value))
  end
  if not r[1] then
    finish(task, false, r)
  elseif status(task._co) == "dead" then
    finish(task, true, r)
  elseif r[2] == AWAIT then
    if r[3].id then
      task._state, task._id = "reply", r[3].id
    else
      task._state, task._on = "join", r[3].task
    end
  else
    task._state = "ready" -- a bare coroutine.yield() in a task: let the others run first
  end
end

-- Takes the replies that arrived for waiting tasks (and for `own`); returns own's reply.
local function collect(own)
  local ids, by_id = {}, {}
  if own then ids[1] = own end
  for _, t in ipairs(live) do
    if t._state == "reply" then
      ids[#ids + 1] = t._id
      by_id[t._id] = t
    elseif t._state == "join" and t._on._state == "done" then
      t._state = "ready"
    end
  end
  local mine
  if #ids > 0 then
    for _, got in ipairs(take(ids)) do
      if got.id == own then
        mine = got.reply
      else
        local t = by_id[got.id]
        t._state, t._value, t._id = "ready", got.reply, nil
      end
    end
  end
  return mine, ids
end

local function run_ready()
  local ran = false
  for _, t in ipairs({ table.unpack(live) }) do
    if t._state == "ready" then
      resume(t)
      ran = true
    end
  end
  return ran
end

-- Blocks, running tasks, until `own`'s reply arrives or `done()` is true.
local function drive(own, done)
  while true do
    if done and done() then return end
    local mine, ids = collect(own)
    if mine then return mine end
    local ran = run_ready()
    if not ran and not (done and done()) then
      if #ids == 0 then
        local waiting = {}
        for _, t in ipairs(live) do waiting[#waiting + 1] = tostring(t) end
        P.raise("deadlock: every task waits for another task (" .. table.concat(waiting, ", ") .. ")")
      end
      wait_for(ids, 1000)
    end
  end
end

function P.host_call(op, args)
  if #live == 0 then return host_call(op, args) end
  local id = submit(op, args)
  if task_of[running()] and isyieldable() then
    return raw_yield(AWAIT, { id = id })
  end
  return drive(id)
end

-- A host call answered later (vm:syscall_async): submit it now, take its reply with
-- P.host_await(id), which waits like a host call does (running the tasks meanwhile).
function P.host_submit(op, args)
  return submit(op, args or {})
end

function P.host_await(id)
  if task_of[running()] and isyieldable() then
    return raw_yield(AWAIT, { id = id })
  end
  return drive(id)
end

-- Coroutines created inside a task pass the task's waits up to the scheduler.
function coroutine.resume(co, ...)
  local task = task_of[running()]
  if not task or not isyieldable() then return raw_resume(co, ...) end
  task_of[co] = task
  local r = pack(raw_resume(co, ...))
  while r[1] and r[2] == AWAIT and status(co) == "suspended" do
    r = pack(raw_resume(co, raw_yield(AWAIT, r[3])))
  end
  task_of[co] = nil
  return unpack(r, 1, r.n)
end

function coroutine.wrap(f)
  local co = coroutine.create(f)
  return function(...)
    local r = pack(coroutine.resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end

-- lab:spawn(fn, ...): runs fn(...) as a task, starting now, until its first wait.
function P.spawn(fn, ...)
  P.check(fn, "function", "spawn body")
  local task = setmetatable({ _args = pack(...), _state = "ready", _where = P.where(2), _joined = false }, Task)
  task._co = coroutine.create(fn)
  task_of[task._co] = task
  live[#live + 1] = task
  -- At the end of the test: a passing test waits for its tasks; a failing one abandons them.
  P.on_scope_end(function(test_ok)
    if task._state ~= "done" then
      if not test_ok then
        task._state = "abandoned"
        for i, t in ipairs(live) do
          if t == task then table.remove(live, i); break end
        end
        return
      end
      drive(nil, function() return task._state == "done" end)
    end
    if task._err ~= nil and not task._joined then
      error(P.where(1) .. "a task spawned at " .. task._where:gsub(": $", "") .. " failed and was never joined: "
        .. tostring(task._err), 0)
    end
  end, "task")
  resume(task)
  return task
end

-- Waits for the task; returns what its function returned, or raises its error.
function Task:join()
  if self._state ~= "done" then
    if self._state == "abandoned" then P.raise("the task was abandoned when its test ended") end
    local me = task_of[running()]
    if me == self then P.raise("a task cannot join itself") end
    if me and isyieldable() then
      raw_yield(AWAIT, { task = self })
    else
      drive(nil, function() return self._state == "done" end)
    end
  end
  self._joined = true
  if self._err ~= nil then error(self._err, 0) end
  return unpack(self._results, 1, self._results.n)
end

-- true once the task has ended (returned or failed).
function Task:done()
  return self._state == "done"
end

P.Lab.spawn = function(_, fn, ...) return P.spawn(fn, ...) end

-- lab:barrier(name, count, timeout?): true once `count` parties (tasks, or the test
-- itself) have called it with the same name; false when the timeout (default 60 s) passes.
local lab_keys = setmetatable({}, { __mode = "k" })
local next_key = 0
function P.Lab:barrier(name, count, timeout)
  P.check(name, "string", "barrier name")
  if math.type(count) ~= "integer" or count < 1 then
    P.raise("barrier count must be a positive integer, got " .. P.repr(count))
  end
  local secs = timeout == nil and 60 or P.duration(timeout, "barrier timeout")
  if secs <= 0 then P.raise("barrier timeout must be greater than zero") end
  if not lab_keys[self] then
    next_key = next_key + 1
    lab_keys[self] = next_key
  end
  return P.call("lab.barrier", { lab = lab_keys[self], name = name, count = count, timeout = secs })
end
