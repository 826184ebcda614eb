/* SPDX-License-Identifier: MIT */
/* Epoch-based reclamation domain: lifecycle, retire, and the grace-period
 * machine behind smr_synchronize / smr_poll / smr_barrier / smr_collect.
 *
 * Files: this one; epoch_reader.c (reader records: registration, the
 * out-of-line enter path, thread liveness and thread-exit clean-up);
 * epoch_internal.h (the structures they share); pace.c (early-collection
 * pacing, shared with the swap cell).  Calls run one way: epoch.c ->
 * epoch_reader.c.
 *
 * Readers: each registered record has one word `ctr` (see smr/epoch.h):
 * nesting depth, a symmetric-mode flag, and a section sequence number that
 * every outermost smr_enter() increments.  Entering is a relaxed load and a
 * relaxed store (plus a seq_cst fence in symmetric mode); leaving is a
 * release store.  No reader ever writes shared state.  Records are
 * registered, and entered out of line, in epoch_reader.c.
 *
 * Grace periods: two counters, gp_started and gp_completed (at most one grace
 * period in flight).  Starting grace period g (under gp_lock):
 *   1. take the lock-free `pending` stack of retired objects whole into the
 *      `wait` ring as the list that waits for g (O(1): no walk);
 *   2. gp_started = g;
 *   3. heavy barrier (membarrier; a seq_cst fence in symmetric mode, or when
 *      no other thread has a record: our own stores need no barrier);
 *   4. snapshot every record whose ctr shows an active section.
 * Grace period g completes when every snapshotted record has left that
 * section: its depth is 0 or its sequence number changed.  Then the lists
 * waiting for grace periods <= g are reclaimed (newest retire first inside
 * a list).
 *
 * Why it is safe (docs/DESIGN.md has the long form): an object retired before
 * step 1 was unlinked before step 3.  The heavy barrier acts as a seq_cst
 * fence in every thread at some point during the call.  A reader whose
 * entering store to ctr was not visible at step 4 executed that store after
 * the barrier point, so its later loads (after its compiler barrier) see the
 * unlink and cannot reach the object; a reader seen active is waited for.
 * Sequence numbers make the wait end when that section ends even if the
 * reader enters again at once (no writer starvation), and nested entries do
 * not change the sequence.
 *
 * Polling: a cookie is gp_started + 1 read after a seq_cst fence.  If the
 * read returns s, the fence of the caller precedes (in the seq_cst order) the
 * heavy barrier of grace period s + 1, so that grace period waits for every
 * section that began before the call.  smr_barrier uses s + 2: grace period
 * s + 1 may have spliced `pending` just before the caller's objects arrived.
 *
 * Callbacks run with gp_lock held, in the thread that completed the grace
 * period; a thread-local flag turns synchronize/barrier calls from inside a
 * callback into -EDEADLK instead of a self-deadlock (poll only checks, collect
 * returns 0, retire skips its automatic collection).
 *
 * Thread exit: a record is ignored or freed only once its thread is gone
 * (epoch_reader.c, "Thread liveness"), never earlier; the grace-period
 * machine asks smr__epoch_reap_if_gone / smr__epoch_reap_gone.
 *
 * Automatic collection: smr_retire polls (a non-blocking gp_step) when a
 * threshold's worth of objects was retired since the last grace period
 * started, and early whenever 20 barrier costs of time have passed since
 * the last step; see retire_should_collect and the pacing rule it shares
 * with the swap cell (src/pace.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "epoch_internal.h"
#include "platform/platform.h"

/* Set while this thread runs reclaim callbacks (run_list). */
static _Thread_local int in_callback;

/* ---- Domain -------------------------------------------------------------- */

