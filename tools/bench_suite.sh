#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmark suite in one command: scenario 1 (read-section cost),
# scenario 4 (write cost), scenario 5 (stalled reader), the callgrind
# instruction counts and, when tools/bench_lookup.sh exists, the lookup-table
# scenarios (2 and 3).  Every implementation runs in its own process.
#
# usage: tools/bench_suite.sh [BUILD_DIR] [--smoke]
#   BUILD_DIR  build tree with the benchmarks (default: build-bench);
#              configure it with -DCMAKE_BUILD_TYPE=Release for real numbers
#   --smoke    tiny runs (checks that everything works; numbers meaningless)
#
# Environment:
#   OUT              JSON-lines file the results are appended to (default:
#                    bench-results.jsonl).  Every line gets "session" (one id
#                    per suite run), "build" (BUILD_DIR's name) and "cc"
#                    (the compiler) in front of the program's own fields.
#   RUNS             timed runs per read/write program, in-process; the
#                    program reports their median, min and max (default 9)
#   STALL_RUNS       processes per stall program (default 3); the tables
#                    show the median and min-max over them
#   STALL_MS         how long the stalled reader stays inside (default 1000)
#   CALLGRIND_ITERS  read sections per program under callgrind (default 1e6)
#
# Prints one table per scenario, with ratios against the floor (plain for
# reads, floor for writes) and against rwlock.  Never judges timings: the
# exit status is non-zero only if a program fails (a wrong sum, a value
# freed twice or under a reader, a violated bound on retired values).
# Don't run it on a busy machine: the numbers would show the other load.
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_args bench_suite.sh "$@"
OUT=${OUT:-bench-results.jsonl}
RUNS=${RUNS:-9}
STALL_RUNS=${STALL_RUNS:-3}
STALL_MS=${STALL_MS:-1000}
CALLGRIND_ITERS=${CALLGRIND_ITERS:-1000000}
tools=$(cd "$(dirname "$0")" && pwd)
bin=$build/bench

if [ ! -d "$bin" ]; then
  echo "bench_suite.sh: no $bin (configure with SMR_BUILD_BENCH=ON, build)" >&2
  exit 2
fi

if [ -n "$smoke" ]; then
  read_args="--smoke"
  write_args="--smoke"
  stall_args="--smoke"
  STALL_RUNS=1
  CALLGRIND_ITERS=10000
else
  read_args="--runs $RUNS"
  write_args="--runs $RUNS"
  stall_args="--stall-ms $STALL_MS"
fi

bench_session bench_suite.sh

bench_scratch

# run PROGRAM ARGS...: run once, keep the JSON lines; remember a failure.
run() {
  prog=$1
  shift
  if "$prog" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then
    bench_tag <"$tmp/stdout"
  else
    rc=$?
    echo "bench_suite.sh: ${prog##*/} $* failed (status $rc):" >&2
    cat "$tmp/stderr" >&2
    bench_tag <"$tmp/stdout" || true
    failed="$failed ${prog##*/}"
  fi
  # Messages on stderr (e.g. a violated bound) are shown either way.
  if [ -s "$tmp/stderr" ]; then sed "s/^/  ${prog##*/}: /" "$tmp/stderr" >&2; fi
}

# programs KIND FIRST: the bench_KIND_* programs, FIRST (the floor) first.
programs() {
  list=""
  [ -x "$bin/bench_$1_$2" ] && list="$bin/bench_$1_$2"
  for p in "$bin"/bench_"$1"_*; do
    if [ ! -f "$p" ] || [ ! -x "$p" ]; then continue; fi
    [ "$p" = "$bin/bench_$1_$2" ] && continue
    list="$list $p"
  done
  echo "$list"
}

# The awk helpers every table uses: jget and median (tools/bench_lib.sh),
# and ratio(v, base), v / base formatted, "n/a" without a base.
JGET="$BENCH_JGET"'
function ratio(v, base) {
  return (base == "" || base + 0 == 0 || v == "") ? "n/a" : sprintf("%.2f", v / base)
}'

echo "bench_suite.sh: build $build (${cc:-?}, ${btype:-?}), session $session"
echo "bench_suite.sh: appending JSON lines to $OUT"

