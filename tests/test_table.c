/* SPDX-License-Identifier: MIT */
/* Flat tables (smr/table.h): build / look up / iterate round trips on random
 * data, the edge cases (empty table, one entry, empty keys and values,
 * binary keys with NULs), the duplicate rule (last wins), builder errors,
 * and validation of corrupted tables: every header field and every bucket
 * and record length mutated must give -EBADMSG or a table that still
 * behaves (never a crash: run under ASAN/UBSAN).  SMR_TABLE_BIG=N sets the
 * entry count of the large round trip (default 1,000,000; CI runs 10M in
 * test_table_big).  The lazy open (smr_table_open_lazy): the same answers
 * on every valid table, and on corrupt ones (every mutant above, random
 * byte corruption, forged tables with no empty bucket, buckets and records
 * pointing anywhere) only documented results, reads inside the bytes (each
 * mutant lives in a buffer of exactly its size) and bounded work.  The
 * checked open (smr_table_open_checked): its check sees every byte read
 * (garbage in a window the check refuses never shows in an answer). */
#include "check.h"
#include "smr/table.h"
#include "table_layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) {
  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void *xmalloc(uint64_t n) {
  void *p = malloc(n ? (size_t)n : 1);
  CHECK(p);
  return p;
}

/* Key i: 8 bytes of i (NULs included) plus 0..7 bytes of its hash. */
static size_t make_key(uint64_t i, unsigned char *k) {
  memcpy(k, &i, 8);
  size_t n = 8 + (size_t)(i * 0x9e3779b97f4a7c15ull >> 61);
  for (size_t j = 8; j < n; j++)
    k[j] = (unsigned char)(i >> (j * 3));
  return n;
}

/* Value of key i in generation g: 0..31 bytes. */
static size_t make_value(uint64_t i, unsigned g, unsigned char *v) {
  size_t n = (size_t)((i + g) % 32);
  for (size_t j = 0; j < n; j++)
    v[j] = (unsigned char)(i * 31 + j + g);
  return n;
}

/* Build n keys (each value generation 0) into a fresh buffer. */
static unsigned char *build(uint64_t n, uint64_t *size) {
  uint64_t cap = smr_table_size_bound(n, n * (15 + 31));
  CHECK(cap > 0);
  unsigned char *buf = xmalloc(cap);
  smr_table_builder b;
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, n), 0);
  unsigned char k[16], v[32];
  for (uint64_t i = 0; i < n; i++) {
    size_t kl = make_key(i, k), vl = make_value(i, 0, v);
    CHECK_EQ(smr_table_build_add(&b, k, kl, v, vl), 0);
  }
  CHECK_EQ(smr_table_build_end(&b, size), 0);
  CHECK(*size <= cap);
  return buf;
}

static void check_all(const smr_table *t, uint64_t n) {
  CHECK_EQ(smr_table_count(t), n);
  unsigned char k[16], v[32];
  smr_table_value got;
  for (uint64_t i = 0; i < n; i++) {
    size_t kl = make_key(i, k), vl = make_value(i, 0, v);
    CHECK_EQ(smr_table_get(t, k, kl, &got), 0);
    CHECK_EQ(got.size, vl);
    CHECK(vl == 0 || memcmp(got.data, v, vl) == 0);
  }
  /* Absent keys: other indices, and prefixes of present keys. */
  for (uint64_t i = n; i < n + 1000; i++) {
    size_t kl = make_key(i, k);
    CHECK_EQ(smr_table_get(t, k, kl, &got), -ENOENT);
    CHECK_EQ(smr_table_get(t, k, kl - 1, &got), -ENOENT);
  }
  /* Iteration: insertion order, every key once. */
  uint64_t cursor = 0, seen = 0;
  smr_table_entry e;
  int r;
  while ((r = smr_table_next(t, &cursor, &e)) == 1) {
    size_t kl = make_key(seen, k), vl = make_value(seen, 0, v);
    CHECK_EQ(e.key.size, kl);
    CHECK(memcmp(e.key.data, k, kl) == 0);
    CHECK_EQ(e.value.size, vl);
    CHECK(vl == 0 || memcmp(e.value.data, v, vl) == 0);
    seen++;
  }
  CHECK_EQ(r, 0);
  CHECK_EQ(seen, n);
}

