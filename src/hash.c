/* SPDX-License-Identifier: MIT */
/* The channel checksum (XXH3-64) with run-time dispatch: the baseline copy
 * (SSE2 on x86-64) is compiled here; on x86-64 the AVX2 and AVX-512 copies
 * come from src/hash_avx2.c and src/hash_avx512.c and are picked by CPUID.
 * All copies compute the same function; only the speed differs.
 * SMR_HASH=baseline|avx2|avx512 caps the choice (benchmarks, tests). */
#include "hash_isa.h"
#include "internal.h"
#include "platform/platform.h"

#include <stdatomic.h>
#include <string.h>

#define SMR__HASH_FN(name) smr__##name##_base
#include "hash_impl.h"

typedef uint64_t (*hash_fn)(const void *, size_t);
typedef uint64_t (*copy_hash_fn)(void *, const void *, size_t);

/* 0: not chosen yet; 1 baseline; 2 avx2; 3 avx512.  relaxed: every thread
 * computes the same answer, so a race only repeats the choice. */
static atomic_int level;

static int choose(void) {
  int l = atomic_load_explicit(&level, memory_order_relaxed);
  if (l)
    return l;
  l = 1;
#if defined(SMR_HASH_X86)
  const char *cap = smr__getenv("SMR_HASH");
  int max = 3;
  if (cap && strcmp(cap, "baseline") == 0)
    max = 1;
  else if (cap && strcmp(cap, "avx2") == 0)
    max = 2;
  __builtin_cpu_init();
  if (max >= 3 && __builtin_cpu_supports("avx512f"))
    l = 3;
  else if (max >= 2 && __builtin_cpu_supports("avx2"))
    l = 2;
#endif
  atomic_store_explicit(&level, l, memory_order_relaxed);
  return l;
}

uint64_t smr__hash(const void *data, size_t size) {
  switch (choose()) {
#if defined(SMR_HASH_X86)
  case 3:
    return smr__hash_avx512(data, size);
  case 2:
    return smr__hash_avx2(data, size);
#endif
  default:
    return smr__hash_base(data, size);
  }
}

uint64_t smr__copy_hash(void *dst, const void *src, size_t size) {
  switch (choose()) {
#if defined(SMR_HASH_X86)
  case 3:
    return smr__copy_hash_avx512(dst, src, size);
  case 2:
    return smr__copy_hash_avx2(dst, src, size);
#endif
  default:
    return smr__copy_hash_base(dst, src, size);
  }
}
