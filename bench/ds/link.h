/* SPDX-License-Identifier: MIT */
/* The links of the bench_ds structures written once for both kinds of
 * scheme (bench/ds/scheme.h): the Harris-Michael list, the hash map and
 * the DoubleLink queue call these static inline functions, so the same
 * algorithm runs over an intrusive scheme (a link is an atomic node
 * pointer; unlinked nodes are retired) and over reference counting
 * (smr/rc.h: a link is an smr_atomic_rc, a node an rc object, nothing is
 * retired; a node goes when its count reaches zero).
 *
 *   ds_link           a shared link: _Atomic(void *) / smr_atomic_rc
 *   ds_word           a value read from a link (a node and a mark bit):
 *                     void * / smr_snap, valid until sch_leave
 *   ds_ref            a new node owned by the caller until published:
 *                     the node / a counted smr_rc
 *
 *   ds_ptr(w), ds_node(w)   the node of a word (ds_node: an unmarked one)
 *   ds_load(t, slot, l)     the node in *l, protected until sch_leave
 *                           (intrusive: sch_protect with a hazard slot)
 *   ds_same(l, w)           *l still holds w (a validation: the node read
 *                           before it was still linked afterwards)
 *   ds_cas(t, l, e, d)      *l from e to d, a node already in the
 *                           structure (an unlink, the head moving on)
 *   ds_mark(l, e)           *l from e to e with the mark bit
 *   ds_store(t, l, w)       *l = w, a node already in the structure
 *   ds_retire(t, node)      a node unlinked by the caller's ds_cas
 *                           (intrusive: sch_retire; rc: nothing, the CAS
 *                           released the link's reference)
 *   ds_new(t, type, size)   a new node (type: the rc type; ignored by the
 *                           intrusive schemes), zeroed links
 *   ds_set(t, l, w)         a link of an unpublished node
 *   ds_publish(t, l, e, r)  *l from e to the new node r (consumed on
 *                           success)
 *   ds_store_ref(t, l, r)   *l = r, consuming r
 *   ds_discard(t, r)        a new node never published
 *   ds_ref_dup(r)           a second reference to a new node
 *   ds_link_init, ds_peek, ds_clear, ds_free_chain: before and after the
 *   run, single-threaded.
 */
#ifndef BENCH_DS_LINK_H
#define BENCH_DS_LINK_H

#include "ds/scheme.h"
#include <errno.h>
#include <stdbool.h>

#if !defined(SCH_RC)
/* ==== intrusive schemes ================================================== */
typedef _Atomic(void *) ds_link;
typedef void *ds_word;
typedef struct {
  void *p;
} ds_ref;
typedef void ds_type; /* no types: ds_new's type is NULL */

#define DS_MARK ((uintptr_t)1)

static inline void *ds_ptr(ds_word w) {
  return (void *)((uintptr_t)w & ~DS_MARK);
}
static inline bool ds_marked(ds_word w) {
  return ((uintptr_t)w & DS_MARK) != 0;
}
static inline ds_word ds_unmarked(ds_word w) {
  return ds_ptr(w);
}
/* The node of an unmarked word (no mask to apply). */
static inline void *ds_node(ds_word w) {
  return w;
}
/* sch_protect: an acquire load (pairs with the release CAS or store that
 * published the node) and the scheme's protection. */
