# Swap cell tests (include/smr/swap.h).
#  test_swap          single-threaded semantics of every public function
#  test_swap_stall    a stalled reader never blocks the writer and never
#                     lets the garbage grow past the bound; destroying the
#                     cell under a guard (research seeds.md section 1.4 #1)
#  test_swap_threads  concurrent readers, writers and reader churn
#                     (SMR_TEST_SECONDS seconds in all, default 3)
smr_test(test_swap LABELS unit)
smr_test(test_swap_stall LABELS stress)
smr_test(test_swap_threads LABELS stress)
