#!/usr/bin/env bash
# The whole idpd test suite. Ends with one line "N passed, N failed".
#  1. unit tests (cmocka) in the normal build and again under ASan+UBSan;
#  2. fuzz corpora replayed under ASan+UBSan;
#  3. integration and interop tests (node:test, npm jose + openid-client) against the real
#     ASan+UBSan binary, each test starting its own server on 127.0.0.1 with a temp data dir.
# Environment: SKIP_NODE=1 skips step 3 (for quick local runs).
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

log "fuzz corpus replay (ASan+UBSan)"
if meson test -C build-asan --suite fuzz --print-errorlogs >/tmp/idpd-fuzz.out 2>&1; then :; fi
grep -E '^ *[0-9]+/[0-9]+ ' /tmp/idpd-fuzz.out
p=$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' /tmp/idpd-fuzz.out); f=$(grep -cE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' /tmp/idpd-fuzz.out)
passed=$((passed + p)); failed=$((failed + f))

if [ "${SKIP_NODE:-0}" != 1 ]; then
  log "npm ci"
  if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/idpd-npm.log 2>&1; then
    cat /tmp/idpd-npm.log; failed=$((failed + 1))
  else
    log "integration + interop tests (node:test, server under ASan+UBSan)"
    export IDPD_BIN="$root/build-asan/idpd"
    node --test --test-concurrency=2 --test-reporter=spec tests/integration tests/interop tests/browser \
      >/tmp/idpd-node.out 2>&1
    node_rc=$?
    cat /tmp/idpd-node.out | grep -vE '^\s*$' | tail -n 200
    p=$(grep -E '^ℹ pass [0-9]+' /tmp/idpd-node.out | awk '{print $3}')
    f=$(grep -E '^ℹ fail [0-9]+' /tmp/idpd-node.out | awk '{print $3}')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
    # node 20 does not count a failing before/after hook in "fail": trust its exit code too.
    if [ "$node_rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  fi
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
