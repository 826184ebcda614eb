/* Epoch-based reclamation domain.
 *
 * Readers: each registered record has one word `ctr` (see smr/epoch.h):
 * nesting depth, a symmetric-mode flag, and a section sequence number that
 * every outermost smr_enter() increments.  Entering is a relaxed load and a
 * relaxed store (plus a seq_cst fence in symmetric mode); leaving is a
 * release store.  No reader ever writes shared state.
 *
 * Grace periods: two counters, gp_started and gp_completed (at most one grace
 * period in flight).  Starting grace period g (under gp_lock):
 *   1. splice the lock-free `pending` stack of retired objects into the FIFO
 *      `waiting` list, tagging each with g;
 *   2. gp_started = g;
 *   3. heavy barrier (membarrier; a seq_cst fence in symmetric mode, or when
 *      no other thread has a record: our own stores need no barrier);
 *   4. snapshot every record whose ctr shows an active section.
 * Grace period g completes when every snapshotted record has left that
 * section: its depth is 0 or its sequence number changed.  Then the objects
 * tagged <= g are reclaimed.
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
 * Thread exit (see "Thread liveness" below): a record is ignored or freed
 * only once its thread is gone, which a per-thread robust mutex reports
 * (owner-dead after the thread's last key destructor), never earlier: other
 * key destructors may still use it.  The exit hook takes no lock (a forked
 * child must not block on an inherited one).
 *
 * Early collection: smr_retire polls (a non-blocking gp_step) whenever 20
 * barrier costs of time have passed since the last step; see
 * retire_should_collect and the pacing rule it shares with the swap cell
 * (src/pace.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "pace.h"
#include "platform/platform.h"

#define SEQ(c)    ((c) >> 17)
#define ACTIVE(c) (((c)&SMR__READER_NEST_MASK) != 0)

/* Per-thread state: the thread's records and its liveness token.  The
 * thread locks `alive` (a robust mutex) when the token is made and never
 * unlocks it while it has records; when the thread terminates, after every
 * key destructor of every round has run, the C library (or the kernel)
 * marks the mutex owner-dead, and the next trylock returns EOWNERDEAD: the
 * thread can no longer touch anything.  This is the only way a record is
 * declared gone (see thr_gone). */
struct thr {
  pthread_mutex_t alive; /* robust; held by the owner while it lives */
  _Atomic size_t refs;   /* records pointing here (any domain) */
  _Atomic int exiting;   /* the exit hook ran: worth checking `alive` */
  _Atomic int gone;      /* a trylock saw the owner dead */
  int rounds;            /* exit-hook calls so far; owner only */
  /* Bumped (release) by the owner after each change to the token or its
   * list and by the exit hook: a reaper's acquire load after it saw the
   * thread gone orders all of that before the frees. */
  _Atomic unsigned published;
  struct rec *head; /* the owner's records; owner only */
};

struct rec {
  smr_reader pub; /* owner-written word, alone on its cache line */
  char pad[SMR__CACHELINE - sizeof(smr_reader)];
  uint64_t snap; /* ctr at the start of the grace period in flight; gp_lock */
  smr_domain *d;
  struct rec *next;  /* domain registry; reg_lock */
  struct rec *tnext; /* owner thread's list; owner only */
  struct thr *thr;   /* owner thread's token */
  pthread_t owner;
};

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
  struct smr_retired *wait_head, *wait_tail; /* gp_lock */
  int need_barrier; /* grace period started, barrier failed; gp_lock */
  int barrier_error;
  smr_fence_mode mode;
  int strict; /* SMR_DOMAIN_STRICT_THRESHOLD */
  pthread_mutex_t reg_lock;
  struct rec *readers; /* reg_lock */
};

