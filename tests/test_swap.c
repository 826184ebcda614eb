/* SPDX-License-Identifier: MIT */
/* Swap cell, single thread: every function of smr/swap.h, its argument
 * checks and its documented semantics, in every cell mode (default fences,
 * SMR_SWAP_SYMMETRIC, and the multi-writer variants used from one thread).
 *
 * Every value is a struct val with a unique id; the destructor checks that
 * the value is alive, flags the id as destroyed and poisons the value, so a
 * double destroy or a destroy of a value still in use fails a CHECK (or an
 * ASAN report).  Values the caller owns (given back by smr_swap_exchange,
 * refused by compare_exchange, ...) are freed with give_back(); at the end
 * of every test each id must have been destroyed or given back exactly once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smr.h"

#define MAXV       65536
#define MAGIC_LIVE 0x4c49564556414c55ull /* "LIVEVALU" */
#define MAGIC_DEAD 0xdeaddeaddeaddeadull

struct val {
  uint64_t magic;
  int id;
  uint64_t pat[4];
};

static unsigned char destroyed[MAXV];  /* times the destructor saw the id */
static unsigned char given_back[MAXV]; /* freed by the test itself */
static int nvals;                      /* ids handed out so far */
static int ndestroyed;
static int dtor_ctx;      /* its address is the attr.ctx of every cell */
static int null_destroys; /* destructor calls for a NULL value */

static unsigned cell_flags; /* mode of the current run */

static struct val *mk(void) {
  CHECK(nvals < MAXV);
  struct val *v = malloc(sizeof *v);
  CHECK(v != NULL);
  v->magic = MAGIC_LIVE;
  v->id = nvals++;
  for (int i = 0; i < 4; i++)
    v->pat[i] = (uint64_t)v->id * 0x9e3779b97f4a7c15ull + (uint64_t)i;
  return v;
}

/* v is alive and intact (and its id not destroyed). */
static void check_live(const struct val *v) {
  CHECK(v != NULL);
  CHECK(v->magic == MAGIC_LIVE);
  CHECK(v->id >= 0 && v->id < nvals);
  CHECK_EQ(destroyed[v->id], 0);
  CHECK_EQ(given_back[v->id], 0);
  for (int i = 0; i < 4; i++)
    CHECK(v->pat[i] == (uint64_t)v->id * 0x9e3779b97f4a7c15ull + (uint64_t)i);
}

static void dtor(void *p, void *ctx) {
  CHECK(ctx == &dtor_ctx);
  if (!p) {
    null_destroys++;
    return;
  }
  struct val *v = p;
  check_live(v); /* a second destroy finds MAGIC_DEAD (or ASAN reports) */
  destroyed[v->id] = 1;
  ndestroyed++;
  v->magic = MAGIC_DEAD;
  free(v);
}

/* The caller owns v: check it was not destroyed, then free it. */
static void give_back(struct val *v) {
  check_live(v);
  given_back[v->id] = 1;
  v->magic = MAGIC_DEAD;
  free(v);
}

/* Every value created so far was destroyed or given back exactly once. */
static void check_all_accounted(void) {
  for (int i = 0; i < nvals; i++)
    if (destroyed[i] + given_back[i] != 1) {
      fprintf(stderr, "value %d: destroyed %d, given back %d\n", i,
              destroyed[i], given_back[i]);
      CHECK(0);
    }
}

/* The values a cell published, in order (the last one is current). */
#define HMAX 16384
static struct hist {
  int ids[HMAX];
  int n;
} hist;

static void hist_reset(const struct val *v0) {
  hist.n = 0;
  hist.ids[hist.n++] = v0->id;
}

static void hist_add(const struct val *v) {
  CHECK(hist.n < HMAX);
  hist.ids[hist.n++] = v->id;
}

/* With no guard held, a collection destroys every retired value but the
 * previous one, and collections may run at any store (at the latest when
 * the garbage exceeds the threshold; earlier when the cell finds it cheap).
 * So the garbage is always the gc most recently replaced values: everything
 * older is destroyed, the rest alive.  Returns gc. */
static size_t check_window(smr_swap *c) {
  size_t gc = smr_swap_garbage_count(c);
  CHECK(gc <= (size_t)hist.n - 1);
  if (hist.n >= 2)
    CHECK(gc >= 1); /* the previous value is kept */
  for (int i = 0; i < hist.n; i++)
    CHECK_EQ(destroyed[hist.ids[i]], i < hist.n - 1 - (int)gc);
  return gc;
}

static smr_swap *mkcell(void *initial, size_t threshold) {
  struct smr_swap_attr a = {cell_flags, threshold, &dtor_ctx};
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(initial, dtor, &a, &c), 0);
  CHECK(c != NULL);
  return c;
}

static smr_swap_reader *mkreader(smr_swap *c) {
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &r), 0);
  CHECK(r != NULL);
  CHECK(!smr_swap_reader_is_pinned(r));
  return r;
}

/* Callbacks with call counters. */
struct upd {
  int calls;
  const void *seen;
  void *next;
};
static void *upd_fn(const void *cur, void *arg) {
  struct upd *u = arg;
  u->calls++;
  u->seen = cur;
  return u->next;
}

struct cp {
  int calls;
  const void *src;
  size_t size;
};
/* Copies, then flips the id so that the result shows this function ran. */
static void copy_fn(void *dst, const void *src, size_t size, void *arg) {
  struct cp *c = arg;
  c->calls++;
  c->src = src;
  c->size = size;
  memcpy(dst, src, size);
  ((struct val *)dst)->id = ~((struct val *)dst)->id;
}

