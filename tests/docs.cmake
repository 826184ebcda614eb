# SPDX-License-Identifier: MIT
# Documentation tests (label unit):
#  doc_snippets   every C snippet of README.md (and the usage examples at
#                 the top of the public headers) compiles with -Wall -Wextra
#                 -Wpedantic -Werror; those marked `run` (in README.md, or
#                 in a header's harness) are linked against libsmr and run
#                 (tests/snippets/check_snippets.py)
#  doc_man_coverage  every exported function, and every public inline one,
#                 has a page docs/man3/<name>.3 (tests/man_pages.sh)
#  doc_man_render every page renders without a warning (skipped, 77, when
#                 neither man nor groff is installed)
#  doc_man_synopsis  every header prototype appears, exactly, in its page's
#                 SYNOPSIS; every page has the usual sections
#                 (tests/man_synopsis.py; skipped like doc_man_render)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(SMR_SNIPPET_FLAGS "")
  if(SMR_SANITIZE)
    set(SMR_SNIPPET_FLAGS "-fsanitize=${SMR_SANITIZE}")
  endif()
  add_test(NAME doc_snippets
           COMMAND ${Python3_EXECUTABLE}
                   ${CMAKE_CURRENT_LIST_DIR}/snippets/check_snippets.py
                   --src ${PROJECT_SOURCE_DIR}
                   --out ${CMAKE_CURRENT_BINARY_DIR}/snippets
                   --cc ${CMAKE_C_COMPILER}
                   --lib $<TARGET_FILE:smr_static>
                   "--cflags=${SMR_SNIPPET_FLAGS}")
  set_tests_properties(doc_snippets PROPERTIES TIMEOUT 300 LABELS unit)
  add_test(NAME doc_man_synopsis
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/man_synopsis.py
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(doc_man_synopsis PROPERTIES TIMEOUT 300 LABELS unit
                       SKIP_RETURN_CODE 77)
endif()
add_test(NAME doc_man_coverage
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/man_pages.sh coverage
                 ${PROJECT_SOURCE_DIR})
add_test(NAME doc_man_render
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/man_pages.sh render
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(doc_man_coverage doc_man_render PROPERTIES TIMEOUT 300
                     LABELS unit)
set_tests_properties(doc_man_render PROPERTIES SKIP_RETURN_CODE 77)
