#!/bin/sh
# SPDX-License-Identifier: MIT
# Reference counting (smr/rc.h, issue 14) side by side with the same
# structures on the epoch domain, the collector and the leaking floor: the
# Harris-Michael list, the Michael hash map and the DoubleLink queue, one
# process per configuration, runs interleaved (tools/bench_ds.sh does the
# runs; this script picks the matrix and adds the ratios).
#
# usage: tools/bench_rc.sh [BUILD_DIR] [--quick | --smoke]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench);
#              configure it with -DCMAKE_BUILD_TYPE=Release for real numbers
#   --quick    one short run per cell (RUNS=1, DS_SECONDS=1 unless set):
#              about 5 minutes
#   --smoke    tiny runs (tools/bench_ds.sh --smoke: 0.05 s, small ranges,
#              threads 1 2): checks that everything works; numbers
#              meaningless
#
# The matrix: list (ranges 1000 10000) and hashmap (100000) at get% 0 50
# 90, dlqueue (50% enqueue / 50% dequeue, range 1000); threads 1 2 4 8 16;
# schemes rc rc_deferred smr_epoch collector none.  The environment
# overrides THREADS, RUNS (default 3), DS_SECONDS (default 3), SCHEMES and
# OUT (default bench-rc.jsonl: the JSON lines of tools/bench_ds.sh are
# appended to it).  About 40 minutes with the defaults.
#
# After bench_ds.sh's tables, one row per configuration: median ops/s of
# rc, rc_deferred (rcD), the collector (C) and none over the epoch domain
# (E), and peak RSS of rc and rc_deferred over the epoch domain's; a "!"
# marks an rc cell that misses issue 14's targets (rc/E >= 0.8, peak RSS
# rc/E <= 1.2).  Exits non-zero if a program fails; never judges timings.
# Memory over a long run: tools/bench_rc_long.sh.
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
quick=""
for a in "$@"; do
  shift
  if [ "$a" = --quick ]; then quick=1; else set -- "$@" "$a"; fi
done
bench_args bench_rc.sh "$@"
OUT=${OUT:-bench-rc.jsonl}
if [ -n "$quick" ]; then
  RUNS=${RUNS:-1}
  DS_SECONDS=${DS_SECONDS:-1}
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
echo "bench_rc.sh: appending JSON lines to $OUT (after the runs)"
# shellcheck disable=SC2086 # $smoke: empty or --smoke
OUT=$tmp/rc.jsonl RUNS=${RUNS:-3} DS_SECONDS=${DS_SECONDS:-3} \
  SCHEMES=${SCHEMES:-rc rc_deferred smr_epoch collector none} \
  DS="list hashmap dlqueue" SET_GETS="0 50 90" LIST_RANGES="1000 10000" \
  HASHMAP_RANGES="100000" POOL_RANGES="1000" STALL="" \
  "$(dirname "$0")/bench_ds.sh" "$build" $smoke || status=$?
if [ -f "$tmp/rc.jsonl" ]; then cat "$tmp/rc.jsonl" >>"$OUT"; fi

echo
echo "bench_rc.sh: ratios over the epoch domain (E) of the same structure," \
  "median ops/s and peak RSS"
awk "$BENCH_JGET$BENCH_DS_CELLS"'
  jget($0, "interleaved") == "true" { ds_cell($0) }
  function r(a, b) { return (a && b) ? sprintf("%7.2f", a / b) : "      -" }
  # the ratio, marked "!" when it misses its target (ops: >= lo; memory:
  # <= hi; pass lo = 0 or hi = 0 to skip a side)
  function t(a, b, lo, hi,   x) {
    if (!(a && b)) return "       -"
    x = a / b
    return sprintf("%7.2f%s", x, (lo && x < lo) || (hi && x > hi) ? "!" : " ")
  }
  END {
    printf "%-8s %4s %8s %3s %8s %7s %7s %7s %8s %7s\n", "ds", "get%", \
      "range", "thr", "rc/E", "rcD/E", "C/E", "none/E", "RSS rc/E", "rcD/E"
    for (k = 1; k <= nc; k++) {
      c = cfg[k]
      printf "%s %s %s %s %s %s %s\n", c, t(v[c, "rc"], v[c, "smr_epoch"], \
        0.8, 0), r(v[c, "rc_deferred"], v[c, "smr_epoch"]), \
        r(v[c, "collector"], v[c, "smr_epoch"]), \
        r(v[c, "none"], v[c, "smr_epoch"]), \
        t(m[c, "rc"], m[c, "smr_epoch"], 0, 1.2), \
        r(m[c, "rc_deferred"], m[c, "smr_epoch"])
    }
    print "(targets: rc/E >= 0.8, peak RSS rc/E <= 1.2; \"!\" misses one;"
    print " RSS: the process peak, getrusage)"
  }' "$tmp/rc.jsonl"
exit "$status"