/* ---- Thread liveness and thread-exit clean-up ---------------------------
 *
 * A record may be freed or ignored only once its thread can no longer run
 * code: not when libsmr's key destructor runs, since other key destructors
 * (in the same round or a later one) may still enter, leave or unregister
 * it.  So the exit hook frees nothing, takes no lock (a child forked while
 * another thread held a registry lock must be able to exit) and leaves every
 * section honoured: it flags the token as exiting, publishes the thread's
 * accesses so far (thr_publish) and re-arms the key, so the thread's list
 * stays reachable to destructors of later rounds.  A record is gone when
 * its token's robust mutex reports the owner dead (thr_gone). */

#ifdef PTHREAD_DESTRUCTOR_ITERATIONS
#define SMR__EXIT_ROUNDS PTHREAD_DESTRUCTOR_ITERATIONS
#else
#define SMR__EXIT_ROUNDS 4 /* the POSIX minimum */
#endif

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static _Thread_local int in_callback;

/* Owner only: publish the owner's accesses so far to a reaper (pairs with
 * the acquire load in reap_if_gone). */
static void thr_publish(struct thr *t) {
  /* relaxed load: only the owner writes it.  release: see above. */
  unsigned v = atomic_load_explicit(&t->published, memory_order_relaxed);
  atomic_store_explicit(&t->published, v + 1, memory_order_release);
}

static void thread_exit(void *arg) {
  struct thr *t = arg;
  /* Re-arm: the C library runs another round, so destructors of later
   * rounds still find the records (self_in_section; smr_reader_register
   * adds to the same list).  Not into the last round: sanitizer runtimes
   * finish the thread there and instrumented code must not run after. */
  if (++t->rounds < SMR__EXIT_ROUNDS - 1)
    pthread_setspecific(thread_key, t);
  /* relaxed: only tells reapers that a trylock of `alive` is worth it; the
   * verdict comes from the mutex. */
  atomic_store_explicit(&t->exiting, 1, memory_order_relaxed);
  /* Everything this thread did so far happens before a reaper's frees;
   * sections it runs later publish themselves (release stores of ctr). */
  thr_publish(t);
}

/* In a child after fork(): the calling thread's token was copied with its
 * mutex held by the parent's thread (and off this thread's robust list, which
 * the C library reset).  Give it a mutex this thread holds.  Tokens of the
 * parent's other threads stay held by threads that do not exist here: their
 * records are never declared gone (a child must not use inherited domains). */
static void thr_init_locked(struct thr *t);

static void atfork_child(void) {
  struct thr *t = pthread_getspecific(thread_key);
  if (t)
    thr_init_locked(t);
}

static void key_create(void) {
  /* Both only fail when the process is out of keys or memory at first use. */
  if (pthread_key_create(&thread_key, thread_exit) != 0 ||
      pthread_atfork(NULL, NULL, atfork_child) != 0)
    abort();
}

static void thr_init_locked(struct thr *t) {
  pthread_mutexattr_t a;
  /* Robust mutexes need no resources beyond the object; these fail only on
   * invalid arguments. */
  if (pthread_mutexattr_init(&a) != 0 ||
      pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
      pthread_mutex_init(&t->alive, &a) != 0 ||
      pthread_mutex_lock(&t->alive) != 0)
    abort();
  pthread_mutexattr_destroy(&a);
  /* relaxed: the token is not shared yet (or, after fork, by no live
   * thread). */
  atomic_store_explicit(&t->exiting, 0, memory_order_relaxed);
  atomic_store_explicit(&t->gone, 0, memory_order_relaxed);
}

/* The calling thread's token, made on first use (NULL: out of memory). */
static struct thr *thr_self(int create) {
  pthread_once(&key_once, key_create);
  struct thr *t = pthread_getspecific(thread_key);
  if (t || !create)
    return t;
  t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  thr_init_locked(t);
  if (pthread_setspecific(thread_key, t) != 0) {
    pthread_mutex_unlock(&t->alive);
    pthread_mutex_destroy(&t->alive);
    free(t);
    return NULL;
  }
  return t;
}

static struct rec *thread_records(void) {
  struct thr *t = thr_self(0);
  return t ? t->head : NULL;
}