static void *map_fn(const void *v, void *arg) {
  *(const void **)arg = v;
  return (void *)((const char *)v + 1);
}

static bool pred_fn(const void *v, void *arg) {
  return v == *(const void **)arg;
}

static int count_calls;
static void *count_fn(const void *cur, void *arg) {
  (void)cur;
  count_calls++;
  return arg;
}

SMR_SWAP_TYPED(tval, struct val)

/* ---- Argument checks ----------------------------------------------------- */

static void test_bad_args(void) {
  smr_swap *c = NULL;
  struct smr_swap_attr a = {0, 0, &dtor_ctx};
  CHECK_EQ(smr_swap_create(NULL, dtor, NULL, NULL), -EINVAL);
  CHECK_EQ(smr_swap_create(NULL, dtor, &a, NULL), -EINVAL);
  /* Unknown bits, and flags of the other modules' sets (unique values). */
  unsigned bad[] = {0x8u,
                    0x80u,
                    0x80000000u,
                    SMR_SWAP_MULTI_WRITER | SMR_SWAP_SYMMETRIC | 0x80u,
                    SMR_DOMAIN_SYMMETRIC,
                    SMR_DOMAIN_STRICT_THRESHOLD,
                    SMR_CHANNEL_SYMMETRIC,
                    SMR_CHANNEL_VERIFY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    a.flags = bad[i];
    CHECK_EQ(smr_swap_create(NULL, dtor, &a, &c), -EINVAL);
  }
  /* A failed create does not take ownership of the initial value. */
  struct val *v = mk();
  a.flags = 0x8u;
  CHECK_EQ(smr_swap_create(v, dtor, &a, &c), -EINVAL);
  a.flags = 0;
  give_back(v);

  struct val *v0 = mk();
  c = mkcell(v0, 0);
  smr_swap_reader *r = mkreader(c);
  struct val *w = mk();
  smr_swap_guard g;
  struct val buf;
  void *old = &buf;
  count_calls = 0;

  CHECK_EQ(smr_swap_destroy(NULL), 0);
  CHECK_EQ(smr_swap_store(NULL, w), -EINVAL);
  CHECK(smr_swap_get(NULL) == NULL);
  CHECK_EQ(smr_swap_update(NULL, count_fn, w), -EINVAL);
  CHECK_EQ(smr_swap_update(c, NULL, w), -EINVAL);
  CHECK(smr_swap_load(NULL, &g) == NULL);
  CHECK(smr_swap_load(c, NULL) == NULL);
  CHECK_EQ(smr_swap_load_copy(NULL, &buf, sizeof buf, NULL, NULL), -EINVAL);
  CHECK_EQ(smr_swap_load_copy(c, NULL, sizeof buf, NULL, NULL), -EINVAL);
  CHECK_EQ(smr_swap_exchange(NULL, w, &old), -EINVAL);
  CHECK_EQ(smr_swap_exchange(c, w, NULL), -EINVAL);
  CHECK(old == &buf);
  CHECK_EQ(smr_swap_compare_exchange(NULL, &g, w), -EINVAL);
  CHECK_EQ(smr_swap_compare_exchange(c, NULL, w), -EINVAL);
  CHECK_EQ(smr_swap_update_and_fetch(NULL, count_fn, w, &g), -EINVAL);
  CHECK_EQ(smr_swap_update_and_fetch(c, NULL, w, &g), -EINVAL);
  CHECK_EQ(smr_swap_update_and_fetch(c, count_fn, w, NULL), -EINVAL);
  CHECK_EQ(smr_swap_fetch_and_update(NULL, count_fn, w, &g), -EINVAL);
  CHECK_EQ(smr_swap_fetch_and_update(c, NULL, w, &g), -EINVAL);
  CHECK_EQ(smr_swap_fetch_and_update(c, count_fn, w, NULL), -EINVAL);
  CHECK_EQ(smr_swap_version(NULL), 0);
  CHECK_EQ(smr_swap_collect(NULL), -EINVAL);
  CHECK_EQ(smr_swap_fence_mode(NULL), -EINVAL);

  smr_swap_reader *r2 = (smr_swap_reader *)&buf;
  CHECK_EQ(smr_swap_reader_create(NULL, &r2), -EINVAL);
  CHECK_EQ(smr_swap_reader_create(c, NULL), -EINVAL);
  CHECK(r2 == (smr_swap_reader *)&buf);
  CHECK_EQ(smr_swap_reader_destroy(NULL), 0);
  const void *seen = NULL;
  CHECK(smr_swap_reader_map(NULL, map_fn, &seen) == NULL);
  CHECK(smr_swap_reader_map(r, NULL, &seen) == NULL);
  CHECK(seen == NULL);
  CHECK(!smr_swap_reader_filter(NULL, pred_fn, &seen, &g));
  CHECK(!smr_swap_reader_filter(r, NULL, &seen, &g));
  CHECK(!smr_swap_reader_filter(r, pred_fn, &seen, NULL));
  CHECK_EQ(smr_swap_reader_copy(NULL, &buf, sizeof buf, NULL, NULL), -EINVAL);
  CHECK_EQ(smr_swap_reader_copy(r, NULL, sizeof buf, NULL, NULL), -EINVAL);

  /* None of that touched the cell or the reader. */
  CHECK_EQ(count_calls, 0);
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK(smr_swap_get(c) == v0);
  CHECK_EQ(smr_swap_version(c), 0);
  CHECK_EQ(smr_swap_garbage_count(c), 0);
  CHECK(smr_swap_previous(c) == NULL);
  /* ... and w still belongs to the caller. */
  CHECK_EQ(ndestroyed, 0);
  give_back(w);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* ---- Creation, store, read, versions ------------------------------------- */

static void test_create_store_read(void) {
  struct val *v0 = mk();
  int base = ndestroyed;
  smr_swap *c = mkcell(v0, 0);
  struct smr_fence_info fi;
  CHECK_EQ(smr_fence_init(&fi), 0);
  CHECK_EQ(smr_swap_fence_mode(c), (cell_flags & SMR_SWAP_SYMMETRIC)
                                       ? SMR_FENCE_SYMMETRIC
                                       : (int)fi.mode);
  CHECK(smr_swap_get(c) == v0);
  CHECK_EQ(smr_swap_version(c), 0);
  CHECK_EQ(smr_swap_garbage_count(c), 0);
  CHECK(smr_swap_previous(c) == NULL);

  smr_swap_reader *r = mkreader(c);
  CHECK_EQ(smr_swap_reader_version(r), 0);
  smr_swap_guard g;
  const struct val *p = smr_swap_read(r, &g);
  CHECK(p == v0);
  CHECK(g.value == v0);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  CHECK(smr_swap_reader_is_pinned(r));
  check_live(p);
  smr_swap_guard_release(&g);
  CHECK(!smr_swap_reader_is_pinned(r));

  struct val *vs[10];
  hist_reset(v0);
  for (int i = 0; i < 10; i++) {
    vs[i] = mk();
    CHECK_EQ(smr_swap_store(c, vs[i]), 0);
    hist_add(vs[i]);
    check_window(c);
    CHECK(smr_swap_get(c) == vs[i]);
    CHECK_EQ(smr_swap_version(c), i + 1);
    CHECK_EQ(smr_swap_reader_version(r), i + 1);
    CHECK(smr_swap_previous(c) == (i ? vs[i - 1] : v0));
    p = smr_swap_read(r, &g);
    CHECK(p == vs[i]);
    CHECK_EQ(smr_swap_guard_version(&g), i + 1);
    check_live(p);
    smr_swap_guard_release(&g);
    p = smr_swap_load(c, &g);
    CHECK(p == vs[i]);
    CHECK_EQ(smr_swap_guard_version(&g), i + 1);
    smr_swap_guard_release(&g);
  }
  CHECK_EQ(ndestroyed, base + 10 - (int)check_window(c));
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, base + 11);
  check_all_accounted();
}

