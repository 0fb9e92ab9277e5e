-- wrk: POST /introspect of one valid access token (RFC 7662), client_secret_basic.
-- Env: CLIENT_ID, CLIENT_SECRET, TOKEN. Non-200 responses, and answers other than
-- {"active":true,...}, are counted as errors.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = common.basic_auth()
wrk.body = "token=" .. common.form_encode(common.env("TOKEN"))
common.count_errors('"active":true')
