/* SPDX-License-Identifier: MIT */
/* Stress tests of the epoch domain with real concurrency (bounded in time:
 * SMR_TEST_SECONDS in all, default 3).  Everything runs twice: in a domain
 * of the process fence mode and in one created with SMR_DOMAIN_SYMMETRIC.
 *
 *  (a) readers vs. two writers (one shared pointer each) that reclaim
 *      through every path (smr_synchronize, smr_retire + smr_collect,
 *      smr_poll_start/smr_poll, smr_retire + smr_barrier), retiring and
 *      driving grace periods concurrently: readers check that what they
 *      reach is alive (not poisoned) and that the versions they see never go
 *      back; after smr_barrier a writer checks that everything it retired
 *      was reclaimed;
 *  (b) threads that exit without unregistering, inside and outside a
 *      section, do not block grace periods or destruction;
 *  (c) concurrent smr_synchronize callers all return 0, none before the
 *      section they wait for ended, and they share grace periods;
 *  (d) register/unregister churn (and threads dying inside sections) while
 *      a writer synchronizes.
 *
 * Reclaimed objects are poisoned and kept in a quarantine for a while before
 * free(), so a reader that reaches a reclaimed object sees the poison even
 * without ASAN (and ASAN/TSAN report the access when they are on).  The waits
 * are barriers, condition variables and joins; clocks only bound the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "smr.h"

#define MAGIC_ALIVE  0x5afe5afe5afe5afeull
#define MAGIC_POISON 0xdeadbeefdeadbeefull
#define NREADERS     4 /* more than the cores of the test machines */
#define NSLOTS       2 /* shared pointers, one writer each in (a) */
#define MIN_ITERS    200ul

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Objects, poison and quarantine -------------------------------------
 */

struct obj {
  struct smr_retired h; /* first member */
  uint64_t magic;       /* MAGIC_ALIVE until reclaimed */
  uint64_t version;     /* strictly increasing in publication order */
  int slot;             /* the shared pointer (and writer) it belongs to */
  struct obj *qnext;
};

/* Per slot: objects retired (by the slot's writer) and reclaimed (by
 * callbacks, which run in whichever thread completes a grace period, often
 * the other writer's).  Relaxed: the checks read them after smr_barrier() or
 * a join, which order the callbacks' increments before the read. */
static _Atomic unsigned long n_retired[NSLOTS], n_reclaimed[NSLOTS];

enum { QUARANTINE = 256 };
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj *q_head, *q_tail; /* q_lock */
static unsigned q_len;              /* q_lock */

static struct obj *obj_new(uint64_t version, int slot) {
  struct obj *o = malloc(sizeof *o);
  CHECK(o != NULL);
  o->magic = MAGIC_ALIVE;
  o->version = version;
  o->slot = slot;
  o->qnext = NULL;
  return o;
}

/* The object is unreachable and no reader holds it: poison it, and free it
 * only after QUARANTINE later reclaims, so that a premature reclaim is seen
 * as poison rather than as a recycled object. */
static void obj_reclaim(struct obj *o) {
  CHECK(o->magic == MAGIC_ALIVE); /* reclaimed exactly once */
  o->magic = MAGIC_POISON;
  struct obj *victim = NULL;
  pthread_mutex_lock(&q_lock);
  if (q_tail)
    q_tail->qnext = o;
  else
    q_head = o;
  q_tail = o;
  if (++q_len > QUARANTINE) {
    victim = q_head;
    q_head = victim->qnext;
    q_len--;
  }
  pthread_mutex_unlock(&q_lock);
  free(victim);
}

static void obj_cb(struct smr_retired *h) {
  struct obj *o = (struct obj *)h;
  int slot = o->slot;
  obj_reclaim(o);
  /* relaxed: statistics; see above. */
  atomic_fetch_add_explicit(&n_reclaimed[slot], 1, memory_order_relaxed);
}

