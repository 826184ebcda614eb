#!/usr/bin/env bash
# Fuzz the channel file parser (fuzz/fuzz_shm.c) with libFuzzer.
#
#   tools/fuzz.sh [SECONDS]          (default 60)
#
# Configures build-fuzz with clang (-DSMR_BUILD_FUZZ=ON, ASAN + UBSAN,
# Debug: SMR_DEBUG assertions on), builds fuzz_shm and the seed generator,
# writes the seed corpus (valid channels made by the real writer), then
# fuzzes for SECONDS.  Exit status: 0 if nothing was found, non-zero on a
# crash, sanitizer report, leak, per-input timeout or failed oracle; the
# input that triggered it is left in build-fuzz/artifacts/ and the command
# to replay it is printed.  The corpus grows in build-fuzz/corpus across
# runs; fuzz/corpus/ (if present) holds committed regression inputs.
#
# Needs (Debian): clang libclang-rt-14-dev cmake make libxxhash-dev
# (libclang-rt-N-dev for clang N: the libFuzzer and sanitizer runtimes;
# llvm-N gives symbolized stack traces).
# Environment: SMR_FUZZ_BUILD_DIR (default build-fuzz), SMR_FUZZ_FLAGS
# (extra libFuzzer flags), CC/CXX (default clang/clang++).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
  echo "usage: tools/fuzz.sh [SECONDS]" >&2
  exit 2
  ;;
esac
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
cmake --build "$dir" -j"$(nproc)" --target fuzz_shm fuzz_shm_seed

# Every sanitizer finding is fatal (UBSAN only reports by default).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

# The channel files of each input live in a private directory.
work=$(mktemp -d /dev/shm/smr-fuzz-XXXXXX)
export SMR_FUZZ_DIR=$work

rm -rf "$dir/seeds"
mkdir -p "$dir/seeds" "$dir/corpus" "$dir/artifacts"
"$dir/fuzz/fuzz_shm_seed" "$dir/seeds"
corpora=("$dir/corpus" "$dir/seeds")
[ -d fuzz/corpus ] && corpora+=(fuzz/corpus)

echo "fuzz.sh: fuzzing fuzz_shm for ${seconds}s"
status=0
# shellcheck disable=SC2086
"$dir/fuzz/fuzz_shm" -max_total_time="$seconds" -max_len=20000 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$dir/artifacts/" ${SMR_FUZZ_FLAGS:-} "${corpora[@]}" ||
  status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: FAILED (exit $status); artifacts:" >&2
  ls -1 "$dir/artifacts" >&2 || true
  echo "replay: $dir/fuzz/fuzz_shm $dir/artifacts/<file>" >&2
  exit "$status"
fi
echo "fuzz.sh: no crash in ${seconds}s"
