/* SPDX-License-Identifier: MIT */
/* Private header of the epoch domain (smr/epoch.h): the structures its
 * files share and the calls between them.  Not installed.
 *
 *   epoch.c           the domain: lifecycle, retire, the grace-period
 *                     machine (synchronize / poll / barrier / collect) and
 *                     the correctness argument
 *   epoch_reader.c    reader records: registration, the out-of-line enter
 *                     path, thread liveness and thread-exit clean-up
 *   epoch_internal.h  this header
 * Calls run one way: epoch.c -> epoch_reader.c.  Early-collection pacing is
 * src/pace.c (shared with the swap cell). */
#ifndef SMR_EPOCH_INTERNAL_H
#define SMR_EPOCH_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "internal.h"
#include "pace.h"

/* The fields of a reader word `ctr` (smr/epoch.h): the section sequence
 * number, and whether the record is inside a section (depth > 0). */
#define SEQ(c)    ((c) >> 17)
#define ACTIVE(c) (((c)&SMR__READER_NEST_MASK) != 0)

struct smr__thread; /* a reader thread's liveness token (thread.c) */

struct rec {
  smr_reader pub; /* owner-written word, alone on its cache line */
  char pad[SMR__CACHELINE - sizeof(smr_reader)];
  uint64_t snap; /* ctr at the start of the grace period in flight; gp_lock */
  smr_domain *d;
  struct rec *next;        /* domain registry; reg_lock */
  struct rec *tnext;       /* owner thread's list; owner only */
  struct smr__thread *thr; /* owner thread's token */
  pthread_t owner;
};

/* Lists waiting for their grace period: at most one grace period is in
 * flight and every gp_step ends by running the lists whose grace period
 * completed, so at most 2 slots are ever used (the list in flight, and
 * gp_step starts at most 2 per call); gp_step starts none while the ring
 * is full. */
#define SMR__WAIT_MAX 8

struct smr_domain {
  /* Retirers (any thread). */
  _Alignas(SMR__CACHELINE) _Atomic(struct smr_retired *) pending;
  _Atomic size_t garbage;
  _Atomic size_t threshold;
  /* Early collection (see retire_should_collect): the step times and
   * barrier cost written under gp_lock, the retirers' clock back-off. */
  struct smr__pace pace;
  /* Grace-period state. */
  _Alignas(SMR__CACHELINE) _Atomic uint64_t gp_started;
  _Atomic uint64_t gp_completed;
  pthread_mutex_t gp_lock;
  /* Retired objects spliced from `pending`, one list per grace period
   * (LIFO inside a list, oldest list first); the ring holds them whole, so
   * the grace-period machine never walks a list except to run it. */
  struct smr__wait {
    struct smr_retired *head;
    uint64_t gp;               /* the grace period the list waits for */
  } wait[SMR__WAIT_MAX];       /* gp_lock */
  unsigned wait_first, wait_n; /* gp_lock */
  /* Objects in the ring (an estimate): written under gp_lock, read by
   * smr_retire's trigger. */
  _Atomic size_t waiting;
  int need_barrier; /* grace period started, barrier failed; gp_lock */
  int barrier_error;
  smr_fence_mode mode;
  int strict; /* SMR_DOMAIN_STRICT_THRESHOLD */
  pthread_mutex_t reg_lock;
  struct rec *readers; /* reg_lock */
};

/* ---- For smr/rc.h (src/rc.c): the grace-period clock ---- */

/* A cookie naming a grace period that waits for every section that began
 * before a seq_cst operation the caller made just before (an exchange or
 * compare-and-swap on a shared location, or on an object's count word):
 * the argument of smr_poll_start with that operation in place of its fence
 * (docs/DESIGN.md, "Reference counting").  seq_cst: ordered after that
 * operation; gp_start stores gp_started before its heavy barrier. */
static inline uint64_t smr__epoch_stamp(smr_domain *d) {
  return atomic_load_explicit(&d->gp_started, memory_order_seq_cst) + 1;
}

/* The last completed grace period.  acquire: pairs with gp_step's release
 * store, so the sections it waited for happen before what follows. */
static inline uint64_t smr__epoch_completed(smr_domain *d) {
  return atomic_load_explicit(&d->gp_completed, memory_order_acquire);
}

/* ---- epoch_reader.c: records and thread liveness ---- */

/* Whether the calling thread is inside a read section of d. */
int smr__epoch_self_in_section(smr_domain *d);

/* If the thread of record *pp is gone, unlink and free the record and
 * return 1.  `all`: check even if the thread did not run the exit hook (for
 * smr_domain_destroy: a record registered by a key destructor after the
 * hook's last round).  reg_lock held. */
int smr__epoch_reap_if_gone(struct rec **pp, int all);

/* Free every record of d whose thread is gone.  reg_lock held. */
void smr__epoch_reap_gone(smr_domain *d, int all);

#endif /* SMR_EPOCH_INTERNAL_H */
