/* SPDX-License-Identifier: MIT */
/* Internal: the channel checksum, XXH3-64 (seed 0), compiled once per
 * instruction set.  Included by src/hash.c (baseline, and the dispatcher)
 * and src/hash_avx2.c / src/hash_avx512.c (built with -mavx2 / -mavx512f);
 * xxhash.h picks its vector code from the compiler's target macros.
 * SMR__HASH_FN(name) gives each copy its own function names, which
 * src/hash_isa.h declares. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hash_isa.h"

#define SMR__HASH_CHUNK (256u * 1024u)

uint64_t SMR__HASH_FN(hash)(const void *data, size_t size) {
  return XXH3_64bits(data, size);
}

/* memcpy, hashing each chunk of the destination while it is in cache. */
uint64_t SMR__HASH_FN(copy_hash)(void *dst, const void *src, size_t size) {
  XXH3_state_t st;
  XXH3_INITSTATE(&st);
  XXH3_64bits_reset(&st);
  for (size_t off = 0; off < size; off += SMR__HASH_CHUNK) {
    size_t n = size - off < SMR__HASH_CHUNK ? size - off : SMR__HASH_CHUNK;
    memcpy((char *)dst + off, (const char *)src + off, n);
    XXH3_64bits_update(&st, (const char *)dst + off, n);
  }
  return XXH3_64bits_digest(&st);
}
