/* SPDX-License-Identifier: MIT */
/* Unit tests of the epoch domain (include/smr/epoch.h), deterministic.
 *
 * Every public function, its argument checks, and hand-stepped grace periods
 * in the spirit of ck_epoch's poll test: readers are either records owned by
 * this thread or records owned by "puppet" threads that park on a condition
 * variable, inside or outside a read section, until told to take the next
 * step.  Each step is acknowledged through the puppet's mutex, so the test
 * knows exactly which sections are open when it polls, and can assert
 * exactly when a retired object becomes reclaimable.
 *
 * Reclaim callbacks run only in the thread that completes a grace period or
 * destroys the domain.  Only the main thread calls functions that do that
 * (puppets only register, enter, leave and unregister), so the callback
 * bookkeeping below is plain data of the main thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "smr.h"

/* ---- Retired test objects -------------------------------------------------
 */

struct obj {
  struct smr_retired h; /* first member: the callback casts back */
  int reclaimed;        /* times the callback ran (must end at 1) */
  smr_domain *d;        /* domain for the actions below */
  struct obj *chain;    /* retired from inside the callback */
  int probe;            /* call blocking functions from the callback */
  int rc_sync, rc_barrier, rc_poll;
  long rc_collect;
};

static long n_reclaimed; /* callbacks run so far (main thread only) */

static void obj_cb(struct smr_retired *h) {
  struct obj *o = (struct obj *)h;
  CHECK_EQ(o->reclaimed, 0);
  o->reclaimed++;
  n_reclaimed++;
  if (o->probe) {
    /* Inside a callback nothing may wait for a grace period. */
    o->rc_sync = smr_synchronize(o->d);
    o->rc_barrier = smr_barrier(o->d);
    o->rc_collect = smr_collect(o->d);
    smr_cookie ck;
    CHECK_EQ(smr_poll_start(o->d, &ck), 0);
    o->rc_poll = smr_poll(o->d, ck);
  }
  if (o->chain)
    CHECK_EQ(smr_retire(o->d, &o->chain->h, obj_cb), 0);
}

static void obj_init(struct obj *o, smr_domain *d) {
  memset(o, 0, sizeof *o);
  o->d = d;
}

static void retire(smr_domain *d, struct obj *o) {
  CHECK_EQ(smr_retire(d, &o->h, obj_cb), 0);
}

/* Strict threshold: the exact garbage counts asserted below must not depend
 * on timing (early collection). */
static smr_domain *domain(unsigned flags, size_t threshold) {
  struct smr_domain_attr a = {flags | SMR_DOMAIN_STRICT_THRESHOLD, threshold};
  smr_domain *d = NULL;
  CHECK_EQ(smr_domain_create(&a, &d), 0);
  CHECK(d != NULL);
  return d;
}

/* ---- Puppet threads -------------------------------------------------------
 */

enum cmd {
  CMD_REGISTER,   /* register a record in p->d */
  CMD_ENTER,      /* smr_enter on the record */
  CMD_LEAVE,      /* smr_leave on the record */
  CMD_UNREGISTER, /* unregister the own record; result in p->result */
  CMD_UNREG_ARG,  /* unregister p->arg (someone else's record) */
  CMD_EXIT        /* return from the thread, no matter the state */
};

struct puppet {
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int pending;     /* a command waits for the puppet; mu */
  enum cmd cmd;    /* mu */
  int result;      /* mu */
  smr_domain *d;   /* mu */
  smr_reader *arg; /* mu */
  smr_reader *r;   /* written by the puppet; read by main after an ack */
};

static void *puppet_main(void *arg) {
  struct puppet *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->pending)
      pthread_cond_wait(&p->cv, &p->mu); /* parked, in or out of a section */
    enum cmd c = p->cmd;
    smr_domain *d = p->d;
    smr_reader *other = p->arg;
    pthread_mutex_unlock(&p->mu);

    int res = 0;
    switch (c) {
    case CMD_REGISTER:
      res = smr_reader_register(d, &p->r);
      break;
    case CMD_ENTER:
      smr_enter(p->r);
      break;
    case CMD_LEAVE:
      smr_leave(p->r);
      break;
    case CMD_UNREGISTER:
      res = smr_reader_unregister(p->r);
      break;
    case CMD_UNREG_ARG:
      res = smr_reader_unregister(other);
      break;
    case CMD_EXIT:
      break;
    }
    pthread_mutex_lock(&p->mu);
    p->result = res;
    p->pending = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (c == CMD_EXIT)
      return NULL;
  }
}

/* Run one command in the puppet and wait for it to finish; the mutex hands
 * over everything the puppet did (its ctr stores included) to this thread. */
static int puppet_do(struct puppet *p, enum cmd c, smr_domain *d,
                     smr_reader *arg) {
  pthread_mutex_lock(&p->mu);
  p->cmd = c;
  p->d = d;
  p->arg = arg;
  p->pending = 1;
  pthread_cond_broadcast(&p->cv);
  while (p->pending)
    pthread_cond_wait(&p->cv, &p->mu);
  int res = p->result;
  pthread_mutex_unlock(&p->mu);
  return res;
}

