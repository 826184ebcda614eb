/* SPDX-License-Identifier: MIT */
/* The collector (smr/collector.h), one or two threads at a time, exact:
 *  - arguments and errors of every call;
 *  - exact reclaim counts: a full batch with no section is reclaimed at
 *    once, a partial one at flush, and nothing twice (a node counts its
 *    reclaims);
 *  - a node retired inside the retiring thread's own section lives until
 *    that section's leave (and is reclaimed by it);
 *  - another thread's section holds a node it protected: reclaimed by that
 *    thread's leave (the last holder), or with RETIRER_RECLAIMS by the
 *    retirer's next flush, never by the reader;
 *  - reclaim functions that retire: a 100,000-node chain (each reclaim
 *    retires the next) is reclaimed iteratively, no recursion;
 *  - reclaim_all and destroy reclaim everything, unsubmitted nodes too;
 *  - a thread that exits without unregistering, inside a section: its
 *    section stops holding nodes once it is gone, destroy succeeds;
 *  - robust mode: a section stalled (blocked, never leaving) holds up only
 *    the nodes born before it stalled while 200,000 younger ones, retired
 *    among the old ones in the retirer's own sections, are reclaimed (none
 *    dragged along with an old one); without ROBUST the same stall holds
 *    up all of them;
 *  - swap and compare_exchange; nesting and refresh;
 *  - a thread that retires a few nodes and goes quiet: another thread's
 *    submission takes its batch once older than flush_ns; a batch is
 *    submitted when it reaches max_pending_bytes. */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#define _GNU_SOURCE
#include "check.h"
#include "collector_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

static _Atomic long g_reclaims;

static void reclaim_item(struct smr_collector_node *n,
                         smr_collector_handle *h) {
  struct item *it = SMR_CONTAINER_OF(n, struct item, node);
  CHECK_EQ(atomic_fetch_add_explicit(&it->reclaimed, 1, memory_order_seq_cst),
           0);
  it->by = pthread_self();
  atomic_fetch_add_explicit(&g_reclaims, 1, memory_order_seq_cst);
  if (it->chain)
    CHECK_EQ(smr_collector_retire(h, &it->chain->node, reclaim_item,
                                  sizeof *it->chain),
             0);
  if (it->heap)
    free(it);
}

static void test_args(void) {
  smr_collector *c;
  struct smr_collector_attr a = {.flags = 0x1}; /* SMR_DOMAIN_SYMMETRIC */
  CHECK_EQ(smr_collector_create(&a, &c), -EINVAL);
  CHECK_EQ(smr_collector_create(NULL, NULL), -EINVAL);
  CHECK_EQ(smr_collector_create(NULL, &c), 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(NULL, &h), -EINVAL);
  CHECK_EQ(smr_collector_register(c, NULL), -EINVAL);
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item it;
  smr_collector_node_init(c, &it.node);
  CHECK_EQ(smr_collector_retire(NULL, &it.node, reclaim_item, 0), -EINVAL);
  CHECK_EQ(smr_collector_retire(h, NULL, reclaim_item, 0), -EINVAL);
  CHECK_EQ(smr_collector_retire(h, &it.node, NULL, 0), -EINVAL);
  CHECK_EQ(smr_collector_flush(NULL), -EINVAL);
  CHECK_EQ(smr_collector_reclaim_all(NULL), -EINVAL);
  CHECK_EQ(smr_collector_stats(c, NULL), -EINVAL);
  CHECK_EQ(smr_collector_refresh(h), -EINVAL); /* not in a section */
  CHECK(!smr_collector_in_section(h));
  smr_collector_enter(h);
  CHECK(smr_collector_in_section(h));
  smr_collector_enter(h);
  CHECK_EQ(smr_collector_refresh(h), -EINVAL); /* nested */
  smr_collector_leave(h);
  CHECK_EQ(smr_collector_refresh(h), 0);
  CHECK_EQ(smr_collector_unregister(h), -EBUSY);
  CHECK_EQ(smr_collector_destroy(c), -EBUSY);
  CHECK_EQ(smr_collector_reclaim_all(c), -EBUSY);
  smr_collector_leave(h);
  CHECK(!smr_collector_in_section(h));
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_unregister(NULL), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  CHECK_EQ(smr_collector_destroy(NULL), 0);
}

