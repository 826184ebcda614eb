# SPDX-License-Identifier: MIT
# Swap cell tests (include/smr/swap.h).
#  test_swap          single-threaded semantics of every public function
#  test_swap_stall    a stalled reader never blocks the writer and never
#                     lets the garbage grow past the bound; destroying the
#                     cell under a guard keeps the guarded value alive
#                     (smr-swap destroys it when the writer is dropped)
#  test_swap_threads  concurrent readers, writers and reader churn
#                     (SMR_TEST_SECONDS seconds in all, default 3)
smr_test(test_swap LABELS unit)
smr_test(test_swap_stall LABELS stress)
smr_test(test_swap_threads LABELS stress)
# Concurrent smr_swap_load on a multi-writer cell (part (d) of
# test_swap_threads.c): two threads load while a third stores; every load
# returns a value at least as new as the version read just before it, and
# once every guard is released a load sees the current value.
add_test(NAME test_swap_mw_own_reader COMMAND test_swap_threads mw-own)
set_tests_properties(test_swap_mw_own_reader PROPERTIES TIMEOUT 120
                     LABELS "stress")
# fetch_and_update racing update on a multi-writer cell (part (e)): every
# publish builds on the value it replaces (the count in each value equals
# its version), so no update is lost.
add_test(NAME test_swap_mw_fetch_update COMMAND test_swap_threads mw-fau)
set_tests_properties(test_swap_mw_fetch_update PROPERTIES TIMEOUT 120
                     LABELS "stress")
# Issue 10 regressions (C.11-C.17, A.4 swap half), one ctest entry per part;
# test_swap_regress.c says what each checks.  Linked with --wrap=realloc so
# part c11 can make the library's realloc fail.
smr_test(test_swap_regress LABELS unit ARGS c11)
target_link_options(test_swap_regress PRIVATE -Wl,--wrap=realloc)
foreach(part c12 c13 c14 c15 c16 c17 a4)
  add_test(NAME test_swap_regress_${part} COMMAND test_swap_regress ${part})
  set_tests_properties(test_swap_regress_${part} PROPERTIES TIMEOUT 120
                       LABELS "unit")
endforeach()
# Garbage bound while the writer-side barrier is refused (C.18): through the
# internal fault-injection hook (src/test_hooks.h), and through a real
# seccomp filter on membarrier (skipped, exit 77, where the cell is not
# asymmetric or seccomp is unavailable).
smr_test(test_swap_barrier HOOKS LABELS unit ARGS hook)
add_test(NAME test_swap_barrier_threads COMMAND test_swap_barrier hook-threads)
set_tests_properties(test_swap_barrier_threads PROPERTIES TIMEOUT 120
                     LABELS "stress")
add_test(NAME test_swap_barrier_seccomp COMMAND test_swap_barrier seccomp)
set_tests_properties(test_swap_barrier_seccomp PROPERTIES TIMEOUT 120
                     LABELS "unit" SKIP_RETURN_CODE 77)
# Review of the issue 10 swap changes: one ctest entry per part;
# test_swap_review.c says what each checks.  The file is compiled with
# SMR_DEBUG whatever the build type (part debug-mix: the caller's debug
# checks over a library that may not have them); mw-cancel and cas-reenter
# use the barrier fault-injection hook (src/test_hooks.h).
smr_test(test_swap_review HOOKS LABELS unit ARGS mw-cancel)
foreach(part cas-reenter debug-mix dtor-reader fork version)
  add_test(NAME test_swap_review_${part} COMMAND test_swap_review ${part})
  set_tests_properties(test_swap_review_${part} PROPERTIES TIMEOUT 120
                       LABELS "unit")
endforeach()
