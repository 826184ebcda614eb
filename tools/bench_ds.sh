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
#   DS            structures, in this order (default "list hashmap stack
#                 queue"; dlqueue is the DoubleLink queue)
#   SET_GETS      get% of the sets (default "0 50 90 100")
#   LIST_RANGES, HASHMAP_RANGES, POOL_RANGES  key ranges (defaults above;
#                 POOL_RANGES: the stack and the queues)
#   THREADS       thread counts (default "1 2 4 8 16")
#   DS_SECONDS    seconds per run (default 3)
#   RUNS          runs per configuration (default 3; the median is kept),
#                 interleaved: run 1 of every scheme, then run 2 of every
#                 scheme..., so that the machine's drift moves all alike
#   SCHEMES       schemes, in this order (default: collector
#                 collector_robust smr_epoch ck_epoch ck_hp urcu none, those
#                 built; rc and rc_deferred: tools/bench_rc.sh)
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
DS=${DS:-list hashmap stack queue}
SET_GETS=${SET_GETS:-0 50 90 100}
LIST_RANGES=${LIST_RANGES:-1000 10000}
HASHMAP_RANGES=${HASHMAP_RANGES:-100000 1000000}
POOL_RANGES=${POOL_RANGES:-1000}
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

bench_scratch
: >"$tmp/runs.jsonl"

# run PROGRAM ARGS...: one configuration; keep its JSON lines, remember a
# failure (its message is shown).
run() {
  prog=$1
  shift
  # shellcheck disable=SC2086 # $smoke: empty or --smoke
  if "$prog" "$@" $smoke >"$tmp/out" 2>"$tmp/stderr"; then
    :
  else
    rc=$?
    echo "bench_ds.sh: ${prog##*/} $* failed (status $rc):" >&2
    failed="$failed ${prog##*/}"
  fi
  # A one-run summary is replaced by the interleaved one (below); a
  # stalled run keeps its own.
  grep -v '"bench":"ds_summary".*"stall_s":0.000,' "$tmp/out" >"$tmp/stdout" ||
    true
  grep '^{"bench":"ds",.*"stall_s":0.000,' "$tmp/out" >>"$tmp/runs.jsonl" ||
    true
  bench_tag <"$tmp/stdout" || true
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
  list) echo "$LIST_RANGES" ;;
  hashmap) echo "$HASHMAP_RANGES" ;;
  *) echo "$POOL_RANGES" ;;
  esac
}

echo "bench_ds.sh: build $build (${cc:-?}, ${btype:-?}), session $session"
echo "bench_ds.sh: appending JSON lines to $OUT"
progs=""
for s in $SCHEMES; do
  if [ -x "$bin/bench_ds_$s" ]; then
    progs="$progs $s"
  else
    echo "bench_ds.sh: $s: no $bin/bench_ds_$s (peer library missing?)," \
      "skipped" >&2
  fi
done
one="--seconds $DS_SECONDS --runs 1"
[ -n "$smoke" ] && one="--runs 1"
[ -n "$smoke" ] && RUNS=1
# Interleaved: for each configuration, run 1 of every scheme, then run 2 of
# every scheme, and so on, so that a machine that drifts (other tenants,
# frequency) moves every scheme alike and the ratios hold; each program
# prints its own run line ("bench":"ds"), the summaries (median of the
# runs) are made from those below.
for ds in $DS; do
  case $ds in
  list | hashmap) gets=$SET_GETS ;;
  *) gets="50" ;;
  esac
  for r in $(ranges "$ds"); do
    ropt="--range $r"
    [ "$r" = default ] && ropt=""
    for g in $gets; do
      for t in $THREADS; do
        echo "== $ds $r get $g%, $t threads:$progs"
        k=1
        while [ "$k" -le "$RUNS" ]; do
          for s in $progs; do
            # shellcheck disable=SC2086 # word splitting of the options
            run "$bin/bench_ds_$s" --ds $ds --threads "$t" --get-pct "$g" \
              $ropt $one
          done
          k=$((k + 1))
        done
      done
    done
  done
done
if [ -n "$STALL" ]; then
  # shellcheck disable=SC2086
  set -- $STALL
  for s in $progs; do
    echo "== $s: stalled run $STALL"
    # shellcheck disable=SC2086
    run "$bin/bench_ds_$s" --ds "$1" --range "$2" --threads "$3" \
      --seconds "$4" --stall "$5" --get-pct 0 --runs 1
  done
