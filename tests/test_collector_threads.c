/* SPDX-License-Identifier: MIT */
/* The collector under threads (bounded by operation counts; run under ASAN
 * and TSAN in CI):
 *  - a Treiber stack: 6 threads push and pop (each pop retires the node),
 *    every value popped exactly once, no node read after its reclamation
 *    (a reclaimed node is poisoned, then freed: ASAN or the poison check
 *    catches a late read);
 *  - protected swaps: threads replace the nodes of 8 slots and retire the
 *    old ones while readers protect and check them;
 *  - registration churn: workers unregister and register again every few
 *    hundred operations, and some exit without unregistering;
 * in each mode: default, ROBUST, SYMMETRIC, RETIRER_RECLAIMS, and with a
 * batch of 1 (every retire a submission). */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#define _GNU_SOURCE
#include "check.h"
#include "smr/collector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LIVE   0x11ce11ce11ce11ceull
#define POISON 0xdeaddeaddeaddeadull

struct node {
  struct smr_collector_node cn;
  _Atomic uint64_t magic;
  _Atomic(struct node *) next;
  uint64_t value;
};

static _Atomic long g_freed, g_made;

static void reclaim_node(struct smr_collector_node *n,
                         smr_collector_handle *h) {
  (void)h;
  struct node *x = SMR_CONTAINER_OF(n, struct node, cn);
  CHECK(atomic_load_explicit(&x->magic, memory_order_relaxed) == LIVE);
  atomic_store_explicit(&x->magic, POISON, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_freed, 1, memory_order_relaxed);
  free(x);
}

static struct node *node_new(smr_collector *c, uint64_t v) {
  struct node *x = malloc(sizeof *x);
  CHECK(x);
  smr_collector_node_init(c, &x->cn);
  atomic_init(&x->magic, LIVE);
  atomic_init(&x->next, NULL);
  x->value = v;
  atomic_fetch_add_explicit(&g_made, 1, memory_order_relaxed);
  return x;
}

static void check_live(const struct node *x) {
  CHECK(atomic_load_explicit(&x->magic, memory_order_relaxed) == LIVE);
}

/* ---- Treiber stack ---- */

struct ctx {
  smr_collector *c;
  _Atomic(void *) head;
  _Atomic(void *) slots[8];
  unsigned threads, ops;
  _Atomic uint64_t popped_sum, pushed_sum;
  _Atomic long popped, pushed;
};

static void push(smr_collector_handle *h, struct ctx *x, struct node *n) {
  smr_collector_enter(h);
  void *top = smr_collector_protect(h, &x->head);
  do
    atomic_store_explicit(&n->next, top, memory_order_relaxed);
  while (!smr_collector_compare_exchange(h, &x->head, &top, n));
  smr_collector_leave(h);
}

static bool pop(smr_collector_handle *h, struct ctx *x, uint64_t *v) {
  smr_collector_enter(h);
  void *top = smr_collector_protect(h, &x->head);
  for (;;) {
    if (!top) {
      smr_collector_leave(h);
      return false;
    }
    struct node *t = top;
    check_live(t);
    /* relaxed: next is written before the push that published t. */
    void *next = atomic_load_explicit(&t->next, memory_order_relaxed);
    if (smr_collector_compare_exchange(h, &x->head, &top, next))
      break;
  }
  struct node *t = top;
  *v = t->value;
  CHECK_EQ(smr_collector_retire(h, &t->cn, reclaim_node, sizeof *t), 0);
  smr_collector_leave(h);
  return true;
}

static smr_collector_handle *reg(smr_collector *c) {
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  return h;
}

static void *stack_worker(void *p) {
  struct ctx *x = p;
  smr_collector_handle *h = reg(x->c);
  uint64_t seed = (uint64_t)(uintptr_t)&h;
  for (unsigned i = 0; i < x->ops; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    if ((seed >> 33) & 1) {
      uint64_t v = seed >> 40;
      push(h, x, node_new(x->c, v));
      atomic_fetch_add_explicit(&x->pushed, 1, memory_order_seq_cst);
      atomic_fetch_add_explicit(&x->pushed_sum, v, memory_order_seq_cst);
    } else {
      uint64_t v;
      if (pop(h, x, &v)) {
        atomic_fetch_add_explicit(&x->popped, 1, memory_order_seq_cst);
        atomic_fetch_add_explicit(&x->popped_sum, v, memory_order_seq_cst);
      }
    }
    if (i % 500 == 499) { /* churn */
      CHECK_EQ(smr_collector_unregister(h), 0);
      h = reg(x->c);
    }
  }
  /* Half of the threads leave without unregistering. */
  if ((uintptr_t)&h & 64)
    CHECK_EQ(smr_collector_unregister(h), 0);
  return NULL;
}