/* Exact counts with one thread and no section. */
static void test_counts(void) {
  for (unsigned flags = 0; flags <= SMR_COLLECTOR_ROBUST;
       flags += SMR_COLLECTOR_ROBUST) {
    smr_collector *c = make(flags, 8);
    smr_collector_handle *h;
    CHECK_EQ(smr_collector_register(c, &h), 0);
    struct item *a = items(c, 21);
    long base = atomic_load_explicit(&g_reclaims, memory_order_seq_cst);
    for (int i = 0; i < 7; i++)
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 100), 0);
    CHECK_EQ(atomic_load_explicit(&g_reclaims, memory_order_seq_cst) - base,
             0); /* batch not full */
    struct smr_collector_stats st;
    CHECK_EQ(smr_collector_stats(c, &st), 0);
    CHECK_EQ(st.garbage, 7);
    CHECK_EQ(st.handles, 1);
    CHECK_EQ(smr_collector_retire(h, &a[7].node, reclaim_item, 100), 0);
    CHECK_EQ(atomic_load_explicit(&g_reclaims, memory_order_seq_cst) - base,
             8); /* full: at once */
    for (int i = 8; i < 11; i++)
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
    CHECK_EQ(smr_collector_flush(h), 3);
    CHECK_EQ(smr_collector_flush(h), 0);
    CHECK_EQ(smr_collector_stats(c, &st), 0);
    CHECK_EQ(st.garbage, 0);
    CHECK_EQ(st.garbage_bytes, 0);
    CHECK(st.heavy_barriers >= 2);
    /* Unsubmitted nodes: reclaim_all and destroy take them too. */
    for (int i = 11; i < 14; i++)
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
    CHECK_EQ(smr_collector_reclaim_all(c), 3);
    for (int i = 14; i < 21; i++)
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
    CHECK_EQ(smr_collector_unregister(h), 0); /* submits */
    CHECK_EQ(smr_collector_destroy(c), 0);
    for (int i = 0; i < 21; i++)
      CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
    free(a);
  }
}

/* Retired inside our own section: valid until our leave. */
static void test_own_section(void) {
  smr_collector *c = make(SMR_COLLECTOR_ROBUST, 4);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *a = items(c, 4);
  smr_collector_enter(h);
  for (int i = 0; i < 4; i++)
    CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
  CHECK_EQ(smr_collector_flush(h), 0);
  for (int i = 0; i < 4; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 0);
  smr_collector_leave(h); /* the last holder: reclaims */
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
    CHECK(pthread_equal(a[i].by, pthread_self()));
  }
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

/* A reader thread protects a node, then waits; the main thread retires it
 * and flushes (reader_main, collector_util.h). */
static void test_other_section(unsigned flags) {
  smr_collector *c = make(flags, 4);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *a = items(c, 1);
  _Atomic(void *) slot = &a[0];
  struct reader_arg ra = {.c = c, .slot = &slot};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, reader_main, &ra), 0);
  wait_step(&ra.step, 1);
  CHECK(ra.seen == &a[0]);
  smr_collector_enter(h);
  void *old = smr_collector_swap(h, &slot, NULL); /* unlink */
  CHECK(old == &a[0]);
  CHECK_EQ(smr_collector_retire(h, &a[0].node, reclaim_item, 0), 0);
  smr_collector_leave(h);
  CHECK_EQ(smr_collector_flush(h), 0); /* the reader holds it */
  CHECK_EQ(atomic_load_explicit(&a[0].reclaimed, memory_order_seq_cst), 0);
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  CHECK_EQ(pthread_join(t, NULL), 0);
  if (flags & SMR_COLLECTOR_RETIRER_RECLAIMS) {
    CHECK_EQ(atomic_load_explicit(&a[0].reclaimed, memory_order_seq_cst),
             0); /* not by the reader */
    CHECK_EQ(smr_collector_flush(h), 1);
    CHECK(pthread_equal(a[0].by, pthread_self()));
  } else {
    CHECK_EQ(atomic_load_explicit(&a[0].reclaimed, memory_order_seq_cst),
             1); /* by the reader's leave */
    CHECK(!pthread_equal(a[0].by, pthread_self()));
  }
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