static void puppet_start(struct puppet *p) {
  memset(p, 0, sizeof *p);
  CHECK_EQ(pthread_mutex_init(&p->mu, NULL), 0);
  CHECK_EQ(pthread_cond_init(&p->cv, NULL), 0);
  CHECK_EQ(pthread_create(&p->tid, NULL, puppet_main, p), 0);
}

/* Ends the thread (without unregistering: callers unregister first when they
 * want to) and joins it. */
static void puppet_stop(struct puppet *p) {
  CHECK_EQ(puppet_do(p, CMD_EXIT, NULL, NULL), 0);
  CHECK_EQ(pthread_join(p->tid, NULL), 0);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
}

/* A reader that is either this thread's record or a puppet's. */
struct rd {
  smr_reader *r;    /* own record (p == NULL) */
  struct puppet *p; /* else the puppet that owns p->r */
};

static void rd_register(struct rd *x, smr_domain *d, struct puppet *p) {
  x->p = p;
  if (p)
    CHECK_EQ(puppet_do(p, CMD_REGISTER, d, NULL), 0);
  else
    CHECK_EQ(smr_reader_register(d, &x->r), 0);
}

static void rd_enter(struct rd *x) {
  if (x->p)
    CHECK_EQ(puppet_do(x->p, CMD_ENTER, NULL, NULL), 0);
  else
    smr_enter(x->r);
}

static void rd_leave(struct rd *x) {
  if (x->p)
    CHECK_EQ(puppet_do(x->p, CMD_LEAVE, NULL, NULL), 0);
  else
    smr_leave(x->r);
}

static void rd_unregister(struct rd *x) {
  if (x->p)
    CHECK_EQ(puppet_do(x->p, CMD_UNREGISTER, NULL, NULL), 0);
  else
    CHECK_EQ(smr_reader_unregister(x->r), 0);
}

static uint64_t ctr_of(smr_reader *r) {
  /* relaxed: the record is ours, or its owner's stores were handed over by
   * a puppet_do() mutex; no ordering is needed beyond that. */
  return atomic_load_explicit(&r->ctr, memory_order_relaxed);
}

/* ---- Fence mode ---------------------------------------------------------- */

static smr_fence_mode process_mode;

