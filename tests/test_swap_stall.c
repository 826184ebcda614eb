/* SPDX-License-Identifier: MIT */
/* Swap cell: the headline guarantees under a stalled reader.
 *
 * (a) A reader thread takes a guard and parks on a condition variable,
 *     holding it, while the writer stores 1,000,000 values with the default
 *     threshold.  After every store: the garbage stays within
 *     readers + threshold (and threshold + 1), the pinned value is intact,
 *     and every value that is neither current nor garbage was destroyed
 *     exactly once.  The reader only wakes after the last store, so a store
 *     that waited for it would hang the test (ctest's timeout catches it).
 * (b) Destroying the cell while a guard is held (the smr-swap bug: dropping
 *     its writer destroys every retired value, even one a reader still
 *     holds a guard on): the pinned value must stay valid
 *     until the reader releases it, and be destroyed exactly once, when the
 *     reader handle is destroyed, on the reader's thread.  Both for a
 *     retired value and for the current one.
 *
 * Runs in both fence modes (default and SMR_SWAP_SYMMETRIC).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "smr.h"

#define MAGIC_LIVE 0x5354414c4c56414cull /* "STALLVAL" */
#define MAGIC_DEAD 0xdeaddeaddeaddeadull
#define NSTORES    1000000
#define PIN_AT     1000 /* the reader pins the value of this store */
#define THRESHOLD  256  /* the default */

struct sval {
  uint64_t magic;
  uint64_t idx;
  unsigned char bytes[48];
};

/* Destructor bookkeeping.  In (a) only the writer thread destroys; in (b)
 * the reader thread does, ordered by the phase handshakes below. */
static unsigned char *destroyed; /* per idx */
static long ndestroyed;
static pthread_t last_destroyer;
static int dtor_ctx;

static unsigned char pattern(uint64_t idx, int i) {
  return (unsigned char)(idx * 131u + (uint64_t)i * 7u + 1u);
}

static struct sval *mk(uint64_t idx) {
  struct sval *v = malloc(sizeof *v);
  CHECK(v != NULL);
  v->magic = MAGIC_LIVE;
  v->idx = idx;
  for (int i = 0; i < (int)sizeof v->bytes; i++)
    v->bytes[i] = pattern(idx, i);
  return v;
}

static void check_intact(const struct sval *v, uint64_t idx) {
  CHECK(v->magic == MAGIC_LIVE);
  CHECK(v->idx == idx);
  for (int i = 0; i < (int)sizeof v->bytes; i++)
    CHECK(v->bytes[i] == pattern(idx, i));
}

static void dtor(void *p, void *ctx) {
  CHECK(ctx == &dtor_ctx);
  struct sval *v = p;
  CHECK(v->magic == MAGIC_LIVE); /* not destroyed before */
  CHECK_EQ(destroyed[v->idx], 0);
  destroyed[v->idx] = 1;
  ndestroyed++;
  last_destroyer = pthread_self();
  v->magic = MAGIC_DEAD;
  memset(v->bytes, 0xdd, sizeof v->bytes);
  free(v);
}

/* Phase handshake between the writer (main) and the reader thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase;

static void set_phase(int p) {
  pthread_mutex_lock(&mu);
  phase = p;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_phase(int p) {
  pthread_mutex_lock(&mu);
  while (phase != p)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

enum { P_START, P_PIN, P_PINNED, P_RELEASE, P_RELEASED, P_DESTROY, P_DONE };

struct reader_arg {
  smr_swap_reader *r;
  const struct sval *pinned; /* set by the reader before P_PINNED */
  uint64_t pinned_version;
  long destroyed_before, destroyed_after; /* around reader_destroy, in (b) */
  int destroy_handle;                     /* (b): destroy it at P_DESTROY */
};