static void test_round_trips(void) {
  uint64_t sizes[] = {0, 1, 2, 3, 7, 100, 4096, 100000};
  for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    uint64_t size;
    unsigned char *buf = build(sizes[s], &size);
    smr_table t;
    CHECK_EQ(smr_table_open(&t, buf, size), 0);
    check_all(&t, sizes[s]);
    /* The lazy open gives exactly the validated answers. */
    CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
    check_all(&t, sizes[s]);
    free(buf);
  }
}

static void test_big(uint64_t n) {
  uint64_t size;
  unsigned char *buf = build(n, &size);
  smr_table t;
  CHECK_EQ(smr_table_open(&t, buf, size), 0);
  check_all(&t, n);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  check_all(&t, n);
  free(buf);
}

/* Empty keys and values, NULs inside keys, keys that differ only in
 * length or in their last byte. */
static void test_edges(void) {
  uint64_t cap = smr_table_size_bound(8, 64);
  unsigned char *buf = xmalloc(cap);
  smr_table_builder b;
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 8), 0);
  CHECK_EQ(smr_table_build_add(&b, NULL, 0, "empty-key", 9), 0);
  CHECK_EQ(smr_table_build_add(&b, "e", 1, NULL, 0), 0);
  CHECK_EQ(smr_table_build_add(&b, "\0", 1, "nul", 3), 0);
  CHECK_EQ(smr_table_build_add(&b, "\0\0", 2, "nulnul", 6), 0);
  CHECK_EQ(smr_table_build_add(&b, "a\0b", 3, "x", 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "a\0c", 3, "y", 1), 0);
  uint64_t size;
  CHECK_EQ(smr_table_build_end(&b, &size), 0);
  smr_table t;
  CHECK_EQ(smr_table_open(&t, buf, size), 0);
  CHECK_EQ(smr_table_count(&t), 6);
  smr_table_value v;
  CHECK_EQ(smr_table_get(&t, NULL, 0, &v), 0);
  CHECK(v.size == 9 && memcmp(v.data, "empty-key", 9) == 0);
  CHECK_EQ(smr_table_get(&t, "e", 1, &v), 0);
  CHECK_EQ(v.size, 0);
  CHECK_EQ(smr_table_get(&t, "\0", 1, &v), 0);
  CHECK(v.size == 3 && memcmp(v.data, "nul", 3) == 0);
  CHECK_EQ(smr_table_get(&t, "\0\0", 2, &v), 0);
  CHECK(v.size == 6);
  CHECK_EQ(smr_table_get(&t, "\0\0\0", 3, &v), -ENOENT);
  CHECK_EQ(smr_table_get(&t, "a\0c", 3, &v), 0);
  CHECK(v.size == 1 && memcmp(v.data, "y", 1) == 0);
  CHECK_EQ(smr_table_get(&t, "a\0d", 3, &v), -ENOENT);
  free(buf);
}

/* Last wins; iteration shows only the winner, in its own (later) place. */
static void test_duplicates(void) {
  uint64_t cap = smr_table_size_bound(3, 64);
  unsigned char *buf = xmalloc(cap);
  smr_table_builder b;
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 3), 0);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "one", 3), 0);
  CHECK_EQ(smr_table_build_add(&b, "j", 1, "jay", 3), 0);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "two", 3), 0);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "three", 5), 0);
  uint64_t size;
  CHECK_EQ(smr_table_build_end(&b, &size), 0);
  smr_table t;
  CHECK_EQ(smr_table_open(&t, buf, size), 0);
  CHECK_EQ(smr_table_count(&t), 2);
  smr_table_value v;
  CHECK_EQ(smr_table_get(&t, "k", 1, &v), 0);
  CHECK(v.size == 5 && memcmp(v.data, "three", 5) == 0);
  uint64_t cursor = 0;
  smr_table_entry e;
  CHECK_EQ(smr_table_next(&t, &cursor, &e), 1);
  CHECK(e.key.size == 1 && memcmp(e.key.data, "j", 1) == 0);
  CHECK_EQ(smr_table_next(&t, &cursor, &e), 1);
  CHECK(e.value.size == 5 && memcmp(e.value.data, "three", 5) == 0);
  CHECK_EQ(smr_table_next(&t, &cursor, &e), 0);
  free(buf);
}