/* A NULL value is published and read like any other. */
static void test_null_value(void) {
  smr_swap *c = mkcell(NULL, 0);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g;
  CHECK(smr_swap_get(c) == NULL);
  CHECK(smr_swap_read(r, &g) == NULL);
  CHECK(g.value == NULL);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  CHECK(smr_swap_reader_is_pinned(r));
  smr_swap_guard_release(&g);
  CHECK(!smr_swap_reader_is_pinned(r));

  struct val buf, ref;
  memset(&buf, 0xa5, sizeof buf);
  memcpy(&ref, &buf, sizeof buf);
  struct cp cpa = {0, NULL, 0};
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, NULL, NULL), -ENOENT);
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, copy_fn, &cpa), -ENOENT);
  CHECK_EQ(smr_swap_reader_copy(r, &buf, sizeof buf, NULL, NULL), -ENOENT);
  CHECK_EQ(smr_swap_reader_copy(r, &buf, sizeof buf, copy_fn, &cpa), -ENOENT);
  CHECK_EQ(cpa.calls, 0);
  CHECK(memcmp(&buf, &ref, sizeof buf) == 0); /* dst untouched */
  CHECK(!smr_swap_reader_is_pinned(r));       /* the copies released */

  struct val *v1 = mk();
  CHECK_EQ(smr_swap_store(c, v1), 0);
  CHECK_EQ(smr_swap_version(c), 1);
  CHECK(smr_swap_previous(c) == NULL); /* the replaced value was NULL */
  CHECK(smr_swap_read(r, &g) == v1);
  CHECK_EQ(smr_swap_guard_version(&g), 1);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, NULL, NULL), 0);
  CHECK(memcmp(&buf, v1, sizeof buf) == 0);

  /* Storing NULL again: readers see NULL, copies fail. */
  CHECK_EQ(smr_swap_store(c, NULL), 0);
  CHECK(smr_swap_get(c) == NULL);
  CHECK(smr_swap_previous(c) == v1);
  CHECK(smr_swap_load(c, &g) == NULL);
  CHECK_EQ(smr_swap_guard_version(&g), 2);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, NULL, NULL), -ENOENT);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* A guard keeps its snapshot: value, contents and version. */
static void test_snapshot(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 4);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g;
  const struct val *p = smr_swap_read(r, &g);
  CHECK(p == v0);
  int id0 = v0->id;
  for (int i = 0; i < 50; i++) {
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    CHECK(g.value == v0);
    CHECK_EQ(smr_swap_guard_version(&g), 0);
    CHECK_EQ(smr_swap_reader_version(r), i + 1);
    check_live(p);
  }
  CHECK(smr_swap_collect(c) >= 0);
  check_live(p);
  CHECK_EQ(destroyed[id0], 0);
  smr_swap_guard_release(&g);
  /* Released and no longer previous: the next collection destroys it. */
  CHECK(smr_swap_collect(c) >= 1);
  CHECK_EQ(destroyed[id0], 1);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* Nested reads return the outermost pinned value; protection lasts until
 * the outermost guard is released.  Same for the cell's own reader. */