int smr_domain_create(const struct smr_domain_attr *attr, smr_domain **out) {
  if (!out || (attr && (attr->flags &
                        ~(SMR_DOMAIN_SYMMETRIC | SMR_DOMAIN_STRICT_THRESHOLD))))
    return -EINVAL;
  smr_domain *d = smr__alloc_aligned(sizeof *d);
  if (!d)
    return -ENOMEM;
  if (pthread_mutex_init(&d->gp_lock, NULL) != 0) {
    free(d);
    return -ENOMEM;
  }
  if (pthread_mutex_init(&d->reg_lock, NULL) != 0) {
    pthread_mutex_destroy(&d->gp_lock);
    free(d);
    return -ENOMEM;
  }
  d->mode = (attr && (attr->flags & SMR_DOMAIN_SYMMETRIC)) ? SMR_FENCE_SYMMETRIC
                                                           : smr__fence_mode();
  size_t th = attr && attr->threshold ? attr->threshold : 64;
  atomic_init(&d->threshold, th);
  d->strict = attr && (attr->flags & SMR_DOMAIN_STRICT_THRESHOLD);
  smr__pace_init(&d->pace, SMR__PACE_RISE_SLOW);
  *out = d;
  return 0;
}

static long run_list(struct smr_retired *n) {
  long k = 0;
  in_callback++;
  while (n) {
    struct smr_retired *next = n->next;
    n->fn(n);
    n = next;
    k++;
  }
  in_callback--;
  return k;
}

/* Queue list p (the spliced pending stack) to wait for grace period g.
 * O(1).  The ring never fills: gp_step refuses to start a grace period
 * while it is full (see there).  gp_lock held. */
static void wait_push(smr_domain *d, struct smr_retired *p, uint64_t g) {
  SMR_ASSERT(d->wait_n < SMR__WAIT_MAX);
  struct smr__wait *w = &d->wait[(d->wait_first + d->wait_n) % SMR__WAIT_MAX];
  w->head = p;
  w->gp = g;
  d->wait_n++;
}

/* Take the oldest waiting list off the ring (not empty).  gp_lock held, or
 * no other thread (smr_domain_destroy). */
static struct smr_retired *wait_pop(smr_domain *d) {
  SMR_ASSERT(d->wait_n > 0);
  struct smr_retired *p = d->wait[d->wait_first].head;
  d->wait_first = (d->wait_first + 1) % SMR__WAIT_MAX;
  d->wait_n--;
  return p;
}

int smr_domain_destroy(smr_domain *d) {
  if (!d)
    return 0; /* free-like (DESIGN.md, "Conventions") */
  pthread_mutex_lock(&d->reg_lock);
  smr__epoch_reap_gone(d, 1);
  int busy = d->readers != NULL;
  pthread_mutex_unlock(&d->reg_lock);
  if (busy)
    return -EBUSY;
  /* No reader exists: everything retired is safe.  Callbacks may retire
   * more; loop until both lists are empty. */
  for (;;) {
    int any = d->wait_n != 0;
    while (d->wait_n)
      run_list(wait_pop(d));
    /* acquire: pairs with the release push in smr_retire. */
    struct smr_retired *p =
        atomic_exchange_explicit(&d->pending, NULL, memory_order_acquire);
    if (!any && !p)
      break;
    run_list(p);
  }
  pthread_mutex_destroy(&d->gp_lock);
  pthread_mutex_destroy(&d->reg_lock);
  free(d);
  return 0;
}

int smr_domain_fence_mode(const smr_domain *d) {
  return d ? (int)d->mode : -EINVAL;
}

int smr_domain_set_threshold(smr_domain *d, size_t threshold) {
  if (!d || threshold == 0)
    return -EINVAL;
  /* relaxed: a tuning knob, read opportunistically by smr_retire. */
  atomic_store_explicit(&d->threshold, threshold, memory_order_relaxed);
  return 0;
}

/* ---- Grace periods ------------------------------------------------------- */

/* Barrier and snapshot for the grace period in flight.  gp_lock held.
 * Returns 0, or the barrier's error (need_barrier stays set). */