static void test_builder_errors(void) {
  smr_table_builder b;
  /* The header, two buckets and one record of "k" and "v" (8 bytes of
   * lengths, 2 of key and value padded to 8). */
  unsigned char small[SMR__TABLE_HEADER_SIZE + 2 * SMR__TABLE_BUCKET_SIZE +
                      SMR__TABLE_REC_KEY + SMR__TABLE_ALIGN];
  uint64_t *aligned = (uint64_t *)(void *)small;
  uint64_t size;
  CHECK_EQ(smr_table_build_begin(NULL, aligned, sizeof small, 1), -EINVAL);
  /* A NULL or misaligned buffer: the error is kept in the builder like the
   * others (it used to return before resetting it, so the adds below ran
   * on whatever the builder held: here, garbage). */
  memset(&b, 0xab, sizeof b);
  CHECK_EQ(smr_table_build_begin(&b, NULL, sizeof small, 1), -EINVAL);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "v", 1), -EINVAL);
  CHECK_EQ(smr_table_build_end(&b, &size), -EINVAL);
  memset(&b, 0xab, sizeof b);
  CHECK_EQ(smr_table_build_begin(&b, small + 1, sizeof small - 1, 1), -EINVAL);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "v", 1), -EINVAL);
  CHECK_EQ(smr_table_build_begin(&b, aligned, SMR__TABLE_HEADER_SIZE - 1, 0),
           -ENOSPC);
  CHECK_EQ(smr_table_build_begin(&b, aligned, sizeof small, 1ull << 33),
           -E2BIG);
  /* One entry fits: buckets_for(1) = 2. */
  CHECK_EQ(smr_table_build_begin(&b, aligned, sizeof small, 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "v", 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "k2", 2, "v", 1), -ENOSPC);
  CHECK_EQ(smr_table_build_add(&b, "k", 1, "v", 1), -ENOSPC); /* sticky */
  CHECK_EQ(smr_table_build_end(&b, &size), -ENOSPC);
  /* More distinct keys than announced. */
  uint64_t cap = smr_table_size_bound(4, 64);
  unsigned char *buf = xmalloc(cap);
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "a", 1, "", 0), 0);
  CHECK_EQ(smr_table_build_add(&b, "a", 1, "x", 1), 0); /* replaces */
  CHECK_EQ(smr_table_build_add(&b, "b", 1, "", 0), -E2BIG);
  CHECK_EQ(smr_table_build_end(&b, &size), -E2BIG);
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 1), 0);
  CHECK_EQ(smr_table_build_add(&b, NULL, 1, "", 0), -EINVAL);
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "a", 1, NULL, 1), -EINVAL);
  CHECK_EQ(smr_table_build_begin(&b, buf, cap, 1), 0);
  CHECK_EQ(smr_table_build_add(&b, "a", (size_t)SMR_TABLE_MAX_FIELD + 1, "", 0),
           -EFBIG);
  CHECK_EQ(smr_table_size_bound(SMR_TABLE_MAX_ENTRIES + 1, 0), 0);
  CHECK_EQ(smr_table_size_bound(1, 2 * SMR__TABLE_MAX_SIZE), 0);
  free(buf);
  smr_table t;
  smr_table_value v;
  CHECK_EQ(smr_table_open(NULL, aligned, SMR__TABLE_HEADER_SIZE), -EINVAL);
  CHECK_EQ(smr_table_open(&t, NULL, SMR__TABLE_HEADER_SIZE), -EINVAL);
  CHECK_EQ(smr_table_open(&t, small + 1, SMR__TABLE_HEADER_SIZE), -EINVAL);
  CHECK_EQ(smr_table_get(NULL, "k", 1, &v), -EINVAL);
}