static inline ds_word ds_load(struct sch_thread *t, int slot, ds_link *l) {
  return sch_protect(t, slot, l);
}
static inline bool ds_same(ds_link *l, ds_word w) {
  /* acquire: pairs with the release CAS or store that wrote w. */
  return atomic_load_explicit(l, memory_order_acquire) == w;
}
static inline bool ds_null_at(ds_link *l) {
  /* acquire: pairs with the release store or CAS that wrote the link (only
   * compared with null here). */
  return atomic_load_explicit(l, memory_order_acquire) == NULL;
}
static inline bool ds_cas(struct sch_thread *t, ds_link *l, ds_word e,
                          ds_word d) {
  (void)t;
  /* acq_rel: release hands the structure on (d was published before),
   * acquire orders what follows (a retire, a value read) after the
   * change; acquire on failure: the value is discarded (the caller starts
   * again). */
  return atomic_compare_exchange_strong_explicit(l, &e, d, memory_order_acq_rel,
                                                 memory_order_acquire);
}
static inline bool ds_mark(ds_link *l, ds_word e) {
  /* acq_rel: the winner of the mark owns the delete; relaxed on failure:
   * the caller searches again. */
  return atomic_compare_exchange_strong_explicit(
      l, &e, (void *)((uintptr_t)e | DS_MARK), memory_order_acq_rel,
      memory_order_relaxed);
}
static inline void ds_store(struct sch_thread *t, ds_link *l, ds_word w) {
  (void)t;
  /* release: w was published before; pairs with the acquire loads of
   * ds_load. */
  atomic_store_explicit(l, w, memory_order_release);
}
static inline void ds_retire(struct sch_thread *t, struct sch_node *n) {
  sch_retire(t, n);
}
static inline ds_ref ds_new(struct sch_thread *t, const ds_type *type,
                            size_t size) {
  (void)type;
  ds_ref r = {sch_alloc(t, size)};
  return r;
}
static inline void *ds_ref_ptr(ds_ref r) {
  return r.p;
}
static inline ds_ref ds_ref_dup(ds_ref r) {
  return r;
}
static inline void ds_set(struct sch_thread *t, ds_link *l, ds_word w) {
  (void)t;
  /* relaxed: the node is published by a later release CAS. */
  atomic_store_explicit(l, w, memory_order_relaxed);
}
static inline bool ds_publish(struct sch_thread *t, ds_link *l, ds_word e,
                              ds_ref *r) {
  (void)t;
  /* release: publishes the node's fields (pairs with the acquire loads of
   * ds_load); relaxed on failure: the caller searches again. */
  return atomic_compare_exchange_strong_explicit(
      l, &e, r->p, memory_order_release, memory_order_relaxed);
}
static inline void ds_store_ref(struct sch_thread *t, ds_link *l, ds_ref *r) {
  ds_store(t, l, r->p);
}
static inline void ds_discard(struct sch_thread *t, ds_ref *r) {
  (void)t;
  sch_free_direct(r->p);
  r->p = NULL;
}
static inline void ds_link_init(ds_link *l) {
  atomic_init(l, NULL); /* not shared yet */
}
static inline ds_word ds_peek(ds_link *l) {
  /* relaxed: single-threaded (before the threads start or after they were
   * joined). */
  return atomic_load_explicit(l, memory_order_relaxed);
}
static inline void ds_clear(struct sch_thread *t, ds_link *l) {
  (void)t;
  /* relaxed: single-threaded teardown. */
  atomic_store_explicit(l, NULL, memory_order_relaxed);
}
/* Free every node of the chain at *head, each node's successor in the link
 * at next_off (after the run: the scheme reclaims what was retired). */
static inline void ds_free_chain(struct sch_thread *t, ds_link *head,
                                 size_t next_off) {
  void *w = ds_peek(head);
  ds_clear(t, head);
  while (w) {
    struct sch_node *x = ds_ptr(w);
    w = ds_peek((ds_link *)(void *)((char *)x + next_off));
    sch_free_direct(x);
  }
}

#else
/* ==== RC, RC_DEFERRED ===================================================== */
/* Memory orders (smr/rc.h): every store, swap and compare-and-swap of an
 * smr_atomic_rc is seq_cst; smr_arc_load is an acquire load that pairs with
 * them (the node's fields, written before the exchange that published it,
 * are visible); smr_arc_take and smr_arc_init are relaxed, for links of a
 * node no other thread can see yet (the exchange that publishes it orders
 * them).  A snapshot stays valid until sch_leave. */
typedef smr_atomic_rc ds_link;
typedef smr_snap ds_word;
typedef smr_rc ds_ref;
typedef smr_rc_type ds_type;

/* true on 0, false on -EAGAIN, a failure on anything else (-ESTALE: a
 * snapshot outlived its section, -EOVERFLOW: a count at its limit). */
static inline bool ds__rc_ok(int rc, const char *what) {
  if (rc != 0 && rc != -EAGAIN)
    SCH_FAIL("%s: %d", what, rc);
  return rc == 0;
}

