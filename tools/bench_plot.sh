#!/bin/sh
# SPDX-License-Identifier: MIT
# Charts from the benchmarks' JSON lines (tools/bench_suite.sh writes them).
#
# usage: tools/bench_plot.sh JSONL_FILE [OUTDIR]
#   JSONL_FILE  e.g. bench-results.jsonl (several suite runs may be appended)
#   OUTDIR      where the PNG files go (default: docs/img)
#
# For each kind of benchmark, the lines of the latest suite session that has
# such lines are used ("session" field; lines without one count as the
# oldest).  Charts (gnuplot, pngcairo terminal, or png where cairo is
# missing; Debian: apt-get install gnuplot-nox):
#   read_cost.png          scenario 1: median ns per read section, min-max
#                          error bars, cheapest first
#   write_cost.png         scenario 4: median ns per publish, no foreign
#                          reader and one idle foreign reader (log scale),
#                          sorted by the second
#   stall_peak_held.png    scenario 5: peak retired values held during the
#                          stall (log scale; median, min-max over the runs);
#                          "(blocked)" marks a writer that completed a single
#                          publish in the whole stall
#   stall_max_publish.png  scenario 5: the writer's longest publish during
#                          the stall (log scale)
#   lookup_interval_<U>us.png      lookups/s vs reader threads, one line per
#   lookup_cpu_interval_<U>us.png  implementation, and reader CPU ns per
#                                  lookup, for each publish interval U
#                                  ({"bench":"lookup",...} lines with impl,
#                                  readers, interval_us, lookups_per_s and
#                                  cpu_ns_per_lookup or
#                                  reader_cpu_ns_per_lookup; summary lines
#                                  and median_* fields when present)
# Prints the files written.  Only awk and gnuplot are needed.
#
# usage: tools/bench_plot.sh --recorded [OUTDIR]
#   Charts of figures recorded by hand in docs/BENCHMARKS.md (benchmarks
#   that write no JSON lines), from the data files in docs/data/ (each says
#   where its figures come from), as SVG:
#   channel_read.svg     section 6: ns per read, reader process vs swap cell
#                        (ranges over the invocations)
#   channel_publish.svg  section 6: 64 MiB publish / memcpy per invocation,
#                        no reader and one idle reader, 1.5x target
#   channel_scale.svg    section 6: reads/s with 1 and 2 reader processes
#   table_lookup.svg     section 7: ns per lookup, smr_table vs in-process
#                        hash table vs tinycdb
set -eu

if [ "${1:-}" = --recorded ]; then
  data=$(dirname "$0")/../docs/data
  outdir=${2:-docs/img}
  if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench_plot.sh: gnuplot not found (Debian: apt-get install" \
      "gnuplot-nox)" >&2
    exit 2
  fi
  mkdir -p "$outdir"
  svg="svg noenhanced size 760,420 dynamic font 'sans,12'"
  gnuplot <<EOF_GP
set terminal $svg
set datafile separator '\t'
set style fill solid 0.8 border -1
set grid ytics
set key top left

set output '$outdir/channel_read.svg'
set title 'Read: guard, touch, release (64 B payload; bar = range over invocations)'
set ylabel 'ns per read'
set yrange [0:2]
set xrange [-0.6:1.6]
set xtics ('' 0)
set bmargin 4
set label 1 'channel / swap cell in the same runs: 1.01-1.60x (target <= 2x)' at graph 0.02, graph 0.93
plot '$data/channel_read.dat' using 0:((\$2+\$3)/2):(0.3):((\$3-\$2)/2):xtic(1) \
       with boxxyerror lc rgb '#4a7fb5' notitle, \
     '' using 0:(\$3):(sprintf('%.2f-%.2f ns', \$2, \$3)) with labels offset 0,1 notitle
unset label 1; unset bmargin

set output '$outdir/channel_publish.svg'
set title 'Publish 64 MiB (checksum on) / memcpy of 64 MiB, per invocation'
set ylabel 'x memcpy'
set xlabel 'invocation'
set yrange [0:2]
set autoscale x
set xtics auto
set style data histograms
set style histogram clustered gap 1
set boxwidth 0.9
set arrow 2 from graph 0, first 1.5 to graph 1, first 1.5 nohead dashtype 2 lc rgb '#aa0000'
set label 2 'target <= 1.5x' at graph 0.01, first 1.56 tc rgb '#aa0000'
set key top right
plot '$data/channel_publish.dat' using 2:xtic(1) title 'no reader' lc rgb '#4a7fb5', \
     '' using 3 title 'one idle reader process' lc rgb '#e08a2c'
