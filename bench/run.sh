#!/usr/bin/env bash
# make bench: HTTP throughput of build/idpd with wrk (2 threads, 32 connections, 10 s each) on
# POST /token (ES256, client_secret_basic), GET /jwks.json, POST /introspect (one valid token),
# POST /token again with a policy in force, and POST /token with an RFC 8693 token exchange of
# a second idpd's RS256 and ES256 access tokens (federation, warm JWKS cache; their ratio to the
# policy run is printed, and the upstream's /jwks.json request count before and after shows
# that a warm cache makes no request); prints requests/s for each. Only 127.0.0.1; a temporary data dir; builds nothing
# (make bench builds first). Also runs the JOSE microbenchmark when it has been built.
# Environment: IDPD_BIN (default build/idpd), BENCH_DURATION (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IDPD_BIN:-build/idpd}
duration=${BENCH_DURATION:-10s}
export BENCH_DIR="$PWD/bench"

for tool in wrk curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed (scripts/deps.sh test)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench: $bin not found; run make build" >&2; exit 1; }

jose_bench="$(dirname "$bin")/bench/bench_jose"
if [ -x "$jose_bench" ]; then
  echo "== JOSE microbenchmark ($jose_bench)"
  "$jose_bench"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idpd-bench.XXXXXX")
