# SPDX-License-Identifier: MIT
# Epoch domain tests (include/smr/epoch.h).
#  test_epoch          every public function, argument checks, hand-stepped
#                      grace periods with readers of this thread and parked
#                      helper threads (deterministic, single writer thread);
#                      test_early_pace: early collection keeps pace with a
#                      writer retiring every 10 ms while a reader is inside
#                      a section at each retire (issue 10, C.19)
#  test_epoch_fence_symmetric
#                      the same binary with SMR_FENCE=symmetric (the process
#                      fence fallback)
#  test_epoch_threads  concurrent readers against two writers using every
#                      reclamation path, threads exiting without
#                      unregistering, concurrent synchronize, register churn
#                      (SMR_TEST_SECONDS seconds in all, default 3)
#  test_epoch_fork     fork with live readers: the child uses new domains,
#                      the parent's domain keeps working
#  test_epoch_exit     a thread whose own pthread key destructor runs read
#                      sections on its reader (in several rounds) and
#                      unregisters it, against a retiring, synchronizing
#                      writer (issue 10, C.9; SMR_TEST_SECONDS, default 2)
#  test_epoch_fork_exit
#                      fork while another thread churns the registry lock;
#                      the child's thread exits (pthread_exit) and must not
#                      hang (issue 10, C.10; SMR_TEST_SECONDS, default 2)
#  test_epoch_misuse   death tests of the SMR_DEBUG assertions (unbalanced
#                      smr_leave aborts) and of the nesting-overflow abort
#  test_epoch_misuse_ndebug
#                      the same with NDEBUG defined too (see below)
smr_test(test_epoch LABELS unit TIMEOUT 60)
add_test(NAME test_epoch_fence_symmetric COMMAND test_epoch)
set_tests_properties(test_epoch_fence_symmetric PROPERTIES TIMEOUT 60
                     LABELS unit ENVIRONMENT "SMR_FENCE=symmetric")
smr_test(test_epoch_threads LABELS stress TIMEOUT 300)
smr_test(test_epoch_fork LABELS unit TIMEOUT 60)
smr_test(test_epoch_exit LABELS stress TIMEOUT 120)
smr_test(test_epoch_fork_exit LABELS stress TIMEOUT 120)
smr_test(test_epoch_misuse LABELS unit TIMEOUT 60)
# The inline smr_leave() asserts when the caller is compiled with SMR_DEBUG,
# whatever the build type; the library aborts on nesting overflow in every
# build.
target_compile_definitions(test_epoch_misuse PRIVATE SMR_DEBUG)
# Same death tests with NDEBUG also defined (a Release-style build of a
# program that defines SMR_DEBUG): SMR_ASSERT must not depend on NDEBUG.
smr_test(test_epoch_misuse_ndebug LABELS unit TIMEOUT 60
         SOURCES test_epoch_misuse.c)
target_compile_definitions(test_epoch_misuse_ndebug PRIVATE SMR_DEBUG NDEBUG
  SMR_TEST_KEEP_NDEBUG)