unset arrow 2; unset label 2; unset xlabel; set key top left

set output '$outdir/channel_scale.svg'
set title 'Reader processes reading flat out (1 s each)'
set ylabel 'G reads/s, all readers'
set xlabel 'reader processes'
set yrange [0:2.2]
set style histogram clustered gap 2
set arrow 3 from graph 0, first 1.584 to graph 1, first 1.584 nohead dashtype 2 lc rgb '#aa0000'
set label 3 'target: 2 processes >= 1.8x one' at graph 0.01, first 1.64 tc rgb '#aa0000'
plot '$data/channel_scale.dat' using 2:xtic(1) notitle lc rgb '#4a7fb5', \
     '' using (\$0):2:(sprintf('%.2f', \$2)) with labels offset 0,1 notitle
unset arrow 3; unset label 3; unset xlabel

set output '$outdir/table_lookup.svg'
set title 'Lookup in a 1,000,000-entry table from a reader process (median of 7 runs)'
set ylabel 'ns per lookup'
set yrange [0:480]
set key top left
set style histogram clustered gap 1
plot '$data/table_lookup.dat' using 2:xtic(1) title 'smr_table (in the writer''s pages)' lc rgb '#4a7fb5', \
     '' using 3 title 'smr_table + channel read/release per lookup' lc rgb '#8fb3d9', \
     '' using 4 title 'in-process hash table' lc rgb '#e08a2c', \
     '' using 5 title 'tinycdb' lc rgb '#777777'
EOF_GP
  for f in channel_read channel_publish channel_scale table_lookup; do
    echo "$outdir/$f.svg"
  done
  exit 0
fi

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
in=$1
outdir=${2:-docs/img}
if [ ! -r "$in" ]; then
  echo "bench_plot.sh: cannot read $in" >&2
  exit 2
fi
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench_plot.sh: gnuplot not found (Debian: apt-get install" \
    "gnuplot-nox)" >&2
  exit 2
fi
mkdir -p "$outdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
  term="pngcairo noenhanced size 1000,560 font 'sans,10'"
else
  term="png noenhanced size 1000,560"
fi

# jget(line, key) and median(a, n) for the awk programs below.
. "$(dirname "$0")/bench_lib.sh"
JGET=$BENCH_JGET

# ---- select the lines: latest session per kind of benchmark ---------------------
awk "$JGET"'
NR == FNR {
  b = jget($0, "bench"); s = jget($0, "session")
  if (b != "" && (!(b in latest) || s > latest[b])) latest[b] = s
  next
}
{ b = jget($0, "bench"); if (b != "" && jget($0, "session") == latest[b]) print }
' "$in" "$in" >"$tmp/sel.jsonl"

# A caption line: which build, compiler and session the data came from.
caption() {
  awk "$JGET"' jget($0, "bench") == "'"$1"'" {
      s = jget($0, "session"); b = jget($0, "build"); c = jget($0, "cc") }
    END { if (s != "") printf "%s, %s, session %s", b, c, s }' "$tmp/sel.jsonl"
}

written=""

# ---- scenario 1: read cost ----------------------------------------------------------
awk "$JGET"'
  jget($0, "bench") == "read" && jget($0, "summary") == "true" {
    i = jget($0, "impl")
    if (!(i in row)) order[++n] = i
    row[i] = i " " jget($0, "median_ns_per_op") " " jget($0, "min_ns_per_op") \
      " " jget($0, "max_ns_per_op")
  }
  END { for (k = 1; k <= n; k++) print row[order[k]] }' "$tmp/sel.jsonl" |
  sort -s -g -k2,2 >"$tmp/read.dat"
if [ -s "$tmp/read.dat" ]; then
  cat >"$tmp/read.gp" <<EOF
set terminal $term
set output '$outdir/read_cost.png'
set title "Scenario 1: one read section (enter, load, read a field, leave), one thread, no writer\n$(caption read)"
set ylabel 'ns per read section (median; bars: min-max of the runs)'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.8
set xtics rotate by -30 nomirror
set rmargin 9
set grid ytics
set yrange [0:*]
set key off
plot '$tmp/read.dat' using 2:3:4:xtic(1) lc rgb '#4a7ab0', \
     '' using 0:(\$2):(sprintf('%.2f', \$2)) with labels offset 0,1 notitle
EOF
  gnuplot "$tmp/read.gp"
  written="$written $outdir/read_cost.png"
fi

