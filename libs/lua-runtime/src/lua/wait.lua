-- wait_until(pred, {timeout = 10, interval = 0.1, desc = ...}): polls pred until it
-- returns a truthy value (returned), raises on timeout; pred's own errors pass at once.
local P = ...

function wait_until(pred, opts)
  P.check(pred, "function", "wait_until predicate")
  if opts ~= nil then P.check(opts, "table", "wait_until options") end
  opts = opts or {}
  local timeout = P.duration(opts.timeout or 10, "timeout")
  local interval = P.duration(opts.interval or 0.1, "interval")
  local start = P.call("clock.now")
  local tries = 0
  while true do
    tries = tries + 1
    local v = pred()
    if v then return v end
    local elapsed = P.call("clock.now") - start
    if elapsed >= timeout then
      P.raise("wait_until timed out after " .. timeout .. " s (" .. tries .. " tries)" .. (opts.desc and (": " .. tostring(opts.desc)) or ""))
    end
    P.call("clock.sleep", { seconds = math.min(interval, timeout - elapsed) })
  end
end
