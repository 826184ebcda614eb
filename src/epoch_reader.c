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

/* Owner only: publish the owner's accesses so far to a reaper (pairs with
 * the acquire load in smr__epoch_reap_if_gone). */
static void thr_publish(struct thr *t) {
  /* relaxed load: only the owner writes it.  release: see above. */
  unsigned v = atomic_load_explicit(&t->published, memory_order_relaxed);
  atomic_store_explicit(&t->published, v + 1, memory_order_release);
}

static void thread_exit(void *arg) {
  struct thr *t = arg;
  /* Re-arm: the C library runs another round, so destructors of later
   * rounds still find the records (smr__epoch_self_in_section;
   * smr_reader_register adds to the same list).  Not into the last round:
   * sanitizer runtimes finish the thread there and instrumented code must not
   * run after. */
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
  smr__epoch_reap_gone(d, 0);
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
