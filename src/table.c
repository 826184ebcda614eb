/* Flat key -> value tables (smr/table.h).
 *
 * Layout: header (64 B) | buckets (nbuckets x 8 B, a power of two) |
 * records.  A bucket is 0 (empty) or (tag << 48) | (record offset / 8),
 * tag = the top 16 bits of the key's XXH3-64 hash; the key's home bucket is
 * hash & (nbuckets - 1) and collisions probe linearly.  A record is
 * u32 key length (bit 31: replaced by a later record of the same key),
 * u32 value length, key, value, zero padding to 8.  The builder keeps
 * nbuckets >= 1.5 x entries, so probes are short and there is always an
 * empty bucket.
 *
 * Validation (smr_table_open) makes lookups safe on untrusted bytes: every
 * bucket points inside the records, at a live record whose key hashes to
 * the bucket's tag and whose home bucket lies in the same run of non-empty
 * buckets before it (so a lookup finds it), the records tile the record
 * area exactly, the live ones number `count`, and fewer than nbuckets
 * buckets are used (so every probe ends at an empty bucket). */
#include "smr/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define TBL_MAGIC    0x31304c4254524d53ull /* "SMRTBL01" */
#define TBL_LAYOUT   1u
#define TBL_HEADER   64u
#define TBL_REPLACED 0x80000000u
#define OFF_MASK     ((1ull << 48) - 1)
#define TBL_MAX_SIZE (1ull << 51) /* offsets / 8 fit 48 bits */

struct tbl_header {
  uint64_t magic;
  uint32_t layout, flags;
  uint64_t count, nbuckets;
  uint64_t records, end; /* offsets from the table's start */
  uint64_t reserved[2];
};

_Static_assert(sizeof(struct tbl_header) == TBL_HEADER, "header");

static uint64_t key_hash(const void *key, size_t klen) {
  return XXH3_64bits(key, klen);
}

static uint32_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t align8(uint64_t n) {
  return (n + 7) & ~7ull;
}

/* Buckets for up to `entries` keys: a power of two >= 1.5 x entries + 1. */
static uint64_t buckets_for(uint64_t entries) {
  uint64_t want = entries + entries / 2 + 1, n = 1;
  while (n < want)
    n <<= 1;
  return n;
}

uint64_t smr_table_size_bound(uint64_t entries, uint64_t bytes) {
  if (entries > SMR_TABLE_MAX_ENTRIES || bytes > TBL_MAX_SIZE)
    return 0;
  /* Each record: 8 bytes of lengths and at most 7 of padding. */
  uint64_t n = TBL_HEADER + 8 * buckets_for(entries) + 16 * entries + bytes;
  return n > TBL_MAX_SIZE ? 0 : n;
}

/* ---- building ------------------------------------------------------------ */

int smr_table_build_begin(smr_table_builder *b, void *buf, uint64_t cap,
                          uint64_t max_entries) {
  if (!b || !buf || ((uintptr_t)buf & 7))
    return -EINVAL;
  memset(b, 0, sizeof *b);
  if (max_entries > SMR_TABLE_MAX_ENTRIES)
    return b->error = -E2BIG;
  uint64_t nb = buckets_for(max_entries);
  if (cap > TBL_MAX_SIZE)
    cap = TBL_MAX_SIZE;
  if (cap < TBL_HEADER || (cap - TBL_HEADER) / 8 < nb)
    return b->error = -ENOSPC;
  b->base = buf;
  b->cap = cap;
  b->mask = nb - 1;
  b->max_entries = max_entries;
  b->records = b->pos = TBL_HEADER + 8 * nb;
  memset(b->base, 0, (size_t)b->records); /* header and empty buckets */
  return 0;
}

