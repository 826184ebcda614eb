/* SPDX-License-Identifier: MIT */
/* Thread liveness tokens, shared by the epoch domain's reader records and
 * the collector's handles: a module may ignore or free a record of a thread
 * only once that thread can no longer run code, which a per-thread robust
 * mutex reports.  The exit hook frees nothing and takes no lock.  The
 * epoch domain's correctness argument for thread exit (docs/DESIGN.md
 * section 3, "Thread exit") applies to every user of these tokens. */
#define _GNU_SOURCE
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* Per-thread state: the thread's record lists and its liveness token.  The
 * thread locks `alive` (a robust mutex) when the token is made and never
 * unlocks it while it has records; when the thread terminates, after every
 * key destructor of every round has run, the C library (or the kernel)
 * marks the mutex owner-dead, and the next trylock returns EOWNERDEAD: the
 * thread can no longer touch anything.  This is the only way a record is
 * declared gone (see thr_gone). */
struct smr__thread {
  pthread_mutex_t alive; /* robust; held by the owner while it lives */
  _Atomic size_t refs;   /* records pointing here (any domain) */
  _Atomic int exiting;   /* the exit hook ran: worth checking `alive` */
  _Atomic int gone;      /* a trylock saw the owner dead */
  int rounds;            /* exit-hook calls so far; owner only */
  /* Bumped (release) by the owner after each change to the token or its
   * list and by the exit hook: a reaper's acquire load after it saw the
   * thread gone orders all of that before the frees. */
  _Atomic unsigned published;
  void *head[SMR__THREAD_LISTS]; /* the owner's records; owner only */
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
 * the acquire load in smr__thread_gone). */
void smr__thread_publish(struct smr__thread *t) {
  /* relaxed load: only the owner writes it.  release: see above. */
  unsigned v = atomic_load_explicit(&t->published, memory_order_relaxed);
  atomic_store_explicit(&t->published, v + 1, memory_order_release);
}

static void thread_exit(void *arg) {
  struct smr__thread *t = arg;
  /* Re-arm: the C library runs another round, so destructors of later
   * rounds still find the records (smr__epoch_self_in_section;
   * the register calls add to the same lists).  Not into the last round:
   * sanitizer runtimes finish the thread there and instrumented code must not
   * run after. */
  if (++t->rounds < SMR__EXIT_ROUNDS - 1)
    pthread_setspecific(thread_key, t);
  /* relaxed: only tells reapers that a trylock of `alive` is worth it; the
   * verdict comes from the mutex. */
  atomic_store_explicit(&t->exiting, 1, memory_order_relaxed);
  /* Everything this thread did so far happens before a reaper's frees;
   * sections it runs later publish themselves (release stores of ctr). */
  smr__thread_publish(t);
}

/* In a child after fork(): the calling thread's token was copied with its
 * mutex held by the parent's thread (and off this thread's robust list, which
 * the C library reset).  Give it a mutex this thread holds.  Tokens of the
 * parent's other threads stay held by threads that do not exist here: their
 * records are never declared gone (a child must not use inherited domains). */
static void thr_init_locked(struct smr__thread *t);

static void atfork_child(void) {
  struct smr__thread *t = pthread_getspecific(thread_key);
  if (t)
    thr_init_locked(t);
}

static void key_create(void) {
  /* Both only fail when the process is out of keys or memory at first use. */
  if (pthread_key_create(&thread_key, thread_exit) != 0 ||
      pthread_atfork(NULL, NULL, atfork_child) != 0)
    abort();
}

static void thr_init_locked(struct smr__thread *t) {
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
struct smr__thread *smr__thread_self(int create) {
  pthread_once(&key_once, key_create);
  struct smr__thread *t = pthread_getspecific(thread_key);
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

/* Whether t's thread has terminated.  The caller holds a reference (so t
 * stays allocated). */
static int thr_gone(struct smr__thread *t) {
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
int smr__thread_unref(struct smr__thread *t, int owner) {
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

void smr__thread_ref(struct smr__thread *t) {
  /* relaxed: a reference count increment (the decrement orders). */
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void **smr__thread_list(struct smr__thread *t, int which) {
  return &t->head[which];
}

int smr__thread_gone(struct smr__thread *t, int all) {
  /* relaxed: a hint that a trylock is worth it; thr_gone decides. */
  if (!(all || atomic_load_explicit(&t->exiting, memory_order_relaxed)) ||
      !thr_gone(t))
    return 0;
  /* acquire: pairs with the thread's last release store of its token
   * (smr__thread_publish), so its accesses happen before what the caller
   * does next (frees, reclamation).  The thread is gone: these are its
   * final values; the kernel's exit path orders them before the owner-dead
   * mark. */
  (void)atomic_load_explicit(&t->published, memory_order_acquire);
  return 1;
}