static void obj_retire(smr_domain *d, struct obj *o) {
  /* relaxed: statistics; see above. */
  atomic_fetch_add_explicit(&n_retired[o->slot], 1, memory_order_relaxed);
  CHECK_EQ(smr_retire(d, &o->h, obj_cb), 0);
}

static void quarantine_drain(void) {
  pthread_mutex_lock(&q_lock);
  while (q_head) {
    struct obj *o = q_head;
    q_head = o->qnext;
    free(o);
  }
  q_tail = NULL;
  q_len = 0;
  pthread_mutex_unlock(&q_lock);
}

/* Every object of the slot retired so far has been reclaimed: called by the
 * slot's writer (its only retirer) after smr_barrier. */
static void check_all_reclaimed(int slot) {
  /* relaxed: smr_barrier returned after the callbacks ran (under the
   * domain's lock, taken by this thread afterwards). */
  CHECK_EQ(atomic_load_explicit(&n_reclaimed[slot], memory_order_relaxed),
           atomic_load_explicit(&n_retired[slot], memory_order_relaxed));
}

static smr_domain *domain(unsigned flags, size_t threshold) {
  struct smr_domain_attr a = {flags, threshold};
  smr_domain *d;
  CHECK_EQ(smr_domain_create(&a, &d), 0);
  return d;
}

/* ---- The shared pointers and the readers' check ---------------------------
 */

struct shared {
  smr_domain *d;
  int nslots; /* slots in use (one writer each) */
  _Atomic(struct obj *) head[NSLOTS];
  _Atomic int stop;
  _Atomic unsigned long progress[NREADERS];
  pthread_barrier_t start;
};

/* Read the object published in a slot and check it.  Inside a section of the
 * caller.  Volatile reads: the object must stay intact for the whole
 * section, so each check really reads memory. */
static const struct obj *read_head(struct shared *s, int slot, uint64_t *last) {
  /* acquire: pairs with the writer's release store of head[slot], so the
   * object's initialisation is visible. */
  const struct obj *o =
      atomic_load_explicit(&s->head[slot], memory_order_acquire);
  CHECK(o != NULL);
  CHECK(*(const volatile uint64_t *)&o->magic == MAGIC_ALIVE);
  CHECK_EQ(o->slot, slot);
  uint64_t v = *(const volatile uint64_t *)&o->version;
  CHECK(v >= *last);
  *last = v;
  return o;
}

static void check_alive(const struct obj *o) {
  CHECK(*(const volatile uint64_t *)&o->magic == MAGIC_ALIVE);
}

static int stopping(struct shared *s) {
  /* relaxed: a stop request; the join afterwards orders everything else. */
  return atomic_load_explicit(&s->stop, memory_order_relaxed);
}

/* Publish a new version in a slot; returns the one it replaced (now
 * unlinked).  Only the slot's writer calls this. */
static struct obj *publish(struct shared *s, int slot, uint64_t version) {
  struct obj *n = obj_new(version, slot);
  /* relaxed: only this writer stores head[slot]. */
  struct obj *old = atomic_load_explicit(&s->head[slot], memory_order_relaxed);
  /* release: pairs with the readers' acquire loads of head[slot]. */
  atomic_store_explicit(&s->head[slot], n, memory_order_release);
  return old;
}

static int readers_progressed(struct shared *s, int n) {
  for (int i = 0; i < n; i++)
    /* relaxed: a progress hint that only bounds the loop from below. */
    if (atomic_load_explicit(&s->progress[i], memory_order_relaxed) < MIN_ITERS)
      return 0;
  return 1;
}

static void shared_init(struct shared *s, smr_domain *d, int nslots,
                        unsigned parties) {
  memset(s, 0, sizeof *s);
  s->d = d;
  s->nslots = nslots;
  for (int i = 0; i < NSLOTS; i++)
    atomic_init(&s->head[i], obj_new(1, i));
  atomic_init(&s->stop, 0);
  for (int i = 0; i < NREADERS; i++)
    atomic_init(&s->progress[i], 0);
  CHECK_EQ(pthread_barrier_init(&s->start, NULL, parties), 0);
}

