#!/usr/bin/env bash
# Install what idpd needs to build, run and test on Debian 12. Idempotent: packages that are
# already installed are skipped, and apt is only touched when something is missing.
# Usage: scripts/deps.sh [build|run|test]
#   build  the compiler and the -dev libraries (libpq-dev: the PostgreSQL store backend)
#   run    build + what README's walkthrough uses (curl, openssl)
#   test   run + what the suite uses (clang, wrk, sqlite3, postgresql for scripts/pg.sh,
#          chromium, nginx for the forward-auth tests and bench, Node.js >= NODE_MIN and npm)
# nginx: Debian's postinst starts nginx.service on port 80. A policy-rc.d that exits 101
# ("action forbidden") is in place while apt runs, so no service is started; the tests run their
# own nginx from a temp directory (tests/integration/forward_auth_nginx.test.mjs).
# Node.js: the test clients (jose, openid-client, playwright-core) need NODE_MIN or newer, and
# Debian 12's own nodejs is 18. When the node on PATH is older (or missing), the Node.js binary
# published on the npm registry as the package node-linux-<arch>@NODE_PIN is unpacked into the
# git-ignored tools/node/ folder; scripts/test.sh puts tools/node/bin first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}
NODE_MIN=20.14   # --test-force-exit (scripts/test.sh) arrived in 20.14
NODE_PIN=20.20.2

want=(build-essential pkg-config meson ninja-build
      libssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev libyaml-dev
      libargon2-dev libcurl4-openssl-dev libcmocka-dev libutf8proc-dev libpq-dev)
case "$mode" in
  build) ;;
  run) want+=(curl openssl ca-certificates) ;;
  test) want+=(curl openssl ca-certificates clang wrk sqlite3 postgresql chromium nginx nodejs npm) ;;
  *) echo "usage: scripts/deps.sh [build|run|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  case "$p" in
    # a node/npm from outside Debian (e.g. a preinstalled Node.js) is accepted as it is
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "deps: these Debian packages are missing: ${missing[*]}" >&2
    echo "deps: you are not root and there is no sudo; as root, run:" >&2
    echo "        apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  # no package may start a service while we install (nginx's postinst would take port 80):
  # invoke-rc.d asks /usr/sbin/policy-rc.d, and 101 means "forbidden" (unless one exists already)
  rcd=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    rcd=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$rcd" >/dev/null
    "${SUDO[@]}" chmod 755 "$rcd"
  fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || { [ -z "$rcd" ] || "${SUDO[@]}" rm -f "$rcd"; exit 1; }
  [ -z "$rcd" ] || "${SUDO[@]}" rm -f "$rcd"
fi

[ "$mode" = test ] || exit 0

# version_ge A B: true when version A >= version B (numeric, dot-separated)
version_ge() {
  local IFS=.
  local -a a=($1) b=($2)
  local i
  for i in 0 1 2; do
    local x=${a[i]:-0} y=${b[i]:-0}
    ((10#$x > 10#$y)) && return 0
    ((10#$x < 10#$y)) && return 1
  done
  return 0
}
node_version() { "$1" -p 'process.versions.node' 2>/dev/null || echo 0; }

if [ -x tools/node/bin/node ] && version_ge "$(node_version tools/node/bin/node)" "$NODE_MIN"; then
  exit 0
fi
sys=$(command -v node || true)
if [ -n "$sys" ] && version_ge "$(node_version "$sys")" "$NODE_MIN"; then
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "deps: Node.js >= $NODE_MIN is needed and none is published for $(uname -m); install one first" >&2
     exit 1 ;;
esac
echo "deps: node ${sys:+$(node_version "$sys") }is older than $NODE_MIN: fetching node-linux-$arch@$NODE_PIN from the npm registry into tools/node" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_PIN" >/dev/null)
mkdir -p "$tmp/unpacked"
tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp/unpacked"
rm -rf tools/node
mkdir -p tools
mv "$tmp/unpacked/package" tools/node
got=$(node_version tools/node/bin/node)
if ! version_ge "$got" "$NODE_MIN"; then
  echo "deps: tools/node/bin/node reports version $got, still older than $NODE_MIN" >&2
  exit 1
fi
echo "deps: Node.js $got is in tools/node/bin (scripts/test.sh puts it first on PATH)" >&2
