/* SPDX-License-Identifier: MIT */
/* Fault-injection hooks for the test suite.  Internal: not installed, not in
 * any public header, and compiled only into the test library (smr_test,
 * built with SMR_TEST_HOOKS); the production libraries have none of them.
 * Tests that need them add src/ to their include path and link smr_test
 * (smr_test(... HOOKS) in tests/CMakeLists.txt). */
#ifndef SMR_TEST_HOOKS_H
#define SMR_TEST_HOOKS_H

#ifndef SMR_TEST_HOOKS
#error                                                                         \
    "test_hooks.h: link the test library (smr_test), which defines SMR_TEST_HOOKS"
#endif

#include "smr/channel.h"
#include <stdatomic.h>
#include <stdbool.h>

/* Channel reader: `hook` is called by the read slow path between loading the
 * version and announcing it (the window mmap-sync leaves open).
 * `unsafe_skip_validate` makes the handle skip the re-validation, to show the
 * test can detect the race.  Either forces the slow path. */
void smr__channel_set_test_hook(smr_channel_reader *r,
                                void (*hook)(smr_channel_reader *, void *),
                                void *arg, bool unsafe_skip_validate);

/* When nonzero (a negative errno), every writer-side barrier
 * (smr__heavy_barrier, both fence modes) fails with this value without
 * issuing anything, as when seccomp refuses membarrier mid-run.  Relaxed;
 * set it while no writer call is running. */
extern _Atomic int smr__test_barrier_error;

#endif /* SMR_TEST_HOOKS_H */
