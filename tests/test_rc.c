/* SPDX-License-Identifier: MIT */
/* Reference counting (smr/rc.h), one thread at a time or with helper
 * threads stepped by the main thread (no sleeps, no timing), exact counts
 * through the test hooks (src/test_hooks.h) and smr_rc_stats.  One part per
 * ctest entry (`test_rc <part>`; no argument: every part):
 *  args            every int-returning call's argument errors, bad flags
 *                  and alignments, null and tagged-null arguments
 *  handles         two handles on one thread, -EPERM from another thread,
 *                  -EBUSY in a section, pending objects of an unregistered
 *                  handle and of a thread that exits registered are
 *                  adopted and destroyed, statistics of gone handles
 *  counts          new / clone / release with the exact strong and weak
 *                  counts and statistics after each step, alignments and
 *                  zeroed payloads, smr_rc_collect's return value
 *  atomic          load / store / swap / cas (a failure leaves the desired
 *                  reference counted and hands back the current value) /
 *                  cas_snap / cas_tag / take / init, the FFI twins
 *  tags            a tag through every pointer kind and operation
 *  weak            downgrade, weak clone, upgrades while alive; after the
 *                  destruction upgrades fail, the memory stays (not freed,
 *                  readable) until the last weak reference and a grace
 *                  period; counting a destroyed object fails cleanly;
 *                  atomic weak locations
 *  limits          strong and weak counts at their limits: every increment
 *                  fails with -EOVERFLOW, nothing changes, nothing wraps
 *  resurrect       counting a snapshot of an object whose count is zero
 *                  and whose destruction is pending (own section, another
 *                  thread's section, smr_arc_cas_snap): kept, then
 *                  destroyed exactly once; weak upgrades refuse it
 *  section_child   a child whose parent is destroyed while another section
 *                  holds a snapshot of the child (through a location, a
 *                  released counted reference, a weak upgrade) is not
 *                  destroyed at once (and can still be counted); also
 *                  after 300 grace periods (stamps wrapped once)
 *  callbacks       drop and edges run once, with the destroying handle;
 *                  barrier / collect / unregister refused inside them;
 *                  children released in drop wait a grace period each
 *  graph           3 types, shared children, diamonds, weak back links:
 *                  every node destroyed exactly once, never while a parent
 *                  or the test still holds it; immediate and deferred
 *                  counts (also on an SMR_RC_DEFERRED domain)
 *  chain           a 10,000,000-node chain (SMR_RC_CHAIN) released on a
 *                  thread with a 256 KiB stack: destroyed within two grace
 *                  periods of its release, one deferred object
 *  chain_deferred  a 100,000-node chain (SMR_RC_DEFERRED_CHAIN) on an
 *                  SMR_RC_DEFERRED domain: at least one grace period per
 *                  link, no immediate destruction
 *  destroy         domain destroy: -EBUSY with live handles (own thread,
 *                  another thread), reaps a thread that exited registered,
 *                  destroys pending objects with a handle that has a reader,
 *                  -EDEADLK inside a section of a given smr_domain (and
 *                  succeeds after the section), the given domain stays
 *  ring            batch 1 under a blocked grace period: sealed lists
 *                  beyond the ring's 32, a full ring orphaned and adopted
 *                  into another full ring, all destroyed exactly once.
 *  stale_stamp     section_child after 130 grace periods (the first version
 *                  destroyed the child while the section held it)
 *  shared_children a diamond and a ladder: children shared by two dying
 *                  parents go at once (the first version deferred them)
 *  weak_edge       weak references handed to a destruction: the last
 *                  one frees the memory at once, unless a section may
 *                  hold a weak snapshot (a holder's release, a store into
 *                  an atomic weak location: the memory waits for it)
 * Grace periods are counted with smr__epoch_completed (src/epoch_internal.h,
 * available to HOOKS tests). */
/* Memory orders: the helper threads' command handshake uses seq_cst on its
 * two counters (the total order keeps the reasoning simple); the test's
 * counters are seq_cst atomics.  Object payloads are plain fields: what
 * orders them is what the library promises (a race there is a bug TSAN
 * should report). */
#define _GNU_SOURCE
#include "check.h"
#include "epoch_internal.h"
#include "smr/rc.h"
#include "test_hooks.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIVE  0x4c4956454f424a31ull /* "LIVEOBJ1" */
#define DEAD  0xdeadbeefdeadbeefull
#define S_LIM ((1u << 27) - 1) /* strong count limit (smr/rc.h) */
#define W_LIM ((1u << 24) - 1) /* weak count limit */

/* ---- Helpers ------------------------------------------------------------ */

static smr_rc_domain *make(unsigned flags, unsigned batch) {
  struct smr_rc_domain_attr a = {.flags = flags, .batch = batch};
  smr_rc_domain *rd = NULL;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), 0);
  CHECK(rd != NULL);
  return rd;
}

static smr_rc_handle *reg(smr_rc_domain *rd) {
  smr_rc_handle *h = NULL;
  CHECK_EQ(smr_rc_handle_register(rd, &h), 0);
  CHECK(h != NULL && h->reader != NULL);
  return h;
}

static struct smr_rc_stats stats(smr_rc_domain *rd) {
  struct smr_rc_stats st;
  memset(&st, 0xff, sizeof st);
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  return st;
}

#define CHECK_STATS(rd, cr, de, fr, df, im, pe)                                \
  do {                                                                         \
    struct smr_rc_stats st_ = stats(rd);                                       \
    CHECK_EQ(st_.created, cr);                                                 \
    CHECK_EQ(st_.destroyed, de);                                               \
    CHECK_EQ(st_.freed, fr);                                                   \
    CHECK_EQ(st_.deferred, df);                                                \
    CHECK_EQ(st_.immediate, im);                                               \
    CHECK_EQ(st_.pending, pe);                                                 \
  } while (0)

#define CHECK_COUNTS(ptr, s, w, d)                                             \
  do {                                                                         \
    struct smr__rc_counts c_ = smr__rc_test_counts(ptr);                       \
    CHECK_EQ(c_.strong, s);                                                    \
    CHECK_EQ(c_.weak, w);                                                      \
    CHECK_EQ(c_.destroyed, d);                                                 \
  } while (0)

/* Grace periods the domain of rd has completed so far. */
static uint64_t gps(smr_rc_domain *rd) {
  return smr__epoch_completed(smr_rc_domain_epoch(rd));
}

/* The test object: a strong child, a weak child, an id whose drops are
 * counted (each must be dropped exactly once). */
struct obj {
  uint64_t magic; /* LIVE until drop */
  uint64_t value;
  uint32_t id;
  smr_atomic_rc child;
  smr_atomic_weak wchild;
};

#define MAX_OBJ 4096
static _Atomic int g_drop[MAX_OBJ];
static _Atomic unsigned g_ids;

static void obj_edges(void *p, smr_rc_edges *out) {
  struct obj *o = p;
  CHECK(o->magic == LIVE);
  smr_rc_edges_take(out, &o->child);
  smr_weak w = smr_aweak_take(&o->wchild);
  smr_weak_release(smr_rc_edges_handle(out), &w);
}

static void obj_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct obj *o = p;
  CHECK(o->magic == LIVE);
  o->magic = DEAD;
  CHECK_EQ(atomic_fetch_add(&g_drop[o->id], 1), 0);
}

static const smr_rc_type obj_type = {"obj", 0, obj_drop, obj_edges};

static smr_rc obj_new(smr_rc_handle *h, uint64_t value) {
  unsigned id = atomic_fetch_add(&g_ids, 1);
  CHECK(id < MAX_OBJ);
  smr_rc r = {7}; /* not null: smr_rc_new must set it */
  CHECK_EQ(smr_rc_new(h, &obj_type, sizeof(struct obj), &r), 0);
  CHECK(!smr_rc_is_null(r));
  CHECK_EQ(smr_rc_tag(r), 0);
  struct obj *o = smr_rc_ptr(r);
  CHECK(o->magic == 0 && o->value == 0 && o->id == 0);
  CHECK(smr_snap_is_null(smr_arc_load(&o->child)));
  o->magic = LIVE;
  o->value = value;
  o->id = id;
  return r;
}

static struct obj *O(uintptr_t p) {
  return (struct obj *)(p & ~SMR_RC_TAG_MASK);
}

static int drops_id(unsigned id) {
  return atomic_load(&g_drop[id]);
}

static void loc_init(smr_atomic_rc *a) {
  smr_rc n = SMR_RC_NULL;
  smr_arc_init(a, &n);
}

static void wloc_init(smr_atomic_weak *a) {
  smr_weak n = {0};
  smr_aweak_init(a, &n);
}

static smr_rc rc_clone(smr_rc r) {
  smr_rc c = {1};
  CHECK_EQ(smr_rc_clone(r, &c), 0);
  CHECK_EQ(c.p, r.p);
  return c;
}

/* ---- Helper threads stepped by the main thread ---------------------------
 * The main thread posts a function and waits until the helper has run it:
 * each step happens before the main thread's next action and after its
 * previous one, so every interleaving below is fixed. */
struct puppet {
  pthread_t t;
  _Atomic unsigned seq, done;
  void (*fn)(struct puppet *);
  int quit; /* set by a step: the thread returns after it */
  smr_rc_domain *rd;
  smr_rc_handle *h;
  smr_atomic_rc *loc;
  smr_atomic_weak *wloc;
  smr_snap s;
  smr_rc rc;
  smr_weak w;
  smr_weak_snap ws;
  int err;
};

static void *puppet_main(void *arg) {
  struct puppet *p = arg;
  unsigned seen = 0;
  for (;;) {
    unsigned s;
    while ((s = atomic_load(&p->seq)) == seen)
      sched_yield();
    seen = s;
    p->fn(p);
    int quit = p->quit;
    atomic_store(&p->done, s);
    if (quit)
      return NULL;
  }
}

static void puppet_start(struct puppet *p, smr_rc_domain *rd) {
  memset(p, 0, sizeof *p);
  atomic_init(&p->seq, 0);
  atomic_init(&p->done, 0);
  p->rd = rd;
  CHECK_EQ(pthread_create(&p->t, NULL, puppet_main, p), 0);
}

static void puppet_do(struct puppet *p, void (*fn)(struct puppet *)) {
  p->fn = fn;
  unsigned s = atomic_load(&p->seq) + 1;
  atomic_store(&p->seq, s);
  while (atomic_load(&p->done) != s)
    sched_yield();
}

static void pp_quit(struct puppet *p) {
  p->quit = 1;
}
static void pp_register(struct puppet *p) {
  p->h = reg(p->rd);
}
static void pp_unregister(struct puppet *p) {
  CHECK_EQ(smr_rc_handle_unregister(p->h), 0);
  p->h = NULL;
}
static void pp_enter(struct puppet *p) {
  smr_rc_enter(p->h);
}
static void pp_leave(struct puppet *p) {
  smr_rc_leave(p->h);
}
static void pp_load(struct puppet *p) {
  p->s = smr_arc_load(p->loc);
}
static void pp_wupgrade(struct puppet *p) {
  p->err = smr_weak_snap_upgrade(p->h, smr_aweak_load(p->wloc), &p->s);
}
/* The snapshot of the counted reference it holds, then release it. */
static void pp_snap_release(struct puppet *p) {
  p->s = smr_rc_snapshot(p->rc);
  smr_rc_release(p->h, &p->rc);
}
static void pp_wload(struct puppet *p) {
  p->ws = smr_aweak_load(p->wloc);
}
/* The weak snapshot of the weak reference it holds, then release it (its
 * holder's release). */
static void pp_wsnap_release(struct puppet *p) {
  p->ws = smr_weak_snapshot(p->w);
  smr_weak_release(p->h, &p->w);
}
/* Upgrade the weak snapshot of a destroyed object: reads its count word,
 * which must still be there (AddressSanitizer sees a use after free). */
static void pp_wsnap_upgrade(struct puppet *p) {
  p->err = smr_weak_snap_upgrade(p->h, p->ws, &p->s);
}
static void pp_count(struct puppet *p) {
  p->err = smr_snap_counted(p->s, &p->rc);
}
static void pp_release(struct puppet *p) {
  smr_rc_release(p->h, &p->rc);
}
static void pp_check_live(struct puppet *p) {
  CHECK(O(p->s.p)->magic == LIVE);
  CHECK(!smr__rc_test_counts(O(p->s.p)).destroyed);
}
static void pp_barrier(struct puppet *p) {
  CHECK_EQ(smr_rc_barrier(p->h), 0);
}
static void pp_unregister_other(struct puppet *p) {
  p->err = smr_rc_handle_unregister(p->h); /* p->h: not this thread's */
}

