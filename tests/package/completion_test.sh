#!/usr/bin/env bash
# The bash completion (packaging/zenith.bash-completion) completes
# subcommands and options from the real zenith's help, and branch names from
# a repository's refs. Usage: completion_test.sh COMPLETION_FILE ZENITH_BIN_DIR
set -uo pipefail
source "$1"
export PATH="$2:$PATH"
failures=0

# complete WORDS...: COMPREPLY for the last word.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _zenith
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() {
  local want=$1; shift
  local got
  got=$(complete_words "$@")
  if [[ " $got " != *" $want "* ]]; then
    echo "FAIL: completing '$*' offered [$got], not $want" >&2
    failures=$((failures + 1))
  fi
}
refuse() {
  local unwanted=$1; shift
  local got
  got=$(complete_words "$@")
  if [[ " $got " == *" $unwanted "* ]]; then
    echo "FAIL: completing '$*' offered $unwanted: [$got]" >&2
    failures=$((failures + 1))
  fi
}

expect branch zenith br
expect pageserver zenith pa
expect status zenith st
refuse branch zenith st
expect start zenith pageserver st
expect status zenith pageserver st
expect --json zenith pageserver --j
expect --metrics zenith pageserver --m
expect --read-only zenith mount --re
expect --verbose zenith branch --verb

repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT
mkdir -p "$repo/refs/branches" && touch "$repo/refs/branches/main" "$repo/refs/branches/experiment"
expect experiment zenith --repo "$repo" mount ex
expect main zenith --repo "$repo" start m
expect delete zenith --repo "$repo" branch d
ZENITH_REPO="$repo" expect experiment zenith stop e

[ "$failures" -eq 0 ] && echo "completion: ok"
exit "$failures"
