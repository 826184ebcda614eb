# Channel tests (include/smr/shm.h).
#  test_shm        every call and bad argument, sequential semantics, pinned
#                  buffers, writer wait and wake-up, dead reader, takeover,
#                  file modes, out of space
#  test_shm_procs  reader and writer processes (fork), bounded in time:
#                  verify, kill-readers (SIGKILL x200), kill-writer (x100),
#                  slow reader, load-then-announce window
smr_test(test_shm LABELS unit)
smr_test(test_hash LABELS unit)
add_executable(test_shm_procs test_shm_procs.c)
target_link_libraries(test_shm_procs PRIVATE smr_static)
target_include_directories(test_shm_procs PRIVATE ${PROJECT_SOURCE_DIR}/tests)
foreach(mode verify kill-readers kill-writer slow-reader window)
  add_test(NAME test_shm_procs_${mode} COMMAND test_shm_procs ${mode})
  set_tests_properties(test_shm_procs_${mode} PROPERTIES TIMEOUT 300
                       LABELS "stress")
endforeach()