static void puppet_stop(struct puppet *p) {
  puppet_do(p, pp_quit);
  CHECK_EQ(pthread_join(p->t, NULL), 0);
}

/* Thread exits with its handle registered (after the given step). */
static void pp_quit_registered(struct puppet *p) {
  p->quit = 1;
}

/* Drive h until fn(arg) holds: smr_rc_collect (never waits), at most `max`
 * polls.  For a grace period that other sections do not block any more. */
static void collect_until(smr_rc_handle *h, bool (*fn)(void *), void *arg) {
  for (long i = 0; !fn(arg); i++) {
    CHECK(i < 10000000);
    CHECK(smr_rc_collect(h) >= 0);
    if (i > 100)
      sched_yield();
  }
}

static bool dropped_once(void *arg) {
  return drops_id(*(unsigned *)arg) == 1;
}

/* ---- args ---------------------------------------------------------------- */

static void test_args(void) {
  smr_rc_domain *rd = NULL;
  struct smr_rc_domain_attr a = {0};
  CHECK_EQ(smr_rc_domain_create(NULL, NULL), -EINVAL);
  CHECK_EQ(smr_rc_domain_create(&a, NULL), -EINVAL);
  a.flags = 0x1u; /* SMR_DOMAIN_SYMMETRIC: another set's flag */
  CHECK_EQ(smr_rc_domain_create(&a, &rd), -EINVAL);
  a.flags = SMR_RC_DEFERRED << 1;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), -EINVAL);
  a.flags = SMR_RC_DEFERRED | 0x80000000u;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), -EINVAL);
  a.flags = 0;
  a.batch = 65537;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), -EINVAL);
  a.batch = 0xffffffffu;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), -EINVAL);
  CHECK(rd == NULL);
  unsigned ok_batch[] = {1, 65536};
  for (int i = 0; i < 2; i++) {
    a.batch = ok_batch[i];
    a.flags = i ? SMR_RC_DEFERRED : 0;
    CHECK_EQ(smr_rc_domain_create(&a, &rd), 0);
    CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  }
  CHECK_EQ(smr_rc_domain_destroy(NULL), 0);
  CHECK(smr_rc_domain_epoch(NULL) == NULL);

  CHECK_EQ(smr_rc_domain_create(NULL, &rd), 0);
  CHECK(smr_rc_domain_epoch(rd) != NULL);
  smr_rc_handle *h = NULL;
  CHECK_EQ(smr_rc_handle_register(NULL, &h), -EINVAL);
  CHECK_EQ(smr_rc_handle_register(rd, NULL), -EINVAL);
  h = reg(rd);
  CHECK_EQ(smr_rc_handle_unregister(NULL), 0);
  CHECK_EQ(smr_rc_collect(NULL), -EINVAL);
  CHECK_EQ(smr_rc_barrier(NULL), -EINVAL);
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(NULL, &st), -EINVAL);
  CHECK_EQ(smr_rc_stats(rd, NULL), -EINVAL);

  /* smr_rc_new: NULL arguments, bad alignments, sizes too large. */
  smr_rc r = {8};
  CHECK_EQ(smr_rc_new(NULL, &obj_type, 8, &r), -EINVAL);
  CHECK(smr_rc_is_null(r));
  CHECK_EQ(smr_rc_new(h, NULL, 8, &r), -EINVAL);
  CHECK_EQ(smr_rc_new(h, &obj_type, 8, NULL), -EINVAL);
  size_t bad_align[] = {1, 2, 4, 12, 24, 100, 8192, 1u << 20};
  for (size_t i = 0; i < sizeof bad_align / sizeof *bad_align; i++) {
    smr_rc_type t = {"bad", bad_align[i], NULL, NULL};
    r.p = 8;
    CHECK_EQ(smr_rc_new(h, &t, 8, &r), -EINVAL);
    CHECK(smr_rc_is_null(r));
  }
  CHECK_EQ(smr_rc_new(h, &obj_type, SIZE_MAX, &r), -EINVAL);
  CHECK_EQ(smr_rc_new(h, &obj_type, SIZE_MAX / 2, &r), -EINVAL);
  smr_rc_type big = {"big", 4096, NULL, NULL};
  CHECK_EQ(smr_rc_new(h, &big, SIZE_MAX - 4096, &r), -EINVAL);
  CHECK_STATS(rd, 0, 0, 0, 0, 0, 0);

  /* Output pointers. */
  smr_rc o = obj_new(h, 1);
  smr_weak w;
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  CHECK_EQ(smr_rc_clone(o, NULL), -EINVAL);
  CHECK_EQ(smr_snap_counted(smr_rc_snapshot(o), NULL), -EINVAL);
  CHECK_EQ(smr_rc_downgrade(o, NULL), -EINVAL);
  CHECK_EQ(smr_snap_downgrade(smr_rc_snapshot(o), NULL), -EINVAL);
  CHECK_EQ(smr_weak_clone(w, NULL), -EINVAL);
  CHECK_EQ(smr_weak_upgrade(w, NULL), -EINVAL);
  smr_rc_enter(h);
  CHECK_EQ(smr_weak_snap_counted(smr_weak_snapshot(w), NULL), -EINVAL);
  smr_snap s = {5};
  CHECK_EQ(smr_weak_snap_upgrade(NULL, smr_weak_snapshot(w), &s), -EINVAL);
  CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), NULL), -EINVAL);
  smr_rc_leave(h);
  CHECK_COUNTS(O(o.p), 1, 2, false); /* none of the above counted */

  /* Null arguments (a null pointer may carry a tag). */
  smr_rc n = {3};
  smr_rc c = {8};
  CHECK_EQ(smr_rc_clone(n, &c), 0);
  CHECK_EQ(c.p, 3);
  CHECK_EQ(smr_snap_counted((smr_snap){2}, &c), 0);
  CHECK_EQ(c.p, 2);
  smr_weak wn = {8};
  CHECK_EQ(smr_rc_downgrade(n, &wn), 0);
  CHECK_EQ(wn.p, 3);
  CHECK_EQ(smr_weak_clone((smr_weak){0}, &wn), 0);
  CHECK_EQ(wn.p, 0);
  CHECK_EQ(smr_weak_upgrade((smr_weak){1}, &c), -ESTALE);
  CHECK(smr_rc_is_null(c));
  smr_rc_enter(h);
  CHECK_EQ(smr_weak_snap_counted((smr_weak_snap){4}, &wn), 0);
  CHECK_EQ(wn.p, 4);
  CHECK_EQ(smr_weak_snap_upgrade(h, (smr_weak_snap){0}, &s), -ESTALE);
  CHECK(smr_snap_is_null(s));
  smr_rc_leave(h);
  CHECK(smr_rc_type_of((smr_snap){0}) == NULL);
  CHECK(smr_rc_type_of((smr_snap){6}) == NULL);
  CHECK(smr_rc_type_of(smr_rc_snapshot(o)) == &obj_type);
  CHECK(smr_rc_edges_handle(NULL) == NULL);
  smr_rc_release(h, NULL);
  smr_rc_release(h, &n); /* tagged null: nothing, set null */
  CHECK_EQ(n.p, 0);
  smr_weak_release(h, NULL);
  wn.p = 5;
  smr_weak_release(h, &wn);
  CHECK_EQ(wn.p, 0);

  /* Calls refused in a section. */
  smr_rc_enter(h);
  CHECK_EQ(smr_rc_barrier(h), -EDEADLK);
  CHECK_EQ(smr_rc_handle_unregister(h), -EBUSY);
  smr_rc_enter(h); /* nested */
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_handle_unregister(h), -EBUSY);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EBUSY); /* h is registered */

  smr_weak_release(h, &w);
  smr_rc_release(h, &o);
  CHECK(smr_rc_is_null(o));
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- handles ------------------------------------------------------------- */