static void test_nested(void) {
  struct val *v1 = mk();
  int id1 = v1->id;
  smr_swap *c = mkcell(v1, 2);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g1, g2, g3;
  CHECK(smr_swap_read(r, &g1) == v1);
  struct val *v2 = mk();
  CHECK_EQ(smr_swap_store(c, v2), 0);
  CHECK(smr_swap_read(r, &g2) == v1);
  CHECK_EQ(smr_swap_guard_version(&g2), 0);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_read(r, &g3) == v1);
  CHECK_EQ(smr_swap_guard_version(&g3), 0);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  smr_swap_guard_release(&g3);
  CHECK(smr_swap_reader_is_pinned(r));
  smr_swap_guard_release(&g2);
  CHECK(smr_swap_reader_is_pinned(r));
  /* Still pinned by g1: collections leave v1 alone. */
  for (int i = 0; i < 10; i++)
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  check_live(v1);
  /* A nested read after inner releases still returns the outer value. */
  CHECK(smr_swap_read(r, &g2) == v1);
  smr_swap_guard_release(&g2);
  CHECK(smr_swap_reader_is_pinned(r));
  smr_swap_guard_release(&g1);
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK(smr_swap_collect(c) >= 1);
  CHECK_EQ(destroyed[id1], 1);
  /* A fresh read now sees the current value. */
  CHECK(smr_swap_read(r, &g1) == smr_swap_get(c));
  CHECK_EQ(smr_swap_guard_version(&g1), smr_swap_version(c));
  smr_swap_guard_release(&g1);

  /* The cell's own reader nests the same way. */
  void *cur = smr_swap_get(c);
  CHECK(smr_swap_load(c, &g1) == cur);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_load(c, &g2) == cur);
  CHECK_EQ(smr_swap_guard_version(&g2), smr_swap_guard_version(&g1));
  for (int i = 0; i < 10; i++)
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  check_live(cur);
  smr_swap_guard_release(&g2);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  check_live(cur);
  smr_swap_guard_release(&g1);
  CHECK(smr_swap_load(c, &g1) == smr_swap_get(c));
  smr_swap_guard_release(&g1);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* update, update_and_fetch, fetch_and_update. */
