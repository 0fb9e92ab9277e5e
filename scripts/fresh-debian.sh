#!/usr/bin/env bash
# Proves README's two commands on a bare Debian 12, as a new user would meet them:
#   1. debootstrap --variant=minbase bookworm into .fresh/ (git-ignored; the base is cached in
#      .fresh/base and copied afresh for every run, --rebuild makes a new base);
#   2. the host's apt sources and configuration, its locally added CA certificates (and its
#      /etc/npmrc) are copied in, so that package installs inside behave as on the host;
#   3. only git, make and ca-certificates are installed by hand;
#   4. the current commit (HEAD; uncommitted changes are not part of it) is cloned inside;
#   5. `make run` is started and waited for until it answers; README's walkthrough block runs
#      as written against it (with the printed client id and secret); the server is then
#      stopped by PID (its process group);
#   6. `make test` runs; its last lines and the timings are printed.
# chroot with /proc, /sys and /dev bind-mounted; everything is unmounted on the way out.
# Needs root. Not part of `make test` (it takes many minutes).
# Usage: scripts/fresh-debian.sh [--rebuild] [--skip-test]
# The whole script is one { ... } block: bash reads it completely before running it, so editing
# the file during a run (a run takes many minutes) cannot change what the run does.
{
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rebuild=0 skip_test=0
for a in "$@"; do
  case "$a" in
    --rebuild) rebuild=1 ;;
    --skip-test) skip_test=1 ;;
    *) echo "usage: scripts/fresh-debian.sh [--rebuild] [--skip-test]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-debian: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
commit=$(git rev-parse HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
  echo "fresh-debian: note: the work tree has uncommitted changes; testing commit ${commit:0:12} only" >&2

base=$repo/.fresh/base
root=$repo/.fresh/root
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
         grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
t0=$(date +%s)
stamp() { echo "== fresh-debian [$(($(date +%s) - t0)) s] $*"; }

mounts=()
cleanup() {
  set +e
  if [ -d "$root/proc" ]; then
    # every process still running inside the root (a server, a test) is killed by PID
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
    done
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" 2>/dev/null
  done
  if grep -q " $root" /proc/mounts; then echo "fresh-debian: still mounted under $root:" >&2; grep " $root" /proc/mounts >&2; fi
}
trap cleanup EXIT

if [ "$rebuild" = 1 ] || [ ! -x "$base/bin/bash" ]; then
  stamp "debootstrap --variant=minbase bookworm from $mirror"
  rm -rf "$base"
  mkdir -p "$base"
  debootstrap --variant=minbase bookworm "$base" "$mirror" >"$repo/.fresh/debootstrap.log" 2>&1 ||
    { tail -20 "$repo/.fresh/debootstrap.log"; exit 1; }
fi
stamp "a fresh copy of the base root"
if [ -d "$root" ]; then
  grep -q " $root" /proc/mounts && { echo "fresh-debian: $root is still mounted" >&2; exit 1; }
  rm -rf "$root"
fi
cp -a "$base" "$root"

# the host's package configuration, so that installs inside behave as on the host
rm -rf "$root/etc/apt/sources.list.d" "$root/etc/apt/sources.list"
for f in sources.list sources.list.d apt.conf.d auth.conf.d preferences.d trusted.gpg trusted.gpg.d keyrings; do
  [ -e "/etc/apt/$f" ] && cp -a "/etc/apt/$f" "$root/etc/apt/"
done
for k in $(grep -hoE 'Signed-By: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'); do
  [ -f "$k" ] && mkdir -p "$root$(dirname "$k")" && cp -a "$k" "$root$k"
done
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
[ -f /etc/npmrc ] && cp -a /etc/npmrc "$root/etc/npmrc"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

for m in proc sys dev; do
  mount --rbind "/$m" "$root/$m"
  mount --make-rslave "$root/$m"
  mounts+=("$root/$m")
done
mkdir -p "$root/mnt/src"
mount --bind "$repo" "$root/mnt/src"
mount -o remount,bind,ro "$root/mnt/src"
mounts+=("$root/mnt/src")

# a clean environment, as a fresh root login has; CA settings of the host pass through
envv=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb)
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR; do
  [ -n "${!v:-}" ] && envv+=("$v=${!v}")