static void test_handles(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h1 = reg(rd), *h2 = reg(rd);
  CHECK(h1 != h2 && h1->reader != h2->reader);
  /* Both work, and their sections are separate records. */
  smr_rc_enter(h1);
  CHECK(smr_in_section(h1->reader) && !smr_in_section(h2->reader));
  CHECK_EQ(smr_rc_handle_unregister(h1), -EBUSY);

  /* An object released in h2 while h1's section blocks its grace period:
   * h2 unregisters, leaving it to the domain. */
  smr_rc o = obj_new(h2, 1);
  unsigned id = O(o.p)->id;
  smr_rc_release(h2, &o);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 1);
  CHECK_EQ(smr_rc_handle_unregister(h2), 0);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 1); /* counted while orphaned */
  CHECK_EQ(drops_id(id), 0);
  CHECK_EQ(smr_rc_collect(h1), 0); /* adopted; our section blocks it */
  CHECK_EQ(drops_id(id), 0);
  smr_rc_leave(h1);
  CHECK(smr_rc_collect(h1) >= 0);
  CHECK_EQ(smr_rc_barrier(h1), 0);
  CHECK_EQ(drops_id(id), 1);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0); /* h2's counters stay counted */

  /* Another thread cannot unregister our handle. */
  struct puppet p;
  puppet_start(&p, rd);
  p.h = h1;
  puppet_do(&p, pp_unregister_other);
  CHECK_EQ(p.err, -EPERM);

  /* A thread that exits with its handle registered and an object pending
   * (our section keeps it pending): later registrations and collections
   * find it. */
  puppet_do(&p, pp_register);
  smr_rc_enter(h1);
  smr_rc x = obj_new(h1, 2);
  id = O(x.p)->id;
  p.rc = x;
  puppet_do(&p, pp_release);
  puppet_do(&p, pp_quit_registered);
  CHECK_EQ(pthread_join(p.t, NULL), 0);
  CHECK_STATS(rd, 2, 1, 1, 2, 0, 1);
  smr_rc_handle *h3 = reg(rd); /* reaps the gone handle: an orphan now */
  CHECK_STATS(rd, 2, 1, 1, 2, 0, 1);
  CHECK_EQ(drops_id(id), 0);
  smr_rc_leave(h1);
  CHECK(smr_rc_collect(h3) >= 0); /* adopts */
  CHECK_EQ(smr_rc_barrier(h3), 0);
  CHECK_EQ(drops_id(id), 1);
  CHECK_STATS(rd, 2, 2, 2, 2, 0, 0);

  /* Exit registered without anything pending, then collect reaps it. */
  puppet_start(&p, rd);
  puppet_do(&p, pp_register);
  puppet_do(&p, pp_quit_registered);
  CHECK_EQ(pthread_join(p.t, NULL), 0);
  CHECK_EQ(smr_rc_collect(h1), 0);
  CHECK_EQ(smr_rc_handle_unregister(h3), 0);
  CHECK_EQ(smr_rc_handle_unregister(h1), 0);
  CHECK_STATS(rd, 2, 2, 2, 2, 0, 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- counts ------------------------------------------------------------- */

static void test_counts(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  CHECK_STATS(rd, 0, 0, 0, 0, 0, 0);
  smr_rc a = obj_new(h, 42);
  CHECK_EQ((uintptr_t)smr_rc_ptr(a) % 8, 0);
  CHECK_COUNTS(O(a.p), 1, 1, false);
  CHECK_STATS(rd, 1, 0, 0, 0, 0, 0);
  smr_rc b = rc_clone(a);
  CHECK_COUNTS(O(a.p), 2, 1, false);
  smr_rc c = rc_clone(b);
  CHECK_COUNTS(O(a.p), 3, 1, false);

  /* Releases inside a section: nothing can be destroyed before it ends. */
  smr_rc_enter(h);
  smr_rc_release(h, &a);
  CHECK(smr_rc_is_null(a));
  CHECK_COUNTS(O(b.p), 2, 1, false);
  smr_rc_release(h, &c);
  CHECK_COUNTS(O(b.p), 1, 1, false);
  CHECK_STATS(rd, 1, 0, 0, 0, 0, 0);
  smr_snap bs = smr_rc_snapshot(b);
  unsigned id = O(b.p)->id;
  smr_rc_release(h, &b); /* zero: pending */
  CHECK_COUNTS(O(bs.p), 0, 1, false);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 1);
  CHECK_EQ(smr_rc_collect(h), 0); /* our own section holds it */
  CHECK_EQ(drops_id(id), 0);
  CHECK(O(bs.p)->magic == LIVE && O(bs.p)->value == 42);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 1);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0);
  CHECK_EQ(smr_rc_barrier(h), 0); /* nothing pending: returns */

  /* Many objects and a chain of three: smr_rc_collect returns what it
   * destroyed, children included. */
  enum { N = 300 };
  smr_rc many[N];
  for (int i = 0; i < N; i++)
    many[i] = obj_new(h, (uint64_t)i);
  smr_rc c1 = obj_new(h, 1), c2 = obj_new(h, 2), c3 = obj_new(h, 3);
  smr_arc_init(&O(c2.p)->child, &c3);
  smr_arc_init(&O(c1.p)->child, &c2);
  CHECK_STATS(rd, N + 4, 1, 1, 1, 0, 0);
  smr_rc_enter(h);
  for (int i = 0; i < N; i++)
    smr_rc_release(h, &many[i]);
  smr_rc_release(h, &c1);
  CHECK_STATS(rd, N + 4, 1, 1, N + 2, 0, N + 1);
  smr_rc_leave(h);
  long got = 0;
  for (int round = 0; got < N + 3; round++) {
    CHECK(round < 4);
    long k = smr_rc_collect(h);
    CHECK(k >= 0);
    got += k;
    CHECK_EQ(smr_synchronize(smr_rc_domain_epoch(rd)), 0);
  }
  CHECK_EQ(got, N + 3);
  CHECK_STATS(rd, N + 4, N + 4, N + 4, N + 2, 2, 0);

  /* Alignments: payload aligned, zeroed, freed with the right pointer
   * (ASAN checks the last). */
  size_t aligns[] = {0, 8, 16, 32, 64, 128, 4096};
  size_t sizes[] = {0, 1, 24, 100, 5000};
  long made = 0;
  for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++)
    for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++) {
      smr_rc_type t = {"aligned", aligns[i], NULL, NULL};
      smr_rc r;
      CHECK_EQ(smr_rc_new(h, &t, sizes[j], &r), 0);
      size_t al = aligns[i] ? aligns[i] : 8;
      CHECK_EQ((uintptr_t)smr_rc_ptr(r) % al, 0);
      CHECK(smr_rc_type_of(smr_rc_snapshot(r)) == &t);
      unsigned char *pl = smr_rc_ptr(r);
      for (size_t k = 0; k < sizes[j]; k++)
        CHECK_EQ(pl[k], 0);
      memset(pl, 0xa5, sizes[j]);
      CHECK_COUNTS(pl, 1, 1, false);
      smr_rc_release(h, &r);
      made++;
      CHECK_EQ(smr_rc_barrier(h), 0); /* t lives on this stack */
    }
  CHECK_STATS(rd, N + 4 + made, N + 4 + made, N + 4 + made, N + 2 + made, 2, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_STATS(rd, N + 4 + made, N + 4 + made, N + 4 + made, N + 2 + made, 2, 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- atomic ---------------------------------------------------------------
 */

static void test_atomic(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc x = obj_new(h, 1), y = obj_new(h, 2), z = obj_new(h, 3);
  struct obj *X = O(x.p), *Y = O(y.p), *Z = O(z.p);
  smr_atomic_rc loc;
  memset(&loc, 0, sizeof loc); /* all-zero bytes: a null location */
  smr_rc_enter(h);
  CHECK(smr_snap_is_null(smr_arc_load(&loc)));
  smr_rc_leave(h);

  /* init consumes the reference. */
  smr_rc t = rc_clone(x);
  smr_arc_init(&loc, &t);
  CHECK(smr_rc_is_null(t));
  CHECK_COUNTS(X, 2, 1, false);
  smr_rc_enter(h);
  CHECK_EQ(smr_arc_load(&loc).p, x.p);
  CHECK_EQ(smr_arc_load_ffi(&loc).p, x.p);
  smr_rc_leave(h);

  /* store: consumes desired, releases the old reference. */
  t = rc_clone(y);
  smr_arc_store(h, &loc, &t);
  CHECK(smr_rc_is_null(t));
  CHECK_COUNTS(X, 1, 1, false);
  CHECK_COUNTS(Y, 2, 1, false);
  t = rc_clone(y); /* the same object again */
  smr_arc_store(h, &loc, &t);
  CHECK_COUNTS(Y, 2, 1, false);

  /* swap: consumes desired, hands back the old reference, counted. */
  t = rc_clone(z);
  smr_rc old = smr_arc_swap(h, &loc, &t);
  CHECK(smr_rc_is_null(t));
  CHECK_EQ(old.p, y.p);
  CHECK_COUNTS(Y, 2, 1, false);
  CHECK_COUNTS(Z, 2, 1, false);
  smr_rc_release(h, &old);
  CHECK_COUNTS(Y, 1, 1, false);

  /* cas success: consumes desired, releases the old reference. */
  smr_rc_enter(h);
  smr_snap cur = {1};
  t = rc_clone(x);
  CHECK_EQ(smr_arc_cas(h, &loc, smr_rc_snapshot(z), &t, &cur), 0);
  CHECK(smr_rc_is_null(t));
  CHECK_EQ(smr_arc_load(&loc).p, x.p);
  CHECK_COUNTS(X, 2, 1, false);
  CHECK_COUNTS(Z, 1, 1, false);
  /* cas failure: desired untouched and still counted, current found. */
  t = rc_clone(y);
  cur.p = 1;
  CHECK_EQ(smr_arc_cas(h, &loc, smr_rc_snapshot(z), &t, &cur), -EAGAIN);
  CHECK_EQ(t.p, y.p);
  CHECK_EQ(cur.p, x.p);
  CHECK_COUNTS(Y, 2, 1, false);
  CHECK_COUNTS(X, 2, 1, false);
  CHECK(O(cur.p)->magic == LIVE); /* a snapshot the section may read */
  CHECK_EQ(smr_arc_cas(h, &loc, smr_rc_snapshot(z), &t, NULL), -EAGAIN);
  CHECK_EQ(t.p, y.p);
  /* The tag is part of the expected value. */
  cur.p = 1;
  CHECK_EQ(
      smr_arc_cas(h, &loc, smr_snap_with_tag(smr_rc_snapshot(x), 1), &t, &cur),
      -EAGAIN);
  CHECK_EQ(t.p, y.p);
  CHECK_EQ(cur.p, x.p);
  /* Expected null on a non-null location. */
  CHECK_EQ(smr_arc_cas(h, &loc, (smr_snap){0}, &t, &cur), -EAGAIN);
  CHECK_COUNTS(Y, 2, 1, false);
  smr_rc_release(h, &t);
  CHECK_COUNTS(Y, 1, 1, false);

  /* cas_snap: counts desired on success, gives the count back on failure.
   */
  cur.p = 1;
  CHECK_EQ(
      smr_arc_cas_snap(h, &loc, smr_rc_snapshot(x), smr_rc_snapshot(y), &cur),
      0);
  CHECK_EQ(smr_arc_load(&loc).p, y.p);
  CHECK_COUNTS(Y, 2, 1, false);
  CHECK_COUNTS(X, 1, 1, false);
  cur.p = 1;
  CHECK_EQ(
      smr_arc_cas_snap(h, &loc, smr_rc_snapshot(x), smr_rc_snapshot(z), &cur),
      -EAGAIN);
  CHECK_EQ(cur.p, y.p);
  CHECK_COUNTS(Z, 1, 1, false);
  CHECK_EQ(
      smr_arc_cas_snap(h, &loc, smr_rc_snapshot(x), smr_rc_snapshot(z), NULL),
      -EAGAIN);
  CHECK_COUNTS(Z, 1, 1, false);
  /* to null and back */
  CHECK_EQ(smr_arc_cas_snap(h, &loc, smr_rc_snapshot(y), (smr_snap){0}, &cur),
           0);
  CHECK(smr_snap_is_null(smr_arc_load(&loc)));
  CHECK_COUNTS(Y, 1, 1, false);
  CHECK_EQ(smr_arc_cas_snap(h, &loc, (smr_snap){0}, smr_rc_snapshot(y), &cur),
           0);
  CHECK_COUNTS(Y, 2, 1, false);

  /* cas_tag: only the tag changes, no count. */
  cur.p = 1;
  CHECK_EQ(smr_arc_cas_tag(&loc, smr_rc_snapshot(y), 3, &cur), 0);
  CHECK_EQ(cur.p, y.p | 3);
  CHECK_EQ(smr_arc_load(&loc).p, y.p | 3);
  CHECK_COUNTS(Y, 2, 1, false);
  cur.p = 1;
  CHECK_EQ(smr_arc_cas_tag(&loc, smr_rc_snapshot(y), 5, &cur), -EAGAIN);
  CHECK_EQ(cur.p, y.p | 3);
  CHECK_EQ(
      smr_arc_cas_tag(&loc, smr_snap_with_tag(smr_rc_snapshot(x), 3), 5, NULL),
      -EAGAIN);
  CHECK_EQ(
      smr_arc_cas_tag(&loc, smr_snap_with_tag(smr_rc_snapshot(y), 3), 0, NULL),
      0);
  CHECK_EQ(smr_arc_load(&loc).p, y.p);
  CHECK_COUNTS(Y, 2, 1, false);
  smr_rc_leave(h);

  /* take: the reference comes out counted, the location is null. */
  smr_rc tk = smr_arc_take(&loc);
  CHECK_EQ(tk.p, y.p);
  CHECK_COUNTS(Y, 2, 1, false);
  smr_rc_enter_ffi(h);
  CHECK(smr_snap_is_null(smr_arc_load(&loc)));
  smr_rc_leave_ffi(h);
  CHECK(!smr_in_section(h->reader));
  smr_rc_release(h, &tk);
  tk = smr_arc_take(&loc);
  CHECK(smr_rc_is_null(tk));

  /* A location inside an object: released with it (edges). */
  t = rc_clone(z);
  smr_arc_store(h, &X->child, &t);
  CHECK_COUNTS(Z, 2, 1, false);
  smr_rc_release(h, &y);
  smr_rc_release(h, &z);
  CHECK_COUNTS(Z, 1, 1, false);
  unsigned zid = Z->id;
  smr_rc_release(h, &x);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(zid), 1);
  CHECK_STATS(rd, 3, 3, 3, 2, 1, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- tags ------------------------------------------------------------------
 */

static void test_tags(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc a = obj_new(h, 1);
  struct obj *A = O(a.p);
  smr_rc a5 = smr_rc_with_tag(a, 5);
  CHECK_EQ(smr_rc_tag(a5), 5);
  CHECK(smr_rc_ptr(a5) == A);
  CHECK(!smr_rc_is_null(a5));
  CHECK_EQ(smr_rc_tag(smr_rc_with_tag(a, 9)), 1); /* 3 bits */
  CHECK_EQ(smr_rc_tag(smr_rc_with_tag(a5, 0)), 0);
  CHECK(smr_snap_ptr_eq(smr_rc_snapshot(a), smr_rc_snapshot(a5)));
  CHECK(!smr_snap_ptr_eq(smr_rc_snapshot(a), (smr_snap){0}));
  CHECK(smr_rc_type_of(smr_rc_snapshot(a5)) == &obj_type);
  /* Accessors of every kind. */
  smr_weak_snap ws = {a.p | 6};
  CHECK_EQ(smr_weak_snap_tag(ws), 6);
  CHECK(smr_weak_snap_ptr(ws) == A);
  CHECK(smr_weak_snap_is_null((smr_weak_snap){7}));
  CHECK_EQ(smr_weak_snap_with_tag(ws, 1).p, a.p | 1);
  CHECK(smr_snap_is_null((smr_snap){7}));
  CHECK_EQ(smr_snap_tag((smr_snap){7}), 7);
  CHECK(smr_weak_is_null((smr_weak){2}));

  /* clone, downgrade, weak clone, upgrade, counting keep the tag. */
  smr_rc c = rc_clone(a5);
  CHECK_EQ(c.p, a.p | 5);
  CHECK_COUNTS(A, 2, 1, false);
  smr_weak w = {0};
  CHECK_EQ(smr_rc_downgrade(c, &w), 0);
  CHECK_EQ(w.p, a.p | 5);
  CHECK_EQ(smr_weak_tag(w), 5);
  smr_weak w2 = {0};
  CHECK_EQ(smr_weak_clone(smr_weak_with_tag(w, 2), &w2), 0);
  CHECK_EQ(w2.p, a.p | 2);
  CHECK_COUNTS(A, 2, 3, false);
  smr_rc u = {0};
  CHECK_EQ(smr_weak_upgrade(w2, &u), 0);
  CHECK_EQ(u.p, a.p | 2);
  CHECK_COUNTS(A, 3, 3, false);
  smr_rc_enter(h);
  smr_snap s = {0};
  CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &s), 0);
  CHECK_EQ(s.p, a.p | 5);
  smr_rc sc = {0};
  CHECK_EQ(smr_snap_counted(smr_snap_with_tag(s, 7), &sc), 0);
  CHECK_EQ(sc.p, a.p | 7);
  smr_weak w3 = {0};
  CHECK_EQ(smr_weak_snap_counted(smr_weak_snapshot(w), &w3), 0);
  CHECK_EQ(w3.p, a.p | 5);
  smr_weak w4 = {0};
  CHECK_EQ(smr_snap_downgrade(smr_snap_with_tag(s, 4), &w4), 0);
  CHECK_EQ(w4.p, a.p | 4);
  smr_rc_leave(h);
  CHECK_COUNTS(A, 4, 5, false);

  /* Atomic strong location: the tag goes through store, load, swap, cas,
   * cas_snap, take. */
  smr_atomic_rc loc;
  loc_init(&loc);
  smr_rc_enter(h);
  smr_arc_store(h, &loc, &c); /* tag 5 */
  CHECK_EQ(smr_arc_load(&loc).p, a.p | 5);
  smr_rc t = smr_rc_with_tag(sc, 6);
  sc.p = 0;
  smr_rc old = smr_arc_swap(h, &loc, &t);
  CHECK_EQ(old.p, a.p | 5);
  CHECK_EQ(smr_arc_load(&loc).p, a.p | 6);
  smr_snap cur;
  CHECK_EQ(smr_arc_cas(h, &loc, smr_rc_snapshot(old), &u, &cur), -EAGAIN);
  CHECK_EQ(cur.p, a.p | 6);
  CHECK_EQ(smr_arc_cas(h, &loc, cur, &u, &cur), 0); /* u: tag 2 */
  CHECK_EQ(smr_arc_load(&loc).p, a.p | 2);
  CHECK_EQ(smr_arc_cas_snap(h, &loc, smr_arc_load(&loc),
                            smr_snap_with_tag(smr_rc_snapshot(old), 3), &cur),
           0);
  CHECK_EQ(smr_arc_load(&loc).p, a.p | 3);
  CHECK_EQ(smr_arc_cas_tag(&loc, smr_arc_load(&loc), 1, &cur), 0);
  CHECK_EQ(cur.p, a.p | 1);
  smr_rc_leave(h);
  CHECK_COUNTS(A, 3, 5, false); /* a, old, loc */
  smr_rc tk = smr_arc_take(&loc);
  CHECK_EQ(tk.p, a.p | 1);
  /* A null with a tag, stored and loaded. */
  smr_rc n6 = {6};
  smr_arc_store(h, &loc, &n6);
  smr_rc_enter(h);
  CHECK_EQ(smr_arc_load(&loc).p, 6);
  CHECK(smr_snap_is_null(smr_arc_load(&loc)));
  CHECK_EQ(smr_arc_cas_tag(&loc, (smr_snap){6}, 2, &cur), 0);
  CHECK_EQ(cur.p, 2);
  smr_rc back = smr_arc_swap(h, &loc, &tk);
  CHECK_EQ(back.p, 2);
  smr_rc_leave(h);
  tk = smr_arc_take(&loc);
  CHECK_EQ(tk.p, a.p | 1);

  /* Atomic weak location: init, load, store, swap, cas, take. */
  smr_atomic_weak wl;
  smr_aweak_init(&wl, &w); /* tag 5 */
  CHECK(smr_weak_is_null(w));
  smr_rc_enter(h);
  CHECK_EQ(smr_aweak_load(&wl).p, a.p | 5);
  CHECK_EQ(smr_aweak_load_ffi(&wl).p, a.p | 5);
  smr_weak wo = smr_aweak_swap(&wl, &w2); /* tag 2 */
  CHECK(smr_weak_is_null(w2));
  CHECK_EQ(wo.p, a.p | 5);
  CHECK_EQ(smr_aweak_load(&wl).p, a.p | 2);
  smr_weak_snap wcur = {0};
  CHECK_EQ(smr_aweak_cas(h, &wl, smr_weak_snapshot(wo), &w3, &wcur), -EAGAIN);
  CHECK_EQ(wcur.p, a.p | 2);
  CHECK_EQ(w3.p, a.p | 5); /* untouched */
  CHECK_EQ(smr_aweak_cas(h, &wl, wcur, &w3, &wcur), 0);
  CHECK(smr_weak_is_null(w3));
  CHECK_EQ(smr_aweak_load(&wl).p, a.p | 5);
  smr_aweak_store(h, &wl, &w4); /* tag 4; releases the tag-5 one */
  CHECK_EQ(smr_aweak_load(&wl).p, a.p | 4);
  smr_rc_leave(h);
  CHECK_COUNTS(A, 3, 3, false); /* strong side, wo, wl */
  smr_weak wt = smr_aweak_take(&wl);
  CHECK_EQ(wt.p, a.p | 4);
  CHECK(smr_weak_is_null(smr_aweak_take(&wl)));

  /* Releases with tags. */
  smr_weak_release(h, &wt);
  smr_weak_release(h, &wo);
  CHECK_COUNTS(A, 3, 1, false);
  smr_rc_release(h, &tk);
  smr_rc_release(h, &old);
  CHECK_COUNTS(A, 1, 1, false);
  smr_rc_release(h, &a5); /* a, through its tagged copy */
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- weak ------------------------------------------------------------------
 */

static void test_weak(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc o = obj_new(h, 0x5eed);
  struct obj *P = O(o.p);
  unsigned id = P->id;
  smr_weak w = {0}, w2 = {0}, w3 = {0};
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  CHECK_EQ(w.p, o.p);
  CHECK_COUNTS(P, 1, 2, false);
  CHECK_EQ(smr_weak_clone(w, &w2), 0);
  CHECK_COUNTS(P, 1, 3, false);
  /* Upgrades while alive. */
  smr_rc u = {0};
  CHECK_EQ(smr_weak_upgrade(w, &u), 0);
  CHECK_EQ(u.p, o.p);
  CHECK_COUNTS(P, 2, 3, false);
  smr_rc_release(h, &u);
  smr_rc_enter(h);
  smr_snap s = {0};
  CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &s), 0);
  CHECK_EQ(s.p, o.p);
  CHECK_EQ(smr_weak_snap_counted(smr_weak_snapshot(w2), &w3), 0);
  CHECK_EQ(w3.p, o.p);
  smr_rc_leave(h);
  CHECK_COUNTS(P, 1, 4, false);
  smr_weak_release(h, &w3);
  CHECK(smr_weak_is_null(w3));
  CHECK_COUNTS(P, 1, 3, false);

  /* The last strong reference goes: destroyed, the memory stays. */
  smr_rc_release(h, &o);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 1);
  CHECK_COUNTS(P, 0, 2, true);
  CHECK_STATS(rd, 1, 1, 0, 1, 0, 0);
  CHECK(P->magic == DEAD && P->value == 0x5eed); /* readable */
  u.p = 1;
  CHECK_EQ(smr_weak_upgrade(w, &u), -ESTALE);
  CHECK(smr_rc_is_null(u));
  /* Counting a snapshot of a destroyed object (only possible outside its
   * section): -ESTALE, nothing changes. */
  u.p = 1;
  CHECK_EQ(smr_snap_counted((smr_snap){w.p}, &u), -ESTALE);
  CHECK(smr_rc_is_null(u));
  CHECK_COUNTS(P, 0, 2, true);
  smr_rc_enter(h);
  s.p = 1;
  CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &s), -ESTALE);
  CHECK(smr_snap_is_null(s));
  smr_atomic_rc loc;
  loc_init(&loc);
  smr_snap cur = {1};
  CHECK_EQ(smr_arc_cas_snap(h, &loc, (smr_snap){0}, (smr_snap){w.p}, &cur),
           -ESTALE);
  CHECK(smr_snap_is_null(smr_arc_load(&loc)));
  CHECK(smr_snap_is_null(cur));
  /* A weak reference still counts from a weak snapshot. */
  CHECK_EQ(smr_weak_snap_counted(smr_weak_snapshot(w), &w3), 0);
  smr_rc_leave(h);
  CHECK_COUNTS(P, 0, 3, true);
  smr_weak_release(h, &w3);
  smr_weak_release(h, &w2);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_COUNTS(P, 0, 1, true);
  CHECK_STATS(rd, 1, 1, 0, 1, 0, 0);
  /* The last weak reference: freed a grace period later. */
  smr_rc_enter(h);
  smr_weak_release(h, &w);
  CHECK_STATS(rd, 1, 1, 0, 1, 0, 1);
  CHECK(P->value == 0x5eed); /* our section keeps the memory */
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0);

  /* Weak reference released first: the object goes with its last strong
   * reference, the memory a grace period later. */
  o = obj_new(h, 7);
  P = O(o.p);
  id = P->id;
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  smr_weak_release(h, &w);
  CHECK_COUNTS(P, 1, 1, false);
  smr_rc_release(h, &o);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 1);
  CHECK_STATS(rd, 2, 2, 2, 2, 0, 0);

  /* A weak snapshot whose weak count reaches zero inside our section:
   * counting it fails cleanly, the memory is still readable. */
  o = obj_new(h, 8);
  P = O(o.p);
  smr_atomic_weak wl;
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  smr_aweak_init(&wl, &w);
  smr_rc_release(h, &o);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_COUNTS(P, 0, 1, true);
  smr_rc_enter(h);
  smr_weak_snap ws = smr_aweak_load(&wl);
  CHECK_EQ(ws.p, (uintptr_t)P);
  smr_weak nw = {0};
  smr_aweak_store(h, &wl, &nw); /* the last weak reference */
  CHECK_COUNTS(P, 0, 0, true);
  w3.p = 1;
  CHECK_EQ(smr_weak_snap_counted(ws, &w3), -ESTALE);
  CHECK(smr_weak_is_null(w3));
  CHECK_EQ(smr_weak_snap_upgrade(h, ws, &s), -ESTALE);
  CHECK(P->value == 8);
  CHECK_STATS(rd, 3, 3, 2, 3, 0, 1);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 3, 3, 3, 3, 0, 0);

  /* An object holding a weak reference to another (edges release it with
   * smr_rc_edges_handle), and to itself. */
  smr_rc a = obj_new(h, 1), b = obj_new(h, 2);
  struct obj *A = O(a.p), *B = O(b.p);
  CHECK_EQ(smr_rc_downgrade(b, &w), 0);
  smr_aweak_store(h, &A->wchild, &w);
  CHECK_EQ(smr_rc_downgrade(b, &w), 0);
  smr_aweak_store(h, &B->wchild, &w); /* self */
  CHECK_COUNTS(B, 1, 3, false);
  smr_rc_release(h, &b);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_COUNTS(B, 0, 1, true); /* A's weak reference keeps the memory */
  CHECK_STATS(rd, 5, 4, 3, 4, 0, 0);
  smr_rc_release(h, &a);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 5, 5, 5, 5, 0, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- limits ---------------------------------------------------------------
 */

