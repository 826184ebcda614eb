# SPDX-License-Identifier: MIT
# Channel tests (include/smr/channel.h).
#  test_channel        every call and bad argument, sequential semantics, pinned
#                  buffers, writer wait and wake-up, dead reader, takeover,
#                  file modes, out of space
#  test_channel_sums   the checksum by blocks: geometry, a flipped byte fails
#                  exactly the ranges over its block, verify_range errors
#  test_channel_procs  reader and writer processes (fork), bounded in time:
#                  verify, kill-readers (SIGKILL x200), kill-writer (x100),
#                  slow reader, load-then-announce window
smr_test(test_channel LABELS unit)
smr_test(test_channel_sums LABELS unit)
# src/channel/layout.h: the block geometry and the files it flips bytes in.
target_include_directories(test_channel_sums PRIVATE ${PROJECT_SOURCE_DIR}/src)
smr_test(test_hash LABELS unit)
# src/hash_isa.h, src/internal.h: the builds of the checksum it compares.
target_include_directories(test_hash PRIVATE ${PROJECT_SOURCE_DIR}/src)
add_executable(test_channel_procs test_channel_procs.c)
target_link_libraries(test_channel_procs PRIVATE smr_test)
target_include_directories(test_channel_procs PRIVATE ${PROJECT_SOURCE_DIR}/tests
                           ${PROJECT_SOURCE_DIR}/src)
foreach(mode verify kill-readers kill-writer slow-reader window)
  add_test(NAME test_channel_procs_${mode} COMMAND test_channel_procs ${mode})
  set_tests_properties(test_channel_procs_${mode} PROPERTIES TIMEOUT 300
                       LABELS "stress")
endforeach()