static void test_update(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  struct val *v1 = mk();
  struct upd u = {0, NULL, v1};
  CHECK_EQ(smr_swap_update(c, upd_fn, &u), 0);
  CHECK_EQ(u.calls, 1);
  CHECK(u.seen == v0);
  CHECK(smr_swap_get(c) == v1);
  CHECK_EQ(smr_swap_version(c), 1);
  CHECK(smr_swap_previous(c) == v0);

  /* update_and_fetch: guard on the new value. */
  struct val *v2 = mk();
  u = (struct upd){0, NULL, v2};
  smr_swap_guard g, g2;
  CHECK_EQ(smr_swap_update_and_fetch(c, upd_fn, &u, &g), 0);
  CHECK_EQ(u.calls, 1);
  CHECK(u.seen == v1);
  CHECK(g.value == v2);
  CHECK(smr_swap_get(c) == v2);
  CHECK_EQ(smr_swap_guard_version(&g), 2);
  CHECK_EQ(smr_swap_version(c), 2);
  /* An own guard is held: both fetch variants refuse, calling nothing. */
  struct val *w = mk();
  u = (struct upd){0, NULL, w};
  CHECK_EQ(smr_swap_update_and_fetch(c, upd_fn, &u, &g2), -EBUSY);
  CHECK_EQ(smr_swap_fetch_and_update(c, upd_fn, &u, &g2), -EBUSY);
  CHECK_EQ(u.calls, 0);
  CHECK_EQ(smr_swap_version(c), 2);
  CHECK(smr_swap_get(c) == v2);
  /* The guard on v2 protects it through later stores. */
  for (int i = 0; i < 70; i++)
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  check_live(v2);
  smr_swap_guard_release(&g);

  /* fetch_and_update: guard on the old value, which stays valid. */
  void *old = smr_swap_get(c);
  uint64_t ver = smr_swap_version(c);
  u = (struct upd){0, NULL, w};
  CHECK_EQ(smr_swap_fetch_and_update(c, upd_fn, &u, &g), 0);
  CHECK_EQ(u.calls, 1);
  CHECK(u.seen == old);
  CHECK(g.value == old);
  CHECK_EQ(smr_swap_guard_version(&g), ver);
  CHECK(smr_swap_get(c) == w);
  CHECK_EQ(smr_swap_version(c), ver + 1);
  int oid = ((struct val *)old)->id;
  for (int i = 0; i < 70; i++)
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  check_live(old);
  /* An own guard from smr_swap_load blocks them too. */
  smr_swap_guard_release(&g);
  CHECK(smr_swap_load(c, &g) == smr_swap_get(c));
  struct val *x = mk();
  u = (struct upd){0, NULL, x};
  CHECK_EQ(smr_swap_fetch_and_update(c, upd_fn, &u, &g2), -EBUSY);
  CHECK_EQ(smr_swap_update_and_fetch(c, upd_fn, &u, &g2), -EBUSY);
  CHECK_EQ(u.calls, 0);
  smr_swap_guard_release(&g);
  CHECK(smr_swap_collect(c) >= 1);
  CHECK_EQ(destroyed[oid], 1);
  /* Released: they work again. */
  CHECK_EQ(smr_swap_update_and_fetch(c, upd_fn, &u, &g), 0);
  CHECK(g.value == x);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* load, load_copy, reader_copy, with memcpy and a custom copy function. */
static void test_copy(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g;
  CHECK(smr_swap_load(c, &g) == v0);
  CHECK(g.value == v0);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  smr_swap_guard_release(&g);

  struct val buf;
  memset(&buf, 0, sizeof buf);
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, NULL, NULL), 0);
  CHECK(memcmp(&buf, v0, sizeof buf) == 0);
  memset(&buf, 0, sizeof buf);
  CHECK_EQ(smr_swap_reader_copy(r, &buf, sizeof buf, NULL, NULL), 0);
  CHECK(memcmp(&buf, v0, sizeof buf) == 0);
  CHECK(!smr_swap_reader_is_pinned(r));

  struct val *v1 = mk();
  CHECK_EQ(smr_swap_store(c, v1), 0);
  struct cp cpa = {0, NULL, 0};
  CHECK_EQ(smr_swap_load_copy(c, &buf, sizeof buf, copy_fn, &cpa), 0);
  CHECK_EQ(cpa.calls, 1);
  CHECK(cpa.src == v1);
  CHECK_EQ(cpa.size, sizeof buf);
  CHECK_EQ(buf.id, ~v1->id);
  CHECK(buf.pat[3] == v1->pat[3]);
  cpa = (struct cp){0, NULL, 0};
  CHECK_EQ(smr_swap_reader_copy(r, &buf, 8, copy_fn, &cpa), 0);
  CHECK_EQ(cpa.calls, 1);
  CHECK(cpa.src == v1);
  CHECK_EQ(cpa.size, 8);
  CHECK(!smr_swap_reader_is_pinned(r));
  /* A copy inside a held guard nests: it copies the pinned value. */
  CHECK(smr_swap_read(r, &g) == v1);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK_EQ(smr_swap_reader_copy(r, &buf, sizeof buf, NULL, NULL), 0);
  CHECK(memcmp(&buf, v1, sizeof buf) == 0);
  CHECK(smr_swap_reader_is_pinned(r));
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* previous, garbage_count and collect. */
static void test_previous_garbage(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 1000);
  hist_reset(v0);
  CHECK(smr_swap_previous(c) == NULL);
  CHECK_EQ(smr_swap_collect(c), 0);
  CHECK_EQ(smr_swap_garbage_count(c), 0);
  struct val *vs[10];
  size_t gc = 0;
  for (int i = 0; i < 10; i++) {
    vs[i] = mk();
    CHECK_EQ(smr_swap_store(c, vs[i]), 0);
    hist_add(vs[i]);
    size_t ngc = check_window(c);
    /* One more, or a collection ran and left the previous value only. */
    CHECK(ngc == gc + 1 || ngc == 1);
    gc = ngc;
    CHECK(smr_swap_previous(c) == (i ? vs[i - 1] : v0));
  }
  int base = ndestroyed;
  /* collect destroys everything but the previous value (vs[8]). */
  CHECK_EQ(smr_swap_collect(c), (long)gc - 1);
  CHECK_EQ(ndestroyed, base + (int)gc - 1);
  CHECK_EQ(smr_swap_garbage_count(c), 1);
  check_window(c);
  CHECK(smr_swap_previous(c) == vs[8]);
  check_live(vs[8]);
  check_live(vs[9]);
  CHECK_EQ(smr_swap_collect(c), 0);
  CHECK(smr_swap_previous(c) == vs[8]);
  check_live(vs[8]);
  /* The next publish retires it for real. */
  struct val *v = mk();
  CHECK_EQ(smr_swap_store(c, v), 0);
  hist_add(v);
  CHECK(smr_swap_previous(c) == vs[9]);
  gc = check_window(c);
  CHECK(gc == 1 || gc == 2);
  CHECK_EQ(smr_swap_collect(c), (long)gc - 1);
  CHECK_EQ(smr_swap_garbage_count(c), 1);
  check_window(c);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* Stores with no guard held, threshold th: the garbage never exceeds
 * th + 1; a store that takes it past th collects (leaving the previous value
 * only).  Returns how often that edge was crossed. */
static int threshold_run(smr_swap *c, size_t th, int stores) {
  size_t gc = smr_swap_garbage_count(c);
  int edges = 0;
  for (int i = 0; i < stores; i++) {
    struct val *v = mk();
    CHECK_EQ(smr_swap_store(c, v), 0);
    hist_add(v);
    size_t ngc = check_window(c);
    CHECK(ngc <= th + 1);
    CHECK(ngc == gc + 1 || ngc == 1);
    if (gc == th) { /* at the threshold, one more store goes over it */
      CHECK_EQ(ngc, 1);
      edges++;
    }
    gc = ngc;
  }
  return edges;
}

static void test_threshold(void) {
  const size_t th = 4;
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, th);
  hist_reset(v0);
  /* A writer storing in a tight loop batches up to the threshold (early
   * collections need time to pass), so the edge is crossed many times in
   * 1000 stores; the test needs it crossed once. */
  int edges = threshold_run(c, th, 1000);
  CHECK(edges > 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();

  /* attr.threshold 0 means the default, 256. */
  v0 = mk();
  c = mkcell(v0, 0);
  hist_reset(v0);
  threshold_run(c, 256, 256 * 30);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();

  /* With readers pinning distinct values: garbage <= threshold + readers
   * + 1, and pinned values stay intact. */
  enum { NR = 6 };
  c = mkcell(mk(), th);
  smr_swap_reader *rs[NR];
  smr_swap_guard gs[NR];
  const struct val *pv[NR];
  int base = ndestroyed;
  int stores = 0;
  for (int i = 0; i < NR; i++) {
    rs[i] = mkreader(c);
    pv[i] = smr_swap_read(rs[i], &gs[i]);
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    stores++;
  }
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    stores++;
    size_t gc = smr_swap_garbage_count(c);
    CHECK(gc <= th + NR + 1);
    CHECK_EQ(ndestroyed - base, stores - (long long)gc);
    for (int j = 0; j < NR; j++) {
      CHECK(gs[j].value == pv[j]);
      check_live(pv[j]);
    }
  }
  for (int i = 0; i < NR; i++) {
    smr_swap_guard_release(&gs[i]);
    CHECK_EQ(smr_swap_reader_destroy(rs[i]), 0);
  }
  CHECK(smr_swap_collect(c) >= NR);
  CHECK_EQ(smr_swap_garbage_count(c), 1);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* attr NULL: default threshold, no ctx. */
