/* SPDX-License-Identifier: MIT */
/* Thread exit while the thread's own pthread key still holds its reader
 * (issue 10, C.9).
 *
 * A program may keep its smr_reader in a pthread key of its own and use it
 * from that key's destructor: enter/leave a read section, and unregister
 * it.  POSIX runs key destructors in an unspecified order, in up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds, so such a destructor can run after
 * libsmr's own exit hook, in the same round or a later one.  The record must
 * stay valid and its sections must be honoured until the thread is truly
 * gone.  (Before the fix the exit hook marked the record dead: grace periods
 * ignored the destructor's section, so the writer freed objects under it,
 * and the domain freed the record while the destructor still used it.)
 *
 * Worker threads (created in batches, for SMR_TEST_SECONDS seconds in all,
 * default 2) register a reader, run a section, store their state in one of
 * two user keys (one created before libsmr's key exists, one after, so that
 * both destructor orders occur) and return.  The user destructor runs a
 * section in each of three rounds (re-arming its key), then unregisters the
 * reader (odd workers) or leaves that to libsmr (even workers).  A writer
 * thread meanwhile replaces the shared object, retires the old one and
 * synchronizes; the reclaim callback poisons the object before freeing it.
 * Every section checks, many times, that the object it loaded is alive and
 * unchanged.  On the old code this fails under ASAN (use after free of the
 * record or of an object), TSAN (race with the free) and in Release (a
 * section sees the poison).
 */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "smr.h"

#define MAGIC_ALIVE  0x0b1ec7a11feull
#define MAGIC_POISON 0xdeadbeefdeadbeefull
#define ROUNDS       3 /* destructor rounds with a section (glibc allows 4) */
#define BATCH        4 /* workers alive at a time */

struct obj {
  struct smr_retired h; /* first member */
  uint64_t magic;
  uint64_t id;
};

static smr_domain *dom;
static _Atomic(struct obj *) head;
static pthread_key_t key_before, key_after; /* around libsmr's own key */
/* Counters; relaxed: read after the joins. */
static atomic_ulong n_new, n_freed, n_dtor_sections, n_dtor_unregistered;
static atomic_int stop; /* relaxed: a flag polled by the writer */

static struct obj *obj_new(void) {
  struct obj *o = malloc(sizeof *o);
  CHECK(o != NULL);
  o->magic = MAGIC_ALIVE;
  /* relaxed: a counter; also gives each object an id. */
  o->id = atomic_fetch_add_explicit(&n_new, 1, memory_order_relaxed);
  return o;
}

static void obj_free(struct smr_retired *h) {
  struct obj *o = (struct obj *)h;
  CHECK(o->magic == MAGIC_ALIVE);
  o->magic = MAGIC_POISON;
  free(o);
  atomic_fetch_add_explicit(&n_freed, 1, memory_order_relaxed);
}

/* One read section: the object must stay alive and unchanged throughout;
 * the yield in the middle lets the writer run while the section is open. */
static void section(smr_reader *r) {
  smr_enter(r);
  /* acquire: pairs with the writer's exchange. */
  const volatile struct obj *o =
      atomic_load_explicit(&head, memory_order_acquire);
  uint64_t id = o->id;
  for (int i = 0; i < 400; i++) {
    CHECK(o->magic == MAGIC_ALIVE);
    CHECK(o->id == id);
    if (i == 200)
      sched_yield();
  }
  smr_leave(r);
}

struct worker {
  smr_reader *r;
  pthread_key_t key;
  int round, unregister;
};

static void user_dtor(void *arg) {
  struct worker *w = arg;
  section(w->r);
  atomic_fetch_add_explicit(&n_dtor_sections, 1, memory_order_relaxed);
  if (++w->round < ROUNDS) {
    CHECK_EQ(pthread_setspecific(w->key, w), 0); /* another round */
    return;
  }
  if (w->unregister) {
    CHECK_EQ(smr_reader_unregister(w->r), 0);
    atomic_fetch_add_explicit(&n_dtor_unregistered, 1, memory_order_relaxed);
  }
  free(w);
}

static void *worker_main(void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg;
  struct worker *w = calloc(1, sizeof *w);
  CHECK(w != NULL);
  w->key = (k & 2) ? key_after : key_before;
  w->unregister = k & 1;
  CHECK_EQ(smr_reader_register(dom, &w->r), 0);
  section(w->r);
  CHECK_EQ(pthread_setspecific(w->key, w), 0);
  return NULL; /* the destructors take over */
}

static void *writer_main(void *arg) {
  (void)arg;
  unsigned long n = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    /* acq_rel: release publishes the new object to readers' acquire loads;
     * acquire orders our later use of old after its publication. */
    struct obj *old =
        atomic_exchange_explicit(&head, obj_new(), memory_order_acq_rel);
    CHECK_EQ(smr_retire(dom, &old->h, obj_free), 0);
    CHECK_EQ((n++ & 1) ? smr_barrier(dom) : smr_synchronize(dom), 0);
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
  /* Keys created before libsmr's (made at the first registration) run their
   * destructors before libsmr's in each round (glibc: key order); keys
   * created after run after it. */
  CHECK_EQ(pthread_key_create(&key_before, user_dtor), 0);
  struct smr_domain_attr a = {0, 4};
  CHECK_EQ(smr_domain_create(&a, &dom), 0);
  smr_reader *self;
  CHECK_EQ(smr_reader_register(dom, &self), 0);
  CHECK_EQ(smr_reader_unregister(self), 0);
  CHECK_EQ(pthread_key_create(&key_after, user_dtor), 0);
  atomic_init(&head, obj_new());

  pthread_t wt;
  CHECK_EQ(pthread_create(&wt, NULL, writer_main, NULL), 0);
  double end = now_s() + test_seconds(2);
  unsigned long workers = 0;
  do {
    pthread_t t[BATCH];
    for (int i = 0; i < BATCH; i++)
      CHECK_EQ(pthread_create(&t[i], NULL, worker_main,
                              (void *)(uintptr_t)(workers + (unsigned)i)),
               0);
    for (int i = 0; i < BATCH; i++)
      CHECK_EQ(pthread_join(t[i], NULL), 0);
    workers += BATCH;
  } while (now_s() < end);
  atomic_store_explicit(&stop, 1, memory_order_relaxed);
  CHECK_EQ(pthread_join(wt, NULL), 0);

  /* Every worker is gone: its record no longer blocks anything. */
  CHECK_EQ(smr_barrier(dom), 0);
  struct obj *last = atomic_load_explicit(&head, memory_order_relaxed);
  CHECK_EQ(smr_retire(dom, &last->h, obj_free), 0);
  CHECK_EQ(smr_domain_destroy(dom), 0);
  CHECK_EQ(atomic_load_explicit(&n_freed, memory_order_seq_cst),
           atomic_load_explicit(&n_new, memory_order_seq_cst));
  CHECK_EQ(atomic_load_explicit(&n_dtor_sections, memory_order_seq_cst),
           workers * ROUNDS);
  CHECK_EQ(atomic_load_explicit(&n_dtor_unregistered, memory_order_seq_cst),
           workers / 2);
  printf("test_epoch_exit: %lu workers, %lu objects, %lu destructor "
         "sections\n",
         workers, atomic_load_explicit(&n_new, memory_order_seq_cst),
         atomic_load_explicit(&n_dtor_sections, memory_order_seq_cst));
  pthread_key_delete(key_before);
  pthread_key_delete(key_after);
  return 0;
}
