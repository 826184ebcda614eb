#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzz the channel files (fuzz/fuzz_channel.c) and the flat tables
# (fuzz/fuzz_table.c) with libFuzzer.
#
#   tools/fuzz.sh [SECONDS] [TARGET]   (default 60, all)
#
# TARGET: channel, table, or all (both in turn: channel gets two thirds of SECONDS,
# table the rest, so `tools/fuzz.sh 60` runs 40 s + 20 s).
# Configures build-fuzz with clang (-DSMR_BUILD_FUZZ=ON, ASAN + UBSAN,
# Debug: SMR_DEBUG assertions on), builds the targets and their seed
# generators, writes the seed corpora (valid channels made by the real
# writer, valid tables and record lists made by the builder), then fuzzes.
# Exit status: 0 if nothing was found, non-zero on a crash, sanitizer
# report, leak, per-input timeout or failed oracle (with all, both targets
# still run); the input that triggered it is left in build-fuzz/artifacts/
# (table-* for the table target) and the command to replay it is printed.
# The corpora grow in build-fuzz/corpus and build-fuzz/corpus-table across
# runs; fuzz/corpus/ and fuzz/corpus-table/ hold committed regression
# inputs.
#
# Needs (Debian): clang libclang-rt-14-dev cmake make libxxhash-dev
# (libclang-rt-N-dev for clang N: the libFuzzer and sanitizer runtimes;
# llvm-N gives symbolized stack traces).
# Environment: SMR_FUZZ_BUILD_DIR (default build-fuzz), SMR_FUZZ_FLAGS
# (extra libFuzzer flags), CC/CXX (default clang/clang++),
# SMR_FUZZ_TOLERATE / SMR_FUZZ_TABLE_TOLERATE (oracles to turn off past a
# known bug: see fuzz/fuzz_channel.c, fuzz/fuzz_table.c).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: tools/fuzz.sh [SECONDS] [channel|table|all]" >&2
  exit 2
}
[ $# -le 2 ] || usage
seconds=${1:-60}
target=${2:-all}
case $seconds in
'' | *[!0-9]*) usage ;;
esac
case $target in
channel) channel_s=$seconds table_s=0 ;;
table) channel_s=0 table_s=$seconds ;;
all)
  channel_s=$((seconds * 2 / 3))
  table_s=$((seconds - channel_s))
  ;;
*) usage ;;
esac
targets=()
[ "$channel_s" -gt 0 ] && targets+=(fuzz_channel fuzz_channel_seed)
[ "$table_s" -gt 0 ] && targets+=(fuzz_table fuzz_table_seed)
[ ${#targets[@]} -gt 0 ] || usage
dir=${SMR_FUZZ_BUILD_DIR:-build-fuzz}
cc=${CC:-clang}
cxx=${CXX:-clang++}

. tools/deps.sh
if ! command -v "$cc" >/dev/null || ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cc/$cxx not found; install: clang libclang-rt-14-dev" >&2
  exit 2
fi
probe=
work=
cleanup() { rm -rf "$probe" "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# libFuzzer and the sanitizer runtimes ship apart from the compiler.
probe=$(mktemp -d)
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) {
  (void)d; (void)n; return 0; }' >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
  2>"$probe/err"; then
  major=$("$cc" -dumpversion | cut -d. -f1)
  cat "$probe/err" >&2
  echo "fuzz.sh: $cc cannot link -fsanitize=fuzzer; install libclang-rt-$major-dev" >&2
  exit 2
fi

# A cache made with other compilers would be re-run without our options.
cc=$(command -v "$cc")
cxx=$(command -v "$cxx")
if [ -f "$dir/CMakeCache.txt" ] &&
  ! { grep -qx "CMAKE_C_COMPILER:[A-Z]*=$cc" "$dir/CMakeCache.txt" &&
    grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$cxx" "$dir/CMakeCache.txt"; }; then
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
fi
cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Debug -DSMR_BUILD_FUZZ=ON \
  -DSMR_SANITIZE=address,undefined -DSMR_WERROR=ON -DSMR_BUILD_TESTS=OFF \
  -DSMR_BUILD_BENCH=OFF -DSMR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"

# Every sanitizer finding is fatal (UBSAN only reports by default).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

status=0

# run_target NAME SECONDS SEED_DIR CORPUS_DIR COMMITTED_DIR ARTIFACT_PREFIX
run_target() {
  local name=$1 secs=$2 seeds=$3 corpus=$4 committed=$5 prefix=$6 st=0
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus" "$dir/artifacts"
  "$dir/fuzz/${name}_seed" "$seeds"
  local corpora=("$corpus" "$seeds")
  [ -d "$committed" ] && corpora+=("$committed")
  echo "fuzz.sh: fuzzing $name for ${secs}s"
  # shellcheck disable=SC2086
  "$dir/fuzz/$name" -max_total_time="$secs" -max_len=20000 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$prefix" ${SMR_FUZZ_FLAGS:-} "${corpora[@]}" || st=$?
  if [ "$st" -ne 0 ]; then
    echo "fuzz.sh: $name FAILED (exit $st); artifacts:" >&2
    ls -1 "$dir/artifacts" >&2 || true
    echo "replay: $dir/fuzz/$name ${prefix}<file>" >&2
    status=$st
    return
  fi
  echo "fuzz.sh: $name: no crash in ${secs}s"
}

if [ "$channel_s" -gt 0 ]; then
  # The channel files of each input live in a private directory.
  work=$(mktemp -d /dev/shm/smr-fuzz-XXXXXX)
  export SMR_FUZZ_DIR=$work
  run_target fuzz_channel "$channel_s" "$dir/seeds" "$dir/corpus" fuzz/corpus \
    "$dir/artifacts/"
fi
if [ "$table_s" -gt 0 ]; then
  run_target fuzz_table "$table_s" "$dir/seeds-table" "$dir/corpus-table" \
    fuzz/corpus-table "$dir/artifacts/table-"
fi
exit "$status"
