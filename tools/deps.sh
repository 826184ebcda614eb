# SPDX-License-Identifier: MIT
# Sourced by tools/test.sh and tools/demo.sh: on a fresh Debian machine,
# install the build tools if they are missing (apt-get, with sudo if needed).
smr_need_deps() {
  local missing=""
  command -v cmake >/dev/null || missing="$missing cmake"
  command -v cc >/dev/null || missing="$missing build-essential"
  command -v c++ >/dev/null || missing="$missing g++"
  # The channel checksum (XXH3) is compiled in from xxhash.h.
  [ -f /usr/include/xxhash.h ] || missing="$missing libxxhash-dev"
  # tinycdb, the peer of bench_table (run by bench_smoke; skipped without).
  [ -f /usr/include/cdb.h ] || missing="$missing libcdb-dev"
  if [ -n "$missing" ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing build tools:$missing" >&2
    $sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null
  fi
}
smr_need_deps
