/* SPDX-License-Identifier: MIT */
/* Treiber stack over the scheme interface (bench/ds/scheme.h).
 *
 * push: a new node, CAS on top.  pop: protect top (hazard slot 0), read its
 * next, CAS top from it to next, retire it.  A node that a pop protected
 * cannot be reclaimed and reused before the pop's CAS, so the CAS cannot
 * succeed on a recycled address (no ABA); with the scheme NONE nothing is
 * ever reused during a run.  The callers wrap each operation in
 * sch_enter / sch_leave. */
#ifndef BENCH_DS_STACK_H
#define BENCH_DS_STACK_H

#include "ds/scheme.h"
#include <stdbool.h>

struct stk_node {
  struct sch_node n;
  uint64_t val;
  struct stk_node *next; /* written before the node is published, then
                            never again: a plain field */
};

struct stk {
  _Alignas(64) _Atomic(void *) top;
};

static inline void stk_init(struct stk *s) {
  /* relaxed: not shared yet (threads start after it). */
  atomic_store_explicit(&s->top, NULL, memory_order_relaxed);
}

static inline void stk_push(struct sch_thread *t, struct stk *s, uint64_t v) {
  struct stk_node *n = sch_alloc(t, sizeof *n);
  n->val = v;
  /* relaxed: only compared by the CAS, never dereferenced here. */
  void *top = atomic_load_explicit(&s->top, memory_order_relaxed);
  do {
    n->next = top;
    /* release: publishes n's fields (pairs with the acquire load in pop's
     * protect); relaxed on failure: top is only compared again. */
  } while (!atomic_compare_exchange_weak_explicit(
      &s->top, &top, n, memory_order_release, memory_order_relaxed));
}

static inline bool stk_pop(struct sch_thread *t, struct stk *s, uint64_t *v) {
  for (;;) {
    struct stk_node *top = sch_protect(t, 0, &s->top);
    if (!top)
      return false;
    sch_check(&top->n);
    void *exp = top;
    /* acq_rel on success: acquire orders the reads of top's fields after
     * no other pop took it; release hands the stack on.  Acquire on
     * failure: the value is discarded (we protect again). */
    if (atomic_compare_exchange_strong_explicit(&s->top, &exp, top->next,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
      *v = top->val;
      sch_retire(t, &top->n);
      return true;
    }
  }
}

/* Single-threaded, after the run: pop everything without a scheme, calling
 * fn(val, arg) on each, and free the nodes. */
static inline void stk_drain(struct stk *s, void (*fn)(uint64_t, void *),
                             void *arg) {
  /* relaxed: every thread was joined. */
  struct stk_node *x = atomic_load_explicit(&s->top, memory_order_relaxed);
  atomic_store_explicit(&s->top, NULL, memory_order_relaxed);
  while (x) {
    struct stk_node *next = x->next;
    sch_check(&x->n);
    fn(x->val, arg);
    sch_free_direct(&x->n);
    x = next;
  }
}

#endif /* BENCH_DS_STACK_H */
