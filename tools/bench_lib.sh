# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Shell helpers shared by tools/bench_suite.sh, bench_channel.sh and bench_plot.sh;
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
