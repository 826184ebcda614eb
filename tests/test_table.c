/* Flat tables (smr/table.h): build / look up / iterate round trips on random
 * data, the edge cases (empty table, one entry, empty keys and values,
 * binary keys with NULs), the duplicate rule (last wins), builder errors,
 * and validation of corrupted tables: every header field and every bucket
 * and record length mutated must give -EBADMSG or a table that still
 * behaves (never a crash: run under ASAN/UBSAN).  SMR_TABLE_BIG=N sets the
 * entry count of the large round trip (default 1,000,000; CI runs 10M in
 * test_table_big). */
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
    free(buf);
  }
}

static void test_big(uint64_t n) {
  uint64_t size;
  unsigned char *buf = build(n, &size);
  smr_table t;
  CHECK_EQ(smr_table_open(&t, buf, size), 0);
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
  CHECK_EQ(smr_table_build_begin(&b, NULL, sizeof small, 1), -EINVAL);
  CHECK_EQ(smr_table_build_begin(&b, small + 1, sizeof small - 1, 1), -EINVAL);
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

/* Flip bits and overwrite words all over a valid table; each mutant must
 * be refused or behave. */
static void test_corrupt(void) {
  uint64_t size;
  unsigned char *good = build(300, &size);
  unsigned char *buf = xmalloc(size);
  unsigned opened = 0, refused = 0;
  for (uint64_t off = 0; off + 8 <= size; off += 4) {
    for (unsigned k = 0; k < 4; k++) {
      memcpy(buf, good, size);
      uint64_t w;
      memcpy(&w, buf + off, 8);
      uint64_t vals[] = {w ^ (1ull << (rnd() % 64)), 0, ~0ull, rnd()};
      memcpy(buf + off, &vals[k], 8);
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
  printf("test_table: ok\n");
  return 0;
}