static void *reader_main(void *p) {
  struct reader_arg *a = p;
  wait_phase(P_PIN);
  smr_swap_guard g;
  const struct sval *v = smr_swap_read(a->r, &g);
  check_intact(v, v->idx);
  CHECK_EQ(smr_swap_guard_version(&g), v->idx);
  a->pinned = v;
  a->pinned_version = smr_swap_guard_version(&g);
  set_phase(P_PINNED);
  /* Parked, holding the guard, while the writer works. */
  wait_phase(P_RELEASE);
  CHECK(g.value == v);
  CHECK_EQ(smr_swap_guard_version(&g), a->pinned_version);
  check_intact(v, a->pinned_version);
  smr_swap_guard_release(&g);
  CHECK(!smr_swap_reader_is_pinned(a->r));
  set_phase(P_RELEASED);
  if (a->destroy_handle) {
    wait_phase(P_DESTROY);
    a->destroyed_before = ndestroyed;
    CHECK_EQ(smr_swap_reader_destroy(a->r), 0);
    a->destroyed_after = ndestroyed;
    set_phase(P_DONE);
  }
  return NULL;
}

/* (a) */
static void test_stalled_reader(unsigned flags) {
  destroyed = calloc(NSTORES + 1, 1);
  CHECK(destroyed != NULL);
  ndestroyed = 0;
  phase = P_START;
  struct smr_swap_attr attr = {flags, 0 /* default threshold */, &dtor_ctx};
  smr_swap *c;
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &c), 0);
  struct reader_arg a = {0};
  CHECK_EQ(smr_swap_reader_create(c, &a.r), 0);
  const size_t readers = 1;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, reader_main, &a), 0);

  for (uint64_t i = 1; i <= NSTORES; i++) {
    CHECK_EQ(smr_swap_store(c, mk(i)), 0);
    size_t gc = smr_swap_garbage_count(c);
    CHECK(gc <= readers + THRESHOLD);
    CHECK(gc <= THRESHOLD + 1);
    /* 1 + i values exist: the current one, gc garbage, the rest destroyed. */
    CHECK_EQ(ndestroyed, (long)i - (long)gc);
    if (i == PIN_AT) {
      set_phase(P_PIN);
      wait_phase(P_PINNED);
      CHECK(a.pinned == smr_swap_get(c));
      CHECK_EQ(a.pinned_version, PIN_AT);
    }
    if (i > PIN_AT) {
      CHECK_EQ(destroyed[PIN_AT], 0);
      if (i % 1024 == 0)
        check_intact(a.pinned, PIN_AT);
    }
  }
  CHECK_EQ(smr_swap_version(c), NSTORES);
  CHECK_EQ(destroyed[PIN_AT], 0);
  check_intact(a.pinned, PIN_AT);
  /* Everything older than the garbage window but the pinned value is gone. */
  for (uint64_t i = 0; i + THRESHOLD + 2 < NSTORES; i++)
    if (i != PIN_AT)
      CHECK_EQ(destroyed[i], 1);

  set_phase(P_RELEASE);
  wait_phase(P_RELEASED);
  CHECK_EQ(pthread_join(th, NULL), 0);
  /* Released: the next collection reclaims it; only previous remains. */
  CHECK(smr_swap_collect(c) >= 1);
  CHECK_EQ(destroyed[PIN_AT], 1);
  CHECK_EQ(smr_swap_garbage_count(c), 1);
  CHECK_EQ(ndestroyed, NSTORES - 1);
  CHECK_EQ(smr_swap_reader_destroy(a.r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, NSTORES + 1);
  for (uint64_t i = 0; i <= NSTORES; i++)
    CHECK_EQ(destroyed[i], 1);
  free(destroyed);
}

/* (b) The reader pins value V (version 0).  If pin_current, the writer
 * destroys the cell with V still current; otherwise it first stores W, so V
 * is retired (the previous value).  After smr_swap_destroy every value but V
 * is destroyed; V stays intact until the reader releases it and is
 * destroyed by the reader's smr_swap_reader_destroy, exactly once. */