static int gp_snapshot(smr_domain *d) {
  pthread_t self = pthread_self();
  pthread_mutex_lock(&d->reg_lock);
  smr__epoch_reap_gone(d, 0);
  int foreign = 0;
  for (struct rec *r = d->readers; r; r = r->next)
    foreign |= !pthread_equal(r->owner, self);
  int err = 0;
  if (foreign) {
    int64_t t0 = smr__now_ns();
    err = smr__heavy_barrier(d->mode);
    /* The early-collection gate is 20 barrier costs (src/pace.c). */
    smr__pace_cost(&d->pace, t0);
  } else {
    /* Only our own records: program order suffices for them, and a thread
     * that registers later does so under reg_lock, after this point. */
    smr__fence_seq_cst();
  }
  if (err == 0) {
    for (struct rec *r = d->readers; r; r = r->next) {
      /* acquire: pairs with the release store of smr_leave, so a section
       * seen ended happened before the reclamation. */
      uint64_t c = atomic_load_explicit(&r->pub.ctr, memory_order_acquire);
      r->snap = ACTIVE(c) ? c : 0;
    }
  }
  pthread_mutex_unlock(&d->reg_lock);
  d->need_barrier = err != 0;
  d->barrier_error = err;
  return err;
}

static void gp_start(smr_domain *d) {
  /* acquire: pairs with the release push in smr_retire, so the unlinks that
   * preceded each retire happen before the barrier below. */
  struct smr_retired *p =
      atomic_exchange_explicit(&d->pending, NULL, memory_order_acquire);
  /* relaxed: written only under gp_lock, which we hold. */
  uint64_t g = atomic_load_explicit(&d->gp_started, memory_order_relaxed) + 1;
  /* The whole stack waits for g, as it is: tagging or reversing it here
   * would walk every retired object, cold in cache, under gp_lock (a
   * second and third pass besides the callbacks' own).  With millions
   * retired per second that walk made each step longer, each batch bigger,
   * and the garbage grow without bound. */
  if (p)
    wait_push(d, p, g);
  /* relaxed: a heuristic for smr_retire's trigger, pairs with nothing;
   * everything retired so far waits now, give or take a retire racing with
   * the exchange. */
  atomic_store_explicit(&d->waiting,
                        atomic_load_explicit(&d->garbage, memory_order_relaxed),
                        memory_order_relaxed);
  /* Must precede the barrier: smr_poll_start relies on "a caller that reads
   * the old value fenced before our barrier".  release: pairs with nothing
   * more (the lists are read under gp_lock). */
  atomic_store_explicit(&d->gp_started, g, memory_order_release);
  gp_snapshot(d);
}

/* Whether every section snapshotted for the grace period in flight ended.
 * gp_lock held. */
static int gp_readers_done(smr_domain *d) {
  int done = 1;
  pthread_mutex_lock(&d->reg_lock);
  for (struct rec **pp = &d->readers; *pp;) {
    struct rec *r = *pp;
    if (r->snap) {
      /* acquire: pairs with smr_leave's release store. */
      uint64_t c = atomic_load_explicit(&r->pub.ctr, memory_order_acquire);
      if (ACTIVE(c) && SEQ(c) == SEQ(r->snap)) {
        /* Still in that section, unless its thread is gone (it exited
         * inside): then the record goes and stops counting.  Checked even
         * without the exit hook's hint (a record registered by a key
         * destructor after the hook's last round): one trylock per check
         * that would otherwise fail. */
        if (smr__epoch_reap_if_gone(pp, 1))
          continue;
        done = 0;
        break;
      }
      r->snap = 0;
    }
    pp = &r->next;
  }
  pthread_mutex_unlock(&d->reg_lock);
  return done;
}

/* Advance the grace-period machine as far as it goes without waiting and run
 * the callbacks that became safe.  `target`: a grace period someone waits
 * for (0 = none).  gp_lock held.  Returns objects reclaimed. */