static void test_limits(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc o = obj_new(h, 1);
  struct obj *P = O(o.p);
  smr_weak w = {0};
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  smr_atomic_rc loc;
  loc_init(&loc);

  /* Strong: one below the limit, one clone reaches it, then every strong
   * increment fails and changes nothing. */
  smr__rc_test_set_counts(P, S_LIM - 1, 2);
  smr_rc c = {0};
  CHECK_EQ(smr_rc_clone(o, &c), 0);
  CHECK_EQ(c.p, o.p);
  CHECK_COUNTS(P, S_LIM, 2, false);
  for (int i = 0; i < 3; i++) {
    smr_rc f = {1};
    CHECK_EQ(smr_rc_clone(o, &f), -EOVERFLOW);
    CHECK(smr_rc_is_null(f));
    f.p = 1;
    CHECK_EQ(smr_rc_clone(smr_rc_with_tag(o, 3), &f), -EOVERFLOW);
    CHECK(smr_rc_is_null(f));
    f.p = 1;
    CHECK_EQ(smr_weak_upgrade(w, &f), -EOVERFLOW);
    CHECK(smr_rc_is_null(f));
    smr_rc_enter(h);
    f.p = 1;
    CHECK_EQ(smr_snap_counted(smr_rc_snapshot(o), &f), -EOVERFLOW);
    CHECK(smr_rc_is_null(f));
    smr_snap cur = {1};
    CHECK_EQ(smr_arc_cas_snap(h, &loc, (smr_snap){0}, smr_rc_snapshot(o), &cur),
             -EOVERFLOW);
    CHECK(smr_snap_is_null(cur));
    CHECK(smr_snap_is_null(smr_arc_load(&loc)));
    smr_snap s;
    CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &s), 0);
    smr_rc_leave(h);
    CHECK_COUNTS(P, S_LIM, 2, false); /* no wrap, no carry */
  }
  /* Weak increments still work at the strong limit. */
  smr_weak w2 = {0};
  CHECK_EQ(smr_rc_downgrade(o, &w2), 0);
  CHECK_COUNTS(P, S_LIM, 3, false);
  smr_weak_release(h, &w2);
  smr__rc_test_set_counts(P, 1, 2); /* back: o and w */
  c.p = 0;

  /* Weak: the same at the weak limit. */
  smr__rc_test_set_counts(P, 1, W_LIM - 1);
  CHECK_EQ(smr_weak_clone(w, &w2), 0);
  CHECK_COUNTS(P, 1, W_LIM, false);
  for (int i = 0; i < 3; i++) {
    smr_weak f = {1};
    CHECK_EQ(smr_rc_downgrade(o, &f), -EOVERFLOW);
    CHECK(smr_weak_is_null(f));
    f.p = 1;
    CHECK_EQ(smr_snap_downgrade(smr_rc_snapshot(o), &f), -EOVERFLOW);
    CHECK(smr_weak_is_null(f));
    f.p = 1;
    CHECK_EQ(smr_weak_clone(w, &f), -EOVERFLOW);
    CHECK(smr_weak_is_null(f));
    smr_rc_enter(h);
    f.p = 1;
    CHECK_EQ(smr_weak_snap_counted(smr_weak_snapshot(w), &f), -EOVERFLOW);
    CHECK(smr_weak_is_null(f));
    smr_rc_leave(h);
    CHECK_COUNTS(P, 1, W_LIM, false);
  }
  /* Strong increments still work at the weak limit. */
  CHECK_EQ(smr_rc_clone(o, &c), 0);
  CHECK_COUNTS(P, 2, W_LIM, false);
  smr_rc_release(h, &c);
  smr__rc_test_set_counts(P, 1, 3); /* o, w, w2 */

  smr_weak_release(h, &w2);
  smr_weak_release(h, &w);
  CHECK_COUNTS(P, 1, 1, false);
  smr_rc_release(h, &o);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 1, 1, 1, 1, 0, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- resurrect ------------------------------------------------------------
 */

