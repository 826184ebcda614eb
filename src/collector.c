/* SPDX-License-Identifier: MIT */
/* The collector: lifecycle, the handle registry, thread exit, statistics
 * and reclaim_all.  Retire, submission and reclamation are in
 * collector_retire.c; docs/DESIGN.md ("The collector") has the protocol.
 *
 * Registry: a list of handle records that only grows (records are reused,
 * freed with the collector), so submitters walk it without a lock; the
 * registry lock serialises registration, unregistration and reaping.
 * Thread exit uses the liveness tokens of src/thread.c, as the epoch
 * domain does: a record whose thread is gone is reaped (its sections
 * released, its partial batch adopted) under the registry lock by the next
 * registration, by a submitter now and then, or by destroy. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector_internal.h"
#include "thread.h"

#define FLAGS_KNOWN                                                            \
  (SMR_COLLECTOR_ROBUST | SMR_COLLECTOR_SYMMETRIC |                            \
   SMR_COLLECTOR_RETIRER_RECLAIMS | SMR_COLLECTOR_NO_PACING)

static struct hrec *rec_of(smr_collector_handle *h) {
  return (struct hrec *)h;
}

/* A new record, zeroed, at an address whose SMR__COLLECTOR_ROBUST_ADDR
 * bit tells the inline protect the collector's mode: a block aligned to
 * twice that bit, the record at its start or that far into it. */
static struct hrec *record_alloc(smr_collector *c) {
  size_t off =
      (c->flags & SMR_COLLECTOR_ROBUST) ? SMR__COLLECTOR_ROBUST_ADDR : 0;
  char *b = smr__alloc_aligned_to(2 * SMR__COLLECTOR_ROBUST_ADDR,
                                  sizeof(struct hrec) + off);
  return b ? (struct hrec *)(void *)(b + off) : NULL;
}

static void record_free(struct hrec *r) {
  free((char *)r - ((uintptr_t)r & SMR__COLLECTOR_ROBUST_ADDR));
}

int smr_collector_create(const struct smr_collector_attr *attr,
                         smr_collector **out) {
  if (!out || (attr && (attr->flags & ~FLAGS_KNOWN)))
    return -EINVAL;
  smr_collector *c = smr__alloc_aligned(sizeof *c);
  if (!c)
    return -ENOMEM;
  c->flags = attr ? attr->flags : 0;
  c->batch = attr && attr->batch ? attr->batch : 64;
  c->era_period = attr && attr->era_period ? attr->era_period : 64;
  c->flush_ns = attr && attr->flush_ns ? attr->flush_ns : 1000000;
  c->max_bytes =
      attr && attr->max_pending_bytes ? attr->max_pending_bytes : 1u << 20;
  c->mode = (c->flags & SMR_COLLECTOR_SYMMETRIC) ? SMR_FENCE_SYMMETRIC
                                                 : smr__fence_mode();
  smr__pace_init(&c->pace, SMR__PACE_RISE_SLOW);
  /* relaxed: not shared yet. */
  atomic_init(&c->era, 1); /* 0 is never a reservation */
  pthread_mutex_init(&c->reg_lock, NULL);
  pthread_mutex_init(&c->bar_lock, NULL);
  *out = c;
  return 0;
}

/* A handle for the collector's own use (destroy, reclaim_all): not in the
 * registry, so no scan sees it; reclaim functions retire through it.  Not
 * robust (ctr without the bit, an address without SMR__COLLECTOR_ROBUST_ADDR:
 * the caller aligns it). */
static void internal_handle(smr_collector *c, struct hrec *h) {
  memset(h, 0, sizeof *h);
  h->c = c;
  h->pub.era = &c->era;
  atomic_init(&h->state, REC_LIVE);
}

/* Reclaim, through h, everything no section holds, with no submission (no
 * barrier: the caller knows no section runs and no other call races):
 * every record's links and ready batches, the orphans and h's own retires,
 * until reclaim functions stop retiring. */
static long reclaim_quiescent(smr_collector *c, struct hrec *h) {
  uint64_t before = h->reclaimed;
  for (;;) {
    /* acquire: pairs with the release store that published each record. */
    for (struct hrec *r =
             atomic_load_explicit(&c->handles, memory_order_acquire);
         r; r = r->next) {
      smr__collector_release_all(r, h);
      smr__collector_drain_ready(r, h);
    }
    smr__collector_drain_ready(h, h);
    /* acquire: pairs with the pushes (ours, or the orphans' release). */
    struct smr_collector_node *l =
        atomic_exchange_explicit(&h->local, NULL, memory_order_acquire);
    smr__collector_take_orphans(c, &l);
    if (!l)
      break;
    smr__collector_reclaim_list(h, l);
  }
  return (long)(h->reclaimed - before);
}

