/* SPDX-License-Identifier: MIT */
/* fork() with live epoch domains.
 *
 * The fork rule (docs/DESIGN.md, "Fork"): fork() copies only the calling
 * thread.  The child MUST NOT use a domain inherited from its parent: the
 * records of the parent's other threads are still registered in the copy,
 * but those threads do not exist in the child, so a grace period could wait
 * for their sections forever, and a lock one of them held at the fork stays
 * locked.  The child creates NEW domains, which work normally (the
 * membarrier registration is redone by the library if the kernel did not
 * carry it over).  The parent's domains are untouched by the fork.
 *
 * The parent forks while a second thread keeps running read sections in the
 * parent's domain, once from inside a section of its own record and once
 * from outside.  The child creates new domains (process mode and symmetric),
 * registers, enters/leaves, retires, polls, synchronizes and exits 0; unless
 * under TSAN (which does not support threads started after a multi-threaded
 * fork), it also starts a reader thread, so that its grace periods need the
 * writer-side barrier.  The parent checks the exit status, then keeps using
 * its domain.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#ifndef TEST_TSAN
#define TEST_TSAN 0
#endif

#define MAGIC_ALIVE  0x0b1ec7a11feull
#define MAGIC_POISON 0xdeadbeefdeadbeefull

struct obj {
  struct smr_retired h; /* first member */
  uint64_t magic;
};

/* Callbacks run only in the main thread of each process (the helper
 * threads only register, enter, leave and unregister). */
static int n_cb;

static void obj_cb(struct smr_retired *h) {
  struct obj *o = (struct obj *)h;
  CHECK(o->magic == MAGIC_ALIVE);
  o->magic = MAGIC_POISON;
  free(o);
  n_cb++;
}

static struct obj *obj_new(void) {
  struct obj *o = malloc(sizeof *o);
  CHECK(o != NULL);
  o->magic = MAGIC_ALIVE;
  return o;
}

static smr_domain *domain(unsigned flags) {
  struct smr_domain_attr a = {flags, SIZE_MAX};
  smr_domain *d;
  CHECK_EQ(smr_domain_create(&a, &d), 0);
  return d;
}

/* ---- A reader thread ------------------------------------------------------
 * spin = 1: runs sections until told to stop (parent side);
 * spin = 0: enters once and parks inside until released (child side). */

struct reader {
  smr_domain *d;
  int spin;
  _Atomic(struct obj *) *cur; /* shared pointer read in the sections */
  _Atomic int stop;
  pthread_barrier_t b; /* 2 parties */
  pthread_t tid;
};

static void check_cur(struct reader *rd) {
  /* acquire: pairs with the release store that published the object. */
  struct obj *o = atomic_load_explicit(rd->cur, memory_order_acquire);
  CHECK(*(volatile uint64_t *)&o->magic == MAGIC_ALIVE);
}

static void *reader_main(void *arg) {
  struct reader *rd = arg;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(rd->d, &r), 0);
  smr_enter(r);
  check_cur(rd);
  if (!rd->spin) {
    pthread_barrier_wait(&rd->b); /* inside */
    pthread_barrier_wait(&rd->b); /* released */
    smr_leave(r);
  } else {
    smr_leave(r);
    pthread_barrier_wait(&rd->b); /* one section done */
    /* relaxed: a stop request; the join orders everything else. */
    while (!atomic_load_explicit(&rd->stop, memory_order_relaxed)) {
      smr_enter(r);
      check_cur(rd);
      smr_enter(r);
      check_cur(rd);
      smr_leave(r);
      smr_leave(r);
    }
  }
  CHECK_EQ(smr_reader_unregister(r), 0);
  return NULL;
}

static void reader_start(struct reader *rd, smr_domain *d, int spin,
                         _Atomic(struct obj *) *cur) {
  rd->d = d;
  rd->spin = spin;
  rd->cur = cur;
  atomic_init(&rd->stop, 0);
  CHECK_EQ(pthread_barrier_init(&rd->b, NULL, 2), 0);
  CHECK_EQ(pthread_create(&rd->tid, NULL, reader_main, rd), 0);
  pthread_barrier_wait(&rd->b);
}

static void reader_finish(struct reader *rd) {
  if (rd->spin)
    /* relaxed: stop request, see reader_main. */
    atomic_store_explicit(&rd->stop, 1, memory_order_relaxed);
  else
    pthread_barrier_wait(&rd->b);
  CHECK_EQ(pthread_join(rd->tid, NULL), 0);
  pthread_barrier_destroy(&rd->b);
}

/* Replace *cur by a new object and reclaim the old one through the domain:
 * alternately smr_synchronize + free by hand and smr_retire + smr_barrier. */
static void replace(smr_domain *d, _Atomic(struct obj *) *cur, int how) {
  /* relaxed: only this thread stores *cur. */
  struct obj *old = atomic_load_explicit(cur, memory_order_relaxed);
  /* release: pairs with the readers' acquire loads. */
  atomic_store_explicit(cur, obj_new(), memory_order_release);
  int before = n_cb;
  if (how) {
    CHECK_EQ(smr_synchronize(d), 0);
    obj_cb(&old->h);
  } else {
    CHECK_EQ(smr_retire(d, &old->h, obj_cb), 0);
    CHECK_EQ(smr_barrier(d), 0);
  }
  CHECK_EQ(n_cb, before + 1);
}

/* Grace period with a record r of this thread: X waits for r's section.
 * alone: r is the only record in a section, so X is reclaimed by the first
 * poll after r leaves; else other threads' sections may delay it. */
