/* SPDX-License-Identifier: MIT */
/* smr/rc.h: the review's cases; each failed on the first version.
 *   stamp_release, stamp_store, stamp_upgrade  an event 128-255 grace
 *       periods after the object's last stamp must stamp it (the stamp was
 *       compared as a residue and kept: a child reaching zero by an edge
 *       would then be destroyed at once while a section still read it)
 *   shared_child     a child held twice by a dying parent is destroyed at
 *                    once (the first edge's decrement stamped it)
 *   barrier_orphans  smr_rc_barrier destroys what unregistered handles and
 *                    terminated threads left
 *   exit_registered  a thread that exits with its handle registered: its
 *                    pending objects are destroyed by smr_rc_domain_destroy
 *   destroy_drop_section  a drop run by smr_rc_domain_destroy may use a read
 *                    section with the handle it gets (it had no reader)
 *   destroy_in_section  smr_rc_domain_destroy inside a section of the given
 *                    domain: -EDEADLK, rd stays valid
 *   own_domain_busy  the domain's own smr_domain with a reader registered
 *                    outside rc: -EBUSY, rd stays valid (it was freed, the
 *                    smr_domain leaked)
 *   release_null     smr_rc_release / smr_weak_release with a NULL handle
 *                    keep the reference (it was silently dropped); so do
 *                    smr_rc_edges_push / push_weak with a NULL out
 *   root_reuse       a root freed in its own step of the destruction loop
 *                    and its memory reused by an object destroyed later in
 *                    the same loop: that object was taken for the root */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "smr/rc.h"
#include "test_hooks.h"

static _Atomic int drops;

static void count_drop(void *obj, smr_rc_handle *h) {
  (void)obj;
  (void)h;
  atomic_fetch_add_explicit(&drops, 1, memory_order_relaxed);
}

static const smr_rc_type leaf = {"leaf", 0, count_drop, NULL};

struct pair {
  smr_atomic_rc a, b;
};

static void pair_edges(void *obj, smr_rc_edges *out) {
  struct pair *p = obj;
  smr_rc_edges_take(out, &p->a);
  smr_rc_edges_take(out, &p->b);
}

static const smr_rc_type pair_type = {"pair", 0, count_drop, pair_edges};

static void setup(smr_rc_domain **rd, smr_rc_handle **h) {
  CHECK_EQ(smr_rc_domain_create(NULL, rd), 0);
  CHECK_EQ(smr_rc_handle_register(*rd, h), 0);
  atomic_store_explicit(&drops, 0, memory_order_relaxed);
}