int smr_collector_destroy(smr_collector *c) {
  if (!c)
    return 0;
  struct creaped rp = {NULL, NULL};
  bool busy = false;
  pthread_mutex_lock(&c->reg_lock);
  smr__collector_reap(c, NULL, 1, &rp);
  /* relaxed: reg_lock orders the state changes. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
       r; r = r->next)
    busy |= atomic_load_explicit(&r->state, memory_order_relaxed) == REC_LIVE;
  pthread_mutex_unlock(&c->reg_lock);
  _Alignas(2 * SMR__COLLECTOR_ROBUST_ADDR) struct hrec tmp; /* not robust */
  internal_handle(c, &tmp);
  smr__collector_reaped(&tmp, &rp); /* the dead threads' leftovers */
  if (busy) {
    /* Live handles may be in sections: reclaim nothing more; what the
     * reaping's reclaim functions retired waits for a submission. */
    smr__collector_orphan(
        c, atomic_exchange_explicit(&tmp.local, NULL, memory_order_relaxed));
    free(tmp.scratch);
    return -EBUSY;
  }
  reclaim_quiescent(c, &tmp);
  free(tmp.scratch);
  struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
  while (r) {
    struct hrec *next = r->next;
    free(r->scratch);
    record_free(r);
    r = next;
  }
  pthread_mutex_destroy(&c->reg_lock);
  pthread_mutex_destroy(&c->bar_lock);
  free(c);
  return 0;
}

/* ---- Handles -------------------------------------------------------------
 */

void smr__collector_reap(smr_collector *c, struct hrec *self, int all,
                         struct creaped *out) {
  /* relaxed: reg_lock orders the state changes and the list. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
       r; r = r->next) {
    if (r == self ||
        atomic_load_explicit(&r->state, memory_order_relaxed) != REC_LIVE ||
        !smr__thread_gone(r->thr, all))
      continue;
    /* The thread is gone (its accesses happen before ours): its sections
     * are over, its partial batch goes to the next submitter.  seq_cst:
     * pairs with batch_done's seq_cst re-check after a push to `ready`
     * (one of us drains it); also a release for the scans' acquire. */
    atomic_store_explicit(&r->state, REC_DEAD, memory_order_seq_cst);
    /* acquire: its last pushes. */
    smr__collector_orphan(
        c, atomic_exchange_explicit(&r->local, NULL, memory_order_acquire));
    /* acq_rel / acquire: the pushers' links and batches. */
    struct clink *l =
        atomic_exchange_explicit(&r->pub.blocked, NULL, memory_order_acq_rel);
    while (l) {
      struct clink *next = l->next;
      l->next = out->links;
      out->links = l;
      l = next;
    }
    struct cbatch *b =
        atomic_exchange_explicit(&r->ready, NULL, memory_order_acquire);
    while (b) {
      struct cbatch *next = b->next_ready;
      b->next_ready = out->ready;
      out->ready = b;
      b = next;
    }
    smr__thread_unref(r->thr, 0);
    r->thr = NULL;
    /* relaxed: statistics and sizing. */
    atomic_fetch_sub_explicit(&c->live, 1, memory_order_relaxed);
    atomic_store_explicit(&r->state, REC_FREE, memory_order_release);
  }
}

void smr__collector_reaped(struct hrec *h, struct creaped *r) {
  smr__collector_release_links(h, r->links);
  smr__collector_reclaim_ready(h, r->ready);
  r->links = NULL;
  r->ready = NULL;
}

/* A free record to reuse, or a new one published in the registry.
 * reg_lock held. */
static struct hrec *record_get(smr_collector *c) {
  /* relaxed: reg_lock orders the list and the states. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
       r; r = r->next)
    if (atomic_load_explicit(&r->state, memory_order_relaxed) == REC_FREE)
      return r;
  struct hrec *r = record_alloc(c);
  if (!r)
    return NULL;
  r->c = c;
  r->pub.era = &c->era;
  atomic_init(&r->state, REC_FREE);
  r->next = atomic_load_explicit(&c->handles, memory_order_relaxed);
  /* release: the record's fields before a submitter that walks to it. */
  atomic_store_explicit(&c->handles, r, memory_order_release);
  return r;
}

