-- `require` of helper modules under the configured roots (and next to the test file).
-- The host reads the file; it is loaded under its real path so errors name file:line.
local P = ...
local function searcher(name)
  local r = P.call("module.find", { name = name })
  if not r then return "\n\tno helper module '" .. name .. "' under the test roots" end
  local chunk, err = load(r.source, "@" .. r.path, "t")
  if not chunk then error(err, 0) end
  return chunk, r.path
end
package.searchers = { package.searchers[1], searcher }
package.path = ""
package.cpath = ""
