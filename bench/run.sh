#!/usr/bin/env bash
# make bench: HTTP throughput of build/idpd with wrk (2 threads, 32 connections, 10 s each) on
# POST /token (ES256, client_secret_basic), GET /jwks.json, POST /introspect (one valid token)
# and POST /token again with a policy in force; prints requests/s for each. Only 127.0.0.1; a temporary data dir; builds nothing
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
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
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

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
echo "== summary (idpd $(nproc) CPUs, wrk on the same machine)"
printf '%s\n' "${results[@]}"
[ "$status" -eq 0 ] || { echo "bench: idpd exited $status" >&2; cat "$tmp/stderr" >&2; exit 1; }
