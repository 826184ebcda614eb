/* SPDX-License-Identifier: MIT */
/* Flat key -> value tables (smr/table.h).
 *
 * The byte format (a header, buckets that hold a tag of the key's XXH3-64
 * hash and the offset of its record, probed linearly from the key's home
 * bucket, and the records in insertion order) is in src/table_layout.h.
 * The builder keeps nbuckets >= 1.5 x entries, so probes are short and
 * there is always an empty bucket.
 *
 * Validation (smr_table_open) makes lookups safe on untrusted bytes: every
 * bucket points inside the records, at a live record whose key hashes to
 * the bucket's tag and whose home bucket lies in the same run of non-empty
 * buckets before it (so a lookup finds it), the records tile the record
 * area exactly, the live ones number `count`, and fewer than nbuckets
 * buckets are used (so every probe ends at an empty bucket). */
#include "smr/table.h"
#include "table_layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static uint64_t key_hash(const void *key, size_t klen) {
  return XXH3_64bits(key, klen);
}

static uint32_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Buckets for up to `entries` keys: a power of two >= 1.5 x entries + 1. */
static uint64_t buckets_for(uint64_t entries) {
  uint64_t want = entries + entries / 2 + 1, n = 1;
  while (n < want)
    n <<= 1;
  return n;
}

uint64_t smr_table_size_bound(uint64_t entries, uint64_t bytes) {
  if (entries > SMR_TABLE_MAX_ENTRIES || bytes > SMR__TABLE_MAX_SIZE)
    return 0;
  /* Each record: 8 bytes of lengths and at most 7 of padding. */
  uint64_t n = SMR__TABLE_HEADER_SIZE +
               SMR__TABLE_BUCKET_SIZE * buckets_for(entries) +
               (SMR__TABLE_REC_KEY + SMR__TABLE_ALIGN) * entries + bytes;
  return n > SMR__TABLE_MAX_SIZE ? 0 : n;
}

/* ---- building ------------------------------------------------------------ */