static void poll_step(smr_domain *d, smr_reader *r, int alone) {
  int before = n_cb;
  smr_enter(r);
  CHECK_EQ(smr_retire(d, &obj_new()->h, obj_cb), 0);
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(n_cb, before);
  smr_leave(r);
  int rc;
  while ((rc = smr_poll(d, ck)) == -EAGAIN && !alone)
    sched_yield();
  CHECK_EQ(rc, 0);
  CHECK_EQ(n_cb, before + 1);
}

/* ---- Child ---------------------------------------------------------------
 */

static void child_domain(unsigned flags, smr_fence_mode process_mode) {
  smr_domain *d = domain(flags);
  CHECK_EQ(smr_domain_fence_mode(d),
           flags ? SMR_FENCE_SYMMETRIC : process_mode);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  smr_enter(r);
  CHECK(smr_in_section(r));
  smr_leave(r);
  CHECK(!smr_in_section(r));

  _Atomic(struct obj *) cur;
  atomic_init(&cur, obj_new());
  for (int i = 0; i < 4; i++)
    replace(d, &cur, i & 1);
  poll_step(d, r, 1);
  int before = n_cb;
  for (int i = 0; i < 3; i++)
    CHECK_EQ(smr_retire(d, &obj_new()->h, obj_cb), 0);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(n_cb, before + 3);
  CHECK_EQ(smr_garbage_count(d), 0);

  if (!TEST_TSAN) {
    /* A reader thread of the child: the writer-side barrier is needed (in
     * an asymmetric domain, membarrier issued from the child). */
    struct reader rd;
    reader_start(&rd, d, 0, &cur); /* parked inside a section */
    struct smr_fence_info f0, f1;
    CHECK_EQ(smr_fence_init(&f0), 0);
    before = n_cb;
    CHECK_EQ(smr_retire(d, &obj_new()->h, obj_cb), 0);
    smr_cookie ck;
    CHECK_EQ(smr_poll_start(d, &ck), 0);
    CHECK_EQ(smr_poll(d, ck), -EAGAIN);
    CHECK_EQ(smr_collect(d), 0);
    CHECK_EQ(smr_fence_init(&f1), 0);
    if (smr_domain_fence_mode(d) == SMR_FENCE_ASYMMETRIC)
      CHECK(f1.heavy_barriers > f0.heavy_barriers);
    CHECK_EQ(n_cb, before);
    reader_finish(&rd);
    CHECK_EQ(smr_synchronize(d), 0);
    CHECK_EQ(smr_poll(d, ck), 0);
    CHECK_EQ(n_cb, before + 1);
  }

  CHECK_EQ(smr_reader_unregister(r), 0);
  /* relaxed: the reader thread has been joined; single thread now. */
  struct obj *last = atomic_load_explicit(&cur, memory_order_relaxed);
  CHECK_EQ(smr_retire(d, &last->h, obj_cb), 0); /* reclaimed by destroy */
  before = n_cb;
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(n_cb, before + 1);
}

static void child_main(void) {
  /* The inherited domain and record are not touched: see the fork rule. */
  struct smr_fence_info fi;
  CHECK_EQ(smr_fence_init(&fi), 0);
  child_domain(0, fi.mode);
  child_domain(SMR_DOMAIN_SYMMETRIC, fi.mode);
}

/* ---- Parent --------------------------------------------------------------
 */

static void fork_and_check(void) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    child_main();
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  if (!WIFEXITED(st))
    fprintf(stderr, "child died of signal %d\n",
            WIFSIGNALED(st) ? WTERMSIG(st) : -1);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void parent_round(unsigned flags) {
  smr_domain *d = domain(flags);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  _Atomic(struct obj *) cur;
  atomic_init(&cur, obj_new());
  struct reader rd;
  reader_start(&rd, d, 1, &cur); /* running sections */

  for (int inside = 1; inside >= 0; inside--) {
    /* Garbage of the parent's domain at the fork. */
    CHECK_EQ(smr_retire(d, &obj_new()->h, obj_cb), 0);
    int before = n_cb;
    if (inside)
      smr_enter(r);
    fork_and_check();
    if (inside) {
      CHECK_EQ(smr_synchronize(d), -EDEADLK); /* still our section */
      smr_leave(r);
    }
    /* The parent's domain keeps working, with the other thread in it. */
    CHECK_EQ(smr_barrier(d), 0);
    CHECK_EQ(n_cb, before + 1);
    for (int i = 0; i < 6; i++)
      replace(d, &cur, i & 1);
    poll_step(d, r, 0);
    CHECK_EQ(smr_synchronize(d), 0);
    CHECK_EQ(smr_barrier(d), 0);
    CHECK_EQ(smr_garbage_count(d), 0);
  }

  reader_finish(&rd);
  CHECK_EQ(smr_reader_unregister(r), 0);
  /* relaxed: single thread now. */
  obj_cb(&atomic_load_explicit(&cur, memory_order_relaxed)->h);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

int main(void) {
  /* Decide the fence mode before any thread exists (and before fork). */
  CHECK_EQ(smr_fence_init(NULL), 0);
  parent_round(0);
  parent_round(SMR_DOMAIN_SYMMETRIC);
  /* Per round: 2 x (garbage at the fork + 6 replaced + 1 polled) + the last
   * object.  The children counted their own callbacks. */
  CHECK_EQ(n_cb, 2 * (2 * (1 + 6 + 1) + 1));
  return 0;
}
