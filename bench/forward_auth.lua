-- wrk: GET /forward-auth through nginx (auth_request) or straight to idpd, cycling through the
-- lines of TOKENS_FILE ("<expected status> <token>" per line; each wrk thread starts at its own
-- offset). Env: TOKENS_FILE, FA_URI (the original request target, default /api/x), FA_DIRECT
-- (set: talk to idpd's /forward-auth directly with X-Original-* headers). A response whose status
-- is neither 200 nor 401 is an error ("non-200 responses: N" counts those); the 200s and 401s are
-- printed so the mix can be checked.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")

local tokens = {}
for line in io.lines(common.env("TOKENS_FILE")) do
  local _, tok = line:match("^(%d+) (.+)$")
  if tok then tokens[#tokens + 1] = tok end
end
local uri = os.getenv("FA_URI") or "/api/x"
local direct = os.getenv("FA_DIRECT") ~= nil and os.getenv("FA_DIRECT") ~= ""
local threads, counter = {}, 1

setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
  table.insert(threads, thread)
end
init = function()
  i = offset or 0
  ok, unauth, other = 0, 0, 0
end
request = function()
  i = i + 1
  local h = { ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] }
  if direct then
    h["X-Original-Method"] = "GET"
    h["X-Original-URI"] = uri
    return wrk.format("GET", "/forward-auth", h)
  end
  return wrk.format("GET", uri, h)
end
response = function(status)
  if status == 200 then ok = ok + 1 elseif status == 401 then unauth = unauth + 1 else other = other + 1 end
end
done = function()
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + (t:get("ok") or 0); b = b + (t:get("unauth") or 0); c = c + (t:get("other") or 0)
  end
  io.write(string.format("200: %d  401: %d\nnon-200 responses: %d\n", a, b, c))
end
