#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Read-path assembly check.
#
#   bash tools/check_asm.sh [compiler...]      (default: gcc clang)
#
# Compiles tests/asm_read_path.c with -O2 -S for x86-64 and fails (exit 1,
# printing the offending lines) if the read functions smr_asm_epoch_read and
# smr_asm_swap_read (and smr_asm_collector_read, smr_asm_rc_read) contain a fence (mfence/lfence/sfence), a lock-prefixed
# instruction, xchg/cmpxchg/xadd, or a call (or tail jump) to anything other
# than the out-of-line slow paths smr__enter_slow / smr__swap_read_slow.  The
# whole function is checked (its .cold part too); the fast-path instruction
# count printed is the number of instructions between the SMR_ASM_BEGIN and
# SMR_ASM_END markers (slow-path blocks placed after the return are not in
# it).
#
# Before trusting a pass, the script runs a negative control: the same file
# compiled with -DSMR_ASM_NEGATIVE_CONTROL (a seq_cst fence inside each
# region) must be rejected, otherwise the checker itself is broken.
#
# Exit status: 0 pass, 1 violation (or broken checker), 77 skipped (not
# x86-64, or the compiler is not installed) - ctest's SKIP_RETURN_CODE.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC="$ROOT/tests/asm_read_path.c"
FUNCS="smr_asm_epoch_read smr_asm_swap_read smr_asm_collector_read smr_asm_rc_read"
ALLOWED_CALLS='^(smr__enter_slow|smr__swap_read_slow|smr__collector_(enter|protect|leave)_slow)(@PLT)?$'
FLAGS=(-std=c11 -O2 -S -Wall -Wextra -Wpedantic -Werror -I "$ROOT/include")

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Print the instructions of function $1 in assembly file $2, one per line,
# prefixed with R (between the markers) or O (elsewhere in the function).
# Comments, labels and directives are dropped.
instructions() {
  awk -v f="$1" '
    function strip(s) { sub(/#.*/, "", s); gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    $0 ~ "^" f "(\\.cold)?:" { infn = 1; next }
    infn && $0 ~ "^[ \t]*\\.size[ \t]+" f "(\\.cold)?," { infn = 0; next }
    !infn { next }
    $0 ~ "SMR_ASM_BEGIN " f "$" { inreg = 1; next }
    $0 ~ "SMR_ASM_END " f "$" { inreg = 0; next }
    {
      s = strip($0)
      if (s == "" || s ~ /:$/ || s ~ /^\./) next
      print (inreg ? "R" : "O") "\t" s
    }' "$2"
}

# Check one assembly file; prints a report, returns the number of problems.
check_file() {
  local asm=$1 label=$2 bad=0 f
  for f in $FUNCS; do
    local ins
    ins=$(instructions "$f" "$asm")
    if [ -z "$ins" ] || ! grep -q "SMR_ASM_BEGIN $f\$" "$asm"; then
      echo "  $label $f: function or markers not found in the assembly"
      bad=$((bad + 1))
      continue
    fi
    local offending
    offending=$(printf '%s\n' "$ins" | awk -v ok="$ALLOWED_CALLS" '
      {
        s = $0; sub(/^[RO]\t/, "", s)
        n = split(s, w, /[ \t,]+/); m = w[1]; t = (n > 1) ? w[2] : ""
        bad = 0
        if (m ~ /^lock/ || m ~ /^(m|l|s)fence$/) bad = 1
        if (m ~ /^(xchg|cmpxchg|xadd)/) bad = 1
        if (m ~ /^call/ && t !~ ok) bad = 1
        # A jump to something other than a local label is a tail call.
        if (m ~ /^jmp/ && t !~ /^\.L/ && t !~ ok) bad = 1
        if (bad) print "    " s
      }')
    local nreg ntot
    nreg=$(printf '%s\n' "$ins" | grep -c '^R')
    ntot=$(printf '%s\n' "$ins" | grep -c .)
    echo "  $label $f: fast path $nreg instructions (whole function $ntot)"
    if [ -n "$offending" ]; then
      echo "  $label $f: FORBIDDEN instructions:"
      printf '%s\n' "$offending"
      bad=$((bad + 1))
    fi
  done
  return $bad
}

[ $# -eq 0 ] && set -- gcc clang
status=0
ran=0
for cc in "$@"; do
  if ! command -v "$cc" > /dev/null 2>&1; then
    echo "SKIP $cc: not installed"
    continue
  fi
  target=$("$cc" -dumpmachine 2> /dev/null)
  case "$target" in
  x86_64-* | amd64-*) ;;
  *)
    echo "SKIP $cc: target '$target' is not x86-64"
    continue
    ;;
  esac
  ran=$((ran + 1))
  echo "== $cc ($("$cc" --version | head -n 1))"

  # Negative control: the checker must reject a fence in the fast path.
  if ! "$cc" "${FLAGS[@]}" -DSMR_ASM_NEGATIVE_CONTROL "$SRC" -o "$TMP/ctl.s"; then
    echo "FAIL $cc: negative control does not compile"
    status=1
    continue
  fi
  ctl=$(check_file "$TMP/ctl.s" control)
  nctl=$(printf '%s\n' "$ctl" | grep -c 'FORBIDDEN')
  nfuncs=$(printf '%s\n' $FUNCS | wc -l)
  if [ "$nctl" -ne "$nfuncs" ]; then
    printf '%s\n' "$ctl"
    echo "FAIL $cc: the negative control (seq_cst fence in every region) was" \
      "not caught in every function: the checker is broken"
    status=1
    continue
  fi
  echo "  negative control: fence caught in every function"

  if ! "$cc" "${FLAGS[@]}" "$SRC" -o "$TMP/read.s"; then
    echo "FAIL $cc: tests/asm_read_path.c does not compile"
    status=1
    continue
  fi
  if check_file "$TMP/read.s" "$cc"; then
    echo "PASS $cc"
  else
    echo "FAIL $cc: the read fast path is not plain loads and stores"
    status=1
  fi
done

if [ "$ran" -eq 0 ] && [ "$status" -eq 0 ]; then
  exit 77
fi
exit $status