# ---- scenario 4: write cost ---------------------------------------------------------
awk "$JGET"'
  jget($0, "bench") == "write" && jget($0, "summary") == "true" {
    i = jget($0, "impl"); f = jget($0, "foreign_readers")
    if (!(i in seen)) { seen[i] = 1; order[++n] = i }
    v[i, f] = jget($0, "median_ns_per_op") " " jget($0, "min_ns_per_op") " " \
      jget($0, "max_ns_per_op")
  }
  END {
    for (k = 1; k <= n; k++) {
      i = order[k]
      a = ((i, 0) in v) ? v[i, 0] : "NaN NaN NaN"
      b = ((i, 1) in v) ? v[i, 1] : "NaN NaN NaN"
      print i, a, b
    }
  }' "$tmp/sel.jsonl" | sort -s -g -k5,5 >"$tmp/write.dat"
if [ -s "$tmp/write.dat" ]; then
  cat >"$tmp/write.gp" <<EOF
set terminal $term
set output '$outdir/write_cost.png'
set title "Scenario 4: publish a 64-byte value, reclamation included (no reader in a section)\n$(caption write)"
set ylabel 'ns per publish (median, log scale; bars: min-max)'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -30 nomirror
set rmargin 9
set logscale y
set grid ytics
set key top left
plot '$tmp/write.dat' using 2:3:4:xtic(1) title 'no foreign reader' lc rgb '#4a7ab0', \
     '' using 5:6:7 title 'one idle foreign reader' lc rgb '#d08a3a'
EOF
  gnuplot "$tmp/write.gp"
  written="$written $outdir/write_cost.png"
fi

# ---- scenario 5: stalled reader -------------------------------------------------------
# stall.dat: impl, then median min max of peak_held and of max_publish_us.
awk "$JGET"'
  jget($0, "bench") == "stall" {
    i = jget($0, "impl")
    if (!(i in cnt)) order[++n] = i
    c = ++cnt[i]
    h[i, c] = jget($0, "peak_held") + 0; l[i, c] = jget($0, "max_publish_us") + 0
    pb[i, c] = jget($0, "publishes") + 0
    ms = jget($0, "stall_ms")
  }
  END {
    for (k = 1; k <= n; k++) {
      i = order[k]; c = cnt[i]
      for (j = 1; j <= c; j++) { a[j] = h[i, j]; b[j] = l[i, j]; d[j] = pb[i, j] }
      mh = median(a, c); ml = median(b, c)
      # A writer that completed one publish in the whole stall was blocked.
      name = median(d, c) <= 1 ? i "(blocked)" : i
      # peak 0 cannot be drawn on a log scale: draw it as 1
      print name, (mh < 1 ? 1 : mh), (a[1] < 1 ? 1 : a[1]), \
        (a[c] < 1 ? 1 : a[c]), ml, b[1], b[c]
    }
    print ms > "/dev/stderr"
  }' "$tmp/sel.jsonl" >"$tmp/stall.dat" 2>"$tmp/stall_ms"
if [ -s "$tmp/stall.dat" ]; then
  ms=$(cat "$tmp/stall_ms")
  cat >"$tmp/stall.gp" <<EOF
set terminal $term
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -30 nomirror
set rmargin 9
set logscale y
set grid ytics
set key off
set output '$outdir/stall_peak_held.png'
set title "Scenario 5: retired values held while one reader stays ${ms} ms in its section\n$(caption stall)"
set ylabel 'peak retired values held (log scale; bars: min-max of the runs)'
set yrange [0.5:*]
plot '$tmp/stall.dat' using 2:3:4:xtic(1) lc rgb '#b04a4a', \
     '' using 0:(\$2):(sprintf('%.0f', \$2)) with labels offset 0,1 notitle
set output '$outdir/stall_max_publish.png'
set title "Scenario 5: the writer's longest publish during the ${ms} ms stall\n$(caption stall)"
set ylabel 'max publish latency, us (log scale; bars: min-max of the runs)'
set yrange [*:*]
plot '$tmp/stall.dat' using 5:6:7:xtic(1) lc rgb '#7a4ab0', \
     '' using 0:(\$5):(sprintf('%.0f', \$5)) with labels offset 0,1 notitle
EOF
  gnuplot "$tmp/stall.gp"
  written="$written $outdir/stall_peak_held.png $outdir/stall_max_publish.png"
fi

