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
#include "smr/epoch.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

/* Reference counting (smr/rc.h): read an object's strong and weak counts
 * (the weak count includes the one the strong references hold together
 * while the object is not destroyed) and whether it is destroyed; and set
 * the counts, to test the limits without 2^27 references.  obj is the
 * payload address (smr_rc_ptr).  Relaxed; set only while no other thread
 * uses the object. */
struct smr__rc_counts {
  uint32_t strong, weak;
  bool destroyed;
};
struct smr__rc_counts smr__rc_test_counts(const void *obj);
void smr__rc_test_set_counts(void *obj, uint32_t strong, uint32_t weak);
/* Whether obj's stamp names a grace period of d that has completed (a child
 * reaching zero by an edge would be destroyed at once). */
int smr__rc_test_stamp_old(const void *obj, smr_domain *d);

#endif /* SMR_TEST_HOOKS_H */
