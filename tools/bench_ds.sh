#!/bin/sh
# SPDX-License-Identifier: MIT
# The lock-free data-structure benchmark (issue 13) over every scheme
# built: bench_ds_<scheme> for each structure, workload and thread count,
# one process per configuration (so each peak RSS is its own), one program
# at a time.
#
# usage: tools/bench_ds.sh [BUILD_DIR] [--smoke]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench);
#              configure it with -DCMAKE_BUILD_TYPE=Release for real numbers
#   --smoke    tiny runs (0.05 s, small ranges, threads 1 2): checks that
#              everything works; numbers meaningless
#
# The matrix (defaults; the environment overrides them):
#   list     get% 0 50 90 100, ranges 1000 10000
#   hashmap  get% 0 50 90 100, ranges 100000 1000000
#   stack, queue  50% push / 50% pop, range 1000 (prefill 500)
#   THREADS       thread counts (default "1 2 4 8 16")
#   DS_SECONDS    seconds per run (default 3)
#   RUNS          runs per configuration (default 3; the median is kept)
#   SCHEMES       schemes, in this order (default: collector
#                 collector_robust smr_epoch ck_epoch ck_hp urcu none, those
#                 built)
#   STALL         the stalled run per scheme, "DS RANGE THREADS SECONDS
#                 STALL_S" (default "hashmap 100000 4 4 2": a write-only
#                 hash map, one thread parked in a section for the first 2 s
#                 of a 4 s run; garbage sampled every 10 ms); "" to skip
#   OUT           JSON-lines file the results are appended to (default
#                 bench-ds.jsonl); every line gets "session", "build" and
#                 "cc" in front of the program's fields
# About 95 minutes with the defaults and every scheme (90 configurations of
# 3 x 3 s per scheme).  Prints a table of median ops/s per configuration.
# Exits non-zero if a program fails (a wrong result is a failure: the
# programs check their structures); never judges timings.  Don't run it on
# a busy machine.  Charts: tools/bench_ds_plot.sh "$OUT".
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_args bench_ds.sh "$@"
OUT=${OUT:-bench-ds.jsonl}
THREADS=${THREADS:-1 2 4 8 16}
DS_SECONDS=${DS_SECONDS:-3}
RUNS=${RUNS:-3}
SCHEMES=${SCHEMES:-collector collector_robust smr_epoch ck_epoch ck_hp urcu none}
STALL=${STALL-hashmap 100000 4 4 2}
bin=$build/bench

if [ ! -d "$bin" ]; then
  echo "bench_ds.sh: no $bin (configure with SMR_BUILD_BENCH=ON, build)" >&2
  exit 2
fi
if [ -n "$smoke" ]; then
  THREADS="1 2"
  STALL="list 128 2 0.1 0.05"
fi

bench_session bench_ds.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
session_file=$tmp/session.jsonl
: >"$session_file"
failed=""

# run PROGRAM ARGS...: one configuration; keep its JSON lines, remember a
# failure (its message is shown).
run() {
  prog=$1
  shift
  # shellcheck disable=SC2086 # $smoke: empty or --smoke
  if "$prog" "$@" $smoke >"$tmp/stdout" 2>"$tmp/stderr"; then
    bench_tag <"$tmp/stdout"
  else
    rc=$?
    echo "bench_ds.sh: ${prog##*/} $* failed (status $rc):" >&2
    failed="$failed ${prog##*/}"
    bench_tag <"$tmp/stdout" || true
  fi
  if [ -s "$tmp/stderr" ]; then sed "s/^/  ${prog##*/}: /" "$tmp/stderr" >&2; fi
}

# ranges DS: the key ranges of a structure (the program's own small ones
# in smoke mode).
ranges() {
  if [ -n "$smoke" ]; then
    echo default
    return
  fi
  case $1 in
  list) echo "1000 10000" ;;
  hashmap) echo "100000 1000000" ;;
  *) echo "1000" ;;
  esac
}

echo "bench_ds.sh: build $build (${cc:-?}, ${btype:-?}), session $session"
echo "bench_ds.sh: appending JSON lines to $OUT"
common="--seconds $DS_SECONDS --runs $RUNS"
[ -n "$smoke" ] && common=""
for s in $SCHEMES; do
  p=$bin/bench_ds_$s
  if [ ! -x "$p" ]; then
    echo "bench_ds.sh: $s: no $p (peer library missing?), skipped" >&2
    continue
  fi
  echo "== $s"
  for ds in list hashmap stack queue; do
    case $ds in
    list | hashmap) gets="0 50 90 100" ;;
    *) gets="50" ;;
    esac
    for r in $(ranges $ds); do
      ropt="--range $r"
      [ "$r" = default ] && ropt=""
      for g in $gets; do
        for t in $THREADS; do
          # shellcheck disable=SC2086 # word splitting of the options
          run "$p" --ds $ds --threads "$t" --get-pct "$g" $ropt $common
        done
      done
    done
  done
  if [ -n "$STALL" ]; then
    # shellcheck disable=SC2086
    set -- $STALL
    # shellcheck disable=SC2086
    run "$p" --ds "$1" --range "$2" --threads "$3" --seconds "$4" \
      --stall "$5" --get-pct 0 --runs 1
  fi
done

# The table: median ops/s per configuration, one column per thread count.
echo
awk "$BENCH_JGET"'
  jget($0, "bench") == "ds_summary" && jget($0, "stall_s") + 0 == 0 {
    c = sprintf("%-8s %4s %8s", jget($0, "ds"), jget($0, "get_pct"), \
      jget($0, "range"))
    s = jget($0, "scheme"); t = jget($0, "threads")
    if (!(c in cseen)) { cseen[c] = 1; cfg[++nc] = c }
    if (!(s in sseen)) { sseen[s] = 1; sch[++nsch] = s }
    if (!(t in tseen)) { tseen[t] = 1; ts[++nt] = t + 0 }
    v[c, s, t] = jget($0, "ops_per_s_median")
  }
  jget($0, "bench") == "ds_summary" && jget($0, "stall_s") + 0 > 0 {
    stall[++ns] = sprintf("%-17s %-8s %8s threads %s, stall %s s: garbage " \
      "peak %s, avg %s", jget($0, "scheme"), jget($0, "ds"), \
      jget($0, "range"), jget($0, "threads"), jget($0, "stall_s"), \
      jget($0, "garbage_peak"), jget($0, "garbage_avg"))
  }
  END {
    for (i = 2; i <= nt; i++)
      for (j = i; j > 1 && ts[j - 1] > ts[j]; j--) {
        x = ts[j]; ts[j] = ts[j - 1]; ts[j - 1] = x
      }
    printf "%-8s %4s %8s %-17s", "ds", "get%", "range", "scheme"
    for (i = 1; i <= nt; i++) printf " %9s", ts[i] " thr"
    printf "\n"
    for (k = 1; k <= nc; k++)
      for (m = 1; m <= nsch; m++) {
        row = ""
        for (i = 1; i <= nt; i++) {
          x = v[cfg[k], sch[m], ts[i]]
          row = row sprintf(" %9s", x == "" ? "-" : sprintf("%.3gM", x / 1e6))
        }
        printf "%s %-17s%s\n", cfg[k], sch[m], row
      }
    if (ns) print "\nstalled runs (garbage = retired nodes not yet reclaimed):"
    for (i = 1; i <= ns; i++) print stall[i]
    print "(ops/s: median of the runs; M = millions)"
  }' "$session_file"

if [ -n "$failed" ]; then
  echo "bench_ds.sh: FAILED:$failed" >&2
  exit 1
fi
