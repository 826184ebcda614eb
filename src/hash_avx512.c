/* SPDX-License-Identifier: MIT */
/* XXH3 built with -mavx512f (see src/hash_impl.h); called only when the CPU
 * has AVX-512F (src/hash.c checks). */
#define SMR__HASH_FN(name) smr__##name##_avx512
#include "hash_impl.h"
