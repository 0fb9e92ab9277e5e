#!/usr/bin/env bash
# The whole idpd test suite. Ends with one line "N passed, N failed".
#  1. unit tests (cmocka) in the normal build and again under ASan+UBSan;
#  2. fuzz corpora replayed under ASan+UBSan;
#  3. integration and interop tests (node:test, npm jose + openid-client) against the real
#     ASan+UBSan binary, each test starting its own server on 127.0.0.1 with a temp data dir.
#  1b. the store contract suite against PostgreSQL: a throw-away cluster (scripts/pg.sh),
#     test_store_contract_pg, test_store_pg, test_store_pg_cluster and the *_pg builds of test_store_{scim,oidc,fed}
#     in both builds, the cluster stopped by its PID even on failure.
# Environment: SKIP_NODE=1 skips step 3, SKIP_C=1 steps 1-2 (for quick local runs), SKIP_PG=1
# step 1b; IDPD_TEST_STORE=pg runs step 3 against PostgreSQL (a throw-away cluster of
# scripts/pg.sh, a fresh database per data dir: tests/lib/idpd.mjs), default SQLite; TEST_FILES
# (space-separated) runs only these node test files; NODE_FILE_TIMEOUT (s, per test
# file) and NODE_TEST_TIMEOUT (ms, per test) bound step 3.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
passed=0
failed=0
log() { printf '== %s\n' "$*"; }

