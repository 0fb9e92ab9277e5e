#!/usr/bin/env bash
# PostgreSQL store benchmark (issue 13), in the style of bench/run.sh: wrk 2 threads,
# 32 connections, BENCH_DURATION each, servers on 127.0.0.1 only, a temporary data dir, a
# throw-away PostgreSQL cluster (scripts/pg.sh start/stop). Measures:
#  1. POST /token (client_credentials, bench/token.lua) on one node with the SQLite store and on
#     one node with the PostgreSQL store, same run: the ratio pg/sqlite. pg_stat_database
#     (xact_commit, tup_inserted/updated/deleted) and pg_stat_user_tables are read before and
#     after the pg run: the writes per token and the tables they went to (the heartbeat behind
#     /readyz is one write transaction per second and node, updating the meta row and the
#     writer-lock row store_writer: ~2 row writes per second, ~0 per token).
#  2. Two nodes on the same database, one wrk per node at the same time (1 thread,
#     16 connections each), summed: the ratio to the one-node pg figure. On one 2-core machine
#     this shows the overhead of a second node, not scale.
#  3. Revocation propagation: 200 trials of token on node A, revoke on node A, poll
#     /introspect on node B every 2 ms until active:false (bench/propagation.mjs): p50/p99/max.
# Builds nothing. Environment: IDPD_BIN (default build/idpd), BENCH_DURATION (default 10s),
# PROPAGATION_TRIALS (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IDPD_BIN:-build/idpd}
duration=${BENCH_DURATION:-10s}
trials=${PROPAGATION_TRIALS:-200}
export BENCH_DIR="$PWD/bench"

for tool in wrk curl node python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed (scripts/deps.sh test)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench: $bin not found; run make build" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idpd-pgbench.XXXXXX")
# the cluster's own directory: scripts/pg.sh gives it to the system user idpd-pg when we are
# root, so it must not sit inside $tmp (mode 0700, owned by us)
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/idpd-pgbench-pg.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  scripts/pg.sh stop "$pgdir" || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# only the ES256 keys are needed: skip RSA key generation
export IDPD_ALGS=ES256 IDPD_DEFAULT_ALG=ES256

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

client_create() { # store-args... -> "id secret"
  local c
  c=$("$bin" client create "$@" --name bench --grant-types client_credentials --scope "api:read" \
      --audience "https://api.example.com" --token-alg ES256 --introspect any --json)
  printf '%s %s\n' "$(printf '%s' "$c" | sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p')" \
                    "$(printf '%s' "$c" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p')"
}

# start_node NAME PORT ISSUER serve-args...: starts idpd serve, waits for "idpd listening on",
# appends the PID to pids; the node's stdout/stderr are $tmp/NAME.stdout/.stderr
start_node() {
  local name=$1 port=$2 issuer=$3 p up=""
  shift 3
  IDPD_LOG_LEVEL=warn "$bin" serve "$@" --listen "127.0.0.1:$port" --issuer "$issuer" \
    >"$tmp/$name.stdout" 2>"$tmp/$name.stderr" &
  p=$!
  pids+=("$p")
  for _ in $(seq 1 200); do
    grep -q "^idpd listening on http://127\.0\.0\.1:$port\$" "$tmp/$name.stdout" && { up=1; break; }
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || { echo "bench: idpd serve ($name) did not start" >&2; cat "$tmp/$name.stderr" >&2; exit 1; }
}

stop_node() { # PID
  kill -TERM "$1" 2>/dev/null || true
  local st=0
  wait "$1" || st=$?
  [ "$st" -eq 0 ] || echo "bench: idpd $1 exited $st" >&2
}

results=()
rps_of() { printf '%s\n' "$1" | awk '/^Requests\/sec:/ {print $2}'; }
reqs_of() { printf '%s\n' "$1" | awk '/ requests in / {print $1}'; }
errs_of() { printf '%s\n' "$1" | awk '/^non-200 responses:/ {print $3}'; }
run() { # name url -> sets out, rps, reqs
  echo "== wrk $1 ($duration, 2 threads, 32 connections)"
  out=$(wrk -t2 -c32 -d"$duration" --latency -s bench/token.lua "$2/token")
  echo "$out"
  rps=$(rps_of "$out")
  reqs=$(reqs_of "$out")
  results+=("$(printf '%-30s %12s req/s   non-200: %s' "$1" "${rps:-?}" "$(errs_of "$out")")")
}

# ---- 1a. one node, SQLite store
"$bin" init --data-dir "$tmp/sqlite" >/dev/null
read -r CLIENT_ID CLIENT_SECRET < <(client_create --data-dir "$tmp/sqlite")
[ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] || { echo "bench: client create (sqlite) failed" >&2; exit 1; }
export CLIENT_ID CLIENT_SECRET
port=$(free_port)
start_node sqlite "$port" "http://127.0.0.1:$port" --data-dir "$tmp/sqlite"
run "POST /token sqlite, 1 node" "http://127.0.0.1:$port"
sqlite_rps=$rps
stop_node "${pids[-1]}"

