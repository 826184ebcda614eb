#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public inline function has an exported twin (docs/DESIGN.md,
# "Conventions", FFI).
#
# usage: check_twins.sh nm|bindgen SOURCE_DIR [LIBSMR_SO]
#   nm       the twins and accessors are dynamic symbols of LIBSMR_SO
#   bindgen  `bindgen include/smr.h` emits a Rust declaration for each of
#            them (exit 77, skipped, when bindgen is not installed)
#
# The inline functions are found in the headers (every `SMR_INLINE ...
# smr_NAME(`, the internal smr__ helpers excepted), so a new inline fast
# path without its NAME_ffi twin fails here.  The guard accessors and
# layout functions are listed below.
set -eu

mode=$1
src=$2
lib=${3:-}

inline=$(sed -n 's/^SMR_INLINE[^(]*[ *]\(smr_[a-z0-9][a-z0-9_]*\)(.*/\1/p' \
  "$src"/include/smr/*.h | sort -u)
if [ -z "$inline" ]; then
  echo "FAIL: no SMR_INLINE function found in $src/include/smr" >&2
  exit 1
fi
want=""
for f in $inline; do want="$want ${f}_ffi"; done
want="$want smr_swap_guard_value smr_swap_guard_sizeof smr_swap_guard_alignof
  smr_channel_guard_data smr_channel_guard_size smr_channel_guard_version
  smr_channel_guard_switched smr_channel_guard_sizeof
  smr_channel_guard_alignof"

out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM
case "$mode" in
nm)
  # Versioned names (smr_x@@SMR_0.1): the name only.
  nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $NF); print $NF }' >"$out"
  pattern() { echo "^$1\$"; }
  ;;
bindgen)
  if ! command -v bindgen >/dev/null 2>&1; then
    echo "SKIP: bindgen not installed (apt-get install bindgen)"
    exit 77
  fi
  bindgen --version
  bindgen "$src/include/smr.h" --allowlist-function 'smr_.*' \
    --no-layout-tests -- -I"$src/include" >"$out"
  pattern() { echo "pub fn $1("; }
  ;;
*)
  echo "usage: check_twins.sh nm|bindgen SOURCE_DIR [LIBSMR_SO]" >&2
  exit 2
  ;;
esac

echo "inline functions in the headers: $(echo $inline)"
missing=0
n=0
for f in $want; do
  n=$((n + 1))
  if line=$(grep -m1 -e "$(pattern "$f")" "$out"); then
    echo "ok   $f: $(echo "$line" | sed 's/^ *//')"
  else
    echo "MISSING $f"
    missing=$((missing + 1))
  fi
done
if [ "$mode" = bindgen ]; then
  # Without the twins a bindgen user gets nothing for the inline names.
  for f in $inline; do
    if grep -q "pub fn $f(" "$out"; then
      echo "note: bindgen also declared the inline $f (no symbol to link)"
    fi
  done
fi
if [ "$missing" -ne 0 ]; then
  echo "FAIL: $missing of $n exported twins/accessors missing ($mode)"
  exit 1
fi
echo "check_twins $mode: all $n present"
