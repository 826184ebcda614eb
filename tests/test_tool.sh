#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of the smr command (cli/, docs/smr.1).
# Usage: test_tool.sh PATH-TO-SMR CASE [PYTHON3]
# Each case uses channels in its own mktemp -d directory under /dev/shm
# and removes it on exit.  Processes started in the background are bounded
# by their own --timeout and killed on exit; the test waits for them
# through FIFOs (a line read per step), never by sleeping.  To order a
# background process's reads after a step, the test stops it (SIGSTOP,
# then waits for state T in /proc) and continues it after the step.  Exit 77: the
# case needs python3 and none was found (ctest reports it skipped).
set -euo pipefail

SMR=$1
CASE=$2
PY=${3:-}
[[ -x $SMR ]] || { echo "no smr binary at '$SMR'" >&2; exit 1; }

d=$(mktemp -d /dev/shm/smr-tool-XXXXXX)
ch=$d/ch
bg=()
cleanup() {
  local p
  for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$d"
}
trap cleanup EXIT

fail() {
  echo "FAIL ($CASE): $*" >&2
  exit 1
}

need_python() {
  if [[ -z $PY ]] || ! "$PY" -c 'import json' 2>/dev/null; then
    echo "python3 not found: skipped" >&2
    exit 77
  fi
}

# clean FILE: no sanitizer report in FILE (a stderr): ASAN exits 1 like
# a missing key, and UBSAN only prints.
clean() {
  if grep -qE 'Sanitizer|runtime error:' "$1"; then
    cat "$1" >&2
    fail "sanitizer report in $1"
  fi
}

# run STATUS CMD...: run CMD, its stdout in $d/out, stderr in $d/err;
# fail unless it exits with STATUS and reports no sanitizer error.
run() {
  local want=$1 got=0
  shift
  "$@" >"$d/out" 2>"$d/err" || got=$?
  clean "$d/err"
  if [[ $got != "$want" ]]; then
    echo "--- stdout:" >&2; cat "$d/out" >&2
    echo "--- stderr:" >&2; cat "$d/err" >&2
    fail "'$*' exited $got, expected $want"
  fi
}

# has FILE TEXT: FILE contains TEXT (fixed string).
has() {
  grep -qF -- "$2" "$1" || {
    echo "--- $1:" >&2; cat "$1" >&2
    fail "'$1' does not contain '$2'"
  }
}

# The channel's current version (0: nothing published), from smr stat.
version_of() {
  "$SMR" stat "$1" >"$d/vout" 2>"$d/verr"
  clean "$d/verr"
  awk '$1 == "version" { print $2 }' "$d/vout"
}