static void shared_fini(struct shared *s) {
  for (int i = 0; i < NSLOTS; i++)
    /* relaxed: every other thread has been joined. */
    obj_reclaim(atomic_load_explicit(&s->head[i], memory_order_relaxed));
  pthread_barrier_destroy(&s->start);
}

/* ---- (a) readers vs. writers using every reclamation path -----------------
 */

struct reader_arg {
  struct shared *s;
  int id;
};

static void *reader_main(void *arg) {
  struct reader_arg *a = arg;
  struct shared *s = a->s;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(s->d, &r), 0);
  pthread_barrier_wait(&s->start);
  uint64_t last[NSLOTS] = {0};
  const struct obj *o[NSLOTS];
  unsigned long it = 0;
  while (!stopping(s)) {
    smr_enter(r);
    for (int k = 0; k < s->nslots; k++)
      o[k] = read_head(s, k, &last[k]);
    if (it & 1) {
      /* Nested: the inner leave must not end the protection of o[]. */
      smr_enter(r);
      check_alive(read_head(s, 0, &last[0]));
      smr_leave(r);
    }
    /* Sections of varying length, so grace periods start in the middle of
     * them; the objects must stay intact until the leave. */
    for (unsigned long i = 0, n = it % 16 ? it % 97 : 3000; i < n; i++)
      check_alive(o[i % (unsigned)s->nslots]);
    for (int k = 0; k < s->nslots; k++)
      check_alive(o[k]);
    smr_leave(r);
    it++;
    /* relaxed: progress hint for the writers' loop bound. */
    atomic_store_explicit(&s->progress[a->id], it, memory_order_relaxed);
    /* With more readers than cores, a reader preempted inside a section
     * holds grace periods for a time slice; giving the CPU away outside a
     * section now and then keeps many grace periods in the run. */
    if (it % 64 == 0)
      sched_yield();
  }
  CHECK_EQ(smr_reader_unregister(r), 0);
  return NULL;
}

struct writer_arg {
  struct shared *s;
  int slot;
  double deadline;
};

/* Each writer replaces its slot's object and reclaims the old one through
 * a different path each time; both writers drive grace periods and run each
 * other's callbacks. */
static void *writer_main(void *arg) {
  struct writer_arg *a = arg;
  struct shared *s = a->s;
  smr_domain *d = s->d;
  int slot = a->slot;
  pthread_barrier_wait(&s->start);
  uint64_t v = 1;
  unsigned long per_path[4] = {0, 0, 0, 0};
  for (;;) {
    int done = now() >= a->deadline && readers_progressed(s, NREADERS);
    for (int p = 0; p < 4; p++)
      done = done && per_path[p] >= 50;
    if (done)
      break;
    struct obj *old = publish(s, slot, ++v);
    int path = (int)((v + (uint64_t)slot) % 4);
    per_path[path]++;
    switch (path) {
    case 0: /* classic RCU: wait, then free by hand */
      CHECK_EQ(smr_synchronize(d), 0);
      obj_reclaim(old);
      break;
    case 1: /* deferred: retire, reclaim what is ready */
      obj_retire(d, old);
      CHECK(smr_collect(d) >= 0);
      break;
    case 2: { /* polling: no retire, own the object until the cookie */
      smr_cookie ck;
      CHECK_EQ(smr_poll_start(d, &ck), 0);
      int rc;
      while ((rc = smr_poll(d, ck)) == -EAGAIN)
        sched_yield();
      CHECK_EQ(rc, 0);
      obj_reclaim(old);
      break;
    }
    case 3: /* barrier: everything this writer retired is reclaimed after it */
      obj_retire(d, old);
      CHECK_EQ(smr_barrier(d), 0);
      check_all_reclaimed(slot);
      break;
    }
  }
  return NULL;
}