static void test_resurrect(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_atomic_rc loc;
  loc_init(&loc);

  /* Own section: the location's reference was the last one. */
  smr_rc o = obj_new(h, 1);
  struct obj *P = O(o.p);
  unsigned id = P->id;
  smr_arc_store(h, &loc, &o);
  smr_rc_enter(h);
  smr_snap s = smr_arc_load(&loc);
  smr_rc n = SMR_RC_NULL;
  smr_arc_store(h, &loc, &n); /* count zero, destruction pending */
  CHECK_COUNTS(P, 0, 1, false);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 1);
  CHECK_EQ(smr_rc_collect(h), 0);
  smr_rc r = {0};
  CHECK_EQ(smr_snap_counted(s, &r), 0); /* resurrected */
  CHECK_EQ(r.p, s.p);
  CHECK(smr__rc_test_counts(P).strong >= 1);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 0); /* kept */
  CHECK_COUNTS(P, 1, 1, false);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 0);
  CHECK(P->magic == LIVE);

  /* Zero, counted, zero, counted again, zero: destroyed once, after the
   * section. */
  smr_rc_enter(h);
  s = smr_rc_snapshot(r);
  smr_rc_release(h, &r);
  CHECK_COUNTS(P, 0, 1, false);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(smr_snap_counted(s, &r), 0);
    CHECK(!smr__rc_test_counts(P).destroyed);
    smr_rc_release(h, &r);
    CHECK(smr_rc_collect(h) >= 0);
  }
  CHECK_EQ(drops_id(id), 0);
  CHECK(P->magic == LIVE);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 1);
  struct smr_rc_stats st1 = stats(rd);
  CHECK_EQ(st1.created, 1);
  CHECK_EQ(st1.destroyed, 1);
  CHECK_EQ(st1.freed, 1);
  CHECK_EQ(st1.immediate, 0);
  CHECK_EQ(st1.pending, 0);
  CHECK(st1.deferred >= 2); /* zero again after the permit went back */

  /* A pending object is not alive for weak upgrades (they never
   * resurrect), but smr_arc_cas_snap counts it (and keeps it) as
   * smr_snap_counted does. */
  o = obj_new(h, 3);
  P = O(o.p);
  id = P->id;
  smr_weak w;
  CHECK_EQ(smr_rc_downgrade(o, &w), 0);
  smr_rc_enter(h);
  s = smr_rc_snapshot(o);
  smr_rc_release(h, &o); /* zero, pending */
  CHECK_COUNTS(P, 0, 2, false);
  smr_rc u = {1};
  CHECK_EQ(smr_weak_upgrade(w, &u), -ESTALE);
  CHECK(smr_rc_is_null(u));
  smr_snap us = {1};
  CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &us), -ESTALE);
  CHECK(smr_snap_is_null(us));
  CHECK_COUNTS(P, 0, 2, false);
  CHECK_EQ(smr_arc_cas_snap(h, &loc, (smr_snap){0}, s, NULL), 0);
  CHECK(smr__rc_test_counts(P).strong >= 1);
  smr_rc_leave(h);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 0);
  CHECK_COUNTS(P, 1, 2, false);         /* the location's reference */
  CHECK_EQ(smr_weak_upgrade(w, &u), 0); /* alive again */
  smr_rc_release(h, &u);
  smr_arc_store(h, &loc, &n);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops_id(id), 1);
  smr_weak_release(h, &w);
  CHECK_EQ(smr_rc_barrier(h), 0);

  /* Another thread's section: it counts the snapshot while our pending
   * entry waits, keeps the reference past its section, releases it in its
   * own handle. */
  struct puppet p;
  puppet_start(&p, rd);
  puppet_do(&p, pp_register);
  o = obj_new(h, 2);
  P = O(o.p);
  id = P->id;
  smr_arc_store(h, &loc, &o);
  p.loc = &loc;
  puppet_do(&p, pp_enter);
  puppet_do(&p, pp_load);
  CHECK_EQ(p.s.p, (uintptr_t)P);
  smr_arc_store(h, &loc, &n); /* zero, pending in h */
  CHECK_COUNTS(P, 0, 1, false);
  CHECK_EQ(smr_rc_collect(h), 0); /* p's section holds it */
  puppet_do(&p, pp_count);
  CHECK_EQ(p.err, 0);
  CHECK_EQ(p.rc.p, (uintptr_t)P);
  puppet_do(&p, pp_leave);
  CHECK_EQ(smr_rc_barrier(h), 0); /* our entry: the permit goes back */
  CHECK_EQ(drops_id(id), 0);
  CHECK_COUNTS(P, 1, 1, false);
  puppet_do(&p, pp_check_live);
  puppet_do(&p, pp_release);
  CHECK_EQ(drops_id(id), 0);
  puppet_do(&p, pp_barrier);
  CHECK_EQ(drops_id(id), 1);
  puppet_do(&p, pp_unregister);
  puppet_stop(&p);
  CHECK_EQ(smr_rc_barrier(h), 0);
  struct smr_rc_stats st = stats(rd);
  CHECK_EQ(st.created, 3);
  CHECK_EQ(st.destroyed, 3);
  CHECK_EQ(st.freed, 3);
  CHECK_EQ(st.immediate, 0);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- ring -------------------------------------------------------------------
 * Batch 1 (every zero-count object sealed at once) while another thread's
 * section blocks every grace period: more sealed lists than a handle's ring
 * holds (they are joined), an unregistering handle's full ring left to the
 * domain and adopted into another full ring: every object destroyed
 * exactly once when the section ends. */

static void pp_new_release_many(struct puppet *p) {
  for (int i = 0; i < 50; i++) {
    smr_rc r = obj_new(p->h, 5);
    smr_rc_release(p->h, &r);
  }
}

