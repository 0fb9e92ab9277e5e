#!/usr/bin/env bash
# Forward auth throughput (issue 14, docs/PERFORMANCE.md "Forward auth"), all in ONE run on the
# same idpd, each reported as a ratio to the POST /token rate of that run (aim >= 1):
#   1. POST /token, client_credentials (as bench/run.sh), with the policy below in force, run first
#      and again last (the ratios use the mean of the two);
#   2. GET through real nginx (examples/nginx/forward-auth.conf rendered, auth_request to
#      GET /forward-auth, upstream = a static nginx server block) with a realistic token mix:
#      FA_TOKENS (1000) distinct valid tokens cycled plus FA_BAD (50) with a bad signature (401);
#   3. GET /forward-auth straight to idpd with the same mix (what nginx itself costs);
#   4. POST /introspect with a handful (5) of tokens cycled (repeated tokens).
# wrk 2 threads, 32 connections, BENCH_DURATION (default 10s) each. Only 127.0.0.1; a temporary
# directory for idpd's data and nginx's prefix (every file nginx writes is under it); nginx and
# idpd are stopped by PID. Environment: IDPD_BIN (default build/idpd), IDPD_NGINX
# (default /usr/sbin/nginx), BENCH_DURATION, FA_TOKENS, FA_BAD.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IDPD_BIN:-build/idpd}
nginx=${IDPD_NGINX:-/usr/sbin/nginx}
duration=${BENCH_DURATION:-10s}
ntok=${FA_TOKENS:-1000}
nbad=${FA_BAD:-50}
export BENCH_DIR="$PWD/bench"

for tool in wrk curl python3 "$nginx"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed (scripts/deps.sh test)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench: $bin not found; run make build" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idpd-fabench.XXXXXX")
pid=""
ngx_pid=""
cleanup() {
  for p in "$ngx_pid" "$pid"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

export IDPD_ALGS=ES256 IDPD_DEFAULT_ALG=ES256
"$bin" init --data-dir "$tmp/data" >/dev/null
creds=$("$bin" client create --data-dir "$tmp/data" --name bench --grant-types client_credentials \
        --scope "api:read" --audience "https://api.example.com" --token-alg ES256 --json)
CLIENT_ID=$(printf '%s' "$creds" | sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p')
CLIENT_SECRET=$(printf '%s' "$creds" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p')
[ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] || { echo "bench: client create --json: $creds" >&2; exit 1; }
export CLIENT_ID CLIENT_SECRET
cat >"$tmp/policy.yaml" <<POLICY
version: 1
claim_namespace: "https://idpd.example/claims/"
permissions: {api.read: "Read the API"}
roles:
  reader: {permissions: [api.read]}
bindings:
  clients: {"$CLIENT_ID": [reader]}
scopes:
  api:read: {requires: [api.read], claims: [roles, permissions]}
resources:
  "https://api.example.com": {scopes: ["api:read"]}
routes:
  - {path: /, public: true, methods: [GET]}
  - {path: /api, scopes: [api:read], audience: "https://api.example.com"}
POLICY
"$bin" policy apply "$tmp/policy.yaml" --data-dir "$tmp/data" >/dev/null

IDPD_LOG_LEVEL=warn "$bin" serve --data-dir "$tmp/data" --listen 127.0.0.1:0 >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^idpd listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/stdout")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "bench: idpd serve did not start" >&2; cat "$tmp/stderr" >&2; exit 1; }

# the token mix: ntok distinct valid tokens, nbad with a broken signature, shuffled
get_token() { # one write per token line (the body has no final newline, and 8 run at once)
  printf '%s\n' "$(curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d scope=api:read \
       -d resource=https://api.example.com "$url/token" | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')"
}
export -f get_token; export url
seq 1 "$ntok" | xargs -P 8 -I{} bash -c get_token >"$tmp/valid.txt" 2>"$tmp/curl.err" || true
n=$(grep -c . "$tmp/valid.txt" || true)
[ "$n" -eq "$ntok" ] || { echo "bench: got $n of $ntok tokens" >&2; tail -n 5 "$tmp/stderr" "$tmp/curl.err" >&2; head -c 300 "$tmp/valid.txt" >&2; exit 1; }
python3 - "$tmp" "$nbad" <<'PY'
import random, sys
d, nbad = sys.argv[1], int(sys.argv[2])
valid = [l.strip() for l in open(d + "/valid.txt") if l.strip()]
bad = []
for t in valid[:nbad]:
    h, p, s = t.split(".")
    bad.append(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])
mix = ["200 " + t for t in valid] + ["401 " + t for t in bad]
random.Random(14).shuffle(mix)
open(d + "/mix.txt", "w").write("\n".join(mix) + "\n")
open(d + "/few.txt", "w").write("\n".join("200 " + t for t in valid[:5]) + "\n")
PY
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$tmp/valid.txt")" \
       -H 'X-Original-Method: GET' -H 'X-Original-URI: /api/x' "$url/forward-auth")
[ "$code" = 200 ] || { echo "bench: /forward-auth answers $code for a valid token" >&2; exit 1; }

# nginx: the example config, an extra server block as the application, workers = CPUs
ngx_port=$(free_port)
app_port=$(free_port)
mkdir -p "$tmp/nginx/tmp"
chmod 755 "$tmp" "$tmp/nginx"
python3 - "$tmp/nginx/nginx.conf" "$ngx_port" "${url#http://}" "$app_port" <<'PY'
import sys
out, listen, idpd, app = sys.argv[1:5]
conf = open("examples/nginx/forward-auth.conf").read()
conf = conf.replace("{{LISTEN}}", "127.0.0.1:" + listen).replace("{{IDPD}}", idpd)
conf = conf.replace("{{UPSTREAM}}", "127.0.0.1:" + app).replace("worker_processes 1;", "worker_processes auto;")
app_block = "    server { listen 127.0.0.1:%s; location / { return 200 \"ok\\n\"; } }\n}\n" % app
i = conf.rstrip().rfind("}")
open(out, "w").write(conf[:i] + app_block)
PY
"$nginx" -e stderr -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
  -g "daemon off; pid $tmp/nginx/nginx.pid; error_log stderr;" 2>"$tmp/nginx.stderr" &
ngx_pid=$!
ngx="http://127.0.0.1:$ngx_port"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$ngx/" && break
  kill -0 "$ngx_pid" 2>/dev/null || break
  sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -1 "$tmp/valid.txt")" "$ngx/api/x")
