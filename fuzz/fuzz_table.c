/* SPDX-License-Identifier: MIT */
/* libFuzzer target: flat tables (smr/table.h) as untrusted bytes, and the
 * builder against a reference.  Input format in fuzz_table.h.
 *
 * OPEN mode: the input's bytes (after the mode byte), copied to an 8-byte
 * aligned buffer of exactly their size (so ASAN sees any read past them),
 * go to smr_table_open, which must return 0, -EBADMSG or -ENOMEM (and
 * -EINVAL for a misaligned view of the same bytes).  A table that opens is
 * checked by check_table() below.
 *
 * BUILD mode: the input's records are added with the builder under the
 * max_entries and capacity the mode byte picks (small ones included, for
 * -E2BIG and -ENOSPC), compared with a reference computed here (distinct
 * keys, last occurrence of each):
 *   - begin fails only with -ENOSPC, and succeeds when cap is at least
 *     smr_table_size_bound(max_entries, 0);
 *   - an add fails only with -E2BIG (a new key when max_entries distinct
 *     keys are in: then it must fail) or -ENOSPC (only when the records so
 *     far, this one and smr_table_size_bound(max_entries, 0) for the header
 *     and buckets pass cap); an add that succeeds stays within cap; errors
 *     are sticky, build_end returns the first;
 *   - smr_table_build_count follows the distinct keys added;
 *   - with cap >= smr_table_size_bound(max(max_entries, records), key and
 *     value bytes) and max_entries >= distinct keys nothing fails;
 *   - a built table's size is a multiple of 8, <= cap, and exactly the
 *     header, a power of two (> max_entries) of 8-byte buckets and the
 *     records (8 bytes of lengths, key, value, padded to 8: one per add);
 *   - it opens, counts the distinct keys, iterates exactly the last
 *     occurrence of each key in insertion order, every key looks up its
 *     last value, and passes check_table();
 *   - FZT_MUTATE: 1 to 8 of its bytes overwritten, it is opened as in OPEN
 *     mode (near-valid tables reach deep into the validation).
 *
 * check_table() (each failure abort()s with a message; the name in
 * brackets is the oracle's name for SMR_FUZZ_TABLE_TOLERATE):
 *   - smr_table_next: every entry's key and value lie inside the bytes,
 *     the cursor strictly increases, iteration ends with 0 (and stays
 *     there) after exactly smr_table_count entries;
 *   - [unreachable] smr_table_get finds every key iteration yields;
 *   - [duplicate] ... and returns that entry's value (the same bytes): two
 *     live entries with one key are what last-wins rules out;
 *   - [phantom] a key no entry has is -ENOENT, and a found value is the
 *     value of an entry with that key.  Probes: every entry's key with a
 *     byte appended, with its last byte dropped, with one bit flipped; the
 *     empty key (NULL and "", same answer); at every 8-aligned offset of
 *     the table, the bytes after 8 as a key of the length the first 4 say
 *     (so a record forged anywhere is looked up); slices of the input;
 *   - every value smr_table_get returns lies inside the bytes;
 *   - smr_table_next from cursors taken from the input returns -EINVAL, 0
 *     or 1, with entries inside the bytes.
 *
 * LAZY (every input of OPEN mode and every FZT_MUTATE mutant, whatever
 * smr_table_open said): smr_table_open_lazy on the same bytes returns 0 or
 * -EBADMSG (-EINVAL for a misaligned view or NULL), 0 whenever
 * smr_table_open did, and -EBADMSG only when smr_table_open did; on a lazy
 * table that opens (check_lazy()):
 *   - smr_table_next returns 1, 0 or -EBADMSG, entries inside the bytes,
 *     the cursor strictly increasing (so at most one entry per 8 bytes);
 *   - smr_table_get of every key iteration yields, of the record-shaped
 *     probes, of slices of the input and of the empty key returns 0,
 *     -ENOENT or -EBADMSG, a value inside the bytes;
 *   - odd cursors as above give 1, 0, -EINVAL or -EBADMSG, inside the bytes;
 *   - when smr_table_open accepted the bytes: every one of those answers is
 *     exactly the validated table's (same result, same value bytes).
 * Hangs (a probe that never ends) show as libFuzzer's per-input timeout.
 *
 * SMR_FUZZ_TABLE_TOLERATE=name,... turns the named oracles off (announced
 * at start), to fuzz past a known library bug.  Off by default.
 *
 * Built with -DFZ_REPLAY_MAIN (any compiler, no libFuzzer) it is
 * fuzz_table_replay FILE|DIR...: runs each input once, for regression
 * tests. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_table.h"
#include "smr/table.h"
#include "table_layout.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *g_input; /* fuzz_table_replay: the file being run */
static const uint8_t *g_in; /* this input, for probe keys and cursors */
static size_t g_in_n;

