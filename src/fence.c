/* SPDX-License-Identifier: MIT */
/* Process fence mode and the writer-side ("heavy") barrier.
 *
 * The mode is decided once per process, on first use or on an explicit
 * smr_fence_init(): if the kernel offers private expedited membarrier and
 * registration succeeds, new domains and cells use ASYMMETRIC mode (readers:
 * compiler barriers only); otherwise, or if SMR_FENCE=symmetric is set in the
 * environment, SYMMETRIC (real fences on both sides).
 *
 * A domain or cell copies the mode at creation and never changes it; the
 * reader-side code is chosen from that copy (it is encoded in each reader's
 * own record), so readers and writers of one domain always agree.  If a
 * membarrier call fails later, the writer does not fall back to a plain fence
 * (readers would not match): smr__membarrier registers again (defensive)
 * or uses MEMBARRIER_CMD_GLOBAL, and if that too fails the barrier reports the
 * error and callers reclaim nothing (safe, merely delayed).  This is the fix
 * for the mode mismatch of swmr-barrier, whose writer falls back to a plain
 * seq_cst fence when membarrier fails at run time while its readers, still
 * in asymmetric mode, keep only a compiler barrier: neither side then
 * orders the reader's announcement before its load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform/platform.h"
#ifdef SMR_TEST_HOOKS
#include "test_hooks.h"
#endif

static pthread_once_t fence_once = PTHREAD_ONCE_INIT;
static struct {
  smr_fence_mode mode;
  int64_t registration_ns;
  int membarrier_error;
  int forced;
} fence_state;
/* Statistics only; relaxed. */
static _Atomic uint64_t fence_heavy_count, fence_heavy_retries;
#ifdef SMR_TEST_HOOKS
/* Fault injection (test_hooks.h); the test library only. */
_Atomic int smr__test_barrier_error;
#endif

static void fence_decide(void) {
  const char *env = smr__getenv("SMR_FENCE");
  if (env && strcmp(env, "symmetric") == 0) {
    fence_state.mode = SMR_FENCE_SYMMETRIC;
    fence_state.forced = 1;
    return;
  }
  int64_t t0 = smr__now_ns();
  int r = smr__membarrier_register();
  fence_state.registration_ns = smr__now_ns() - t0;
  fence_state.membarrier_error = r;
  fence_state.mode = r == 0 ? SMR_FENCE_ASYMMETRIC : SMR_FENCE_SYMMETRIC;
}

smr_fence_mode smr__fence_mode(void) {
  /* pthread_once orders fence_state's initialisation before every return. */
  pthread_once(&fence_once, fence_decide);
  return fence_state.mode;
}

int smr_fence_init(struct smr_fence_info *info) {
  smr__fence_mode();
  if (info) {
    info->mode = fence_state.mode;
    info->registration_ns = fence_state.registration_ns;
    info->membarrier_error = fence_state.membarrier_error;
    info->forced = fence_state.forced;
    /* relaxed: statistics counters, pair with nothing. */
    info->heavy_barriers =
        atomic_load_explicit(&fence_heavy_count, memory_order_relaxed);
    info->heavy_retries =
        atomic_load_explicit(&fence_heavy_retries, memory_order_relaxed);
  }
  return 0;
}

int smr__heavy_barrier(smr_fence_mode mode) {
  /* Statistics counter: relaxed, pairs with nothing. */
  atomic_fetch_add_explicit(&fence_heavy_count, 1, memory_order_relaxed);
#ifdef SMR_TEST_HOOKS
  /* relaxed: a test sets it while no writer call runs. */
  int injected =
      atomic_load_explicit(&smr__test_barrier_error, memory_order_relaxed);
  if (SMR_UNLIKELY(injected))
    return injected;
#endif
  if (mode == SMR_FENCE_SYMMETRIC) {
    /* Pairs with the seq_cst fence every symmetric-mode reader issues after
     * announcing itself. */
    smr__fence_seq_cst();
    return 0;
  }
  /* The syscall is a full barrier on this thread too; the fence keeps the
   * compiler honest about ordering around it. */
  smr__fence_seq_cst();
  int retried = 0;
  int r = smr__membarrier(&retried);
  /* relaxed: statistics counter. */
  if (retried)
    atomic_fetch_add_explicit(&fence_heavy_retries, 1, memory_order_relaxed);
  smr__fence_seq_cst();
  return r;
}

void *smr__alloc_aligned_to(size_t align, size_t size) {
  size = (size + align - 1) & ~(align - 1);
  void *p = aligned_alloc(align, size);
  if (p)
    memset(p, 0, size);
  return p;
}

void *smr__alloc_aligned(size_t size) {
  return smr__alloc_aligned_to(SMR__CACHELINE, size);
}
