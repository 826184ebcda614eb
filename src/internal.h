/* Internal declarations shared by the modules of libsmr. */
#ifndef SMR_INTERNAL_H
#define SMR_INTERNAL_H

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

/* Allocate zeroed memory aligned to a cache line (NULL on failure). */
void *smr__alloc_aligned(size_t size);

#endif /* SMR_INTERNAL_H */
