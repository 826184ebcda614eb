/* SPDX-License-Identifier: MIT */
/* The collector's review cases (issue 13 review; each failed on the first
 * version, see docs/DESIGN.md section 9, "Review"):
 *  destroy_busy      destroy returning -EBUSY reclaimed a node a live
 *                    section held;
 *  robust_churn      register / retire 63 / unregister kept the era still:
 *                    a stalled robust section held 126,000 nodes;
 *  retirer_steal     RETIRER_RECLAIMS: another thread's submission took a
 *                    retirer's partial batch and reclaimed it;
 *  nested_reclaim    a reclaim function ran inside another (drain of the
 *                    ready stack from a retire inside a reclaim function);
 *  reclaim_all_dead  reclaim_all said -EBUSY for ever for a thread that died
 *                    inside a section;
 *  reader_local      nodes retired by reclaim functions on a handle that
 *                    never retires were never submitted;
 *  stuck_links       links left on idle handles after a flush;
 *  destroy_nobarrier destroy looped for ever when the barrier was refused;
 *  reap_deadlock     reclaim functions ran under the registry lock: one that
 *                    takes a lock another thread holds while registering
 *                    deadlocked.
 * Each case prints "ok <name>" or "BUG <name>: ..." (the test then fails);
 * an alarm turns a hang into a failure. */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#define _GNU_SOURCE
#include "check.h"

static int g_bugs;
#define printf(...) report(__VA_ARGS__)
static void report(const char *fmt, ...);
#include "collector_internal.h"
#include "collector_util.h"
#include "test_hooks.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void rfn(struct smr_collector_node *n, smr_collector_handle *h) {
  (void)h;
  struct item *it = SMR_CONTAINER_OF(n, struct item, node);
  atomic_fetch_add_explicit(&it->reclaimed, 1, memory_order_seq_cst);
  it->by = pthread_self();
  if (it->heap)
    free(it);
}

static smr_collector *mk(unsigned flags, unsigned batch, uint64_t flush_ns,
                         unsigned era_period) {
  struct smr_collector_attr a = {.flags = flags,
                                 .batch = batch,
                                 .flush_ns = flush_ns,
                                 .era_period = era_period};
  smr_collector *c;
  CHECK_EQ(smr_collector_create(&a, &c), 0);
  return c;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "  (alarm: hung -> deadlock / livelock)\n";
  write(2, m, sizeof m - 1);
  _exit(3);
}

/* ---- 1. destroy's -EBUSY path reclaims nodes held by a live section ---- */
static void t_destroy_busy(void) {
  smr_collector *c = mk(0, 4, UINT64_MAX, 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *x = calloc(1, sizeof *x);
  smr_collector_node_init(c, &x->node);
  _Atomic(void *) slot = x;
  struct reader_arg ra = {.c = c, .slot = &slot};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &ra);
  wait_step(&ra.step, 1);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  smr_collector_retire(h, &x->node, rfn, 0);
  CHECK_EQ(smr_collector_flush(h), 0); /* held by the reader */
  int r = smr_collector_destroy(c);    /* live handles: -EBUSY */
  int rec = atomic_load_explicit(&x->reclaimed, memory_order_seq_cst);
  if (r == -EBUSY && rec)
    printf("BUG destroy_busy: destroy returned -EBUSY but reclaimed a node "
           "the reader's live section still holds (reclaimed=%d)\n",
           rec);
  else
    printf("ok destroy_busy (r=%d reclaimed=%d)\n", r, rec);
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  pthread_join(t, NULL);
  smr_collector_unregister(h);
  smr_collector_destroy(c);
  free(x);
}

/* ---- 2. robust: per-handle era counter reset at register -> the era never
 * advances under register/retire/unregister churn; a stalled section then
 * holds every node retired ---- */
