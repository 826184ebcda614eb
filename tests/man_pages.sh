#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks of the section 3 pages in docs/man3 (ctest doc_man_coverage and
# doc_man_render; tests/docs.cmake).
#   man_pages.sh coverage SRC   every function the public headers declare
#       (SMR_API, and the public inline SMR_INLINE ones; not smr__*) has a
#       page docs/man3/NAME.3: the page itself, or a one-line link
#       `.so man3/PAGE.3` to the page whose NAME section lists it; and every
#       link points at an existing page.  Read from the headers at test time,
#       so a new function fails until it is documented.
#   man_pages.sh render SRC     every page (links included, looked up by
#       name as `man NAME` does once installed) renders without a warning.
#       Exit 77 (skipped) when neither man nor groff is installed.
set -uo pipefail
mode=${1:?coverage|render} src=${2:?source dir}
dir=$src/docs/man3
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

# The target of a `.so man3/X.3` link page, or "" for a page.
so_target() {
  local first
  first=$(head -n1 "$1")
  case $first in
  .so\ man3/*.3) echo "${first#.so man3/}" ;;
  *) echo "" ;;
  esac
}
# The names a page's NAME section lists.
page_names() {
  awk '/^\.SH NAME/{f=1;next} /^\.SH/{f=0} f' "$1" | tr '\n' ' ' |
    sed 's/\\-.*//' | tr ',' ' '
}

case $mode in
coverage)
  # Comments and preprocessor lines dropped (macros mention SMR_API).
  names=$(cat "$src"/include/smr/*.h |
    perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g; s{^\s*#(?:[^\n]*\\\n)*[^\n]*}{}gm' |
    tr '\n' ' ' |
    grep -oE '(SMR_API|SMR_INLINE)[^;{}()]*\(' |
    sed -E 's/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\($/\1/' |
    grep -v '^smr__' | sort -u)
  [ -n "$names" ] || err "no declarations found in $src/include/smr/*.h"
  n=0
  for name in $names; do
    n=$((n + 1))
    page=$dir/$name.3
    if [ ! -f "$page" ]; then
      err "$name: no page docs/man3/$name.3 (write one, or a link" \
        "'.so man3/PAGE.3' to the page that documents it)"
      continue
    fi
    target=$(so_target "$page")
    [ -n "$target" ] || target=$name.3
    if [ ! -f "$dir/$target" ]; then
      err "docs/man3/$name.3 links to missing page man3/$target"
    elif ! page_names "$dir/$target" | tr ' ' '\n' | grep -qx "$name"; then
      err "$name: not in the NAME section of docs/man3/$target"
    fi
  done
  for f in "$dir"/*.3; do
    t=$(so_target "$f")
    if [ -n "$t" ]; then
      [ -f "$dir/$t" ] || err "$(basename "$f") links to missing page $t"
      [ "$(wc -l <"$f")" -eq 1 ] || err "$(basename "$f"): a link has one line"
    fi
  done
  echo "$n functions checked against the pages in $dir"
  ;;
render)
  export LC_ALL=C MANWIDTH=80 MAN_DISABLE_SECCOMP=1
  if command -v man >/dev/null && man --version >/dev/null 2>&1; then
    tool="man"
  elif command -v groff >/dev/null; then
    tool="groff"
  else
    echo "neither man nor groff installed: render check skipped"
    exit 77
  fi
  n=0
  for f in "$dir"/*.3; do
    name=$(basename "$f" .3)
    if [ $tool = man ]; then
      # As `man NAME` finds it once installed: links resolved by man.
      out=$(man -M "$src/docs" --warnings -E UTF-8 3 "$name" 2>&1 >/dev/null)
    else
      out=$(cd "$src/docs" && groff -man -ww -z -Tutf8 -s "man3/$name.3" 2>&1)
    fi
    [ -z "$out" ] || err "man3/$name.3 ($tool):"$'\n'"$out"
    n=$((n + 1))
  done
  echo "$n pages rendered with $tool"
  ;;
*) err "unknown mode $mode" ;;
esac
exit $fail