/* A lookup and a full iteration over a table that opened: must not crash
 * (ASAN checks the reads), and every key iteration returns is found. */
static void exercise(const smr_table *t) {
  uint64_t cursor = 0, n = 0;
  smr_table_entry e;
  int r;
  while ((r = smr_table_next(t, &cursor, &e)) == 1) {
    smr_table_value v;
    CHECK_EQ(smr_table_get(t, e.key.data, e.key.size, &v), 0);
    n++;
  }
  CHECK_EQ(r, 0);
  CHECK(n >= smr_table_count(t)); /* duplicates of a corrupt table */
}

/* buf = good (size bytes) with the 8 bytes at off changed: kind k = 0 one
 * bit flipped, 1 zero, 2 all ones, 3 random. */
static void mutate_word(unsigned char *buf, const unsigned char *good,
                        uint64_t size, uint64_t off, unsigned k) {
  memcpy(buf, good, size);
  uint64_t w;
  memcpy(&w, buf + off, 8);
  uint64_t vals[] = {w ^ (1ull << (rnd() % 64)), 0, ~0ull, rnd()};
  memcpy(buf + off, &vals[k], 8);
}

/* Flip bits and overwrite words all over a valid table; each mutant must
 * be refused or behave. */
static void test_corrupt(void) {
  uint64_t size;
  unsigned char *good = build(300, &size);
  unsigned char *buf = xmalloc(size);
  unsigned opened = 0, refused = 0;
  for (uint64_t off = 0; off + 8 <= size; off += 4) {
    for (unsigned k = 0; k < 4; k++) {
      mutate_word(buf, good, size, off, k);
      smr_table t;
      int r = smr_table_open(&t, buf, size);
      CHECK(r == 0 || r == -EBADMSG);
      if (r == 0) {
        exercise(&t);
        opened++;
      } else {
        refused++;
      }
    }
  }
  /* Truncations. */
  for (uint64_t n = 0; n < size; n += 1 + n / 8) {
    smr_table t;
    int r = smr_table_open(&t, good, n);
    if (n < size) /* the records end at `size` */
      CHECK_EQ(r, -EBADMSG);
  }
  smr_table t;
  CHECK_EQ(smr_table_open(&t, good, size + 0), 0);
  /* Some mutants are harmless (value bytes, padding), most are not. */
  CHECK(refused > opened);
  CHECK(opened > 0);
  free(buf);
  free(good);
}

/* ---- the lazy open ------------------------------------------------------- */

/* p[0, n) lies inside buf[0, size). */
static bool inside(const void *p, size_t n, const unsigned char *buf,
                   uint64_t size) {
  const unsigned char *c = p;
  return c >= buf && c <= buf + size && n <= (uint64_t)(buf + size - c);
}

/* A lookup on a lazily opened table: a documented result, and a value
 * inside the bytes. */
static int lazy_get(const smr_table *t, const void *k, size_t kl,
                    const unsigned char *buf, uint64_t size) {
  smr_table_value v;
  int r = smr_table_get(t, k, kl, &v);
  CHECK(r == 0 || r == -ENOENT || r == -EBADMSG);
  if (r == 0)
    CHECK(inside(v.data, v.size, buf, size));
  return r;
}

/* Iterate a lazily opened table and look up what it yields and a few
 * absent keys: documented results only, everything inside the bytes, at
 * most one entry per 8 bytes.  Returns the entries iterated. */