static void t_robust_churn(void) {
  smr_collector *c = mk(SMR_COLLECTOR_ROBUST, 64, UINT64_MAX, 64);
  struct item *old = calloc(1, sizeof *old);
  smr_collector_node_init(c, &old->node);
  _Atomic(void *) slot = old;
  struct reader_arg sa = {.c = c, .slot = &slot};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &sa);
  wait_step(&sa.step, 1);
  CHECK(sa.seen != NULL);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  uint64_t peak = 0;
  struct smr_collector_stats s;
  for (int round = 0; round < 2000; round++) {
    smr_collector_handle *h;
    CHECK_EQ(smr_collector_register(c, &h), 0);
    for (int j = 0; j < 63; j++) {
      struct item *y = calloc(1, sizeof *y);
      y->heap = 1;
      smr_collector_node_init(c, &y->node);
      smr_collector_retire(h, &y->node, rfn, sizeof *y);
    }
    CHECK_EQ(smr_collector_unregister(h), 0);
    smr_collector_stats(c, &s);
    if (s.garbage > peak)
      peak = s.garbage;
  }
  smr_collector_stats(c, &s);
  if (peak > 1 + 64 + 2 * 64)
    printf("BUG robust_churn: stalled robust section holds %llu nodes (era "
           "%llu, staller era %llu); documented bound ~%d\n",
           (unsigned long long)peak, (unsigned long long)s.era,
           (unsigned long long)s.oldest_era, 1 + 64 + 2 * 64);
  else
    printf("ok robust_churn (peak %llu)\n", (unsigned long long)peak);
  atomic_store_explicit(&sa.step, 2, memory_order_seq_cst);
  pthread_join(t, NULL);
  smr_collector_destroy(c);
  free(old);
}

/* ---- 3. RETIRER_RECLAIMS: reclaim functions run on other threads ---- */
struct ra3 {
  smr_collector *c;
  struct item *x;
  _Atomic int step;
  pthread_t self;
};
static void *lazy_retirer(void *p) {
  struct ra3 *a = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(a->c, &h), 0);
  a->self = pthread_self();
  smr_collector_node_init(a->c, &a->x->node);
  smr_collector_retire(h, &a->x->node, rfn, 0); /* partial batch */
  atomic_store_explicit(&a->step, 1, memory_order_seq_cst);
  wait_step(&a->step, 2);
  smr_collector_flush(h);
  smr_collector_unregister(h);
  return NULL;
}

static void t_retirer_steal(void) {
  /* flush_ns 1: the partial batch is old at once (stealable, if the mode
   * allowed it). */
  smr_collector *c = mk(SMR_COLLECTOR_RETIRER_RECLAIMS, 8, 1, 0);
  struct item *x = calloc(1, sizeof *x);
  struct ra3 a = {.c = c, .x = x};
  pthread_t t;
  pthread_create(&t, NULL, lazy_retirer, &a);
  wait_step(&a.step, 1);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *y = calloc(8, sizeof *y);
  for (int i = 0; i < 8; i++) {
    smr_collector_node_init(c, &y[i].node);
    smr_collector_retire(h, &y[i].node, rfn, 0);
  }
  int rec = atomic_load_explicit(&x->reclaimed, memory_order_seq_cst);
  if (rec && !pthread_equal(x->by, a.self))
    printf("BUG retirer_steal: RETIRER_RECLAIMS node retired by thread A "
           "was reclaimed on thread B (the stealer)\n");
  else
    printf("ok retirer_steal (reclaimed=%d)\n", rec);
  atomic_store_explicit(&a.step, 2, memory_order_seq_cst);
  pthread_join(t, NULL);
  smr_collector_unregister(h);
  smr_collector_destroy(c);
  free(x);
  free(y);
}

/* 3b. retirer unregisters while a pure reader holds its batch: the reader
 * runs the reclaim function ("never on a thread that only reads"). */
/* ---- 4. RETIRER_RECLAIMS: retire inside a reclaim function drains ready
 * batches: reclaim functions run recursively ---- */
static _Thread_local int depth, max_depth;
static struct reader_arg *g_rd4;
static smr_collector_handle *g_h4;
static struct item *g_x4[3];