# stopped PID: wait until PID (sent SIGSTOP) is stopped, state T in
# /proc/PID/stat: a bounded spin, no sleep.
stopped() {
  local s i
  for ((i = 0; i < 1000000; i++)); do
    read -r s <"/proc/$1/stat"
    s=${s##*) }
    [[ ${s%% *} == T ]] && return 0
  done
  fail "process $1 did not stop"
}

# ended PID STATUS WHAT: background PID, whose output fd 3 reads, exits
# with STATUS and prints nothing more than what was read (fd 3 is closed).
ended() {
  local st=0
  wait "$1" || st=$?
  cat <&3 >"$d/rest"
  exec 3<&-
  clean "$d/rest"
  [[ $st == "$2" ]] || fail "$3 exited $st, expected $2"
  [[ ! -s $d/rest ]] || fail "$3 printed more: $(cat "$d/rest")"
}

# ---- cases -------------------------------------------------------------------

# publish, get, dump and stat between processes; the duplicate rule; get's
# exit status for a missing key.
case_basic() {
  printf 'alpha\t1\nbeta\ttwo words\nalpha\t3\n\tempty key\n' >"$d/in.tsv"
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  [[ $(cat "$d/out") == "version=1 rows=4 keys=3 bytes="* ]] ||
    fail "publish printed '$(cat "$d/out")'"
  run 0 "$SMR" get "$ch" beta alpha
  [[ $(cat "$d/out") == $'two words\n3' ]] || fail "get printed '$(cat "$d/out")'"
  run 0 "$SMR" get "$ch" ''
  [[ $(cat "$d/out") == "empty key" ]] || fail "empty key: '$(cat "$d/out")'"
  # A missing key: exit 1, named on stderr, the others still printed, the
  # missing one as an empty line (several keys: line N is key N's).
  run 1 "$SMR" get "$ch" alpha nosuch beta
  [[ $(cat "$d/out") == $'3\n\ntwo words' ]] || fail "get printed '$(cat "$d/out")'"
  has "$d/err" "no key 'nosuch'"
  # Dump: insertion order, the duplicate where its last row was.
  run 0 "$SMR" dump "$ch"
  printf 'beta\ttwo words\nalpha\t3\n\tempty key\n' | cmp - "$d/out" ||
    fail "dump differs"
  # A second publish: a new version replaces the table.
  printf 'gamma\tg\n' >"$d/in2.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/in2.tsv"
  [[ ! -s $d/out ]] || fail "--quiet printed '$(cat "$d/out")'"
  run 1 "$SMR" get "$ch" alpha
  run 0 "$SMR" get "$ch" gamma
  [[ $(cat "$d/out") == g ]] || fail "get gamma: '$(cat "$d/out")'"
  run 0 "$SMR" stat "$ch"
  has "$d/out" "table           1 keys (version 2)"
  has "$d/out" "checksum        ok"
  [[ $(version_of "$ch") == 2 ]] || fail "version is not 2"
  # No such channel: a channel error naming the cause.
  run 4 "$SMR" get "$d/none" k
  has "$d/err" "$d/none"
  has "$d/err" "No such file or directory"
  run 4 "$SMR" dump "$d/none"
  run 4 "$SMR" stat "$d/none"
  # Standard input, key and value columns, a header.
  printf 'h1\th2\th3\nx\ty\tz\n' |
    run 0 "$SMR" publish --header --key-col 3 --value-col 1 "$ch" -
  run 0 "$SMR" dump "$ch"
  [[ $(cat "$d/out") == $'z\tx' ]] || fail "columns: '$(cat "$d/out")'"
}

# publish then dump reproduces the input byte for byte (TSV, TSV with CRLF,
# CSV with quotes, commas, newlines, CRs and every byte but NUL).
case_roundtrip() {
  need_python
  "$PY" - "$d" <<'EOF'
import random, sys
d = sys.argv[1]
random.seed(5)
nonul = bytes(range(1, 256))
tsv_alpha = bytes(b for b in nonul if b not in b'\t\n\r')
def uniq(gen, n):
    seen, out = set(), []
    while len(out) < n:
        k = gen()
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out
rnd = lambda alpha, lo, hi: bytes(random.choice(alpha) for _ in range(random.randint(lo, hi)))
# TSV: any byte but NUL, tab, newline (CR too: only as data in the middle).
keys = uniq(lambda: rnd(tsv_alpha, 0, 16), 3000)
rows = [k + b'\t' + rnd(tsv_alpha + b'\r', 0, 60) + b'x\n' for k in keys]
rows += [b'key%07d\tvalue %d\n' % (i, i * i) for i in range(3000)]
open(d + '/rt.tsv', 'wb').write(b''.join(rows))
open(d + '/rt-crlf.tsv', 'wb').write(b''.join(r[:-1] + b'\r\n' for r in rows))
# CSV: any byte but NUL, quoted exactly when needed.
def q(b):
    return b'"' + b.replace(b'"', b'""') + b'"' if any(c in b for c in b',"\r\n') else b
mix = nonul + b',"\r\n' * 8
keys = uniq(lambda: rnd(mix, 0, 12), 3000)
open(d + '/rt.csv', 'wb').write(b''.join(q(k) + b',' + q(rnd(mix, 0, 80)) + b'\n' for k in keys))
open(d + '/rt-crlf.csv', 'wb').write(b''.join(q(k) + b',' + q(rnd(mix, 0, 80)) + b'\r\n' for k in keys))
EOF
  run 0 "$SMR" publish "$ch" "$d/rt.tsv"
  has "$d/out" "rows=6000 keys=6000"
  run 0 "$SMR" dump "$ch"
  cmp "$d/out" "$d/rt.tsv" || fail "TSV round trip differs"
  run 0 "$SMR" publish --crlf "$ch" "$d/rt-crlf.tsv"
  run 0 "$SMR" dump --crlf "$ch"
  cmp "$d/out" "$d/rt-crlf.tsv" || fail "TSV CRLF round trip differs"
  run 0 "$SMR" dump "$ch"
  cmp "$d/out" "$d/rt.tsv" || fail "TSV CRLF -> LF differs"
  run 0 "$SMR" publish --csv "$ch" "$d/rt.csv"
  has "$d/out" "rows=3000 keys=3000"
  run 0 "$SMR" dump --csv "$ch"
  cmp "$d/out" "$d/rt.csv" || fail "CSV round trip differs"
  run 0 "$SMR" publish --csv "$ch" "$d/rt-crlf.csv"
  run 0 "$SMR" dump --csv --crlf "$ch"
  cmp "$d/out" "$d/rt-crlf.csv" || fail "CSV CRLF round trip differs"
  # These values hold newlines: TSV cannot print them.
  run 5 "$SMR" dump "$ch"
  has "$d/err" "use --csv"
  [[ ! -s $d/out ]] || fail "dump printed part of a table it refused"
  # No final newline: dump adds it.
  printf 'a\tb\nc\td' >"$d/nofinal.tsv"
  run 0 "$SMR" publish "$ch" "$d/nofinal.tsv"
  run 0 "$SMR" dump "$ch"
  printf 'a\tb\nc\td\n' | cmp - "$d/out" || fail "no final newline"
  printf 'k,"v ""q"""' >"$d/nofinal.csv"
  run 0 "$SMR" publish --csv "$ch" "$d/nofinal.csv"
  run 0 "$SMR" get "$ch" k
  [[ $(cat "$d/out") == 'v "q"' ]] || fail "quoted at EOF: '$(cat "$d/out")'"
}

# Bad input: a clear error naming FILE:LINE, exit 3, nothing published.
case_bad_input() {
  printf 'k\tgood\n' >"$d/good.tsv"
  run 0 "$SMR" publish "$ch" "$d/good.tsv"
  # bad FILE-CONTENT FORMAT-OPTION EXPECTED-STDERR-TEXT
  bad() {
    local -a opt
    read -ra opt <<<"$2"
    printf '%b' "$1" >"$d/bad"
    run 3 "$SMR" publish "${opt[@]}" "$ch" "$d/bad"
    has "$d/err" "$3"
    [[ ! -s $d/out ]] || fail "bad input printed '$(cat "$d/out")'"
    [[ $(version_of "$ch") == 1 ]] || fail "bad input published ($3)"
  }
  bad 'a\t1\nb\t2\nc\t3\t4\nd\t5\n' --tsv "$d/bad:3: 3 fields, expected 2 (as on line 1)"
  bad 'a\t1\nb\nc\t3\n' --tsv "$d/bad:2: 1 field, expected 2"
  bad 'a\t1\r\n' --tsv "$d/bad:1: line ends with a carriage return"
  bad 'a\n' --tsv "$d/bad:1: 1 field, but the value is column 2"
  bad 'a,1\nb,"2\n3\n' --csv "$d/bad:2: unterminated quoted field"
  bad 'a,1\nb,"2\n3"x\n' --csv "$d/bad:3: text after a closing quote"
  bad 'a,1\nb,2"\n' --csv "$d/bad:2: quote inside an unquoted field"
  bad 'a,1\nb,2\rx\n' --csv "$d/bad:2: carriage return inside an unquoted"
  bad 'a,1\n"b\nc",2,3\n' --csv "$d/bad:2: 3 fields, expected 2"
  bad '' --tsv "$d/bad: no rows (empty file)"
  bad 'h1\th2\n' "--header --tsv" "$d/bad: no rows after the header"
  run 3 "$SMR" publish "$ch" "$d/nonexistent"
  has "$d/err" "$d/nonexistent: cannot open: No such file or directory"
  run 3 "$SMR" publish "$ch" "$d"
  has "$d/err" "$d: is a directory"
  [[ $(version_of "$ch") == 1 ]] || fail "a missing file published"
  run 0 "$SMR" get "$ch" k
  [[ $(cat "$d/out") == good ]] || fail "the table changed"
  # Bad input for a channel that does not exist yet: none is created.
  printf 'a\t1\nb\n' >"$d/bad"
  run 3 "$SMR" publish "$d/new" "$d/bad"
  [[ ! -e $d/new.smr ]] || fail "bad input created a channel"
  # Usage errors.
  run 2 "$SMR" publish "$ch"
  run 2 "$SMR" publish --key-col 0 "$ch" "$d/good.tsv"
  run 2 "$SMR" publish --key-col 2 --value-col 2 "$ch" "$d/good.tsv"
  run 2 "$SMR" publish --buffers 1 "$ch" "$d/good.tsv"
  run 2 "$SMR" publish --watch "$ch" -
  run 2 "$SMR" publish --csv --crlf "$ch" "$d/good.tsv"
  [[ $(version_of "$ch") == 1 ]] || fail "a usage error published"
}

# smr watch in the background prints the versions published after it
# started (one line read per publish, so none coalesce); smr stat --json
# shows it as a live reader.
case_watch() {
  need_python
  printf 'a\t1\nb\t2\n' >"$d/v1.tsv"
  printf 'a\t1\nb\t2\nc\t3\n' >"$d/v2.tsv"
  printf 'z\t26\n' >"$d/v3.tsv"
  run 0 "$SMR" publish --buffers 4 --readers 8 "$ch" "$d/v1.tsv"
  mkfifo "$d/w"
  "$SMR" watch --count 3 --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  local wpid=$!
  bg+=("$wpid")
  exec 3<"$d/w"
  local l
  read -r -t 60 -u 3 l || fail "watch printed no first line"
  [[ $l == "version=1 size="*" keys=2" ]] || fail "watch line 1: '$l'"
  run 0 "$SMR" publish -q "$ch" "$d/v2.tsv"
  read -r -t 60 -u 3 l || fail "watch did not see version 2"
  [[ $l == "version=2 size="*" keys=3" ]] || fail "watch line 2: '$l'"
  # The watcher is a live reader that has read version 2.
  run 0 "$SMR" stat --json "$ch"
  mv "$d/out" "$d/stat.json"
  "$PY" -m json.tool "$d/stat.json" >/dev/null || fail "stat --json is not JSON"
  "$PY" - "$d/stat.json" "$wpid" <<'EOF' || fail "stat --json content"
import json, sys
d = json.load(open(sys.argv[1]))
pid = int(sys.argv[2])
assert d["version"] == 2, d
assert d["table"] == {"version": 2, "keys": 3}, d["table"]
assert d["checksum"] == "ok", d
assert d["readers_max"] == 8 and len(d["buffers"]) == 4, d
assert d["writer"]["alive"] is False, d["writer"]
assert d["publishes"] == 2, d
cur = [b for b in d["buffers"] if b["current"]]
assert len(cur) == 1 and cur[0]["version"] == 2 and cur[0]["size"] == d["size"], d
me = [r for r in d["readers"] if r["pid"] == pid]
assert len(me) == 1, d["readers"]
r = me[0]
assert r["alive"] is True and r["last_version"] == 2 and r["lag"] == 0, r
assert r["pinned_version"] == 0, r  # watch holds no guard while it waits
EOF
  run 0 "$SMR" publish -q "$ch" "$d/v3.tsv"
  read -r -t 60 -u 3 l || fail "watch did not see version 3"
  [[ $l == "version=3 size="*" keys=1" ]] || fail "watch line 3: '$l'"
  local st=0
  wait "$wpid" || st=$?
  clean "$d/w.err"
  [[ $st == 0 ]] || fail "watch --count 3 exited $st"
  exec 3<&-
  # The size watch printed is the payload's.
  run 0 "$SMR" stat --json "$ch"
  mv "$d/out" "$d/stat.json"
  "$PY" - "$d/stat.json" "$l" <<'EOF' || fail "watch size"
import json, sys
d = json.load(open(sys.argv[1]))
assert "size=%d " % d["size"] in sys.argv[2], (d["size"], sys.argv[2])
assert d["readers"] == [], d["readers"]  # watch closed its reader
EOF
  # Nothing new: --timeout ends it with status 1.
  run 1 "$SMR" watch --count 2 --timeout 0.05 "$ch"
  has "$d/out" "version=3 "
  has "$d/err" "no new version within the timeout"
  run 2 "$SMR" watch --count 0 "$ch"
  run 2 "$SMR" watch --timeout x "$ch"
  run 4 "$SMR" watch "$d/none"
  # The channel removed under a watcher: its next wait slice (1 s) says
  # so, and it exits 4.
  "$SMR" watch --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  wpid=$!
  bg+=("$wpid")
  exec 3<"$d/w"
  read -r -t 60 -u 3 l || fail "watch printed no first line"
  rm -rf "$ch".smr*
  st=0
  wait "$wpid" || st=$?
  exec 3<&-
  [[ $st == 4 ]] || fail "watch exited $st after the channel was removed"
  has "$d/w.err" "the channel was removed"
}

# Every reader slot taken: readers are refused with a clear message, and
# stat still shows the channel (checksum not verified, table not read)
# with the reader that holds the slot.
case_stat_full() {
  need_python
  printf 'a\t1\n' >"$d/in.tsv"
  run 0 "$SMR" publish --readers 1 "$ch" "$d/in.tsv"
  mkfifo "$d/w"
  "$SMR" watch --count 2 --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  local wpid=$! l st=0
  bg+=("$wpid")
  exec 3<"$d/w"
  read -r -t 60 -u 3 l || fail "watch printed no first line"
  run 4 "$SMR" get "$ch" a
  has "$d/err" "every reader slot is taken"
  run 0 "$SMR" stat --json "$ch"
  mv "$d/out" "$d/stat.json"
  "$PY" - "$d/stat.json" "$wpid" <<'EOF2' || fail "stat --json, slots full"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1 and d["checksum"] == "skipped", d
assert "every reader slot is taken" in d["checksum_note"], d
assert d["table"] is None and "cannot read" in d["table_error"], d
assert [(r["pid"], r["alive"]) for r in d["readers"]] == [(int(sys.argv[2]), True)], d
EOF2
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  read -r -t 60 -u 3 l || fail "watch did not see version 2"
  wait "$wpid" || st=$?
  exec 3<&-
  clean "$d/w.err"
  [[ $st == 0 ]] || fail "watch exited $st"
  # The slot is free again: stat verifies and reads the table.
  run 0 "$SMR" stat --json "$ch"
  mv "$d/out" "$d/stat.json"
  "$PY" - "$d/stat.json" <<'EOF2' || fail "stat --json, slot free"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["checksum"] == "ok" and "checksum_note" not in d, d
assert d["table"] == {"version": 2, "keys": 1} and d["readers"] == [], d
EOF2
}

# publish --watch: republishes on close_write and on rename into place,
# reports bad input and keeps the last good version, exits 0 on SIGTERM.
case_publish_watch() {
  need_python
  printf 'a\t1\n' >"$d/in.tsv"
  mkfifo "$d/po" "$d/pe"
  "$SMR" publish --watch "$ch" "$d/in.tsv" >"$d/po" 2>"$d/pe" &
  local pid=$! l
  bg+=("$pid")
  exec 3<"$d/po" 4<"$d/pe"
  read -r -t 60 -u 3 l || fail "no first publish"
  [[ $l == "version=1 rows=1 keys=1 "* ]] || fail "first publish: '$l'"
  # Rewritten in place (close_write).
  printf 'a\t2\nb\t3\n' >"$d/in.tsv"
  read -r -t 60 -u 3 l || fail "no publish after a write"
  [[ $l == "version=2 rows=2 keys=2 "* ]] || fail "after a write: '$l'"
  # Renamed into place (moved_to); writing the temporary file is ignored.
  printf 'a\t4\n' >"$d/tmp.tsv"
  mv "$d/tmp.tsv" "$d/in.tsv"
  read -r -t 60 -u 3 l || fail "no publish after a rename"
  [[ $l == "version=3 rows=1 keys=1 "* ]] || fail "after a rename: '$l'"
  # Bad input: reported with FILE:LINE, nothing published, still running.
  printf 'a\t5\nb\n' >"$d/in.tsv"
  read -r -t 60 -u 4 l || fail "no error for bad input"
  [[ $l == *"$d/in.tsv:2: 1 field, expected 2"* ]] || fail "error: '$l'"
  run 0 "$SMR" get "$ch" a
  [[ $(cat "$d/out") == 4 ]] || fail "bad input changed the table"
  # The writer is alive while it watches.
  run 0 "$SMR" stat --json "$ch"
  mv "$d/out" "$d/stat.json"
  "$PY" - "$d/stat.json" "$pid" <<'EOF' || fail "stat: writer"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["writer"] == {"pid": int(sys.argv[2]), "alive": True}, d["writer"]
assert d["version"] == 3, d
EOF
  # A second writer is refused while it runs.
  printf 'q\t1\n' >"$d/other.tsv"
  run 4 "$SMR" publish "$ch" "$d/other.tsv"
  has "$d/err" "another writer holds the channel"
  printf 'a\t6\n' >"$d/in.tsv"
  read -r -t 60 -u 3 l || fail "no publish after bad input"
  [[ $l == "version=4 rows=1 keys=1 "* ]] || fail "after bad input: '$l'"
  kill -TERM "$pid"
  local st=0
  wait "$pid" || st=$?
  cat <&4 >"$d/pe.rest"
  clean "$d/pe.rest"
  [[ $st == 0 ]] || fail "publish --watch exited $st on SIGTERM"
  exec 3<&- 4<&-
  run 0 "$SMR" get "$ch" a
  [[ $(cat "$d/out") == 6 ]] || fail "final table: '$(cat "$d/out")'"
}

# bench: N processes look keys up; every key found.
case_bench() {
  awk 'BEGIN { for (i = 0; i < 5000; i++) printf "key%07d\tvalue %d\n", i, i }' \
    >"$d/in.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  run 0 "$SMR" bench --procs 2 --seconds 0.2 "$ch"
  [[ $(grep -c '^process [01]: [1-9][0-9]* lookups in .* 100.0% found' \
    "$d/out") == 2 ]] || { cat "$d/out" >&2; fail "bench output"; }
  has "$d/out" "total: "
  has "$d/out" "in 2 processes"
  run 4 "$SMR" bench "$d/none"
  run 2 "$SMR" bench --procs 0 "$ch"
}

# --progress draws a bar that ends at 100%; without it, a non-terminal
# stderr stays quiet.
case_progress() {
  awk 'BEGIN { for (i = 0; i < 200000; i++) printf "k%d\tv\n", i }' >"$d/in.tsv"
  run 0 "$SMR" publish --progress "$ch" "$d/in.tsv"
  has "$d/err" "100%"
  has "$d/out" "rows=200000 keys=200000"
  # The bar fits $COLUMNS (stderr is no terminal here): every redraw is
  # one column narrower than it.
  local w
  for w in 50 120; do
    COLUMNS=$w run 0 "$SMR" publish -q --progress "$ch" "$d/in.tsv"
    tr '\r' '\n' <"$d/err" | awk -v w="$w" 'NF && length($0) != w - 1 { bad = 1 }
      END { exit bad }' || fail "progress lines for COLUMNS=$w: $(tr '\r' '\n' <"$d/err")"
    has "$d/err" "100%"
  done
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  [[ ! -s $d/err ]] || fail "stderr not quiet: '$(cat "$d/err")'"
}

# Every --help exits 0 with its usage; usage errors exit 2.
case_help() {
  run 0 "$SMR" --help
  has "$d/out" "Usage: smr COMMAND"
  has "$d/out" "Exit status:"
  run 0 "$SMR" --version
  has "$d/out" "smr "
  local c
  for c in publish get dump stat watch bench ls rm; do
    run 0 "$SMR" "$c" --help
    has "$d/out" "Usage: smr $c "
    has "$d/out" "Exit status:"
    run 0 "$SMR" help "$c"
    has "$d/out" "Usage: smr $c "
  done
  run 2 "$SMR"
  run 2 "$SMR" frobnicate
  has "$d/err" "no command 'frobnicate'"
  run 2 "$SMR" --frob
  run 2 "$SMR" get "$ch"
  run 2 "$SMR" get --frob "$ch" k
  has "$d/err" "unknown option '--frob'"
  run 2 "$SMR" dump
  run 2 "$SMR" stat
  run 2 "$SMR" watch
  run 2 "$SMR" help frobnicate
  run 2 "$SMR" rm
  run 2 "$SMR" ls a b
  run 2 "$SMR" get --json -0 "$ch" k
  run 2 "$SMR" get --json --missing x "$ch" k
  run 2 "$SMR" publish --mode 0664 "$ch" "$d/in.tsv"
  has "$d/err" "--mode 0664"
  run 2 "$SMR" publish --mode 0700 "$ch" "$d/in.tsv"
  run 2 "$SMR" publish --mode rw "$ch" "$d/in.tsv"
  [[ ! -e $ch.smr ]] || fail "a usage error created the channel"
}

# publish --watch never publishes a file a writer is still writing.  The
# writer (this shell) keeps the file open on fd 5 and writes it in chunks;
# every version published must be a whole file: 49 rows and a last
# sentinel row, dumped back byte for byte.  The publisher's stdout and
# stderr share one FIFO: after each step the test reads the one line the
# publisher prints for it, a version or the reason it did not publish.
case_partial_write() {
  local f=$d/in.tsv l pid
  # round R FROM TO: rows FROM..TO of round R; sentinel: the last row.
  round() {
    local i
    for ((i = $2; i <= $3; i++)); do printf 'key%03d\tround %d value %d\n' "$i" "$1" "$i"; done
  }
  sentinel() { printf 'zz-end\tcomplete\n'; }
  whole() { round "$1" 1 49; sentinel; }
  # published R LINE: LINE reports a publish of round R's whole file, which
  # is what the channel now holds.
  published() {
    [[ $2 == version=* ]] || fail "round $1: expected a publish, got '$2'"
    run 0 "$SMR" dump "$ch"
    whole "$1" | cmp -s - "$d/out" ||
      fail "round $1: published a file that is not whole ($(wc -l <"$d/out") rows, last '$(tail -n 1 "$d/out")'): '$2'"
    [[ $2 == "version="*" rows=50 keys=50 "* ]] || fail "round $1: '$2'"
  }
  # refused WHY LINE: LINE is the publisher's note that it skipped the file
  # because WHY; a publish instead is the bug (its table shows how much).
  refused() {
    if [[ $2 == version=* ]]; then
      run 0 "$SMR" dump "$ch"
      fail "published a half-written file ($(wc -l <"$d/out") rows, last '$(tail -n 1 "$d/out")'): '$2'"
    fi
    [[ $2 == *"$1"* ]] || fail "expected '$1', got '$2'"
  }
  whole 1 >"$f"
  mkfifo "$d/po"
  "$SMR" publish --watch "$ch" "$f" >"$d/po" 2>&1 &
  pid=$!
  bg+=("$pid")
  exec 3<"$d/po"
  read -r -t 60 -u 3 l || fail "no first publish"
  published 1 "$l"
  # (a) Written whole and closed, then reopened and written again before
  # the publisher looks (it is stopped meanwhile): the close is stale.
  kill -STOP "$pid"
  stopped "$pid"
  whole 2 >"$f"
  exec 5>"$f"
  round 3 1 20 >&5
  kill -CONT "$pid"
  read -r -t 60 -u 3 l || fail "(a): the publisher printed nothing"
  refused "still being written" "$l"
  round 3 21 35 >&5
  round 3 36 49 >&5
  sentinel >&5
  exec 5>&-
  read -r -t 60 -u 3 l || fail "(a): no publish after the writer closed"
  published 3 "$l"
  # (b) Another process opens the file for writing and closes it while the
  # writer still has it open: a close_write, but a writer is at work.
  # Seen through a read lease: the kernel grants none while the file is
  # open for writing.
  if [[ $(cat /proc/sys/fs/leases-enable 2>/dev/null) != 0 ]]; then
    exec 5>"$f"
    round 4 1 20 >&5
    : >>"$f"
    read -r -t 60 -u 3 l || fail "(b): the publisher printed nothing"
    refused "open for writing by another process" "$l"
    round 4 21 49 >&5
    sentinel >&5
    exec 5>&-
    read -r -t 60 -u 3 l || fail "(b): no publish after the writer closed"
    published 4 "$l"
  else
    echo "file leases disabled: case (b) skipped" >&2
  fi
  # (c) The workflow smr(1) recommends: write a temporary file in the same
  # directory, rename it into place.
  whole 5 >"$d/in.tsv.tmp"
  mv "$d/in.tsv.tmp" "$f"
  read -r -t 60 -u 3 l || fail "(c): no publish after the rename"
  published 5 "$l"
  kill -TERM "$pid"
  ended "$pid" 0 "publish --watch (SIGTERM)"
}

# get, dump and watch verify the payload's checksum: with one bit flipped in
# the data file of the current version they print nothing from it and exit
# 4; stat says "checksum bad"; the next good version reads again.  get
# --no-verify checks only when in doubt (a missing key, a corrupt probe): a
# miss exits 4, but the flipped value itself is printed (its documented
# cost: cli/cli.h, table_get).
case_corrupt() {
  need_python
  # flip VALUE: flip the lowest bit of VALUE's first byte in the data file
  # of the channel's current version (the table stays well-formed).
  flip() {
    run 0 "$SMR" stat --json "$ch"
    mv "$d/out" "$d/stat.json"
    "$PY" - "$d/stat.json" "$ch" "$1" <<'EOF2' || fail "cannot flip a bit of '$1'"
import json, os, stat, sys
d = json.load(open(sys.argv[1]))
cur = [b["index"] for b in d["buffers"] if b["current"]]
assert len(cur) == 1, d["buffers"]
path = "%s.smr-data-%d" % (sys.argv[2], cur[0])
if not os.access(path, os.W_OK):
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
with open(path, "r+b") as f:
    data = f.read()
    i = data.find(os.fsencode(sys.argv[3]))
    assert i >= 0, "value not in " + path
    f.seek(i)
    f.write(bytes([data[i] ^ 1]))
EOF2
  }
  printf 'k\thello-world\nz\tzz\n' >"$d/in.tsv"
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  run 0 "$SMR" get "$ch" k
  [[ $(cat "$d/out") == hello-world ]] || fail "get before: '$(cat "$d/out")'"
  flip hello-world
  run 0 "$SMR" stat "$ch"
  has "$d/out" "checksum        bad"
  run 0 "$SMR" get --no-verify "$ch" k
  [[ $(cat "$d/out") == iello-world ]] || fail "get flipped: '$(cat "$d/out")'"
  local -a cmd
  for cmd in "get $ch k" "get --no-verify $ch k nokey" "dump $ch" "dump --csv $ch" \
    "watch --count 1 --timeout 60 $ch" "bench --procs 1 --seconds 0.1 $ch"; do
    read -ra cmd <<<"$cmd"
    run 4 "$SMR" "${cmd[@]}"
    has "$d/err" "version 1 failed verification"
    [[ ! -s $d/out ]] || fail "'${cmd[*]}' printed '$(cat "$d/out")'"
  done
  # A new version goes to another buffer: readable again.
  printf 'k\tfixed\n' >"$d/in.tsv"
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  run 0 "$SMR" get "$ch" k
  [[ $(cat "$d/out") == fixed ]] || fail "get after: '$(cat "$d/out")'"
  # A watch already running stops at a corrupt new version (it is stopped
  # while the version is published and corrupted, so it reads it after).
  mkfifo "$d/w"
  "$SMR" watch --count 2 --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  local wpid=$! l
  bg+=("$wpid")
  exec 3<"$d/w"
  read -r -t 60 -u 3 l || fail "watch printed no first line"
  [[ $l == "version=2 "* ]] || fail "watch line 1: '$l'"
  kill -STOP "$wpid"
  stopped "$wpid"
  printf 'k\tcorrupt-soon\n' >"$d/in.tsv"
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  flip corrupt-soon
  kill -CONT "$wpid"
  ended "$wpid" 4 "watch at a corrupt version"
  clean "$d/w.err"
  has "$d/w.err" "version 3 failed verification"
}

# Output that cannot be written (stdout on /dev/full) is exit status 6 with
# a message, for --help, --version and every command that prints.
case_output_errors() {
  [[ -w /dev/full ]] || { echo "no /dev/full: skipped" >&2; exit 77; }
  # full ARGS...: smr ARGS with stdout on /dev/full exits 6 and says why.
  full() {
    local got=0
    "$SMR" "$@" >/dev/full 2>"$d/err" || got=$?
    clean "$d/err"
    [[ $got == 6 ]] || fail "'smr $*' >/dev/full exited $got, expected 6"
    has "$d/err" "cannot write the output"
  }
  full --help
  full -h
  full --version
  full -V
  full help
  local c
  for c in publish get dump stat watch bench ls rm; do
    full "$c" --help
    full help "$c"
  done
  printf 'k\tv\n' >"$d/in.tsv"
  full publish "$ch" "$d/in.tsv"
  full get "$ch" k
  full dump "$ch"
  full stat "$ch"
  full stat --json "$ch"
  full watch --count 1 "$ch"
  full watch --json --count 1 "$ch"
  full get --json "$ch" k
  full get -0 "$ch" k
  full ls "$d"
  full ls --json "$d"
  full bench --procs 1 --seconds 0.05 "$ch"
}

# stat --json is valid JSON (parsed by python3, which rejects bytes that
# are not UTF-8) whatever bytes the channel name holds: quotes,
# backslashes, control characters, invalid UTF-8 (escaped as \u00XX,
# the exact bytes in channel_hex), valid UTF-8 as it is.
case_json_names() {
  need_python
  printf 'k\tv\n' >"$d/in.tsv"
  local n i=0
  for n in 'q"uote' 'back\slash' $'c\x01t\x1f\tn\nx\x7f' $'bad\xff\xfe' \
    $'trunc\xc3' $'overlong\xc0\xaf' $'surrogate\xed\xa0\x80' \
    $'cut\xe2\x82A' $'big\xf4\x90\x80\x80' $'ok\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'; do
    run 0 "$SMR" publish -q "$d/$n" "$d/in.tsv"
    run 0 "$SMR" stat --json "$d/$n"
    mv "$d/out" "$d/stat$((i++)).json"
    printf '%s\0' "$d/$n" >>"$d/names"
  done
  "$PY" - "$d" <<'EOF2' || fail "stat --json with odd channel names"
import codecs, json, sys
d = sys.argv[1].encode()
# Each byte that is not part of well-formed UTF-8 reads as U+00XX.
codecs.register_error("byte", lambda e: (chr(e.object[e.start]), e.start + 1))
names = open(d + b"/names", "rb").read().split(b"\0")[:-1]
for i, raw in enumerate(names):
    j = json.loads(open(d + b"/stat%d.json" % i, "rb").read())
    assert j["channel"] == raw.decode("utf-8", "byte"), (j["channel"], raw)
    try:
        raw.decode("utf-8")
        assert "channel_hex" not in j, j
    except UnicodeDecodeError:
        assert bytes.fromhex(j["channel_hex"]) == raw, (j["channel_hex"], raw)
    assert j["version"] == 1 and j["table"] == {"version": 1, "keys": 1}, j
print("%d names" % len(names))
EOF2
}

# A name of the channel taken first by another user: publish refuses with
# status 4 and names the file (smr_channel_error_path); nothing is published.
case_squat() {
  if [[ $(id -u) != 0 ]] || ! id nobody >/dev/null 2>&1; then
    echo "needs root and user nobody: skipped" >&2
    exit 77
  fi
  printf 'k\tv\n' >"$d/in.tsv"
  : >"$ch.smr-lock"
  chown nobody "$ch.smr-lock"
  run 4 "$SMR" publish -q "$ch" "$d/in.tsv"
  has "$d/err" "another user"
  has "$d/err" "$ch.smr-lock"
  [[ ! -e $ch.smr ]] || fail "a state file was created beside the squatted lock"
}

# ls lists every channel of a directory with its version, size, readers
# and writer; one it cannot inspect is listed with its error; --json
# parses; nothing is created.  A missing DIR: status 4 naming it.
case_ls() {
  need_python
  printf 'a\t1\nb\t2\n' >"$d/in.tsv"
  run 0 "$SMR" publish -q --readers 8 "$ch" "$d/in.tsv"
  run 0 "$SMR" publish -q "$d/ch2" "$d/in.tsv"
  run 0 "$SMR" publish -q "$d/ch2" "$d/in.tsv"
  printf 'not a channel' >"$d/junk.smr"
  : >"$d/notlisted.smr-data-0"
  mkdir "$d/sub"
  # tree: every file below $d but sub/ (where the outputs go), with its
  # size and modification time.
  tree() { find "$d" ! -path "$d/sub*" -printf '%p %s %T@\n' | sort; }
  tree >"$d/sub/before"
  "$SMR" ls "$d" >"$d/sub/ls.txt" 2>"$d/sub/err" || fail "ls exited $?"
  clean "$d/sub/err"
  tree >"$d/sub/after"
  cmp -s "$d/sub/before" "$d/sub/after" ||
    fail "ls changed the directory: $(diff "$d/sub/before" "$d/sub/after")"
  local f=$d/sub/ls.txt
  [[ $(head -1 "$f") == "CHANNEL "*"VERSION"*"SIZE"*"READERS"*"WRITER" ]] ||
    fail "ls header: $(head -1 "$f")"
  [[ $(wc -l <"$f") == 4 ]] || fail "ls lines: $(cat "$f")"
  grep -qE "^$ch +1 +[0-9]+ +0/8 +exited \(pid [0-9]+\)$" "$f" ||
    fail "ls line of ch: $(cat "$f")"
  grep -qE "^$d/ch2 +2 " "$f" || fail "ls line of ch2: $(cat "$f")"
  grep -qE "^$d/junk +error: .*$d/junk" "$f" || fail "ls line of junk: $(cat "$f")"
  run 0 "$SMR" ls --json "$d/"
  mv "$d/out" "$d/sub/ls.json"
  "$PY" - "$d/sub/ls.json" "$d" <<'EOF' || fail "ls --json"
import json, sys
j = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert [e["channel"] for e in j] == [d + "/ch", d + "/ch2", d + "/junk"], j
ch, ch2, junk = j
assert ch["path"] == d + "/ch.smr", ch
assert ch["version"] == 1 and ch["readers"] == 0 and ch["readers_max"] == 8, ch
assert ch["buffers"] == 3 and ch["size"] > 0, ch
assert ch["writer"]["alive"] is False and ch["writer"]["pid"] > 0, ch
assert ch2["version"] == 2 and "error" not in ch2, ch2
assert "error" in junk and "version" not in junk, junk
EOF
  # An empty directory: the header only; JSON: [].
  mkdir "$d/empty"
  run 0 "$SMR" ls "$d/empty"
  [[ $(wc -l <"$d/out") == 1 ]] || fail "ls of an empty dir: $(cat "$d/out")"
  run 0 "$SMR" ls --json "$d/empty"
  [[ $(cat "$d/out") == "[]" ]] || fail "ls --json of an empty dir: $(cat "$d/out")"
  run 4 "$SMR" ls "$d/none"
  has "$d/err" "$d/none"
  # The default directory is /dev/shm, listed by bare names.
  local n=smr-tool-ls-$$ st=0
  run 0 "$SMR" publish -q "$n" "$d/in.tsv"
  "$SMR" ls >"$d/out" 2>"$d/err" || st=$?
  "$SMR" rm "$n" || fail "rm $n"
  [[ $st == 0 ]] || fail "ls exited $st"
  grep -qE "^$n +1 " "$d/out" || fail "ls of /dev/shm does not list $n"
}

# rm removes a channel (a second rm: status 1), refuses one whose writer is
# alive (status 4, the channel intact) unless --force; a reader watching
# it then sees it removed.
case_rm() {
  printf 'a\t1\n' >"$d/in.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  run 0 "$SMR" publish -q "$d/ch2" "$d/in.tsv"
  run 0 "$SMR" rm "$ch" "$d/ch2"
  [[ ! -s $d/out && ! -s $d/err ]] || fail "rm printed something"
  [[ -z $(find "$d" -name 'ch*.smr*') ]] || fail "rm left $(find "$d" -name 'ch*.smr*')"
  run 1 "$SMR" rm "$ch"
  has "$d/err" "$ch.smr"
  # A live writer (publish --watch): refused, then --force.
  mkfifo "$d/po"
  "$SMR" publish --watch "$ch" "$d/in.tsv" >"$d/po" 2>"$d/pe" &
  local pid=$! l
  bg+=("$pid")
  exec 3<"$d/po"
  read -r -t 60 -u 3 l || fail "no first publish"
  run 0 "$SMR" publish -q "$d/ch2" "$d/in.tsv"
  # Two channels, one with a live writer: that one refused (4), the other
  # removed.
  run 4 "$SMR" rm "$ch" "$d/ch2"
  has "$d/err" "writer (pid $pid) is alive"
  has "$d/err" "$ch.smr"
  [[ ! -e $d/ch2.smr ]] || fail "rm did not remove ch2"
  run 0 "$SMR" get "$ch" a
  [[ $(cat "$d/out") == 1 ]] || fail "the refused channel changed"
  # A watcher of the channel sees it removed by --force.
  mkfifo "$d/w"
  "$SMR" watch --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  local wpid=$!
  bg+=("$wpid")
  exec 4<"$d/w"
  read -r -t 60 -u 4 l || fail "watch printed no first line"
  run 0 "$SMR" rm --force "$ch"
  [[ -z $(find "$d" -name 'ch.smr*') ]] || fail "rm --force left $(find "$d" -name 'ch.smr*')"
  local st=0
  wait "$wpid" || st=$?
  [[ $st == 4 ]] || fail "watch exited $st after rm --force"
  has "$d/w.err" "the channel was removed"
  exec 4<&-
  run 4 "$SMR" get "$ch" a
  kill -TERM "$pid"
  st=0
  wait "$pid" || st=$?
  [[ $st == 0 ]] || fail "publish --watch exited $st"
  exec 3<&-
  # --force on a channel without a writer: the ordinary removal.
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  run 0 "$SMR" rm -f "$ch"
  [[ ! -e $ch.smr ]] || fail "rm -f did not remove it"
}

# get --json (parsed: values, null for missing, odd bytes), -0, keys from
# standard input (-), the placeholder and --missing; status 1 when a key
# is missing, in every format.
case_get_formats() {
  need_python
  printf 'a\t1\nb\ttwo words\nq"uo\\te\tv"\\x\ne\t\nbad\t\xff\xfe\n' >"$d/in.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  run 1 "$SMR" get --json "$ch" a nosuch b 'q"uo\te' e bad
  has "$d/err" "no key 'nosuch'"
  mv "$d/out" "$d/get.json"
  [[ $(wc -l <"$d/get.json") == 1 ]] || fail "get --json is not one line"
  "$PY" - "$d/get.json" <<'EOF' || fail "get --json"
import json, sys
pairs = json.loads(open(sys.argv[1], "rb").read(),
                   object_pairs_hook=lambda p: [list(kv) for kv in p])
assert pairs == [["a", "1"], ["nosuch", None], ["b", "two words"],
                 ['q"uo\\te', 'v"\\x'], ["e", ""], ["bad", "\u00ff\u00fe"]], pairs
EOF
  run 0 "$SMR" get --json "$ch" a
  [[ $(cat "$d/out") == '{"a": "1"}' ]] || fail "get --json a: $(cat "$d/out")"
  # -0: NUL after each value; the placeholder (empty) for a missing key.
  run 1 "$SMR" get -0 "$ch" b nosuch a
  printf 'two words\0\0001\0' | cmp -s - "$d/out" || fail "get -0: $(od -c "$d/out")"
  run 0 "$SMR" get --null "$ch" a
  printf '1\0' | cmp -s - "$d/out" || fail "get --null a: $(od -c "$d/out")"
  # Lines with --missing; one key asked: no placeholder.
  run 1 "$SMR" get --missing '<none>' "$ch" nosuch a
  [[ $(cat "$d/out") == $'<none>\n1' ]] || fail "get --missing: $(cat "$d/out")"
  run 1 "$SMR" get --missing '<none>' "$ch" nosuch
  [[ ! -s $d/out ]] || fail "get of one missing key printed $(cat "$d/out")"
  # Keys from standard input, one per line: a placeholder line even for a
  # single key.
  printf 'b\nnosuch\na\n' | run 1 "$SMR" get "$ch" -
  [[ $(cat "$d/out") == $'two words\n\n1' ]] || fail "get - printed $(cat "$d/out")"
  has "$d/err" "no key 'nosuch'"
  printf 'nosuch\n' | run 1 "$SMR" get --missing '?' "$ch" -
  [[ $(cat "$d/out") == '?' ]] || fail "get - one missing: $(cat "$d/out")"
  printf 'a\nb' | run 0 "$SMR" get --json "$ch" -
  [[ $(cat "$d/out") == '{"a": "1", "b": "two words"}' ]] ||
    fail "get --json -: $(cat "$d/out")"
  run 0 "$SMR" get --json "$ch" - </dev/null
  [[ $(cat "$d/out") == '{}' ]] || fail "get --json - of no keys: $(cat "$d/out")"
  run 4 "$SMR" get --json "$d/none" a
  [[ ! -s $d/out ]] || fail "get --json of no channel printed $(cat "$d/out")"
}

# watch --json: NDJSON, one object per version, its size the payload's.
case_watch_json() {
  need_python
  printf 'a\t1\nb\t2\n' >"$d/v1.tsv"
  printf 'z\t26\n' >"$d/v2.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/v1.tsv"
  mkfifo "$d/w"
  "$SMR" watch --json --count 2 --timeout 60 "$ch" >"$d/w" 2>"$d/w.err" &
  local wpid=$! l
  bg+=("$wpid")
  exec 3<"$d/w"
  read -r -t 60 -u 3 l || fail "watch --json printed no first line"
  printf '%s\n' "$l" >"$d/nd"
  run 0 "$SMR" publish -q "$ch" "$d/v2.tsv"
  read -r -t 60 -u 3 l || fail "watch --json did not see version 2"
  printf '%s\n' "$l" >>"$d/nd"
  ended "$wpid" 0 "watch --json --count 2"
  clean "$d/w.err"
  run 0 "$SMR" stat --json "$ch"
  "$PY" - "$d/nd" "$d/out" <<'EOF' || fail "watch --json lines"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
st = json.load(open(sys.argv[2]))
objs = [json.loads(l) for l in lines]
assert len(objs) == 2, objs
assert objs[0]["version"] == 1 and objs[0]["keys"] == 2, objs
assert objs[1] == {"version": 2, "size": st["size"], "keys": 1}, (objs, st)
EOF
}

# publish --mode: the state and data files get exactly MODE (the umask does
# not apply), the readers directory the matching write bits; the default
# is 0600.  Options an existing channel ignores are named on stderr.
case_publish_mode() {
  printf 'a\t1\n' >"$d/in.tsv"
  # mode_of CHANNEL WANT WANT_READERS: every state and data file has mode
  # WANT, the readers directory WANT_READERS.
  mode_of() {
    local m f
    for f in "$1.smr" "$1".smr-data-*; do
      m=$(stat -c %a "$f")
      [[ $m == "$2" ]] || fail "$f has mode $m, expected $2"
    done
    m=$(stat -c %a "$1.smr-readers")
    [[ $m == "$3" ]] || fail "$1.smr-readers has mode $m, expected $3"
  }
  (umask 077 && "$SMR" publish -q --mode 0644 "$ch" "$d/in.tsv") ||
    fail "publish --mode 0644"
  mode_of "$ch" 644 1777
  (umask 000 && "$SMR" publish -q "$d/def" "$d/in.tsv") || fail "publish"
  mode_of "$d/def" 600 1700
  # Creating with every option: applied, no warning.
  run 0 "$SMR" publish -q --buffers 4 --readers 8 --mode 640 "$d/grp" "$d/in.tsv"
  mode_of "$d/grp" 640 1770
  [[ ! -s $d/err ]] || fail "publish --mode printed $(cat "$d/err")"
  run 0 "$SMR" ls "$d"
  grep -qE "^$d/grp +1 +[0-9]+ +0/8 " "$d/out" || fail "grp: $(cat "$d/out")"
  # The existing channel keeps its settings; each ignored option warns,
  # naming the channel's file; the publish itself succeeds.
  run 0 "$SMR" publish --buffers 5 --readers 7 --mode 0600 "$ch" "$d/in.tsv"
  has "$d/out" "version=2 "
  has "$d/err" "warning: --buffers 5 ignored"
  has "$d/err" "warning: --readers 7 ignored"
  has "$d/err" "warning: --mode 0600 ignored"
  has "$d/err" "exists with 3 buffers"
  has "$d/err" "$ch.smr"
  mode_of "$ch" 644 1777
  # Options that match the channel: no warning.
  run 0 "$SMR" publish -q --buffers 3 --readers 64 --mode 0644 "$ch" "$d/in.tsv"
  [[ ! -s $d/err ]] || fail "matching options warned: $(cat "$d/err")"
  # --group: every file and the readers directory get the group (root may
  # give any: 65534; others their own), by name or number; an existing
  # channel warns; an unknown name is a usage error that creates nothing.
  local gid gname f
  gid=$(id -g)
  [[ $(id -u) == 0 ]] && gid=65534
  gname=$(getent group "$gid" | cut -d: -f1)
  run 0 "$SMR" publish -q --mode 0640 --group "${gname:-$gid}" "$d/g1" "$d/in.tsv"
  run 0 "$SMR" publish -q --mode 0640 --group "$gid" "$d/g2" "$d/in.tsv"
  for f in "$d/g1.smr" "$d/g1.smr-readers" "$d"/g1.smr-data-* "$d/g2.smr"; do
    [[ $(stat -c %g "$f") == "$gid" ]] || fail "$f has group $(stat -c %g "$f"), expected $gid"
  done
  mode_of "$d/g1" 640 1770
  run 0 "$SMR" publish --group 0 "$d/g1" "$d/in.tsv"
  [[ $gid == 0 ]] || has "$d/err" "warning: --group 0 ignored"
  run 2 "$SMR" publish --group no-such-group-smr "$d/g3" "$d/in.tsv"
  has "$d/err" "no group 'no-such-group-smr'"
  [[ ! -e $d/g3.smr ]] || fail "--group error created $d/g3.smr"
  # Another user (root only): the default keeps it out, 0644 lets it read.
  if [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1 &&
    command -v setpriv >/dev/null; then
    chmod 755 "$d"
    # shellcheck disable=SC2317 # called through run
    as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
    run 4 as_nobody "$SMR" get "$d/def" a
    has "$d/err" "Permission denied"
    has "$d/err" "$d/def.smr"
    run 0 as_nobody "$SMR" get "$ch" a
    [[ $(cat "$d/out") == 1 ]] || fail "nobody read '$(cat "$d/out")'"
  fi
}

# The bash completion: sourcing it registers _smr; subcommands, options
# and channel names (in /dev/shm and under a path) complete.
# get verifies only the blocks a lookup reads (64 KiB each): in a table of
# 30,000 rows (~2 MB) with one bit flipped in the last row's value, a key
# whose bucket and record lie in other blocks prints its value (status 0),
# while the flipped key, or any list of keys holding it, prints nothing
# (status 4).  dump reads everything: status 4.
case_corrupt_blocks() {
  need_python
  "$PY" - "$d/in.tsv" <<'EOF2'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(30000):
        f.write("key%05d\tvalue-%05d-%s\n" % (i, i, "x" * 40))
EOF2
  run 0 "$SMR" publish "$ch" "$d/in.tsv"
  run 0 "$SMR" stat --json "$ch"
  "$PY" - "$d/out" "$ch" <<'EOF2' || fail "cannot flip a bit of the last value"
import json, sys
d = json.load(open(sys.argv[1]))
cur = [b["index"] for b in d["buffers"] if b["current"]]
path = "%s.smr-data-%d" % (sys.argv[2], cur[0])
with open(path, "r+b") as f:
    data = f.read()
    i = data.find(b"value-29999-")
    assert i > 3 * 65536, i  # past the buckets and the first records
    f.seek(i + 6)
    f.write(bytes([data[i + 6] ^ 1]))
EOF2
  run 0 "$SMR" get "$ch" key00000
  [[ $(cat "$d/out") == "value-00000-$(printf 'x%.0s' {1..40})" ]] ||
    fail "get key00000: '$(cat "$d/out")'"
  # A missing key: its probe's blocks verify, so a plain miss (status 1).
  run 1 "$SMR" get "$ch" nokey
  local -a cmd
  for cmd in "get $ch key29999" "get $ch key00000 key29999" \
    "get --json $ch key29999"; do
    read -ra cmd <<<"$cmd"
    run 4 "$SMR" "${cmd[@]}"
    has "$d/err" "version 1 failed verification"
    [[ ! -s $d/out ]] || fail "'${cmd[*]}' printed '$(cat "$d/out")'"
  done
  run 0 "$SMR" get --no-verify "$ch" key29999
  [[ $(cat "$d/out") == value-?9999-* && $(cat "$d/out") != value-29999-* ]] ||
    fail "get --no-verify: '$(cat "$d/out")'"
  run 4 "$SMR" dump "$ch"
}

case_completion() {
  command -v bash >/dev/null || fail "no bash"
  local comp
  comp=$(dirname "${BASH_SOURCE[0]}")/../cli/completion/smr.bash
  [[ -r $comp ]] || fail "no completion script at $comp"
  printf 'a\t1\n' >"$d/in.tsv"
  run 0 "$SMR" publish -q "$ch" "$d/in.tsv"
  # A prefix no other channel can have (a run killed before its rm leaves
  # smr-tool-comp-<pid>; the first version completed smr-tool-comp-<pid
  # minus a digit> and failed on such a leftover): two channels under it.
  local p st=0
  p=smr-tool-comp-$$-$(date +%s%N)-
  local n=${p}a n2=${p}b
  run 0 "$SMR" publish -q "$n" "$d/in.tsv"
  run 0 "$SMR" publish -q "$n2" "$d/in.tsv"
  # shellcheck disable=SC2016
  bash --norc --noprofile -c '
    set -u
    source "$1"
    d=$2 n=$3 n2=$4
    [[ $(complete -p smr) == "complete -F _smr smr" ]] ||
      { echo "complete -p: $(complete -p smr)"; exit 1; }
    # c WORD...: complete the last word; the candidates in $r.
    c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _smr; r="${COMPREPLY[*]}"; }
    t() { [[ $r == "$1" ]] || { echo "${COMP_WORDS[*]} -> $r, expected $1"; exit 1; }; }
    c smr g; t get
    c smr r; t rm
    c smr get --j; t --json
    c smr rm --f; t --force
    c smr publish --mo; t --mode
    c smr publish --mode 064; t "0640 0644"
    c smr get "${n%?}"; t "$n $n2"
    c smr get "$n"; t "$n"
    c smr get "$d/c"; t "$d/ch"
    c smr help wa; t watch
  ' _ "$comp" "$d" "$n" "$n2" || st=$?
  "$SMR" rm "$n" || fail "rm $n"
  "$SMR" rm "$n2" || fail "rm $n2"
  [[ $st == 0 ]] || fail "completion"
}

"case_$CASE"
echo "ok $CASE"
