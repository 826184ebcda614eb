#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The install checks of .ci/run, runnable alone:
#
#   tools/install_check.sh [BUILD_DIR]   (default build: configured and built)
#
# 1. `cmake --install BUILD_DIR --prefix <tmp>` (the default libdir, lib);
#    prints the installed files (install_manifest.txt), checks the SONAME
#    links, the docs and manual page; consumers built and run against it:
#    find_package(smr) shared (c1) and static (c2), pkg-config shared (c3)
#    and static (c4, -static).
# 2. tests/subproject: a parent project that add_subdirectory()s libsmr,
#    configured with a multiarch libdir (lib/$(gcc -print-multiarch)) and
#    prefix /opt/smr: only the libraries are built, the parent's build type
#    and directory options are untouched (checked at configure), its
#    consumer runs; then `DESTDIR=<tmp> cmake --install` and the same
#    consumers against $DESTDIR/opt/smr (smr.pc's relative paths at depth 3).
# 3. The same tree reconfigured with an absolute CMAKE_INSTALL_LIBDIR: smr.pc
#    then names absolute directories.
# Work directories: build-ci-consumer*, build-ci-sub (removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc)
# The SONAME (docs/ABI.md): libsmr.so.MAJOR.MINOR before 1.0.
ver() { sed -n "s/^#define SMR_VERSION_$1 *\([0-9]*\)$/\1/p" include/smr/version.h; }
soname=libsmr.so.$(ver MAJOR).$(ver MINOR)

# consumers <prefix> <libdir> <build dir>: c1..c4 against an installed tree.
consumers() {
  local prefix=$1 libdir=$2 out=$3
  rm -rf "$out"
  cmake -S tests/install -B "$out" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$out" >/dev/null
  LD_LIBRARY_PATH="$libdir" "$out/c1"
  "$out/c2"
  if readelf -d "$out/c2" | grep -q 'NEEDED.*libsmr'; then
    echo "install_check: c2 (smr::smr_static) needs libsmr.so" >&2
    exit 1
  fi
  local pc="$libdir/pkgconfig"
  # shellcheck disable=SC2046
  cc tests/install/main.c $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs smr) \
    -o "$out/c3"
  LD_LIBRARY_PATH="$libdir" "$out/c3"
  # shellcheck disable=SC2046
  cc -static tests/install/main.c \
    $(PKG_CONFIG_PATH="$pc" pkg-config --static --cflags --libs smr) -o "$out/c4"
  "$out/c4"
  if ! readelf -d "$out/c3" | grep -q "NEEDED.*\[$soname\]"; then
    echo "install_check: c3 does not need $soname" >&2
    exit 1
  fi
}

# need <file>...: each exists.
need() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { echo "install_check: $f not installed" >&2; exit 1; }
  done
}

echo "--- install (--prefix, libdir lib)"
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
echo "installed files ($build/install_manifest.txt):"
sed "s|^$prefix/|  |" "$build/install_manifest.txt" | sort
lib=$prefix/lib
need "$lib/libsmr.so" "$lib/$soname" "$lib/libsmr.a" \
  "$lib/pkgconfig/smr.pc" "$lib/cmake/smr/smrConfigVersion.cmake" \
  "$prefix/include/smr.h" "$prefix/share/doc/smr/LICENSE" \
  "$prefix/share/doc/smr/ABI.md" "$prefix/share/doc/smr/CHANGELOG.md" \
  "$prefix/share/man/man1/smr.1"
consumers "$prefix" "$lib" build-ci-consumer

echo "--- sub-project (add_subdirectory), multiarch libdir, DESTDIR install"
ma=$(gcc -print-multiarch 2>/dev/null || true)
libdir=lib${ma:+/$ma}
rm -rf build-ci-sub
cmake -S tests/subproject -B build-ci-sub -DSMR_SOURCE_DIR="$root" \
  -DCMAKE_INSTALL_LIBDIR="$libdir" -DCMAKE_INSTALL_PREFIX=/opt/smr >/dev/null
grep -q '^CMAKE_BUILD_TYPE:STRING=$' build-ci-sub/CMakeCache.txt ||
  { echo "install_check: the parent's CMAKE_BUILD_TYPE was set" >&2; exit 1; }
cmake --build build-ci-sub -j"$jobs" >/dev/null
build-ci-sub/consumer
build-ci-sub/consumer_static
dest=$tmp/dest
DESTDIR=$dest cmake --install build-ci-sub >/dev/null
need "$dest/opt/smr/$libdir/$soname" "$dest/opt/smr/$libdir/pkgconfig/smr.pc"
grep '^prefix=' "$dest/opt/smr/$libdir/pkgconfig/smr.pc"
consumers "$dest/opt/smr" "$dest/opt/smr/$libdir" build-ci-consumer-destdir

echo "--- absolute CMAKE_INSTALL_LIBDIR"
cmake build-ci-sub -DCMAKE_INSTALL_LIBDIR=/opt/smr-abs/lib64 >/dev/null
pc="build-ci-sub/smr/smr.pc"
if ! grep -q '^libdir=/opt/smr-abs/lib64$' "$pc" ||
   ! grep -q '^prefix=/opt/smr$' "$pc"; then
  echo "install_check: smr.pc with an absolute libdir:" >&2
  cat "$pc" >&2
  exit 1
fi
echo "install_check: passed"