static uint64_t exercise_lazy(const smr_table *t, const unsigned char *buf,
                              uint64_t size) {
  uint64_t cursor = 0, n = 0, prev = 0;
  smr_table_entry e;
  int r;
  while ((r = smr_table_next(t, &cursor, &e)) == 1) {
    CHECK(inside(e.key.data, e.key.size, buf, size));
    CHECK(inside(e.value.data, e.value.size, buf, size));
    CHECK(cursor > prev && cursor <= size);
    prev = cursor;
    lazy_get(t, e.key.data, e.key.size, buf, size);
    CHECK(++n <= size / 8);
  }
  CHECK(r == 0 || r == -EBADMSG);
  unsigned char k[16];
  for (uint64_t i = 0; i < 64; i++) {
    size_t kl = make_key(rnd(), k);
    lazy_get(t, k, kl, buf, size);
  }
  lazy_get(t, NULL, 0, buf, size);
  /* Records forged anywhere: the bytes at each 8-aligned offset as a key. */
  for (uint64_t off = 0; off + 8 <= size; off += 8) {
    uint32_t kl;
    memcpy(&kl, buf + off, 4);
    if (kl <= size - off - 8)
      lazy_get(t, buf + off + 8, kl, buf, size);
  }
  return n;
}

/* A valid table of n keys (good), a buffer of exactly its size for its
 * mutants (buf) and its header (h). */
struct mutants {
  unsigned char *good, *buf;
  uint64_t size;
  struct smr__table_header h;
};

static void mutants_new(struct mutants *m, uint64_t n) {
  m->good = build(n, &m->size);
  m->buf = xmalloc(m->size);
  memcpy(&m->h, m->good, sizeof m->h);
}

static void mutants_free(struct mutants *m) {
  free(m->buf);
  free(m->good);
}

/* The lazy open's argument and header errors (the round trips above also
 * open every valid table lazily). */
static void test_lazy_args(void) {
  smr_table t;
  uint64_t aligned[(SMR__TABLE_HEADER_SIZE + 8) / 8] = {0}; /* all zero */
  const unsigned char *hdr = (const unsigned char *)aligned;
  CHECK_EQ(smr_table_open_lazy(NULL, aligned, sizeof aligned), -EINVAL);
  CHECK_EQ(smr_table_open_lazy(&t, NULL, sizeof aligned), -EINVAL);
  CHECK_EQ(smr_table_open_lazy(&t, hdr + 1, sizeof aligned - 1), -EINVAL);
  CHECK_EQ(smr_table_open_lazy(&t, aligned, sizeof aligned), -EBADMSG);
  CHECK_EQ(smr_table_open_lazy(&t, aligned, 0), -EBADMSG);
}

/* Every mutant and truncation of test_corrupt, opened lazily: the header's
 * verdict is smr_table_open's (a header it refuses, the lazy open
 * refuses), a table it accepts answers the same, and the rest behave. */
static void test_lazy_corrupt(void) {
  struct mutants m;
  mutants_new(&m, 300);
  unsigned char *good = m.good, *buf = m.buf;
  uint64_t size = m.size;
  unsigned lazy_only = 0, bad_gets = 0;
  for (uint64_t off = 0; off + 8 <= size; off += 4) {
    for (unsigned k = 0; k < 4; k++) {
      mutate_word(buf, good, size, off, k);
      smr_table t, lz;
      int r = smr_table_open(&t, buf, size),
          rl = smr_table_open_lazy(&lz, buf, size);
      CHECK(rl == 0 || rl == -EBADMSG);
      if (r == 0) {
        CHECK_EQ(rl, 0);
        CHECK_EQ(exercise_lazy(&lz, buf, size), smr_table_count(&t));
        continue;
      }
      if (rl == 0) {
        lazy_only++;
        exercise_lazy(&lz, buf, size);
        /* Every key of the good table: a documented answer. */
        unsigned char kk[16];
        for (uint64_t i = 0; i < 300; i++) {
          size_t kl = make_key(i, kk);
          bad_gets += lazy_get(&lz, kk, kl, buf, size) == -EBADMSG;
        }
      }
    }
  }
  CHECK(lazy_only > 0);
  CHECK(bad_gets > 0);
  /* Truncations: the header's end is past them. */
  for (uint64_t n = 0; n < size; n += 1 + n / 8) {
    smr_table t;
    CHECK_EQ(smr_table_open_lazy(&t, good, n), -EBADMSG);
  }
  /* Truncations with the header's end moved back to them: records cut
   * anywhere, buckets pointing past the end. */
  struct smr__table_header h = m.h;
  for (uint64_t n = h.records; n < size; n += 8) {
    unsigned char *cut = xmalloc(n);
    memcpy(cut, good, n);
    struct smr__table_header hc = h;
    hc.end = n;
    memcpy(cut, &hc, sizeof hc);
    smr_table t;
    CHECK_EQ(smr_table_open(&t, cut, n), -EBADMSG);
    CHECK_EQ(smr_table_open_lazy(&t, cut, n), 0);
    exercise_lazy(&t, cut, n);
    free(cut);
  }
  mutants_free(&m);
}

