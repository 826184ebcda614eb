# SPDX-License-Identifier: MIT
# Collector tests (include/smr/collector.h).
#  test_collector          every call and error, exact reclaim counts, own
#                          and other sections, RETIRER_RECLAIMS, thread exit
#                          inside a section, a 100,000-node reclaim chain,
#                          the robust bound under a stalled section
smr_test(test_collector LABELS unit TIMEOUT 120)
#  test_collector_threads  a Treiber stack and protected swaps under 12
#                          threads with registration churn and threads that
#                          exit registered, in every mode: exactly-once pops,
#                          no read after reclamation, everything reclaimed
smr_test(test_collector_threads LABELS stress TIMEOUT 300)
#  test_collector_review   the review's cases (each failed on the first
#                          version): destroy -EBUSY, the era under churn,
#                          RETIRER_RECLAIMS stealing, nested reclaim, dead
#                          thread and reclaim_all, reader-side retires, links
#                          left on idle handles, refused barrier, deadlock
smr_test(test_collector_review HOOKS LABELS unit TIMEOUT 120)
#  test_collector_scan     issue 13: exact reclaim counts and stats after
#                          every retire for batch 1, 2 and 64 with 1-40
#                          handles (batch >= 2 x handles); scans that cover
#                          every record for 1-130 threads in sections, with
#                          registration churn (each thread the last holder
#                          of one node); K batches cost at most K heavy
#                          barriers with 40 threads in sections; the
#                          partial batches' bytes in the statistics (HOOKS for
#                          src/collector_internal.h: the registry's order)
smr_test(test_collector_scan HOOKS LABELS unit TIMEOUT 120)
