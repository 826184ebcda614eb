#!/bin/sh
# SPDX-License-Identifier: MIT
# Side-by-side A/B of bench_ds programs, one process per run, alternating
# the programs run by run (so a slow phase of the machine hits all of
# them): median ops/s, the largest peak RSS, the median garbage peak, and
# each program's ratios to the last one named.
#
# usage: tools/bench_ab.sh DIR SECONDS RUNS "THREADS" NAME...
#   DIR      holds bench/bench_ds_<NAME> for every NAME (a build tree, or a
#            directory of copies: e.g. bench_ds_rc_old built from an older
#            commit next to the current bench_ds_rc)
#   SECONDS  per run; RUNS: runs per program and thread count
#   THREADS  thread counts, e.g. "1 2 4 8 16"
# DS_ARGS (default "--ds dlqueue") is passed to every program.
#
# Example (BENCHMARKS §11):
#   tools/bench_ab.sh ab 2 5 "1 2 4 8 16" rc_old rc smr_epoch
set -eu
[ $# -ge 5 ] || { sed -n '3,18p' "$0" >&2; exit 2; }
dir=$1 sec=$2 runs=$3 threads=$4
shift 4
for t in $threads; do
  i=0
  while [ "$i" -lt "$runs" ]; do
    for s in "$@"; do
      # shellcheck disable=SC2086 # DS_ARGS is a word list
      "$dir/bench/bench_ds_$s" ${DS_ARGS:---ds dlqueue} --threads "$t" \
        --seconds "$sec" --runs 1 | grep '"ds_summary"' |
        sed "s/^/$s $t /"
    done
    i=$((i + 1))
  done
done | python3 -c '
import json, statistics as st, sys
from collections import defaultdict
ops, rss, gar, names = defaultdict(list), defaultdict(list), defaultdict(list), []
for line in sys.stdin:
    s, t, js = line.split(" ", 2)
    d = json.loads(js)
    k = (s, int(t))
    ops[k].append(d["ops_per_s_median"])
    rss[k].append(d["peak_rss_kb"])
    gar[k].append(d["garbage_peak"])
    if s not in names:
        names.append(s)
base = names[-1]
for t in sorted({k[1] for k in ops}):
    row = "t=%2d" % t
    for s in names:
        row += "  %s %.2fM %dkB g%d" % (s, st.median(ops[(s, t)]) / 1e6,
                                       max(rss[(s, t)]), st.median(gar[(s, t)]))
    for s in names[:-1]:
        row += "  | %s/%s ops %.2f rss %.2f" % (
            s, base, st.median(ops[(s, t)]) / st.median(ops[(base, t)]),
            max(rss[(s, t)]) / max(rss[(base, t)]))
    print(row)
'