static void test_fence_info(void) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  struct smr_fence_info a, b;
  memset(&a, 0xa5, sizeof a);
  CHECK_EQ(smr_fence_init(&a), 0);
  CHECK(a.mode == SMR_FENCE_ASYMMETRIC || a.mode == SMR_FENCE_SYMMETRIC);
  const char *env = getenv("SMR_FENCE");
  int want_forced = env && strcmp(env, "symmetric") == 0;
  CHECK_EQ(a.forced, want_forced);
  if (a.forced)
    CHECK_EQ(a.mode, SMR_FENCE_SYMMETRIC);
  if (a.mode == SMR_FENCE_ASYMMETRIC) {
    CHECK_EQ(a.membarrier_error, 0);
    CHECK_EQ(a.forced, 0);
  }
  if (a.membarrier_error != 0) {
    CHECK(a.membarrier_error < 0);
    CHECK_EQ(a.mode, SMR_FENCE_SYMMETRIC);
  }
  if (!a.forced && a.membarrier_error == 0)
    CHECK_EQ(a.mode, SMR_FENCE_ASYMMETRIC);
  CHECK(a.registration_ns >= 0);
  CHECK(a.heavy_retries <= a.heavy_barriers);
  /* Idempotent: the decision is made once. */
  CHECK_EQ(smr_fence_init(&b), 0);
  CHECK_EQ(b.mode, a.mode);
  CHECK_EQ(b.registration_ns, a.registration_ns);
  CHECK_EQ(b.membarrier_error, a.membarrier_error);
  CHECK_EQ(b.forced, a.forced);
  CHECK(b.heavy_barriers >= a.heavy_barriers);
  CHECK(b.heavy_retries >= a.heavy_retries);
  process_mode = a.mode;

  smr_domain *d = domain(0, 0);
  CHECK_EQ(smr_domain_fence_mode(d), process_mode);
  smr_domain *s = domain(SMR_DOMAIN_SYMMETRIC, 0);
  CHECK_EQ(smr_domain_fence_mode(s), SMR_FENCE_SYMMETRIC);
  smr_domain *n = NULL;
  CHECK_EQ(smr_domain_create(NULL, &n), 0);
  CHECK_EQ(smr_domain_fence_mode(n), process_mode);
  CHECK_EQ(smr_domain_destroy(n), 0);
  CHECK_EQ(smr_domain_destroy(s), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* ---- Argument checks ----------------------------------------------------- */

static void nop_ptr(void *p) {
  (void)p;
}

static void test_bad_args(void) {
  static char sentinel;
  smr_domain *d = (smr_domain *)(void *)&sentinel; /* untouched on error */
  CHECK_EQ(smr_domain_create(NULL, NULL), -EINVAL);
  struct smr_domain_attr bad = {0x4u, 0};
  CHECK_EQ(smr_domain_create(&bad, &d), -EINVAL);
  bad.flags = ~0u;
  CHECK_EQ(smr_domain_create(&bad, &d), -EINVAL);
  bad.flags = SMR_DOMAIN_SYMMETRIC | 0x80000000u;
  CHECK_EQ(smr_domain_create(&bad, &d), -EINVAL);
  /* Flags of the other sets (unique values; SMR_SWAP_MULTI_WRITER once
   * equalled SMR_DOMAIN_SYMMETRIC and was taken for it). */
  unsigned foreign[] = {SMR_SWAP_MULTI_WRITER, SMR_SWAP_SYMMETRIC,
                        SMR_CHANNEL_DURABLE, SMR_CHANNEL_VERIFY};
  for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
    bad.flags = foreign[i];
    CHECK_EQ(smr_domain_create(&bad, &d), -EINVAL);
  }
  CHECK(d == (smr_domain *)(void *)&sentinel);
  CHECK_EQ(smr_domain_destroy(NULL), 0); /* free-like */
  CHECK_EQ(smr_domain_fence_mode(NULL), -EINVAL);
  CHECK_EQ(smr_domain_set_threshold(NULL, 5), -EINVAL);

  d = domain(0, SIZE_MAX);
  CHECK_EQ(smr_domain_set_threshold(d, 0), -EINVAL);
  smr_reader *r = NULL;
  CHECK_EQ(smr_reader_register(NULL, &r), -EINVAL);
  CHECK(r == NULL);
  CHECK_EQ(smr_reader_register(d, NULL), -EINVAL);
  CHECK_EQ(smr_reader_unregister(NULL), 0);

  struct obj o;
  obj_init(&o, d);
  CHECK_EQ(smr_retire(NULL, &o.h, obj_cb), -EINVAL);
  CHECK_EQ(smr_retire(d, NULL, obj_cb), -EINVAL);
  CHECK_EQ(smr_retire(d, &o.h, NULL), -EINVAL);
  int x;
  CHECK_EQ(smr_retire_ptr(NULL, &x, nop_ptr), -EINVAL);
  CHECK_EQ(smr_retire_ptr(d, &x, NULL), -EINVAL);
  CHECK_EQ(smr_garbage_count(d), 0);

  CHECK_EQ(smr_synchronize(NULL), -EINVAL);
  CHECK_EQ(smr_barrier(NULL), -EINVAL);
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(NULL, &ck), -EINVAL);
  CHECK_EQ(smr_poll_start(d, NULL), -EINVAL);
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(NULL, ck), -EINVAL);
  CHECK_EQ(smr_collect(NULL), -EINVAL);
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(o.reclaimed, 0); /* never retired */
}

/* ---- Reader records ------------------------------------------------------ */

/* The documented layout of ctr: depth in bits 0..15, the symmetric flag,
 * and a sequence number bumped by every outermost enter only. */
static void test_reader_word(unsigned flags) {
  smr_domain *d = domain(flags, 0);
  int sym = smr_domain_fence_mode(d) == SMR_FENCE_SYMMETRIC;
  CHECK_EQ(sym, (flags & SMR_DOMAIN_SYMMETRIC) ||
                    process_mode == SMR_FENCE_SYMMETRIC);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  uint64_t c0 = ctr_of(r);
  CHECK_EQ((c0 & SMR__READER_SYMMETRIC) != 0, sym);
  CHECK_EQ(c0 & SMR__READER_NEST_MASK, 0);
  CHECK(!smr_in_section(r));

  smr_enter(r);
  CHECK(smr_in_section(r));
  uint64_t c1 = ctr_of(r);
  CHECK_EQ(c1 & SMR__READER_NEST_MASK, 1);
  CHECK_EQ(c1 & ~SMR__READER_NEST_MASK,
           (c0 & ~SMR__READER_NEST_MASK) + SMR__READER_SEQ_ONE);
  smr_enter(r);
  smr_enter(r);
  uint64_t c3 = ctr_of(r);
  CHECK_EQ(c3 & SMR__READER_NEST_MASK, 3);
  CHECK_EQ(c3 & ~SMR__READER_NEST_MASK, c1 & ~SMR__READER_NEST_MASK);
  smr_leave(r);
  smr_leave(r);
  CHECK(smr_in_section(r));
  smr_leave(r);
  CHECK(!smr_in_section(r));
  CHECK_EQ(ctr_of(r), c1 - 1);
  smr_enter(r);
  CHECK_EQ(ctr_of(r), c1 + SMR__READER_SEQ_ONE);
  smr_leave(r);

  /* Several records per thread, and in two domains at once. */
  smr_domain *e = domain(flags ^ SMR_DOMAIN_SYMMETRIC, 0);
  smr_reader *r2, *re;
  CHECK_EQ(smr_reader_register(d, &r2), 0);
  CHECK_EQ(smr_reader_register(e, &re), 0);
  CHECK(r2 != r && re != r && re != r2);
  smr_enter(r2);
  CHECK(smr_in_section(r2));
  CHECK(!smr_in_section(r));
  CHECK(!smr_in_section(re));
  smr_leave(r2);

  /* Unregister: -EBUSY inside a section (also nested), then fine.  r2 is
   * in the middle of this thread's list of records (re, r2, r or any
   * order): the others must keep working after it is unlinked. */
  smr_enter(r2);
  CHECK_EQ(smr_reader_unregister(r2), -EBUSY);
  smr_enter(r2);
  smr_leave(r2);
  CHECK_EQ(smr_reader_unregister(r2), -EBUSY);
  smr_leave(r2);
  CHECK_EQ(smr_reader_unregister(r2), 0);
  smr_enter(r);
  smr_enter(re);
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  CHECK_EQ(smr_synchronize(e), -EDEADLK);
  smr_leave(r);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_synchronize(e), -EDEADLK);
  smr_leave(re);
  CHECK_EQ(smr_synchronize(e), 0);
  CHECK_EQ(smr_reader_unregister(re), 0);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(e), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* -EPERM: only the owning thread may unregister a record. */
