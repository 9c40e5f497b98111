#!/usr/bin/env bash
# Installs everything zenith needs to build and test on Debian 12, and makes
# FUSE usable by unprivileged users (as distributions ship it). Idempotent:
# run it as often as you like; it only installs what is missing. It never
# stops at a prompt: apt and dpkg run non-interactively, a locally changed
# conffile is kept (--force-confold), packages an earlier interrupted run left
# half-configured are finished (dpkg --configure -a), and the result is
# checked (every package configured, fusermount3 setuid root).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libfuse3-dev fuse3                    # the FUSE daemon (libfuse3 low-level API)
  libpq-dev                             # client library of zenith and zenith-fs
  libssl-dev                            # SCRAM-SHA-256 of the page server's TCP endpoint
  libisal-dev                           # CRC-32C of pages, WAL records and layers (ISA-L)
  libboost-filesystem-dev
  libspdlog-dev libfmt-dev              # logging
  libgtest-dev libgmock-dev             # unit and integration tests
  libcli11-dev                          # argument parsing of the programs
  nlohmann-json3-dev                    # repository metadata and manifests
  postgresql-15 postgresql-client-15 postgresql-server-dev-15  # stock PostgreSQL 15 and its headers
  postgresql-contrib                    # pg_amcheck's amcheck extension (PG15 ships it in postgresql-15)
  procps psmisc util-linux              # pkill, fuser, runuser in the tests
  sudo                                  # the remote-mount test runs its compute as another user
  libcurl4-openssl-dev                  # HTTP of the S3 client (pageserver/s3/)
  ceph-mon ceph-osd ceph-mgr radosgw uuid-runtime  # a real S3 service for tests (mount_helpers/ceph-rgw.sh)
  s3cmd curl                            # an independent S3 client in tests and benchmarks
  libcpp-httplib-dev                    # the page server's metrics endpoint (curl scrapes it in tests)
  help2man lintian                      # the Debian package: its man pages and its check
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: must run as root (it installs packages); run: sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep a conffile the admin changed (/etc/fuse.conf, say) and take the
# package's default where that is the default: never ask.
DPKG_OPTS=(-o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef)

# Finish what an interrupted or prompted install left half-done: a fuse3 left
# unconfigured has a fusermount3 without its setuid bit.
dpkg --force-confold --force-confdef --configure -a

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  apt-get update -qq
  # Keep the cluster-creating hook of postgresql-common from making a
  # system-wide cluster we never use.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  apt-get install -y -qq --no-install-recommends "${DPKG_OPTS[@]}" "${missing[@]}" </dev/null
fi

# Check the result rather than trust the exit status of each step.
unconfigured=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 != "ii" && $1 != "rc" && $1 != "un" {print $2}')
if [ -n "$unconfigured" ]; then
  echo "install-deps.sh: packages are not fully installed: $unconfigured" >&2
  exit 1
fi
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    { echo "install-deps.sh: $p is not installed" >&2; exit 1; }
done
if [ "$(stat -c '%u %A' /usr/bin/fusermount3)" != "0 -rwsr-xr-x" ]; then
  echo "install-deps.sh: /usr/bin/fusermount3 is not setuid root ($(stat -c '%U %A' /usr/bin/fusermount3))" >&2
  exit 1
fi

# FUSE for unprivileged users, as distributions ship it.
if [ -e /dev/fuse ]; then
  chmod 0666 /dev/fuse
else
  echo "install-deps.sh: /dev/fuse does not exist; this machine cannot run FUSE mounts" >&2
fi
touch /etc/fuse.conf
grep -q '^user_allow_other' /etc/fuse.conf || echo 'user_allow_other' >> /etc/fuse.conf
echo "install-deps.sh: dependencies are installed"