int smr_collector_register(smr_collector *c, smr_collector_handle **out) {
  if (!c || !out)
    return -EINVAL;
  struct smr__thread *t = smr__thread_self(1);
  if (!t)
    return -ENOMEM;
  pthread_mutex_lock(&c->reg_lock);
  struct hrec *h = record_get(c);
  if (!h) {
    pthread_mutex_unlock(&c->reg_lock);
    return -ENOMEM;
  }
  smr__thread_ref(t);
  h->thr = t;
  h->owner = pthread_self();
  h->reclaiming = 0; /* era_retires carries on (the era must keep moving) */
  h->pub.attention = 0;
  h->retry = false;
  /* relaxed: an idle record; the release store of state publishes it.
   * The sequence number carries on from the record's last owner, so a
   * stale link of that owner never matches a new section. */
  uint64_t v = atomic_load_explicit(&h->pub.ctr, memory_order_relaxed);
  v = (v & ~(SMR__COLLECTOR_SEQ_ONE - 1)) + SMR__COLLECTOR_SEQ_ONE;
  if (c->mode == SMR_FENCE_SYMMETRIC)
    v |= SMR__COLLECTOR_SYMMETRIC;
  if (c->flags & SMR_COLLECTOR_ROBUST)
    v |= SMR__COLLECTOR_ROBUST;
  /* release: a helper that reads it after taking a stale link sees the
   * old owner's sections over (they happen before). */
  atomic_store_explicit(&h->pub.ctr, v, memory_order_release);
  atomic_store_explicit(&h->pub.upper, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->live, 1, memory_order_relaxed);
  /* release: pairs with the acquire loads of state. */
  atomic_store_explicit(&h->state, REC_LIVE, memory_order_release);
  struct creaped rp = {NULL, NULL};
  smr__collector_reap(c, h, 0, &rp);
  pthread_mutex_unlock(&c->reg_lock);
  smr__collector_reaped(h, &rp);
  struct hrec **head =
      (struct hrec **)smr__thread_list(t, SMR__THREAD_COLLECTOR);
  h->tnext = *head;
  *head = h;
  smr__thread_publish(t);
  *out = &h->pub;
  return 0;
}

int smr_collector_unregister(smr_collector_handle *pub) {
  if (!pub)
    return 0;
  struct hrec *h = rec_of(pub);
  smr_collector *c = h->c;
  /* relaxed: a record only its owner turns from LIVE to FREE. */
  if (atomic_load_explicit(&h->state, memory_order_relaxed) != REC_LIVE)
    return -EINVAL; /* unregistered already */
  if (!pthread_equal(h->owner, pthread_self()))
    return -EPERM;
  /* relaxed: our own word. */
  if (CACTIVE(atomic_load_explicit(&pub->ctr, memory_order_relaxed)))
    return -EBUSY;
  smr_collector_flush(pub); /* our batch, our links, our ready batches */
  struct smr__thread *t = h->thr;
  for (struct hrec **pp =
           (struct hrec **)smr__thread_list(t, SMR__THREAD_COLLECTOR);
       *pp; pp = &(*pp)->tnext)
    if (*pp == h) {
      *pp = h->tnext;
      break;
    }
  pthread_mutex_lock(&c->reg_lock);
  /* A failed submission left nodes with us: the next submitter's. */
  smr__collector_orphan(
      c, atomic_exchange_explicit(&h->local, NULL, memory_order_acquire));
  h->thr = NULL;
  atomic_fetch_sub_explicit(&c->live, 1, memory_order_relaxed);
  if (c->flags & SMR_COLLECTOR_ROBUST) /* the era moves on (DESIGN 9) */
    atomic_fetch_add_explicit(&c->era, 1, memory_order_relaxed);
  /* seq_cst: our last accesses before a scan that sees the record free
   * (release), and against batch_done's re-check (see there). */
  atomic_store_explicit(&h->state, REC_FREE, memory_order_seq_cst);
  pthread_mutex_unlock(&c->reg_lock);
  /* A batch pushed on the record's ready stack while we left: ours to
   * reclaim, through a handle of our own (the record may already belong
   * to a new owner); what its reclaim functions retire goes to the
   * orphans. */
  if (atomic_load_explicit(&h->ready, memory_order_relaxed)) {
    _Alignas(2 * SMR__COLLECTOR_ROBUST_ADDR) struct hrec tmp; /* not robust */
    internal_handle(c, &tmp);
    tmp.reclaiming = 1; /* retires inside: no submission from here */
    smr__collector_drain_ready(h, &tmp);
    smr__collector_orphan(
        c, atomic_exchange_explicit(&tmp.local, NULL, memory_order_relaxed));
    free(tmp.scratch);
  }
  if (!smr__thread_unref(t, 1))
    smr__thread_publish(t); /* the list changed */
  return 0;
}

bool smr_collector_in_section(const smr_collector_handle *h) {
  /* relaxed: owner only. */
  return h && CACTIVE(atomic_load_explicit(&h->ctr, memory_order_relaxed));
}