/* Random bytes overwritten (1 to 16 per round, half of the rounds inside
 * the buckets), deterministic seed: every round opens lazily or not, and
 * behaves. */
static void test_lazy_random(void) {
  struct mutants m;
  mutants_new(&m, 500);
  unsigned char *good = m.good, *buf = m.buf;
  uint64_t size = m.size, nb = m.h.nbuckets;
  unsigned opened = 0;
  for (unsigned round = 0; round < 3000; round++) {
    memcpy(buf, good, size);
    unsigned n = 1 + (unsigned)(rnd() % 16);
    for (unsigned j = 0; j < n; j++) {
      uint64_t at =
          round % 2 ? SMR__TABLE_HEADER_SIZE + rnd() % (nb * 8) : rnd() % size;
      buf[at] = (unsigned char)rnd();
    }
    smr_table t;
    int r = smr_table_open_lazy(&t, buf, size);
    CHECK(r == 0 || r == -EBADMSG);
    if (r == 0) {
      opened++;
      exercise_lazy(&t, buf, size);
    }
  }
  CHECK(opened > 1000);
  mutants_free(&m);
}

/* Forged tables whose probes would never end under the validated loop:
 * every bucket in use (no empty one), all pointing at one record, or at
 * offsets outside the records; records whose lengths run past the end. */
static void test_lazy_forged(void) {
  struct mutants m;
  mutants_new(&m, 100);
  unsigned char *good = m.good, *buf = m.buf;
  uint64_t size = m.size, nb = m.h.nbuckets, *bk = xmalloc(nb * 8), first = 0;
  memcpy(bk, good + SMR__TABLE_HEADER_SIZE, nb * 8);
  for (uint64_t i = 0; i < nb && !first; i++)
    first = bk[i];
  smr_table t;
  smr_table_value v;
  unsigned char k[16];
  size_t kl = make_key(1000, k); /* absent */
  /* 1. No empty bucket: every empty one copies a used one. */
  memcpy(buf, good, size);
  for (uint64_t i = 0; i < nb; i++)
    if (!bk[i])
      memcpy(buf + SMR__TABLE_HEADER_SIZE + 8 * i, &first, 8);
  CHECK_EQ(smr_table_open(&t, buf, size), -EBADMSG);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  CHECK_EQ(smr_table_get(&t, k, kl, &v), -EBADMSG);
  exercise_lazy(&t, buf, size);
  /* 2. Every bucket the same, with the absent key's tag (a cycle through
   * one record whose key never matches). */
  uint64_t tag = SMR__TABLE_TAG(first);
  for (unsigned c = 0; c < 3; c++) {
    memcpy(buf, good, size);
    uint64_t off = c == 0   ? SMR__TABLE_BUCKET_OFF(first)
                   : c == 1 ? size                    /* past the records */
                            : SMR__TABLE_HEADER_SIZE; /* a bucket */
    uint64_t b = SMR__TABLE_BUCKET(tag, off);
    for (uint64_t i = 0; i < nb; i++)
      memcpy(buf + SMR__TABLE_HEADER_SIZE + 8 * i, &b, 8);
    CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
    /* Every key with the record's tag probes all nbuckets buckets. */
    exercise_lazy(&t, buf, size);
    uint64_t cursor = 0;
    smr_table_entry e;
    CHECK_EQ(smr_table_next(&t, &cursor, &e), 1);
    int r = smr_table_get(&t, e.key.data, e.key.size, &v);
    CHECK(c == 0 ? r == 0 || r == -EBADMSG : r == -EBADMSG || r == -ENOENT);
  }
  /* 3. The first record's key length past the end (a matching length
   * cannot be forged cheaply: the record's own key, made longer). */
  memcpy(buf, good, size);
  uint64_t off = SMR__TABLE_BUCKET_OFF(first);
  uint32_t klen, big = 0x7ffffff0u;
  memcpy(&klen, buf + off, 4);
  memcpy(buf + off, &big, 4);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  uint64_t cursor = 0, n = 0;
  smr_table_entry e;
  int r;
  while ((r = smr_table_next(&t, &cursor, &e)) == 1)
    n++;
  CHECK_EQ(r, -EBADMSG); /* iteration stops at the broken record */
  CHECK(n < 100);
  exercise_lazy(&t, buf, size);
  /* 4. The bucket's record marked replaced: no key matches it (a wrong
   * answer: -ENOENT for a key the table holds). */
  memcpy(buf, good, size);
  uint32_t rk = klen | SMR__TABLE_REPLACED;
  memcpy(buf + off, &rk, 4);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  CHECK_EQ(smr_table_get(&t, buf + off + 8, klen, &v), -ENOENT);
  /* 5. Its value length past the end. */
  memcpy(buf, good, size);
  memcpy(buf + off + 4, &big, 4);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  CHECK_EQ(smr_table_get(&t, buf + off + 8, klen, &v), -EBADMSG);
  /* 6. A value length that, added to the key length, wraps to 0..7 in 32
   * bits: the check must not add them in a 32-bit size_t (a 32-bit build
   * used to return a value of ~4 GiB starting past the end; a 64-bit
   * build cannot show it, a 32-bit one fails here without the fix). */
  memcpy(buf, good, size);
  uint32_t wrap = (uint32_t)(0u - klen);
  memcpy(buf + off + 4, &wrap, 4);
  CHECK_EQ(smr_table_open_lazy(&t, buf, size), 0);
  CHECK_EQ(smr_table_get(&t, buf + off + 8, klen, &v), -EBADMSG);
  free(bk);
  mutants_free(&m);
}

