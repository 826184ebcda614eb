/* SPDX-License-Identifier: MIT */
/* Linux implementation of the platform layer: membarrier(2) (the private
 * commands for src/fence.c, the global ones for the channel in
 * src/channel/), clocks, back-off.  Everything here is a thin wrapper; the
 * policy (when to issue a barrier, what to fall back to) lives with the
 * callers.  Files, mappings, locks and futexes are in linux_file.c. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#if defined(__linux__) && defined(__NR_membarrier)
static int sys_membarrier(int cmd) {
  long r = syscall(__NR_membarrier, cmd, 0, 0);
  return r < 0 ? -errno : (int)r;
}

int smr__membarrier_register(void) {
  int q = sys_membarrier(MEMBARRIER_CMD_QUERY);
  if (q < 0)
    return q;
  if (!(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
      !(q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
    return -ENOTSUP;
  int r = sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
  return r < 0 ? r : 0;
}

int smr__membarrier(int *retried) {
  int r = sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  if (r >= 0)
    return 0;
  *retried = 1;
  if (r == -EPERM && smr__membarrier_register() == 0) {
    r = sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    if (r >= 0)
      return 0;
  }
  /* MEMBARRIER_CMD_GLOBAL needs no registration and covers every thread of
   * every process: strictly stronger, only slower. */
  r = sys_membarrier(MEMBARRIER_CMD_GLOBAL);
  return r < 0 ? r : 0;
}

int smr__membarrier_global_register(void) {
  int q = sys_membarrier(MEMBARRIER_CMD_QUERY);
  if (q < 0)
    return q;
  if (!(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
    return -ENOTSUP;
  int r = sys_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
  return r < 0 ? r : 0;
}

int smr__membarrier_global(void) {
  int r = sys_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
  if (r >= 0)
    return 0;
  /* Stronger (every CPU, every process), only slower. */
  r = sys_membarrier(MEMBARRIER_CMD_GLOBAL);
  return r < 0 ? r : 0;
}
#else
int smr__membarrier_register(void) {
  return -ENOSYS;
}
int smr__membarrier(int *retried) {
  *retried = 1;
  return -ENOSYS;
}
int smr__membarrier_global_register(void) {
  return -ENOSYS;
}
int smr__membarrier_global(void) {
  return -ENOSYS;
}
#endif

int64_t smr__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

void smr__backoff(unsigned *round) {
  unsigned r = (*round)++;
  if (r < 64) {
    for (unsigned i = 0; i < (1u << (r < 6 ? r : 6)); i++)
      cpu_relax();
  } else if (r < 128) {
    sched_yield();
  } else {
    unsigned shift = r - 128 < 10 ? r - 128 : 10; /* 1 us .. 1 ms */
    struct timespec ts = {0, (long)(1000u << shift)};
    if (ts.tv_nsec > 1000000)
      ts.tv_nsec = 1000000;
    nanosleep(&ts, NULL);
  }
}

const char *smr__getenv(const char *name) {
  return getenv(name);
}
