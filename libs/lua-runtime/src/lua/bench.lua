-- Benchmarks: bench(name, opts?, fn) is a test that measures. fn(b, t) takes samples with
-- b:time(f) (host-timed rounds of f) or b:record(value, unit) (a value the guest measured);
-- when it passes, the samples go out in a `bench_result` event (and --bench-out's file).
local P = ...

local B = P.class("Bench")
-- opts keys that shape the measuring; any other key is the test's meta (tags, skip, timeout, ...).
local OWN = { rounds = true, min_time = true, warmup = true, better = true }
-- With min_time alone, at least this many rounds: fewer are never judged by `bench compare`.
local MIN_ROUNDS = 5
local DEFAULT_ROUNDS = 10

local function now() return P.call("clock.now") end

function bench(name, opts, fn)
  if type(opts) == "function" and fn == nil then opts, fn = {}, opts end
  P.check(name, "string", "bench name")
  P.check(opts, "table", "bench opts")
  P.check(fn, "function", "bench body")
  if opts.rounds ~= nil and (math.type(opts.rounds) ~= "integer" or opts.rounds < 1) then
    P.raise("bench opts rounds must be a positive integer, got " .. P.repr(opts.rounds))
  end
  if opts.min_time ~= nil then P.duration(opts.min_time, "bench opts min_time") end
  if opts.warmup ~= nil and (math.type(opts.warmup) ~= "integer" or opts.warmup < 0) then
    P.raise("bench opts warmup must be an integer >= 0, got " .. P.repr(opts.warmup))
  end
  if opts.better ~= nil and opts.better ~= "lower" and opts.better ~= "higher" then
    P.raise('bench opts better must be "lower" (times) or "higher" (throughputs), got ' .. P.repr(opts.better))
  end
  local meta = { bench = true }
  for k, v in pairs(opts) do if not OWN[k] then meta[k] = v end end
  local where = P.where(1) -- the bench's own line: its body may have returned before the check
  test(name, meta, function(t)
    local b = setmetatable({ name = name, opts = opts, samples = {}, unit = nil }, B)
    fn(b, t)
    if #b.samples == 0 then error(where .. "bench " .. name .. " took no samples: call b:time(fn) or b:record(value, unit)", 0) end
    P.emit({ kind = "bench_result", test = name, unit = b.unit, better = opts.better or "lower", samples = b.samples })
  end)
end

function B:unit_is(unit)
  if self.unit ~= nil and self.unit ~= unit then
    P.raise("bench " .. self.name .. " mixes units: " .. P.repr(self.unit) .. " and " .. P.repr(unit) .. " (one benchmark, one unit)")
  end
  self.unit = unit
end

--- Runs f `opts.warmup` times (default 1) unmeasured, then measures it (host clock, ms) for
--- `opts.rounds` rounds (default 10), or until `opts.min_time` has passed (at least 5 rounds).
function B:time(f)
  P.check(f, "function", "b:time argument")
  self:unit_is("ms")
  local o = self.opts
  for _ = 1, o.warmup or 1 do f() end
  local min_time = o.min_time and P.duration(o.min_time, "bench opts min_time")
  local rounds = o.rounds or (min_time and MIN_ROUNDS) or DEFAULT_ROUNDS
  local started, n = now(), 0
  while n < rounds or (min_time and now() - started < min_time) do
    local t0 = now()
    f()
    self.samples[#self.samples + 1] = (now() - t0) * 1000
    n = n + 1
  end
  return self.samples
end

--- One sample the test measured itself (e.g. parsed from a tool's output), in `unit`.
function B:record(value, unit)
  if type(value) ~= "number" or value ~= value then P.raise("b:record value must be a number, got " .. P.repr(value)) end
  if unit ~= nil then P.check(unit, "string", "b:record unit") end
  self:unit_is(unit or "")
  self.samples[#self.samples + 1] = value
end