int smr_table_build_add(smr_table_builder *b, const void *key, size_t klen,
                        const void *value, size_t vlen) {
  if (!b)
    return -EINVAL;
  if (b->error)
    return b->error;
  if ((!key && klen) || (!value && vlen) || !b->base)
    return b->error = -EINVAL;
  if (klen > SMR_TABLE_MAX_FIELD || vlen > SMR_TABLE_MAX_FIELD)
    return b->error = -EFBIG;
  uint64_t rec = align8(8 + (uint64_t)klen + vlen);
  if (rec > b->cap - b->pos)
    return b->error = -ENOSPC;
  uint64_t *buckets = (uint64_t *)(void *)(b->base + TBL_HEADER);
  uint64_t h = key_hash(key, klen), tag = h >> 48, i = h & b->mask;
  unsigned char *old = NULL;
  for (; buckets[i]; i = (i + 1) & b->mask) {
    if ((buckets[i] >> 48) != tag)
      continue;
    unsigned char *r = b->base + ((buckets[i] & OFF_MASK) << 3);
    if (rd32(r) == klen && (!klen || memcmp(r + 8, key, klen) == 0)) {
      old = r;
      break;
    }
  }
  if (!old && b->count == b->max_entries)
    return b->error = -E2BIG;
  unsigned char *r = b->base + b->pos;
  uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
  memcpy(r, &k32, 4);
  memcpy(r + 4, &v32, 4);
  if (klen)
    memcpy(r + 8, key, klen);
  if (vlen)
    memcpy(r + 8 + klen, value, vlen);
  memset(r + 8 + klen + vlen, 0, (size_t)(rec - 8 - klen - vlen));
  if (old) {
    uint32_t mark = k32 | TBL_REPLACED;
    memcpy(old, &mark, 4);
  } else {
    b->count++;
  }
  buckets[i] = (tag << 48) | (b->pos >> 3);
  b->pos += rec;
  return 0;
}

uint64_t smr_table_build_count(const smr_table_builder *b) {
  return b ? b->count : 0;
}

int smr_table_build_end(smr_table_builder *b, uint64_t *size) {
  if (!b || !size)
    return -EINVAL;
  if (b->error)
    return b->error;
  if (!b->base)
    return -EINVAL;
  struct tbl_header h;
  memset(&h, 0, sizeof h);
  h.magic = TBL_MAGIC;
  h.layout = TBL_LAYOUT;
  h.count = b->count;
  h.nbuckets = b->mask + 1;
  h.records = b->records;
  h.end = b->pos;
  memcpy(b->base, &h, sizeof h);
  *size = b->pos;
  return 0;
}

/* ---- opening and validating ---------------------------------------------- */

/* The records tile [records, end) and `count` of them are live; the live
 * records' starts are marked in `starts` (one bit per 8 bytes). */
static int check_records(const unsigned char *base, uint64_t records,
                         uint64_t end, uint64_t count, uint64_t *starts) {
  uint64_t live = 0;
  for (uint64_t pos = records; pos < end;) {
    if (end - pos < 8)
      return -EBADMSG;
    uint32_t k = rd32(base + pos) & ~TBL_REPLACED, v = rd32(base + pos + 4);
    if (v > SMR_TABLE_MAX_FIELD)
      return -EBADMSG;
    uint64_t rec = align8(8 + (uint64_t)k + v);
    if (rec > end - pos)
      return -EBADMSG;
    if (!(rd32(base + pos) & TBL_REPLACED)) {
      uint64_t bit = (pos - records) >> 3;
      starts[bit >> 6] |= 1ull << (bit & 63);
      live++;
    }
    pos += rec;
  }
  return live == count ? 0 : -EBADMSG;
}

/* Bucket p holds a valid reference: the start of a live record no other
 * bucket references (its bit in `starts`, cleared here), whose key has the
 * bucket's tag and a home bucket no further back than the start of p's run
 * of non-empty buckets. */
static int check_bucket(const smr_table *t, uint64_t p, uint64_t run_start,
                        uint64_t *starts) {
  uint64_t b = t->buckets[p], off = (b & OFF_MASK) << 3;
  if (off < t->records || off > t->end - 8)
    return -EBADMSG;
  uint64_t bit = (off - t->records) >> 3, *word = &starts[bit >> 6];
  if (!(*word & (1ull << (bit & 63))))
    return -EBADMSG; /* not a live record's start, or referenced twice */
  *word &= ~(1ull << (bit & 63));
  const unsigned char *r = t->base + off;
  uint32_t k = rd32(r), v = rd32(r + 4);
  if ((k & TBL_REPLACED) || v > SMR_TABLE_MAX_FIELD ||
      8 + (uint64_t)k + v > t->end - off)
    return -EBADMSG;
  uint64_t h = key_hash(r + 8, k);
  if ((h >> 48) != (b >> 48) ||
      ((p - (h & t->mask)) & t->mask) > ((p - run_start) & t->mask))
    return -EBADMSG;
  /* No live record of the same key earlier on its probe path (checked
   * already: same run): a lookup must find this record, the one iteration
   * yields.  Paths are short (load <= 2/3), tags rarely match. */
  for (uint64_t q = h & t->mask; q != p; q = (q + 1) & t->mask) {
    if ((t->buckets[q] >> 48) != (b >> 48))
      continue;
    const unsigned char *o = t->base + ((t->buckets[q] & OFF_MASK) << 3);
    if (rd32(o) == k && (!k || memcmp(o + 8, r + 8, k) == 0))
      return -EBADMSG; /* the same key twice */
  }
  return 0;
}