static void teardown(smr_rc_domain *rd, smr_rc_handle *h) {
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

static const unsigned distances[] = {0,   1,   127, 128, 129, 200,
                                     254, 255, 256, 300, 383, 384};
#define NDIST (sizeof distances / sizeof distances[0])

static void advance(smr_domain *d, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    CHECK_EQ(smr_synchronize(d), 0);
}

/* The event just done (what, dist grace periods after x's last stamp) must
 * have stamped x anew: its stamp is not old. */
static void check_fresh(const void *x, smr_domain *d, const char *what,
                        unsigned dist) {
  if (smr__rc_test_stamp_old(x, d)) {
    fprintf(stderr, "%s %u grace periods on: stamp kept\n", what, dist);
    CHECK(0);
  }
}

static void test_stamp_release(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_domain *d = smr_rc_domain_epoch(rd);
  for (unsigned i = 0; i < NDIST; i++) {
    smr_rc x, y;
    CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
    CHECK_EQ(smr_rc_clone(x, &y), 0);
    advance(d, distances[i]);
    smr_rc_release(h, &y);
    check_fresh(smr_rc_ptr(x), d, "release", distances[i]);
    smr_rc_release(h, &x);
  }
  teardown(rd, h);
  CHECK_EQ(drops, NDIST);
}

static void test_stamp_store(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_domain *d = smr_rc_domain_epoch(rd);
  smr_atomic_rc loc = {0};
  for (unsigned i = 0; i < NDIST; i++) {
    smr_rc x, y;
    CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
    CHECK_EQ(smr_rc_clone(x, &y), 0);
    advance(d, distances[i]);
    smr_arc_store(h, &loc, &y);
    check_fresh(smr_rc_ptr(x), d, "store", distances[i]);
    smr_rc_release(h, &x);
  }
  smr_rc last = smr_arc_take(&loc);
  smr_rc_release(h, &last);
  teardown(rd, h);
  CHECK_EQ(drops, NDIST);
}

static void test_stamp_upgrade(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_domain *d = smr_rc_domain_epoch(rd);
  for (unsigned i = 0; i < NDIST; i++) {
    smr_rc x;
    smr_weak w;
    smr_snap s;
    CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
    CHECK_EQ(smr_rc_downgrade(x, &w), 0);
    advance(d, distances[i]);
    smr_rc_enter(h);
    CHECK_EQ(smr_weak_snap_upgrade(h, smr_weak_snapshot(w), &s), 0);
    CHECK(smr_snap_ptr(s) == smr_rc_ptr(x));
    check_fresh(smr_rc_ptr(x), d, "upgrade", distances[i]);
    smr_rc_leave(h);
    smr_rc_release(h, &x);
    smr_weak_release(h, &w);
  }
  teardown(rd, h);
  CHECK_EQ(drops, NDIST);
}

static void test_shared_child(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_rc p, x, x2;
  CHECK_EQ(smr_rc_new(h, &pair_type, sizeof(struct pair), &p), 0);
  CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
  CHECK_EQ(smr_rc_clone(x, &x2), 0);
  struct pair *pp = smr_rc_ptr(p);
  smr_arc_init(&pp->a, &x);
  smr_arc_init(&pp->b, &x2);
  smr_rc_release(h, &p);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops, 2);
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.deferred, 1);  /* the parent only */
  CHECK_EQ(st.immediate, 1); /* the child, on its second edge */
  CHECK_EQ(st.destroyed, 2);
  teardown(rd, h);
}

/* root_reuse: a root is freed at the end of its own step of the
 * destruction loop (no weak references); a child's edges callback then
 * allocates an object of the same size (glibc's cache hands back the root's
 * memory), ages its stamp and hands it over, so it is destroyed in the
 * same loop at the root's old address.  The first version of the
 * load-decided root (9779450) told the root by its address and gave that
 * object the root's add (DESTROYED once more: a carry into WEAKED and the
 * stamp; debug builds abort). */
static smr_domain *g_reuse_d;
static uintptr_t g_reuse_root; /* the root's address, as an integer */
static smr_rc g_reuse_obj;     /* the new object (for the test) */
static smr_weak g_reuse_weak;  /* keeps its memory */

static void reuse_edges(void *obj, smr_rc_edges *out) {
  smr_rc_edges_take(out, &((struct pair *)obj)->a);
}

static const smr_rc_type reuse_type = {"reuse", 0, count_drop, reuse_edges};

static void reuse_child_edges(void *obj, smr_rc_edges *out) {
  (void)obj;
  smr_rc n;
  smr_rc_handle *h = smr_rc_edges_handle(out);
  CHECK_EQ(smr_rc_new(h, &reuse_type, sizeof(struct pair), &n), 0);
  g_reuse_obj = n;
  CHECK_EQ(smr_rc_downgrade(n, &g_reuse_weak), 0);
  advance(g_reuse_d, 3); /* its stamp is old: destroyed in this loop */
  smr_rc_edges_push(out, &n);
}

static const smr_rc_type reuse_child_type = {"reuse_child", 0, count_drop,
                                             reuse_child_edges};