# ---- scenario 1 ---------------------------------------------------------------
echo
echo "== Scenario 1: read-section cost, one thread, no writer =="
for p in $(programs read plain); do
  # shellcheck disable=SC2086 # word splitting of the options is wanted
  run "$p" $read_args
done
awk "$JGET"'
  jget($0, "bench") == "read" && jget($0, "summary") == "true" {
    n++; impl[n] = jget($0, "impl"); mode[n] = jget($0, "mode")
    med[n] = jget($0, "median_ns_per_op")
    lo[n] = jget($0, "min_ns_per_op"); hi[n] = jget($0, "max_ns_per_op")
    if (impl[n] == "plain") floor = med[n]
    if (impl[n] == "rwlock") rw = med[n]
  }
  END {
    printf "%-14s %-10s %10s %10s %10s %8s %8s\n", "impl", "mode", "median ns", \
      "min ns", "max ns", "x plain", "x rwlock"
    for (i = 1; i <= n; i++)
      printf "%-14s %-10s %10.3f %10.3f %10.3f %8s %8s\n", impl[i], mode[i], \
        med[i], lo[i], hi[i], ratio(med[i], floor), ratio(med[i], rw)
  }' "$session_file"

# ---- scenario 4 ---------------------------------------------------------------
echo
echo "== Scenario 4: write cost, 64-byte value, no reader in a section =="
for p in $(programs write floor); do
  # shellcheck disable=SC2086
  run "$p" $write_args
  if [ "$p" = "$bin/bench_write_floor" ]; then
    # The same without the delay: malloc + publish + free, no scheme at all.
    # shellcheck disable=SC2086
    run "$p" $write_args --floor-delay-ms 0
  fi
done
awk "$JGET"'
  jget($0, "bench") == "write" && jget($0, "summary") == "true" {
    i = jget($0, "impl"); f = jget($0, "foreign_readers")
    if (!(i in seen)) { seen[i] = 1; n++; order[n] = i; mode[i] = jget($0, "mode") }
    med[i, f] = jget($0, "median_ns_per_op")
    rng[i, f] = sprintf("%.1f-%.1f", jget($0, "min_ns_per_op"), \
      jget($0, "max_ns_per_op"))
    held[i, f] = jget($0, "peak_held"); api[i, f] = jget($0, "peak_api")
  }
  END {
    printf "%-17s %-10s %10s %10s %-17s %7s %9s %8s %9s %8s\n", "impl", \
      "mode", "ns f=0", "ns f=1", " f=1 min-max", "x floor", "x nodelay", \
      "x rwlock", "peak held", "peak api"
    for (k = 1; k <= n; k++) {
      i = order[k]
      printf "%-17s %-10s %10.1f %10.1f  %-16s %7s %9s %8s %9s %8s\n", i, \
        mode[i], med[i, 0], med[i, 1], rng[i, 1], \
        ratio(med[i, 1], med["floor", 1]), \
        ratio(med[i, 1], med["floor_nodelay", 1]), \
        ratio(med[i, 1], med["rwlock", 1]), held[i, 1], api[i, 1]
    }
    print "(f = idle foreign readers; ratios and peaks for f=1; floor = atomic"
    print " pointer, values freed 100 ms after their retirement; floor_nodelay ="
    print " freed at once in batches of 64, i.e. malloc + publish + free and no"
    print " scheme; peak held = retired values not yet freed, counted by the"
    print " benchmark; peak api = the implementation'"'"'s own count, null where"
    print " it has none)"
  }' "$session_file"

# ---- scenario 5 ---------------------------------------------------------------
echo
echo "== Scenario 5: one reader stalled in its section, writer publishing =="
for p in $(programs stall smr_swap); do
  k=0
  while [ "$k" -lt "$STALL_RUNS" ]; do
    # shellcheck disable=SC2086
    run "$p" $stall_args
    k=$((k + 1))
  done