#define TOL_UNREACHABLE 0x1u
#define TOL_DUPLICATE   0x2u
#define TOL_PHANTOM     0x4u
static unsigned g_tolerate;

/* A failed oracle: report and crash (libFuzzer then saves the input). */
#define FAIL(...)                                                              \
  do {                                                                         \
    if (g_input)                                                               \
      fprintf(stderr, "fuzz_table: input %s\n", g_input);                      \
    fprintf(stderr, "fuzz_table: " __VA_ARGS__);                               \
    fprintf(stderr, "\n");                                                     \
    abort();                                                                   \
  } while (0)

/* A failed oracle that SMR_FUZZ_TABLE_TOLERATE may name. */
#if defined(__GNUC__)
#define FZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FZ_PRINTF(f, a)
#endif
static void violated(unsigned oracle, const char *fmt, ...) FZ_PRINTF(2, 3);

static void violated(unsigned oracle, const char *fmt, ...) {
  if (g_tolerate & oracle)
    return;
  if (g_input)
    fprintf(stderr, "fuzz_table: input %s\n", g_input);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_table: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    FAIL("out of memory (%zu bytes)", n);
  return p;
}

/* An input byte (0 for an empty input), for probes and cursors. */
static uint8_t in_byte(size_t i) {
  return g_in_n ? g_in[i % g_in_n] : 0;
}

/* p[0, n) lies inside base[0, size). */
static void in_bounds(const char *what, const void *p, size_t n,
                      const unsigned char *base, uint64_t size) {
  uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
  if (a < b || a - b > size || n > size - (a - b))
    FAIL("%s: %zu bytes at offset %lld lie outside the table's %llu bytes",
         what, n, (long long)(a - b), (unsigned long long)size);
}

/* ---- checking an open table ----------------------------------------------
 */

struct ent {
  const unsigned char *k, *v;
  size_t kl, vl;
};

/* Keys by length, then bytes. */
static int key_cmp(const void *x, const void *y) {
  const struct ent *a = x, *b = y;
  if (a->kl != b->kl)
    return a->kl < b->kl ? -1 : 1;
  return a->kl ? memcmp(a->k, b->k, a->kl) : 0;
}

struct view {
  const smr_table *t;
  const unsigned char *base;
  uint64_t size;
  const struct ent *sorted; /* the entries by key_cmp */
  size_t n;
};

/* Look key up; the answer must agree with the entries. */
static void probe(const struct view *w, const void *key, size_t kl) {
  smr_table_value v;
  int rc = smr_table_get(w->t, key, kl, &v);
  struct ent k = {key, NULL, kl, 0};
  const struct ent *hit =
      w->n ? bsearch(&k, w->sorted, w->n, sizeof k, key_cmp) : NULL;
  if (rc == -ENOENT) {
    if (hit)
      violated(TOL_UNREACHABLE,
               "smr_table_get: -ENOENT for a key (%zu bytes) that iteration "
               "yields [unreachable]",
               kl);
    return;
  }
  if (rc != 0)
    FAIL("smr_table_get returned %d (%s)", rc, strerror(-rc));
  in_bounds("smr_table_get value", v.data, v.size, w->base, w->size);
  if (!hit) {
    violated(TOL_PHANTOM,
             "smr_table_get found a key (%zu bytes) that no entry has "
             "[phantom]",
             kl);
    return;
  }
  /* Some entry with this key must own the value. */
  const struct ent *lo = hit, *hi = hit, *end = w->sorted + w->n;
  while (lo > w->sorted && key_cmp(lo - 1, &k) == 0)
    lo--;
  while (hi + 1 < end && key_cmp(hi + 1, &k) == 0)
    hi++;
  for (const struct ent *e = lo; e <= hi; e++)
    if ((const void *)e->v == v.data && e->vl == v.size)
      return;
  violated(TOL_PHANTOM,
           "smr_table_get returned a value (offset %lld, %zu bytes) that no "
           "entry with its key (%zu bytes) has [phantom]",
           (long long)((uintptr_t)v.data - (uintptr_t)w->base), v.size, kl);
}