static void test_readers_writers(unsigned flags, double secs) {
  smr_domain *d = domain(flags, 0);
  struct shared s;
  shared_init(&s, d, NSLOTS, NREADERS + NSLOTS);
  pthread_t tid[NREADERS], wid[NSLOTS];
  struct reader_arg ra[NREADERS];
  struct writer_arg wa[NSLOTS];
  for (int i = 0; i < NREADERS; i++) {
    ra[i].s = &s;
    ra[i].id = i;
    CHECK_EQ(pthread_create(&tid[i], NULL, reader_main, &ra[i]), 0);
  }
  double deadline = now() + secs;
  for (int i = 0; i < NSLOTS; i++) {
    wa[i].s = &s;
    wa[i].slot = i;
    wa[i].deadline = deadline;
    CHECK_EQ(pthread_create(&wid[i], NULL, writer_main, &wa[i]), 0);
  }
  for (int i = 0; i < NSLOTS; i++)
    CHECK_EQ(pthread_join(wid[i], NULL), 0);
  /* relaxed: stop request, the joins order the rest. */
  atomic_store_explicit(&s.stop, 1, memory_order_relaxed);
  for (int i = 0; i < NREADERS; i++)
    CHECK_EQ(pthread_join(tid[i], NULL), 0);
  CHECK_EQ(smr_barrier(d), 0);
  for (int i = 0; i < NSLOTS; i++)
    check_all_reclaimed(i);
  CHECK_EQ(smr_garbage_count(d), 0);
  shared_fini(&s);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* ---- (b) threads exiting without unregistering ---------------------------
 */

struct exiter {
  smr_domain *d, *d2;
  int inside;
  pthread_barrier_t b;
};

static void *exiter_main(void *arg) {
  struct exiter *e = arg;
  smr_reader *r, *r2;
  CHECK_EQ(smr_reader_register(e->d, &r), 0);
  CHECK_EQ(smr_reader_register(e->d2, &r2), 0);
  if (e->inside) {
    smr_enter(r);
    smr_enter(r); /* nested, even */
    smr_enter(r2);
  }
  pthread_barrier_wait(&e->b); /* registered (and inside) */
  pthread_barrier_wait(&e->b); /* main has polled */
  return NULL;                 /* no leave, no unregister */
}

static void test_exit_without_unregister(unsigned flags) {
  for (int inside = 0; inside < 2; inside++) {
    struct exiter e;
    e.d = domain(flags, SIZE_MAX);
    e.d2 = domain(flags ^ SMR_DOMAIN_SYMMETRIC, SIZE_MAX);
    e.inside = inside;
    CHECK_EQ(pthread_barrier_init(&e.b, NULL, 2), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, exiter_main, &e), 0);
    pthread_barrier_wait(&e.b);

    CHECK_EQ(smr_domain_destroy(e.d), -EBUSY); /* the thread is alive */
    obj_retire(e.d, obj_new(0, 0));
    obj_retire(e.d2, obj_new(0, 0));
    smr_cookie ck;
    CHECK_EQ(smr_poll_start(e.d, &ck), 0);
    CHECK_EQ(smr_poll(e.d, ck), inside ? -EAGAIN : 0);
    CHECK_EQ(smr_collect(e.d), 0);
    CHECK_EQ(smr_garbage_count(e.d), inside ? 1 : 0);

    pthread_barrier_wait(&e.b);
    CHECK_EQ(pthread_join(t, NULL), 0); /* thread gone, records dead */
    CHECK_EQ(smr_synchronize(e.d), 0);
    CHECK_EQ(smr_poll(e.d, ck), 0);
    CHECK_EQ(smr_synchronize(e.d2), 0);
    CHECK_EQ(smr_barrier(e.d), 0);
    CHECK_EQ(smr_barrier(e.d2), 0);
    check_all_reclaimed(0);
    CHECK_EQ(smr_domain_destroy(e.d), 0);
    CHECK_EQ(smr_domain_destroy(e.d2), 0);
    pthread_barrier_destroy(&e.b);
  }
}

/* ---- (c) concurrent smr_synchronize -------------------------------------
 */

enum { NSYNC = 3 };

