-- A Lua prompt: reads lines through `read` (nil: end of input), runs each in `env` (an
-- expression's values are shown), shows results and errors through `write`. `provium repl`
-- runs it on a fresh VM; --debug runs it when a test fails, on that test's live VMs.
-- A line that is one of `commands` (".continue") ends the prompt and is returned.
local P = ...

function P.repl(read, write, env, commands)
  while true do
    local line = read()
    if line == nil then return nil end
    local word = line:match("^%s*(%.%a+)%s*$")
    if word and commands and commands[word] then return word end
    if word then
      local known = {}
      for k in pairs(commands or {}) do known[#known + 1] = k end
      table.sort(known)
      write("unknown command " .. word .. (#known > 0 and (" (known: " .. table.concat(known, ", ") .. ")") or ""))
    elseif line:match("%S") then
      local chunk, err = load("return " .. line, "=repl", "t", env)
      if not chunk then chunk, err = load(line, "=repl", "t", env) end
      if not chunk then write(err) else
        local res = table.pack(xpcall(chunk, debug.traceback))
        if not res[1] then write(tostring(res[2]))
        elseif res.n > 1 then
          local out = {}
          for i = 2, res.n do out[#out + 1] = P.repr(res[i]) end
          write(table.concat(out, "\t"))
        end
      end
    end
  end
end

-- --debug: a test failed and its VMs still run. The prompt sees `vm` (the VM of the test's
-- last VM op), `lab` (the file's lab), `t` and the file's VMs by name; print shows on the
-- terminal. .continue (or end of input) goes on with the run, .stop ends it.
function P.debug_prompt(t, err, vm_id)
  local write = function(text) P.call("debug.write", { text = tostring(text) .. "\n" }) end
  local names = provium:vm_names()
  local vm = vm_id and P.vms_by_id[vm_id]
  if not vm then
    for _, n in ipairs(names) do vm = vm or provium._members[n] end
  end
  local env = setmetatable({ vm = vm, lab = provium, t = t }, {
    __index = function(_, k) local m = provium._members[k]; if m ~= nil then return m end; return _G[k] end,
  })
  env.print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    write(table.concat(parts, "\t"))
  end
  write("\n--- test \"" .. t.name .. "\" failed:\n" .. tostring(err.traceback or err.message))
  write("--- --debug: the run is paused and the test's VMs are alive"
    .. (vm and (": `vm` is " .. vm:name()) or "") .. "; `lab` is the file's lab"
    .. (#names > 0 and (", its VMs by name: " .. table.concat(names, ", ")) or "") .. ".")
  write("--- Lua 5.4 with the Provium API. .continue goes on with the run, .stop ends it.")
  return P.repl(function() return P.call("debug.read", { prompt = "debug> " }) end, write, env, { [".continue"] = true, [".stop"] = true })
end