count_cmocka() { # $1 = meson test log
  local p f
  p=$(grep -hoE '^\[  PASSED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
  f=$(grep -hoE '^\[  FAILED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for b in build build-asan; do
  [ "${SKIP_C:-0}" = 1 ] && break
  if [ $b = build ]; then
    [ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null || exit 1
  else
    [ -f build-asan/build.ninja ] || meson setup build-asan --buildtype=debug \
      -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
  fi
  log "build $b"
  if ! ninja -C $b >/tmp/idpd-ninja-$b.log 2>&1; then
    cat /tmp/idpd-ninja-$b.log
    echo "0 passed, 1 failed"
    exit 1
  fi
  log "unit tests ($b)"
  meson test -C $b --no-suite fuzz --print-errorlogs >/tmp/idpd-unit-$b.out 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' /tmp/idpd-unit-$b.out
  count_cmocka $b/meson-logs/testlog.txt
  # a unit test binary that crashed prints no cmocka summary: count it from meson's own result
  crashed=$(grep -cE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' /tmp/idpd-unit-$b.out)
  if [ "$crashed" -gt 0 ] && ! grep -q 'FAILED  \]' $b/meson-logs/testlog.txt; then
    failed=$((failed + crashed)); cat /tmp/idpd-unit-$b.out | tail -40
  fi
done

pg_dir=
pg_stop() { [ -n "$pg_dir" ] && scripts/pg.sh stop "$pg_dir"; pg_dir=; }
if [ "${SKIP_C:-0}" != 1 ] && [ "${SKIP_PG:-0}" != 1 ]; then
  log "store contract suite on PostgreSQL"
  pg_dir=$(mktemp -d /tmp/idpd-pg.XXXXXX) && rmdir "$pg_dir"
  trap pg_stop EXIT
  if scripts/pg.sh start "$pg_dir" >/tmp/idpd-pg.out 2>&1; then
    for b in build build-asan; do
      for t in test_store_contract_pg test_store_pg test_store_pg_cluster test_store_scim_pg \
        test_store_oidc_pg test_store_fed_pg; do
        [ -x $b/tests/unit/$t ] || continue
        out=/tmp/idpd-pg-$b-$t.out
        IDPD_TEST_PG_URI=$(cat "$pg_dir/uri") timeout 300 $b/tests/unit/$t >$out 2>&1
        rc=$?
        p=$(grep -hoE '^\[  PASSED  \] [0-9]+' $out | awk '{s+=$4} END {print s+0}')
        f=$(grep -hoE '^\[  FAILED  \] [0-9]+' $out | awk '{s+=$4} END {print s+0}')
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 # crashed or timed out before its summary
        echo "   $t ($b): $p passed, $f failed"
        [ "$f" -gt 0 ] && tail -40 $out
        passed=$((passed + p)); failed=$((failed + f))
      done
    done
  else
    cat /tmp/idpd-pg.out
    failed=$((failed + 1))
  fi
  pg_stop
  trap - EXIT
fi

if [ "${SKIP_C:-0}" != 1 ]; then
  log "fuzz corpus replay (ASan+UBSan)"
  meson test -C build-asan --suite fuzz --print-errorlogs >/tmp/idpd-fuzz.out 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' /tmp/idpd-fuzz.out
  p=$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' /tmp/idpd-fuzz.out)
  f=$(grep -cE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' /tmp/idpd-fuzz.out)
  passed=$((passed + p)); failed=$((failed + f))
fi

# Node.js: tools/node (scripts/deps.sh test puts one there when the system's is too old) first.
NODE_MIN=20.14
[ -x "$root/tools/node/bin/node" ] && export PATH="$root/tools/node/bin:$PATH"
# Every node test file runs as its own `node --test` process (two at a time) under a file
# timeout; each test has its own timeout too, and --test-force-exit ends a file whose tests are
# done even if a handle (a server a failed hook never stopped) is still open. Cancelled and
# timed-out tests count as failed; a file that ends without a summary counts as one failure.
NODE_FILE_TIMEOUT=${NODE_FILE_TIMEOUT:-900}   # seconds per test file
NODE_TEST_TIMEOUT=${NODE_TEST_TIMEOUT:-300000} # milliseconds per test or hook
node_files() {
  if [ -n "${TEST_FILES:-}" ]; then printf '%s\n' $TEST_FILES; return; fi
  find tests/integration tests/interop tests/browser -name '*.test.mjs' | sort
}
run_node_file() { # $1 = test file, $2 = log file; writes "$2.rc"
  timeout --kill-after=20 "$NODE_FILE_TIMEOUT" node --test --test-reporter=spec \
    --test-timeout="$NODE_TEST_TIMEOUT" --test-force-exit "$1" >"$2" 2>&1
  echo $? >"$2.rc"
}

if [ "${SKIP_NODE:-0}" != 1 ]; then
  nv=$(node -p 'process.versions.node' 2>/dev/null || echo none)
  if [ "$nv" = none ] || ! node -e "const [a,b]=process.versions.node.split('.').map(Number),[x,y]='$NODE_MIN'.split('.').map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)"; then
    echo "Node.js $NODE_MIN or newer is needed for the integration tests; found: $nv ($(command -v node || echo 'no node on PATH'))."
    echo "Run scripts/deps.sh test (make test does) to put one into tools/node."
    echo "${passed} passed, $((failed + 1)) failed"
    exit 1
  fi
  log "npm ci (node $nv, npm $(npm --version 2>/dev/null))"
  if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/idpd-npm.log 2>&1; then
    cat /tmp/idpd-npm.log; failed=$((failed + 1))
  else
    export IDPD_BIN="$root/build-asan/idpd"
    node_pg_ok=1
    if [ "${IDPD_TEST_STORE:-}" = pg ]; then
      pg_dir=$(mktemp -d /tmp/idpd-pg.XXXXXX) && rmdir "$pg_dir"
      trap pg_stop EXIT
      if scripts/pg.sh start "$pg_dir" >/tmp/idpd-pg-node.out 2>&1; then
        export IDPD_TEST_PG_ADMIN_URI
        IDPD_TEST_PG_ADMIN_URI=$(cat "$pg_dir/uri")
      else
        cat /tmp/idpd-pg-node.out
        failed=$((failed + 1))
        node_pg_ok=
      fi
    fi
  fi
  if [ -n "${node_pg_ok:-}" ]; then
    log "integration + interop + browser tests (node:test, server under ASan+UBSan, store: ${IDPD_TEST_STORE:-sqlite})"
    logdir=$(mktemp -d /tmp/idpd-node-XXXXXX)
    mapfile -t files < <(node_files)
    running=0
    for f in "${files[@]}"; do
      if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
      run_node_file "$f" "$logdir/$(echo "$f" | tr / _).log" &
      running=$((running + 1))
    done
    wait
    for f in "${files[@]}"; do
      l="$logdir/$(echo "$f" | tr / _).log"
      rc=$(cat "$l.rc" 2>/dev/null || echo 1)
      n() { grep -E "^ℹ $1 [0-9]+" "$l" | awk '{print $3}' | tail -1; }
      p=$(n pass) fl=$(n fail) c=$(n cancelled) sk=$(n skipped) td=$(n todo)
      if [ "$rc" -eq 0 ] && [ -n "$p" ] && [ "$((${fl:-0} + ${c:-0} + ${sk:-0} + ${td:-0}))" -eq 0 ]; then
        printf 'ok   %-50s %4d passed  %6.1f s\n' "$f" "$p" "$(($(n duration_ms | cut -d. -f1) + 0))e-3"
      else
        echo "FAIL $f (exit $rc): its output follows"
        grep -vE '^\s*$' "$l" | tail -n 300
      fi
      passed=$((passed + ${p:-0}))
      failed=$((failed + ${fl:-0} + ${c:-0}))
      # a skipped or todo test is not a pass: the suite has none on purpose
      failed=$((failed + ${sk:-0} + ${td:-0}))
      if [ -z "$p" ]; then
        echo "!! $f ended without a summary (exit $rc$([ "$rc" = 124 ] && echo ": timed out after ${NODE_FILE_TIMEOUT}s"))"
        failed=$((failed + 1))
      elif [ "$rc" -ne 0 ] && [ "$((${fl:-0} + ${c:-0}))" -eq 0 ]; then
        # node 20 does not count a failing before/after hook in "fail": trust its exit code too
        echo "!! $f exited $rc with no failed test counted"
        failed=$((failed + 1))
      fi
    done
    rm -rf "$logdir"
    pg_stop
    trap - EXIT
  fi
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