done
awk "$JGET"'
  function add(name, i, v) { c = ++cnt[name, i]; val[name, i, c] = v }
  function stat(name, i,   c, a, k, lo, hi) {
    c = cnt[name, i]
    if (!c) return "n/a"
    for (k = 1; k <= c; k++) a[k] = val[name, i, k] + 0
    m = median(a, c); lo = a[1]; hi = a[c]
    if (c == 1 || lo == hi) return sprintf("%.6g", m)
    return sprintf("%.6g [%.6g-%.6g]", m, lo, hi)
  }
  jget($0, "bench") == "stall" {
    i = jget($0, "impl")
    if (!(i in seen)) { seen[i] = 1; n++; order[n] = i }
    runs[i]++
    add("pub", i, jget($0, "publishes")); add("held", i, jget($0, "peak_held"))
    add("rss", i, jget($0, "peak_rss_growth_kb"))
    add("lat", i, jget($0, "max_publish_us"))
    add("over", i, jget($0, "publishes_over_1ms"))
    add("rec", i, jget($0, "max_recover_publish_us"))
    if (jget($0, "reclaimed") != "true") notrec[i]++
    if (jget($0, "value_intact") != "true") broken[i]++
    if (jget($0, "bound_ok") == "false") viol[i]++
    if (jget($0, "capped") == "true") capped[i]++
    b[i] = jget($0, "bound"); ms = jget($0, "stall_ms")
  }
  END {
    printf "stall %s ms; median [min-max] over the runs of each program\n", ms
    printf "%-17s %4s %-27s %-23s %-21s %-25s %-19s %s\n", "impl", "runs", \
      "publishes", "peak held (bound)", "RSS growth kB", "max publish us", \
      ">1ms publishes", "max recovery publish us"
    for (k = 1; k <= n; k++) {
      i = order[k]
      h = stat("held", i) (b[i] != "null" && b[i] != "" ? " (" b[i] ")" : "")
      printf "%-17s %4d %-27s %-23s %-21s %-25s %-19s %s\n", i, runs[i], \
        stat("pub", i), h, stat("rss", i), stat("lat", i), stat("over", i), \
        stat("rec", i)
    }
    for (k = 1; k <= n; k++) {
      i = order[k]
      if (capped[i]) printf "%s: writer capped at --max-held in %d run(s): publishes is that cap\n", i, capped[i]
      if (notrec[i]) printf "%s: NOT reclaimed after the stall in %d run(s)\n", i, notrec[i]
      if (broken[i]) printf "%s: VALUE FREED UNDER THE READER in %d run(s)\n", i, broken[i]
      if (viol[i]) printf "%s: BOUND ON RETIRED VALUES VIOLATED in %d run(s)\n", i, viol[i]
    }
    print "(no floor: a fixed-delay free would free the value under the stalled reader)"
  }' "$session_file"

# ---- instruction counts -----------------------------------------------------------
echo
echo "== Instructions per read section (callgrind) =="
if command -v valgrind >/dev/null 2>&1; then
  if "$tools/bench_callgrind.sh" "$build" "$CALLGRIND_ITERS" >"$tmp/cg.out" \
    2>"$tmp/cg.err"; then
    bench_tag <"$tmp/cg.out"
    grep -v '^{"bench"' "$tmp/cg.out" | sed '/./,$!d'
  else
    cat "$tmp/cg.err" >&2
    failed="$failed bench_callgrind.sh"
  fi
else
  echo "(valgrind not installed: skipped)"
fi

# ---- lookup-table scenarios (another script) ----------------------------------
if [ -x "$tools/bench_lookup.sh" ]; then
  echo
  echo "== Lookup-table scenarios (tools/bench_lookup.sh) =="
  # Its JSON lines go to a file of ours first (OUT), or come on its stdout;
  # either way they get the session fields here.
  # shellcheck disable=SC2086
  if OUT="$tmp/lookup.jsonl" "$tools/bench_lookup.sh" "$build" $smoke \
    >"$tmp/lookup.out"; then
    :
  else
    failed="$failed bench_lookup.sh"
  fi
  grep -v -e '^{"bench"' -e '^JSON lines appended to' "$tmp/lookup.out" || true
  if [ -s "$tmp/lookup.jsonl" ]; then
    bench_tag <"$tmp/lookup.jsonl"
  else
    bench_tag <"$tmp/lookup.out" || true
  fi
fi

echo
if [ -n "$failed" ]; then
  echo "bench_suite.sh: FAILED:$failed" >&2
  exit 1
fi
echo "bench_suite.sh: done; $(wc -l <"$session_file") JSON lines appended to $OUT" \
  "(session $session); tools/bench_plot.sh $OUT draws the charts"