static long gp_step(smr_domain *d, uint64_t target) {
  for (int i = 0; i < 3; i++) {
    /* relaxed: both counters are written only under gp_lock, which we hold. */
    uint64_t s = atomic_load_explicit(&d->gp_started, memory_order_relaxed);
    uint64_t c = atomic_load_explicit(&d->gp_completed, memory_order_relaxed);
    if (s != c) {
      if (d->need_barrier && gp_snapshot(d) != 0)
        break;
      if (!gp_readers_done(d))
        break;
      /* release: a poller that sees the new value may free what it waited
       * for.  (The callbacks of this grace period run below, before
       * gp_lock is released: smr_barrier checks under the lock.) */
      atomic_store_explicit(&d->gp_completed, s, memory_order_release);
      continue;
    }
    /* relaxed peek: only decides whether to start; gp_start re-reads. */
    int want = target > c ||
               atomic_load_explicit(&d->pending, memory_order_relaxed) != NULL;
    /* A full ring (never seen: a step leaves at most the list of the grace
     * period in flight and starts at most 2) waits for this step's end,
     * which runs every list whose grace period completed; merging into a
     * list instead would make it wait for a later grace period than a
     * barrier's target. */
    if (!want || d->wait_n == SMR__WAIT_MAX)
      break;
    gp_start(d);
  }
  /* relaxed: written under gp_lock, which we hold. */
  uint64_t c = atomic_load_explicit(&d->gp_completed, memory_order_relaxed);
  long k = 0;
  while (d->wait_n && d->wait[d->wait_first].gp <= c)
    k += run_list(wait_pop(d)); /* callbacks only push onto `pending` */
  if (k) {
    /* relaxed: as in gp_start (written only when it changes: retirers read
     * the line). */
    size_t w = atomic_load_explicit(&d->waiting, memory_order_relaxed);
    atomic_store_explicit(&d->waiting, w > (size_t)k ? w - (size_t)k : 0,
                          memory_order_relaxed);
  }
  /* relaxed: statistics and heuristics only; pair with nothing. */
  if (k)
    atomic_fetch_sub_explicit(&d->garbage, (size_t)k, memory_order_relaxed);
  smr__pace_stepped(&d->pace);
  return k;
}

/* Whether smr_retire should collect at garbage count g: above the
 * threshold, or early, at any count from 2 on (a lone retire is left alone),
 * whenever at least 20 writer-side barriers' worth of time has passed since
 * the last collection step (so early steps cost at most ~5% of the time;
 * src/pace.c).  A step never waits: it completes the grace period in flight
 * if its readers are done (a scan, no barrier), starts the next one,
 * reclaims what is safe.  So objects retired every millisecond or so (big
 * tables) get one such poll per retire, as with ck_epoch_poll, and a reader
 * descheduled inside a section delays them only until it runs again: the
 * rule never gives up (the former rule, tries at counts 2, 4, 8, ..., backed
 * off exponentially whenever a try met such a reader, and a writer on
 * oversubscribed CPUs piled up dozens of tables).
 * A tight retire loop still batches up to the threshold, reading the clock
 * once per 16 retires (smr__pace_check's back-off). */
static int retire_should_collect(smr_domain *d, size_t g) {
  /* relaxed: a tuning knob; pairs with nothing. */
  size_t th = atomic_load_explicit(&d->threshold, memory_order_relaxed);
  if (d->strict)
    return g > th;
  if (th == SIZE_MAX || g < 2)
    return 0; /* SIZE_MAX: no automatic collection at all */
  /* A threshold's worth retired since the last grace period started: a
   * step, and the grace period it starts covers them all.  (Counting the
   * objects that already wait, as the rule did, sent every retire above the
   * threshold into gp_lock and a scan of the readers as soon as a grace
   * period was in flight, and started one per few dozen retires.  While a
   * slow reader holds a grace period up, retires still poll each time once
   * a threshold's worth is fresh, as before.)
   * relaxed: a heuristic (gp_start, gp_step), pairs with nothing. */
  size_t w = atomic_load_explicit(&d->waiting, memory_order_relaxed);
  if (g > w && g - w >= th)
    return 1;
  return smr__pace_check(&d->pace);
}

int smr_retire(smr_domain *d, struct smr_retired *node,
               void (*fn)(struct smr_retired *)) {
  if (!d || !node || !fn)
    return -EINVAL;
  node->fn = fn;
  /* relaxed peek at the pending stack; gp_start's exchange is the acquire. */
  struct smr_retired *head =
      atomic_load_explicit(&d->pending, memory_order_relaxed);
  do {
    node->next = head;
    /* release: the caller's unlink (and node's fields) happen before the
     * grace period that splices this node (pairs with gp_start's acquire
     * exchange). */
  } while (!atomic_compare_exchange_weak_explicit(
      &d->pending, &head, node, memory_order_release, memory_order_relaxed));
  /* relaxed: a counter for the threshold check; pairs with nothing. */
  size_t g = atomic_fetch_add_explicit(&d->garbage, 1, memory_order_relaxed);
  if (retire_should_collect(d, g + 1) && !in_callback &&
      pthread_mutex_trylock(&d->gp_lock) == 0) {
    gp_step(d, 0);
    pthread_mutex_unlock(&d->gp_lock);
  }
  return 0;
}

