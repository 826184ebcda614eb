/* Internal: the only interface between libsmr and the operating system.
 * src/platform/linux.c implements it; nothing else calls the OS directly. */
#ifndef SMR_PLATFORM_H
#define SMR_PLATFORM_H

#include <stdint.h>

/* Query the kernel and register this process for private expedited
 * membarrier.  Returns 0 or a negative errno (-ENOSYS, -EINVAL, ...). */
int smr__membarrier_register(void);

/* Issue membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full memory barrier
 * on every CPU running a thread of this process.  On -EPERM (not registered,
 * e.g. in a child after fork) registers again and retries; if that fails,
 * falls back to MEMBARRIER_CMD_GLOBAL (all CPUs, slower).  Returns 0 if one
 * of them succeeded (*retried set to 1 if a fallback was needed), else the
 * negative errno of the last attempt. */
int smr__membarrier(int *retried);

/* Monotonic clock in nanoseconds. */
int64_t smr__now_ns(void);

/* Back off while waiting for another thread: spins with a CPU pause for the
 * first rounds, then yields, then sleeps with exponential growth up to 1 ms.
 * *round starts at 0 and is advanced by each call. */
void smr__backoff(unsigned *round);

/* Environment lookup (NULL if unset). */
const char *smr__getenv(const char *name);

#endif /* SMR_PLATFORM_H */