fi

# The summaries of the interleaved runs, one per scheme and configuration
# (the programs' own, of one run each, are dropped): median, min and max
# ops/s; the highest peak garbage and RSS; mean average garbage; heavy
# barriers per retire over all runs.
awk "$BENCH_JGET"'
  jget($0, "bench") != "ds" { next }
  {
    k = jget($0, "scheme") SUBSEP jget($0, "ds") SUBSEP jget($0, "threads") \
      SUBSEP jget($0, "get_pct") SUBSEP jget($0, "range") SUBSEP \
      jget($0, "stall_s")
    if (!(k in n)) { key[++nk] = k; sec[k] = jget($0, "seconds") }
    n[k]++
    ops[k, n[k]] = jget($0, "ops_per_s") + 0
    gp = jget($0, "garbage_peak") + 0
    if (gp > peak[k]) peak[k] = gp
    avg[k] += jget($0, "garbage_avg")
    rss_ = jget($0, "peak_rss_kb") + 0
    if (rss_ > rss[k]) rss[k] = rss_
    b = jget($0, "heavy_barriers")
    if (b == "null") nob[k] = 1; else bar[k] += b
    ret[k] += jget($0, "retires")
  }
  END {
    for (i = 1; i <= nk; i++) {
      k = key[i]; split(k, f, SUBSEP); m = n[k]
      lo = hi = ops[k, 1]
      for (j = 1; j <= m; j++) {
        a[j] = ops[k, j]
        if (a[j] < lo) lo = a[j]
        if (a[j] > hi) hi = a[j]
      }
      bpr = nob[k] ? "null" : (ret[k] ? sprintf("%.6f", bar[k] / ret[k]) \
        : "0")
      printf "{\"bench\":\"ds_summary\",\"scheme\":\"%s\",\"ds\":\"%s\"," \
        "\"threads\":%s,\"get_pct\":%s,\"range\":%s,\"stall_s\":%s," \
        "\"seconds\":%s,\"runs\":%d,\"interleaved\":true," \
        "\"ops_per_s_median\":%.0f,\"ops_per_s_min\":%.0f," \
        "\"ops_per_s_max\":%.0f,\"garbage_peak\":%d,\"garbage_avg\":%.1f," \
        "\"peak_rss_kb\":%d,\"heavy_barriers_per_retire\":%s}\n", \
        f[1], f[2], f[3], f[4], f[5], f[6], sec[k], m, median(a, m), lo, \
        hi, peak[k], avg[k] / m, rss[k], bpr
    }
  }' "$tmp/runs.jsonl" >"$tmp/summary.jsonl"
bench_tag <"$tmp/summary.jsonl"

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

# Ratios of medians (issue 13's targets): the collector (C), robust (R)
# and the leaking floor (none) over the epoch domain (E) and ck_hp (H),
# and peak garbage over the epoch domain's; "-" where a scheme is missing.
echo
awk "$BENCH_JGET$BENCH_DS_CELLS"'
  { ds_cell($0) }
  function r(a, b) { return (a && b) ? sprintf("%6.2f", a / b) : "     -" }
  END {
    printf "%-8s %4s %8s %3s %6s %6s %6s %6s %6s %6s\n", "ds", "get%", \
      "range", "thr", "C/E", "R/E", "C/H", "none/H", "gC/gE", "gR/gE"
    for (k = 1; k <= nc; k++) {
      c = cfg[k]
      printf "%s %s %s %s %s %s %s\n", c, r(v[c, "collector"], \
        v[c, "smr_epoch"]), r(v[c, "collector_robust"], v[c, "smr_epoch"]), \
        r(v[c, "collector"], v[c, "ck_hp"]), r(v[c, "none"], v[c, "ck_hp"]), \
        r(g[c, "collector"], g[c, "smr_epoch"]), \
        r(g[c, "collector_robust"], g[c, "smr_epoch"])
    }
    print "(targets: C/E >= 0.9 at 1-2 threads, >= 1.0 at 4-16; gC/gE <= 0.2;"
    print " C/H >= 1.2 on the hash map, >= 2 on the 10,000-key list; none/H"
    print " is the most any scheme could reach over ck_hp)"
  }' "$session_file"

if [ -n "$failed" ]; then
  echo "bench_ds.sh: FAILED:$failed" >&2
  exit 1
fi