int smr_table_build_begin(smr_table_builder *b, void *buf, uint64_t cap,
                          uint64_t max_entries) {
  if (!b)
    return -EINVAL;
  /* Every error below is kept in the builder (the header's promise), so it
   * is reset first: a later add on it returns the error, never reads an
   * uninitialised builder. */
  memset(b, 0, sizeof *b);
  if (!buf || (uintptr_t)buf % SMR__TABLE_ALIGN)
    return b->error = -EINVAL;
  if (max_entries > SMR_TABLE_MAX_ENTRIES)
    return b->error = -E2BIG;
  uint64_t nb = buckets_for(max_entries);
  if (cap > SMR__TABLE_MAX_SIZE)
    cap = SMR__TABLE_MAX_SIZE;
  if (cap < SMR__TABLE_HEADER_SIZE ||
      (cap - SMR__TABLE_HEADER_SIZE) / SMR__TABLE_BUCKET_SIZE < nb)
    return b->error = -ENOSPC;
  b->base = buf;
  b->cap = cap;
  b->mask = nb - 1;
  b->max_entries = max_entries;
  b->records = b->pos = SMR__TABLE_HEADER_SIZE + SMR__TABLE_BUCKET_SIZE * nb;
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
  uint64_t rec = SMR__TABLE_REC_SIZE(klen, vlen);
  if (rec > b->cap - b->pos)
    return b->error = -ENOSPC;
  uint64_t *buckets = (uint64_t *)(void *)(b->base + SMR__TABLE_HEADER_SIZE);
  uint64_t h = key_hash(key, klen), tag = SMR__TABLE_TAG(h), i = h & b->mask;
  unsigned char *old = NULL;
  for (; buckets[i]; i = (i + 1) & b->mask) {
    if (SMR__TABLE_TAG(buckets[i]) != tag)
      continue;
    unsigned char *r = b->base + SMR__TABLE_BUCKET_OFF(buckets[i]);
    if (rd32(r + SMR__TABLE_REC_KLEN) == klen &&
        (!klen || memcmp(r + SMR__TABLE_REC_KEY, key, klen) == 0)) {
      old = r;
      break;
    }
  }
  if (!old && b->count == b->max_entries)
    return b->error = -E2BIG;
  unsigned char *r = b->base + b->pos;
  uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
  memcpy(r + SMR__TABLE_REC_KLEN, &k32, 4);
  memcpy(r + SMR__TABLE_REC_VLEN, &v32, 4);
  if (klen)
    memcpy(r + SMR__TABLE_REC_KEY, key, klen);
  if (vlen)
    memcpy(r + SMR__TABLE_REC_KEY + klen, value, vlen);
  memset(r + SMR__TABLE_REC_KEY + klen + vlen, 0,
         (size_t)(rec - SMR__TABLE_REC_KEY - klen - vlen));
  if (old) {
    uint32_t mark = k32 | SMR__TABLE_REPLACED;
    memcpy(old + SMR__TABLE_REC_KLEN, &mark, 4);
  } else {
    b->count++;
  }
  buckets[i] = SMR__TABLE_BUCKET(tag, b->pos);
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
  struct smr__table_header h;
  memset(&h, 0, sizeof h);
  h.magic = SMR__TABLE_MAGIC;
  h.layout = SMR__TABLE_LAYOUT;
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
    if (end - pos < SMR__TABLE_REC_KEY)
      return -EBADMSG;
    uint32_t k = rd32(base + pos + SMR__TABLE_REC_KLEN) & ~SMR__TABLE_REPLACED,
             v = rd32(base + pos + SMR__TABLE_REC_VLEN);
    if (v > SMR_TABLE_MAX_FIELD)
      return -EBADMSG;
    uint64_t rec = SMR__TABLE_REC_SIZE(k, v);
    if (rec > end - pos)
      return -EBADMSG;
    if (!(rd32(base + pos + SMR__TABLE_REC_KLEN) & SMR__TABLE_REPLACED)) {
      uint64_t bit = (pos - records) / SMR__TABLE_ALIGN;
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
  uint64_t b = t->buckets[p], off = SMR__TABLE_BUCKET_OFF(b);
  if (off < t->records || off > t->end - SMR__TABLE_REC_KEY)
    return -EBADMSG;
  uint64_t bit = (off - t->records) / SMR__TABLE_ALIGN,
           *word = &starts[bit >> 6];
  if (!(*word & (1ull << (bit & 63))))
    return -EBADMSG; /* not a live record's start, or referenced twice */
  *word &= ~(1ull << (bit & 63));
  const unsigned char *r = t->base + off;
  uint32_t k = rd32(r + SMR__TABLE_REC_KLEN), v = rd32(r + SMR__TABLE_REC_VLEN);
  if ((k & SMR__TABLE_REPLACED) || v > SMR_TABLE_MAX_FIELD ||
      SMR__TABLE_REC_KEY + (uint64_t)k + v > t->end - off)
    return -EBADMSG;
  uint64_t h = key_hash(r + SMR__TABLE_REC_KEY, k);
  if (SMR__TABLE_TAG(h) != SMR__TABLE_TAG(b) ||
      ((p - (h & t->mask)) & t->mask) > ((p - run_start) & t->mask))
    return -EBADMSG;
  /* No live record of the same key earlier on its probe path (checked
   * already: same run): a lookup must find this record, the one iteration
   * yields.  Paths are short (load <= 2/3), tags rarely match. */
  for (uint64_t q = h & t->mask; q != p; q = (q + 1) & t->mask) {
    if (SMR__TABLE_TAG(t->buckets[q]) != SMR__TABLE_TAG(b))
      continue;
    const unsigned char *o = t->base + SMR__TABLE_BUCKET_OFF(t->buckets[q]);
    if (rd32(o + SMR__TABLE_REC_KLEN) == k &&
        (!k || memcmp(o + SMR__TABLE_REC_KEY, r + SMR__TABLE_REC_KEY, k) == 0))
      return -EBADMSG; /* the same key twice */
  }
  return 0;
}

static int check_table(const smr_table *v, uint64_t *starts);

/* The header's checks (O(1)): fills *v (not yet validated) or -EBADMSG.
 * After them, the buckets lie inside the bytes and [records, end) too. */
static int open_header(smr_table *v, const void *bytes, uint64_t size) {
  if (size < SMR__TABLE_HEADER_SIZE)
    return -EBADMSG;
  struct smr__table_header h;
  memcpy(&h, bytes, sizeof h);
  if (h.magic != SMR__TABLE_MAGIC || h.layout != SMR__TABLE_LAYOUT ||
      h.flags != 0 || h.nbuckets == 0 || (h.nbuckets & (h.nbuckets - 1)) ||
      h.nbuckets > (size - SMR__TABLE_HEADER_SIZE) / SMR__TABLE_BUCKET_SIZE ||
      h.records !=
          SMR__TABLE_HEADER_SIZE + SMR__TABLE_BUCKET_SIZE * h.nbuckets ||
      h.end < h.records || h.end > size || h.end % SMR__TABLE_ALIGN ||
      h.end > SMR__TABLE_MAX_SIZE || h.count >= h.nbuckets ||
      h.count > SMR_TABLE_MAX_ENTRIES)
    return -EBADMSG;
  v->base = bytes;
  v->buckets =
      (const uint64_t *)(const void *)(v->base + SMR__TABLE_HEADER_SIZE);
  v->mask = h.nbuckets - 1;
  v->count = h.count;
  v->records = h.records;
  v->end = h.end;
  v->lazy = false;
  return 0;
}

/* smr_table_open (lazy: smr_table_open_lazy, the header only). */
static int open_table(smr_table *t, const void *bytes, uint64_t size,
                      bool lazy) {
  if (t)
    memset(t, 0, sizeof *t);
  if (!t || !bytes || (uintptr_t)bytes % SMR__TABLE_ALIGN)
    return -EINVAL;
  smr_table v = {0}; /* check and check_arg NULL: no check */
  int r = open_header(&v, bytes, size);
  if (r < 0 || lazy) {
    v.lazy = true;
    if (r == 0)
      *t = v;
    return r;
  }
  /* One bit per 8 bytes of records: which offsets start a live record
   * (so that the buckets reference each live record exactly once, and
   * iteration and lookup see the same entries). */
  uint64_t *starts =
      calloc((size_t)((v.end - v.records) / SMR__TABLE_ALIGN / 64 + 1), 8);
  if (!starts)
    return -ENOMEM;
  r = check_table(&v, starts);
  free(starts);
  if (r < 0)
    return r;
  *t = v;
  return 0;
}

int smr_table_open(smr_table *t, const void *bytes, uint64_t size) {
  return open_table(t, bytes, size, false);
}

int smr_table_open_lazy(smr_table *t, const void *bytes, uint64_t size) {
  return open_table(t, bytes, size, true);
}

int smr_table_open_checked(smr_table *t, const void *bytes, uint64_t size,
                           smr_table_check_fn *check, void *arg) {
  if (t)
    memset(t, 0, sizeof *t);
  if (!t || !bytes || !check || (uintptr_t)bytes % SMR__TABLE_ALIGN)
    return -EINVAL;
  if (size < SMR__TABLE_HEADER_SIZE)
    return -EBADMSG; /* no header to check */
  /* The header is checked before it is read. */
  int r = check(arg, 0, SMR__TABLE_HEADER_SIZE);
  if (r == 0)
    r = open_table(t, bytes, size, true);
  if (r < 0)
    return r;
  t->check = check;
  t->check_arg = arg;
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

/* smr_table_get on a lazily opened table: the same probe, but every
 * bucket and record it reads is checked first, and it gives up after
 * nbuckets buckets.  A bucket whose tag differs is skipped unread; one
 * whose tag matches must point inside the records (at 8 bytes of lengths:
 * the offset, records and end are multiples of 8); when its key length is
 * the key's, the key and value must lie inside the records before the key
 * is compared.  A record marked replaced has a key length of 2^31 or more,
 * so no key matches it (as in a validated lookup).  So a probe costs what
 * a validated one does plus a few compares on bytes it reads anyway. */
static int get_lazy(const smr_table *t, const void *key, size_t klen,
                    uint64_t h, smr_table_value *v) {
  uint64_t mask = t->mask, tag = SMR__TABLE_TAG(h), home = h & mask, i = home;
  int c;
  do {
    if (t->check &&
        (c = t->check(t->check_arg,
                      SMR__TABLE_HEADER_SIZE + SMR__TABLE_BUCKET_SIZE * i,
                      SMR__TABLE_BUCKET_SIZE)) < 0)
      return c;
    uint64_t b = t->buckets[i];
    i = (i + 1) & mask;
    if (!b)
      return -ENOENT;
    if (SMR__TABLE_TAG(b) != tag)
      continue;
    uint64_t off = SMR__TABLE_BUCKET_OFF(b);
    if (off - t->records >= t->end - t->records) /* wraps if before */
      return -EBADMSG;
    const unsigned char *r = t->base + off;
    if (t->check && (c = t->check(t->check_arg, off, SMR__TABLE_REC_KEY)) < 0)
      return c;
    if (rd32(r + SMR__TABLE_REC_KLEN) != klen)
      continue;
    uint32_t vl = rd32(r + SMR__TABLE_REC_VLEN);
    /* In 64 bits: a size_t sum would wrap where size_t has 32 (klen 8 +
     * vl 0xfffffff8 = 0), handing out a value of ~4 GiB past the end. */
    if ((uint64_t)klen + vl > t->end - off - SMR__TABLE_REC_KEY)
      return -EBADMSG;
    if (t->check && (c = t->check(t->check_arg, off + SMR__TABLE_REC_KEY,
                                  (uint64_t)klen + vl)) < 0)
      return c;
    if (klen && memcmp(r + SMR__TABLE_REC_KEY, key, klen) != 0)
      continue;
    v->data = r + SMR__TABLE_REC_KEY + klen;
    v->size = vl;
    return 0;
  } while (i != home); /* each bucket once */
  return -EBADMSG;     /* no empty bucket: a validated table always has one */
}

int smr_table_get(const smr_table *t, const void *key, size_t klen,
                  smr_table_value *v) {
  if (!t || !v || (!key && klen) || !t->base)
    return -EINVAL;
  uint64_t h = key_hash(key, klen), tag = SMR__TABLE_TAG(h);
  if (t->lazy)
    return get_lazy(t, key, klen, h, v);
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    uint64_t b = t->buckets[i];
    if (!b)
      return -ENOENT;
    if (SMR__TABLE_TAG(b) != tag)
      continue;
    const unsigned char *r = t->base + SMR__TABLE_BUCKET_OFF(b);
    if (rd32(r + SMR__TABLE_REC_KLEN) == klen &&
        (!klen || memcmp(r + SMR__TABLE_REC_KEY, key, klen) == 0)) {
      v->data = r + SMR__TABLE_REC_KEY + klen;
      v->size = rd32(r + SMR__TABLE_REC_VLEN);
      return 0;
    }
  }
}

int smr_table_next(const smr_table *t, uint64_t *cursor, smr_table_entry *e) {
  if (!t || !cursor || !e || !t->base)
    return -EINVAL;
  uint64_t pos = *cursor < t->records ? t->records : *cursor;
  if (pos % SMR__TABLE_ALIGN || pos > t->end)
    return -EINVAL;
  while (pos < t->end) {
    const unsigned char *r = t->base + pos;
    /* A record that does not fit: a cursor not from this table, or (lazy
     * open) a corrupt table. */
    if (t->end - pos < SMR__TABLE_REC_KEY)
      return t->lazy ? -EBADMSG : -EINVAL;
    int c;
    if (t->check && (c = t->check(t->check_arg, pos, SMR__TABLE_REC_KEY)) < 0)
      return c;
    uint32_t k = rd32(r + SMR__TABLE_REC_KLEN),
             v = rd32(r + SMR__TABLE_REC_VLEN);
    uint64_t rec = SMR__TABLE_REC_SIZE(k & ~SMR__TABLE_REPLACED, v);
    if (rec > t->end - pos)
      return t->lazy ? -EBADMSG : -EINVAL;
    if (t->check && (c = t->check(t->check_arg, pos, rec)) < 0)
      return c;
    pos += rec;
    if (k & SMR__TABLE_REPLACED)
      continue;
    e->key.data = r + SMR__TABLE_REC_KEY;
    e->key.size = k;
    e->value.data = r + SMR__TABLE_REC_KEY + k;
    e->value.size = v;
    *cursor = pos;
    return 1;
  }
  *cursor = pos;
  return 0;
}