/* smr_table_next from a cursor of the input's choosing. */
static void odd_cursor(const struct view *w, uint64_t cursor) {
  smr_table_entry e;
  uint64_t c = cursor;
  int rc = smr_table_next(w->t, &c, &e);
  if (rc == 1) {
    in_bounds("smr_table_next key (odd cursor)", e.key.data, e.key.size,
              w->base, w->size);
    in_bounds("smr_table_next value (odd cursor)", e.value.data, e.value.size,
              w->base, w->size);
    if (c > w->size)
      FAIL("smr_table_next: cursor %llu past the table's %llu bytes",
           (unsigned long long)c, (unsigned long long)w->size);
  } else if (rc != 0 && rc != -EINVAL) {
    FAIL("smr_table_next (cursor %llu) returned %d", (unsigned long long)cursor,
         rc);
  }
}

/* Record-shaped probes: the first 8-aligned offset o >= from (within the
 * first 4096 x 8 bytes) whose bytes after the first 8 make a key of the
 * length the first 4 say (the record format in src/table_layout.h, the
 * replaced bit dropped), at most maxk bytes, inside the table: o and *kl,
 * or size when there is none left.  Looking all of them up looks up a
 * record forged anywhere in the bytes. */
static uint64_t forged_key(const unsigned char *base, uint64_t size,
                           uint64_t from, uint32_t maxk, uint64_t *kl) {
  for (uint64_t o = from;
       o + SMR__TABLE_REC_KEY <= size && o < 4096 * SMR__TABLE_ALIGN;
       o += SMR__TABLE_ALIGN) {
    uint32_t k;
    memcpy(&k, base + o + SMR__TABLE_REC_KLEN, sizeof k);
    k &= ~SMR__TABLE_REPLACED;
    if (k <= maxk && k <= size - o - SMR__TABLE_REC_KEY) {
      *kl = k;
      return o;
    }
  }
  return size;
}

/* Every check on a table that opened (see the opening comment).  Returns
 * the entries in iteration order (*n of them; the caller frees). */