static int plain_destroys;
static void plain_dtor(void *p, void *ctx) {
  CHECK(ctx == NULL);
  plain_destroys++;
  free(p);
}

static void test_attr_null(void) {
  smr_swap *c;
  plain_destroys = 0;
  CHECK_EQ(smr_swap_create(malloc(16), plain_dtor, NULL, &c), 0);
  size_t gc = 0;
  for (int i = 1; i <= 256 * 10; i++) {
    CHECK_EQ(smr_swap_store(c, malloc(16)), 0);
    size_t ngc = smr_swap_garbage_count(c);
    CHECK(ngc >= 1 && ngc <= 256 + 1);
    CHECK(ngc == gc + 1 || ngc == 1);
    if (gc == 256)
      CHECK_EQ(ngc, 1);
    gc = ngc;
    CHECK_EQ(plain_destroys, i - (int)gc);
  }
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(plain_destroys, 256 * 10 + 1);

  /* destroy NULL: values are not owned by the cell. */
  static int a, b, d;
  CHECK_EQ(smr_swap_create(&a, NULL, NULL, &c), 0);
  CHECK_EQ(smr_swap_store(c, &b), 0);
  CHECK_EQ(smr_swap_store(c, &d), 0);
  CHECK(smr_swap_collect(c) >= 0);
  CHECK(smr_swap_get(c) == &d);
  CHECK_EQ(smr_swap_destroy(c), 0);
}

/* exchange gives the old value back; the cell never destroys it. */
static void test_exchange(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 2);
  smr_swap_reader *r = mkreader(c);
  struct val *v1 = mk();
  void *old = NULL;
  struct val *v00 = mk();
  CHECK_EQ(smr_swap_store(c, v00), 0);
  CHECK(smr_swap_previous(c) == v0);
  CHECK_EQ(smr_swap_exchange(c, v1, &old), 0);
  CHECK(old == v00);
  /* previous() must not name a value the caller now owns, nor the one
   * before it (it became collectable). */
  CHECK(smr_swap_previous(c) == NULL);
  CHECK(smr_swap_get(c) == v1);
  CHECK_EQ(smr_swap_version(c), 2);
  smr_swap_guard g;
  CHECK(smr_swap_read(r, &g) == v1);
  CHECK_EQ(smr_swap_guard_version(&g), 2);
  smr_swap_guard_release(&g);
  /* Many stores and collections later the cell still has not destroyed v0:
   * it belongs to us. */
  for (int i = 0; i < 20; i++)
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK(smr_swap_collect(c) >= 0);
  give_back(old);

  /* -EDEADLK: the cell's own reader pins the current value. */
  void *cur = smr_swap_get(c);
  uint64_t ver = smr_swap_version(c);
  CHECK(smr_swap_load(c, &g) == cur);
  struct val *w = mk();
  old = NULL;
  CHECK_EQ(smr_swap_exchange(c, w, &old), -EDEADLK);
  CHECK(old == NULL);
  CHECK(smr_swap_get(c) == cur); /* nothing published */
  CHECK_EQ(smr_swap_version(c), ver);
  /* The own reader pins a value that is no longer current: no deadlock. */
  struct val *y = mk();
  CHECK_EQ(smr_swap_store(c, y), 0);
  CHECK_EQ(smr_swap_exchange(c, w, &old), 0);
  CHECK(old == y);
  CHECK(g.value == cur);
  check_live(cur);
  smr_swap_guard_release(&g);
  give_back(old);
  /* A foreign reader's guard on an older value does not block either. */
  CHECK(smr_swap_read(r, &g) == w);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  struct val *z = mk();
  void *cur2 = smr_swap_get(c);
  CHECK_EQ(smr_swap_exchange(c, z, &old), 0);
  CHECK(old == cur2);
  give_back(old);
  check_live(w);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* compare_exchange: fresh guard succeeds, stale guard fails. */