/* smr_table_open_checked: a check that refuses every range meeting the
 * window [lo, hi) (with -EIO, so it can be told from -EBADMSG) and
 * counts its calls. */
struct window {
  uint64_t lo, hi, size, calls;
};

static int window_check(void *arg, uint64_t off, uint64_t len) {
  struct window *w = arg;
  w->calls++;
  CHECK(off <= w->size && len <= w->size - off); /* inside the table */
  return off < w->hi && off + len > w->lo ? -EIO : 0;
}

/* The check sees every byte a lookup or an iteration step reads: with the
 * bytes of a window replaced by garbage and the check refusing the window,
 * every answer is -EIO or the clean table's answer.  Random windows of 1
 * to 64 bytes anywhere in a table of 400 keys (and its absent keys). */
static void test_checked_window(void) {
  struct mutants m;
  mutants_new(&m, 400);
  unsigned char *good = m.good, *buf = m.buf, k[16];
  uint64_t size = m.size;
  smr_table clean, t;
  CHECK_EQ(smr_table_open(&clean, good, size), 0);
  unsigned refused = 0, answered = 0;
  for (unsigned round = 0; round < 400; round++) {
    memcpy(buf, good, size);
    struct window w = {.size = size};
    w.lo = round < 8 ? round * 8 : rnd() % size;
    w.hi = w.lo + 1 + rnd() % 64;
    if (w.hi > size)
      w.hi = size;
    for (uint64_t i = w.lo; i < w.hi; i++)
      buf[i] = (unsigned char)rnd();
    int r = smr_table_open_checked(&t, buf, size, window_check, &w);
    if (w.lo < SMR__TABLE_HEADER_SIZE) {
      CHECK_EQ(r, -EIO); /* the header is checked before it is read */
      continue;
    }
    CHECK_EQ(r, 0);
    for (uint64_t i = 0; i < 420; i++) {
      size_t kl = make_key(i, k);
      smr_table_value a, b;
      int ra = smr_table_get(&clean, k, kl, &a),
          rb = smr_table_get(&t, k, kl, &b);
      if (rb == -EIO) {
        refused++;
        continue;
      }
      answered++;
      CHECK_EQ(rb, ra);
      if (ra == 0) {
        CHECK_EQ(b.size, a.size);
        CHECK(b.data == buf + ((const unsigned char *)a.data - good));
        CHECK(a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
      }
    }
    uint64_t ca = 0, cb = 0;
    smr_table_entry ea, eb;
    for (;;) {
      int rb = smr_table_next(&t, &cb, &eb),
          ra = smr_table_next(&clean, &ca, &ea);
      if (rb == -EIO)
        break;
      CHECK_EQ(rb, ra);
      if (ra != 1)
        break;
      CHECK_EQ(ca, cb);
      CHECK(eb.key.size == ea.key.size && eb.value.size == ea.value.size);
      CHECK(memcmp(eb.key.data, ea.key.data, ea.key.size) == 0);
      CHECK(ea.value.size == 0 ||
            memcmp(eb.value.data, ea.value.data, ea.value.size) == 0);
    }
  }
  CHECK(refused > 0 && answered > refused);
  mutants_free(&m);
}

/* smr_table_open_checked's arguments, its header check, a check's error
 * code passed through, and that a passing check changes no answer. */
static void test_checked_args(void) {
  struct mutants m;
  mutants_new(&m, 50);
  struct window w = {.lo = 0, .hi = 0, .size = m.size}; /* refuses nothing */
  smr_table t;
  CHECK_EQ(smr_table_open_checked(&t, m.good, m.size, NULL, &w), -EINVAL);
  CHECK_EQ(smr_table_open_checked(NULL, m.good, m.size, window_check, &w),
           -EINVAL);
  CHECK_EQ(smr_table_open_checked(&t, NULL, m.size, window_check, &w), -EINVAL);
  CHECK_EQ(smr_table_open_checked(&t, m.good, 63, window_check, &w), -EBADMSG);
  CHECK_EQ(t.base, NULL); /* cleared on failure */
  CHECK_EQ(w.calls, 0u);
  CHECK_EQ(smr_table_open_checked(&t, m.good, m.size, window_check, &w), 0);
  CHECK_EQ(w.calls, 1u);
  check_all(&t, 50);
  CHECK(w.calls > 1 + 50 * 2); /* lookups and iteration call it */
  /* A refused header: its error, and nothing opened. */
  w.hi = 1;
  CHECK_EQ(smr_table_open_checked(&t, m.good, m.size, window_check, &w), -EIO);
  CHECK_EQ(t.base, NULL);
  /* A refused record: the lookup of that key returns the check's code. */
  w.lo = w.hi = 0;
  CHECK_EQ(smr_table_open_checked(&t, m.good, m.size, window_check, &w), 0);
  unsigned char k[16];
  size_t kl = make_key(7, k);
  smr_table_value v;
  CHECK_EQ(smr_table_get(&t, k, kl, &v), 0);
  w.lo = (uint64_t)((const unsigned char *)v.data - m.good);
  w.hi = w.lo + 1;
  CHECK(v.size > 0);
  CHECK_EQ(smr_table_get(&t, k, kl, &v), -EIO);
  mutants_free(&m);
}

int main(int argc, char **argv) {
  const char *env = getenv("SMR_TABLE_BIG");
  uint64_t big = env ? strtoull(env, NULL, 10) : 1000000;
  if (argc > 1 && strcmp(argv[1], "big") == 0) {
    test_big(big);
    printf("test_table big (%llu entries): ok\n", (unsigned long long)big);
    return 0;
  }
  test_round_trips();
  test_edges();
  test_duplicates();
  test_builder_errors();
  test_corrupt();
  test_lazy_args();
  test_lazy_corrupt();
  test_lazy_random();
  test_lazy_forged();
  test_checked_args();
  test_checked_window();
  printf("test_table: ok\n");
  return 0;
}
