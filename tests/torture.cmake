# SPDX-License-Identifier: MIT
# Torture test, read-path assembly check, C++ header check.
#
# torture runs SMR_TEST_SECONDS seconds (default 5, short enough for the
# sanitizer builds); the CI-length run is
#   SMR_TEST_SECONDS=10 ctest -L torture
# Arguments: torture [epoch_readers [swap_readers]] (default 4 3).
smr_test(torture LABELS torture TIMEOUT 300)
smr_test(torture_symmetric SOURCES torture.c LABELS torture TIMEOUT 300
         ENV SMR_FENCE=symmetric)

# The read fast paths must compile to plain loads and stores (no fence, no
# locked instruction, no call but the slow paths): see tools/check_asm.sh.
# The script exits 77 (skipped) when the compiler is missing or does not
# target x86-64.
foreach(cc gcc clang)
  add_test(NAME asm_read_path_${cc}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/check_asm.sh ${cc})
  set_tests_properties(asm_read_path_${cc} PROPERTIES LABELS unit
                       SKIP_RETURN_CODE 77 TIMEOUT 60)
endforeach()

# Every public header as C++11, inline read paths instantiated.
smr_test(test_cxx_headers SOURCES test_cxx_headers.cpp LABELS unit)
