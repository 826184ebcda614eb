/* SPDX-License-Identifier: MIT */
/* Ramalhete and Correia's DoubleLink queue (2017; circ's
 * tests/doubly_linked_queue.rs) over the scheme interface
 * (bench/ds/scheme.h), through the links of bench/ds/link.h: one code for
 * the intrusive schemes and for reference counting (smr/rc.h).
 *
 * A node holds a value, a link to its successor (next) and a pointer to
 * its predecessor (prev, set before the node is published, never changed
 * after).  The head is a sentinel (its value was dequeued, or none).
 *
 *   enqueue(n): ltail = tail; n.prev = ltail; help the previous enqueue:
 *     if ltail.prev.next is null, set it to ltail; CAS tail from ltail to
 *     n; on success set ltail.next = n (a helper may have done it).
 *   dequeue: lhead = head; lnext = lhead.next; null: empty; else CAS head
 *     from lhead to lnext and return lnext's value (lnext is the new
 *     sentinel).
 *
 * The tail never falls behind the head: the head moves to lnext only once
 * lhead.next is set, which happens after the CAS that made lnext the tail.
 *
 * Reference counting (as circ): prev is a weak reference (a strong one
 * would make a cycle with next); the helper upgrades it
 * (smr_weak_snap_upgrade) and skips the help if the predecessor is gone;
 * next is counted, so a dequeued sentinel goes when its predecessor has
 * gone and the head has moved past it: one chain, destroyed at once by
 * immediate recursive destruction, or one grace period per node under
 * SMR_RC_DEFERRED (the CDRC behaviour, whose memory grows while the
 * dequeues outpace the grace periods).
 *
 * Intrusive schemes: prev is a plain pointer, and reading ltail->prev->next
 * is only safe if ltail->prev cannot have been reclaimed.  So when the head
 * moves from H to H.next, the dequeuer retires not H but H's predecessor
 * H.prev (one node later; the first sentinel has none): the nodes not yet
 * retired are then always head.prev, head, ..., tail.  An enqueuer reads
 * ltail = tail inside its section; at that moment head <= ltail (the tail
 * never falls behind the head), so ltail.prev >= head.prev was not
 * retired, and anything retired after that moment is reclaimed only after
 * the section ends (epoch and collector schemes): ltail.prev->next can be
 * read and written.  Hazard pointers and the collector's robust mode need
 * the same fact at a later moment: the enqueuer protects ltail.prev (hazard
 * slot 1) and then checks that tail still holds ltail (ds_same), which
 * re-establishes head <= ltail after the protection was visible; if it
 * changed, it skips the help (its CAS on tail then fails anyway: ltail is
 * protected, so the tail cannot come back to it).  The dequeuer's
 * validation (head still lhead after lnext was protected) is the
 * Michael-Scott queue's.  The helper's store writes ltail, the value the
 * link gets anyway, and only while it is null: the head has not passed
 * ltail.prev then.  The callers wrap each operation in sch_enter /
 * sch_leave. */
#ifndef BENCH_DS_DLQUEUE_H
#define BENCH_DS_DLQUEUE_H

#include "ds/link.h"
#include "ds/scheme.h"
#include <stdbool.h>

#if defined(SCH_RC)
typedef smr_weak dlq_prev; /* weak: a strong one would make a cycle */
#else
typedef ds_link dlq_prev; /* loaded with ds_load (a hazard slot) */
#endif

struct dlq_node {
  struct sch_node n;
  uint64_t val;
  dlq_prev prev; /* written before the node is published, then never */
  ds_link next;
};

struct dlq {
  _Alignas(64) ds_link head;
  _Alignas(64) ds_link tail;
};

#if defined(SCH_RC)
/* ---- reference counting: prev is a weak reference ---------------------- */
/* Both links go with the destruction: next (the successor may be
 * destroyed at once) and prev (the predecessor's memory may be freed at
 * once: it is the last weak reference once the predecessor is gone). */
static void dlq_edges(void *obj, smr_rc_edges *out) {
  struct dlq_node *n = obj;
  smr_rc_edges_take(out, &n->next);
  smr_rc_edges_push_weak(out, &n->prev);
}
static const smr_rc_type dlq_type = {"dlq_node", 0, sch_rc_drop, dlq_edges};
#define DLQ_TYPE (&dlq_type)

/* A new node's links: smr_rc_new zeroed them (null). */
static inline void dlq_links_init(struct dlq_node *n) {
  (void)n;
}

/* n.prev = ltail (n is not published yet: a plain field). */
static inline void dlq_set_prev(struct sch_thread *t, struct dlq_node *n,
                                ds_word lt) {
  smr_weak_release(t->h, &n->prev);
  SCH_CHECK(smr_snap_downgrade(lt, &n->prev));
}
/* ltail's predecessor if it is still alive (a snapshot valid in the
 * section), else NULL.  ltail.prev was written before ltail was published
 * (the seq_cst CAS on tail; our acquire load of tail read it). */