struct sync_test {
  smr_domain *d;
  _Atomic int r_inside;     /* the blocking reader's section is open */
  pthread_barrier_t r_step; /* main <-> blocking reader, 2 parties */
  pthread_barrier_t go;     /* main + the synchronize callers */
  int rc[NSYNC];
  int saw_inside[NSYNC];
};

struct sync_arg {
  struct sync_test *t;
  int id;
};

static void *blocker_main(void *arg) {
  struct sync_test *t = arg;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(t->d, &r), 0);
  smr_enter(r);
  /* relaxed: r_inside is read by the callers only after smr_synchronize
   * returned, which is ordered after the smr_leave below (its release store
   * is acquired by the grace period's scan), itself after this store. */
  atomic_store_explicit(&t->r_inside, 1, memory_order_relaxed);
  pthread_barrier_wait(&t->r_step); /* 1: inside */
  pthread_barrier_wait(&t->r_step); /* 2: callers started */
  atomic_store_explicit(&t->r_inside, 0, memory_order_relaxed); /* as above */
  smr_leave(r);
  pthread_barrier_wait(&t->r_step); /* 3: callers joined */
  CHECK_EQ(smr_reader_unregister(r), 0);
  return NULL;
}

static void *syncer_main(void *arg) {
  struct sync_arg *a = arg;
  struct sync_test *t = a->t;
  pthread_barrier_wait(&t->go);
  t->rc[a->id] = smr_synchronize(t->d);
  /* relaxed: see blocker_main. */
  t->saw_inside[a->id] =
      atomic_load_explicit(&t->r_inside, memory_order_relaxed);
  return NULL;
}

static void test_concurrent_synchronize(unsigned flags) {
  for (int round = 0; round < 20; round++) {
    struct sync_test t;
    memset(&t, 0, sizeof t);
    t.d = domain(flags, SIZE_MAX);
    atomic_init(&t.r_inside, 0);
    CHECK_EQ(pthread_barrier_init(&t.r_step, NULL, 2), 0);
    CHECK_EQ(pthread_barrier_init(&t.go, NULL, NSYNC + 1), 0);
    pthread_t bt, st[NSYNC];
    struct sync_arg sa[NSYNC];
    CHECK_EQ(pthread_create(&bt, NULL, blocker_main, &t), 0);
    pthread_barrier_wait(&t.r_step);

    /* Start the grace period the blocker holds open. */
    smr_cookie ck;
    CHECK_EQ(smr_poll_start(t.d, &ck), 0);
    CHECK_EQ(smr_poll(t.d, ck), -EAGAIN);
    struct smr_fence_info f0, f1;
    CHECK_EQ(smr_fence_init(&f0), 0);

    for (int i = 0; i < NSYNC; i++) {
      sa[i].t = &t;
      sa[i].id = i;
      CHECK_EQ(pthread_create(&st[i], NULL, syncer_main, &sa[i]), 0);
    }
    pthread_barrier_wait(&t.go);
    pthread_barrier_wait(&t.r_step); /* let the blocker leave */
    for (int i = 0; i < NSYNC; i++) {
      CHECK_EQ(pthread_join(st[i], NULL), 0);
      CHECK_EQ(t.rc[i], 0);
      CHECK_EQ(t.saw_inside[i], 0);
    }
    CHECK_EQ(smr_poll(t.d, ck), 0);
    CHECK_EQ(smr_fence_init(&f1), 0);
    /* Shared grace periods: the period in flight, then at most one per
     * caller that arrived after the previous one started; each started
     * period issues one writer-side barrier unless it needed a retry. */
    CHECK(f1.heavy_barriers - f0.heavy_barriers -
              (f1.heavy_retries - f0.heavy_retries) <=
          NSYNC);
    pthread_barrier_wait(&t.r_step);
    CHECK_EQ(pthread_join(bt, NULL), 0);
    CHECK_EQ(smr_domain_destroy(t.d), 0);
    pthread_barrier_destroy(&t.go);
    pthread_barrier_destroy(&t.r_step);
  }
}

