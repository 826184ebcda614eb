#!/usr/bin/env bash
# Build and run the lookup-table demo (examples/lookup_table.c).  The
# README's demo command; arguments go to the demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
dir=${SMR_BUILD_DIR:-build}
cmake -S . -B "$dir" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target lookup_table >/dev/null
exec "$dir/examples/lookup_table" "$@"