static void test_unregister_owner(unsigned flags) {
  smr_domain *d = domain(flags, 0);
  struct puppet p;
  puppet_start(&p);
  CHECK_EQ(puppet_do(&p, CMD_REGISTER, d, NULL), 0);
  smr_reader *mine;
  CHECK_EQ(smr_reader_register(d, &mine), 0);
  CHECK_EQ(smr_reader_unregister(p.r), -EPERM);
  CHECK_EQ(puppet_do(&p, CMD_UNREG_ARG, NULL, mine), -EPERM);
  /* Both records still work and still block destruction. */
  CHECK_EQ(smr_domain_destroy(d), -EBUSY);
  CHECK_EQ(puppet_do(&p, CMD_ENTER, NULL, NULL), 0);
  CHECK_EQ(puppet_do(&p, CMD_UNREGISTER, NULL, NULL), -EBUSY);
  CHECK_EQ(puppet_do(&p, CMD_LEAVE, NULL, NULL), 0);
  CHECK_EQ(puppet_do(&p, CMD_UNREGISTER, NULL, NULL), 0);
  CHECK_EQ(smr_domain_destroy(d), -EBUSY); /* mine */
  CHECK_EQ(smr_reader_unregister(mine), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  puppet_stop(&p);
}

/* ---- Hand-stepped grace periods ------------------------------------------ */

/* A blocks X; B enters after X's grace period started and must not hold X
 * once A's section is over; an object retired while B is inside waits for
 * B.  `pa`, `pb`: puppets owning A and B, or NULL for records of this
 * thread.  A third record of this thread stays idle throughout. */
static void test_poll_steps(unsigned flags, struct puppet *pa,
                            struct puppet *pb) {
  smr_domain *d = domain(flags, SIZE_MAX);
  struct rd a, b, idle;
  rd_register(&a, d, pa);
  rd_register(&b, d, pb);
  rd_register(&idle, d, NULL);
  struct obj x, y;
  obj_init(&x, d);
  obj_init(&y, d);
  n_reclaimed = 0;

  struct smr_fence_info f0, f1;
  CHECK_EQ(smr_fence_init(&f0), 0);

  rd_enter(&a);
  retire(d, &x);
  CHECK_EQ(smr_garbage_count(d), 1);
  smr_cookie c1;
  CHECK_EQ(smr_poll_start(d, &c1), 0);
  CHECK_EQ(smr_poll(d, c1), -EAGAIN); /* starts the grace period, A inside */
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(smr_poll(d, c1), -EAGAIN);
  CHECK_EQ(x.reclaimed, 0);
  CHECK_EQ(smr_garbage_count(d), 1);

  /* A grace period started with a record of another thread registered
   * needs the writer-side barrier (membarrier in asymmetric domains). */
  CHECK_EQ(smr_fence_init(&f1), 0);
  if ((pa || pb) && smr_domain_fence_mode(d) == SMR_FENCE_ASYMMETRIC)
    CHECK(f1.heavy_barriers > f0.heavy_barriers);

  /* B enters after the retire and after the grace period started; then Y
   * is retired while B is inside. */
  rd_enter(&b);
  CHECK_EQ(smr_poll(d, c1), -EAGAIN);
  retire(d, &y);
  CHECK_EQ(smr_garbage_count(d), 2);
  smr_cookie c2;
  CHECK_EQ(smr_poll_start(d, &c2), 0);
  CHECK_EQ(smr_poll(d, c2), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);

  /* A leaves and re-enters at once: its new section has a new sequence
   * number, so it no longer holds X back (no writer starvation), and B,
   * still inside, never did. */
  rd_leave(&a);
  rd_enter(&a);
  CHECK_EQ(smr_poll(d, c1), 0);
  CHECK_EQ(x.reclaimed, 1);
  CHECK_EQ(n_reclaimed, 1);
  CHECK_EQ(smr_garbage_count(d), 1);
  /* Y was retired inside B's section: B may hold it. */
  CHECK_EQ(smr_poll(d, c2), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(y.reclaimed, 0);
  CHECK_EQ(smr_poll(d, c1), 0); /* a completed cookie stays completed */

  rd_leave(&b);
  /* A's current section began after Y was retired but possibly before
   * Y's grace period started, so only now, with A out too, is Y certain. */
  rd_leave(&a);
  CHECK_EQ(smr_poll(d, c2), 0);
  CHECK_EQ(y.reclaimed, 1);
  CHECK_EQ(n_reclaimed, 2);
  CHECK_EQ(smr_garbage_count(d), 0);
  CHECK_EQ(smr_collect(d), 0);

  /* smr_poll returns 0 exactly when the blocking section ends. */
  struct obj z;
  obj_init(&z, d);
  rd_enter(&b);
  retire(d, &z);
  smr_cookie c3;
  CHECK_EQ(smr_poll_start(d, &c3), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(smr_poll(d, c3), -EAGAIN);
    CHECK_EQ(smr_collect(d), 0);
  }
  CHECK_EQ(z.reclaimed, 0);
  CHECK_EQ(smr_garbage_count(d), 1);
  rd_leave(&b);
  CHECK_EQ(smr_poll(d, c3), 0);
  CHECK_EQ(z.reclaimed, 1);
  CHECK_EQ(smr_garbage_count(d), 0);

  rd_unregister(&idle);
  rd_unregister(&b);
  rd_unregister(&a);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(n_reclaimed, 3);
}

/* Nested sections protect until the outermost leave. */
static void test_nested(unsigned flags, struct puppet *pa) {
  smr_domain *d = domain(flags, SIZE_MAX);
  struct rd a;
  rd_register(&a, d, pa);
  struct obj x;
  obj_init(&x, d);
  n_reclaimed = 0;

  rd_enter(&a);
  rd_enter(&a);
  rd_enter(&a);
  retire(d, &x);
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  rd_leave(&a);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  rd_enter(&a); /* nested re-entry keeps the old sequence number */
  rd_leave(&a);
  rd_leave(&a);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(smr_garbage_count(d), 1);
  CHECK_EQ(x.reclaimed, 0);
  rd_leave(&a);
  CHECK_EQ(smr_poll(d, ck), 0);
  CHECK_EQ(x.reclaimed, 1);
  CHECK_EQ(smr_garbage_count(d), 0);
  rd_unregister(&a);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* Polling with nothing retired, cookies of finished periods, collect. */
static void test_poll_misc(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  n_reclaimed = 0;
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(d, ck), 0); /* no section open: done without waiting */
  CHECK_EQ(smr_poll(d, ck), 0);

  /* The polling interface needs no retire: a section that began before
   * poll_start holds the cookie back. */
  smr_enter(r);
  CHECK_EQ(smr_poll_start(d, &ck), 0); /* allowed inside a section */
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);
  smr_leave(r);
  CHECK_EQ(smr_poll(d, ck), 0);

  /* A cookie taken before smr_synchronize is complete after it. */
  smr_enter(r);
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  smr_leave(r);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_poll(d, ck), 0);

  /* smr_collect counts exactly; retire inside a section. */
  struct obj o[5];
  smr_enter(r);
  for (int i = 0; i < 5; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_garbage_count(d), 5);
  CHECK_EQ(smr_collect(d), 0);
  CHECK_EQ(smr_collect(d), 0);
  smr_leave(r);
  CHECK_EQ(smr_collect(d), 5);
  CHECK_EQ(smr_garbage_count(d), 0);
  CHECK_EQ(smr_collect(d), 0);
  for (int i = 0; i < 5; i++)
    CHECK_EQ(o[i].reclaimed, 1);

  /* Garbage retired with no section open goes in one collection. */
  for (int i = 0; i < 3; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_collect(d), 3);
  CHECK_EQ(n_reclaimed, 8);

  /* smr_barrier reclaims everything retired before it. */
  for (int i = 0; i < 5; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(smr_garbage_count(d), 0);
  for (int i = 0; i < 5; i++)
    CHECK_EQ(o[i].reclaimed, 1);
  CHECK_EQ(smr_barrier(d), 0); /* nothing retired: still fine */
  CHECK_EQ(smr_synchronize(d), 0);

  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(n_reclaimed, 13);
}

/* smr_retire_ptr: fn(ptr) after the grace period. */
static void *ptr_seen[4];
static int ptr_calls;
static void ptr_cb(void *p) {
  ptr_seen[ptr_calls++] = p;
  free(p);
}

static void test_retire_ptr(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  ptr_calls = 0;
  void *p1 = malloc(16), *p2 = malloc(32);
  CHECK(p1 && p2);
  smr_enter(r);
  CHECK_EQ(smr_retire_ptr(d, p1, ptr_cb), 0);
  CHECK_EQ(smr_garbage_count(d), 1);
  CHECK_EQ(smr_collect(d), 0);
  smr_leave(r);
  CHECK_EQ(smr_retire_ptr(d, p2, ptr_cb), 0);
  CHECK_EQ(smr_garbage_count(d), 2);
  CHECK_EQ(smr_collect(d), 2);
  CHECK_EQ(ptr_calls, 2);
  CHECK(ptr_seen[0] == p1);
  CHECK(ptr_seen[1] == p2);
  CHECK_EQ(smr_garbage_count(d), 0);
  /* Still retired at destroy: reclaimed there. */
  void *p3 = malloc(8);
  CHECK(p3);
  CHECK_EQ(smr_retire_ptr(d, p3, ptr_cb), 0);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(ptr_calls, 3);
  CHECK(ptr_seen[2] == p3);
}

/* Callbacks: retire from a callback, blocking calls from a callback. */
static void test_callbacks(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  n_reclaimed = 0;
  /* A chain of three levels: x's callback retires y, y's retires z. */
  struct obj x, y, z;
  obj_init(&x, d);
  obj_init(&y, d);
  obj_init(&z, d);
  x.chain = &y;
  y.chain = &z;
  x.probe = 1;
  retire(d, &x);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(x.reclaimed, 1);
  CHECK_EQ(x.rc_sync, -EDEADLK);
  CHECK_EQ(x.rc_barrier, -EDEADLK);
  CHECK(x.rc_collect >= 0);
  /* Nothing else can complete a grace period while this thread is busy in
   * the callback, so a cookie taken there cannot be complete. */
  CHECK_EQ(x.rc_poll, -EAGAIN);
  /* One barrier per level of the chain is enough. */
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(y.reclaimed, 1);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(z.reclaimed, 1);
  CHECK_EQ(n_reclaimed, 3);
  CHECK_EQ(smr_garbage_count(d), 0);

  /* The same chain through smr_collect: each level becomes safe. */
  obj_init(&x, d);
  obj_init(&y, d);
  obj_init(&z, d);
  x.chain = &y;
  y.chain = &z;
  retire(d, &x);
  long total = 0;
  for (int i = 0; i < 10 && total < 3; i++) {
    long k = smr_collect(d);
    CHECK(k >= 0);
    total += k;
  }
  CHECK_EQ(total, 3);
  CHECK_EQ(n_reclaimed, 6);
  CHECK_EQ(smr_garbage_count(d), 0);

  /* Callbacks run at destroy may retire too; all of it is reclaimed. */
  struct obj u, v, w;
  obj_init(&u, d);
  obj_init(&v, d);
  obj_init(&w, d);
  u.chain = &v;
  u.probe = 1;
  retire(d, &u);
  retire(d, &w);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(u.reclaimed, 1);
  CHECK_EQ(v.reclaimed, 1);
  CHECK_EQ(w.reclaimed, 1);
  CHECK_EQ(u.rc_sync, -EDEADLK);
  CHECK_EQ(u.rc_barrier, -EDEADLK);
  CHECK_EQ(n_reclaimed, 9);
}

/* Starting a grace period takes the retired objects as they are: it does
 * not walk them (it used to reverse and tag every one, under gp_lock,
 * cold in cache: with millions retired per second each step took longer,
 * each batch grew bigger, and the garbage grew without bound).  The `gp`
 * field, which the walk wrote, is left as the caller set it. */
static void test_no_walk(unsigned flags) {
  enum { N = 1000 };
  const uint64_t sentinel = 0x5eedf00du;
  smr_domain *d = domain(flags, SIZE_MAX);
  smr_reader *r = NULL;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  struct obj *o = calloc(N, sizeof *o);
  CHECK(o != NULL);
  n_reclaimed = 0;
  smr_enter(r);
  for (int i = 0; i < N; i++) {
    obj_init(&o[i], d);
    o[i].h.gp = sentinel;
    retire(d, &o[i]);
  }
  /* Starts the grace period (splicing the N objects), which cannot
   * complete: our own section was snapshotted. */
  CHECK_EQ(smr_collect(d), 0);
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  for (int i = 0; i < N; i++)
    CHECK_EQ(o[i].h.gp, sentinel);
  CHECK_EQ(n_reclaimed, 0);
  smr_leave(r);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(n_reclaimed, N);
  for (int i = 0; i < N; i++)
    CHECK_EQ(o[i].reclaimed, 1);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  free(o);
}

/* Threshold-triggered automatic collection in smr_retire. */
static void test_threshold(unsigned flags) {
  enum { N = 200 };
  static struct obj o[N];
  /* Default threshold (0 in the attribute): 64. */
  smr_domain *d = domain(flags, 0);
  n_reclaimed = 0;
  for (int i = 0; i < 64; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_garbage_count(d), 64);
  CHECK_EQ(n_reclaimed, 0);
  obj_init(&o[64], d);
  retire(d, &o[64]); /* exceeds the threshold, no reader: all collected */
  CHECK_EQ(smr_garbage_count(d), 0);
  CHECK_EQ(n_reclaimed, 65);

  /* A smaller threshold. */
  CHECK_EQ(smr_domain_set_threshold(d, 3), 0);
  for (int i = 0; i < 3; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_garbage_count(d), 3);
  obj_init(&o[3], d);
  retire(d, &o[3]);
  CHECK_EQ(smr_garbage_count(d), 0);
  CHECK_EQ(n_reclaimed, 69);

  /* With a reader inside nothing is reclaimed automatically; after it
   * leaves, the next retire over the threshold reclaims all of it. */
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  smr_enter(r);
  for (int i = 0; i < 10; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
    CHECK_EQ(smr_garbage_count(d), i + 1);
  }
  CHECK_EQ(n_reclaimed, 69);
  smr_leave(r);
  obj_init(&o[10], d);
  retire(d, &o[10]);
  CHECK_EQ(smr_garbage_count(d), 0);
  CHECK_EQ(n_reclaimed, 80);

  /* SIZE_MAX: never automatically. */
  CHECK_EQ(smr_domain_set_threshold(d, SIZE_MAX), 0);
  for (int i = 0; i < N; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
  }
  CHECK_EQ(smr_garbage_count(d), N);
  CHECK_EQ(n_reclaimed, 80);
  CHECK_EQ(smr_collect(d), N);
  CHECK_EQ(n_reclaimed, 80 + N);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);

  /* The threshold from the attribute. */
  d = domain(flags, 2);
  for (int i = 0; i < 3; i++) {
    obj_init(&o[i], d);
    retire(d, &o[i]);
    CHECK_EQ(smr_garbage_count(d), i < 2 ? i + 1 : 0);
  }
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(n_reclaimed, 83 + N);
}