# ---- PostgreSQL cluster, one database, one data dir (the master key) for every node
scripts/pg.sh start "$pgdir"
uri=$(cat "$pgdir/uri")
psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
[ -x "$psql" ] || { echo "bench: no /usr/lib/postgresql/*/bin/psql" >&2; exit 1; }
sql() { timeout 30 "$psql" -X -q -A -t -F ' ' "$uri" -c "$1"; }
"$bin" init --store "$uri" --data-dir "$tmp/pg" >/dev/null
read -r CLIENT_ID CLIENT_SECRET < <(client_create --store "$uri" --data-dir "$tmp/pg")
[ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] || { echo "bench: client create (pg) failed" >&2; exit 1; }
export CLIENT_ID CLIENT_SECRET
port_a=$(free_port)
port_b=$(free_port)
# both nodes answer for one issuer, as behind a load balancer (tokens from A introspect on B)
issuer="http://127.0.0.1:$port_a"
url_a="http://127.0.0.1:$port_a"
url_b="http://127.0.0.1:$port_b"

# ---- 1b. one node, PostgreSQL store, with pg_stat_database around the run
start_node pg-a "$port_a" "$issuer" --store "$uri" --data-dir "$tmp/pg"
db_stats() { sql "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()"; }
tbl_stats() { sql "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables" | LC_ALL=C sort; }
# PostgreSQL flushes a backend's pending statistics at most once a second: let them settle
sleep 2
read -r c0 i0 u0 d0 < <(db_stats)
tbl_stats >"$tmp/tbl0"
t0=$(date +%s.%N)
run "POST /token pg, 1 node" "$url_a"
pg1_rps=$rps
pg1_reqs=$reqs
sleep 2
read -r c1 i1 u1 d1 < <(db_stats)
tbl_stats >"$tmp/tbl1"
t1=$(date +%s.%N)
table_writes=$(LC_ALL=C join "$tmp/tbl0" "$tmp/tbl1" | awk '{ d = ($5 - $2) + ($6 - $3) + ($7 - $4); if (d) printf "%s%s +%d ins, +%d upd, +%d del", sep, $1, $5 - $2, $6 - $3, $7 - $4; if (d) sep = "; " }')

# ---- 2. two nodes on the same database, one wrk per node at the same time
start_node pg-b "$port_b" "$issuer" --store "$uri" --data-dir "$tmp/pg"
echo "== wrk POST /token on node A and node B at once ($duration, 1 thread, 16 connections each)"
wrk -t1 -c16 -d"$duration" --latency -s bench/token.lua "$url_a/token" >"$tmp/wrk-a" 2>&1 &
wa=$!
wrk -t1 -c16 -d"$duration" --latency -s bench/token.lua "$url_b/token" >"$tmp/wrk-b" 2>&1 &
wb=$!
wait "$wa"
wait "$wb"
cat "$tmp/wrk-a" "$tmp/wrk-b"
rps_a=$(rps_of "$(cat "$tmp/wrk-a")")
rps_b=$(rps_of "$(cat "$tmp/wrk-b")")
two_rps=$(awk -v a="$rps_a" -v b="$rps_b" 'BEGIN {printf "%.2f", a + b}')
results+=("$(printf '%-30s %12s req/s   (A %s + B %s; non-200: %s + %s)' "POST /token pg, 2 nodes (sum)" "$two_rps" \
  "$rps_a" "$rps_b" "$(errs_of "$(cat "$tmp/wrk-a")")" "$(errs_of "$(cat "$tmp/wrk-b")")")")

# ---- 3. revocation propagation from node A to node B
echo "== revocation propagation A -> B ($trials trials, /introspect on B every 2 ms)"
prop=$(node bench/propagation.mjs "$url_a" "$url_b" "$CLIENT_ID" "$CLIENT_SECRET" "$trials")
echo "$prop"

for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && stop_node "$p"; done
pids=()

echo "== summary (idpd $(nproc) CPUs, wrk and PostgreSQL on the same machine; PostgreSQL $("$(dirname "$psql")/postgres" --version | awk '{print $3}'), fsync off)"
printf '%s\n' "${results[@]}"
awk -v p="$pg1_rps" -v s="$sqlite_rps" 'BEGIN {printf "token issuance pg / sqlite, one node, same run: %.2f\n", p / s}'
awk -v c="$((c1 - c0))" -v i="$((i1 - i0))" -v u="$((u1 - u0))" -v d="$((d1 - d0))" -v n="$pg1_reqs" -v t0="$t0" -v t1="$t1" 'BEGIN {
  printf "pg_stat_database over the pg token run (%d requests, window %.1f s incl. 2 s settling):\n", n, t1 - t0
  printf "  xact_commit +%d, tup_inserted +%d, tup_updated +%d, tup_deleted +%d\n", c, i, u, d
  printf "  writes per token: %.5f (%d row writes in all; the heartbeat alone, one transaction a second updating\n", (i + u + d) / n, i + u + d
  printf "  the meta row and bumping the writer-lock row store_writer: ~2 per second = ~%.0f)\n", 2 * (t1 - t0) }'
echo "  writes by table: ${table_writes:-none}"
awk -v two="$two_rps" -v one="$pg1_rps" 'BEGIN {printf "two nodes (sum) / one node, pg store: %.2f\n", two / one}'
echo "  (two nodes and the load generators share one 2-core machine: this shows the overhead of a second node, not scale)"
echo "revocation propagation A -> B (ms from the revoke response to active:false on B): $prop"