/* A thread that exits inside a section without unregistering. */
static void test_thread_exit(void) {
  smr_collector *c = make(0, 4);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *a = items(c, 1);
  _Atomic(void *) slot = &a[0];
  struct reader_arg ra = {.c = c, .slot = &slot, .exit_inside = 1};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, reader_main, &ra), 0);
  wait_step(&ra.step, 1);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  CHECK_EQ(smr_collector_retire(h, &a[0].node, reclaim_item, 0), 0);
  CHECK_EQ(smr_collector_flush(h), 0); /* held by the live reader */
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  CHECK_EQ(pthread_join(t, NULL), 0); /* gone now, still registered */
  /* A registration reaps the dead handle: its section is over. */
  smr_collector_handle *h2;
  CHECK_EQ(smr_collector_register(c, &h2), 0);
  CHECK_EQ(atomic_load_explicit(&a[0].reclaimed, memory_order_seq_cst), 1);
  struct smr_collector_stats st;
  CHECK_EQ(smr_collector_stats(c, &st), 0);
  CHECK_EQ(st.handles, 2);
  CHECK_EQ(smr_collector_unregister(h2), 0);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

/* Reclaim functions that retire: a chain reclaimed iteratively. */
static void test_chain(void) {
  smr_collector *c = make(0, 64);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  enum { N = 100000 };
  struct item *a = items(c, N);
  for (int i = 0; i + 1 < N; i++)
    a[i].chain = &a[i + 1];
  long base = atomic_load_explicit(&g_reclaims, memory_order_seq_cst);
  CHECK_EQ(smr_collector_retire(h, &a[0].node, reclaim_item, 0), 0);
  long total = 0, k;
  while ((k = smr_collector_flush(h)) > 0)
    total += k;
  CHECK_EQ(k, 0);
  CHECK_EQ(total, N);
  CHECK_EQ(atomic_load_explicit(&g_reclaims, memory_order_seq_cst) - base, N);
  for (int i = 0; i < N; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
  /* destroy follows chains too. */
  for (int i = 0; i < N; i++)
    atomic_store_explicit(&a[i].reclaimed, 0, memory_order_seq_cst);
  CHECK_EQ(smr_collector_retire(h, &a[0].node, reclaim_item, 0), 0);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  for (int i = 0; i < N; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
  free(a);
}

/* Pacing (the default): a full batch may wait while barriers are recent,
 * but never grows past 16 full batches, and a flush takes it. */
static void test_paced(void) {
  struct smr_collector_attr at = {.batch = 8, .flush_ns = UINT64_MAX};
  smr_collector *c;
  CHECK_EQ(smr_collector_create(&at, &c), 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  enum { N = 8 * 16 * 4 };
  struct item *a = items(c, N);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
    struct smr_collector_stats st;
    CHECK_EQ(smr_collector_stats(c, &st), 0);
    CHECK(st.garbage < 16 * 8); /* no section: only the partial batch */
    CHECK(st.heavy_barriers <= st.submitted);
  }
  struct smr_collector_stats st;
  CHECK_EQ(smr_collector_stats(c, &st), 0);
  CHECK(st.submitted >= N / (16 * 8) - 1);
  CHECK(smr_collector_flush(h) >= 0);
  for (int i = 0; i < N; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
  /* A full batch that waits (a barrier just ran) on a handle that then
   * only reads: its leaves take the slow path and submit it once the gate
   * opens (before, only a later retire or another submission did). */
  struct item *b = items(c, 8);
  CHECK(smr_collector_flush(h) >= 0); /* a barrier now: the gate closes */
  for (int i = 0; i < 8; i++)
    CHECK_EQ(smr_collector_retire(h, &b[i].node, reclaim_item, 0), 0);
  long spins = 0;
  while (!atomic_load_explicit(&b[7].reclaimed, memory_order_seq_cst) &&
         spins++ < 100000000) {
    smr_collector_enter(h);
    smr_collector_leave(h);
  }
  for (int i = 0; i < 8; i++)
    CHECK_EQ(atomic_load_explicit(&b[i].reclaimed, memory_order_seq_cst), 1);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
  free(b);
}

/* A stalled section (reader_main): robust mode holds up only the old
 * nodes. */
static void test_stall(unsigned flags) {
  struct smr_collector_attr at = {
      .flags = flags, .batch = 64, .era_period = 64, .flush_ns = UINT64_MAX};
  smr_collector *c;
  CHECK_EQ(smr_collector_create(&at, &c), 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  /* Old nodes, one of them protected by the staller. */
  enum { OLD = 100, YOUNG = 200000 };
  struct item *old = items(c, OLD);
  _Atomic(void *) slot = &old[0];
  struct reader_arg sa = {.c = c, .slot = &slot};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, reader_main, &sa), 0);
  wait_step(&sa.step, 1);
  CHECK(sa.seen != NULL);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  uint64_t peak = 0;
  for (int i = 0; i < YOUNG; i++) {
    /* The old nodes are retired one by one among the young ones, so most
     * batches mix one old node with young ones: a young node must not be
     * held up along with it.  Retires happen inside our own sections (we
     * are a blocker with a current era at each submission). */
    smr_collector_enter(h);
    if (i % (YOUNG / OLD) == 0)
      CHECK_EQ(smr_collector_retire(h, &old[i / (YOUNG / OLD)].node,
                                    reclaim_item, 0),
               0);
    struct item *y = calloc(1, sizeof *y);
    CHECK(y);
    y->heap = true;
    smr_collector_node_init(c, &y->node);
    CHECK_EQ(smr_collector_retire(h, &y->node, reclaim_item, sizeof *y), 0);
    smr_collector_leave(h);
    if (i % 1000 == 0) {
      struct smr_collector_stats st;
      CHECK_EQ(smr_collector_stats(c, &st), 0);
      if (st.garbage > peak)
        peak = st.garbage;
    }
  }
  if (getenv("VERBOSE"))
    fprintf(stderr, "stall flags %#x: peak garbage %llu\n", flags,
            (unsigned long long)peak);
  if (flags & SMR_COLLECTOR_ROBUST) {
    /* The bound: the nodes born no later than the staller's era (the old
     * ones and those born before the era next moved: one era_period of
     * retires), plus a partial batch: < 2 x 64 nodes without pacing, < 16
     * x 64 with it (a full batch waits while barriers are frequent). */
    uint64_t partial = (flags & SMR_COLLECTOR_NO_PACING) ? 2 * 64 : 16 * 64;
    CHECK(peak <= OLD + 64 + partial);
    struct smr_collector_stats st;
    CHECK_EQ(smr_collector_stats(c, &st), 0);
    CHECK(st.oldest_era != UINT64_MAX && st.oldest_era < st.era);
  } else {
    CHECK(peak >= YOUNG - 1000); /* epoch semantics: everything waits */
  }
  atomic_store_explicit(&sa.step, 2, memory_order_seq_cst);
  CHECK_EQ(pthread_join(t, NULL), 0);
  smr_collector_flush(h);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  for (int i = 0; i < OLD; i++)
    CHECK_EQ(atomic_load_explicit(&old[i].reclaimed, memory_order_seq_cst), 1);
  free(old);
}

static void test_cas(void) {
  smr_collector *c = make(SMR_COLLECTOR_ROBUST, 4);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *a = items(c, 2);
  _Atomic(void *) slot = &a[0];
  smr_collector_enter(h);
  void *exp = &a[1];
  CHECK(!smr_collector_compare_exchange(h, &slot, &exp, NULL));
  CHECK(exp == &a[0]);
  CHECK(smr_collector_compare_exchange(h, &slot, &exp, &a[1]));
  CHECK(smr_collector_protect(h, &slot) == &a[1]);
  CHECK(smr_collector_swap(h, &slot, NULL) == &a[1]);
  smr_collector_leave(h);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

/* A thread that retires a few nodes and goes quiet does not sit on them:
 * its partial batch, older than flush_ns, is taken by another thread's
 * next submission (flush_ns 1 ns: due at once, no waiting).  And a batch
 * that holds max_pending_bytes is submitted by the retire that fills it. */
struct quiet_arg {
  smr_collector *c;
  struct item *a;
  _Atomic int step; /* 1: retired, parked; 2: may go */
};

static void *quiet_main(void *p) {
  struct quiet_arg *q = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(q->c, &h), 0);
  for (int i = 0; i < 3; i++)
    CHECK_EQ(smr_collector_retire(h, &q->a[i].node, reclaim_item, 0), 0);
  atomic_store_explicit(&q->step, 1, memory_order_seq_cst);
  wait_step(&q->step, 2);
  CHECK_EQ(smr_collector_unregister(h), 0);
  return NULL;
}

static void test_quiet_and_bytes(void) {
  struct smr_collector_attr at = {
      .batch = 64, .flush_ns = 1, .max_pending_bytes = 1000};
  smr_collector *c;
  CHECK_EQ(smr_collector_create(&at, &c), 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *a = items(c, 6);
  struct quiet_arg q = {.c = c, .a = a};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, quiet_main, &q), 0);
  wait_step(&q.step, 1);
  for (int i = 0; i < 3; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 0);
  CHECK_EQ(smr_collector_retire(h, &a[3].node, reclaim_item, 0), 0);
  CHECK_EQ(smr_collector_flush(h), 4); /* ours and the quiet thread's */
  for (int i = 0; i < 4; i++)
    CHECK_EQ(atomic_load_explicit(&a[i].reclaimed, memory_order_seq_cst), 1);
  atomic_store_explicit(&q.step, 2, memory_order_seq_cst);
  CHECK_EQ(pthread_join(t, NULL), 0);
  /* Bytes: 600 + 600 >= 1000 submits at the second retire. */
  CHECK_EQ(smr_collector_retire(h, &a[4].node, reclaim_item, 600), 0);
  CHECK_EQ(atomic_load_explicit(&a[4].reclaimed, memory_order_seq_cst), 0);
  CHECK_EQ(smr_collector_retire(h, &a[5].node, reclaim_item, 600), 0);
  CHECK_EQ(atomic_load_explicit(&a[4].reclaimed, memory_order_seq_cst), 1);
  CHECK_EQ(atomic_load_explicit(&a[5].reclaimed, memory_order_seq_cst), 1);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

/* A leave that reclaims a batch its section held does not submit the
 * handle's own partial batch early (the first version did: one heavy
 * barrier per 46 retires instead of per 64 with two threads). */
static void test_no_early_submit(void) {
  smr_collector *c = make(0, 64);
  smr_collector_handle *ha, *hb;
  CHECK_EQ(smr_collector_register(c, &ha), 0);
  CHECK_EQ(smr_collector_register(c, &hb), 0);
  struct item *a = items(c, 64 + 3);
  smr_collector_enter(ha);
  for (int i = 0; i < 64; i++) /* a full batch, held by ha's section */
    CHECK_EQ(smr_collector_retire(hb, &a[i].node, reclaim_item, 0), 0);
  for (int i = 64; i < 67; i++) /* ha's own partial batch */
    CHECK_EQ(smr_collector_retire(ha, &a[i].node, reclaim_item, 0), 0);
  struct smr_collector_stats s0, s1;
  CHECK_EQ(smr_collector_stats(c, &s0), 0);
  smr_collector_leave(ha); /* releases and reclaims hb's batch */
  CHECK_EQ(smr_collector_stats(c, &s1), 0);
  CHECK_EQ(atomic_load_explicit(&a[0].reclaimed, memory_order_seq_cst), 1);
  CHECK_EQ(s1.submitted, s0.submitted);
  CHECK_EQ(atomic_load_explicit(&a[64].reclaimed, memory_order_seq_cst), 0);
  CHECK_EQ(smr_collector_flush(ha), 3);
  CHECK_EQ(smr_collector_unregister(hb), 0);
  CHECK_EQ(smr_collector_unregister(ha), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  free(a);
}

int main(void) {
  test_args();
  test_counts();
  test_own_section();
  test_other_section(0);
  test_other_section(SMR_COLLECTOR_ROBUST);
  test_other_section(SMR_COLLECTOR_SYMMETRIC);
  test_other_section(SMR_COLLECTOR_RETIRER_RECLAIMS);
  test_thread_exit();
  test_chain();
  test_paced();
  test_stall(SMR_COLLECTOR_ROBUST | SMR_COLLECTOR_NO_PACING);
  test_stall(SMR_COLLECTOR_ROBUST); /* paced: a larger partial batch */
  test_stall(0);
  test_cas();
  test_quiet_and_bytes();
  test_no_early_submit();
  puts("test_collector: ok");
  return 0;
}