static void test_root_reuse(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  g_reuse_d = smr_rc_domain_epoch(rd);
  smr_rc r, c;
  CHECK_EQ(smr_rc_new(h, &reuse_type, sizeof(struct pair), &r), 0);
  CHECK_EQ(smr_rc_new(h, &reuse_child_type, 16, &c), 0);
  smr_arc_init(&((struct pair *)smr_rc_ptr(r))->a, &c);
  advance(g_reuse_d, 3); /* the child's stamp is old */
  g_reuse_root = (uintptr_t)smr_rc_ptr(r);
  smr_rc_release(h, &r);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops, 3);
  /* Destroyed once, its memory kept by the weak reference. */
  struct smr__rc_counts k = smr__rc_test_counts(smr_rc_ptr(g_reuse_obj));
  CHECK_EQ(k.strong, 0);
  CHECK_EQ(k.weak, 1);
  CHECK(k.destroyed);
  if ((uintptr_t)smr_rc_ptr(g_reuse_obj) != g_reuse_root)
    fprintf(stderr, "root_reuse: the allocator did not reuse the root's "
                    "memory (the case was not exercised)\n");
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.immediate, 2); /* the child and the new object */
  smr_weak_release(h, &g_reuse_weak);
  teardown(rd, h);
}

struct leaver {
  smr_rc_domain *rd;
  int n, unregister;
};

/* Release n objects (they wait on the handle's lists), then unregister or
 * just return (the thread exits registered). */
static void *leaver_main(void *arg) {
  struct leaver *l = arg;
  smr_rc_handle *h;
  CHECK_EQ(smr_rc_handle_register(l->rd, &h), 0);
  for (int i = 0; i < l->n; i++) {
    smr_rc x;
    CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
    smr_rc_release(h, &x);
  }
  if (l->unregister)
    CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

/* While the caller's section r (if any) is open, so that no grace period
 * completes and the leaver's objects stay pending. */
static void run_leaver(smr_rc_domain *rd, smr_reader *r, int n,
                       int unregister) {
  struct leaver l = {rd, n, unregister};
  pthread_t t;
  if (r)
    smr_enter(r);
  CHECK_EQ(pthread_create(&t, NULL, leaver_main, &l), 0);
  CHECK_EQ(pthread_join(t, NULL), 0);
  if (r)
    smr_leave(r);
}

static void test_barrier_orphans(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  run_leaver(rd, h->reader, 10, 1);
  CHECK_EQ(drops, 0);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops, 10);
  run_leaver(rd, h->reader, 7, 0); /* exits registered */
  CHECK_EQ(drops, 10);
  CHECK_EQ(smr_rc_barrier(h), 0);
  CHECK_EQ(drops, 17);
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.freed, 17);
  teardown(rd, h);
}

static void test_exit_registered(void) {
  smr_rc_domain *rd;
  CHECK_EQ(smr_rc_domain_create(NULL, &rd), 0);
  atomic_store_explicit(&drops, 0, memory_order_relaxed);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(smr_rc_domain_epoch(rd), &r), 0);
  run_leaver(rd, r, 10, 0);
  run_leaver(rd, r, 100, 0); /* more than a batch */
  run_leaver(rd, NULL, 5, 0);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK(drops < 115);
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.created, 115);
  CHECK_EQ(st.destroyed + st.pending, 115);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK_EQ(drops, 115);
}

static smr_atomic_rc global_loc;
static _Atomic int drop_sections;

static void section_drop(void *obj, smr_rc_handle *h) {
  (void)obj;
  CHECK(h != NULL && h->reader != NULL);
  smr_rc_enter(h);
  smr_snap s = smr_arc_load(&global_loc);
  CHECK(!smr_snap_is_null(s));
  CHECK_EQ(*(int *)smr_snap_ptr(s), 42);
  smr_rc_leave(h);
  /* And release what the location held: destroyed by the same call. */
  smr_rc none = SMR_RC_NULL;
  smr_rc old = smr_arc_swap(h, &global_loc, &none);
  smr_rc_release(h, &old);
  atomic_fetch_add_explicit(&drop_sections, 1, memory_order_relaxed);
}

static const smr_rc_type section_type = {"section", 0, section_drop, NULL};