static void rfn_nested(struct smr_collector_node *n, smr_collector_handle *h) {
  struct item *it = SMR_CONTAINER_OF(n, struct item, node);
  depth++;
  if (depth > max_depth)
    max_depth = depth;
  atomic_fetch_add_explicit(&it->reclaimed, 1, memory_order_seq_cst);
  if (it == g_x4[0]) {
    /* let the reader end its second section: batch 2 becomes ready */
    atomic_store_explicit(&g_rd4->step, 4, memory_order_seq_cst);
    wait_step(&g_rd4->step, 5);
    smr_collector_retire(h, &g_x4[2]->node, rfn_nested, 0);
  }
  depth--;
}
static void *reader4(void *p) {
  struct reader_arg *a = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(a->c, &h), 0);
  smr_collector_enter(h);
  atomic_store_explicit(&a->step, 1, memory_order_seq_cst);
  wait_step(&a->step, 2);
  smr_collector_leave(h); /* batch 1 -> retirer's ready */
  smr_collector_enter(h);
  atomic_store_explicit(&a->step, 3, memory_order_seq_cst);
  wait_step(&a->step, 4);
  smr_collector_leave(h); /* batch 2 -> retirer's ready */
  atomic_store_explicit(&a->step, 5, memory_order_seq_cst);
  smr_collector_unregister(h);
  return NULL;
}
static void t_nested_reclaim(void) {
  smr_collector *c = mk(SMR_COLLECTOR_RETIRER_RECLAIMS, 64, UINT64_MAX, 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  g_h4 = h;
  for (int i = 0; i < 3; i++) {
    g_x4[i] = calloc(1, sizeof(struct item));
    smr_collector_node_init(c, &g_x4[i]->node);
  }
  _Atomic(void *) slot = NULL;
  struct reader_arg ra = {.c = c, .slot = &slot};
  g_rd4 = &ra;
  pthread_t t;
  pthread_create(&t, NULL, reader4, &ra);
  wait_step(&ra.step, 1);
  smr_collector_retire(h, &g_x4[0]->node, rfn_nested, 0);
  CHECK_EQ(smr_collector_flush(h), 0); /* batch 1, held by section 1 */
  smr_collector_retire(h, &g_x4[1]->node, rfn_nested, 0); /* ready empty */
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  wait_step(&ra.step, 3);
  /* flush: submits batch 2 (held by section 2), drains batch 1, whose
   * reclaim lets batch 2 become ready, then retires */
  smr_collector_flush(h);
  pthread_join(t, NULL);
  smr_collector_flush(h);
  if (max_depth > 1)
    printf("BUG nested_reclaim: reclaim function ran inside another reclaim "
           "function (depth %d) via retire -> drain_ready\n",
           max_depth);
  else
    printf("ok nested_reclaim (depth %d)\n", max_depth);
  smr_collector_unregister(h);
  smr_collector_destroy(c);
  for (int i = 0; i < 3; i++)
    free(g_x4[i]);
}

/* ---- 5. reclaim_all -EBUSY for a thread that exited inside a section --- */
static void t_reclaim_all_dead(void) {
  smr_collector *c = mk(0, 4, UINT64_MAX, 0);
  _Atomic(void *) slot = NULL;
  struct reader_arg ra = {.c = c, .slot = &slot, .exit_inside = 1};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &ra);
  wait_step(&ra.step, 1);
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  pthread_join(t, NULL);
  long k = smr_collector_reclaim_all(c);
  long k2 = smr_collector_reclaim_all(c);
  if (k == -EBUSY)
    printf("BUG reclaim_all_dead: reclaim_all = -EBUSY for a dead thread's "
           "section (second call: %ld)\n",
           k2);
  else
    printf("ok reclaim_all_dead (%ld)\n", k);
  CHECK_EQ(smr_collector_destroy(c), 0);
}

/* ---- 7. reaping ran reclaim functions under reg_lock (a reclaim function
 * taking a user lock that another thread holds while it registers then
 * deadlocked): a reclaim function run by the reaping of a dead thread's
 * section must find the registry lock free ---- */
