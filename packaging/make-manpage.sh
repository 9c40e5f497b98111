#!/bin/sh
# Makes zenith.1.gz from `zenith --help` and each subcommand's help
# (help2man, from Debian). Usage: make-manpage.sh ZENITH_BINARY OUTPUT.1.gz
set -eu
zenith=$1
out=$2
include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo "[COMMANDS]"
  for sub in $("$zenith" --help | awk 'tolower($0) ~ /^subcommands:/ {on = 1; next} on && /^ +[a-z]/ {print $1}'); do
    printf '.SS "zenith %s"\n.nf\n' "$sub"
    "$zenith" "$sub" --help | sed -e 's/\\/\\\\/g' -e 's/^\./\\\&./'
    printf '.fi\n'
  done
  echo "[SEE ALSO]"
  echo "pg_ctl(1), psql(1), /usr/share/doc/zenith/README.md"
} >"$include"
help2man --no-info --section=1 --name="branchable storage for PostgreSQL 15" \
  --include="$include" --no-discard-stderr "$zenith" | gzip -9n >"$out"