static void test_destroy_drop_section(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_rc g, x;
  CHECK_EQ(smr_rc_new(h, &leaf, sizeof(int), &g), 0);
  *(int *)smr_rc_ptr(g) = 42;
  smr_arc_init(&global_loc, &g);
  CHECK_EQ(smr_rc_new(h, &section_type, 16, &x), 0);
  /* A section keeps x pending until the handle is gone, so that the
   * domain's destruction runs its drop. */
  smr_reader *r;
  CHECK_EQ(smr_reader_register(smr_rc_domain_epoch(rd), &r), 0);
  smr_enter(r);
  smr_rc_release(h, &x); /* its drop reads global_loc */
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  smr_leave(r);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(drop_sections, 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK_EQ(drop_sections, 1);
  CHECK_EQ(drops, 1); /* g, released by the drop */
}

static void test_destroy_in_section(void) {
  smr_domain *d;
  smr_reader *r;
  CHECK_EQ(smr_domain_create(NULL, &d), 0);
  CHECK_EQ(smr_reader_register(d, &r), 0);
  struct smr_rc_domain_attr attr = {0, d, 0};
  smr_rc_domain *rd;
  smr_rc_handle *h;
  CHECK_EQ(smr_rc_domain_create(&attr, &rd), 0);
  CHECK_EQ(smr_rc_handle_register(rd, &h), 0);
  atomic_store_explicit(&drops, 0, memory_order_relaxed);
  smr_rc x;
  CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
  smr_enter(r); /* from here no grace period completes */
  smr_rc_release(h, &x);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EDEADLK);
  smr_leave(r);
  CHECK_EQ(drops, 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
  CHECK_EQ(drops, 1);
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_domain_destroy(d), 0);
}

static void test_own_domain_busy(void) {
  smr_rc_domain *rd;
  smr_rc_handle *h;
  setup(&rd, &h);
  smr_rc x;
  CHECK_EQ(smr_rc_new(h, &leaf, 16, &x), 0);
  smr_rc_release(h, &x);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(smr_rc_domain_epoch(rd), &r), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), -EBUSY);
  CHECK_EQ(drops, 1); /* what was pending went anyway */
  CHECK_EQ(smr_reader_unregister(r), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

/* In a child: the call either stops on the debug assertion (SIGABRT) or
 * returns with the reference untouched.  kind 0: smr_rc_release, 1:
 * smr_weak_release (NULL handle); 2: smr_rc_edges_push, 3:
 * smr_rc_edges_push_weak (NULL out). */
static void release_null_child(int kind) {
  int weak = kind & 1;
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    smr_rc_domain *rd;
    smr_rc_handle *h;
    if (smr_rc_domain_create(NULL, &rd) || smr_rc_handle_register(rd, &h))
      _exit(3);
    smr_rc x;
    smr_weak w;
    if (smr_rc_new(h, &leaf, 16, &x) || smr_rc_downgrade(x, &w))
      _exit(3);
    uintptr_t before = weak ? w.p : x.p;
    if (kind == 0)
      smr_rc_release(NULL, &x);
    else if (kind == 1)
      smr_weak_release(NULL, &w);
    else if (kind == 2)
      smr_rc_edges_push(NULL, &x);
    else
      smr_rc_edges_push_weak(NULL, &w);
    _exit((weak ? w.p : x.p) == before ? 0 : 1);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
        (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT));
}

static void test_release_null(void) {
  for (int kind = 0; kind < 4; kind++)
    release_null_child(kind);
}

static const struct test_part parts[] = {
    {"stamp_release", test_stamp_release},
    {"stamp_store", test_stamp_store},
    {"stamp_upgrade", test_stamp_upgrade},
    {"shared_child", test_shared_child},
    {"barrier_orphans", test_barrier_orphans},
    {"exit_registered", test_exit_registered},
    {"destroy_drop_section", test_destroy_drop_section},
    {"destroy_in_section", test_destroy_in_section},
    {"own_domain_busy", test_own_domain_busy},
    {"release_null", test_release_null},
    {"root_reuse", test_root_reuse},
};

int main(int argc, char **argv) {
  return TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
}