[ "$code" = 200 ] || { echo "bench: nginx answers $code for a valid token" >&2; cat "$tmp/nginx.stderr" >&2; exit 1; }

results=()
run() { # name script url [env...]
  local name=$1 script=$2 target=$3
  shift 3
  echo "== wrk $name ($duration, 2 threads, 32 connections)"
  out=$(env "$@" wrk -t2 -c32 -d"$duration" --latency -s "bench/$script" "$target")
  echo "$out"
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  errs=$(printf '%s\n' "$out" | awk '/^non-200 responses:/ {print $3}')
  results+=("$(printf '%-34s %12s req/s   errors: %s' "$name" "${rps:-?}" "${errs:-?}")")
}
run "POST /token (client_credentials)" token.lua "$url/token"
run "nginx -> /forward-auth (mix)" forward_auth.lua "$ngx" TOKENS_FILE="$tmp/mix.txt"
run "GET /forward-auth direct (mix)" forward_auth.lua "$url" TOKENS_FILE="$tmp/mix.txt" FA_DIRECT=1
run "POST /introspect (5 tokens)" introspect_cycle.lua "$url" TOKENS_FILE="$tmp/few.txt"
# /token again last: the ratios use the mean of both /token runs (the machine's load drifts)
run "POST /token (client_credentials) 2" token.lua "$url/token"
hits=$(curl -sf "$url/metrics" | awk '/^idpd_verify_cache_hits_total/ {print $2}')
misses=$(curl -sf "$url/metrics" | awk '/^idpd_verify_cache_misses_total/ {print $2}')

kill -TERM "$ngx_pid" 2>/dev/null || true
wait "$ngx_pid" 2>/dev/null || true
ngx_pid=""
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
echo "== summary (idpd $(nproc) CPUs, nginx and wrk on the same machine; $ntok valid + $nbad bad tokens)"
printf '%s\n' "${results[@]}"
rate() { printf '%s\n' "${results[@]}" | awk -v k="$1" 'index($0, k) == 1 {print $(NF-3); exit}'; }
tok=$(awk -v a="$(rate "POST /token (client_credentials) ")" -v b="$(rate "POST /token (client_credentials) 2")" \
      'BEGIN { print (a + b) / 2 }')
echo "POST /token, mean of the first and last run: $tok req/s"
for k in "nginx -> /forward-auth (mix)" "GET /forward-auth direct (mix)" "POST /introspect (5 tokens)"; do
  awk -v r="$(rate "$k")" -v t="$tok" -v k="$k" 'BEGIN { printf "%s / POST /token, same run: %.2f (aim >= 1)\n", k, r / t }'
done
echo "verified-token cache: ${hits:-?} hits, ${misses:-?} misses"
[ "$status" -eq 0 ] || { echo "bench: idpd exited $status" >&2; cat "$tmp/stderr" >&2; exit 1; }