/* -EDEADLK inside the caller's own section, not in another domain's. */
static void test_deadlock(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  smr_domain *e = domain(flags, SIZE_MAX);
  smr_reader *r1, *r2, *re;
  CHECK_EQ(smr_reader_register(d, &r1), 0);
  CHECK_EQ(smr_reader_register(d, &r2), 0);
  CHECK_EQ(smr_reader_register(e, &re), 0);
  n_reclaimed = 0;
  struct obj x;
  obj_init(&x, d);

  smr_enter(r1);
  retire(d, &x);
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  CHECK_EQ(smr_barrier(d), -EDEADLK);
  /* Inside d's section, e is not blocked by us. */
  struct obj ex;
  obj_init(&ex, e);
  retire(e, &ex);
  CHECK_EQ(smr_synchronize(e), 0);
  CHECK_EQ(smr_barrier(e), 0);
  CHECK_EQ(ex.reclaimed, 1);
  smr_leave(r1);

  /* Through the second record, nested. */
  smr_enter(r2);
  smr_enter(r2);
  CHECK_EQ(smr_synchronize(d), -EDEADLK);
  smr_leave(r2);
  CHECK_EQ(smr_barrier(d), -EDEADLK);
  smr_leave(r2);
  CHECK_EQ(x.reclaimed, 0);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(x.reclaimed, 1);
  CHECK_EQ(smr_synchronize(d), 0);

  /* A section of e does not make d's calls fail. */
  smr_enter(re);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_synchronize(e), -EDEADLK);
  smr_leave(re);

  CHECK_EQ(smr_reader_unregister(r1), 0);
  CHECK_EQ(smr_reader_unregister(r2), 0);
  CHECK_EQ(smr_reader_unregister(re), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(smr_domain_destroy(e), 0);
}

