# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Shell helpers shared by tools/bench_suite.sh, bench_channel.sh, bench_ds.sh,
# bench_rc.sh, bench_rc_long.sh and bench_plot.sh;
# sourced (. tools/bench_lib.sh), not run.  POSIX sh.

# BENCH_JGET: awk functions for the benchmarks' JSON lines, to put in front
# of an awk program ("$BENCH_JGET"' program').
#   jget(line, key)  a field's value (string fields without their quotes);
#                    "" if absent
#   median(a, n)     median of a[1..n] (sorts a)
# shellcheck disable=SC2034 # used by the scripts that source this file
BENCH_JGET='
function jget(line, key,   k, i, s) {
  k = "\"" key "\":"
  i = index(line, k)
  if (!i) return ""
  s = substr(line, i + length(k))
  if (substr(s, 1, 1) == "\"") {
    s = substr(s, 2)
    return substr(s, 1, index(s, "\"") - 1)
  }
  match(s, /^[^,}]*/)
  return substr(s, 1, RLENGTH)
}
function median(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) {
    t = a[i]
    for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
    a[j + 1] = t
  }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'

# BENCH_DS_CELLS: an awk function for bench_ds's summaries, after
# BENCH_JGET ("$BENCH_JGET$BENCH_DS_CELLS"' program').
#   ds_cell(line)    a {"bench":"ds_summary"} line of a run without a
#                    stall: its configuration ("ds get% range threads",
#                    formatted) into cfg[1..nc] in order of appearance, and
#                    for that configuration c and the line's scheme s:
#                    v[c, s] median ops/s, g[c, s] peak garbage, m[c, s]
#                    peak RSS (KiB); returns 1 (0 for any other line)
# shellcheck disable=SC2034 # used by the scripts that source this file
BENCH_DS_CELLS='
function ds_cell(line,   c, s) {
  if (jget(line, "bench") != "ds_summary" || jget(line, "stall_s") + 0 != 0)
    return 0
  c = sprintf("%-8s %4s %8s %3s", jget(line, "ds"), jget(line, "get_pct"), \
    jget(line, "range"), jget(line, "threads"))
  if (!(c in cseen)) { cseen[c] = 1; cfg[++nc] = c }
  s = jget(line, "scheme")
  v[c, s] = jget(line, "ops_per_s_median") + 0
  g[c, s] = jget(line, "garbage_peak") + 0
  m[c, s] = jget(line, "peak_rss_kb") + 0
  return 1
}'

# bench_args NAME "$@": the benchmark scripts' command line, [--smoke]
# [BUILD_DIR].  Sets build (default build-bench) and smoke ("" or
# --smoke); --help prints the calling script's opening comment and exits;
# anything else exits 2 with a message naming NAME.
bench_args() {
  name=$1
  shift
  build=""
  smoke=""
  for a in "$@"; do
    case "$a" in
    --smoke) smoke=--smoke ;;
    -h | --help)
      sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "$name: unknown option $a" >&2
      exit 2
      ;;
    *)
      if [ -n "$build" ]; then
        echo "$name: one BUILD_DIR only" >&2
        exit 2
      fi
      build=$a
      ;;
    esac
  done
  build=${build:-build-bench}
}

# bench_session NAME: what a run's JSON lines are tagged with, from the
# build directory $build: cc (the compiler as CMake identified it, e.g.
# GNU-12.2.0), btype (its CMAKE_BUILD_TYPE), session (a UTC time stamp and
# the shell's pid) and bname (the build directory's name); a note on stderr,
# naming NAME, when the build is not an optimised one.
# shellcheck disable=SC2034 # btype and the others: used by the callers
bench_session() {
  cc=$(cat "$build"/CMakeFiles/*/CMakeCCompiler.cmake 2>/dev/null |
    sed -n -e 's/^set(CMAKE_C_COMPILER_ID "\(.*\)")$/\1/p' \
      -e 's/^set(CMAKE_C_COMPILER_VERSION "\(.*\)")$/\1/p' |
    head -n 2 | paste -sd- -)
  btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" \
    2>/dev/null | head -n 1)
  session=$(date -u +%Y%m%dT%H%M%SZ)-$$
  bname=$(basename "$build")
  case "$btype" in
  Release | RelWithDebInfo) ;;
  *) echo "$1: note: $build is a '${btype:-unknown}' build;" \
    "use Release for real numbers" >&2 ;;
  esac
}

# bench_tag: prefix every JSON line of stdin with the fields bench_session
# set; appends them to $OUT and to $session_file (this run's lines).
# shellcheck disable=SC2154 # session_file and OUT: set by the caller
bench_tag() {
  grep '^{"bench"' |
    sed "s/^{/{\"session\":\"$session\",\"build\":\"$bname\",\"cc\":\"${cc:-unknown}\",/" |
    tee -a "$session_file" >>"$OUT"
}

# bench_scratch: a scratch folder $tmp, removed on exit, holding
# $session_file (empty: bench_tag's copy of this run's lines); failed="".
# shellcheck disable=SC2034 # session_file and failed: used by the callers
bench_scratch() {
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT INT TERM
  session_file=$tmp/session.jsonl
  : >"$session_file"
  failed=""
}