/* Whether t's thread has terminated.  Called with the reg_lock of a domain
 * that holds one of t's records (so t stays allocated). */
static int thr_gone(struct thr *t) {
  /* acquire: pairs with the release store below (made after the mutex
   * told another reaper). */
  if (atomic_load_explicit(&t->gone, memory_order_acquire))
    return 1;
  int e = pthread_mutex_trylock(&t->alive);
  if (e == EBUSY)
    return 0; /* the owner lives (or another reaper is looking) */
  /* EOWNERDEAD: the owner terminated holding it.  0: another reaper saw
   * that and released it (the owner releases only when it drops its last
   * record, and then no record leads here). */
  if (e == EOWNERDEAD)
    pthread_mutex_consistent(&t->alive);
  if (e == 0 || e == EOWNERDEAD) {
    /* release: pairs with the acquire load above. */
    atomic_store_explicit(&t->gone, 1, memory_order_release);
    pthread_mutex_unlock(&t->alive);
    return 1;
  }
  return 0; /* unexpected error: keep honouring the records */
}

/* Drop a record's reference to its token; the last one frees it (returns
 * 1 then).  `owner`: the caller is the owner, unregistering (it holds
 * `alive`); otherwise a reaper (the owner is gone and `alive` is free). */
static int thr_unref(struct thr *t, int owner) {
  /* acq_rel: the usual reference count pairing; whoever drops the last
   * reference sees every other holder's accesses. */
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
    return 0;
  if (owner) {
    /* The key may hold a newer token (made by a key destructor after the
     * hook's last round). */
    if (pthread_getspecific(thread_key) == t)
      pthread_setspecific(thread_key, NULL);
    pthread_mutex_unlock(&t->alive);
  }
  pthread_mutex_destroy(&t->alive);
  free(t);
  return 1;
}

/* Whether the calling thread is inside a read section of d. */
static int self_in_section(smr_domain *d) {
  for (struct rec *r = thread_records(); r; r = r->tnext)
    if (r->d == d &&
        ACTIVE(atomic_load_explicit(&r->pub.ctr, memory_order_relaxed)))
      return 1;
  return 0;
}

/* If the thread of record *pp is gone, unlink and free the record and
 * return 1.  `all`: check even if the thread did not run the exit hook (for
 * smr_domain_destroy: a record registered by a key destructor after the
 * hook's last round).  reg_lock held. */
static int reap_if_gone(struct rec **pp, int all) {
  struct rec *r = *pp;
  struct thr *t = r->thr;
  /* relaxed: a hint that a trylock is worth it; thr_gone decides. */
  if (!(all || atomic_load_explicit(&t->exiting, memory_order_relaxed)) ||
      !thr_gone(t))
    return 0;
  *pp = r->next;
  /* acquire: pair with the thread's last release stores of its token
   * (thr_publish) and of this record's word (its last smr_leave or
   * smr_enter), so its accesses happen before the frees and before any
   * reclamation that follows.  (The thread is gone: these are its final
   * values; the kernel's exit path orders them before the owner-dead
   * mark.) */
  (void)atomic_load_explicit(&t->published, memory_order_acquire);
  (void)atomic_load_explicit(&r->pub.ctr, memory_order_acquire);
  free(r);
  thr_unref(t, 0);
  return 1;
}

/* Free every record whose thread is gone.  reg_lock held. */
static void reap_gone(smr_domain *d, int all) {
  for (struct rec **pp = &d->readers; *pp;)
    if (!reap_if_gone(pp, all))
      pp = &(*pp)->next;
}

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
  smr__pace_init(&d->pace);
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