done
inside() { chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/bash -c "$1"; }

stamp "apt-get install git make ca-certificates (by hand, as README assumes)"
inside 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make ca-certificates >/dev/null'
stamp "git clone, commit ${commit:0:12}"
inside "git config --global --add safe.directory /mnt/src && git clone -q /mnt/src /root/idpd && cd /root/idpd && git checkout -q $commit"
inside 'command -v curl node nodejs npm sudo chromium meson 2>/dev/null | sed "s/^/fresh-debian: unexpectedly present: /"' || true

port=8080
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "fresh-debian: 127.0.0.1:$port is taken on this machine (README's walkthrough uses it)" >&2
  exit 1
fi
stamp "make run (until it answers)"
t_run=$(date +%s)
chroot "$root" /usr/bin/env -i "${envv[@]}" setsid /bin/bash -c 'cd /root/idpd && exec make run' \
  >"$repo/.fresh/make-run.log" 2>&1 &
run_pid=$!
answered=0
for _ in $(seq 1 900); do
  if ! kill -0 "$run_pid" 2>/dev/null; then break; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
     inside "curl -sf http://127.0.0.1:$port/healthz >/dev/null" 2>/dev/null; then
    answered=1
    break
  fi
  sleep 1
done
run_s=$(($(date +%s) - t_run))
if [ "$answered" != 1 ]; then
  tail -40 "$repo/.fresh/make-run.log"
  echo "fresh-debian: make run did not answer (after $run_s s)"
  exit 1
fi
stamp "make run answered after $run_s s"
id=$(sed -n 's/^ *client_id: *\(\S*\)$/\1/p' "$repo/.fresh/make-run.log" | head -1)
secret=$(sed -n 's/^ *client_secret: *\(\S*\)$/\1/p' "$repo/.fresh/make-run.log" | head -1)
[ -n "$id" ] && [ -n "$secret" ] || { cat "$repo/.fresh/make-run.log"; echo "fresh-debian: no demo client printed"; exit 1; }

# README's walkthrough: the first sh block after "make run creates a demo client", as written
awk '/make run. creates a demo client/{f=1} f&&/^```sh/{b=1; next} b&&/^```/{exit} b' README.md \
  >"$root/root/walkthrough.sh"
[ -s "$root/root/walkthrough.sh" ] || { echo "fresh-debian: README walkthrough block not found"; exit 1; }
stamp "README walkthrough ($(grep -c . "$root/root/walkthrough.sh") lines) with ID=$id"
if ! inside "cd /root/idpd && ID='$id' SECRET='$secret' bash -x /root/walkthrough.sh" >"$repo/.fresh/walkthrough.log" 2>&1; then
  cat "$repo/.fresh/walkthrough.log"; echo "fresh-debian: the walkthrough failed"; exit 1
fi
grep -v '^+' "$repo/.fresh/walkthrough.log" | cut -c1-160
grep -q '"active":true' "$repo/.fresh/walkthrough.log" && grep -q '"active":false' "$repo/.fresh/walkthrough.log" ||
  { echo "fresh-debian: the walkthrough did not show active:true then active:false"; exit 1; }
stamp "stopping make run (process group $run_pid)"
kill -TERM -- "-$run_pid" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL -- "-$run_pid" 2>/dev/null || true
wait "$run_pid" 2>/dev/null || true

[ "$skip_test" = 1 ] && { stamp "done (make test skipped)"; exit 0; }
stamp "make test"
t_test=$(date +%s)
set +e
inside 'cd /root/idpd && CI=true make test' >"$repo/.fresh/make-test.log" 2>&1
rc=$?
set -e
test_s=$(($(date +%s) - t_test))
tail -n 25 "$repo/.fresh/make-test.log"
stamp "make test exited $rc after $test_s s; make run answered after $run_s s (logs in .fresh/)"
exit "$rc"
}
