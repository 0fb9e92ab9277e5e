-- wrk: POST /introspect cycling through a handful of valid tokens (the lines of TOKENS_FILE,
-- "<status> <token>", status 200 only), client_secret_basic. Env: CLIENT_ID, CLIENT_SECRET,
-- TOKENS_FILE. Non-200 responses and answers without "active":true are errors.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")

local bodies = {}
for line in io.lines(common.env("TOKENS_FILE")) do
  local st, tok = line:match("^(%d+) (.+)$")
  if st == "200" then bodies[#bodies + 1] = "token=" .. common.form_encode(tok) end
end
local auth = common.basic_auth()
common.count_errors('"active":true')
local count_init = init
init = function(...)
  count_init(...)
  j = 0
end
request = function()
  j = j + 1
  return wrk.format("POST", "/introspect", {
    ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }, bodies[(j % #bodies) + 1])
end
