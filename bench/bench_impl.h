/* SPDX-License-Identifier: MIT */
/* Implementation selection shared by the benchmark programs: each program is
 * compiled once per implementation with exactly one BENCH_IMPL_* defined
 * (see bench/CMakeLists.txt and bench/lookup.cmake).  This header includes
 * the implementation's headers and defines IMPL_NAME (the "impl" field of
 * the output) plus group macros the programs test:
 *   URCU_MEMB_ANY  a liburcu memb flavor (URCU_MEMB, URCU_MEMB_CALLRCU,
 *                  URCU_MEMB_SYNC)
 *   URCU_QSBR_ANY  URCU_QSBR or URCU_QSBR_QS1
 *   LOCK_ANY       RWLOCK or MUTEX
 *   HAVE_RWLOCK    RWLOCK or RWLOCK_WPREF
 *   HAVE_SMR       one of libsmr's (SMR_EPOCH[_SYM], SMR_SWAP[_SYM])
 * Each program lists the implementations it supports and defines its own
 * per-implementation parameters after including this header.
 *
 * Include it after the feature-test macro (_POSIX_C_SOURCE or _GNU_SOURCE)
 * and before bench_common.h.
 */
#ifndef SMR_BENCH_IMPL_H
#define SMR_BENCH_IMPL_H

#if defined(BENCH_IMPL_URCU_MEMB) || defined(BENCH_IMPL_URCU_MEMB_CALLRCU) ||  \
    defined(BENCH_IMPL_URCU_MEMB_SYNC)
#define _LGPL_SOURCE /* inline read-side fast paths, as liburcu advises */
#include <urcu/urcu-memb.h>
#define URCU_MEMB_ANY 1
#if defined(BENCH_IMPL_URCU_MEMB)
#define IMPL_NAME "urcu_memb"
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
#define IMPL_NAME "urcu_memb_callrcu"
#else
#define IMPL_NAME "urcu_memb_sync"
#endif
#elif defined(BENCH_IMPL_URCU_QSBR) || defined(BENCH_IMPL_URCU_QSBR_QS1)
#define _LGPL_SOURCE /* inline read-side and quiescent-state fast paths */
#include <urcu/urcu-qsbr.h>
#define URCU_QSBR_ANY 1
#ifdef BENCH_IMPL_URCU_QSBR
#define IMPL_NAME "urcu_qsbr"
#else
#define IMPL_NAME "urcu_qsbr_qs1"
#endif
#elif defined(BENCH_IMPL_RWLOCK) || defined(BENCH_IMPL_RWLOCK_WPREF) ||        \
    defined(BENCH_IMPL_MUTEX)
#include <pthread.h>
#if defined(BENCH_IMPL_RWLOCK)
#define IMPL_NAME "rwlock"
#elif defined(BENCH_IMPL_RWLOCK_WPREF)
#define IMPL_NAME "rwlock_wpref"
#else
#define IMPL_NAME "mutex"
#endif
#if defined(BENCH_IMPL_RWLOCK) || defined(BENCH_IMPL_RWLOCK_WPREF)
#define HAVE_RWLOCK 1
#endif
#if defined(BENCH_IMPL_RWLOCK) || defined(BENCH_IMPL_MUTEX)
#define LOCK_ANY 1
#endif
#elif defined(BENCH_IMPL_CK_EPOCH)
#include <ck_epoch.h>
#define IMPL_NAME "ck_epoch"
#elif defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
#include "smr/epoch.h"
#define HAVE_SMR 1 /* smr_fence_init (smr/epoch.h) */
#ifdef BENCH_IMPL_SMR_EPOCH
#define IMPL_NAME "smr_epoch"
#else
#define IMPL_NAME "smr_epoch_sym"
#endif
#elif defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
#include "smr/swap.h"
#define HAVE_SMR 1 /* smr_fence_init (smr/epoch.h, included by swap.h) */
#ifdef BENCH_IMPL_SMR_SWAP
#define IMPL_NAME "smr_swap"
#else
#define IMPL_NAME "smr_swap_sym"
#endif
#elif defined(BENCH_IMPL_PLAIN)
#define IMPL_NAME "plain"
#elif defined(BENCH_IMPL_FLOOR)
#define IMPL_NAME "floor"
#else
#error "define one BENCH_IMPL_* (see bench/CMakeLists.txt, bench/lookup.cmake)"
#endif

/* The "mode" field of the output: how readers get their ordering.  smr_mode
 * is the fence mode of the libsmr domain or cell measured (ignored for the
 * peers). */
static inline const char *bench_mode_name(int smr_mode) {
  (void)smr_mode;
#if defined(HAVE_SMR)
  return smr_mode == SMR_FENCE_ASYMMETRIC ? "asymmetric" : "symmetric";
#elif defined(URCU_MEMB_ANY)
  /* liburcu decides at init whether sys_membarrier replaces reader fences. */
  return urcu_memb_has_sys_membarrier ? "asymmetric" : "symmetric";
#elif defined(URCU_QSBR_ANY)
  return "qsbr"; /* no read-side barrier at all; quiescent states instead */
#elif defined(BENCH_IMPL_CK_EPOCH)
  return "symmetric"; /* ck_epoch_begin always fences */
#elif defined(LOCK_ANY)
  return "lock";
#elif defined(BENCH_IMPL_FLOOR)
  return "delay";
#else
  return "none";
#endif
}

#endif /* SMR_BENCH_IMPL_H */
