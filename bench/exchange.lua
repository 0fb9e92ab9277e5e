-- wrk: POST /token with an RFC 8693 token exchange (client_secret_basic): the subject token is
-- an access token of an upstream idpd that the policy trusts (docs/FEDERATION.md), verified
-- against the issuer's cached JWKS. Env: CLIENT_ID, CLIENT_SECRET, SUBJECT_TOKEN.
-- Every non-200, and every 200 without an access token, is counted as an error.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("wrk_common")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = common.basic_auth()
wrk.body = "grant_type=" .. common.form_encode("urn:ietf:params:oauth:grant-type:token-exchange")
  .. "&subject_token_type=" .. common.form_encode("urn:ietf:params:oauth:token-type:access_token")
  .. "&subject_token=" .. common.env("SUBJECT_TOKEN")
  .. "&scope=" .. common.form_encode("api:read")
common.count_errors('"issued_token_type"')
