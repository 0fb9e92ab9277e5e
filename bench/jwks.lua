-- wrk: GET /jwks.json. Non-200 responses are counted as errors.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")
common.count_errors()
