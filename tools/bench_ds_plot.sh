#!/bin/sh
# SPDX-License-Identifier: MIT
# Charts of the data-structure benchmark (tools/bench_ds.sh writes the JSON
# lines).
#
# usage: tools/bench_ds_plot.sh JSONL_FILE [OUTDIR]
#   JSONL_FILE  e.g. bench-ds.jsonl (several sessions may be appended: the
#               latest session that has ds lines is used; lines without a
#               "session" field count as the oldest)
#   OUTDIR      where the PNG files go (default: docs/img)
#
# Charts (gnuplot, pngcairo terminal, or png where cairo is missing; Debian:
# apt-get install gnuplot-nox):
#   ds_<ds>_get<P>_r<K>.png  ops/s (median of the runs) vs threads, one line
#                            per scheme, for each structure, get% and key
#                            range ({"bench":"ds_summary"} lines, stall 0)
#   ds_stall_garbage.png     garbage (retired, not yet reclaimed nodes) over
#                            time in the stalled run, one line per scheme,
#                            log scale ({"bench":"ds_garbage"} lines); the
#                            stall's end is marked
# Prints the files written.  Only awk and gnuplot are needed.
set -eu

# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
  [ $# -lt 1 ] && exit 2
  exit 0
fi
in=$1
outdir=${2:-docs/img}
if [ ! -r "$in" ]; then
  echo "bench_ds_plot.sh: cannot read $in" >&2
  exit 2
fi
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench_ds_plot.sh: gnuplot not found (Debian: apt-get install" \
    "gnuplot-nox)" >&2
  exit 2
fi
mkdir -p "$outdir"
term="png noenhanced size 800,480"
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
  term="pngcairo noenhanced size 800,480 font 'sans,10'"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The latest session with ds lines.
session=$(awk "$BENCH_JGET"'
  jget($0, "bench") ~ /^ds_(summary|garbage)$/ { s = jget($0, "session") }
  END { print s }' "$in")

# Data files: $tmp/<chart>/<scheme>.dat (threads, ops/s; or t_ms, garbage),
# and $tmp/<chart>/title; schemes in the order they first appear.
awk "$BENCH_JGET"'
  jget($0, "session") != sess { next }
  jget($0, "bench") == "ds_summary" && jget($0, "stall_s") + 0 == 0 {
    c = "ds_" jget($0, "ds") "_get" jget($0, "get_pct") "_r" jget($0, "range")
    s = jget($0, "scheme")
    if (!(c in cseen)) {
      cseen[c] = 1; charts[++nc] = c
      g = jget($0, "get_pct")
      w = jget($0, "ds") ~ /^(stack|queue|dlqueue)$/ ? "50% push / 50% pop" : \
        sprintf("get %s%%, insert %g%%, delete %g%%", g, (100 - g) / 2, \
          (100 - g) / 2)
      title[c] = sprintf("%s, %s, key range %s: ops/s (median of %s runs " \
        "of %s s)", jget($0, "ds"), w, jget($0, "range"), jget($0, "runs"), \
        jget($0, "seconds"))
    }
    if (!((c, s) in sseen)) { sseen[c, s] = 1; sch[c, ++ns[c]] = s }
    pts[c, s] = pts[c, s] jget($0, "threads") " " \
      jget($0, "ops_per_s_median") "\n"
  }
  jget($0, "bench") == "ds_garbage" {
    c = "ds_stall_garbage"; s = jget($0, "scheme")
    if (!(c in cseen)) {
      cseen[c] = 1; charts[++nc] = c
      title[c] = sprintf("%s, range %s, %s threads, get %s%%: garbage while " \
        "one thread stalls %s s in a section", jget($0, "ds"), \
        jget($0, "range"), jget($0, "threads"), jget($0, "get_pct"), \
        jget($0, "stall_s") + 0)
      stall_ms[c] = jget($0, "stall_s") * 1000
    }
    if (!((c, s) in sseen)) { sseen[c, s] = 1; sch[c, ++ns[c]] = s }
    pts[c, s] = pts[c, s] jget($0, "t_ms") " " (jget($0, "garbage") + 1) "\n"
  }
  END {
    for (k = 1; k <= nc; k++) {
      c = charts[k]
      system("mkdir -p \"" dir "/" c "\"")
      print title[c] > (dir "/" c "/title")
      if (c in stall_ms) print stall_ms[c] > (dir "/" c "/stall_ms")
      for (i = 1; i <= ns[c]; i++) {
        s = sch[c, i]
        f = dir "/" c "/" sprintf("%02d", i) "_" s ".dat"
        # sort the points by x (threads or time)
        n = split(pts[c, s], line, "\n"); m = 0
        for (j = 1; j <= n; j++) if (line[j] != "") { split(line[j], xy, " ")
          m++; x[m] = xy[1] + 0; y[m] = xy[2] }
        for (a = 2; a <= m; a++)
          for (b = a; b > 1 && x[b - 1] > x[b]; b--) {
            t = x[b]; x[b] = x[b - 1]; x[b - 1] = t
            t = y[b]; y[b] = y[b - 1]; y[b - 1] = t
          }
        for (j = 1; j <= m; j++) print x[j], y[j] > f
        close(f)
      }
    }
  }' sess="$session" dir="$tmp" "$in"

found=0
for d in "$tmp"/*/; do
  [ -d "$d" ] || continue
  c=$(basename "$d")
  found=1
  plot=""
  for f in "$d"*.dat; do
    s=$(basename "$f" .dat)
    s=${s#*_}
    [ -n "$plot" ] && plot="$plot, "
    plot="$plot'$f' using 1:2 with linespoints title '$s'"
  done
  title=$(sed "s/'/''/g" "$d/title")
  if [ "$c" = ds_stall_garbage ]; then
    stall=$(cat "$d/stall_ms" 2>/dev/null || echo 0)
    gnuplot <<EOF_GP
set terminal $term
set output '$outdir/$c.png'
set title '$title'
set xlabel 'ms since the start of the run'
set ylabel 'garbage + 1 (nodes, log scale)'
set logscale y
set grid
set key outside right
set arrow from $stall, graph 0 to $stall, graph 1 nohead dt 2 lc rgb '#888888'
set label 'stall ends' at $stall, graph 0.95 offset 0.5,0
plot $plot
EOF_GP
  else
    gnuplot <<EOF_GP
set terminal $term
set output '$outdir/$c.png'
set title '$title'
set xlabel 'threads'
set ylabel 'ops/s'
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32, 64)
set yrange [0:*]
set grid
set key outside right
plot $plot
EOF_GP
  fi
  echo "$outdir/$c.png"
done
if [ "$found" = 0 ]; then
  echo "bench_ds_plot.sh: no ds lines in $in" >&2
  exit 1
fi