static smr_collector *g_c7;
static _Atomic int g_locked7 = -1;
static void rfn_lock(struct smr_collector_node *n, smr_collector_handle *h) {
  int e = pthread_mutex_trylock(&g_c7->reg_lock);
  if (e == 0)
    pthread_mutex_unlock(&g_c7->reg_lock);
  atomic_store_explicit(&g_locked7, e == EBUSY, memory_order_seq_cst);
  rfn(n, h);
}
static void t_reap_deadlock(void) {
  smr_collector *c = mk(0, 4, UINT64_MAX, 0);
  g_c7 = c;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *x = calloc(1, sizeof *x);
  CHECK(x);
  x->heap = 1;
  smr_collector_node_init(c, &x->node);
  _Atomic(void *) slot = x;
  struct reader_arg ra = {.c = c, .slot = &slot, .exit_inside = 1};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, reader_main, &ra), 0);
  wait_step(&ra.step, 1);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  smr_collector_retire(h, &x->node, rfn_lock, 0);
  CHECK_EQ(smr_collector_flush(h), 0);
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  CHECK_EQ(pthread_join(t, NULL), 0); /* dies in its section */
  smr_collector_handle *h2;
  CHECK_EQ(smr_collector_register(c, &h2), 0); /* reaps, then reclaims */
  if (atomic_load_explicit(&g_locked7, memory_order_seq_cst) != 0)
    printf("BUG reap_deadlock: the reclaim function ran %s\n",
           atomic_load_explicit(&g_locked7, memory_order_seq_cst) < 0
               ? "never"
               : "under the registry lock");
  else
    printf("ok reap_deadlock\n");
  smr_collector_unregister(h2);
  smr_collector_unregister(h);
  smr_collector_destroy(c);
}

/* ---- 8. destroy spins forever when the barrier is refused ---- */
static void t_destroy_nobarrier(void) {
  smr_collector *c = mk(0, 64, UINT64_MAX, 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  struct item *x = calloc(1, sizeof *x);
  x->heap = 1;
  smr_collector_node_init(c, &x->node);
  smr_collector_retire(h, &x->node, rfn, 0);
  atomic_store_explicit(&smr__test_barrier_error, -EPERM, memory_order_seq_cst);
  CHECK_EQ(smr_collector_unregister(h), 0);
  alarm(3);
  int r = smr_collector_destroy(c); /* no handle at all, yet needs a barrier */
  alarm(0);
  atomic_store_explicit(&smr__test_barrier_error, 0, memory_order_seq_cst);
  printf("ok destroy_nobarrier (%d)\n", r);
}

/* ---- 9. links left on idle handles: after quiescence the retirer's
 * flush cannot release them ---- */
static _Atomic int g_stop9, g_quiet9;
static smr_collector_handle *_Atomic g_sp[2];
static _Atomic int g_spn;
static void *spinner(void *p) {
  smr_collector *c = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  atomic_store_explicit(
      &g_sp[atomic_fetch_add_explicit(&g_spn, 1, memory_order_seq_cst)], h,
      memory_order_seq_cst);
  while (!atomic_load_explicit(&g_stop9, memory_order_seq_cst)) {
    smr_collector_enter(h);
    smr_collector_leave(h);
  }
  atomic_fetch_add_explicit(&g_quiet9, 1, memory_order_seq_cst);
  while (atomic_load_explicit(&g_stop9, memory_order_seq_cst) != 2)
    sched_yield();
  smr_collector_unregister(h);
  return NULL;
}
static void t_stuck_links(void) {
  int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 400, stuck = 0;
  for (int r = 0; r < rounds; r++) {
    smr_collector *c = mk(0, 1, UINT64_MAX, 0);
    atomic_store_explicit(&g_stop9, 0, memory_order_seq_cst);
    atomic_store_explicit(&g_quiet9, 0, memory_order_seq_cst);
    atomic_store_explicit(&g_spn, 0, memory_order_seq_cst);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
      pthread_create(&t[i], NULL, spinner, c);
    smr_collector_handle *h;
    CHECK_EQ(smr_collector_register(c, &h), 0);
    for (int i = 0; i < 200; i++) {
      struct item *y = calloc(1, sizeof *y);
      y->heap = 1;
      smr_collector_node_init(c, &y->node);
      smr_collector_retire(h, &y->node, rfn, 0);
    }
    atomic_store_explicit(&g_stop9, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&g_quiet9, memory_order_seq_cst) != 2)
      sched_yield();
    smr_collector_flush(h);
    struct smr_collector_stats s;
    smr_collector_stats(c, &s);
    if (s.garbage) {
      stuck++;
      printf("  round %d: garbage %llu, spinner stacks non-empty: %d %d\n", r,
             (unsigned long long)s.garbage,
             atomic_load_explicit(&g_sp[0]->blocked, memory_order_seq_cst) !=
                 NULL,
             atomic_load_explicit(&g_sp[1]->blocked, memory_order_seq_cst) !=
                 NULL);
    }
    atomic_store_explicit(&g_stop9, 2, memory_order_seq_cst);
    for (int i = 0; i < 2; i++)
      pthread_join(t[i], NULL);
    smr_collector_unregister(h);
    smr_collector_destroy(c);
  }
  if (stuck)
    printf("BUG stuck_links: %d of %d rounds left garbage on idle handles "
           "after every section ended and the retirer flushed\n",
           stuck, rounds);
  else
    printf("ok stuck_links\n");
}