/* ---- (d) register/unregister churn ---------------------------------------
 */

struct churn_arg {
  struct shared *s;
  int id;
};

/* A short-lived thread that dies inside a section. */
static void *dier_main(void *arg) {
  struct shared *s = arg;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(s->d, &r), 0);
  smr_enter(r);
  uint64_t last = 0;
  (void)read_head(s, 0, &last);
  return NULL; /* still inside; the record is marked dead at exit */
}

static void *churn_main(void *arg) {
  struct churn_arg *a = arg;
  struct shared *s = a->s;
  pthread_barrier_wait(&s->start);
  uint64_t last = 0;
  unsigned long it = 0;
  while (!stopping(s)) {
    smr_reader *r, *r2 = NULL;
    CHECK_EQ(smr_reader_register(s->d, &r), 0);
    if (it % 3 == 0)
      CHECK_EQ(smr_reader_register(s->d, &r2), 0);
    for (int k = 0; k < 4; k++) {
      smr_enter(r);
      const struct obj *o = read_head(s, 0, &last);
      if (r2) {
        smr_enter(r2);
        (void)read_head(s, 0, &last);
        smr_leave(r2);
      }
      check_alive(o);
      smr_leave(r);
    }
    if (r2 && it % 2 == 0)
      CHECK_EQ(smr_reader_unregister(r2), 0);
    CHECK_EQ(smr_reader_unregister(r), 0);
    if (r2 && it % 2 != 0)
      CHECK_EQ(smr_reader_unregister(r2), 0);
    if (it % 32 == 0) {
      pthread_t t;
      CHECK_EQ(pthread_create(&t, NULL, dier_main, s), 0);
      CHECK_EQ(pthread_join(t, NULL), 0);
    }
    it++;
    /* relaxed: progress hint for the writer's loop bound. */
    atomic_store_explicit(&s->progress[a->id], it, memory_order_relaxed);
  }
  return NULL;
}

static void test_churn(unsigned flags, double secs) {
  enum { NCHURN = 2 };
  smr_domain *d = domain(flags, 0);
  struct shared s;
  shared_init(&s, d, 1, NCHURN + 1);
  pthread_t tid[NCHURN];
  struct churn_arg ca[NCHURN];
  for (int i = 0; i < NCHURN; i++) {
    ca[i].s = &s;
    ca[i].id = i;
    CHECK_EQ(pthread_create(&tid[i], NULL, churn_main, &ca[i]), 0);
  }
  pthread_barrier_wait(&s.start);
  double deadline = now() + secs;
  uint64_t v = 1;
  while (!(now() >= deadline && readers_progressed(&s, NCHURN))) {
    struct obj *old = publish(&s, 0, ++v);
    if (v % 2) {
      CHECK_EQ(smr_synchronize(d), 0);
      obj_reclaim(old);
    } else {
      obj_retire(d, old);
      if (v % 8 == 0) {
        CHECK_EQ(smr_barrier(d), 0);
        check_all_reclaimed(0);
      }
    }
  }
  /* relaxed: stop request, the joins order the rest. */
  atomic_store_explicit(&s.stop, 1, memory_order_relaxed);
  for (int i = 0; i < NCHURN; i++)
    CHECK_EQ(pthread_join(tid[i], NULL), 0);
  CHECK_EQ(smr_barrier(d), 0);
  check_all_reclaimed(0);
  shared_fini(&s);
  CHECK_EQ(smr_domain_destroy(d), 0); /* dead records are freed here */
}

int main(void) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  double secs = test_seconds(3.0);
  const unsigned modes[2] = {0, SMR_DOMAIN_SYMMETRIC};
  for (int m = 0; m < 2; m++) {
    test_readers_writers(modes[m], secs * 0.3);
    test_exit_without_unregister(modes[m]);
    test_concurrent_synchronize(modes[m]);
    test_churn(modes[m], secs * 0.15);
  }
  quarantine_drain();
  return 0;
}
