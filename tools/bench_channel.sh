#!/bin/sh
# SPDX-License-Identifier: MIT
# The cross-process channel benchmark (bench/bench_channel.c) with real
# settings: read cost from a reader process against the in-process swap
# cell, publish cost of 64 B, 64 KiB and 64 MiB payloads (checksum on and
# off, 0 and 1 idle reader processes) against memcpy, and 1 vs 2 reader
# processes reading flat out.  Ratios come from the same run; the tables are
# the program's own.
#
# usage: tools/bench_channel.sh [BUILD_DIR] [--smoke]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench);
#              configure it with -DCMAKE_BUILD_TYPE=Release for real numbers
#   --smoke    tiny run (checks that everything works; numbers meaningless)
#
# Environment:
#   OUT           JSON-lines file the results are appended to (default:
#                 bench-channel.jsonl); every line gets "session", "build" and
#                 "cc" in front, as with tools/bench_suite.sh
#   CHANNEL_RUNS      timed runs per configuration; median, min and max
#                 reported (default 9)
#   CHANNEL_SCALE_MS  duration of one scaling run, per configuration (default
#                 1000)
#   CHANNEL_DIR       directory for the channel files (default: /dev/shm, which
#                 needs about 300 MiB free for the 64 MiB payload: K + 1
#                 buffers of it; the program says so on ENOSPC)
#   CHANNEL_ARGS      more options for bench_channel (see bench_channel --help), e.g.
#                 "--only publish --sizes 1M,16M" or "--symmetric"
# Instructions per read: tools/bench_callgrind.sh (row smr_channel).
# Don't run it on a busy machine: the numbers would show the other load.
# Exit status: bench_channel's (non-zero when a read or a payload failed its
# check), 2 on usage errors.
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_args bench_channel.sh "$@"
OUT=${OUT:-bench-channel.jsonl}
runs=${CHANNEL_RUNS:-9}
scale_ms=${CHANNEL_SCALE_MS:-1000}
prog=$build/bench/bench_channel

if [ ! -x "$prog" ]; then
  echo "bench_channel.sh: no $prog (configure with SMR_BUILD_BENCH=ON, build)" >&2
  exit 2
fi

bench_session bench_channel.sh

if [ -n "$smoke" ]; then
  args="--smoke"
else
  args="--runs $runs --scale-ms $scale_ms"
  dir=${CHANNEL_DIR:-/dev/shm}
  avail=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')
  if [ -n "$avail" ] && [ "$avail" -lt 307200 ]; then
    echo "bench_channel.sh: note: only $((avail / 1024)) MiB free in $dir;" \
      "the 64 MiB payload needs about 300 MiB (set CHANNEL_DIR)" >&2
  fi
fi
if [ -n "${CHANNEL_DIR:-}" ]; then
  args="$args --dir $CHANNEL_DIR"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "bench_channel.sh: build $build (${cc:-?}, ${btype:-?}), session $session"
echo "bench_channel.sh: appending JSON lines to $OUT"
# shellcheck disable=SC2086 # word splitting of the options is wanted
if "$prog" $args ${CHANNEL_ARGS:-} >"$tmp/stdout"; then
  status=0
else
  status=$?
  echo "bench_channel.sh: bench_channel failed (status $status)" >&2
fi
grep '^{"bench"' "$tmp/stdout" |
  sed "s/^{/{\"session\":\"$session\",\"build\":\"$bname\",\"cc\":\"${cc:-unknown}\",/" \
    >>"$OUT" || true
# The tables: everything that is not a JSON line.
grep -v '^{' "$tmp/stdout" || true
exit "$status"