/* ---- 10. reader's partial batch filled by reclaim functions (leave slow
 * path) is never submitted ---- */
static struct item *g_kids;
static int g_nkids;
static void rfn_parent(struct smr_collector_node *n, smr_collector_handle *h) {
  for (int i = 0; i < g_nkids; i++)
    smr_collector_retire(h, &g_kids[i].node, rfn, 0);
  rfn(n, h);
}
static void *reader10(void *p) {
  struct reader_arg *a = p;
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(a->c, &h), 0);
  smr_collector_enter(h);
  a->seen = smr_collector_protect(h, a->slot);
  atomic_store_explicit(&a->step, 1, memory_order_seq_cst);
  wait_step(&a->step, 2);
  smr_collector_leave(h);            /* reclaims x: 1000 kids retired into h */
  for (int i = 0; i < 100000; i++) { /* keeps reading */
    smr_collector_enter(h);
    smr_collector_leave(h);
  }
  atomic_store_explicit(&a->step, 3, memory_order_seq_cst);
  wait_step(&a->step, 4);
  smr_collector_unregister(h);
  return NULL;
}
static void t_reader_local(void) {
  smr_collector *c = mk(0, 64, UINT64_MAX, 0);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  g_nkids = 1000;
  g_kids = calloc(g_nkids, sizeof *g_kids);
  for (int i = 0; i < g_nkids; i++)
    smr_collector_node_init(c, &g_kids[i].node);
  struct item *x = calloc(1, sizeof *x);
  smr_collector_node_init(c, &x->node);
  _Atomic(void *) slot = x;
  struct reader_arg ra = {.c = c, .slot = &slot};
  /* reader keeps its handle: modified reader that does not unregister */
  pthread_t t;
  pthread_create(&t, NULL, reader10, &ra);
  wait_step(&ra.step, 1);
  atomic_store_explicit(&slot, NULL, memory_order_seq_cst);
  smr_collector_retire(h, &x->node, rfn_parent, 0);
  smr_collector_flush(h);
  atomic_store_explicit(&ra.step, 2, memory_order_seq_cst);
  wait_step(&ra.step, 3); /* reader left (reclaimed x, 1000 kids retired
                             into its handle), then unregistered */
  struct smr_collector_stats s;
  smr_collector_stats(c, &s);
  /* The 1000 nodes the reader's reclaim function retired are a full batch:
   * its next leave submits them (nothing holds them). */
  if (s.garbage != 0 ||
      atomic_load_explicit(&g_kids[0].reclaimed, memory_order_seq_cst) != 1)
    printf("BUG reader_local: garbage %llu after the reader's sections\n",
           (unsigned long long)s.garbage);
  else
    printf("ok reader_local\n");
  atomic_store_explicit(&ra.step, 4, memory_order_seq_cst);
  pthread_join(t, NULL);
  smr_collector_unregister(h);
  smr_collector_destroy(c);
  free(g_kids);
  free(x);
}

#undef printf
#include <stdarg.h>
static void report(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (strncmp(fmt, "BUG", 3) == 0)
    g_bugs++;
  vprintf(fmt, ap);
  va_end(ap);
}

int main(int argc, char **argv) {
  signal(SIGALRM, on_alarm);
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *w = argc > 1 ? argv[1] : "all";
#define RUN(n)                                                                 \
  if (!strcmp(w, "all") || !strcmp(w, #n))                                     \
  t_##n()
  RUN(destroy_busy);
  RUN(robust_churn);
  RUN(retirer_steal);
  RUN(nested_reclaim);
  RUN(reclaim_all_dead);
  RUN(reader_local);
  RUN(stuck_links);
  RUN(destroy_nobarrier);
  RUN(reap_deadlock);
  return g_bugs ? 1 : 0;
}
