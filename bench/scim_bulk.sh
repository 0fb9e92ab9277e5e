#!/usr/bin/env bash
# SCIM at scale on PostgreSQL vs SQLite (issue 13: "Measure: SCIM create rate and `userName eq`
# latency on 100,000 users on PostgreSQL vs SQLite"). Standalone, builds nothing; servers on
# 127.0.0.1 only, temporary data dirs, a throw-away PostgreSQL cluster (scripts/pg.sh start/stop).
# For each backend, one fresh store and one `idpd serve` node:
#  1. SCIM_USERS users (default 100,000) created through POST /scim/v2/Users with a provisioning
#     key, SCIM_CONCURRENCY requests in flight (default 8; bench/scim_bulk.mjs): users/s;
#  2. SCIM_SAMPLES (default 2,000) lookups GET /scim/v2/Users?filter=userName eq "<random user>",
#     one at a time: p50/p99 ms.
# Then the ratios pg/sqlite. Durability is the production one on both sides: SQLite is idpd's
# own setting (WAL, synchronous=NORMAL); PostgreSQL runs with fsync=on, synchronous_commit=on,
# full_page_writes=on — scripts/pg.sh starts its clusters with those off (for the tests), so the
# postmaster it started is stopped by its PID and started again on the same data directory with
# them on (the script checks with SHOW and refuses to report otherwise). The rate limit of the
# provisioning key is raised out of the way (IDPD_SCIM_RATE/BURST).
# Environment: IDPD_BIN (default build-rel/idpd when present, else build/idpd: use a release
# build), SCIM_USERS, SCIM_CONCURRENCY, SCIM_SAMPLES, SCIM_BACKENDS ("sqlite pg", the default,
# or one of them).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${IDPD_BIN:-}" ]; then bin=$IDPD_BIN
elif [ -x build-rel/idpd ]; then bin=build-rel/idpd
else bin=build/idpd
fi
users=${SCIM_USERS:-100000}
conc=${SCIM_CONCURRENCY:-8}
samples=${SCIM_SAMPLES:-2000}
backends=${SCIM_BACKENDS:-sqlite pg}

for tool in node python3 setsid; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is not installed (scripts/deps.sh test)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "bench: $bin not found; run make build (or meson setup build-rel --buildtype=release)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idpd-scimbulk.XXXXXX")
# the cluster's own directory: scripts/pg.sh gives it to the system user idpd-pg when we are
# root, so it must not sit inside $tmp (mode 0700, owned by us); pg.sh wants it missing or empty
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/idpd-scimbulk-pg.XXXXXX")
pg_started=
srv_pid=
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_started" ]; then scripts/pg.sh stop "$pgdir" || true; else rm -rf "$pgdir"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export IDPD_ALGS=ES256 IDPD_DEFAULT_ALG=ES256 IDPD_SCIM_RATE=100000 IDPD_SCIM_BURST=1000000

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_node() { # NAME PORT serve-args...: sets srv_pid
  local name=$1 port=$2 up=""
  shift 2
  IDPD_LOG_LEVEL=warn "$bin" serve "$@" --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port" \
    >"$tmp/$name.stdout" 2>"$tmp/$name.stderr" &
  srv_pid=$!
  for _ in $(seq 1 300); do
    grep -q "^idpd listening on http://127\.0\.0\.1:$port\$" "$tmp/$name.stdout" && { up=1; break; }
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$up" ] || { echo "bench: idpd serve ($name) did not start" >&2; cat "$tmp/$name.stderr" >&2; exit 1; }
}

stop_node() {
  local st=0
  kill -TERM "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" || st=$?
  [ "$st" -eq 0 ] || echo "bench: idpd serve exited $st" >&2
  srv_pid=
}

pkey() { # store-args... -> the provisioning key
  "$bin" provisioning-key create "$@" --name bench --scopes scim:read,scim:write --json |
    sed -n 's/.*"key": *"\([^"]*\)".*/\1/p'
}