static void test_compare_exchange(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g, g2;
  CHECK(smr_swap_read(r, &g) == v0);
  struct val *v1 = mk();
  CHECK_EQ(smr_swap_compare_exchange(c, &g, v1), 0);
  smr_swap_guard_release(&g);
  CHECK(smr_swap_get(c) == v1);
  CHECK_EQ(smr_swap_version(c), 1);
  CHECK(smr_swap_previous(c) == v0); /* the old value was retired */
  CHECK_EQ(smr_swap_garbage_count(c), 1);

  /* Stale guard: -EAGAIN, the value is not consumed. */
  CHECK(smr_swap_read(r, &g) == v1);
  struct val *v2 = mk();
  CHECK_EQ(smr_swap_store(c, v2), 0);
  struct val *x = mk();
  CHECK_EQ(smr_swap_compare_exchange(c, &g, x), -EAGAIN);
  CHECK(smr_swap_get(c) == v2);
  CHECK_EQ(smr_swap_version(c), 2);
  /* A nested guard on the stale value is stale too. */
  CHECK(smr_swap_read(r, &g2) == v1);
  CHECK_EQ(smr_swap_compare_exchange(c, &g2, x), -EAGAIN);
  smr_swap_guard_release(&g2);
  smr_swap_guard_release(&g);
  CHECK(smr_swap_collect(c) >= 0);
  give_back(x); /* never destroyed by the cell */

  /* The cell's own guard works as expected value too. */
  CHECK(smr_swap_load(c, &g) == v2);
  struct val *v3 = mk();
  CHECK_EQ(smr_swap_compare_exchange(c, &g, v3), 0);
  CHECK_EQ(smr_swap_compare_exchange(c, &g, x = mk()), -EAGAIN);
  smr_swap_guard_release(&g);
  give_back(x);
  CHECK(smr_swap_get(c) == v3);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();

  /* ABA: the same pointer published again is a different publication. */
  static int a, b, d;
  struct smr_swap_attr at = {cell_flags, 0, NULL};
  CHECK_EQ(smr_swap_create(&a, NULL, &at, &c), 0);
  r = mkreader(c);
  CHECK(smr_swap_read(r, &g) == &a);
  CHECK_EQ(smr_swap_store(c, &b), 0);
  CHECK_EQ(smr_swap_store(c, &a), 0);
  CHECK(smr_swap_get(c) == &a);
  CHECK_EQ(smr_swap_compare_exchange(c, &g, &d), -EAGAIN);
  smr_swap_guard_release(&g);
  CHECK(smr_swap_get(c) == &a);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
}

/* reader_map, reader_filter, reader_version, guard version. */
static void test_reader_helpers(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  smr_swap_reader *r = mkreader(c);
  const void *seen = NULL;
  void *res = smr_swap_reader_map(r, map_fn, &seen);
  CHECK(seen == v0);
  CHECK(res == (char *)v0 + 1);
  CHECK(!smr_swap_reader_is_pinned(r));

  smr_swap_guard g;
  const void *want = v0;
  CHECK(smr_swap_reader_filter(r, pred_fn, &want, &g));
  CHECK(smr_swap_reader_is_pinned(r));
  CHECK(g.value == v0);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  struct val *v1 = mk();
  CHECK_EQ(smr_swap_store(c, v1), 0);
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  /* reader_version is the cell's current version, the guard's is pinned. */
  CHECK_EQ(smr_swap_reader_version(r), 2);
  CHECK_EQ(smr_swap_guard_version(&g), 0);
  CHECK(g.value == v0);
  smr_swap_guard_release(&g);
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK(!smr_swap_reader_filter(r, pred_fn, &want, &g)); /* v0 not current */
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK_EQ(smr_swap_reader_destroy(r), 0); /* would be -EBUSY if held */
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* Reader records: reuse after destroy, -EBUSY while a guard is held, and
 * reader_create refused after the cell is destroyed. */
static void test_reader_lifecycle(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  smr_swap_reader *r1 = mkreader(c), *r2 = mkreader(c);
  CHECK(r1 != r2);
  smr_swap_guard g;
  CHECK(smr_swap_read(r1, &g) == v0);
  CHECK_EQ(smr_swap_reader_destroy(r1), -EBUSY);
  CHECK(smr_swap_reader_is_pinned(r1)); /* still usable */
  CHECK(g.value == v0);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_destroy(r1), 0);
  /* The freed record is reused, and comes back idle. */
  smr_swap_reader *r3 = mkreader(c);
  CHECK(r3 == r1);
  struct val *v1 = mk();
  CHECK_EQ(smr_swap_store(c, v1), 0);
  CHECK(smr_swap_read(r3, &g) == v1);
  CHECK_EQ(smr_swap_guard_version(&g), 1);
  smr_swap_guard_release(&g);
  smr_swap_reader *r4 = mkreader(c);
  CHECK(r4 != r2 && r4 != r3);

  /* Nested guard: -EBUSY until the outermost release. */
  smr_swap_guard g2;
  CHECK(smr_swap_read(r4, &g) == v1);
  CHECK(smr_swap_read(r4, &g2) == v1);
  smr_swap_guard_release(&g2);
  CHECK_EQ(smr_swap_reader_destroy(r4), -EBUSY);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_destroy(r4), 0);
  CHECK_EQ(smr_swap_reader_destroy(r3), 0);

  /* Destroy with a live (idle) reader: unpinned values go now; the handle
   * keeps the cell's memory, refuses new readers, and frees it. */
  int idc = v1->id;
  CHECK_EQ(smr_swap_store(c, mk()), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(destroyed[idc], 1);
  check_all_accounted();
  smr_swap_reader *r5 = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &r5), -EINVAL);
  CHECK_EQ(smr_swap_reader_destroy(r2), 0);
}

/* Typed wrappers and the scoped read. */
static void test_macros(void) {
  struct val *v0 = mk();
  smr_swap *c = mkcell(v0, 0);
  smr_swap_reader *r = mkreader(c);
  CHECK(tval_get(c) == v0);
  struct val *v1 = mk();
  CHECK_EQ(tval_store(c, v1), 0);
  CHECK(tval_get(c) == v1);
  CHECK_EQ(tval_store(NULL, v1), -EINVAL);
  smr_swap_guard g;
  const struct val *p = tval_read(r, &g);
  CHECK(p == v1);
  CHECK_EQ(p->id, v1->id);
  smr_swap_guard_release(&g);
  p = tval_load(c, &g);
  CHECK(p == v1);
  smr_swap_guard_release(&g);

  {
    SMR_SWAP_SCOPED_READ(const struct val *, sv, r);
    CHECK(sv == v1);
    CHECK(smr_swap_reader_is_pinned(r));
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    {
      SMR_SWAP_SCOPED_READ(const struct val *, inner, r);
      CHECK(inner == v1); /* nested */
    }
    CHECK(smr_swap_reader_is_pinned(r)); /* the inner scope released only */
    check_live(sv);
  }
  CHECK(!smr_swap_reader_is_pinned(r));
  /* Leaving the scope through break releases too. */
  for (int i = 0; i < 3; i++) {
    SMR_SWAP_SCOPED_READ(const struct val *, sv, r);
    CHECK(sv == smr_swap_get(c));
    if (i == 1)
      break;
  }
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  check_all_accounted();
}