static struct ent *check_table(const smr_table *t, const unsigned char *base,
                               uint64_t size, size_t *out_n) {
  uint64_t count = smr_table_count(t);
  if (count > size / SMR__TABLE_REC_SIZE(0, 0))
    FAIL("smr_table_count %llu: more entries than 8-byte records fit in %llu "
         "bytes",
         (unsigned long long)count, (unsigned long long)size);
  struct ent *es = xmalloc(((size_t)count + 1) * sizeof *es);
  uint64_t cur = 0, prev = 0;
  size_t n = 0;
  smr_table_entry e;
  int rc;
  while ((rc = smr_table_next(t, &cur, &e)) == 1) {
    if (n == count)
      FAIL("iteration yields more than smr_table_count (%llu) entries",
           (unsigned long long)count);
    if (cur <= prev)
      FAIL("smr_table_next: the cursor went from %llu to %llu",
           (unsigned long long)prev, (unsigned long long)cur);
    prev = cur;
    in_bounds("smr_table_next key", e.key.data, e.key.size, base, size);
    in_bounds("smr_table_next value", e.value.data, e.value.size, base, size);
    es[n].k = e.key.data;
    es[n].kl = e.key.size;
    es[n].v = e.value.data;
    es[n].vl = e.value.size;
    n++;
  }
  if (rc != 0)
    FAIL("smr_table_next returned %d after %zu entries", rc, n);
  if (n != count)
    FAIL("iteration yields %zu entries, smr_table_count says %llu", n,
         (unsigned long long)count);
  if (smr_table_next(t, &cur, &e) != 0)
    FAIL("smr_table_next past the end did not return 0");

  /* Every entry is found, with its own value. */
  for (size_t i = 0; i < n; i++) {
    smr_table_value v;
    rc = smr_table_get(t, es[i].k, es[i].kl, &v);
    if (rc == -ENOENT) {
      violated(TOL_UNREACHABLE,
               "smr_table_get: -ENOENT for entry %zu (key %zu bytes, value "
               "%zu) that iteration yields [unreachable]",
               i, es[i].kl, es[i].vl);
      continue;
    }
    if (rc != 0)
      FAIL("smr_table_get returned %d (%s)", rc, strerror(-rc));
    in_bounds("smr_table_get value", v.data, v.size, base, size);
    if (v.data != (const void *)es[i].v || v.size != es[i].vl)
      violated(TOL_DUPLICATE,
               "smr_table_get of entry %zu's key (%zu bytes) returned "
               "another value (offset %lld, %zu bytes) than the entry's "
               "(offset %lld, %zu bytes) [duplicate]",
               i, es[i].kl, (long long)((uintptr_t)v.data - (uintptr_t)base),
               v.size, (long long)((uintptr_t)es[i].v - (uintptr_t)base),
               es[i].vl);
  }

  /* Probes. */
  struct ent *sorted = xmalloc(((size_t)n + 1) * sizeof *sorted);
  if (n)
    memcpy(sorted, es, n * sizeof *es);
  qsort(sorted, n, sizeof *sorted, key_cmp);
  struct view w = {t, base, size, sorted, n};
  size_t maxk = 0;
  for (size_t i = 0; i < n; i++)
    if (es[i].kl > maxk)
      maxk = es[i].kl;
  unsigned char *scratch = xmalloc(maxk + 1);
  for (size_t i = 0; i < n; i++) {
    size_t kl = es[i].kl;
    if (kl)
      memcpy(scratch, es[i].k, kl);
    scratch[kl] = in_byte(i * 7 + 1);
    probe(&w, scratch, kl + 1); /* a byte appended */
    if (kl) {
      probe(&w, scratch, kl - 1); /* the last byte dropped */
      scratch[i % kl] ^= (unsigned char)(1u << (in_byte(i) % 8));
      probe(&w, scratch, kl); /* one bit flipped */
    }
  }
  smr_table_value v0, v1;
  int r0 = smr_table_get(t, NULL, 0, &v0), r1 = smr_table_get(t, "", 0, &v1);
  if (r0 != r1 || (r0 == 0 && (v0.data != v1.data || v0.size != v1.size)))
    FAIL("smr_table_get: the empty key as NULL (%d) and as \"\" (%d) differ",
         r0, r1);
  probe(&w, "", 0);
  /* Record-shaped probes (forged_key). */
  for (uint64_t o = 0, kl = 0; (o = forged_key(base, size, o, 64, &kl)) < size;
       o += SMR__TABLE_ALIGN)
    probe(&w, base + o + SMR__TABLE_REC_KEY, kl);
  for (size_t s = 0; s < 16 && g_in_n; s++) {
    size_t off = (s * 131 + in_byte(s)) % g_in_n, len = in_byte(s + 3) % 25;
    if (len > g_in_n - off)
      len = g_in_n - off;
    probe(&w, g_in + off, len);
  }

  /* Cursors from the input: 8-byte words and small multiples of the record
   * alignment (or one past). */
  for (size_t s = 0; s < 8 && g_in_n >= 8; s++) {
    uint64_t c;
    memcpy(&c, g_in + (s * 37 + in_byte(s)) % (g_in_n - 7), 8);
    odd_cursor(&w, c);
    odd_cursor(&w, SMR__TABLE_ALIGN * (uint64_t)in_byte(s * 5 + 2) +
                       (in_byte(s) & 1));
  }
  odd_cursor(&w, size);
  odd_cursor(&w, UINT64_MAX);

  free(scratch);
  free(sorted);
  *out_n = n;
  return es;
}

/* ---- the lazy open ------------------------------------------------------ */

/* Look key up lazily: a documented result, a value inside the bytes, and
 * (full: the validated open of the same bytes, or NULL) its very answer. */
static void lazy_probe(const smr_table *lz, const smr_table *full,
                       const unsigned char *base, uint64_t size,
                       const void *key, size_t kl) {
  smr_table_value v, fv;
  int rc = smr_table_get(lz, key, kl, &v);
  if (rc != 0 && rc != -ENOENT && rc != -EBADMSG)
    FAIL("lazy smr_table_get returned %d (%s)", rc, strerror(-rc));
  if (rc == 0)
    in_bounds("lazy smr_table_get value", v.data, v.size, base, size);
  if (!full)
    return;
  int frc = smr_table_get(full, key, kl, &fv);
  if (frc != rc || (rc == 0 && (fv.data != v.data || fv.size != v.size)))
    FAIL("lazy smr_table_get (%d) and validated (%d) differ on a key of %zu "
         "bytes",
         rc, frc, kl);
}