int smr_domain_destroy(smr_domain *d) {
  if (!d)
    return 0; /* free-like (DESIGN.md, "Conventions") */
  pthread_mutex_lock(&d->reg_lock);
  reap_gone(d, 1);
  int busy = d->readers != NULL;
  pthread_mutex_unlock(&d->reg_lock);
  if (busy)
    return -EBUSY;
  /* No reader exists: everything retired is safe.  Callbacks may retire
   * more; loop until both lists are empty. */
  for (;;) {
    struct smr_retired *w = d->wait_head;
    d->wait_head = d->wait_tail = NULL;
    /* acquire: pairs with the release push in smr_retire. */
    struct smr_retired *p =
        atomic_exchange_explicit(&d->pending, NULL, memory_order_acquire);
    if (!w && !p)
      break;
    run_list(w);
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

/* ---- Readers ------------------------------------------------------------- */

int smr_reader_register(smr_domain *d, smr_reader **out) {
  if (!d || !out)
    return -EINVAL;
  struct rec *r = smr__alloc_aligned(sizeof *r);
  if (!r)
    return -ENOMEM;
  struct thr *t = thr_self(1);
  if (!t) {
    free(r);
    return -ENOMEM;
  }
  /* relaxed: a reference count increment (the decrement orders). */
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  r->d = d;
  r->owner = pthread_self();
  r->thr = t;
  r->tnext = t->head;
  t->head = r;
  /* The mode flag lives in the record so the inline enter needs no other
   * load; it never changes. */
  atomic_init(&r->pub.ctr,
              d->mode == SMR_FENCE_SYMMETRIC ? SMR__READER_SYMMETRIC : 0);
  pthread_mutex_lock(&d->reg_lock);
  reap_gone(d, 0);
  r->next = d->readers;
  d->readers = r;
  pthread_mutex_unlock(&d->reg_lock);
  thr_publish(t);
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
  struct thr *t = r->thr;
  for (struct rec **pp = &t->head; *pp; pp = &(*pp)->tnext)
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
  if (!thr_unref(t, 1))
    thr_publish(t); /* the list changed */
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

/* ---- Grace periods ------------------------------------------------------- */

/* Barrier and snapshot for the grace period in flight.  gp_lock held.
 * Returns 0, or the barrier's error (need_barrier stays set). */
static int gp_snapshot(smr_domain *d) {
  pthread_t self = pthread_self();
  pthread_mutex_lock(&d->reg_lock);
  reap_gone(d, 0);
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
  uint64_t g = atomic_load_explicit(&d->gp_started, memory_order_relaxed) + 1;
  struct smr_retired *first = NULL, *last = NULL;
  while (p) { /* reverse: keep FIFO order inside the waiting list */
    struct smr_retired *next = p->next;
    p->gp = g;
    p->next = first;
    first = p;
    if (!last)
      last = p;
    p = next;
  }
  if (first) {
    if (d->wait_tail)
      d->wait_tail->next = first;
    else
      d->wait_head = first;
    d->wait_tail = last;
  }
  /* Must precede the barrier: smr_poll_start relies on "a caller that reads
   * the old value fenced before our barrier".  release: also publishes the
   * tags (only read under gp_lock). */
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
        if (reap_if_gone(pp, 1))
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
    if (!want)
      break;
    gp_start(d);
  }
  /* relaxed: written under gp_lock, which we hold. */
  uint64_t c = atomic_load_explicit(&d->gp_completed, memory_order_relaxed);
  struct smr_retired *ready = NULL, **tail = &ready;
  while (d->wait_head && d->wait_head->gp <= c) {
    *tail = d->wait_head;
    tail = &d->wait_head->next;
    d->wait_head = d->wait_head->next;
  }
  *tail = NULL;
  if (!d->wait_head)
    d->wait_tail = NULL;
  long k = run_list(ready);
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
  if (g > th)
    return 1;
  if (d->strict || th == SIZE_MAX || g < 2)
    return 0; /* SIZE_MAX: no automatic collection at all */
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
  /* Counter only; relaxed. */
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
  if (in_callback || self_in_section(d))
    return -EDEADLK;
  smr_cookie ck;
  smr_poll_start(d, &ck);
  return wait_for_gp(d, ck.gp);
}

int smr_barrier(smr_domain *d) {
  if (!d)
    return -EINVAL;
  if (in_callback || self_in_section(d))
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