static void test_ring(void) {
  smr_rc_domain *rd = make(0, 1);
  smr_rc_handle *h = reg(rd);
  struct puppet a, b;
  puppet_start(&a, rd);
  puppet_start(&b, rd);
  puppet_do(&a, pp_register);
  puppet_do(&b, pp_register);
  puppet_do(&a, pp_enter);
  unsigned first = atomic_load(&g_ids);
  for (int i = 0; i < 100; i++) {
    smr_rc r = obj_new(h, 4);
    smr_rc_release(h, &r);
    CHECK(smr_rc_collect(h) == 0);
  }
  puppet_do(&b, pp_new_release_many);
  puppet_do(&b, pp_unregister);
  CHECK_STATS(rd, 150, 0, 0, 150, 0, 150);
  CHECK_EQ(smr_rc_collect(h), 0); /* adopts b's lists */
  unsigned last = atomic_load(&g_ids);
  CHECK_EQ(last - first, 150);
  for (unsigned i = first; i < last; i++)
    CHECK_EQ(drops_id(i), 0);
  puppet_do(&a, pp_leave);
  CHECK_EQ(smr_rc_barrier(h), 0);
  for (unsigned i = first; i < last; i++)
    CHECK_EQ(drops_id(i), 1);
  CHECK_STATS(rd, 150, 150, 150, 150, 0, 0);
  puppet_do(&a, pp_unregister);
  puppet_stop(&a);
  puppet_stop(&b);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- section_child ----------------------------------------------------------
 * P holds X.  A's section blocks P's grace period; B's section begins after
 * that grace period started and gets a snapshot of X; then X's other
 * reference goes, and P is destroyed once A leaves.  B's section still
 * holds X, so X must not be destroyed with P (it waits for B), and B may
 * still count it.  way: 0 through a location (the location's reference is
 * released afterwards), 1 through a counted reference B releases in its
 * section, 2 through a weak upgrade. */

/* age: grace periods to complete before A enters (X's last stamp is
 * that old when B's snapshot is taken: part stale_stamp). */
static void section_child(int way, bool count, unsigned age) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  struct puppet a, b;
  puppet_start(&a, rd);
  puppet_start(&b, rd);
  puppet_do(&a, pp_register);
  puppet_do(&b, pp_register);
  smr_atomic_rc loc;
  smr_atomic_weak wloc;
  loc_init(&loc);
  wloc_init(&wloc);
  smr_rc x = obj_new(h, 10), p = obj_new(h, 20);
  struct obj *X = O(x.p), *P = O(p.p);
  unsigned xid = X->id, pid = P->id;
  smr_rc xc = rc_clone(x);
  smr_arc_init(&P->child, &xc);
  if (way == 0) {
    smr_arc_store(h, &loc, &x);
  } else if (way == 1) {
    b.rc = x;
    x.p = 0;
  } else {
    smr_weak w;
    CHECK_EQ(smr_rc_downgrade(x, &w), 0);
    smr_aweak_store(h, &wloc, &w);
    smr_rc_release(h, &x);
  }
  CHECK_COUNTS(X, way == 2 ? 1 : 2, way == 2 ? 2 : 1, false);
  for (unsigned i = 0; i < age; i++)
    CHECK_EQ(smr_synchronize(smr_rc_domain_epoch(rd)), 0);

  puppet_do(&a, pp_enter);
  smr_rc_release(h, &p);         /* P: zero, pending */
  CHECK(smr_rc_collect(h) >= 0); /* its grace period starts; A blocks it */
  CHECK_EQ(drops_id(pid), 0);
  puppet_do(&b, pp_enter);
  if (way == 0) {
    b.loc = &loc;
    puppet_do(&b, pp_load);
  } else if (way == 1) {
    puppet_do(&b, pp_snap_release);
  } else {
    b.wloc = &wloc;
    puppet_do(&b, pp_wupgrade);
    CHECK_EQ(b.err, 0);
  }
  CHECK_EQ(b.s.p, (uintptr_t)X);
  if (way == 0) {
    smr_rc n = SMR_RC_NULL;
    smr_arc_store(h, &loc, &n);
  }
  CHECK_COUNTS(X, 1, way == 2 ? 2 : 1, false); /* P's reference only */
  CHECK_EQ(drops_id(pid), 0);
  puppet_do(&a, pp_leave);
  collect_until(h, dropped_once, &pid); /* never waits: B is still inside */
  /* P is gone; X is not, B's section holds it. */
  if (drops_id(xid) != 0) {
    fprintf(stderr,
            "BUG: X destroyed with its parent while another section holds a "
            "snapshot of it (way %d, X's last stamp %u grace periods old "
            "before the section began)\n",
            way, age);
    abort();
  }
  CHECK_COUNTS(X, 0, way == 2 ? 2 : 1, false);
  puppet_do(&b, pp_check_live);
  CHECK_EQ(stats(rd).immediate, 0);
  if (count) {
    puppet_do(&b, pp_count); /* resurrection */
    CHECK_EQ(b.err, 0);
    CHECK_EQ(b.rc.p, (uintptr_t)X);
  }
  puppet_do(&b, pp_leave);
  CHECK_EQ(smr_rc_barrier(h), 0);
  if (count) {
    CHECK_EQ(drops_id(xid), 0);
    CHECK_COUNTS(X, 1, way == 2 ? 2 : 1, false);
    puppet_do(&b, pp_check_live);
    puppet_do(&b, pp_release);
    puppet_do(&b, pp_barrier);
  }
  CHECK_EQ(drops_id(xid), 1);
  smr_weak wt = smr_aweak_take(&wloc);
  smr_weak_release(h, &wt);
  CHECK_EQ(smr_rc_barrier(h), 0);
  puppet_do(&a, pp_unregister);
  puppet_do(&b, pp_unregister);
  puppet_stop(&a);
  puppet_stop(&b);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  struct smr_rc_stats st = stats(rd);
  CHECK_EQ(st.created, 2);
  CHECK_EQ(st.destroyed, 2);
  CHECK_EQ(st.freed, 2);
  CHECK_EQ(st.immediate, 0);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

static void test_section_child(void) {
  for (int way = 0; way < 3; way++) {
    section_child(way, false, 0);
    section_child(way, true, 0);
    section_child(way, false, 300); /* stamps wrapped once (>= 256) */
  }
}

/* stale_stamp: the same after 130 grace periods.  The first version's
 * with_stamp() kept the old stamp when the clock was 128-255 grace periods
 * ahead of it, so the decrement (or the weak upgrade) after B's snapshot
 * left X with a stamp cut long before B's section began, which stamp_old()
 * then called old: X was destroyed at once with its parent while B's
 * section still held it (a use after free). */
static void test_stale_stamp(void) {
  for (int way = 0; way < 3; way++)
    section_child(way, false, 130);
}

/* ---- callbacks ------------------------------------------------------------
 */

struct holder {
  uint64_t magic;
  smr_rc plain;     /* released in drop: waits a grace period of its own */
  smr_atomic_rc at; /* handed to edges: destroyed at once */
  int check_calls;
};

static smr_rc_handle *g_edges_h, *g_drop_h;
static int g_holder_edges, g_holder_drops, g_drop_reader_null;

static void holder_edges(void *p, smr_rc_edges *out) {
  struct holder *x = p;
  CHECK(x->magic == LIVE);
  CHECK_EQ(g_holder_edges, g_holder_drops); /* edges first, once */
  g_holder_edges++;
  g_edges_h = smr_rc_edges_handle(out);
  smr_rc_edges_take(out, &x->at);
  smr_rc none = SMR_RC_NULL;
  smr_rc_edges_push(out, &none);
}

static void holder_drop(void *p, smr_rc_handle *h) {
  struct holder *x = p;
  CHECK(x->magic == LIVE);
  x->magic = DEAD;
  g_holder_drops++;
  CHECK_EQ(g_holder_edges, g_holder_drops);
  g_drop_h = h;
  g_drop_reader_null = h->reader == NULL;
  if (x->check_calls) {
    CHECK_EQ(smr_rc_barrier(h), -EDEADLK);
    CHECK_EQ(smr_rc_collect(h), 0);
    CHECK_EQ(smr_rc_handle_unregister(h), -EBUSY);
  }
  smr_rc_release(h, &x->plain);
}

static const smr_rc_type holder_type = {"holder", 32, holder_drop,
                                        holder_edges};

static smr_rc holder_new(smr_rc_handle *h, smr_rc plain, smr_rc at) {
  smr_rc r;
  CHECK_EQ(smr_rc_new(h, &holder_type, sizeof(struct holder), &r), 0);
  CHECK_EQ((uintptr_t)smr_rc_ptr(r) % 32, 0);
  struct holder *x = smr_rc_ptr(r);
  x->magic = LIVE;
  x->plain = plain;
  smr_arc_init(&x->at, &at);
  return r;
}

static void test_callbacks(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc c1 = obj_new(h, 1), c2 = obj_new(h, 2);
  unsigned id1 = O(c1.p)->id, id2 = O(c2.p)->id;
  smr_rc hr = holder_new(h, c1, c2);
  ((struct holder *)smr_rc_ptr(hr))->check_calls = 1;
  g_holder_edges = g_holder_drops = 0;
  uint64_t g0 = gps(rd);
  smr_rc_release(h, &hr);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(g_holder_edges, 1);
  CHECK_EQ(g_holder_drops, 1);
  CHECK(g_edges_h == h);
  CHECK(g_drop_h == h);
  CHECK(!g_drop_reader_null);
  CHECK_EQ(drops_id(id1), 1);
  CHECK_EQ(drops_id(id2), 1);
  /* c2 went with the holder (an edge), c1 waited a grace period of its
   * own (released in drop). */
  CHECK_STATS(rd, 3, 3, 3, 2, 1, 0);
  CHECK(gps(rd) - g0 >= 2);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* ---- graph ------------------------------------------------------------------
 * Three types: pair (two atomic children and a weak back link, released in
 * drop), vec (up to four plain counted children, pushed by edges), leaf (a
 * malloc'd buffer freed in drop; 64-byte aligned).  Node i's children are
 * nodes j > i (shared: each may have many parents), with a diamond
 * 0 -> {1, 4} -> 2.  Callbacks check that every parent's destruction began
 * before the child's and that the test no longer holds the child. */

#define GN 3000
struct gnode {
  uint64_t magic;
  uint32_t id;
};
struct gpair {
  struct gnode n;
  smr_atomic_rc l, r;
  smr_weak back;
};
struct gvec {
  struct gnode n;
  unsigned k;
  smr_rc kid[4];
};
struct gleaf {
  struct gnode n;
  char *buf;
};

static unsigned char g_edges_ran[GN], g_gdropped[GN], g_held[GN];
static unsigned g_nkids[GN], g_kids[GN][4], g_npar[GN], *g_par[GN];

static void gdying(struct gnode *n) {
  CHECK(n->magic == LIVE);
  unsigned id = n->id;
  CHECK(!g_held[id]);
  CHECK(!g_edges_ran[id]);
  for (unsigned i = 0; i < g_npar[id]; i++)
    CHECK(g_edges_ran[g_par[id][i]]);
  g_edges_ran[id] = 1;
}

static void gdropped(struct gnode *n) {
  CHECK(n->magic == LIVE);
  CHECK(g_edges_ran[n->id]);
  CHECK_EQ(g_gdropped[n->id]++, 0);
  n->magic = DEAD;
}

static void pair_edges(void *p, smr_rc_edges *out) {
  struct gpair *x = p;
  gdying(&x->n);
  smr_rc_edges_take(out, &x->l);
  smr_rc_edges_take(out, &x->r);
}
static void pair_drop(void *p, smr_rc_handle *h) {
  struct gpair *x = p;
  smr_weak_release(h, &x->back);
  gdropped(&x->n);
}
static void vec_edges(void *p, smr_rc_edges *out) {
  struct gvec *x = p;
  gdying(&x->n);
  for (unsigned i = 0; i < x->k; i++) {
    smr_rc_edges_push(out, &x->kid[i]);
    CHECK(smr_rc_is_null(x->kid[i]));
  }
}
static void vec_drop(void *p, smr_rc_handle *h) {
  (void)h;
  gdropped(&((struct gvec *)p)->n);
}
static void leaf_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct gleaf *x = p;
  gdying(&x->n);
  CHECK(x->buf[0] == (char)x->n.id);
  free(x->buf);
  gdropped(&x->n);
}

static const smr_rc_type pair_type = {"pair", 0, pair_drop, pair_edges};
static const smr_rc_type vec_type = {"vec", 16, vec_drop, vec_edges};
static const smr_rc_type leaf_type = {"leaf", 64, leaf_drop, NULL};

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (unsigned)(g_rng % n);
}

static void gadd_kid(unsigned i, unsigned j) {
  g_kids[i][g_nkids[i]++] = j;
  g_par[j] = realloc(g_par[j], (g_npar[j] + 1) * sizeof *g_par[j]);
  CHECK(g_par[j]);
  g_par[j][g_npar[j]++] = i;
}

static bool g_tree; /* every node has at most one parent */

/* A child for node i (GN: none), among the 40 nodes after it. */
static unsigned gpick(unsigned i) {
  unsigned span = GN - 1 - i < 40 ? GN - 1 - i : 40;
  unsigned j = i + 1 + rnd(span);
  return g_tree && g_npar[j] ? GN : j;
}

/* Release every reference the test holds whose index satisfies `which`
 * (held or not), in a shuffled order, inside one section (nothing is
 * destroyed before it ends, so the counts can be read after each release):
 * returns how many reached zero there (roots). */
static long grelease(smr_rc_handle *h, smr_rc *refs, bool held) {
  unsigned *order = malloc(GN * sizeof *order);
  CHECK(order);
  for (unsigned i = 0; i < GN; i++)
    order[i] = i;
  for (unsigned i = GN - 1; i > 0; i--) {
    unsigned j = rnd(i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  long roots = 0;
  smr_rc_enter(h);
  for (unsigned k = 0; k < GN; k++) {
    unsigned i = order[k];
    if (smr_rc_is_null(refs[i]) || (bool)g_held[i] != held)
      continue;
    g_held[i] = 0;
    void *p = smr_rc_ptr(refs[i]);
    smr_rc_release(h, &refs[i]);
    if (smr__rc_test_counts(p).strong == 0)
      roots++;
  }
  smr_rc_leave(h);
  free(order);
  return roots;
}

static void graph(unsigned flags) {
  /* The largest batch: no list is sealed before the barrier, so every root
   * waits for a grace period that began after the last release (the
   * children's stamps are old then: exact immediate counts). */
  smr_rc_domain *rd = make(flags, 65536);
  smr_rc_handle *h = reg(rd);
  memset(g_edges_ran, 0, sizeof g_edges_ran);
  memset(g_gdropped, 0, sizeof g_gdropped);
  memset(g_held, 0, sizeof g_held);
  memset(g_nkids, 0, sizeof g_nkids);
  memset(g_npar, 0, sizeof g_npar);
  smr_rc *refs = calloc(GN, sizeof *refs);
  CHECK(refs);
  for (unsigned i = GN; i-- > 0;) {
    unsigned kind = i % 3;
    if (i + 1 == GN)
      kind = 2;
    smr_rc r;
    struct gnode *n;
    if (kind == 0) {
      CHECK_EQ(smr_rc_new(h, &pair_type, sizeof(struct gpair), &r), 0);
      struct gpair *x = smr_rc_ptr(r);
      bool diamond = i == 0 && !g_tree;
      unsigned l = diamond ? 1 : gpick(i);
      if (l < GN) {
        gadd_kid(i, l);
        smr_rc c = rc_clone(refs[l]);
        smr_arc_init(&x->l, &c);
      }
      unsigned rr = diamond ? 4 : gpick(i);
      if (rr < GN) {
        gadd_kid(i, rr);
        smr_rc c = rc_clone(refs[rr]);
        smr_arc_init(&x->r, &c);
      }
      CHECK_EQ(smr_rc_downgrade(refs[i + 1 + rnd(GN - 1 - i)], &x->back), 0);
      n = &x->n;
    } else if (kind == 1) {
      CHECK_EQ(smr_rc_new(h, &vec_type, sizeof(struct gvec), &r), 0);
      CHECK_EQ((uintptr_t)smr_rc_ptr(r) % 16, 0);
      struct gvec *x = smr_rc_ptr(r);
      bool diamond = (i == 1 || i == 4) && !g_tree;
      unsigned want = diamond ? 1 : rnd(5);
      for (unsigned k = 0; k < want; k++) {
        unsigned j = diamond ? 2 : gpick(i);
        if (j == GN)
          continue;
        gadd_kid(i, j);
        x->kid[x->k++] = rc_clone(refs[j]);
      }
      n = &x->n;
    } else {
      CHECK_EQ(smr_rc_new(h, &leaf_type, sizeof(struct gleaf), &r), 0);
      CHECK_EQ((uintptr_t)smr_rc_ptr(r) % 64, 0);
      struct gleaf *x = smr_rc_ptr(r);
      x->buf = malloc(64);
      CHECK(x->buf);
      x->buf[0] = (char)i;
      n = &x->n;
    }
    n->magic = LIVE;
    n->id = i;
    refs[i] = r;
  }
  for (unsigned i = 0; i < GN; i++)
    CHECK(g_tree ? g_npar[i] <= 1 : i != 2 || g_npar[i] == 2);
  /* The test keeps every 7th node; the rest goes. */
  for (unsigned i = 0; i < GN; i++)
    g_held[i] = i % 7 == 3;
  long roots = grelease(h, refs, false);
  CHECK_EQ(smr_rc_barrier(h), 0);
  /* Exactly the nodes not reachable from a kept one are gone. */
  static unsigned char reach[GN];
  memset(reach, 0, sizeof reach);
  for (unsigned i = 0; i < GN; i++) {
    reach[i] |= g_held[i];
    if (reach[i])
      for (unsigned k = 0; k < g_nkids[i]; k++)
        reach[g_kids[i][k]] = 1;
  }
  long gone = 0;
  for (unsigned i = 0; i < GN; i++) {
    CHECK_EQ(g_gdropped[i], !reach[i]);
    gone += !reach[i];
  }
  CHECK(gone > 0 && gone < GN);
  struct smr_rc_stats st = stats(rd);
  CHECK_EQ(st.destroyed, gone);
  CHECK_EQ(st.pending, 0);
  roots += grelease(h, refs, true);
  CHECK_EQ(smr_rc_barrier(h), 0);
  for (unsigned i = 0; i < GN; i++)
    CHECK_EQ(g_gdropped[i], 1);
  st = stats(rd);
  if (flags & SMR_RC_DEFERRED) {
    CHECK_STATS(rd, GN, GN, GN, GN, 0, 0);
  } else if (g_tree) {
    /* Every node that reached zero in a destruction went at once. */
    CHECK_STATS(rd, GN, GN, GN, roots, GN - roots, 0);
  } else {
    /* Shared children: see part shared_children for the exact count. */
    CHECK_EQ(st.created, GN);
    CHECK_EQ(st.destroyed, GN);
    CHECK_EQ(st.freed, GN);
    CHECK_EQ(st.pending, 0);
    CHECK(st.deferred >= (uint64_t)roots);
    CHECK_EQ(st.deferred + st.immediate, GN);
  }
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  for (unsigned i = 0; i < GN; i++) {
    free(g_par[i]);
    g_par[i] = NULL;
  }
  free(refs);
}

static void test_graph(void) {
  g_tree = true;
  graph(0);
  g_tree = false;
  graph(0);
  graph(SMR_RC_DEFERRED);
}

/* ---- chain, chain_deferred
 * --------------------------------------------------- A list of n nodes built
 * privately (each node's next made with smr_arc_init), released from a thread
 * with a 256 KiB stack: the whole chain is destroyed iteratively (a recursive
 * destruction would overflow that stack).  Immediate: within two grace periods
 * of the release (rounds of smr_rc_collect and smr_synchronize), one deferred
 * object. SMR_RC_DEFERRED: every link waits a grace period of its own. */

struct cnode {
  smr_atomic_rc next;
  uint32_t id;
};

static unsigned char *g_chain_dropped;
static size_t g_chain_n;

static void cnode_edges(void *p, smr_rc_edges *out) {
  smr_rc_edges_take(out, &((struct cnode *)p)->next);
}
static void cnode_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct cnode *c = p;
  CHECK(c->id < g_chain_n);
  CHECK_EQ(g_chain_dropped[c->id]++, 0);
}
static const smr_rc_type cnode_type = {"cnode", 0, cnode_drop, cnode_edges};

struct chain_run {
  smr_rc_domain *rd;
  smr_rc root;
  size_t n;
  bool deferred;
};

static void *chain_thread(void *arg) {
  struct chain_run *c = arg;
  smr_rc_handle *h = reg(c->rd);
  smr_domain *d = smr_rc_domain_epoch(c->rd);
  uint64_t g0 = gps(c->rd);
  smr_rc_release(h, &c->root);
  CHECK_STATS(c->rd, c->n, 0, 0, 1, 0, 1);
  /* At most two rounds, each ending in a grace period. */
  struct smr_rc_stats st;
  for (int round = 0; round < 2; round++) {
    CHECK(smr_rc_collect(h) >= 0);
    st = stats(c->rd);
    if (st.destroyed == c->n)
      break;
    CHECK_EQ(smr_synchronize(d), 0);
  }
  st = stats(c->rd);
  uint64_t g1 = gps(c->rd);
  if (!c->deferred) {
    CHECK_STATS(c->rd, c->n, c->n, c->n, 1, c->n - 1, 0);
    CHECK(g1 - g0 <= 2);
    CHECK(g1 - g0 >= 1);
  } else {
    CHECK(st.destroyed <= g1 - g0);
    CHECK(st.destroyed < c->n);
    CHECK_EQ(st.immediate, 0);
    CHECK_EQ(smr_rc_barrier(h), 0);
    uint64_t g2 = gps(c->rd);
    CHECK_STATS(c->rd, c->n, c->n, c->n, c->n, 0, 0);
    CHECK(g2 - g0 >= c->n); /* one grace period per link at least */
  }
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

static size_t env_size(const char *name, size_t dflt) {
  const char *s = getenv(name);
  return s && *s ? (size_t)strtoull(s, NULL, 0) : dflt;
}

static void chain(unsigned flags, size_t n) {
  CHECK(n >= 3);
  smr_rc_domain *rd = make(flags, 0);
  smr_rc_handle *h = reg(rd);
  g_chain_n = n;
  g_chain_dropped = calloc(n, 1);
  CHECK(g_chain_dropped);
  smr_rc next = SMR_RC_NULL;
  for (size_t i = n; i-- > 0;) {
    smr_rc r;
    CHECK_EQ(smr_rc_new(h, &cnode_type, sizeof(struct cnode), &r), 0);
    struct cnode *c = smr_rc_ptr(r);
    c->id = (uint32_t)i;
    smr_arc_init(&c->next, &next);
    next = r;
  }
  struct chain_run run = {rd, next, n, (flags & SMR_RC_DEFERRED) != 0};
  pthread_attr_t at;
  CHECK_EQ(pthread_attr_init(&at), 0);
  CHECK_EQ(pthread_attr_setstacksize(&at, 256 * 1024), 0);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, &at, chain_thread, &run), 0);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(pthread_attr_destroy(&at), 0);
  for (size_t i = 0; i < n; i++)
    CHECK_EQ(g_chain_dropped[i], 1);
  free(g_chain_dropped);
  g_chain_dropped = NULL;
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

static void test_chain(void) {
  chain(0, env_size("SMR_RC_CHAIN", 10000000));
}

static void test_chain_deferred(void) {
  chain(SMR_RC_DEFERRED, env_size("SMR_RC_DEFERRED_CHAIN", 100000));
}

/* ---- shared_children
 * --------------------------------------------------------- smr/rc.h: the root
 * "waits one grace period of the domain; then it is destroyed and every child
 * whose count its destruction brings to zero is destroyed at once, without
 * another grace period, when no section can hold it either: long chains go in
 * one step".  Built privately and released with no section anywhere, so no
 * section can hold anything: diamond  A -> {B, C} -> D: all four within two
 * grace periods, only A waiting a grace period of its own (D goes at once);
 *   ladder   node i -> {i + 1, i + 2}, 10,000 nodes: the same.
 * Fails with src/rc.c as of this test: dec_strong() writes a fresh stamp on
 * every decrement, also the edge decrement by the first dying parent (B)
 * that leaves D's count above zero; when the second parent (C) brings it to
 * zero in the same destruction, that stamp is not old, so D waits a grace
 * period of its own; the ladder takes one grace period per two nodes.
 * Not run by `test_rc` without a part name. */

struct two {
  smr_atomic_rc a, b;
  uint32_t id;
};

static size_t g_two_n, g_two_drops;

static void two_edges(void *p, smr_rc_edges *out) {
  struct two *t = p;
  smr_rc_edges_take(out, &t->a);
  smr_rc_edges_take(out, &t->b);
}
static void two_drop(void *p, smr_rc_handle *h) {
  (void)h;
  CHECK(((struct two *)p)->id < g_two_n);
  g_two_drops++;
}
static const smr_rc_type two_type = {"two", 0, two_drop, two_edges};

static smr_rc two_new(smr_rc_handle *h, uint32_t id, smr_rc a, smr_rc b) {
  smr_rc r;
  CHECK_EQ(smr_rc_new(h, &two_type, sizeof(struct two), &r), 0);
  struct two *t = smr_rc_ptr(r);
  t->id = id;
  smr_arc_init(&t->a, &a);
  smr_arc_init(&t->b, &b);
  return r;
}

/* Release root; at most two rounds of smr_rc_collect / smr_synchronize.
 * Returns whether the header's promise held (a report on stderr if not). */
static bool two_release(const char *what, smr_rc_domain *rd, smr_rc_handle *h,
                        smr_rc *root, size_t n) {
  g_two_n = n;
  g_two_drops = 0;
  uint64_t g0 = gps(rd);
  struct smr_rc_stats s0 = stats(rd);
  smr_rc_release(h, root);
  for (int round = 0; round < 2 && g_two_drops < n; round++) {
    CHECK(smr_rc_collect(h) >= 0);
    if (g_two_drops < n)
      CHECK_EQ(smr_synchronize(smr_rc_domain_epoch(rd)), 0);
  }
  uint64_t g1 = gps(rd);
  struct smr_rc_stats st = stats(rd);
  size_t left = n - g_two_drops;
  CHECK_EQ(smr_rc_barrier(h), 0);
  uint64_t g2 = gps(rd);
  CHECK_EQ(g_two_drops, n);
  uint64_t deferred = st.deferred - s0.deferred;
  if (left || deferred != 1) {
    fprintf(stderr,
            "BUG %s: %zu of %zu objects left after %llu grace periods; "
            "%llu of them waited a grace period of their own (expected 1: "
            "the root), %llu destroyed at once; all destroyed after %llu "
            "grace periods\n",
            what, left, n, (unsigned long long)(g1 - g0),
            (unsigned long long)deferred,
            (unsigned long long)(st.immediate - s0.immediate),
            (unsigned long long)(g2 - g0));
    return false;
  }
  return true;
}

static void test_shared_children(void) {
  smr_rc_domain *rd = make(0, 65536);
  smr_rc_handle *h = reg(rd);
  smr_rc d = two_new(h, 3, SMR_RC_NULL, SMR_RC_NULL);
  smr_rc b = two_new(h, 1, rc_clone(d), SMR_RC_NULL);
  smr_rc c = two_new(h, 2, d, SMR_RC_NULL);
  smr_rc a = two_new(h, 0, b, c);
  bool ok = two_release("diamond", rd, h, &a, 4);

  enum { LADDER = 10000 };
  smr_rc n1 = SMR_RC_NULL, n2 = SMR_RC_NULL;
  for (uint32_t i = LADDER; i-- > 0;) {
    smr_rc x = two_new(h, i, smr_rc_is_null(n1) ? n1 : rc_clone(n1), n2);
    n2 = n1;
    n1 = x;
  }
  smr_rc_release(h, &n2); /* the test's reference to node 1 */
  ok &= two_release("ladder", rd, h, &n1, LADDER);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK(ok); /* see the BUG lines above */
}

/* ---- destroy ------------------------------------------------------------- */

static void pp_new_release(struct puppet *p) {
  p->rc = obj_new(p->h, 99);
  p->err = (int)O(p->rc.p)->id;
  smr_rc_release(p->h, &p->rc);
}

static void test_destroy(void) {
  /* Live handles: -EBUSY and nothing changes; pending objects of
   * unregistered handles are destroyed by destroy, with a handle that has
   * a reader record (the first version's had none). */
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  struct puppet a;
  puppet_start(&a, rd);
  puppet_do(&a, pp_register);
  puppet_do(&a, pp_enter);
  smr_rc o = obj_new(h, 1);
  unsigned oid = O(o.p)->id;
  smr_rc plain = obj_new(h, 4), edge = obj_new(h, 5);
  unsigned plain_id = O(plain.p)->id, edge_id = O(edge.p)->id;
  smr_rc hr = holder_new(h, plain, edge);
  g_holder_edges = g_holder_drops = 0;
  g_drop_reader_null = 0;
  smr_rc_release(h, &o);
  smr_rc_release(h, &hr);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EBUSY);
  CHECK_EQ(smr_rc_handle_unregister(h), 0); /* a's section: orphans */
  CHECK_EQ(smr_rc_domain_destroy(rd), -EBUSY);
  CHECK_EQ(drops_id(oid), 0);
  CHECK_EQ(g_holder_drops, 0);
  CHECK_STATS(rd, 4, 0, 0, 2, 0, 2);
  puppet_do(&a, pp_leave);
  puppet_do(&a, pp_unregister);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0); /* with the children */
  puppet_stop(&a);
  CHECK_EQ(drops_id(oid), 1);
  CHECK_EQ(drops_id(plain_id), 1);
  CHECK_EQ(drops_id(edge_id), 1);
  CHECK_EQ(g_holder_drops, 1);
  CHECK(!g_drop_reader_null);

  /* A live thread's handle: -EBUSY; once it exits registered: 0, and its
   * pending object is destroyed. */
  rd = make(0, 0);
  puppet_start(&a, rd);
  puppet_do(&a, pp_register);
  puppet_do(&a, pp_new_release);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EBUSY);
  CHECK_EQ(drops_id((unsigned)a.err), 0);
  puppet_do(&a, pp_quit_registered);
  CHECK_EQ(pthread_join(a.t, NULL), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK_EQ(drops_id((unsigned)a.err), 1);

  /* A given smr_domain: destroy inside one of its sections, with an object
   * waiting for a grace period, is -EDEADLK (rd stays valid); outside it
   * succeeds, and the given domain stays. */
  smr_domain *d;
  CHECK_EQ(smr_domain_create(NULL, &d), 0);
  struct smr_rc_domain_attr at = {.domain = d};
  CHECK_EQ(smr_rc_domain_create(&at, &rd), 0);
  CHECK(smr_rc_domain_epoch(rd) == d);
  h = reg(rd);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  o = obj_new(h, 3);
  oid = O(o.p)->id;
  smr_enter(r);
  smr_rc_release(h, &o);
  CHECK_EQ(smr_rc_handle_unregister(h), 0); /* r's section: an orphan */
  CHECK_EQ(drops_id(oid), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EDEADLK);
  CHECK_EQ(drops_id(oid), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EDEADLK);
  CHECK_STATS(rd, 1, 0, 0, 1, 0, 1);
  smr_leave(r);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK_EQ(drops_id(oid), 1);
  CHECK_EQ(smr_synchronize(d), 0);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

/* ---- weak_edge --------------------------------------------------------------
 * Weak references handed to a destruction (smr_rc_edges_push_weak /
 * smr_rc_edges_take_weak).  free: the last weak references of destroyed
 * objects go with their holder's destruction: the memory is freed in the
 * same step (pending 0; on an SMR_RC_DEFERRED domain it waits a grace
 * period).  release, store: a section holds a weak snapshot of a destroyed
 * X, taken through a way that then ends by a holder's weak release
 * (release) or by a move into an atomic weak location of an object that
 * is then destroyed at once as a child (store); the last weak reference
 * then goes as an edge, and X's memory must wait for that section (freed
 * at once, the section's upgrade read freed memory). */
struct wnode {
  uint64_t magic;
  uint32_t id;
  smr_atomic_rc child;
  smr_weak back; /* plain field: set before publication */
  smr_atomic_weak aback;
};

/* The end of a case: unregister h, destroy rd (nothing left). */
static void rd_done(smr_rc_domain *rd, smr_rc_handle *h) {
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* A helper thread with a handle of rd. */
static void puppet_up(struct puppet *p, smr_rc_domain *rd) {
  puppet_start(p, rd);
  puppet_do(p, pp_register);
}

/* Its handle goes, then the thread. */
static void puppet_down(struct puppet *p) {
  puppet_do(p, pp_unregister);
  puppet_stop(p);
}

static void wnode_edges(void *p, smr_rc_edges *out) {
  struct wnode *n = p;
  CHECK(n->magic == LIVE);
  smr_rc_edges_take(out, &n->child);
  smr_rc_edges_push_weak(out, &n->back);
  CHECK(smr_weak_is_null(n->back));
  smr_rc_edges_take_weak(out, &n->aback);
  CHECK(smr_weak_snap_is_null(smr_aweak_load(&n->aback)));
  smr_weak none = {0};
  smr_rc_edges_push_weak(out, &none);
}

static void wnode_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct wnode *n = p;
  CHECK(n->magic == LIVE);
  n->magic = DEAD;
  CHECK_EQ(atomic_fetch_add(&g_drop[n->id], 1), 0);
}

static const smr_rc_type wnode_type = {"wnode", 0, wnode_drop, wnode_edges};

static smr_rc wnode_new(smr_rc_handle *h) {
  unsigned id = atomic_fetch_add(&g_ids, 1);
  CHECK(id < MAX_OBJ);
  smr_rc r;
  CHECK_EQ(smr_rc_new(h, &wnode_type, sizeof(struct wnode), &r), 0);
  struct wnode *n = smr_rc_ptr(r);
  n->magic = LIVE;
  n->id = id;
  return r;
}

static void weak_edge_free(unsigned flags) {
  smr_rc_domain *rd = make(flags, 0);
  smr_rc_handle *h = reg(rd);
  smr_rc x = obj_new(h, 1), y = obj_new(h, 2), p = wnode_new(h);
  struct obj *X = O(x.p), *Y = O(y.p);
  struct wnode *P = smr_rc_ptr(p);
  unsigned pid = P->id;
  CHECK_EQ(smr_rc_downgrade(x, &P->back), 0); /* P not published yet */
  smr_weak wy;
  CHECK_EQ(smr_rc_downgrade(y, &wy), 0);
  smr_aweak_init(&P->aback, &wy);
  smr_rc_release(h, &x);
  smr_rc_release(h, &y);
  CHECK_EQ(smr_rc_barrier(h), 0);
  /* X and Y destroyed; their memory stays for P's weak references. */
  CHECK_STATS(rd, 3, 2, 0, 2, 0, 0);
  CHECK_COUNTS(X, 0, 1, true);
  CHECK_COUNTS(Y, 0, 1, true);
  smr_rc_release(h, &p);
  collect_until(h, dropped_once, &pid);
  if (flags & SMR_RC_DEFERRED) {
    CHECK_STATS(rd, 3, 3, 1, 3, 0, 2); /* X's and Y's memory waits */
    CHECK_COUNTS(X, 0, 0, true);
    CHECK_COUNTS(Y, 0, 0, true);
  } else {
    CHECK_STATS(rd, 3, 3, 3, 3, 0, 0); /* freed with P's destruction */
  }
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 3, 3, 3, 3, 0, 0);
  rd_done(rd, h);
}

