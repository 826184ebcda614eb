/* SPDX-License-Identifier: MIT */
/* Internal: the builds of the channel checksum, one per instruction set,
 * each compiled from the template src/hash_impl.h under its own names
 * (SMR__HASH_FN).  The _base build is in every library; the _avx2 and
 * _avx512 builds only on x86-64 (SMR_HASH_X86: src/hash_avx2.c and
 * src/hash_avx512.c), where they may be called only on a CPU that has
 * the instructions.  src/hash.c picks one at run time (smr__hash,
 * smr__copy_hash in src/internal.h); tests/test_hash.c compares them. */
#ifndef SMR_HASH_ISA_H
#define SMR_HASH_ISA_H

#include <stddef.h>
#include <stdint.h>

uint64_t smr__hash_base(const void *data, size_t size);
uint64_t smr__copy_hash_base(void *dst, const void *src, size_t size);
uint64_t smr__hash_avx2(const void *data, size_t size);
uint64_t smr__copy_hash_avx2(void *dst, const void *src, size_t size);
uint64_t smr__hash_avx512(const void *data, size_t size);
uint64_t smr__copy_hash_avx512(void *dst, const void *src, size_t size);

#endif /* SMR_HASH_ISA_H */
