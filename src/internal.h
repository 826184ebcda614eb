/* SPDX-License-Identifier: MIT */
/* Internal declarations shared by the modules of libsmr. */
#ifndef SMR_INTERNAL_H
#define SMR_INTERNAL_H

#include <stdatomic.h>

#include "smr/epoch.h"

#define SMR__CACHELINE 64

/* Process fence mode, deciding it on first use (see smr_fence_init). */
smr_fence_mode smr__fence_mode(void);

/* Writer-side barrier of the given mode.  ASYMMETRIC: membarrier (with the
 * fallbacks of smr__membarrier); SYMMETRIC: a seq_cst fence.  Either way it
 * acts as a seq_cst fence executed by every thread of the process at some
 * point during the call, which is what the read protocols rely on.  Returns
 * 0, or the negative errno when the kernel refused every barrier command: the
 * caller must then not rely on any ordering and reclaims nothing. */
int smr__heavy_barrier(smr_fence_mode mode);

/* A seq_cst fence.  On x86-64 a locked RMW on the stack is a full barrier
 * and is several times cheaper than `mfence` on some CPUs (clang emits
 * mfence for atomic_thread_fence; gcc already emits the locked form).
 * Under TSAN the C11 fence is kept so the tool sees it. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SMR__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SMR__TSAN 1
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(SMR__TSAN)
static inline void smr__fence_seq_cst(void) {
  __asm__ __volatile__("lock; orq $0, (%%rsp)" ::: "memory", "cc");
}
#else
static inline void smr__fence_seq_cst(void) {
  atomic_thread_fence(memory_order_seq_cst);
}
#endif

/* Allocate zeroed memory aligned to a cache line, or to `align` (a power
 * of two; the size is rounded up to it), NULL on failure. */
void *smr__alloc_aligned(size_t size);
void *smr__alloc_aligned_to(size_t align, size_t size);

/* The channel checksum, XXH3-64 with seed 0 (src/hash.c picks the fastest
 * build for this CPU).  copy_hash: memcpy(dst, src, size) and the checksum
 * of the bytes, in one pass. */
uint64_t smr__hash(const void *data, size_t size);
uint64_t smr__copy_hash(void *dst, const void *src, size_t size);

#endif /* SMR_INTERNAL_H */
