#!/usr/bin/env bash
# The one test command. On a fresh Debian 12 machine, run as root: installs
# the dependencies, creates the unprivileged test user (PostgreSQL refuses to
# run as root), builds, and runs every test with ctest as that user: first
# the unit tests under AddressSanitizer+UBSan, then the rest of the suite
# on the optimized build, ending with ctest's summary. Run as a normal user it skips the installation (and
# the small disk the full-disk test fills, which that test then skips).
#
# As root it also creates a second user (ZENITH_REMOTE_USER, default
# zenith-remote) that the test user may run commands as through sudo: the
# remote-mount test runs its compute as that user, who cannot read the
# repository (the test skips where this is not set up).
#
# It also starts a single-node Ceph RGW as the test user for the object
# storage tests (mount_helpers/ceph-rgw.sh; about 20 s, in parallel with the
# build, 30 s under load; about 440 MB of memory), and stops it at the end.
#
# Environment: ZENITH_TEST_USER (default zenith-test), ZENITH_SKIP_SANITIZE=1
# to skip the sanitizer pass, CTEST_ARGS for extra ctest arguments.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_USER=${ZENITH_TEST_USER:-zenith-test}
REMOTE_USER=${ZENITH_REMOTE_USER:-zenith-remote}
JOBS=${ZENITH_JOBS:-$(nproc)}

if [ "$(id -u)" -eq 0 ]; then
  "$SRC/mount_helpers/install-deps.sh"
  # The installer repairs a fuse3 that dpkg left at a conffile prompt (it
  # breaks fuse3 on purpose and repairs it; ZENITH_SKIP_INSTALLER_CHECK=1 skips).
  [ -n "${ZENITH_SKIP_INSTALLER_CHECK:-}" ] || "$SRC/tests/package/installer_check.sh"
  id "$TEST_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$TEST_USER"
  id "$REMOTE_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$REMOTE_USER"
  echo "$TEST_USER ALL=($REMOTE_USER) NOPASSWD: ALL" >/etc/sudoers.d/zenith-tests
  chmod 0440 /etc/sudoers.d/zenith-tests
  # The test user builds and runs in build dirs it owns; if it cannot read
  # the source tree where it is (a home directory of mode 0700, say), the
  # tests run on a copy it can read.
  if ! runuser -u "$TEST_USER" -- test -r "$SRC/CMakeLists.txt"; then
    COPY=/tmp/zenith-src-$TEST_USER
    rm -rf "$COPY" && cp -a "$SRC" "$COPY" && chown -R "$TEST_USER": "$COPY" && chmod 0755 "$COPY"
    SRC=$COPY
  fi
  for d in build build-sanitize; do
    mkdir -p "$SRC/$d" && chown -R "$TEST_USER": "$SRC/$d"
  done
  # A disk the full-disk test (tests/unit/pageserver/full_disk_test.cc) can
  # fill without filling the machine's: a small tmpfs, writable by all.
  SMALL_DISK=/var/tmp/zenith-small-disk
  mkdir -p "$SMALL_DISK"
  if ! mountpoint -q "$SMALL_DISK" &&
     ! mount -t tmpfs -o size=128m,mode=1777 zenith-small-disk "$SMALL_DISK"; then
    echo "run.sh: could not mount a small tmpfs at $SMALL_DISK; the full-disk test will be skipped" >&2
  fi
  runuser -u "$TEST_USER" -- env ZENITH_JOBS="$JOBS" ZENITH_SKIP_SANITIZE="${ZENITH_SKIP_SANITIZE:-}" \
    ZENITH_REMOTE_USER="$REMOTE_USER" \
    CTEST_ARGS="${CTEST_ARGS:-}" "$SRC/tests/run.sh"
  # The Debian package from the build the tests ran on: built, linted,
  # installed, walked through and removed (ZENITH_SKIP_PACKAGE=1 skips).
  if [ -z "${ZENITH_SKIP_PACKAGE:-}" ]; then
    echo "== the Debian package"
    "$SRC/tests/package/check_deb.sh" "$SRC/build" "$TEST_USER"
  fi
  exit 0
