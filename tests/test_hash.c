/* SPDX-License-Identifier: MIT */
/* The channel checksum: every build of XXH3 in libsmr (baseline, AVX2,
 * AVX-512 where the CPU has them) gives the same value for every length
 * (the vector code paths switch at 16, 128, 240 bytes and per stripe and
 * block), and copy_hash copies exactly and hashes the same as hash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hash_isa.h"
#include "internal.h"

int main(void) {
  enum { MAX = 3 << 20 };
  unsigned char *src = malloc(MAX), *dst = malloc(MAX + 1);
  CHECK(src && dst);
  uint64_t x = 12345;
  for (size_t i = 0; i < MAX; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    src[i] = (unsigned char)(x >> 56);
  }
  /* XXH3-64 of the empty input, seed 0 (from the xxHash specification). */
  CHECK_EQ(smr__hash_base("", 0), (long long)0x2D06800538D394C2ull);
#if defined(__x86_64__)
  __builtin_cpu_init();
  int avx2 = __builtin_cpu_supports("avx2");
  int avx512 = __builtin_cpu_supports("avx512f");
#endif
  size_t lens[600];
  size_t n = 0;
  for (size_t l = 0; l <= 520; l++)
    lens[n++] = l;
  size_t big[] = {1023,   1024,   1025,   4095,    65536, 65537,
                  262143, 262144, 262145, 1000003, MAX};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
    lens[n++] = big[i];
  for (size_t i = 0; i < n; i++) {
    size_t l = lens[i];
    const unsigned char *p = src + (l % 7); /* unaligned too */
    if (l + 7 > MAX)
      p = src;
    uint64_t h = smr__hash_base(p, l);
    CHECK(smr__hash(p, l) == h);
    memset(dst, 0, l + 1);
    CHECK(smr__copy_hash_base(dst, p, l) == h);
    CHECK(memcmp(dst, p, l) == 0 && dst[l] == 0);
    CHECK(smr__copy_hash(dst, p, l) == h);
#if defined(__x86_64__)
    if (avx2) {
      CHECK(smr__hash_avx2(p, l) == h);
      CHECK(smr__copy_hash_avx2(dst, p, l) == h);
    }
    if (avx512) {
      CHECK(smr__hash_avx512(p, l) == h);
      CHECK(smr__copy_hash_avx512(dst, p, l) == h);
    }
#endif
  }
  free(src);
  free(dst);
  printf("test_hash: %zu lengths, builds agree\n", n);
  return 0;
}
