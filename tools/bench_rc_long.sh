#!/bin/sh
# SPDX-License-Identifier: MIT
# Does the memory stay flat over a long run?  (circ's claim for its
# DoubleLink queue; issue 14.)  The DoubleLink queue with 16 threads for
# 60 s, 50% enqueue / 50% dequeue, for rc, rc_deferred and smr_epoch one
# after another, each printing its resident set every second
# (bench_ds_<scheme> --series 1: /proc/self/statm, not the peak).
#
# usage: tools/bench_rc_long.sh [BUILD_DIR] [--smoke]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench);
#              configure it with -DCMAKE_BUILD_TYPE=Release
#   --smoke    2 threads, 1.5 s, a sample every 0.05 s, windows of 0.4 s
#              after 0.3 s: checks that everything works
#
# The environment overrides SCHEMES (default "rc rc_deferred smr_epoch"),
# THREADS (16), LONG_SECONDS (60), SAMPLE (seconds between samples, 1),
# WARMUP (10) and WINDOW (10), and OUT (default bench-rc-long.jsonl: every
# line the programs print, tagged as tools/bench_ds.sh does).  About
# 3 minutes with the defaults.
#
# Per scheme: ops/s, the mean RSS of the samples in [WARMUP, WARMUP +
# WINDOW) s (seconds 10-20) and in the last WINDOW seconds, their ratio
# (last / first), and the verdict: flat when the ratio is within 10 % of 1
# (issue 14's target for rc; rc_deferred, without immediate recursive
# destruction, is expected to grow).  Exits non-zero if a program fails;
# never judges the figures.
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_args bench_rc_long.sh "$@"
OUT=${OUT:-bench-rc-long.jsonl}
SCHEMES=${SCHEMES:-rc rc_deferred smr_epoch}
THREADS=${THREADS:-16}
LONG_SECONDS=${LONG_SECONDS:-60}
SAMPLE=${SAMPLE:-1}
WARMUP=${WARMUP:-10}
WINDOW=${WINDOW:-10}
if [ -n "$smoke" ]; then
  THREADS=2 LONG_SECONDS=1.5 SAMPLE=0.05 WARMUP=0.3 WINDOW=0.4
fi
bin=$build/bench
if [ ! -d "$bin" ]; then
  echo "bench_rc_long.sh: no $bin (configure with SMR_BUILD_BENCH=ON," \
    "build)" >&2
  exit 2
fi

bench_session bench_rc_long.sh
bench_scratch

echo "bench_rc_long.sh: build $build (${cc:-?}, ${btype:-?}), session" \
  "$session; dlqueue, $THREADS threads, $LONG_SECONDS s, a sample every" \
  "$SAMPLE s; appending JSON lines to $OUT"
for s in $SCHEMES; do
  if [ ! -x "$bin/bench_ds_$s" ]; then
    echo "bench_rc_long.sh: no $bin/bench_ds_$s, skipped" >&2
    continue
  fi
  echo "== $s"
  # shellcheck disable=SC2086 # $smoke: empty or --smoke
  if "$bin/bench_ds_$s" --ds dlqueue --threads "$THREADS" \
    --seconds "$LONG_SECONDS" --runs 1 --series "$SAMPLE" $smoke \
    >"$tmp/out" 2>"$tmp/stderr"; then
    :
  else
    echo "bench_rc_long.sh: bench_ds_$s failed (status $?):" >&2
    failed="$failed $s"
  fi
  bench_tag <"$tmp/out" || true
  if [ -s "$tmp/stderr" ]; then sed "s/^/  bench_ds_$s: /" "$tmp/stderr" >&2; fi
done

echo
awk -v warm="$WARMUP" -v win="$WINDOW" -v len="$LONG_SECONDS" \
  "$BENCH_JGET"'
  function add(s) { if (!(s in seen)) { seen[s] = 1; sch[++n] = s } }
  jget($0, "bench") == "ds_series" {
    s = jget($0, "scheme"); add(s)
    t = jget($0, "t_s") + 0; r = jget($0, "rss_kb") + 0
    if (t >= warm && t < warm + win) { a[s] += r; na[s]++ }
    if (t > len - win) { b[s] += r; nb[s]++ }
    g[s] = jget($0, "garbage")
  }
  jget($0, "bench") == "ds" {
    s = jget($0, "scheme"); add(s)
    ops[s] = jget($0, "ops_per_s"); peak[s] = jget($0, "peak_rss_kb")
  }
  END {
    printf "%-12s %12s %12s %12s %12s %7s %s\n", "scheme", "ops/s", \
      "peak RSS KB", "RSS first KB", "RSS last KB", "last/1st", "verdict"
    for (i = 1; i <= n; i++) {
      s = sch[i]
      if (!na[s] || !nb[s]) {
        printf "%-12s %12s %12s   (too few samples)\n", s, ops[s], peak[s]
        continue
      }
      x = a[s] / na[s]; y = b[s] / nb[s]; q = x ? y / x : 0
      v = q > 1.1 ? "grows" : q < 0.9 ? "shrinks" : "flat"
      printf "%-12s %12.0f %12d %12.0f %12.0f %7.3f %s\n", s, ops[s], \
        peak[s], x, y, q, v
    }
    printf "(first: mean RSS of t in [%s, %s) s; last: t > %s s; flat: " \
      "last/first within 10 %%)\n", warm, warm + win, len - win
  }' "$session_file"

if [ -n "$failed" ]; then
  echo "bench_rc_long.sh: FAILED:$failed" >&2
  exit 1
fi
