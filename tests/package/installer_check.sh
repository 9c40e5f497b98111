#!/usr/bin/env bash
# The installer never stops at a prompt (issue: a machine where /etc/fuse.conf
# existed before fuse3 was installed). Run as root, on a machine where
# mount_helpers/install-deps.sh has run once: reproduces what happened there
# (fuse3 unpacked with an admin's /etc/fuse.conf on disk, dpkg stopped at the
# conffile prompt, fuse3 left unconfigured, fusermount3 without its setuid
# bit), then runs the installer and checks that it repaired the machine and
# kept the admin's file. Exits non-zero, saying why, when any check fails.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HELPER=/usr/bin/fusermount3
fail() { echo "installer_check: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root"
"$SRC/mount_helpers/install-deps.sh" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deb=$(ls /var/cache/apt/archives/fuse3_*.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$deb" ]; then
  (cd "$work" && apt-get download -qq fuse3 >/dev/null) || fail "cannot download fuse3"
  deb=$(ls "$work"/fuse3_*.deb)
fi

# The broken machine: an admin's fuse.conf, then fuse3 installed by a dpkg
# that must ask about it and reads end of file instead of an answer.
dpkg --purge --force-depends fuse3 >/dev/null 2>&1
printf '# kept by the admin\nuser_allow_other\n' >/etc/fuse.conf
if dpkg -i "$deb" </dev/null >"$work/dpkg.log" 2>&1; then
  fail "dpkg did not stop at the conffile prompt; the scenario was not reproduced"
fi
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' fuse3)" != "ii " ] || fail "fuse3 is configured after the prompt"
[ ! -u "$HELPER" ] || fail "$HELPER kept its setuid bit; the scenario was not reproduced"

"$SRC/mount_helpers/install-deps.sh" </dev/null || fail "install-deps.sh did not repair the machine"

[ "$(dpkg-query -W -f='${db:Status-Abbrev}' fuse3)" = "ii " ] || fail "fuse3 is still not configured"
[ "$(stat -c '%u %a' "$HELPER")" = "0 4755" ] || fail "$HELPER is not setuid root: $(stat -c '%U %a' "$HELPER")"
grep -q '^# kept by the admin' /etc/fuse.conf || fail "the admin's /etc/fuse.conf was replaced"
grep -q '^user_allow_other' /etc/fuse.conf || fail "/etc/fuse.conf lost user_allow_other"
echo "installer_check: ok (an unconfigured fuse3 left at a conffile prompt is repaired; the admin's fuse.conf is kept)"
