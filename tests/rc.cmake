# SPDX-License-Identifier: MIT
# Reference counting tests (include/smr/rc.h).
#  test_rc               one ctest entry per part (test_rc.c says what each
#                        checks): args, handles, counts, atomic, tags, weak,
#                        limits, resurrect, section_child, callbacks, graph,
#                        chain, chain_deferred, destroy, ring.  Exact strong
#                        and weak counts through the test hooks (HOOKS:
#                        src/test_hooks.h), grace periods counted through
#                        src/epoch_internal.h; helper threads are stepped
#                        by the main thread (no sleeps, no timing).  chain:
#                        a 10,000,000-node chain (SMR_RC_CHAIN) released on
#                        a 256 KiB stack within two grace periods (about
#                        0.5 GB; 3 GB and 25 s under TSAN); chain_deferred:
#                        100,000 nodes (SMR_RC_DEFERRED_CHAIN) on an
#                        SMR_RC_DEFERRED domain, a grace period per link
smr_test(test_rc HOOKS LABELS unit TIMEOUT 120 ARGS args)
foreach(part handles counts atomic tags weak limits resurrect section_child
        callbacks graph chain chain_deferred destroy ring)
  add_test(NAME test_rc_${part} COMMAND test_rc ${part})
  set_tests_properties(test_rc_${part} PROPERTIES TIMEOUT 120 LABELS "unit")
endforeach()
set_tests_properties(test_rc_chain PROPERTIES TIMEOUT 300)
#  test_rc_threads       one ctest entry per part (test_rc_threads.c says
#                        what each checks): list (Harris-Michael, 30
#                        threads x 1,000 keys), queue (DoubleLink, 100
#                        threads x 10,000 elements), queue_deferred (1,000
#                        each on an SMR_RC_DEFERRED domain), resurrect
#                        (counting snapshots of objects being dropped),
#                        limits (clones racing at the count limits).
#                        Bounded by operation counts: SMR_RC_SCALE
#                        multiplies them (default 1)
smr_test(test_rc_threads HOOKS LABELS stress TIMEOUT 300 ARGS list)
foreach(part queue queue_deferred resurrect limits)
  add_test(NAME test_rc_threads_${part} COMMAND test_rc_threads ${part})
  set_tests_properties(test_rc_threads_${part} PROPERTIES TIMEOUT 300
                       LABELS "stress")
endforeach()
#  test_rc_stale_stamp     a child whose last stamp was 128-255 grace
#                          periods old, held by another section: kept (the
#                          first version freed it with its parent)
#  test_rc_shared_children a diamond and a ladder (node i -> i + 1, i + 2):
#                          shared children go at once with their parents
#  test_rc_weak_edge       weak references handed to a destruction free the
#                          memory at once, except while a section may hold
#                          a weak snapshot (holder's release, store into an
#                          atomic weak location)
foreach(part stale_stamp shared_children weak_edge)
  add_test(NAME test_rc_${part} COMMAND test_rc ${part})
  set_tests_properties(test_rc_${part} PROPERTIES TIMEOUT 120 LABELS "unit")
endforeach()
