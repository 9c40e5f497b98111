#!/usr/bin/env bash
# The main job: on a fresh Debian 12 machine, run as root or as a user, this
# installs what is missing, builds zenith, and walks through the seed
# (branches of a stock PostgreSQL 15 on FUSE mounts, a crash, recovery, a
# branch at a past LSN) in a temporary directory as an unprivileged user,
# printing each command and its output.
#
# Environment: ZENITH_USER (the unprivileged user when run as root; default
# zenith-test, shared with tests/run.sh), ZENITH_DEMO_DIR (where to work).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_USER=${ZENITH_USER:-zenith-test}

if [ "${1:-}" != "--walkthrough" ]; then
  # ---- set-up: dependencies (as root), build (as the user) ----
  if [ "$(id -u)" -eq 0 ]; then
    "$SRC/mount_helpers/install-deps.sh"
    id "$RUN_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$RUN_USER"
    if ! runuser -u "$RUN_USER" -- test -r "$SRC/CMakeLists.txt"; then
      echo "demo.sh: $RUN_USER cannot read $SRC; put the checkout where other users can read it" >&2
      exit 1
    fi
    mkdir -p "$SRC/build" && chown -R "$RUN_USER": "$SRC/build"
    exec runuser -u "$RUN_USER" -- "$SRC/mount_helpers/demo.sh" --build
  fi
  if ! dpkg-query -W -f='${Status}\n' libfuse3-dev libisal-dev postgresql-15 2>/dev/null | grep -c 'install ok installed' | grep -qx 3; then
    echo "demo.sh: dependencies are missing; installing them needs root:"
    sudo "$SRC/mount_helpers/install-deps.sh"
  fi
  BUILD=$SRC/build
  [ -w "$SRC" ] || [ -w "$BUILD" ] || BUILD=${XDG_CACHE_HOME:-$HOME/.cache}/zenith-build
  echo "== building zenith in $BUILD"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target zenith zenith-pageserver zenith-fs 2>&1 | grep -E "error|warning|Built target" || true
  exec env ZENITH_BUILD="$BUILD" "$SRC/mount_helpers/demo.sh" --walkthrough
fi

# ---- the walkthrough (unprivileged) ----
export PATH="$ZENITH_BUILD/bin:/usr/lib/postgresql/15/bin:$PATH"
DEMO=${ZENITH_DEMO_DIR:-$(mktemp -d /var/tmp/zenith-demo-XXXXXX)}
mkdir -p "$DEMO" && cd "$DEMO"
export PGHOST=$DEMO PGDATABASE=postgres   # the computes listen on Unix sockets here only

cleanup() {
  for d in .zenith/datadirs/*/pgdata; do
    [ -f "$d/postmaster.pid" ] && pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  for d in $(zenith status 2>/dev/null | awk 'NR > 1 {print $NF}'); do zenith umount "$d" >/dev/null 2>&1 || true; done
  zenith pageserver stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
# Prints the command as one would type it (arguments with spaces quoted),
# then runs it.
run() {
  local shown="" a
  for a in "$@"; do
    case "$a" in *[[:space:]\*]*) shown+=" \"$a\"" ;; *) shown+=" $a" ;; esac
  done
  printf '\033[32m%s$\033[0m%s\n' "${DEMO/#$HOME/~}" "$shown"
  "$@"
}
pgopts() { echo "-p $1 -k $DEMO -c listen_addresses=''"; }
postmaster_log() { sed -n "$2,\$p" "$1" | grep -E "LOG|FATAL|ERROR" | sed 's/^/    /'; }

say "Create a new zenith repository in $DEMO"
run zenith init
say "Initially, there is only one branch"
run zenith branch
say "Start a PostgreSQL 15 on the branch (a FUSE mount in .zenith/datadirs)"
run zenith start main -- -o "$(pgopts 55432)" -l "$DEMO/main.log"
postmaster_log "$DEMO/main.log" 1
say "Run some commands against it"
run psql -p 55432 -c "create table foo (t text);"
run psql -p 55432 -c "insert into foo values ('inserted on the main branch');"
run psql -p 55432 -c "select * from foo"
say "Create a branch called 'experimental' at main's end of WAL (no data is copied)"
run zenith branch experimental main
run zenith branch
say "Start another PostgreSQL on the 'experimental' branch"
run zenith start experimental -- -o "$(pgopts 55433)" -l "$DEMO/exp.log"
postmaster_log "$DEMO/exp.log" 1
say "Insert a row on 'experimental'"
run psql -p 55433 -c "select * from foo"
run psql -p 55433 -c "insert into foo values ('inserted on experimental')"
run psql -p 55433 -c "select * from foo"
say "The PostgreSQL on 'main' still sees only its own row"
run psql -p 55432 -c "select * from foo"
say "Everything is in .zenith; the data directories are FUSE mounts, pg_wal points into the timeline"
run ls -l .zenith/
run zenith status
EXP_DIR=$(zenith status | awk '$1 == "experimental" {print $NF}')
run ls -l "$EXP_DIR"
say "Data directories are disposable: kill -9 every PostgreSQL and every mount daemon, delete them all"
KILLED=""
for d in .zenith/datadirs/*/pgdata; do
  pid=$(head -1 "$d/postmaster.pid")
  run kill -9 "$pid"
  KILLED="$KILLED $pid"
done
for pid in $(zenith status | awk 'NR > 1 {print $2}'); do
  run kill -9 "$pid"
  KILLED="$KILLED $pid"
done
for pid in $KILLED; do  # until each is gone
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
done
for d in .zenith/datadirs/*/pgdata; do run zenith umount "$d"; done
run rm -rf .zenith/datadirs/*
say "Start 'experimental' again: PostgreSQL's own crash recovery brings back every commit"
LINES=$(($(wc -l < "$DEMO/exp.log") + 1))
run zenith start experimental -- -o "$(pgopts 55433)" -l "$DEMO/exp.log"
postmaster_log "$DEMO/exp.log" "$LINES"
run psql -p 55433 -c "select * from foo"
say "Branch 'main' at an earlier LSN: the branch sees exactly what was committed before it"
run zenith start main -- -o "$(pgopts 55432)" -l "$DEMO/main.log"
LSN=$(psql -X -A -t -p 55432 -c "select pg_current_wal_lsn()")
run psql -p 55432 -c "insert into foo values ('committed after $LSN')"
run zenith branch old main@"$LSN"
run zenith start old -- -o "$(pgopts 55434)" -l "$DEMO/old.log"
run psql -p 55434 -c "select * from foo"
run psql -p 55432 -c "select * from foo"
say "Ordinary tools work on a mount"
OLD_DIR=$(zenith status | awk '$1 == "old" {print $NF}')
run pg_controldata "$OLD_DIR"
run du -sh "$OLD_DIR"
say "Stop everything"
run zenith stop old
run zenith stop experimental
run zenith stop main
run zenith pageserver stop
say "Done. The repository is in $DEMO/.zenith"