struct ptr_node {
  struct smr_retired head;
  void *ptr;
  void (*fn)(void *);
};

static void ptr_reclaim(struct smr_retired *h) {
  struct ptr_node *n = (struct ptr_node *)h;
  n->fn(n->ptr);
  free(n);
}

int smr_retire_ptr(smr_domain *d, void *ptr, void (*fn)(void *)) {
  if (!d || !fn)
    return -EINVAL;
  struct ptr_node *n = malloc(sizeof *n);
  if (!n)
    return -ENOMEM;
  n->ptr = ptr;
  n->fn = fn;
  return smr_retire(d, &n->head, ptr_reclaim);
}

int smr_poll_start(smr_domain *d, smr_cookie *out) {
  if (!d || !out)
    return -EINVAL;
  /* seq_cst fence: orders the caller's earlier unlinks before the heavy
   * barrier of the grace period we name (see the opening comment). */
  smr__fence_seq_cst();
  /* relaxed: the fence above orders it; a value that misses gp_start's
   * store (made before its barrier) names the grace period after it. */
  out->gp = atomic_load_explicit(&d->gp_started, memory_order_relaxed) + 1;
  return 0;
}

/* Drive grace periods until gp_completed >= target.  Blocking. */
static int wait_for_gp(smr_domain *d, uint64_t target) {
  unsigned round = 0;
  for (;;) {
    pthread_mutex_lock(&d->gp_lock);
    gp_step(d, target);
    /* acquire: pairs with the release store of gp_completed in gp_step. */
    uint64_t c = atomic_load_explicit(&d->gp_completed, memory_order_acquire);
    int err = d->need_barrier ? d->barrier_error : 0;
    pthread_mutex_unlock(&d->gp_lock);
    if (c >= target)
      return 0;
    if (err && round > 256)
      return err; /* the kernel keeps refusing barriers */
    smr__backoff(&round);
  }
}

int smr_synchronize(smr_domain *d) {
  if (!d)
    return -EINVAL;
  if (in_callback || smr__epoch_self_in_section(d))
    return -EDEADLK;
  smr_cookie ck;
  smr_poll_start(d, &ck);
  return wait_for_gp(d, ck.gp);
}

int smr_barrier(smr_domain *d) {
  if (!d)
    return -EINVAL;
  if (in_callback || smr__epoch_self_in_section(d))
    return -EDEADLK;
  smr_cookie ck;
  smr_poll_start(d, &ck);
  /* +1: grace period ck.gp may have spliced `pending` before our retires
   * arrived; ck.gp + 1 cannot have (opening comment). */
  return wait_for_gp(d, ck.gp + 1);
}

int smr_poll(smr_domain *d, smr_cookie cookie) {
  if (!d)
    return -EINVAL;
  /* acquire: pairs with the release store in gp_step. */
  if (atomic_load_explicit(&d->gp_completed, memory_order_acquire) >= cookie.gp)
    return 0;
  if (in_callback)
    return -EAGAIN;
  if (pthread_mutex_trylock(&d->gp_lock) == 0) {
    gp_step(d, cookie.gp);
    pthread_mutex_unlock(&d->gp_lock);
  }
  /* acquire: as above. */
  return atomic_load_explicit(&d->gp_completed, memory_order_acquire) >=
                 cookie.gp
             ? 0
             : -EAGAIN;
}

long smr_collect(smr_domain *d) {
  if (!d)
    return -EINVAL;
  if (in_callback)
    return 0;
  pthread_mutex_lock(&d->gp_lock);
  long k = gp_step(d, 0);
  pthread_mutex_unlock(&d->gp_lock);
  return k;
}

size_t smr_garbage_count(const smr_domain *d) {
  if (!d)
    return 0;
  /* relaxed: a statistic. */
  return atomic_load_explicit(&((smr_domain *)d)->garbage,
                              memory_order_relaxed);
}
