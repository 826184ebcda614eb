#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run the demos.  The README's demo command.
#   tools/demo.sh           both: threads sharing a lookup table
#                           (examples/lookup_table.c, libsmr vs
#                           pthread_rwlock), then processes sharing a
#                           1,000,000-entry table through a channel
#                           (examples/table_procs.c)
#   tools/demo.sh threads [ARGS]   only the first (try --help)
#   tools/demo.sh procs [ARGS]     only the second (try --help)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
dir=${SMR_BUILD_DIR:-build}
cmake -S . -B "$dir" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target lookup_table table_procs >/dev/null
case "${1:-all}" in
threads) shift; exec "$dir/examples/lookup_table" "$@" ;;
procs) shift; exec "$dir/examples/table_procs" "$@" ;;
all)
  echo "== 1. Threads of one process share a lookup table (smr/swap.h)"
  "$dir/examples/lookup_table"
  echo
  echo "== 2. Processes share a 1,000,000-entry table (smr/channel.h + smr/table.h)"
  exec "$dir/examples/table_procs" ;;
*) exec "$dir/examples/lookup_table" "$@" ;;
esac
