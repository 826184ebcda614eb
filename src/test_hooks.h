/* Fault-injection hooks for the test suite.  Internal: not installed, not in
 * any public header; tests that need them add src/ to their include path and
 * link the static library (the symbols are hidden in the shared one). */
#ifndef SMR_TEST_HOOKS_H
#define SMR_TEST_HOOKS_H

#include <stdatomic.h>

/* When nonzero (a negative errno), every writer-side barrier
 * (smr__heavy_barrier, both fence modes) fails with this value without
 * issuing anything, as when seccomp refuses membarrier mid-run.  Relaxed;
 * set it while no writer call is running. */
extern _Atomic int smr__test_barrier_error;

#endif /* SMR_TEST_HOOKS_H */