/* release: B holds a weak reference to X, takes its weak snapshot in a
 * section and releases it; P, whose grace period began before B's section
 * (A's section held it), then drops X's last weak reference as an edge. */
static void weak_edge_release(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  struct puppet a, b;
  puppet_up(&a, rd);
  puppet_up(&b, rd);
  smr_rc x = obj_new(h, 1), p = wnode_new(h);
  struct obj *X = O(x.p);
  struct wnode *P = smr_rc_ptr(p);
  unsigned pid = P->id;
  CHECK_EQ(smr_rc_downgrade(x, &P->back), 0);
  CHECK_EQ(smr_rc_downgrade(x, &b.w), 0);
  smr_rc_release(h, &x);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_COUNTS(X, 0, 2, true);
  puppet_do(&a, pp_enter);
  smr_rc_release(h, &p);         /* P: zero, pending */
  CHECK(smr_rc_collect(h) >= 0); /* its grace period starts; A blocks it */
  puppet_do(&b, pp_enter);
  puppet_do(&b, pp_wsnap_release);
  CHECK_EQ(b.ws.p, (uintptr_t)X);
  CHECK_COUNTS(X, 0, 1, true);
  CHECK_EQ(drops_id(pid), 0);
  puppet_do(&a, pp_leave);
  collect_until(h, dropped_once, &pid); /* never waits: B is still inside */
  struct smr_rc_stats st = stats(rd);
  if (st.freed != 1) {
    fprintf(stderr, "BUG: X's memory freed by a weak edge while a section "
                    "holds a weak snapshot of it (its weak reference was "
                    "released by its holder)\n");
    abort();
  }
  CHECK_EQ(st.pending, 1);
  puppet_do(&b, pp_wsnap_upgrade);
  CHECK_EQ(b.err, -ESTALE);
  puppet_do(&b, pp_leave);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 2, 2, 2, 2, 0, 0);
  puppet_down(&a);
  puppet_down(&b);
  rd_done(rd, h);
}

