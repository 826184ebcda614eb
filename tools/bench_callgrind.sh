#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per read section, counted by callgrind: deterministic, so it
# can be compared across machines and runs (unlike ns timings).  Note that an
# instruction count weighs a full fence (mfence, lock-prefixed RMW) as one
# instruction: read it together with the timings of bench_read_*.
#
# usage: tools/bench_callgrind.sh [BUILD_DIR] [ITERS]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench)
#   ITERS      read sections per program (default: 1000000)
#
# Every bench_read_<impl> program found in BUILD_DIR/bench is run once under
#   valgrind --tool=callgrind --toggle-collect=bench_loop
# with --iters ITERS --runs 1 --warmup 0, so the only instructions collected
# are those executed inside the timed loop function bench_loop (callees
# included, e.g. the out-of-line symmetric paths).  Ir(bench_loop) / ITERS is
# the cost of one read section plus the loop's own bookkeeping; the "plain"
# row is the floor (acquire load, field read, accumulate, loop counter and
# branch: 5 instructions on x86-64) and "over plain" is what the read
# section itself adds.  The lock rows (rwlock, mutex) count glibc's lock and
# unlock calls (callees included); urcu_qsbr amortises one quiescent state
# over 1024 reads, urcu_qsbr_qs1 announces one per read.
#
# When BUILD_DIR/bench/bench_channel exists, the cross-process channel's read is
# counted too (row smr_channel): bench_channel --only read --inproc runs the loop
# "smr_channel_read, load the payload's first byte, smr_channel_release" with the
# reader handle in the writer's own process (the writer published once and
# is idle, so this is the path a reader process runs), collected with
# --toggle-collect=bench_loop_channel_read; the line under the table compares it
# with the smr_swap row (in-process swap cell, same loop shape).
#
# Prints one JSON object per program, then a table.  tools/bench_suite.sh
# runs this too.
# Configure the build with -DCMAKE_BUILD_TYPE=Release for meaningful
# figures.
set -eu

build=${1:-build-bench}
iters=${2:-1000000}

if ! command -v valgrind >/dev/null 2>&1; then
  echo "bench_callgrind.sh: valgrind not found" >&2
  exit 2
fi
if [ ! -d "$build/bench" ]; then
  echo "bench_callgrind.sh: no $build/bench (build with SMR_BUILD_BENCH=ON)" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The floor first, then the rest in name order.
progs=""
[ -x "$build/bench/bench_read_plain" ] && progs="$build/bench/bench_read_plain"
for p in "$build"/bench/bench_read_*; do
  if [ ! -f "$p" ] || [ ! -x "$p" ]; then continue; fi
  case "$p" in */bench_read_plain) continue ;; esac
  progs="$progs $p"
done
if [ -z "$progs" ]; then
  echo "bench_callgrind.sh: no bench_read_* programs in $build/bench" >&2
  exit 2
fi

results="$tmp/results"
: >"$results"
for p in $progs; do
  impl=${p##*/bench_read_}
  out="$tmp/callgrind.$impl.out"
  if ! valgrind --tool=callgrind --toggle-collect=bench_loop \
    --callgrind-out-file="$out" "$p" --iters "$iters" --runs 1 --warmup 0 \
    >"$tmp/$impl.stdout" 2>"$tmp/$impl.stderr"; then
    echo "bench_callgrind.sh: $p failed under valgrind:" >&2
    cat "$tmp/$impl.stderr" >&2
    exit 1
  fi
  # Collected instructions = Ir inside bench_loop (the only toggled region).
  ir=$(sed -n 's/^summary: *\([0-9][0-9]*\).*/\1/p' "$out")
  if [ -z "$ir" ] || [ "$ir" -eq 0 ]; then
    echo "bench_callgrind.sh: no instructions collected for $impl" \
      "(is bench_loop present in $p?)" >&2
    exit 1
  fi
  mode=$(sed -n 's/.*"mode":"\([a-z]*\)","summary":true.*/\1/p' \
    "$tmp/$impl.stdout" | head -n 1)
  echo "$impl ${mode:-unknown} $ir" >>"$results"
done

# The channel read, if bench_channel is built (see the top).
channel="$build/bench/bench_channel"
if [ -x "$channel" ]; then
  out="$tmp/callgrind.smr_channel.out"
  if ! valgrind --tool=callgrind --toggle-collect=bench_loop_channel_read \
    --callgrind-out-file="$out" "$channel" --only read --inproc \
    --iters "$iters" --runs 1 --warmup 0 \
    >"$tmp/smr_channel.stdout" 2>"$tmp/smr_channel.stderr"; then
    echo "bench_callgrind.sh: $channel failed under valgrind:" >&2
    cat "$tmp/smr_channel.stderr" >&2
    exit 1
  fi
  ir=$(sed -n 's/^summary: *\([0-9][0-9]*\).*/\1/p' "$out")
  if [ -z "$ir" ] || [ "$ir" -eq 0 ]; then
    echo "bench_callgrind.sh: no instructions collected for smr_channel" \
      "(is bench_loop_channel_read present in $channel?)" >&2
    exit 1
  fi
  mode=$(sed -n 's/.*"impl":"smr_channel","mode":"\([a-z]*\)".*"summary":true.*/\1/p' \
    "$tmp/smr_channel.stdout" | head -n 1)
  echo "smr_channel ${mode:-unknown} $ir" >>"$results"
fi

awk -v iters="$iters" '
  NR == 1 { floor = ($1 == "plain") ? $3 / iters : -1 }
  {
    per = $3 / iters
    printf "{\"bench\":\"read_callgrind\",\"impl\":\"%s\",\"mode\":\"%s\",", \
           $1, $2
    printf "\"iters\":%d,\"ir\":%d,\"ir_per_op\":%.3f}\n", iters, $3, per
    impl[NR] = $1; mode[NR] = $2; ir[NR] = $3; n = NR
  }
  END {
    printf "\n%-14s %-10s %14s %10s %12s\n", "impl", "mode", "Ir(bench_loop)", \
           "Ir/read", "over plain"
    for (i = 1; i <= n; i++) {
      per = ir[i] / iters
      if (floor >= 0)
        printf "%-14s %-10s %14d %10.3f %+12.3f\n", impl[i], mode[i], ir[i], \
               per, per - floor
      else
        printf "%-14s %-10s %14d %10.3f %12s\n", impl[i], mode[i], ir[i], \
               per, "n/a"
    }
    printf "(%d read sections per program; Ir/read includes the loop'\''s own ", iters
    printf "increment, compare and branch)\n"
    channel = swap = -1
    for (i = 1; i <= n; i++) {
      if (impl[i] == "smr_channel") channel = ir[i] / iters
      if (impl[i] == "smr_swap") swap = ir[i] / iters
    }
    if (channel >= 0 && swap >= 0)
      printf "smr_channel (cross-process) / smr_swap (in-process cell): %.2fx the instructions per read (%+.3f)\n", \
             channel / swap, channel - swap
  }' "$results"