/* smr_table_next on a lazy table from an input cursor. */
static void lazy_cursor(const smr_table *lz, const smr_table *full,
                        const unsigned char *base, uint64_t size,
                        uint64_t cursor) {
  smr_table_entry e, fe;
  uint64_t c = cursor, fc = cursor;
  int rc = smr_table_next(lz, &c, &e);
  if (rc == 1) {
    in_bounds("lazy smr_table_next key (odd cursor)", e.key.data, e.key.size,
              base, size);
    in_bounds("lazy smr_table_next value (odd cursor)", e.value.data,
              e.value.size, base, size);
  } else if (rc != 0 && rc != -EINVAL && rc != -EBADMSG) {
    FAIL("lazy smr_table_next (cursor %llu) returned %d",
         (unsigned long long)cursor, rc);
  }
  if (!full)
    return;
  int frc = smr_table_next(full, &fc, &fe);
  /* An invented cursor inside a record: -EINVAL validated, -EBADMSG lazy. */
  if (frc == -EINVAL && rc == -EBADMSG)
    return;
  if (frc != rc || (rc == 1 && (fc != c || fe.key.data != e.key.data ||
                                fe.value.data != e.value.data)))
    FAIL("lazy smr_table_next (%d) and validated (%d) differ from cursor %llu",
         rc, frc, (unsigned long long)cursor);
}

/* Every check on the lazy open of base[0, size) (see the opening comment);
 * full: the validated open of the same bytes, or NULL if it failed. */
static void check_lazy(const unsigned char *base, uint64_t size,
                       const smr_table *full) {
  smr_table lz;
  int rc = smr_table_open_lazy(&lz, base, size);
  if (rc != 0 && rc != -EBADMSG)
    FAIL("smr_table_open_lazy returned %d (%s)", rc, strerror(-rc));
  if (full && rc != 0)
    FAIL("smr_table_open_lazy refused (%d) bytes smr_table_open accepted", rc);
  if (rc != 0)
    return;
  if (smr_table_count(&lz) >= size / SMR__TABLE_BUCKET_SIZE)
    FAIL("lazy smr_table_count %llu: more than the buckets that fit",
         (unsigned long long)smr_table_count(&lz));
  uint64_t cur = 0, prev = 0, n = 0;
  smr_table_entry e;
  while ((rc = smr_table_next(&lz, &cur, &e)) == 1) {
    if (cur <= prev || cur > size)
      FAIL("lazy smr_table_next: the cursor went from %llu to %llu",
           (unsigned long long)prev, (unsigned long long)cur);
    prev = cur;
    in_bounds("lazy smr_table_next key", e.key.data, e.key.size, base, size);
    in_bounds("lazy smr_table_next value", e.value.data, e.value.size, base,
              size);
    if (n++ < 4096)
      lazy_probe(&lz, full, base, size, e.key.data, e.key.size);
  }
  if (rc != 0 && rc != -EBADMSG)
    FAIL("lazy smr_table_next returned %d after %llu entries", rc,
         (unsigned long long)n);
  if (full && (rc != 0 || n != smr_table_count(full)))
    FAIL("lazy iteration (%d after %llu entries) differs from validated", rc,
         (unsigned long long)n);
  lazy_probe(&lz, full, base, size, NULL, 0);
  for (uint64_t o = 0, kl = 0; (o = forged_key(base, size, o, 256, &kl)) < size;
       o += SMR__TABLE_ALIGN)
    lazy_probe(&lz, full, base, size, base + o + SMR__TABLE_REC_KEY, kl);
  for (size_t s = 0; s < 16 && g_in_n; s++) {
    size_t off = (s * 131 + in_byte(s)) % g_in_n, len = in_byte(s + 3) % 25;
    if (len > g_in_n - off)
      len = g_in_n - off;
    lazy_probe(&lz, full, base, size, g_in + off, len);
  }
  for (size_t s = 0; s < 8 && g_in_n >= 8; s++) {
    uint64_t c;
    memcpy(&c, g_in + (s * 37 + in_byte(s)) % (g_in_n - 7), 8);
    lazy_cursor(&lz, full, base, size, c);
    lazy_cursor(&lz, full, base, size,
                SMR__TABLE_ALIGN * (uint64_t)in_byte(s * 5 + 2) +
                    (in_byte(s) & 1));
  }
  lazy_cursor(&lz, full, base, size, size);
  lazy_cursor(&lz, full, base, size, UINT64_MAX);
}

/* Open `size` bytes at the 8-byte aligned buf, validated and lazily; check
 * the tables that open. */
static void open_and_check(const unsigned char *buf, uint64_t size) {
  smr_table t;
  int rc = smr_table_open(&t, buf, size);
  /* -ENOMEM: its scratch bitmap */
  if (rc != 0 && rc != -EBADMSG && rc != -ENOMEM)
    FAIL("smr_table_open returned %d (%s)", rc, strerror(-rc));
  check_lazy(buf, size, rc == 0 ? &t : NULL);
  if (rc != 0)
    return;
  size_t n;
  free(check_table(&t, buf, size, &n));
}