# ---- lookup: lookups/s and CPU per lookup vs readers ------------------------------------
# Per (interval, impl) a file "lk_<interval>_<impl>.dat": readers, lookups/s,
# CPU ns per lookup (the median when several lines share a point).
awk -v dir="$tmp" "$JGET"'
  function num(line, key,   v) {
    v = jget(line, "median_" key)
    return v != "" ? v : jget(line, key)
  }
  jget($0, "bench") == "lookup" {
    sc = jget($0, "scenario")
    if (sc != "" && sc != "load") next
    if (jget($0, "readers") == "" || jget($0, "interval_us") == "") next
    s = jget($0, "summary") == "true"
    nl++; line[nl] = $0; summ[nl] = s; if (s) anysum = 1
  }
  END {
    for (k = 1; k <= nl; k++) {
      if (anysum && !summ[k]) continue
      L = line[k]
      key = jget(L, "interval_us") SUBSEP jget(L, "impl") SUBSEP jget(L, "readers")
      c = ++cnt[key]
      lps[key, c] = num(L, "lookups_per_s") + 0
      cpu = num(L, "cpu_ns_per_lookup")
      if (cpu == "") cpu = num(L, "reader_cpu_ns_per_lookup")
      cpus[key, c] = cpu == "" ? "NaN" : cpu
    }
    for (key in cnt) {
      split(key, p, SUBSEP)
      c = cnt[key]
      for (j = 1; j <= c; j++) { a[j] = lps[key, j]; b[j] = cpus[key, j] }
      m1 = median(a, c); m2 = (b[1] == "NaN") ? "NaN" : median(b, c)
      f = dir "/lk_" p[1] "_" p[2] ".dat"
      print p[3], m1, m2 >> f
      close(f)
    }
  }' "$tmp/sel.jsonl"
for iv in $(find "$tmp" -name 'lk_*.dat' |
  sed -n 's|^.*/lk_\([0-9.]*\)_.*\.dat$|\1|p' | sort -un); do
  # sort each series by readers
  plot_l=""
  plot_c=""
  k=0
  for f in "$tmp"/lk_"$iv"_*.dat; do
    sort -n -o "$f" "$f"
    impl=${f##*/lk_"$iv"_}
    impl=${impl%.dat}
    k=$((k % 12 + 1))
    plot_l="$plot_l${plot_l:+, }'$f' using 1:2 with linespoints ls $k title '$impl'"
    plot_c="$plot_c${plot_c:+, }'$f' using 1:3 with linespoints ls $k title '$impl'"
  done
  if [ "$iv" = 0 ]; then every="back to back"; else every="every $iv us"; fi
  cat >"$tmp/lookup_$iv.gp" <<EOF
set terminal $term
set grid
set key outside right
set xlabel 'reader threads'
set xtics 1
# 12 distinct styles (colour, point type, dashes for the second six)
set style line 1 lc rgb '#1f77b4' pt 5 lw 2
set style line 2 lc rgb '#d62728' pt 7 lw 2
set style line 3 lc rgb '#2ca02c' pt 9 lw 2
set style line 4 lc rgb '#ff7f0e' pt 11 lw 2
set style line 5 lc rgb '#9467bd' pt 13 lw 2
set style line 6 lc rgb '#8c564b' pt 4 lw 2
set style line 7 lc rgb '#e377c2' pt 6 lw 2 dt 2
set style line 8 lc rgb '#7f7f7f' pt 8 lw 2 dt 2
set style line 9 lc rgb '#bcbd22' pt 10 lw 2 dt 2
set style line 10 lc rgb '#17becf' pt 12 lw 2 dt 2
set style line 11 lc rgb '#000000' pt 1 lw 2 dt 2
set style line 12 lc rgb '#aec7e8' pt 2 lw 2 dt 2
set output '$outdir/lookup_interval_${iv}us.png'
set title "Lookups per second, table republished ${every}\n$(caption lookup)"
set ylabel 'lookups / s (all readers)'
set format y '%.1s%c'
set yrange [0:*]
plot $plot_l
set output '$outdir/lookup_cpu_interval_${iv}us.png'
set title "Reader CPU time per lookup, table republished ${every}\n$(caption lookup)"
set ylabel 'reader CPU ns per lookup'
set format y '%g'
plot $plot_c
EOF
  gnuplot "$tmp/lookup_$iv.gp"
  written="$written $outdir/lookup_interval_${iv}us.png $outdir/lookup_cpu_interval_${iv}us.png"
done

if [ -z "$written" ]; then
  echo "bench_plot.sh: no benchmark lines in $in" >&2
  exit 1
fi
for f in $written; do echo "$f"; done