/* Destroy: -EBUSY while a live thread has a record (nothing changes), then
 * reclaims everything; records of exited threads do not block it. */
static void test_destroy(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  n_reclaimed = 0;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  struct obj o[4];
  for (int i = 0; i < 4; i++)
    obj_init(&o[i], d);
  o[0].chain = &o[1];
  retire(d, &o[0]);
  retire(d, &o[2]);
  CHECK_EQ(smr_domain_destroy(d), -EBUSY);
  CHECK_EQ(n_reclaimed, 0);
  CHECK_EQ(smr_garbage_count(d), 2);
  /* Still fully usable. */
  smr_enter(r);
  retire(d, &o[3]);
  CHECK_EQ(smr_collect(d), 0);
  smr_leave(r);
  CHECK_EQ(smr_reader_unregister(r), 0);

  /* A live puppet's record blocks destruction; once the puppet exits
   * without unregistering (inside a section, even), it no longer does. */
  struct puppet p1, p2;
  puppet_start(&p1);
  puppet_start(&p2);
  CHECK_EQ(puppet_do(&p1, CMD_REGISTER, d, NULL), 0);
  CHECK_EQ(puppet_do(&p2, CMD_REGISTER, d, NULL), 0);
  CHECK_EQ(puppet_do(&p1, CMD_ENTER, NULL, NULL), 0);
  CHECK_EQ(smr_domain_destroy(d), -EBUSY);
  puppet_stop(&p1);
  CHECK_EQ(smr_domain_destroy(d), -EBUSY); /* p2 */
  CHECK_EQ(n_reclaimed, 0);
  puppet_stop(&p2);
  CHECK_EQ(smr_domain_destroy(d), 0);
  CHECK_EQ(n_reclaimed, 4);
  for (int i = 0; i < 4; i++)
    CHECK_EQ(o[i].reclaimed, 1);
}