static void run_open(const uint8_t *data, size_t n) {
  unsigned char *buf = xmalloc(n);
  if ((uintptr_t)buf & 7)
    FAIL("malloc returned a misaligned buffer");
  if (n)
    memcpy(buf, data, n);
  smr_table t;
  if (n >= 1 && smr_table_open(&t, buf + 1, n - 1) != -EINVAL)
    FAIL("smr_table_open of a misaligned view did not return -EINVAL");
  if (smr_table_open(&t, NULL, n) != -EINVAL)
    FAIL("smr_table_open(NULL) did not return -EINVAL");
  if (n >= 1 && smr_table_open_lazy(&t, buf + 1, n - 1) != -EINVAL)
    FAIL("smr_table_open_lazy of a misaligned view did not return -EINVAL");
  if (smr_table_open_lazy(&t, NULL, n) != -EINVAL)
    FAIL("smr_table_open_lazy(NULL) did not return -EINVAL");
  open_and_check(buf, n);
  free(buf);
}

/* ---- building --------------------------------------------------------------
 */

struct rec {
  const uint8_t *k, *v;
  size_t kl, vl, idx;
  bool first, last; /* first / last occurrence of its key */
};

static int rec_cmp(const void *x, const void *y) {
  const struct rec *a = x, *b = y;
  struct ent ea = {a->k, NULL, a->kl, 0}, eb = {b->k, NULL, b->kl, 0};
  int c = key_cmp(&ea, &eb);
  if (c)
    return c;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool is_pow2(uint64_t x) {
  return x && !(x & (x - 1));
}

static void run_build(const uint8_t *data, size_t n) {
  if (n < FZT_BUILD_HEAD)
    return;
  unsigned mode = data[0], a = data[1];
  uint16_t b16;
  memcpy(&b16, data + 2, 2);

  /* The records, and the reference. */
  size_t cap_recs = n / 2 + 1, nrec = 0;
  struct rec *recs = xmalloc(cap_recs * sizeof *recs);
  uint64_t bytes = 0;
  for (size_t p = FZT_BUILD_HEAD; p < n && nrec < cap_recs;) {
    struct rec *r = &recs[nrec];
    r->kl = data[p++];
    if (r->kl > n - p)
      r->kl = n - p;
    r->k = data + p;
    p += r->kl;
    r->vl = p < n ? data[p++] : 0;
    if (r->vl > n - p)
      r->vl = n - p;
    r->v = data + p;
    p += r->vl;
    r->idx = nrec++;
    bytes += r->kl + r->vl;
  }
  struct rec *sorted = xmalloc((nrec + 1) * sizeof *sorted);
  if (nrec)
    memcpy(sorted, recs, nrec * sizeof *recs);
  qsort(sorted, nrec, sizeof *sorted, rec_cmp);
  uint64_t distinct = 0;
  for (size_t i = 0; i < nrec; i++) {
    const struct rec *r = &sorted[i];
    struct ent e = {r->k, NULL, r->kl, 0};
    bool first = true, last = true;
    if (i > 0) {
      struct ent p = {sorted[i - 1].k, NULL, sorted[i - 1].kl, 0};
      first = key_cmp(&p, &e) != 0;
    }
    if (i + 1 < nrec) {
      struct ent q = {sorted[i + 1].k, NULL, sorted[i + 1].kl, 0};
      last = key_cmp(&e, &q) != 0;
    }
    recs[r->idx].first = first;
    recs[r->idx].last = last;
    distinct += first;
  }
  free(sorted);

  uint64_t maxe;
  switch ((mode >> FZT_MAX_SHIFT) & FZT_MAX_MASK) {
  case FZT_MAX_RECS:
    maxe = nrec;
    break;
  case FZT_MAX_EXACT:
    maxe = distinct;
    break;
  case FZT_MAX_SHORT:
    maxe = distinct ? distinct - 1 : 0;
    break;
  default:
    maxe = a % 8;
    break;
  }
  uint64_t bound = smr_table_size_bound(maxe > nrec ? maxe : nrec, bytes);
  if (bound == 0)
    FAIL("smr_table_size_bound(%llu, %llu) returned 0",
         (unsigned long long)(maxe > nrec ? maxe : nrec),
         (unsigned long long)bytes);
  uint64_t cap;
  switch ((mode >> FZT_CAP_SHIFT) & FZT_CAP_MASK) {
  case FZT_CAP_BOUND:
    cap = bound;
    break;
  case FZT_CAP_MINUS:
    cap = bound > 8ull * a ? bound - 8ull * a : 0;
    break;
  case FZT_CAP_TINY:
    cap = 8ull * a;
    break;
  default:
    cap = bound + a;
    break;
  }
  bool enough = cap >= bound && distinct <= maxe;
  unsigned char *buf = xmalloc((size_t)cap);

  /* At least the header and max_entries + 1 buckets. */
  uint64_t min_head =
      SMR__TABLE_HEADER_SIZE + SMR__TABLE_BUCKET_SIZE * (maxe + 1);
  smr_table_builder b;
  int rc = smr_table_build_begin(&b, buf, cap, maxe);
  if (rc != 0 && rc != -ENOSPC)
    FAIL("smr_table_build_begin returned %d (%s)", rc, strerror(-rc));
  if (rc == -ENOSPC && cap >= smr_table_size_bound(maxe, 0))
    FAIL("smr_table_build_begin: -ENOSPC with cap %llu >= "
         "smr_table_size_bound(%llu, 0)",
         (unsigned long long)cap, (unsigned long long)maxe);
  if (rc == 0 && cap < min_head)
    FAIL("smr_table_build_begin accepted cap %llu, below the header and %llu "
         "buckets",
         (unsigned long long)cap, (unsigned long long)(maxe + 1));
  int first_err = rc;
  uint64_t head_max = smr_table_size_bound(maxe, 0);
  uint64_t used = 0, seen = 0; /* record bytes and distinct keys added */
  for (size_t i = 0; i < nrec; i++) {
    const struct rec *r = &recs[i];
    int ra = smr_table_build_add(&b, r->k, r->kl, r->v, r->vl);
    uint64_t need = SMR__TABLE_REC_SIZE(r->kl, r->vl);
    if (first_err) {
      if (ra != first_err)
        FAIL("smr_table_build_add returned %d after the error %d (not "
             "sticky)",
             ra, first_err);
      continue;
    }
    if (ra == 0) {
      if (r->first && seen == maxe)
        FAIL("smr_table_build_add accepted a new key beyond max_entries "
             "%llu",
             (unsigned long long)maxe);
      seen += r->first;
      used += need;
      if (smr_table_build_count(&b) != seen)
        FAIL("smr_table_build_count %llu after %llu distinct keys",
             (unsigned long long)smr_table_build_count(&b),
             (unsigned long long)seen);
      if (min_head + used > cap)
        FAIL("smr_table_build_add accepted record %zu past cap %llu", i,
             (unsigned long long)cap);
    } else if (ra == -E2BIG) {
      if (!r->first || seen < maxe)
        FAIL("smr_table_build_add: -E2BIG for record %zu (%s key, %llu of "
             "%llu distinct keys in)",
             i, r->first ? "a new" : "an old", (unsigned long long)seen,
             (unsigned long long)maxe);
      first_err = ra;
    } else if (ra == -ENOSPC) {
      /* The header and buckets take at most size_bound(maxe, 0). */
      if (head_max + used + need <= cap)
        FAIL("smr_table_build_add: -ENOSPC for record %zu (%llu bytes) with "
             "room (cap %llu, records so far %llu, header and buckets at "
             "most %llu)",
             i, (unsigned long long)need, (unsigned long long)cap,
             (unsigned long long)used, (unsigned long long)head_max);
      first_err = ra;
    } else {
      FAIL("smr_table_build_add returned %d (%s)", ra, strerror(-ra));
    }
  }
  if (smr_table_build_count(NULL) != 0)
    FAIL("smr_table_build_count(NULL) is not 0");
  uint64_t size = 0;
  rc = smr_table_build_end(&b, &size);
  if (first_err) {
    if (rc != first_err)
      FAIL("smr_table_build_end returned %d, the first error was %d", rc,
           first_err);
  } else if (rc != 0) {
    FAIL("smr_table_build_end returned %d with no error before", rc);
  }
  if (enough && first_err)
    FAIL("building failed (%d) with cap %llu >= the size bound %llu and "
         "max_entries %llu >= %llu distinct keys",
         first_err, (unsigned long long)cap, (unsigned long long)bound,
         (unsigned long long)maxe, (unsigned long long)distinct);
  if (first_err) {
    free(buf);
    free(recs);
    return;
  }

  /* The size: header, buckets, one record per add. */
  if (size % SMR__TABLE_ALIGN || size > cap || size < used + min_head)
    FAIL("built size %llu (cap %llu, records %llu, max_entries %llu)",
         (unsigned long long)size, (unsigned long long)cap,
         (unsigned long long)used, (unsigned long long)maxe);
  uint64_t nb = (size - used - SMR__TABLE_HEADER_SIZE) / SMR__TABLE_BUCKET_SIZE;
  if (!is_pow2(nb) || nb <= maxe)
    FAIL("built size %llu: %llu bytes of buckets for max_entries %llu",
         (unsigned long long)size,
         (unsigned long long)(size - used - SMR__TABLE_HEADER_SIZE),
         (unsigned long long)maxe);

  /* It opens and holds exactly the last occurrence of each key. */
  smr_table t;
  rc = smr_table_open(&t, buf, size);
  if (rc != 0)
    FAIL("smr_table_open of a built table returned %d (%s)", rc, strerror(-rc));
  if (smr_table_count(&t) != distinct)
    FAIL("built table counts %llu entries, %llu distinct keys were added",
         (unsigned long long)smr_table_count(&t), (unsigned long long)distinct);
  size_t got;
  struct ent *es = check_table(&t, buf, size, &got);
  size_t j = 0;
  for (size_t i = 0; i < nrec; i++) {
    const struct rec *r = &recs[i];
    if (!r->last)
      continue;
    if (j >= got || es[j].kl != r->kl || es[j].vl != r->vl ||
        (r->kl && memcmp(es[j].k, r->k, r->kl) != 0) ||
        (r->vl && memcmp(es[j].v, r->v, r->vl) != 0))
      FAIL("built table: iteration entry %zu is not record %zu (the last "
           "occurrence of its key)",
           j, i);
    smr_table_value v;
    rc = smr_table_get(&t, r->k, r->kl, &v);
    if (rc != 0 || v.size != r->vl ||
        (r->vl && memcmp(v.data, r->v, r->vl) != 0))
      FAIL("built table: key of record %zu does not look up its last value "
           "(rc %d)",
           i, rc);
    j++;
  }
  free(es);

  if ((mode & FZT_MUTATE) && size) {
    unsigned char *m = xmalloc((size_t)size);
    memcpy(m, buf, (size_t)size);
    uint64_t off = b16 % size;
    for (unsigned k = 0; k <= a % 8 && off + k < size; k++)
      m[off + k] = (unsigned char)(in_byte(a + k) ^ (a * (k + 1)));
    open_and_check(m, size);
    free(m);
  }
  free(buf);
  free(recs);
}

/* ---- entry points ----------------------------------------------------------
 */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tol = getenv("SMR_FUZZ_TABLE_TOLERATE");
  if (tol && *tol) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", tol);
    for (char *save = NULL, *s = strtok_r(buf, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
      if (strcmp(s, "unreachable") == 0)
        g_tolerate |= TOL_UNREACHABLE;
      else if (strcmp(s, "duplicate") == 0)
        g_tolerate |= TOL_DUPLICATE;
      else if (strcmp(s, "phantom") == 0)
        g_tolerate |= TOL_PHANTOM;
      else {
        fprintf(stderr,
                "fuzz_table: SMR_FUZZ_TABLE_TOLERATE: unknown oracle '%s' "
                "(unreachable, duplicate, phantom)\n",
                s);
        exit(2);
      }
    }
    fprintf(stderr,
            "fuzz_table: SMR_FUZZ_TABLE_TOLERATE=%s: those oracles "
            "are off\n",
            tol);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  g_in = data;
  g_in_n = size;
  if (data[0] & FZT_BUILD)
    run_build(data, size);
  else
    run_open(data + 1, size - 1);
  g_in = NULL;
  g_in_n = 0;
  return 0;
}

#ifdef FZ_REPLAY_MAIN
#include "fuzz_replay.h"
/* fuzz_table_replay FILE|DIR...: each input once, directories in name
 * order. */
static unsigned long g_replayed;

static void replay_file(const char *path) {
  size_t n;
  uint8_t *in = fz_read_file("fuzz_table_replay", path, &n);
  g_input = path;
  LLVMFuzzerTestOneInput(in, n);
  g_input = NULL;
  free(in);
  g_replayed++;
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int r = fz_replay_args("fuzz_table_replay", argc, argv, replay_file);
  if (r != 0)
    return r;
  printf("fuzz_table_replay: %lu inputs, no failure\n", g_replayed);
  return 0;
}
#endif