pid=""
up_pid=""
cleanup() {
  for p in "$pid" "$up_pid"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# only the ES256 keys are needed: skip RSA key generation
export IDPD_ALGS=ES256 IDPD_DEFAULT_ALG=ES256
"$bin" init --data-dir "$tmp/data" >/dev/null
creds=$("$bin" client create --data-dir "$tmp/data" --name bench --grant-types client_credentials \
        --scope "api:read" --audience "https://api.example.com" --token-alg ES256 --json)
CLIENT_ID=$(printf '%s' "$creds" | sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p')
CLIENT_SECRET=$(printf '%s' "$creds" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p')
[ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] || { echo "bench: client create --json: $creds" >&2; exit 1; }
export CLIENT_ID CLIENT_SECRET

# request logging at info level would write one line per request: keep the log quiet
IDPD_LOG_LEVEL=warn "$bin" serve --data-dir "$tmp/data" --listen 127.0.0.1:0 >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^idpd listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/stdout")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "bench: idpd serve did not start" >&2
  cat "$tmp/stderr" >&2
  exit 1
fi

TOKEN=$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$url/token" |
        sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || { echo "bench: cannot get a token from $url/token" >&2; exit 1; }
export TOKEN

results=()
run() { # name script url
  echo "== wrk $1 ($duration, 2 threads, 32 connections)"
  out=$(wrk -t2 -c32 -d"$duration" --latency -s "bench/$2" "$3")
  echo "$out"
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  errs=$(printf '%s\n' "$out" | awk '/^non-200 responses:/ {print $3}')
  results+=("$(printf '%-22s %12s req/s   non-200: %s' "$1" "${rps:-?}" "${errs:-?}")")
}
run "POST /token (ES256)" token.lua "$url/token"
run "GET /jwks.json" jwks.lua "$url/jwks.json"
run "POST /introspect" introspect.lua "$url/introspect"

# the same token run with a policy in force: the client's roles are evaluated on every request
# (scope api:read held through a role, the audience a declared resource, roles+permissions claims)
cat >"$tmp/policy.yaml" <<POLICY
version: 1
claim_namespace: "https://idpd.example/claims/"
permissions: {api.read: "Read the API", api.write: "Change the API"}
roles:
  reader: {permissions: [api.read]}
  writer: {permissions: [api.write], includes: [reader]}
bindings:
  clients: {"$CLIENT_ID": [writer]}
scopes:
  api:read: {requires: [api.read], claims: [roles, permissions]}
  api:write: {requires: [api.write], claims: [roles, permissions]}
resources:
  "https://api.example.com": {scopes: ["api:read", "api:write"]}
POLICY
"$bin" policy apply "$tmp/policy.yaml" --data-dir "$tmp/data" >/dev/null
for _ in $(seq 1 40); do
  curl -sf "$url/metrics" | grep -q '^idpd_policy_version 1$' && break
  sleep 0.1
done
run "POST /token (policy)" token.lua "$url/token"

# Federation: a second idpd is the upstream issuer. Its client_credentials tokens (aud = this
# server's issuer), signed RS256 (what Entra ID and Okta sign with) and ES256, are exchanged here
# (provision none: sub "upstream:<client>", roles from bindings.issuers). The registry fetched
# the JWKS once; the exchange requests must not fetch it (the upstream's /jwks.json count).
# RSA-2048 as Entra ID and Okta publish (idpd itself defaults to rsa_bits 3072)
export IDPD_RSA_BITS=2048
IDPD_ALGS="ES256 RS256" IDPD_DEFAULT_ALG=ES256 "$bin" init --data-dir "$tmp/up" >/dev/null
upstream_client() { # alg -> "id secret"
  local c
  c=$(IDPD_ALGS="ES256 RS256" "$bin" client create --data-dir "$tmp/up" --name "upstream-$1" --grant-types client_credentials \
      --audience "$url" --token-alg "$1" --json)
  printf '%s %s\n' "$(printf '%s' "$c" | sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p')" \
                    "$(printf '%s' "$c" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p')"
}
read -r UP_RS_ID UP_RS_SECRET < <(upstream_client RS256)
read -r UP_ES_ID UP_ES_SECRET < <(upstream_client ES256)
# its issuer must be the URL it is reached at (idpd init stored another default): a free port
up_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
IDPD_ALGS="ES256 RS256" IDPD_LOG_LEVEL=warn "$bin" serve --data-dir "$tmp/up" --listen "127.0.0.1:$up_port" \
  --issuer "http://127.0.0.1:$up_port" >"$tmp/up.stdout" 2>"$tmp/up.stderr" &
up_pid=$!
up_url=""
for _ in $(seq 1 100); do
  up_url=$(sed -n 's/^idpd listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/up.stdout")
  [ -n "$up_url" ] && break
  kill -0 "$up_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$up_url" ] || { echo "bench: the upstream idpd did not start" >&2; cat "$tmp/up.stderr" >&2; exit 1; }
upstream_token() { # id secret
  curl -sf -u "$1:$2" -d grant_type=client_credentials "$up_url/token" | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p'
}
RS_TOKEN=$(upstream_token "$UP_RS_ID" "$UP_RS_SECRET")
ES_TOKEN=$(upstream_token "$UP_ES_ID" "$UP_ES_SECRET")
[ -n "$RS_TOKEN" ] && [ -n "$ES_TOKEN" ] || { echo "bench: cannot get tokens from $up_url/token" >&2; exit 1; }
cat >>"$tmp/policy.yaml" <<POLICY
federation:
  issuers:
    - name: upstream
      issuer: "$up_url"
      allow_http_loopback: true
      algorithms: [RS256, ES256]
      audiences: ["$url"]
      typ: at+jwt
      token_exchange: {clients: ["$CLIENT_ID"]}
POLICY
python3 - "$tmp/policy.yaml" "$UP_RS_ID" "$UP_ES_ID" <<'PY'
import sys
p, rs, es = sys.argv[1:4]
s = open(p).read().replace(
    'bindings:\n', 'bindings:\n  issuers: {upstream: {subjects: {"%s": [reader], "%s": [reader]}}}\n' % (rs, es), 1)
open(p, 'w').write(s)
PY
"$bin" policy apply "$tmp/policy.yaml" --data-dir "$tmp/data" >/dev/null
warm=""
for _ in $(seq 1 50); do
  warm=$(curl -sf "$url/metrics" | grep '^idpd_federation_jwks_fetch_total{issuer="upstream",result="ok"}' || true)
  [ -n "$warm" ] && break
  sleep 0.1
done
[ -n "$warm" ] || { echo "bench: the upstream JWKS was not fetched" >&2; cat "$tmp/stderr" >&2; exit 1; }
jwks_requests() {
  curl -sf "$up_url/metrics" | awk '/^idpd_http_requests_total\{method="GET",route="\/jwks.json"/ {n += $2} END {print n + 0}'
}
for t in "$RS_TOKEN" "$ES_TOKEN"; do
  curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
       --data-urlencode subject_token_type=urn:ietf:params:oauth:token-type:access_token \
       --data-urlencode "subject_token=$t" --data-urlencode scope=api:read "$url/token" |
    grep -q '"issued_token_type"' || { echo "bench: the token exchange is refused" >&2; cat "$tmp/stderr" >&2; exit 1; }
done
run "POST /token (policy) 2" token.lua "$url/token"
before=$(jwks_requests)
SUBJECT_TOKEN=$RS_TOKEN run "POST /token (exch RS256)" exchange.lua "$url/token"
SUBJECT_TOKEN=$ES_TOKEN run "POST /token (exch ES256)" exchange.lua "$url/token"
after=$(jwks_requests)

kill -TERM "$pid" "$up_pid"
status=0
wait "$pid" || status=$?
wait "$up_pid" || true
pid=""
echo "== summary (idpd $(nproc) CPUs, wrk on the same machine)"
printf '%s\n' "${results[@]}"
rate() { printf '%s\n' "${results[@]}" | awk -v k="$1" 'index($0, k) == 1 {print $(NF-3)}'; }
cc=$(rate "POST /token (policy) 2")
for alg in RS256 ES256; do
  awk -v ex="$(rate "POST /token (exch $alg)")" -v cc="$cc" -v alg="$alg" 'BEGIN {
    printf "token exchange (%s subject token) / client_credentials, same policy, same run: %.2f (aim >= 0.5)\n", alg, ex / cc }'
done
echo "upstream GET /jwks.json requests during the exchange runs: $((after - before)) (warm cache: 0)"
[ "$status" -eq 0 ] || { echo "bench: idpd exited $status" >&2; cat "$tmp/stderr" >&2; exit 1; }