/* Destroying the cell with guards held (single thread; test_swap_stall does
 * it across threads). */
static void test_destroy_with_guards(void) {
  struct val *v = mk(), *w = mk();
  smr_swap *c = mkcell(v, 0);
  smr_swap_reader *r1 = mkreader(c), *r2 = mkreader(c);
  smr_swap_guard g1, g2;
  CHECK(smr_swap_read(r1, &g1) == v);
  CHECK_EQ(smr_swap_store(c, w), 0);
  CHECK(smr_swap_read(r2, &g2) == w);
  struct val *x = mk();
  CHECK_EQ(smr_swap_store(c, x), 0);
  int idv = v->id, idw = w->id, idx = x->id;
  /* A guard of the writer's own reader would outlive the writer side. */
  smr_swap_guard go;
  CHECK(smr_swap_load(c, &go) == x);
  CHECK_EQ(smr_swap_destroy(c), -EBUSY);
  CHECK_EQ(destroyed[idx], 0);
  CHECK(smr_swap_get(c) == x); /* nothing changed */
  smr_swap_guard_release(&go);
  CHECK_EQ(smr_swap_destroy(c), 0);
  /* x (current, unpinned) goes now; v (retired) and w stay pinned. */
  CHECK_EQ(destroyed[idx], 1);
  CHECK_EQ(destroyed[idv], 0);
  CHECK_EQ(destroyed[idw], 0);
  check_live(g1.value);
  check_live(g2.value);
  smr_swap_guard_release(&g2);
  CHECK_EQ(smr_swap_reader_destroy(r2), 0);
  CHECK_EQ(destroyed[idw], 1); /* released and a handle destroyed */
  CHECK_EQ(destroyed[idv], 0);
  check_live(g1.value);
  smr_swap_guard_release(&g1);
  CHECK_EQ(smr_swap_reader_destroy(r1), 0);
  CHECK_EQ(destroyed[idv], 1);
  check_all_accounted();
}

/* Regression: a destructor that publishes into the same cell (allowed in
 * single-writer mode) while collect() is walking its list must not cause a
 * double destroy or a missed pin. */
static smr_swap *reent_cell;
static int reent_destroys[64], reent_depth;
static void reent_dtor(void *v, void *ctx) {
  (void)ctx;
  int id = (int)(intptr_t)v;
  CHECK(id > 0 && id < 64);
  CHECK_EQ(reent_destroys[id], 0);
  reent_destroys[id]++;
  if (id == 2 && reent_depth++ == 0) /* once: publish from the destructor */
    CHECK_EQ(smr_swap_store(reent_cell, (void *)(intptr_t)40), 0);
}

static void test_reentrant_destructor(void) {
  memset(reent_destroys, 0, sizeof reent_destroys);
  reent_depth = 0;
  struct smr_swap_attr a = {0, 2, NULL};
  CHECK_EQ(smr_swap_create((void *)(intptr_t)1, reent_dtor, &a, &reent_cell),
           0);
  smr_swap_reader *r = mkreader(reent_cell);
  smr_swap_guard g;
  for (int i = 2; i < 30; i++) {
    CHECK_EQ(smr_swap_store(reent_cell, (void *)(intptr_t)i), 0);
    if (i == 10)
      CHECK(smr_swap_read(r, &g) == (void *)(intptr_t)10);
    if (i == 20)
      smr_swap_guard_release(&g);
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(reent_cell), 0);
  for (int i = 1; i < 30; i++)
    CHECK_EQ(reent_destroys[i], 1);
  CHECK_EQ(reent_destroys[40], 1);
}

/* Regression: destroy unpublishes the current value, so a reader handle that
 * reads after destroy gets NULL (never a destroyed value), and a handle
 * cannot be created any more. */
static void test_read_after_destroy(void) {
  struct val *v = mk();
  int idv = v->id;
  smr_swap *c = mkcell(v, 0);
  smr_swap_reader *r = mkreader(c), *r2 = NULL;
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(destroyed[idv], 1);
  smr_swap_guard g;
  CHECK(smr_swap_read(r, &g) == NULL);
  CHECK_EQ(smr_swap_guard_version(&g), 1);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_reader_create(c, &r2), -EINVAL);
  CHECK(r2 == NULL);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  check_all_accounted();
}

static void run_mode(unsigned flags) {
  cell_flags = flags;
  test_create_store_read();
  test_null_value();
  test_snapshot();
  test_nested();
  test_update();
  test_copy();
  test_previous_garbage();
  test_threshold();
  test_exchange();
  test_compare_exchange();
  test_reader_helpers();
  test_reader_lifecycle();
  test_macros();
  test_destroy_with_guards();
  test_read_after_destroy();
}

int main(void) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  test_bad_args();
  test_attr_null();
  test_reentrant_destructor();
  run_mode(0);
  run_mode(SMR_SWAP_SYMMETRIC);
  run_mode(SMR_SWAP_MULTI_WRITER);
  run_mode(SMR_SWAP_MULTI_WRITER | SMR_SWAP_SYMMETRIC);
  check_all_accounted();
  return 0;
}