static inline struct dlq_node *dlq_prev_of(struct sch_thread *t, struct dlq *q,
                                           struct dlq_node *ltn, ds_word lt) {
  (void)q;
  (void)lt;
  smr_snap s;
  if (smr_weak_snap_upgrade(t->h, smr_weak_snapshot(ltn->prev), &s) != 0)
    return NULL;
  return smr_snap_ptr(s);
}
/* The head moved from lhn: its count (the head's reference) went with the
 * CAS; nothing to retire. */
static inline void dlq_moved(struct sch_thread *t, struct dlq_node *lhn) {
  (void)t;
  (void)lhn;
}
#else
/* ---- intrusive schemes: retire the old sentinel's predecessor ----------- */
#define DLQ_TYPE NULL

/* A new node's links (not published yet). */
static inline void dlq_links_init(struct dlq_node *n) {
  ds_link_init(&n->prev);
  ds_link_init(&n->next);
}

static inline void dlq_set_prev(struct sch_thread *t, struct dlq_node *n,
                                ds_word lt) {
  ds_set(t, &n->prev, lt);
}
static inline struct dlq_node *dlq_prev_of(struct sch_thread *t, struct dlq *q,
                                           struct dlq_node *ltn, ds_word lt) {
  struct dlq_node *p = ds_load(t, 1, &ltn->prev);
  /* Still the tail after the hazard on p was visible: p was not retired
   * (the header's argument). */
  if (!p || !ds_same(&q->tail, lt))
    return NULL;
  return p;
}
/* The head moved from lhn (still protected): retire lhn's predecessor, the
 * sentinel before it (the first sentinel has none). */
static inline void dlq_moved(struct sch_thread *t, struct dlq_node *lhn) {
  /* relaxed: written before lhn was published, which our acquire load of
   * the head ordered before this read. */
  struct dlq_node *p = atomic_load_explicit(&lhn->prev, memory_order_relaxed);
  if (p)
    ds_retire(t, &p->n);
}
#endif

static inline void dlq_init(struct sch_thread *t, struct dlq *q) {
  ds_ref s = ds_new(t, DLQ_TYPE, sizeof(struct dlq_node));
  struct dlq_node *d = ds_ref_ptr(s);
  d->val = 0;
  dlq_links_init(d);
  ds_ref s2 = ds_ref_dup(s);
  /* Not shared yet: the threads start after. */
  ds_link_init(&q->head);
  ds_link_init(&q->tail);
  ds_store_ref(t, &q->head, &s);
  ds_store_ref(t, &q->tail, &s2);
}

static inline void dlq_enqueue(struct sch_thread *t, struct dlq *q,
                               uint64_t v) {
  ds_ref r = ds_new(t, DLQ_TYPE, sizeof(struct dlq_node));
  struct dlq_node *n = ds_ref_ptr(r);
  n->val = v;
  dlq_links_init(n);
  ds_ref sub = ds_ref_dup(r); /* for ltail.next */
  for (;;) {
    ds_word lt = ds_load(t, 0, &q->tail);
    struct dlq_node *ltn = ds_node(lt);
    sch_check(&ltn->n);
    dlq_set_prev(t, n, lt);
    struct dlq_node *lp = dlq_prev_of(t, q, ltn, lt);
    if (lp) { /* help the enqueue that made ltail the tail */
      sch_check(&lp->n);
      if (ds_null_at(&lp->next))
        ds_store(t, &lp->next, lt);
    }
    if (ds_publish(t, &q->tail, lt, &r)) {
      ds_store_ref(t, &ltn->next, &sub);
      return;
    }
  }
}

static inline bool dlq_dequeue(struct sch_thread *t, struct dlq *q,
                               uint64_t *v) {
  for (;;) {
    ds_word lh = ds_load(t, 0, &q->head);
    struct dlq_node *lhn = ds_node(lh);
    sch_check(&lhn->n);
    ds_word ln = ds_load(t, 1, &lhn->next);
    if (!ds_same(&q->head, lh)) /* lhn still the head: ln was reachable */
      continue;
    struct dlq_node *lnn = ds_node(ln);
    if (!lnn)
      return false;
    sch_check(&lnn->n);
    uint64_t val = lnn->val;
    if (ds_cas(t, &q->head, lh, ln)) {
      dlq_moved(t, lhn);
      *v = val;
      return true;
    }
  }
}

/* Single-threaded, after the run: fn(val, arg) on every value still queued,
 * in order; then the queue's nodes go (intrusive: freed, the sentinel's
 * predecessor included; rc: the head's and the tail's references
 * released). */
static inline void dlq_drain(struct sch_thread *t, struct dlq *q,
                             void (*fn)(uint64_t, void *), void *arg) {
  struct dlq_node *h = ds_node(ds_peek(&q->head));
  for (struct dlq_node *x = ds_node(ds_peek(&h->next)); x;
       x = ds_node(ds_peek(&x->next))) {
    sch_check(&x->n);
    fn(x->val, arg);
  }
#if !defined(SCH_RC)
  struct dlq_node *p = ds_peek(&h->prev);
  if (p)
    sch_free_direct(&p->n); /* not retired: the head's predecessor */
#endif
  ds_clear(t, &q->tail);
  ds_free_chain(t, &q->head, offsetof(struct dlq_node, next));
}

#endif /* BENCH_DS_DLQUEUE_H */
