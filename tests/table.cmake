# SPDX-License-Identifier: MIT
# Flat tables (include/smr/table.h).
#  test_table      round trips (0 .. 100,000 entries), edge cases, the
#                  duplicate rule, builder errors, every word of a table
#                  mutated and truncations (refused or harmless)
#  test_table_big  10,000,000 entries (1,000,000 under sanitizers, whose
#                  shadow memory would need GBs) built, opened (validated),
#                  every key looked up and iterated: bounded by the count
smr_test(test_table LABELS unit)
# src/table_layout.h: the byte format, for the sizes it tests against.
target_include_directories(test_table PRIVATE ${PROJECT_SOURCE_DIR}/src)
if(SMR_SANITIZE)
  set(SMR_TABLE_BIG 1000000)
else()
  set(SMR_TABLE_BIG 10000000)
endif()
add_test(NAME test_table_big COMMAND test_table big)
set_tests_properties(test_table_big PROPERTIES TIMEOUT 600 LABELS stress
                     ENVIRONMENT "SMR_TABLE_BIG=${SMR_TABLE_BIG}")
