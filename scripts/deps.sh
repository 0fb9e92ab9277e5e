#!/usr/bin/env bash
# Install what idpd needs to build, run and test on Debian. Idempotent: packages that are
# already installed are skipped, and apt is only touched when something is missing.
# Usage: scripts/deps.sh [build|test]   (test adds the tools the suite needs)
set -euo pipefail
want=(build-essential pkg-config meson ninja-build
      libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev libyaml-dev
      libargon2-dev libcurl4-openssl-dev libcmocka-dev)
if [ "${1:-build}" = test ]; then
  want+=(clang nodejs npm curl wrk sqlite3 chromium)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from outside Debian's package (e.g. a preinstalled Node); accept any npm on PATH.
if [ ${#missing[@]} -gt 0 ]; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 || filtered+=("$p") ;;
      npm) command -v npm >/dev/null 2>&1 || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