/* store: X's only weak reference lies in the location wloc (init: never
 * stored); B's section takes a weak snapshot of it; then the main thread
 * moves it into P's atomic weak field (swap, store) through a snapshot of
 * P in its own section, P's only strong reference being G's field and G
 * pending.  G goes after the main thread's section, P with it at once
 * (its stamp is old), and P's edge drops X's last weak reference. */
static void weak_edge_store(void) {
  smr_rc_domain *rd = make(0, 0);
  smr_rc_handle *h = reg(rd);
  struct puppet b;
  puppet_up(&b, rd);
  smr_atomic_weak wloc;
  smr_rc x = obj_new(h, 1), g = obj_new(h, 2), p = wnode_new(h);
  struct obj *X = O(x.p), *G = O(g.p);
  unsigned gid = G->id;
  smr_weak w;
  CHECK_EQ(smr_rc_downgrade(x, &w), 0);
  smr_aweak_init(&wloc, &w);
  smr_arc_init(&G->child, &p);
  smr_rc_release(h, &x);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_COUNTS(X, 0, 1, true);
  for (int i = 0; i < 3; i++) /* P's stamp is old */
    CHECK_EQ(smr_synchronize(smr_rc_domain_epoch(rd)), 0);
  smr_rc_enter(h);
  smr_snap sp = smr_arc_load(&G->child);
  struct wnode *P = smr_snap_ptr(sp);
  unsigned pid = P->id;
  smr_rc_release(h, &g);         /* G: zero, pending */
  CHECK(smr_rc_collect(h) >= 0); /* its grace period starts; we block it */
  b.wloc = &wloc;
  puppet_do(&b, pp_enter);
  puppet_do(&b, pp_wload);
  CHECK_EQ(b.ws.p, (uintptr_t)X);
  smr_weak none = {0};
  smr_weak moved = smr_aweak_swap(&wloc, &none);
  CHECK_EQ(moved.p, (uintptr_t)X);
  smr_aweak_store(h, &P->aback, &moved);
  smr_rc_leave(h);
  collect_until(h, dropped_once, &gid); /* never waits: B is still inside */
  CHECK_EQ(drops_id(pid), 1); /* P's memory is gone: no weak reference */
  struct smr_rc_stats st = stats(rd);
  CHECK_EQ(st.immediate, 1); /* P went with G */
  if (st.freed != 2) {
    fprintf(stderr, "BUG: X's memory freed by a weak edge while a section "
                    "holds a weak snapshot of it (its weak reference was "
                    "stored into an atomic weak location)\n");
    abort();
  }
  puppet_do(&b, pp_wsnap_upgrade);
  CHECK_EQ(b.err, -ESTALE);
  puppet_do(&b, pp_leave);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_STATS(rd, 3, 3, 3, 2, 1, 0);
  puppet_down(&b);
  rd_done(rd, h);
}

static void test_weak_edge(void) {
  weak_edge_free(0);
  weak_edge_free(SMR_RC_DEFERRED);
  weak_edge_release();
  weak_edge_store();
}

int main(int argc, char **argv) {
  static const struct test_part parts[] = {
      {"args", test_args},
      {"handles", test_handles},
      {"counts", test_counts},
      {"atomic", test_atomic},
      {"tags", test_tags},
      {"weak", test_weak},
      {"limits", test_limits},
      {"resurrect", test_resurrect},
      {"section_child", test_section_child},
      {"callbacks", test_callbacks},
      {"graph", test_graph},
      {"chain", test_chain},
      {"chain_deferred", test_chain_deferred},
      {"destroy", test_destroy},
      {"ring", test_ring},
      {"shared_children", test_shared_children},
      {"stale_stamp", test_stale_stamp},
      {"weak_edge", test_weak_edge},
  };
  int rc = TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
  if (rc == 0)
    printf("test_rc %s: ok\n", argc > 1 ? argv[1] : "(all)");
  return rc;
}