static int check_table(const smr_table *v, uint64_t *starts);

int smr_table_open(smr_table *t, const void *bytes, uint64_t size) {
  if (!t || !bytes || ((uintptr_t)bytes & 7))
    return -EINVAL;
  memset(t, 0, sizeof *t);
  if (size < TBL_HEADER)
    return -EBADMSG;
  struct tbl_header h;
  memcpy(&h, bytes, sizeof h);
  if (h.magic != TBL_MAGIC || h.layout != TBL_LAYOUT || h.flags != 0 ||
      h.nbuckets == 0 || (h.nbuckets & (h.nbuckets - 1)) ||
      h.nbuckets > (size - TBL_HEADER) / 8 ||
      h.records != TBL_HEADER + 8 * h.nbuckets || h.end < h.records ||
      h.end > size || (h.end & 7) || h.end > TBL_MAX_SIZE ||
      h.count >= h.nbuckets || h.count > SMR_TABLE_MAX_ENTRIES)
    return -EBADMSG;
  smr_table v;
  v.base = bytes;
  v.buckets = (const uint64_t *)(const void *)(v.base + TBL_HEADER);
  v.mask = h.nbuckets - 1;
  v.count = h.count;
  v.records = h.records;
  v.end = h.end;
  /* One bit per 8 bytes of records: which offsets start a live record
   * (so that the buckets reference each live record exactly once, and
   * iteration and lookup see the same entries). */
  uint64_t *starts = calloc((size_t)((v.end - v.records) / 8 / 64 + 1), 8);
  if (!starts)
    return -ENOMEM;
  int r = check_table(&v, starts);
  free(starts);
  if (r < 0)
    return r;
  *t = v;
  return 0;
}

static int check_table(const smr_table *tv, uint64_t *starts) {
  smr_table v = *tv;
  int r = check_records(v.base, v.records, v.end, v.count, starts);
  if (r < 0)
    return r;
  /* Walk the buckets once, starting just after an empty one, so each
   * run of non-empty buckets is seen from its start. */
  uint64_t used = 0, e = 0;
  while (e <= v.mask && v.buckets[e])
    e++;
  if (e > v.mask)
    return -EBADMSG; /* no empty bucket: probes would not end */
  uint64_t run_start = 0;
  bool in_run = false;
  for (uint64_t k = 1; k <= v.mask; k++) {
    uint64_t p = (e + k) & v.mask;
    if (!v.buckets[p]) {
      in_run = false;
      continue;
    }
    if (!in_run) {
      run_start = p;
      in_run = true;
    }
    if (check_bucket(&v, p, run_start, starts) < 0)
      return -EBADMSG;
    used++;
  }
  return used == v.count ? 0 : -EBADMSG;
}

uint64_t smr_table_count(const smr_table *t) {
  return t ? t->count : 0;
}

int smr_table_get(const smr_table *t, const void *key, size_t klen,
                  smr_table_value *v) {
  if (!t || !v || (!key && klen) || !t->base)
    return -EINVAL;
  uint64_t h = key_hash(key, klen), tag = h >> 48;
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    uint64_t b = t->buckets[i];
    if (!b)
      return -ENOENT;
    if ((b >> 48) != tag)
      continue;
    const unsigned char *r = t->base + ((b & OFF_MASK) << 3);
    if (rd32(r) == klen && (!klen || memcmp(r + 8, key, klen) == 0)) {
      v->data = r + 8 + klen;
      v->size = rd32(r + 4);
      return 0;
    }
  }
}

int smr_table_next(const smr_table *t, uint64_t *cursor, smr_table_entry *e) {
  if (!t || !cursor || !e || !t->base)
    return -EINVAL;
  uint64_t pos = *cursor < t->records ? t->records : *cursor;
  if ((pos & 7) || pos > t->end)
    return -EINVAL;
  while (pos < t->end) {
    const unsigned char *r = t->base + pos;
    if (t->end - pos < 8)
      return -EINVAL; /* a cursor not from this table */
    uint32_t k = rd32(r), v = rd32(r + 4);
    uint64_t rec = align8(8 + (uint64_t)(k & ~TBL_REPLACED) + v);
    if (rec > t->end - pos)
      return -EINVAL;
    pos += rec;
    if (k & TBL_REPLACED)
      continue;
    e->key.data = r + 8;
    e->key.size = k;
    e->value.data = r + 8 + k;
    e->value.size = v;
    *cursor = pos;
    return 1;
  }
  *cursor = pos;
  return 0;
}
