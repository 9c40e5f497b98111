#!/bin/sh
# Makes a man page from a program's --help (help2man, from Debian); for
# zenith, each subcommand's help as well.
# Usage: make-manpage.sh PROGRAM VERSION OUTPUT.1.gz
set -eu
program=$1
version=$2
out=$3
name=$(basename "$program")
include=$(mktemp)
trap 'rm -f "$include"' EXIT
subs=$("$program" --help | awk 'tolower($0) ~ /^subcommands:/ {on = 1; next} on && /^ +[a-z]/ {print $1}')
{
  if [ -n "$subs" ]; then
    echo "[COMMANDS]"
    for sub in $subs; do
      printf '.SS "%s %s"\n.nf\n' "$name" "$sub"
      "$program" "$sub" --help | sed -e 's/\\/\\\\/g' -e 's/^\./\\\&./'
      printf '.fi\n'
    done
  fi
  echo "[SEE ALSO]"
  echo "zenith(1), zenith-pageserver(1), zenith-fs(1), pg_ctl(1), psql(1), /usr/share/doc/zenith/README.md"
} >"$include"
summary=$("$program" --help | head -n 1 | sed -e "s/^$name[: ]*//")
help2man --no-info --section=1 --name="$summary" --version-string="$version" \
  --include="$include" --no-discard-stderr "$program" | gzip -9n >"$out"
