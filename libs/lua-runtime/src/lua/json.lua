-- json.encode / json.decode. Arrays are tables with keys 1..n; an empty table encodes as
-- []; json.null stands for JSON null inside decoded arrays and objects.
local P = ...
json = {}
json.null = setmetatable({}, { __name = "json.null", __tostring = function() return "json.null" end })

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode(v, seen, out)
  local ty = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif ty == "boolean" then
    out[#out + 1] = tostring(v)
  elseif ty == "number" then
    if v ~= v or v == math.huge or v == -math.huge then P.raise("json.encode: cannot encode " .. tostring(v)) end
    out[#out + 1] = math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif ty == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
  elseif ty == "table" then
    if seen[v] then P.raise("json.encode: cannot encode a table that contains itself") end
    seen[v] = true
    local n = #v
    local is_array = next(v) == nil or (n > 0 and next(v, n) == nil)
    if is_array then
      for i = 1, n do if v[i] == nil then is_array = false end end
    end
    if is_array then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], seen, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" and type(k) ~= "number" then P.raise("json.encode: object keys must be strings, got " .. type(k)) end
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        encode(k, seen, out)
        out[#out + 1] = ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        encode(x, seen, out)
      end
      out[#out + 1] = "}"
    end
    seen[v] = nil
  else
    P.raise("json.encode: cannot encode a " .. ty)
  end
end

function json.encode(v)
  local out = {}
  encode(v, {}, out)
  return table.concat(out)
end

function json.decode(s)
  P.check(s, "string", "json.decode argument")
  local pos = 1
  local function fail(what)
    P.raise("json.decode: " .. what .. " at byte " .. pos)
  end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    local out, i = {}, pos + 1
    while true do
      local c = s:sub(i, i)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = i + 1; return table.concat(out) end
      if c == "\\" then
        local e = s:sub(i + 1, i + 1)
        local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if map[e] then
          out[#out + 1] = map[e]; i = i + 2
        elseif e == "u" then
          local hex = s:sub(i + 2, i + 5)
          local cp = tonumber(hex, 16) or fail("bad \\u escape")
          if cp >= 0xD800 and cp <= 0xDBFF and s:sub(i + 6, i + 7) == "\\u" then
            local lo = tonumber(s:sub(i + 8, i + 11), 16)
            if lo and lo >= 0xDC00 and lo <= 0xDFFF then
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); i = i + 6
            end
          end
          out[#out + 1] = utf8.char(cp); i = i + 6
        else
          fail("bad escape")
        end
      else
        out[#out + 1] = c; i = i + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a string key") end
        local k = str(); ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr, n = {}, 0
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        n = n + 1
        arr[n] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:find("^true", pos) then pos = pos + 4; return true
    elseif s:find("^false", pos) then pos = pos + 5; return false
    elseif s:find("^null", pos) then pos = pos + 4; return json.null
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("unexpected " .. (c == "" and "end of input" or ("'" .. c .. "'"))) end
      pos = pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num) or fail("bad number")
    end
  end
  local v = value(); ws()
  if pos <= #s then fail("trailing data") end
  return v
end
