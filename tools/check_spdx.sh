#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source file the repository tracks carries the licence's SPDX line
# (LICENSE: MIT) near its top: C and C++ sources and headers, CMake files,
# shell and Python scripts, completion files and manual pages (".so" link
# pages excepted).  Prints each file without it and exits 1; exits 77
# (skipped) outside a git checkout.
#
# usage: tools/check_spdx.sh [SOURCE_DIR]
set -eu
cd "${1:-$(dirname "$0")/..}"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
  echo "SKIP: not a git checkout"
  exit 77
}
missing=0
for f in $(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' '*.cmake' \
  'CMakeLists.txt' '*/CMakeLists.txt' '*.sh' '*.py' '*.bash' \
  'cli/completion/*' '.ci/run' 'docs/*.[1-9]' 'docs/man3/*.3'); do
  [ -f "$f" ] || continue
  case "$f" in fuzz/corpus*) continue ;; esac
  head -c 2 "$f" | grep -q '^\.s' && head -n 1 "$f" | grep -q '^\.so ' && continue
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
    echo "no SPDX-License-Identifier line: $f"
    missing=$((missing + 1))
  fi
done
if [ "$missing" -ne 0 ]; then
  echo "FAIL: $missing file(s) without the SPDX line (add" \
    "'SPDX-License-Identifier: MIT' in the file's comment syntax, first" \
    "line or after the #! line)"
  exit 1
fi
echo "every tracked source file has its SPDX line"
