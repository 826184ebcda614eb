/* SPDX-License-Identifier: MIT */
/* Internal: the byte format of a flat table (smr/table.h).  Native byte
 * order and 8-byte alignment; offsets, no pointers, so the same bytes work
 * at any address (a channel buffer, a file, plain memory).  The bytes are
 * untrusted: smr_table_open (src/table.c) validates every field before a
 * lookup uses it.  docs/DESIGN.md ("Tables") explains the format and its
 * validation.  Tests and the fuzz target include this to forge and check
 * tables.
 *
 * Layout: header (64 B) | buckets (nbuckets x 8 B, a power of two) |
 * records.  A bucket is 0 (empty) or (tag << 48) | (record offset / 8),
 * tag = the top 16 bits of the key's XXH3-64 hash; the key's home bucket is
 * hash & (nbuckets - 1) and collisions probe linearly.  A record is
 * u32 key length (bit 31: replaced by a later record of the same key),
 * u32 value length, key, value, zero padding to 8; the records follow one
 * another in insertion order from `records` to `end`. */
#ifndef SMR_TABLE_LAYOUT_H
#define SMR_TABLE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define SMR__TABLE_MAGIC       0x31304c4254524d53ull /* "SMRTBL01" */
#define SMR__TABLE_LAYOUT      1u
#define SMR__TABLE_HEADER_SIZE 64u          /* the buckets follow */
#define SMR__TABLE_MAX_SIZE    (1ull << 51) /* offsets / 8 fit 48 bits */

/* The header, at offset 0 (offsets of its fields on the right). */
struct smr__table_header {
  uint64_t magic;       /*  0: SMR__TABLE_MAGIC */
  uint32_t layout;      /*  8: SMR__TABLE_LAYOUT */
  uint32_t flags;       /* 12: 0 */
  uint64_t count;       /* 16: live records (distinct keys), < nbuckets */
  uint64_t nbuckets;    /* 24: a power of two */
  uint64_t records;     /* 32: the first record: header and buckets */
  uint64_t end;         /* 40: the end of the records (a multiple of 8) */
  uint64_t reserved[2]; /* 48: 0 (not checked) */
};

_Static_assert(sizeof(struct smr__table_header) == SMR__TABLE_HEADER_SIZE,
               "table header size");
_Static_assert(offsetof(struct smr__table_header, layout) == 8 &&
                   offsetof(struct smr__table_header, flags) == 12 &&
                   offsetof(struct smr__table_header, count) == 16 &&
                   offsetof(struct smr__table_header, nbuckets) == 24 &&
                   offsetof(struct smr__table_header, records) == 32 &&
                   offsetof(struct smr__table_header, end) == 40 &&
                   offsetof(struct smr__table_header, reserved) == 48,
               "table header field offsets");

/* Buckets: nbuckets of them at SMR__TABLE_HEADER_SIZE.  TAG takes the tag
 * of a key's hash or of a bucket; BUCKET_OFF is the bucket's record
 * offset (from the table's start). */
#define SMR__TABLE_BUCKET_SIZE 8u
#define SMR__TABLE_TAG_SHIFT   48
#define SMR__TABLE_OFF_MASK    ((1ull << SMR__TABLE_TAG_SHIFT) - 1)
#define SMR__TABLE_OFF_SHIFT   3 /* the offset / 8 is stored */
#define SMR__TABLE_TAG(x)      ((x) >> SMR__TABLE_TAG_SHIFT)
#define SMR__TABLE_BUCKET(tag, off)                                            \
  (((uint64_t)(tag) << SMR__TABLE_TAG_SHIFT) | ((off) >> SMR__TABLE_OFF_SHIFT))
#define SMR__TABLE_BUCKET_OFF(b)                                               \
  (((b)&SMR__TABLE_OFF_MASK) << SMR__TABLE_OFF_SHIFT)

/* Records: each at a multiple of SMR__TABLE_ALIGN, its fields at these
 * offsets from its start. */
#define SMR__TABLE_ALIGN    8u
#define SMR__TABLE_REC_KLEN 0u /* u32 key length | SMR__TABLE_REPLACED */
#define SMR__TABLE_REC_VLEN 4u /* u32 value length */
#define SMR__TABLE_REC_KEY  8u /* the key, then the value, then padding */
#define SMR__TABLE_REPLACED 0x80000000u /* a later record has the key */

/* n rounded up to a multiple of SMR__TABLE_ALIGN. */
static inline uint64_t smr__table_align(uint64_t n) {
  return (n + SMR__TABLE_ALIGN - 1) & ~(uint64_t)(SMR__TABLE_ALIGN - 1);
}

/* The bytes a record with a klen-byte key and a vlen-byte value takes,
 * padding included. */
#define SMR__TABLE_REC_SIZE(klen, vlen)                                        \
  smr__table_align(SMR__TABLE_REC_KEY + (uint64_t)(klen) + (vlen))

#endif /* SMR_TABLE_LAYOUT_H */
