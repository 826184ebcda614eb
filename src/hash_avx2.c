/* SPDX-License-Identifier: MIT */
/* XXH3 built with -mavx2 (see src/hash_impl.h); called only when the CPU
 * has AVX2 (src/hash.c checks). */
#define SMR__HASH_FN(name) smr__##name##_avx2
#include "hash_impl.h"
