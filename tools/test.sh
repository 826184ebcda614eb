#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure, build and run every test (ctest).  The README's test command.
# Environment: SMR_BUILD_DIR (default build), SMR_CMAKE_FLAGS, CC, CXX.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
dir=${SMR_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$dir" ${SMR_CMAKE_FLAGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
