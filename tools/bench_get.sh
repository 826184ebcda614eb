#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One-shot lookups: `smr get CHANNEL KEY` against `cdb -q DB KEY` (tinycdb)
# on the same N-row table, wall time and peak RSS per process.
#
#   tools/bench_get.sh [ROWS] [REPS]        (default 1000000 rows, 20 reps)
#
# Builds a ROWS-row TSV (the BENCHMARKS.md section 7 data: key%07d, 20-byte
# values), the matching cdb (cdb -c -m, "key value" lines) and publishes the
# TSV with `smr publish` (all in a fresh directory under /dev/shm, removed
# at exit), then runs, REPS times each and alternating: smr get of a
# present key, cdb -q of it, smr get of an absent key, cdb -q of it.  A
# binary that has `get --no-verify` is also run with it (rows "nv"). Each
# run is timed by /usr/bin/time -f '%e %M' (wall seconds at 10 ms
# resolution, peak RSS in KiB) and by the shell's $EPOCHREALTIME around the
# command (microseconds, fork and exec included, the same for both).
# Prints medians (and min-max of the microsecond times); the last line times
# `true`, the floor that every process start pays.
# Environment: SMR (default build/cli/smr; several binaries separated by
# spaces are measured in turn, e.g. an older build for comparison), CDB
# (default cdb).  Needs: tinycdb (the cdb command), time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
reps=${2:-20}
case $rows$reps in
'' | *[!0-9]*)
  echo "usage: tools/bench_get.sh [ROWS] [REPS]" >&2
  exit 2
  ;;
esac
read -ra smrs <<<"${SMR:-build/cli/smr}"
cdb=${CDB:-cdb}
for b in "${smrs[@]}" "$cdb" /usr/bin/time; do
  command -v "$b" >/dev/null ||
    {
      echo "bench_get.sh: $b not found (build smr; apt-get install tinycdb time)" >&2
      exit 1
    }
done
d=$(mktemp -d /dev/shm/smr-bench-get.XXXXXX)
trap 'rm -rf "$d"' EXIT

awk -v n="$rows" 'BEGIN { for (i = 0; i < n; i++) printf "key%07d\tval_%07d_%08x\n", i, i, (i * 2654435761) % 4294967296 }' >"$d/in.tsv"
tr '\t' ' ' <"$d/in.tsv" | "$cdb" -c -m "$d/db.cdb"
hit=$(printf 'key%07d' $((rows / 2)))
miss=nokey
want=$(awk -F'\t' -v k="$hit" '$1 == k { print $2 }' "$d/in.tsv")

# run NAME CMD...: one timed run, appended to $d/NAME (wall_s rss_kb us).
run() {
  local name=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %M' -o "$d/t" "$@" >"$d/out" 2>/dev/null || true
  t1=$EPOCHREALTIME
  local us=$(((${t1/./} - ${t0/./})))
  echo "$(tail -n 1 "$d/t") $us" >>"$d/$name"
}

# med FILE COL: the median of column COL (1-based).
med() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" 'NR == 1 { lo = $c } { hi = $c } END { print lo "-" hi }'
}

printf 'rows %s, table from %s (%s bytes), cdb %s bytes, %s runs each\n' \
  "$rows" "$d/in.tsv" "$(stat -c %s "$d/in.tsv")" "$(stat -c %s "$d/db.cdb")" "$reps"
printf '%-46s %8s %10s %14s %9s\n' command "wall s" "wall us" "us min-max" "RSS KiB"
names=()
for i in "${!smrs[@]}"; do
  ch="$d/ch$i"
  "${smrs[$i]}" publish "$ch" "$d/in.tsv" >/dev/null
  got=$("${smrs[$i]}" get "$ch" "$hit")
  [ "$got" = "$want" ] || {
    echo "bench_get.sh: ${smrs[$i]} get $hit gave '$got', expected '$want'" >&2
    exit 1
  }
done
[ "$("$cdb" -q "$d/db.cdb" "$hit")" = "$want" ] || {
  echo "bench_get.sh: cdb -q $hit gave the wrong value" >&2
  exit 1
}
nv=()
for i in "${!smrs[@]}"; do
  nv[i]=0
  "${smrs[$i]}" get --help 2>&1 | grep -q -- --no-verify && nv[i]=1
done
for ((r = 0; r < reps; r++)); do
  for i in "${!smrs[@]}"; do
    run "smr$i-hit" "${smrs[$i]}" get "$d/ch$i" "$hit"
    run "cdb-hit" "$cdb" -q "$d/db.cdb" "$hit"
    run "smr$i-miss" "${smrs[$i]}" get "$d/ch$i" "$miss"
    run "cdb-miss" "$cdb" -q "$d/db.cdb" "$miss"
    if [ "${nv[i]}" = 1 ]; then
      run "smr$i-nvhit" "${smrs[$i]}" get --no-verify "$d/ch$i" "$hit"
      run "smr$i-nvmiss" "${smrs[$i]}" get --no-verify "$d/ch$i" "$miss"
    fi
  done
  run floor true
done
for i in "${!smrs[@]}"; do
  names+=("smr$i-hit" "smr$i-miss")
  [ "${nv[i]}" = 1 ] && names+=("smr$i-nvhit" "smr$i-nvmiss")
done
names+=(cdb-hit cdb-miss floor)
for n in "${names[@]}"; do
  case $n in
  cdb-*) label="cdb -q ${n#cdb-}" ;;
  floor) label="true (the cost of starting one)" ;;
  *)
    i=${n#smr}
    i=${i%%-*}
    case ${n#*-} in
    nv*) label="${smrs[$i]} get --no-verify ${n#*-nv}" ;;
    *) label="${smrs[$i]} get ${n#*-}" ;;
    esac
    ;;
  esac
  printf '%-46s %8s %10s %14s %9s\n' "$label" "$(med "$d/$n" 1)" \
    "$(med "$d/$n" 3)" "$(range "$d/$n" 3)" "$(med "$d/$n" 2)"
done
