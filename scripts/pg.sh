#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests (issue 13).
# Usage: scripts/pg.sh start DIR   creates DIR, initdb, starts postgres on a free 127.0.0.1 port
#                                  (unix sockets in DIR), creates database idpd, writes the
#                                  connection URI to DIR/uri and the postmaster PID to DIR/pid
#        scripts/pg.sh stop DIR    stops that postmaster by PID (SIGINT = fast shutdown, then
#                                  SIGKILL after a bound) and removes DIR
# PostgreSQL comes from Debian (postgresql, as scripts/deps.sh test installs it): when no
# /usr/lib/postgresql/*/bin/initdb exists it is installed as root, or the apt-get line is printed.
# postgres refuses to run as root: as root the cluster belongs to the system user idpd-pg
# (created with useradd --system when missing). Every wait is bounded: this never hangs.
set -euo pipefail
PG_USER_SYS=idpd-pg
START_WAIT=30   # s until the server must accept connections
STOP_WAIT=15    # s after SIGINT before SIGKILL

die() { echo "pg.sh: $*" >&2; exit 1; }

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_pg() {
  pg_bindir >/dev/null && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "pg.sh: installing postgresql" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
      >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "pg.sh: installing postgresql" >&2
    sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo apt-get install -y -qq --no-install-recommends \
      postgresql >/dev/null
  else
    echo "pg.sh: PostgreSQL is not installed; as root, run:" >&2
    echo "        apt-get update && apt-get install --no-install-recommends postgresql" >&2
    exit 1
  fi
  pg_bindir >/dev/null || die "no initdb after installing postgresql"
}

# "${AS_OWNER[@]}" CMD...: runs CMD as the cluster's owner (ourselves unless we are root); an
# array, not a function, so that `... &` gives the PID of the exec'd postgres itself
AS_OWNER=()
[ "$(id -u)" -eq 0 ] && AS_OWNER=(setpriv --reuid="$PG_USER_SYS" --regid="$PG_USER_SYS" --init-groups --)

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

start() {
  local dir=$1 bin user port
  ensure_pg
  bin=$(pg_bindir)
  [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && die "$dir exists and is not empty"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    id -u "$PG_USER_SYS" >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$PG_USER_SYS"
    chown "$PG_USER_SYS:" "$dir"
    chmod 0700 "$dir"
    user=$PG_USER_SYS
  else
    user=$(id -un)
  fi
  timeout 120 "${AS_OWNER[@]}" "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  port=$(free_port)
  # setsid: the postmaster outlives this script and is not in the caller's process group
  "${AS_OWNER[@]}" setsid "$bin/postgres" -D "$dir/data" -k "$dir" -h 127.0.0.1 -p "$port" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 \
    >"$dir/postgres.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  local ok=
  for _ in $(seq 1 $((START_WAIT * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$dir/postgres.log" >&2
      die "postgres exited during start"
    fi
    if timeout 5 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || { stop "$dir"; die "postgres did not accept connections in ${START_WAIT}s"; }
  timeout 30 "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" idpd ||
    { stop "$dir"; die "createdb failed"; }
  echo "postgresql://$user@127.0.0.1:$port/idpd" >"$dir/uri"
  echo "pg.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') at $(cat "$dir/uri")" \
    "(pid $pid)" >&2
}

stop() {
  local dir=$1 pid
  [ -d "$dir" ] || return 0
  if [ -f "$dir/pid" ] && pid=$(cat "$dir/pid") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
  then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((STOP_WAIT * 10))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "pg.sh: postgres $pid did not stop in ${STOP_WAIT}s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || die "usage: scripts/pg.sh start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: scripts/pg.sh stop DIR"; stop "$2" ;;
  *) echo "usage: scripts/pg.sh start|stop DIR" >&2; exit 2 ;;
esac
