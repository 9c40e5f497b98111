#!/usr/bin/env bash
# The Debian package, checked as CI must (README, "From the Debian package"):
# builds zenith_<version>_amd64.deb from BUILD_DIR with cpack, lints it
# (lintian: no errors), installs it with apt, runs the seed walkthrough with
# the installed programs as USER (init, branch, mount and start, query, stop),
# checks the systemd unit, the man page and the bash completion, and removes
# the package. Run as root: check_deb.sh BUILD_DIR USER. Exits non-zero,
# saying why, when a check fails; the package is removed in any case.
set -euo pipefail

BUILD=$(cd "${1:?usage: check_deb.sh BUILD_DIR USER}" && pwd)
USER_NAME=${2:?usage: check_deb.sh BUILD_DIR USER}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fail() { echo "check_deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root"

# The package, made by the build's owner (cpack runs the install rules).
owner=$(stat -c %U "$BUILD")
rm -f "$BUILD"/zenith_*.deb
runuser -u "$owner" -- bash -c "cd '$BUILD' && cmake --build . -j2 >/dev/null && cpack -G DEB >/dev/null" ||
  fail "cpack could not build the package"
deb=$(ls "$BUILD"/zenith_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no zenith_<version>_amd64.deb in $BUILD"
echo "check_deb: built $(basename "$deb")"

# lintian: errors fail the check; warnings are printed.
lint=$(lintian --allow-root --tag-display-limit 0 "$deb" 2>&1 || true)
[ -z "$lint" ] || echo "$lint" | sed 's/^/check_deb: lintian: /'
if echo "$lint" | grep -q '^E:'; then fail "lintian reports errors"; fi

# The package's declared dependencies pull in what zenith needs.
depends=$(dpkg-deb -f "$deb" Depends)
for need in fuse3 postgresql-15 libpq5; do
  echo "$depends" | grep -q "$need" || fail "Depends lacks $need: $depends"
done

work=$(mktemp -d /var/tmp/zenith-deb.XXXXXX)
chmod 0755 "$work"
cleanup() {
  runuser -u "$USER_NAME" -- bash -c "cd '$work/home' 2>/dev/null && zenith stop main >/dev/null 2>&1; zenith pageserver stop >/dev/null 2>&1" || true
  apt-get remove -y -qq zenith >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold "$deb" </dev/null >/dev/null ||
  fail "apt could not install $deb"
for f in /usr/bin/zenith /usr/bin/zenith-pageserver /usr/bin/zenith-fs /lib/systemd/system/zenith-pageserver@.service \
         /usr/lib/zenith/pageserver-as-owner /usr/share/bash-completion/completions/zenith /usr/share/man/man1/zenith.1.gz /usr/share/man/man1/zenith-fs.1.gz \
         /usr/share/doc/zenith/copyright; do
  [ -e "$f" ] || fail "the package did not install $f"
done
systemd-analyze verify /lib/systemd/system/zenith-pageserver@.service 2>&1 | grep -v '^$' && true
unit_check=$(systemd-analyze verify "zenith-pageserver@$(systemd-escape --path "$work/home/.zenith").service" 2>&1 || true)
if echo "$unit_check" | grep -qi "error\|invalid\|unknown"; then fail "systemd-analyze: $unit_check"; fi
man -l /usr/share/man/man1/zenith.1.gz 2>/dev/null | grep -q "zenith branch" || fail "the man page lacks the branch command"
[ "$(/usr/bin/zenith --version)" = "zenith $(dpkg-deb -f "$deb" Version)" ] || fail "zenith --version disagrees with the package"

# The seed walkthrough, with the installed programs only.
mkdir -p "$work/home" && chown "$USER_NAME": "$work/home"
port=$((5600 + RANDOM % 300))
walk=$(runuser -u "$USER_NAME" -- env -i PATH=/usr/bin:/bin HOME="$work/home" bash -euc "
  cd '$work/home'
  zenith init >/dev/null
  zenith branch exp main
  zenith start exp -- -o '-p $port -k $work/home -c listen_addresses=' -l '$work/home/pg.log' >/dev/null
  /usr/lib/postgresql/15/bin/psql -X -A -t -h '$work/home' -p $port -d postgres \
    -c 'create table t (x int); insert into t select generate_series(1, 1000);' -c 'select sum(x) from t'
  zenith status
  zenith stop exp >/dev/null
  zenith branch
  zenith pageserver stop >/dev/null
" 2>&1) || fail "the walkthrough failed: $walk"
echo "$walk" | grep -qx "500500" || fail "the query's answer is missing: $walk"
echo "$walk" | grep -q "^exp " || fail "zenith status did not list the mount: $walk"
echo "$walk" | grep -qx "exp" || fail "zenith branch did not list exp: $walk"

# The page server as the systemd unit runs it: as the repository's owner,
# found by the user's zenith commands, ended by SIGTERM with exit 0.
/usr/lib/zenith/pageserver-as-owner "$work/home/.zenith" >"$work/unit.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  runuser -u "$USER_NAME" -- bash -c "cd '$work/home' && zenith pageserver status" >/dev/null 2>&1 && break
  sleep 0.1
done
[ "$(ps -o user= -p "$server" | tr -d ' ')" = "$USER_NAME" ] || fail "the unit's page server does not run as $USER_NAME"
listed=$(runuser -u "$USER_NAME" -- bash -c "cd '$work/home' && zenith branch" 2>&1) || fail "zenith branch against the unit's server: $listed"
[ "$(runuser -u "$USER_NAME" -- bash -c "cd '$work/home' && zenith pageserver status --json" | grep -o '"pid": [0-9]*')" = "\"pid\": $server" ] ||
  fail "zenith did not find the unit's page server (pid $server)"
kill -TERM "$server"
wait "$server" || fail "the page server did not exit cleanly on SIGTERM: $(cat "$work/unit.log")"
as_owner=$(/usr/lib/zenith/pageserver-as-owner /root 2>&1 || true)
echo "$as_owner" | grep -q "owned by root" || fail "pageserver-as-owner did not refuse a root-owned directory: $as_owner"

apt-get remove -y -qq zenith >/dev/null || fail "apt could not remove the package"
[ ! -e /usr/bin/zenith ] || fail "/usr/bin/zenith is left after removal"
echo "check_deb: ok ($(basename "$deb"): lintian clean of errors, installed, walkthrough ran, removed)"
