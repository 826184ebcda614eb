#!/bin/sh
# SPDX-License-Identifier: MIT
# The lookup-table benchmark (issue 3, scenarios 2 and 3): every
# bench_lookup_<impl> program found in BUILD_DIR/bench, each configuration in
# a fresh process (peak RSS is per process), then a summary table.
#
# usage: tools/bench_lookup.sh [BUILD_DIR] [--smoke] [--pace]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench); configure
#              it with -DCMAKE_BUILD_TYPE=Release for meaningful figures
#   --smoke    every configuration for about 0.2 s, one run (checks that
#              everything works; the figures mean nothing)
#   --pace     the writer-pace cell (issue 10, C.19): smr_epoch against
#              ck_epoch only, 100,000 entries, 2 and 4 readers, publishing
#              back to back and every 1 ms, every process pinned to two CPUs
#              (LOOKUP_CPUS, default 0,1; taskset) so the readers and the
#              writer oversubscribe them on any machine; no ratio sweep.
#              Summary: publishes/s, its ratio to ck_epoch's, and the peak
#              number of replaced tables not yet freed (live = held + 1).
#
# Scenario 2: readers 1, 2, 4 x publish interval 1000 us and 0 (back to
# back), 100,000 entries.  Scenario 3: one reader, one writer, read:write
# ratios 100:1, 10:1, 1:1, 1:10, 1:100 on a 1,000-entry table.
#
# Environment:
#   OUT               JSON lines are appended here (default bench-lookup.jsonl)
#   LOOKUP_SECONDS    measured seconds per run (default 2)
#   LOOKUP_WARMUP     warm-up seconds per run (default 1)
#   LOOKUP_RUNS       runs per configuration; median reported (default 3)
#   LOOKUP_IMPLS      implementations to run (default: every program found)
#   LOOKUP_READERS    default "1 2 4"
#   LOOKUP_INTERVALS  default "1000 0"
#   LOOKUP_RATIOS     default "100:1 10:1 1:1 1:10 1:100"
#   LOOKUP_ARGS       extra arguments for every program (e.g. --threshold 8)
#   LOOKUP_CPUS       --pace: CPU list for taskset (default 0,1; empty: no
#                     pinning)
# The environment reaches the programs, so GLIBC_TUNABLES set here applies.
#
# Summary columns (medians over the runs; "x" columns are ratios):
#   lookups/s x rwlock, x floor   lookups/s divided by rwlock's, floor's
#   cpu/lk x floor                reader CPU ns per lookup divided by floor's
#                                 (>= 1 expected; the fair figure on few cores)
#   ns/op x rwlock, x floor       ratio sweep: reference ns/op divided by the
#                                 implementation's (> 1 = faster)
# Exit status: 0 if every program succeeded, 1 otherwise (a program exits
# non-zero when a lookup fails verification), 2 on usage errors.
set -eu

build="build-bench"
smoke=0
pace=0
for a in "$@"; do
  case "$a" in
  --smoke) smoke=1 ;;
  --pace) pace=1 ;;
  -h | --help)
    sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  -*)
    echo "bench_lookup.sh: unknown option $a" >&2
    exit 2
    ;;
  *) build=$a ;;
  esac
done

out=${OUT:-bench-lookup.jsonl}
seconds=${LOOKUP_SECONDS:-2}
warmup=${LOOKUP_WARMUP:-1}
runs=${LOOKUP_RUNS:-3}
readers_list=${LOOKUP_READERS:-1 2 4}
intervals=${LOOKUP_INTERVALS:-1000 0}
ratios=${LOOKUP_RATIOS:-100:1 10:1 1:1 1:10 1:100}
extra=${LOOKUP_ARGS:-}
pin=""
default_impls="floor rwlock rwlock_wpref mutex smr_swap smr_epoch \
  urcu_memb_callrcu urcu_memb_sync urcu_qsbr ck_epoch"
if [ "$pace" = 1 ]; then
  default_impls="smr_epoch ck_epoch"
  readers_list=${LOOKUP_READERS:-2 4}
  ratios=""
  cpus=${LOOKUP_CPUS-0,1}
  if [ -n "$cpus" ]; then
    if command -v taskset >/dev/null 2>&1; then
      pin="taskset -c $cpus"
    else
      echo "bench_lookup.sh: no taskset, --pace runs unpinned" >&2
    fi
  fi
fi
if [ "$smoke" = 1 ]; then
  common="--smoke"
else
  common="--seconds $seconds --warmup $warmup --runs $runs"
fi

if [ ! -d "$build/bench" ]; then
  echo "bench_lookup.sh: no $build/bench (build with SMR_BUILD_BENCH=ON)" >&2
  exit 2
fi
impls=""
for i in ${LOOKUP_IMPLS:-$default_impls}; do
  if [ -x "$build/bench/bench_lookup_$i" ]; then
    impls="$impls $i"
  else
    echo "bench_lookup.sh: no $build/bench/bench_lookup_$i, skipped" >&2
  fi
done
if [ -z "$impls" ]; then
  echo "bench_lookup.sh: no bench_lookup_* programs in $build/bench" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$tmp/all"
failed=0