# Restarts the cluster scripts/pg.sh started in $pgdir with durable settings (same data dir,
# port, socket dir and owner), writing the new postmaster PID to $pgdir/pid for pg.sh stop.
pg_durable() {
  local pid port owner pgbin as=()
  pgbin=$(dirname "$psql")
  pid=$(cat "$pgdir/pid")
  port=$(sed -n 's#.*@127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$pgdir/uri")
  owner=$(stat -c %U "$pgdir/data")
  [ "$(id -u)" -eq 0 ] && as=(setpriv --reuid="$owner" --regid="$owner" --init-groups --)
  kill -INT "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "bench: postgres $pid did not stop" >&2; exit 1; }
  "${as[@]}" setsid "$pgbin/postgres" -D "$pgdir/data" -k "$pgdir" -h 127.0.0.1 -p "$port" \
    -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=100 \
    >>"$pgdir/postgres.log" 2>&1 </dev/null &
  echo $! >"$pgdir/pid"
  for _ in $(seq 1 300); do
    timeout 5 "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres && return 0
    sleep 0.1
  done
  echo "bench: postgres did not come back with fsync on" >&2
  cat "$pgdir/postgres.log" >&2
  exit 1
}

declare -A res
run_backend() { # NAME store-args...
  local name=$1 key port out
  shift
  "$bin" init "$@" >/dev/null
  key=$(pkey "$@")
  [ -n "$key" ] || { echo "bench: provisioning-key create ($name) failed" >&2; exit 1; }
  port=$(free_port)
  start_node "$name" "$port" "$@"
  echo "== $name: $users users over SCIM, concurrency $conc; then $samples userName eq lookups" >&2
  local t0=$SECONDS
  if ! out=$(node bench/scim_bulk.mjs "http://127.0.0.1:$port" "$key" "$users" "$conc" "$samples"); then
    echo "bench: the $name run failed (no figure); the server's log:" >&2
    tail -n 40 "$tmp/$name.stderr" >&2
    exit 1
  fi
  echo "   $out ($((SECONDS - t0)) s)" >&2
  if [ "$(field "$out" created)" != "$users" ]; then
    echo "   failed creates: the server's log (errors):" >&2
    grep -E '"level":"(error|warn)"' "$tmp/$name.stderr" | tail -n 10 >&2 || true
    if [ "$name" = pg ]; then
      echo "   PostgreSQL's log (errors other than the writer lock's expected 40001):" >&2
      grep -A1 ' ERROR: ' "$pgdir/postgres.log" | grep -v 'concurrent update\|store_writer WHERE id = 1 FOR UPDATE\|^--' |
        cut -c1-300 | tail -n 12 >&2 || true
    fi
  fi
  stop_node
  res[$name]=$out
}

field() { printf '%s' "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

pg_settings=
for b in $backends; do
  case $b in
    sqlite)
      mkdir "$tmp/sqlite"
      run_backend sqlite --data-dir "$tmp/sqlite"
      ;;
    pg)
      rmdir "$pgdir"
      pg_started=1
      scripts/pg.sh start "$pgdir"
      psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
      [ -x "$psql" ] || { echo "bench: no /usr/lib/postgresql/*/bin/psql" >&2; exit 1; }
      pg_durable
      uri=$(cat "$pgdir/uri")
      pg_settings=$(timeout 30 "$psql" -X -q -A -t -d "$uri" -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")
      [ "$pg_settings" = "fsync=on full_page_writes=on synchronous_commit=on" ] ||
        { echo "bench: PostgreSQL is not durable ($pg_settings)" >&2; exit 1; }
      mkdir "$tmp/pg"
      run_backend pg --store "$uri" --data-dir "$tmp/pg"
      pg_version=$("$(dirname "$psql")/postgres" --version | awk '{print $3}')
      ;;
    *) echo "bench: unknown backend $b (sqlite, pg)" >&2; exit 2 ;;
  esac
done

echo "== summary (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)): $users users, concurrency $conc, $samples lookups; $(nproc) CPUs shared by idpd, node and PostgreSQL; $bin"
for b in $backends; do
  r=${res[$b]}
  printf '%-7s create %8s users/s (%s of %s in %s s; failed: %s)   userName eq p50 %7s ms  p99 %7s ms  max %7s ms\n' "$b" \
    "$(field "$r" users_per_s)" "$(field "$r" created)" "$users" "$(field "$r" create_s)" "$(field "$r" create_errors)" \
    "$(field "$r" eq_p50_ms)" "$(field "$r" eq_p99_ms)" "$(field "$r" eq_max_ms)"
done
[ -n "$pg_settings" ] && echo "        (PostgreSQL $pg_version, $pg_settings; SQLite WAL, synchronous=NORMAL)"
if [ -n "${res[sqlite]:-}" ] && [ -n "${res[pg]:-}" ]; then
  python3 - "${res[sqlite]}" "${res[pg]}" <<'EOF'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"ratio pg/sqlite: create rate {p['users_per_s'] / s['users_per_s']:.2f}, "
      f"userName eq p50 {p['eq_p50_ms'] / s['eq_p50_ms']:.2f}, p99 {p['eq_p99_ms'] / s['eq_p99_ms']:.2f}")
EOF
fi
