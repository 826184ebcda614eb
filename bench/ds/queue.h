/* SPDX-License-Identifier: MIT */
/* Michael-Scott queue over the scheme interface (bench/ds/scheme.h).
 *
 * A dummy node at the head; enqueue links after the tail and swings the
 * tail; dequeue moves the head to the first real node, whose value it
 * returns, and retires the old dummy.  Hazard slots: 0 the tail or head
 * node, 1 its successor; each successor is validated by re-reading tail or
 * head (still equal: the node was not yet dequeued, so its successor was
 * reachable).  The head never passes the tail (dequeue swings a lagging
 * tail first), so the node the tail points to is never retired.  The
 * callers wrap each operation in sch_enter / sch_leave. */
#ifndef BENCH_DS_QUEUE_H
#define BENCH_DS_QUEUE_H

#include "ds/scheme.h"
#include <stdbool.h>

struct q_node {
  struct sch_node n;
  uint64_t val;
  _Atomic(void *) next;
};

struct msq {
  _Alignas(64) _Atomic(void *) head;
  _Alignas(64) _Atomic(void *) tail;
};

static inline void msq_init(struct sch_thread *t, struct msq *q) {
  struct q_node *d = sch_alloc(t, sizeof *d);
  d->val = 0;
  /* relaxed: nothing is shared yet (threads start after it). */
  atomic_store_explicit(&d->next, NULL, memory_order_relaxed);
  atomic_store_explicit(&q->head, d, memory_order_relaxed);
  atomic_store_explicit(&q->tail, d, memory_order_relaxed);
}

static inline void msq_enqueue(struct sch_thread *t, struct msq *q,
                               uint64_t v) {
  struct q_node *n = sch_alloc(t, sizeof *n);
  n->val = v;
  /* relaxed: published by the release CAS that links it. */
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  for (;;) {
    struct q_node *tl = sch_protect(t, 0, &q->tail);
    sch_check(&tl->n);
    void *next = sch_protect(t, 1, &tl->next);
    /* acquire: pairs with the release CAS that swung the tail. */
    if (atomic_load_explicit(&q->tail, memory_order_acquire) != tl)
      continue;
    if (next == NULL) {
      void *exp = NULL;
      /* release: publishes n (pairs with the acquire loads of protect);
       * relaxed on failure: we start again. */
      if (atomic_compare_exchange_strong_explicit(
              &tl->next, &exp, n, memory_order_release, memory_order_relaxed)) {
        void *e = tl;
        /* release: the tail moves to a published node; relaxed on
         * failure: another thread swung it. */
        atomic_compare_exchange_strong_explicit(
            &q->tail, &e, n, memory_order_release, memory_order_relaxed);
        return;
      }
    } else {
      void *e = tl;
      /* release / relaxed: help a lagging tail, as above. */
      atomic_compare_exchange_strong_explicit(
          &q->tail, &e, next, memory_order_release, memory_order_relaxed);
    }
  }
}

static inline bool msq_dequeue(struct sch_thread *t, struct msq *q,
                               uint64_t *v) {
  for (;;) {
    struct q_node *hd = sch_protect(t, 0, &q->head);
    sch_check(&hd->n);
    /* acquire: pairs with the release CAS that swung the tail. */
    void *tl = atomic_load_explicit(&q->tail, memory_order_acquire);
    struct q_node *next = sch_protect(t, 1, &hd->next);
    /* acquire: pairs with the release CAS that moved the head. */
    if (atomic_load_explicit(&q->head, memory_order_acquire) != hd)
      continue;
    if (next == NULL)
      return false;
    if ((void *)hd == tl) {
      /* release / relaxed: swing the lagging tail past the head first. */
      atomic_compare_exchange_strong_explicit(
          &q->tail, &tl, next, memory_order_release, memory_order_relaxed);
      continue;
    }
    sch_check(&next->n);
    uint64_t val = next->val;
    void *e = hd;
    /* acq_rel: acquire orders the value read before no other dequeue
     * took it, release hands the queue on; acquire on failure (the value
     * is discarded). */
    if (atomic_compare_exchange_strong_explicit(
            &q->head, &e, next, memory_order_acq_rel, memory_order_acquire)) {
      *v = val;
      sch_retire(t, &hd->n);
      return true;
    }
  }
}

/* Single-threaded, after the run: dequeue everything without a scheme
 * (fn(val, arg) on each, in order), then free every node, dummy included. */
static inline void msq_drain(struct msq *q, void (*fn)(uint64_t, void *),
                             void *arg) {
  /* relaxed: every thread was joined. */
  struct q_node *x = atomic_load_explicit(&q->head, memory_order_relaxed);
  bool dummy = true;
  while (x) {
    sch_check(&x->n);
    /* relaxed: as above. */
    struct q_node *next = atomic_load_explicit(&x->next, memory_order_relaxed);
    if (!dummy)
      fn(x->val, arg);
    dummy = false;
    sch_free_direct(&x->n);
    x = next;
  }
  atomic_store_explicit(&q->head, NULL, memory_order_relaxed);
  atomic_store_explicit(&q->tail, NULL, memory_order_relaxed);
}

#endif /* BENCH_DS_QUEUE_H */
