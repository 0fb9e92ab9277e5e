-- wrk: POST /token (client_credentials, client_secret_basic). Env: CLIENT_ID, CLIENT_SECRET.
-- Non-200 responses are counted as errors ("non-200 responses: N").
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = common.basic_auth()
wrk.body = "grant_type=client_credentials"
common.count_errors()