fi

cd "$SRC"
# Tests make their temporary directories here (see tests/harness/temp_dir.h):
# a short path, so Unix socket names stay under sun_path's limit, and not
# /tmp, where file creation is a hundred times slower on some machines.
export TMPDIR=${ZENITH_TEST_TMPDIR:-/var/tmp/zenith-tests-$(id -un)}
mkdir -p "$TMPDIR"
# Both builds are full builds on a fresh machine (CI has no compiler cache):
# the libraries compile as a few large files (unity build; the tests do not,
# tests/CMakeLists.txt), with line tables only (-g1: enough for perf and
# backtraces, a third less compile time than -g).
FULL_BUILD=(-DCMAKE_UNITY_BUILD=ON)
# Ninja builds every target of a build at once (a Makefile build of several
# targets builds them one after another); a build directory made before
# keeps its generator.
generator() {
  if [ ! -f "$1/CMakeCache.txt" ] && command -v ninja >/dev/null; then echo "-GNinja"; fi
}
if [ -z "${ZENITH_SKIP_SANITIZE:-}" ]; then
  echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  # -O1, as the sanitizers' authors advise: the unit tests run in a third of
  # the time of -O0, and every check stays (tests/CMakeLists.txt keeps the
  # test code itself at -O0).
  cmake -S . -B build-sanitize $(generator build-sanitize) -DZENITH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    "${FULL_BUILD[@]}" "-DCMAKE_CXX_FLAGS_DEBUG=-g1 -O1" >/dev/null
  # Only what the unit tests need: the programs and integration tests are
  # built (and tested) once, in the normal pass below.
  cmake --build build-sanitize -j"$JOBS" --target common_unit_tests pageserver_unit_tests fs_unit_tests cli_unit_tests s3_unit_tests
  ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-sanitize -L unit --output-on-failure -j"$JOBS" ${CTEST_ARGS:-}
fi

echo "== all tests"
# A real S3 service (Ceph RGW, mount_helpers/ceph-rgw.sh) for the object
# storage tests, started while the build runs and stopped at exit. Tests find
# its settings through ZENITH_TEST_S3_ENV; without it they skip, or fail
# when CI=true.
free_port() {
  local p
  for p in $(seq 17480 10 17980); do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$((p + 1))) 2>/dev/null ||
      { echo "$p"; return; }
  done
}
S3_DIR=$TMPDIR/ceph-rgw-$$
"$SRC/mount_helpers/ceph-rgw.sh" start "$S3_DIR" "$(free_port)" >"$TMPDIR/ceph-rgw-$$.out" 2>&1 &
S3_PID=$!
# On any exit (a failed build too): let a start in progress finish, then stop.
trap 'wait "$S3_PID" 2>/dev/null; "$SRC/mount_helpers/ceph-rgw.sh" stop "$S3_DIR" >/dev/null 2>&1;
      rm -rf "$S3_DIR" "$TMPDIR/ceph-rgw-$$.out"' EXIT
# The unit tests ran under the sanitizers above: this build leaves them out
# (all of them are built and run when the sanitizer pass was skipped).
UNIT=ON
[ -n "${ZENITH_SKIP_SANITIZE:-}" ] || UNIT=OFF
cmake -S . -B build $(generator build) -DCMAKE_BUILD_TYPE=RelWithDebInfo "${FULL_BUILD[@]}" -DZENITH_UNIT_TESTS=$UNIT \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build -j"$JOBS"
if wait "$S3_PID"; then
  export ZENITH_TEST_S3_ENV=$S3_DIR/s3.env
else
  echo "run.sh: the Ceph RGW did not start; the S3 tests will skip (or fail in CI):" >&2
  cat "$TMPDIR/ceph-rgw-$$.out" >&2
fi
rm -f "$TMPDIR/ceph-rgw-$$.out"
ctest --test-dir build --output-on-failure -j"$JOBS" ${CTEST_ARGS:-}