# run <impl> <args...>: one configuration, one process.
run() {
  impl=$1
  shift
  prog="$build/bench/bench_lookup_$impl"
  # shellcheck disable=SC2086 # word splitting of the option lists is wanted
  if $pin "$prog" $common $extra "$@" >"$tmp/one" 2>"$tmp/err"; then
    status=ok
  else
    status="FAILED (exit $?)"
    failed=1
  fi
  printf '%-18s %-30s %s\n' "$impl" "$*" "$status"
  if [ "$status" != ok ]; then
    sed 's/^/    /' "$tmp/err" >&2
  fi
  grep '^{' "$tmp/one" >>"$tmp/all" || true
  grep '^{' "$tmp/one" >>"$out" || true
}

for r in $readers_list; do
  for u in $intervals; do
    for i in $impls; do
      run "$i" --readers "$r" --interval-us "$u"
    done
  done
done
for q in $ratios; do
  for i in $impls; do
    run "$i" --ratio "$q"
  done
done

# ---- summary (from this invocation's summary lines) ------------------------
awk -v pace="$pace" -v pin="$pin" '
function get(line, key,    s) {
  if (!match(line, "\"" key "\":(\"[^\"]*\"|[^,}]*)"))
    return ""
  s = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
  gsub(/"/, "", s)
  return s
}
function ratio(a, b) { return (a != "" && b != "" && b + 0 != 0) ? sprintf("%.2f", a / b) : "-" }
/"summary":true/ {
  impl = get($0, "impl")
  if (get($0, "scenario") == "ratio") {
    c = get($0, "ratio")
    if (!(c in rseen)) { rseen[c] = 1; rcfg[++nr] = c }
    k = c SUBSEP impl
    rimpl[k] = 1; rlist[c] = rlist[c] " " impl
    nsop[k] = get($0, "median_ns_per_op"); ach[k] = get($0, "median_achieved_ratio")
    rps[k] = get($0, "median_lookups_per_s"); wps[k] = get($0, "median_publishes_per_s")
  } else {
    c = get($0, "readers") SUBSEP get($0, "interval_us")
    if (!(c in lseen)) { lseen[c] = 1; lcfg[++nl] = c }
    k = c SUBSEP impl
    llist[c] = llist[c] " " impl
    lps[k] = get($0, "median_lookups_per_s"); cpu[k] = get($0, "median_reader_cpu_ns_per_lookup")
    pps[k] = get($0, "median_publishes_per_s"); pmax[k] = get($0, "max_publish_us_max")
    rss[k] = get($0, "max_peak_rss_mb"); unrec[k] = get($0, "peak_unreclaimed")
    bad[k] = get($0, "misses") + get($0, "errors")
  }
}
END {
  if (pace && nl) {
    printf "\nWriter pace (issue 10, C.19)%s: medians; held = peak replaced tables not yet freed\n", pin != "" ? " under " pin : ""
    printf "%-18s %3s %6s %9s %10s %6s %8s %12s\n", "impl", "R", "int_us", "pub/s", "x ck_epoch", "held", "rss MB", "lookups/s"
    for (i = 1; i <= nl; i++) {
      c = lcfg[i]; split(c, p, SUBSEP)
      n = split(llist[c], im, " ")
      for (j = 1; j <= n; j++) {
        k = c SUBSEP im[j]; ck = c SUBSEP "ck_epoch"
        printf "%-18s %3s %6s %9.1f %10s %6s %8.1f %12.0f%s\n", im[j], p[1], p[2], pps[k], ratio(pps[k], pps[ck]), unrec[k], rss[k], lps[k], bad[k] ? "  VERIFICATION FAILED" : ""
      }
    }
    nl = 0
  }
  if (nl) {
    printf "\nScenario 2: lookup table (%s), medians\n", "readers x publish interval"
    printf "%-18s %3s %6s %12s %8s %7s %9s %8s %9s %10s %6s %8s\n", "impl", "R", "int_us", "lookups/s", "x rwlock", "x floor", "cpu ns/lk", "cpu x fl", "pub/s", "pubmax us", "unrec", "rss MB"
  }
  for (i = 1; i <= nl; i++) {
    c = lcfg[i]; split(c, p, SUBSEP)
    n = split(llist[c], im, " ")
    for (j = 1; j <= n; j++) {
      k = c SUBSEP im[j]; rw = c SUBSEP "rwlock"; fl = c SUBSEP "floor"
      printf "%-18s %3s %6s %12.0f %8s %7s %9.1f %8s %9.1f %10.0f %6s %8.1f%s\n", im[j], p[1], p[2], lps[k], ratio(lps[k], lps[rw]), ratio(lps[k], lps[fl]), cpu[k], ratio(cpu[k], cpu[fl]), pps[k], pmax[k], unrec[k], rss[k], bad[k] ? "  VERIFICATION FAILED" : ""
    }
  }
  if (nr) {
    printf "\nScenario 3: read/write ratio, one reader + one writer, small table, medians\n"
    printf "%-18s %7s %10s %8s %7s %10s %12s %12s\n", "impl", "ratio", "ns/op", "x rwlock", "x floor", "achieved", "reads/s", "writes/s"
  }
  for (i = 1; i <= nr; i++) {
    c = rcfg[i]
    n = split(rlist[c], im, " ")
    for (j = 1; j <= n; j++) {
      k = c SUBSEP im[j]; rw = c SUBSEP "rwlock"; fl = c SUBSEP "floor"
      printf "%-18s %7s %10.1f %8s %7s %10.4g %12.0f %12.0f\n", im[j], c, nsop[k], ratio(nsop[rw], nsop[k]), ratio(nsop[fl], nsop[k]), ach[k], rps[k], wps[k]
    }
  }
}' "$tmp/all"
echo
echo "JSON lines appended to $out"
exit "$failed"