static void test_destroy_under_guard(unsigned flags, int pin_current) {
  enum { NV = 8 };
  destroyed = calloc(NV, 1);
  CHECK(destroyed != NULL);
  ndestroyed = 0;
  phase = P_START;
  struct smr_swap_attr attr = {flags, 0, &dtor_ctx};
  smr_swap *c;
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &c), 0);
  struct reader_arg a = {0};
  a.destroy_handle = 1;
  CHECK_EQ(smr_swap_reader_create(c, &a.r), 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, reader_main, &a), 0);
  set_phase(P_PIN);
  wait_phase(P_PINNED);
  CHECK_EQ(a.pinned_version, 0);
  const struct sval *v = a.pinned;
  long stores = 0;
  if (!pin_current) {
    /* A few stores so that V is retired and collected around. */
    for (uint64_t i = 1; i < NV; i++) {
      CHECK_EQ(smr_swap_store(c, mk(i)), 0);
      stores++;
    }
    CHECK(smr_swap_collect(c) >= 0);
    CHECK_EQ(destroyed[0], 0);
  }
  CHECK_EQ(smr_swap_destroy(c), 0);
  /* Every value no guard pins is destroyed now; V is not. */
  CHECK_EQ(ndestroyed, stores);
  CHECK_EQ(destroyed[0], 0);
  for (long i = 1; i <= stores; i++)
    CHECK_EQ(destroyed[i], 1);
  check_intact(v, 0); /* still readable (ASAN: no use after free) */

  /* The reader reads through its guard (checks V) and releases. */
  set_phase(P_RELEASE);
  wait_phase(P_RELEASED);
  /* Released but the handle lives: V may not be destroyed before the
   * handle is; it is destroyed when the handle is, on the reader's thread. */
  CHECK_EQ(destroyed[0], 0);
  CHECK_EQ(ndestroyed, stores);
  set_phase(P_DESTROY);
  wait_phase(P_DONE);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(a.destroyed_before, stores);
  CHECK_EQ(a.destroyed_after, stores + 1);
  CHECK_EQ(destroyed[0], 1);
  CHECK(pthread_equal(last_destroyer, th));
  free(destroyed);
}

/* (b'), two handles: the one without a guard is destroyed first and must
 * not reclaim the value the other still pins. */
static void test_destroy_two_readers(unsigned flags) {
  destroyed = calloc(4, 1);
  CHECK(destroyed != NULL);
  ndestroyed = 0;
  phase = P_START;
  struct smr_swap_attr attr = {flags, 0, &dtor_ctx};
  smr_swap *c;
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &c), 0);
  struct reader_arg a = {0};
  a.destroy_handle = 1;
  CHECK_EQ(smr_swap_reader_create(c, &a.r), 0);
  smr_swap_reader *idle;
  CHECK_EQ(smr_swap_reader_create(c, &idle), 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, reader_main, &a), 0);
  set_phase(P_PIN);
  wait_phase(P_PINNED);
  CHECK_EQ(smr_swap_store(c, mk(1)), 0);
  CHECK_EQ(smr_swap_store(c, mk(2)), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, 2);
  CHECK_EQ(destroyed[0], 0);
  smr_swap_reader *late = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &late), -EINVAL);
  CHECK_EQ(smr_swap_reader_destroy(idle), 0);
  CHECK_EQ(destroyed[0], 0); /* still pinned */
  check_intact(a.pinned, 0);
  set_phase(P_RELEASE);
  wait_phase(P_RELEASED);
  set_phase(P_DESTROY);
  wait_phase(P_DONE);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(a.destroyed_after, 3);
  CHECK_EQ(destroyed[0], 1);
  free(destroyed);
}

int main(void) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  unsigned modes[] = {0, SMR_SWAP_SYMMETRIC};
  for (int m = 0; m < 2; m++) {
    test_destroy_under_guard(modes[m], 0);
    test_destroy_under_guard(modes[m], 1);
    test_destroy_two_readers(modes[m]);
    test_stalled_reader(modes[m]);
  }
  return 0;
}