int smr_collector_refresh(smr_collector_handle *h) {
  /* relaxed: owner only. */
  if (!h || (atomic_load_explicit(&h->ctr, memory_order_relaxed) &
             SMR__COLLECTOR_NEST_MASK) != 1)
    return -EINVAL;
  smr_collector_leave(h);
  smr_collector_enter(h);
  return 0;
}

/* Robust mode: node_init calls of this thread since it last moved the era
 * (any collector: a bound on nodes born in one era, not an exact count). */
static _Thread_local unsigned inits;

void smr_collector_node_init(smr_collector *c,
                             struct smr_collector_node *node) {
  if ((c->flags & SMR_COLLECTOR_ROBUST) && ++inits >= c->era_period) {
    inits = 0;
    /* relaxed: eras are compared through coherence only. */
    atomic_fetch_add_explicit(&c->era, 1, memory_order_relaxed);
  }
  node->next = NULL;
  /* relaxed: the node's publication (release) carries it to readers, whose
   * later loads of the era then see at least this value. */
  node->birth = atomic_load_explicit(&c->era, memory_order_relaxed);
  node->reclaim = NULL;
  node->bytes = 0;
}

long smr_collector_reclaim_all(smr_collector *c) {
  if (!c)
    return -EINVAL;
  struct creaped rp = {NULL, NULL};
  bool busy = false;
  pthread_mutex_lock(&c->reg_lock);
  /* Reap first: a thread that died inside a section holds nothing. */
  smr__collector_reap(c, NULL, 0, &rp);
  /* relaxed: reg_lock; the contract excludes concurrent calls.  acquire:
   * a section seen over happens before our reclamation. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
       r; r = r->next)
    busy |= atomic_load_explicit(&r->state, memory_order_relaxed) == REC_LIVE &&
            CACTIVE(atomic_load_explicit(&r->pub.ctr, memory_order_acquire));
  _Alignas(2 * SMR__COLLECTOR_ROBUST_ADDR) struct hrec tmp; /* not robust */
  internal_handle(c, &tmp);
  /* Every handle's partial batch joins ours (unless busy). */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_relaxed);
       r && !busy; r = r->next) {
    struct smr_collector_node *l = NULL;
    smr__collector_splice(
        &l, atomic_exchange_explicit(&r->local, NULL, memory_order_acquire));
    atomic_store_explicit(&r->local_count, 0, memory_order_relaxed);
    atomic_store_explicit(&r->local_bytes, 0, memory_order_relaxed);
    smr__collector_orphan(c, l);
  }
  pthread_mutex_unlock(&c->reg_lock);
  smr__collector_reaped(&tmp, &rp);
  long k = busy ? -EBUSY : reclaim_quiescent(c, &tmp);
  smr__collector_orphan(
      c, atomic_exchange_explicit(&tmp.local, NULL, memory_order_relaxed));
  free(tmp.scratch);
  return k;
}

int smr_collector_stats(const smr_collector *cc,
                        struct smr_collector_stats *out) {
  if (!cc || !out)
    return -EINVAL;
  smr_collector *c = (smr_collector *)cc;
  memset(out, 0, sizeof *out);
  /* relaxed: statistics. */
  out->garbage = atomic_load_explicit(&c->garbage, memory_order_relaxed);
  out->garbage_bytes =
      atomic_load_explicit(&c->garbage_bytes, memory_order_relaxed);
  out->submitted = atomic_load_explicit(&c->submitted, memory_order_relaxed);
  out->heavy_barriers =
      atomic_load_explicit(&c->barriers, memory_order_relaxed);
  out->era = atomic_load_explicit(&c->era, memory_order_relaxed);
  out->handles = atomic_load_explicit(&c->live, memory_order_relaxed);
  out->oldest_era = UINT64_MAX;
  bool robust = c->flags & SMR_COLLECTOR_ROBUST;
  /* acquire: pairs with the release store that published each record. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_acquire);
       r; r = r->next) {
    if (atomic_load_explicit(&r->state, memory_order_relaxed) != REC_LIVE)
      continue;
    /* The partial batch, unless another submission took it (its owner's
     * counts are then stale until its next retire). */
    if (atomic_load_explicit(&r->local, memory_order_relaxed)) {
      out->garbage +=
          atomic_load_explicit(&r->local_count, memory_order_relaxed);
      out->garbage_bytes +=
          atomic_load_explicit(&r->local_bytes, memory_order_relaxed);
    }
    uint64_t u = atomic_load_explicit(&r->pub.upper, memory_order_relaxed);
    if (robust &&
        CACTIVE(atomic_load_explicit(&r->pub.ctr, memory_order_relaxed)) &&
        u < out->oldest_era)
      out->oldest_era = u;
  }
  return 0;
}