static inline void *ds_ptr(ds_word w) {
  return smr_snap_ptr(w);
}
static inline bool ds_marked(ds_word w) {
  return smr_snap_tag(w) != 0;
}
static inline ds_word ds_unmarked(ds_word w) {
  return smr_snap_with_tag(w, 0);
}
static inline void *ds_node(ds_word w) {
  return smr_snap_ptr(w);
}
static inline ds_word ds_load(struct sch_thread *t, int slot, ds_link *l) {
  (void)t;
  (void)slot;
  return smr_arc_load(l);
}
static inline bool ds_same(ds_link *l, ds_word w) {
  return smr_arc_load(l).p == w.p;
}
static inline bool ds_null_at(ds_link *l) {
  return smr_snap_is_null(smr_arc_load(l));
}
/* smr_arc_cas_snap counts d first; the reference *l held goes. */
static inline bool ds_cas(struct sch_thread *t, ds_link *l, ds_word e,
                          ds_word d) {
  return ds__rc_ok(smr_arc_cas_snap(t->h, l, e, d, NULL), "smr_arc_cas_snap");
}
static inline bool ds_mark(ds_link *l, ds_word e) {
  return ds__rc_ok(smr_arc_cas_tag(l, e, 1, NULL), "smr_arc_cas_tag");
}
static inline void ds_store(struct sch_thread *t, ds_link *l, ds_word w) {
  smr_rc c;
  SCH_CHECK(smr_snap_counted(w, &c));
  smr_arc_store(t->h, l, &c);
}
static inline void ds_retire(struct sch_thread *t, struct sch_node *n) {
  (void)t;
  (void)n;
}
/* A counted object (zeroed by smr_rc_new: null links), counted as created
 * on the thread's retire counter (scheme.h). */
static inline ds_ref ds_new(struct sch_thread *t, const ds_type *type,
                            size_t size) {
  smr_rc r;
  SCH_CHECK(smr_rc_new(t->h, type, size, &r));
  struct sch_node *n = smr_rc_ptr(r);
  n->magic = SCH_LIVE;
  n->size = size;
  sch_count(&t->retires);
  return r;
}
static inline void *ds_ref_ptr(ds_ref r) {
  return smr_rc_ptr(r);
}
static inline ds_ref ds_ref_dup(ds_ref r) {
  smr_rc c;
  SCH_CHECK(smr_rc_clone(r, &c));
  return c;
}
/* The node is not published: its link is the caller's alone (take and
 * init, relaxed; ds_publish's CAS orders them). */
static inline void ds_set(struct sch_thread *t, ds_link *l, ds_word w) {
  smr_rc old = smr_arc_take(l), c;
  smr_rc_release(t->h, &old);
  SCH_CHECK(smr_snap_counted(w, &c));
  smr_arc_init(l, &c);
}
static inline bool ds_publish(struct sch_thread *t, ds_link *l, ds_word e,
                              ds_ref *r) {
  return ds__rc_ok(smr_arc_cas(t->h, l, e, r, NULL), "smr_arc_cas");
}
static inline void ds_store_ref(struct sch_thread *t, ds_link *l, ds_ref *r) {
  smr_arc_store(t->h, l, r);
}
static inline void ds_discard(struct sch_thread *t, ds_ref *r) {
  smr_rc_release(t->h, r);
}
static inline void ds_link_init(ds_link *l) {
  smr_rc null = SMR_RC_NULL;
  smr_arc_init(l, &null); /* not shared yet */
}
static inline ds_word ds_peek(ds_link *l) {
  return smr_arc_load(l); /* single-threaded */
}
static inline void ds_clear(struct sch_thread *t, ds_link *l) {
  smr_rc null = SMR_RC_NULL;
  smr_arc_store(t->h, l, &null);
}
/* Releasing the head releases the chain (each node's edges hand over its
 * successor). */
static inline void ds_free_chain(struct sch_thread *t, ds_link *head,
                                 size_t next_off) {
  (void)next_off;
  ds_clear(t, head);
}
#endif

static inline bool ds_null(ds_word w) {
  return ds_ptr(w) == NULL;
}

#endif /* BENCH_DS_LINK_H */