/* A puppet exiting inside a section while a grace period waits for it. */
static void test_exit_inside(unsigned flags) {
  smr_domain *d = domain(flags, SIZE_MAX);
  n_reclaimed = 0;
  struct puppet p;
  puppet_start(&p);
  CHECK_EQ(puppet_do(&p, CMD_REGISTER, d, NULL), 0);
  CHECK_EQ(puppet_do(&p, CMD_ENTER, NULL, NULL), 0);
  struct obj x;
  obj_init(&x, d);
  retire(d, &x);
  smr_cookie ck;
  CHECK_EQ(smr_poll_start(d, &ck), 0);
  CHECK_EQ(smr_poll(d, ck), -EAGAIN);
  CHECK_EQ(smr_collect(d), 0);
  puppet_stop(&p); /* thread exit marks the record dead */
  CHECK_EQ(smr_poll(d, ck), 0);
  CHECK_EQ(x.reclaimed, 1);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* Early collection keeps pace with a writer that retires big objects every
 * few milliseconds while a reader is inside a section at every retire (issue
 * 10, C.19: the reader of an oversubscribed machine, descheduled in a
 * section each time the writer looks).  The reader moves on to a new section
 * between retires, so each grace period can end by the next retire: the
 * domain must hold no more than the object just retired and the one before.
 * (The old rule tried only at garbage counts 2, 4, 8, ...: each try met the
 * reader and garbage grew toward the threshold.)  The retires are paced
 * PACE_MS apart, the writer's rate in this workload, not a synchronisation:
 * early steps need 20 barrier costs of time since the last step, and the
 * cost estimate (20 us at first) grows by at most 1/16 plus 62 ns per
 * barrier, so it stays below 100 us over these retires whatever the load. */
enum { PACE_MS = 10, PACE_N = 24 };

/* Wait until PACE_MS have passed since *since (the end of the previous
 * retire, so also of its collection step). */
static void pace(const struct timespec *since) {
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - since->tv_sec) * 1000 +
              (now.tv_nsec - since->tv_nsec) / 1000000;
    if (ms >= PACE_MS)
      return;
    struct timespec ts = {0, (PACE_MS - ms) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static void test_early_pace(unsigned flags) {
  struct smr_domain_attr a = {flags, 0}; /* default threshold, early rule */
  smr_domain *d;
  CHECK_EQ(smr_domain_create(&a, &d), 0);
  n_reclaimed = 0;
  struct puppet p;
  puppet_start(&p);
  CHECK_EQ(puppet_do(&p, CMD_REGISTER, d, NULL), 0);
  CHECK_EQ(puppet_do(&p, CMD_ENTER, NULL, NULL), 0);
  static struct obj o[PACE_N];
  struct timespec last;
  clock_gettime(CLOCK_MONOTONIC, &last);
  for (int i = 0; i < PACE_N; i++) {
    pace(&last);
    if (i > 0) { /* a new section since the last retire */
      CHECK_EQ(puppet_do(&p, CMD_LEAVE, NULL, NULL), 0);
      CHECK_EQ(puppet_do(&p, CMD_ENTER, NULL, NULL), 0);
    }
    obj_init(&o[i], d);
    retire(d, &o[i]);
    clock_gettime(CLOCK_MONOTONIC, &last);
    CHECK(smr_garbage_count(d) <= 2);
    CHECK(n_reclaimed >= i - 1);
  }
  CHECK_EQ(puppet_do(&p, CMD_LEAVE, NULL, NULL), 0);
  CHECK_EQ(puppet_do(&p, CMD_UNREGISTER, NULL, NULL), 0);
  puppet_stop(&p);
  CHECK_EQ(smr_barrier(d), 0);
  CHECK_EQ(n_reclaimed, PACE_N);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

int main(void) {
  test_fence_info();
  test_bad_args();
  const unsigned modes[2] = {0, SMR_DOMAIN_SYMMETRIC};
  for (int m = 0; m < 2; m++) {
    unsigned f = modes[m];
    test_reader_word(f);
    test_unregister_owner(f);
    struct puppet pa, pb;
    puppet_start(&pa);
    puppet_start(&pb);
    test_poll_steps(f, NULL, NULL);
    test_poll_steps(f, &pa, NULL);
    test_poll_steps(f, NULL, &pb);
    test_poll_steps(f, &pa, &pb);
    test_nested(f, NULL);
    test_nested(f, &pa);
    puppet_stop(&pb);
    puppet_stop(&pa);
    test_poll_misc(f);
    test_retire_ptr(f);
    test_callbacks(f);
    test_no_walk(f);
    test_threshold(f);
    test_deadlock(f);
    test_destroy(f);
    test_exit_inside(f);
    test_early_pace(f);
  }
  return 0;
}