/* ---- Protected swaps ---- */

static void *swap_worker(void *p) {
  struct ctx *x = p;
  smr_collector_handle *h = reg(x->c);
  uint64_t seed = (uint64_t)(uintptr_t)&h;
  for (unsigned i = 0; i < x->ops; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned s = (unsigned)(seed >> 33) % 8;
    smr_collector_enter(h);
    if ((seed >> 40) % 4 == 0) {
      struct node *old = smr_collector_swap(h, &x->slots[s], node_new(x->c, s));
      check_live(old);
      CHECK_EQ(old->value, s);
      CHECK_EQ(smr_collector_retire(h, &old->cn, reclaim_node, sizeof *old), 0);
    } else {
      struct node *n = smr_collector_protect(h, &x->slots[s]);
      check_live(n);
      CHECK_EQ(n->value, s);
    }
    smr_collector_leave(h);
  }
  CHECK_EQ(smr_collector_unregister(h), 0);
  return NULL;
}

static void run(unsigned flags, unsigned batch) {
  struct smr_collector_attr a = {.flags = flags, .batch = batch};
  struct ctx x = {.threads = 6, .ops = 200000};
  atomic_store_explicit(&g_freed, 0, memory_order_seq_cst);
  atomic_store_explicit(&g_made, 0, memory_order_seq_cst);
  CHECK_EQ(smr_collector_create(&a, &x.c), 0);
  smr_collector_handle *h = reg(x.c);
  for (unsigned s = 0; s < 8; s++)
    atomic_init(&x.slots[s], node_new(x.c, s));
  pthread_t t[12];
  for (unsigned i = 0; i < x.threads; i++)
    CHECK_EQ(pthread_create(&t[i], NULL, stack_worker, &x), 0);
  for (unsigned i = 0; i < x.threads; i++)
    CHECK_EQ(pthread_create(&t[x.threads + i], NULL, swap_worker, &x), 0);
  for (unsigned i = 0; i < 2 * x.threads; i++)
    CHECK_EQ(pthread_join(t[i], NULL), 0);
  /* Drain the stack; exactly what was pushed was popped or is left. */
  uint64_t v;
  while (pop(h, &x, &v)) {
    atomic_fetch_add_explicit(&x.popped, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&x.popped_sum, v, memory_order_seq_cst);
  }
  CHECK_EQ(atomic_load_explicit(&x.popped, memory_order_seq_cst),
           atomic_load_explicit(&x.pushed, memory_order_seq_cst));
  CHECK(atomic_load_explicit(&x.popped_sum, memory_order_seq_cst) ==
        atomic_load_explicit(&x.pushed_sum, memory_order_seq_cst));
  for (unsigned s = 0; s < 8; s++) {
    struct node *n = atomic_load_explicit(&x.slots[s], memory_order_seq_cst);
    CHECK_EQ(smr_collector_retire(h, &n->cn, reclaim_node, sizeof *n), 0);
  }
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(x.c), 0);
  /* Every node made was reclaimed, once (the stack is empty). */
  CHECK_EQ(atomic_load_explicit(&g_freed, memory_order_seq_cst),
           atomic_load_explicit(&g_made, memory_order_seq_cst));
}

int main(void) {
  run(0, 0);
  run(SMR_COLLECTOR_ROBUST, 0);
  run(SMR_COLLECTOR_SYMMETRIC | SMR_COLLECTOR_ROBUST, 0);
  run(SMR_COLLECTOR_RETIRER_RECLAIMS, 0);
  run(SMR_COLLECTOR_ROBUST, 1);
  puts("test_collector_threads: ok");
  return 0;
}
