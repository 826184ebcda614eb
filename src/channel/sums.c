/* SPDX-License-Identifier: MIT */
/* The channel checksum: XXH3-64 of each block of a payload, the block sums
 * stored after the payload in its data file, and the descriptor's checksum
 * the XXH3-64 of the sums (layout.h gives the block size and places).
 *
 * Design: the writer computes the sums at commit (or while copying, in
 * smr_channel_publish) and the top sum last; a reader that checks the top
 * sum against the descriptor and then a block against its sum has checked
 * that block's bytes against what the writer committed as firmly as a sum
 * of the whole payload would (a block changed so that its XXH3-64 still
 * matches is the same 2^-64 event either way).  So a reader can check only
 * the blocks it reads: a one-shot lookup in a large table hashes a few
 * blocks, not the table.  The sums live in the writer's data file, which
 * only the channel's owner can write (the reader checks the file's owner),
 * and are read within the mapping, which the reader checks against the
 * file's size each time it maps a new version. */
#include "channel.h"

#include <errno.h>
#include <string.h>

/* The sums of a mapped payload of `size` bytes at base (8-byte aligned). */
static uint64_t *sums_of(const unsigned char *base, uint64_t size) {
  return (uint64_t *)(void *)(base + smr__channel_sum_offset(size));
}

/* The top sum: the hash of the sums (of nothing for an empty payload). */
static uint64_t top_sum(const unsigned char *base, uint64_t size) {
  uint64_t n = smr__channel_sum_count(size);
  return n ? smr__hash(sums_of(base, size), (size_t)(8 * n))
           : smr__hash(smr__channel_empty_payload, 0);
}

/* Block b of a payload of `size` bytes: its offset, and its length. */
static uint64_t block_at(uint64_t size, uint64_t b, uint64_t *len) {
  uint64_t bs = 1ull << smr__channel_sum_shift(size), off = b * bs;
  *len = size - off < bs ? size - off : bs;
  return off;
}

uint64_t smr__channel_sum_write(unsigned char *base, const void *src,
                                uint64_t size) {
  if (!size) /* base may be NULL (nothing mapped): no pointer arithmetic */
    return top_sum(base, 0);
  uint64_t n = smr__channel_sum_count(size), len;
  uint64_t *sums = sums_of(base, size);
  for (uint64_t b = 0; b < n; b++) {
    uint64_t off = block_at(size, b, &len);
    /* With a source, each block hashed while its copy is still in cache. */
    sums[b] = src ? smr__copy_hash(base + off, (const unsigned char *)src + off,
                                   (size_t)len)
                  : smr__hash(base + off, (size_t)len);
  }
  return top_sum(base, size);
}

bool smr__channel_sum_top_ok(const unsigned char *base, uint64_t size,
                             uint64_t sum) {
  return top_sum(base, size) == sum;
}

bool smr__channel_sum_block_ok(const unsigned char *base, uint64_t size,
                               uint64_t b) {
  uint64_t len, off = block_at(size, b, &len);
  return smr__hash(base + off, (size_t)len) == sums_of(base, size)[b];
}
