/* SPDX-License-Identifier: MIT */
/* Epoch domain readers: registration, the out-of-line enter path, and the
 * liveness of reader threads, which decides when a record may be ignored or
 * freed.  The domain, its grace periods and the correctness argument are in
 * epoch.c; the shared structures in epoch_internal.h.
 *
 * Readers: the record's word `ctr` (epoch.c's opening comment, smr/epoch.h)
 * is written only by its owner; smr_enter and smr_leave are inline, and
 * smr__enter_slow (below) takes nested entries and symmetric mode.
 *
 * Thread exit (see "Thread liveness" below): a record is ignored or freed
 * only once its thread is gone, which a per-thread robust mutex reports
 * (owner-dead after the thread's last key destructor), never earlier: other
 * key destructors may still use it.  The exit hook takes no lock (a forked
 * child must not block on an inherited one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "epoch_internal.h"
#include "thread.h"

/* The calling thread's records (its token's epoch list). */
static struct rec *thread_records(void) {
  struct smr__thread *t = smr__thread_self(0);
  return t ? *(struct rec **)smr__thread_list(t, SMR__THREAD_EPOCH) : NULL;
}

/* Whether the calling thread is inside a read section of d. */
int smr__epoch_self_in_section(smr_domain *d) {
  for (struct rec *r = thread_records(); r; r = r->tnext)
    /* relaxed: the calling thread's own records; only it writes them. */
    if (r->d == d &&
        ACTIVE(atomic_load_explicit(&r->pub.ctr, memory_order_relaxed)))
      return 1;
  return 0;
}

/* If the thread of record *pp is gone, unlink and free the record and
 * return 1.  `all`: check even if the thread did not run the exit hook (for
 * smr_domain_destroy: a record registered by a key destructor after the
 * hook's last round).  reg_lock held. */
int smr__epoch_reap_if_gone(struct rec **pp, int all) {
  struct rec *r = *pp;
  struct smr__thread *t = r->thr;
  if (!smr__thread_gone(t, all))
    return 0;
  *pp = r->next;
  /* acquire: pair with the thread's last release store of this record's
   * word (its last smr_leave or smr_enter), so its accesses happen before
   * the free and before any reclamation that follows (smr__thread_gone
   * acquired the token's). */
  (void)atomic_load_explicit(&r->pub.ctr, memory_order_acquire);
  free(r);
  smr__thread_unref(t, 0);
  return 1;
}

/* Free every record whose thread is gone.  reg_lock held. */
void smr__epoch_reap_gone(smr_domain *d, int all) {
  for (struct rec **pp = &d->readers; *pp;)
    if (!smr__epoch_reap_if_gone(pp, all))
      pp = &(*pp)->next;
}

/* ---- Readers ------------------------------------------------------------- */

int smr_reader_register(smr_domain *d, smr_reader **out) {
  if (!d || !out)
    return -EINVAL;
  struct rec *r = smr__alloc_aligned(sizeof *r);
  if (!r)
    return -ENOMEM;
  struct smr__thread *t = smr__thread_self(1);
  if (!t) {
    free(r);
    return -ENOMEM;
  }
  smr__thread_ref(t);
  r->d = d;
  r->owner = pthread_self();
  r->thr = t;
  struct rec **head = (struct rec **)smr__thread_list(t, SMR__THREAD_EPOCH);
  r->tnext = *head;
  *head = r;
  /* The mode flag lives in the record so the inline enter needs no other
   * load; it never changes. */
  atomic_init(&r->pub.ctr,
              d->mode == SMR_FENCE_SYMMETRIC ? SMR__READER_SYMMETRIC : 0);
  pthread_mutex_lock(&d->reg_lock);
  smr__epoch_reap_gone(d, 0);
  r->next = d->readers;
  d->readers = r;
  pthread_mutex_unlock(&d->reg_lock);
  smr__thread_publish(t);
  *out = &r->pub;
  return 0;
}

int smr_reader_unregister(smr_reader *pub) {
  if (!pub)
    return 0; /* free-like */
  struct rec *r = (struct rec *)pub;
  if (!pthread_equal(r->owner, pthread_self()))
    return -EPERM;
  /* relaxed: our own word (owner-only check). */
  if (ACTIVE(atomic_load_explicit(&r->pub.ctr, memory_order_relaxed)))
    return -EBUSY;
  /* Remove from the thread's list. */
  struct smr__thread *t = r->thr;
  for (struct rec **pp = (struct rec **)smr__thread_list(t, SMR__THREAD_EPOCH);
       *pp; pp = &(*pp)->tnext)
    if (*pp == r) {
      *pp = r->tnext;
      break;
    }
  smr_domain *d = r->d;
  pthread_mutex_lock(&d->reg_lock);
  for (struct rec **pp = &d->readers; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  pthread_mutex_unlock(&d->reg_lock);
  free(r);
  if (!smr__thread_unref(t, 1))
    smr__thread_publish(t); /* the list changed */
  return 0;
}

void smr__enter_slow(smr_reader *pub, uint64_t c) {
  if (c & SMR__READER_NEST_MASK) {
    /* Nested: the outermost entry already protects us; no fence.  Overflow
     * would carry into the mode bit: fail loudly (slow path, cheap). */
    if ((c & SMR__READER_NEST_MASK) == SMR__READER_NEST_MASK) {
      fprintf(stderr, "libsmr: smr_enter nesting deeper than 65535\n");
      abort();
    }
    /* relaxed: depth only; the outermost entry published the section. */
    atomic_store_explicit(&pub->ctr, c + 1, memory_order_relaxed);
    /* Symmetric mode: a signal handler's section may nest in an outermost
     * entry it interrupted between that entry's store and its fence; the
     * handler's own fence then orders the outer store before the handler's
     * loads (pairs with the writer's fence in smr__heavy_barrier), with no
     * reliance on how the CPU delivers signals.  Asymmetric mode needs
     * none: membarrier acts on the whole thread, handler included. */
    if (c & SMR__READER_SYMMETRIC)
      smr__fence_seq_cst();
    return;
  }
  /* Outermost entry in symmetric mode: the seq_cst fence orders the store
   * before the section's loads (pairs with the writer's fence in
   * smr__heavy_barrier). */
  /* release: as in smr_enter; the fence then orders it before our loads. */
  atomic_store_explicit(&pub->ctr, c + SMR__READER_SEQ_ONE + 1,
                        memory_order_release);
  smr__fence_seq_cst();
}
