-- Shared helpers for the wrk scripts (loaded with require from bench/): HTTP Basic client
-- authentication per RFC 6749 §2.3.1 (id and secret form-urlencoded, then base64), and a
-- count of non-200 responses aggregated over all wrk threads and printed by done().
local M = {}

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
      .. (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

function M.form_encode(s)
  return (s:gsub("[^%w%-%._~]", function(ch)
    if ch == " " then return "+" end
    return string.format("%%%02X", ch:byte())
  end))
end

function M.env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error(name .. " is not set")
  end
  return v
end

function M.basic_auth()
  local id, secret = M.env("CLIENT_ID"), M.env("CLIENT_SECRET")
  return "Basic " .. M.base64(M.form_encode(id) .. ":" .. M.form_encode(secret))
end

-- Installs setup/init/response/done into the script's globals: every non-200 response (or, when
-- must_contain is given, every 200 whose body lacks it) is an error, reported as
-- "non-200 responses: N" after wrk's own summary.
function M.count_errors(must_contain)
  local threads = {}
  _G.setup = function(thread)
    table.insert(threads, thread)
  end
  _G.init = function()
    non200 = 0
  end
  _G.response = function(status, headers, body)
    if status ~= 200 or (must_contain and not string.find(body or "", must_contain, 1, true)) then
      non200 = non200 + 1
    end
  end
  _G.done = function()
    local n = 0
    for _, t in ipairs(threads) do
      n = n + (t:get("non200") or 0)
    end
    io.write(string.format("non-200 responses: %d\n", n))
  end
end

return M
