/* SPDX-License-Identifier: MIT */
/* Swap cell regressions found in review of the issue 10 changes (C.11-C.18,
 * A.4).  One ctest entry per part (argv[1] names it):
 *
 *   mw-cancel  multi-writer cell, writer-side barrier refused: an exchange
 *              that publishes and then gives up (-ECANCELED) while another
 *              writer filled the garbage up to its bound pushed the garbage
 *              one past the bound (the waiting exchange's old value was not
 *              counted, so the other writer's stores were not refused).
 *   cas-reenter  compare_exchange whose collection (at the bound) runs a
 *              destructor that stores into the cell (allowed in
 *              single-writer mode): the version was compared before that
 *              collection, so the call replaced the destructor's value and
 *              returned 0 although the expected value was no longer
 *              published.
 *   debug-mix  this file is compiled with SMR_DEBUG; the library may not
 *              be (a Release libsmr).  Guards filled by the library
 *              (smr_swap_load, smr_swap_reader_filter, update_and_fetch,
 *              fetch_and_update) had no release-order depth, so the
 *              caller's debug release aborted ("released out of order") on
 *              correct LIFO code.
 *   dtor-reader  a destructor run by smr_swap_destroy (and one run by the
 *              smr_swap_reader_destroy after it) destroys an idle reader
 *              handle of the same cell: it used to lock the cell's mutex
 *              its caller held and hang for good (alarm: fails in 20 s).
 *   fork       SMR_DEBUG library builds: a thread keeps calling
 *              smr_swap_get (each call takes the debug registry's lock)
 *              while the main thread forks; each child calls
 *              smr_swap_version.  A child forked while the lock was held
 *              used to block on it for good (alarm in the child: fails).
 *              Passes trivially where the library has no registry.
 *   version    C.12 under concurrency, with nodes recycled constantly
 *              (threshold 1): v1 = version(); read (guard version g);
 *              v2 = version(): v1 <= g <= v2, and g is the version of the
 *              value the guard returned.  Bounded by iterations.
 */
#define _GNU_SOURCE
#ifndef SMR_DEBUG
#define SMR_DEBUG 1 /* the caller's checks on, whatever the library's */
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"
#include "swap_ints.h"
#include "test_hooks.h"

static void set_barrier_error(int err) {
  /* relaxed: set while no writer call runs (test_hooks.h). */
  atomic_store_explicit(&smr__test_barrier_error, err, memory_order_relaxed);
}

/* ---- mw-cancel ----------------------------------------------------------- */

struct xarg {
  smr_swap *c;
  void *v;
  int rc;
  void *old;
};

static void *exchanger(void *p) {
  struct xarg *a = p;
  a->rc = smr_swap_exchange(a->c, a->v, &a->old);
  return NULL;
}

static void part_mw_cancel(void) {
  struct smr_swap_attr at = {SMR_SWAP_MULTI_WRITER, 4, NULL};
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(mk(), dtor, &at, &c), 0);
  smr_swap_reader *r = NULL; /* a handle: the barrier is the heavy one */
  CHECK_EQ(smr_swap_reader_create(c, &r), 0);
  set_barrier_error(-EPERM);
  struct xarg a = {c, mk(), 1, NULL};
  uint64_t v0 = smr_swap_version(c);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, exchanger, &a), 0);
  /* Wait until the exchange has published (it then waits ~0.1 s for a
   * barrier before giving up with -ECANCELED). */
  while (smr_swap_version(c) == v0)
    sched_yield();
  /* Meanwhile another writer stores until refused. */
  int refused = 0;
  for (int i = 0; i < 100 && !refused; i++) {
    void *v = mk();
    int rc = smr_swap_store(c, v);
    if (rc) {
      CHECK_EQ(rc, -ENOBUFS);
      drop(v);
      refused = 1;
    }
  }
  CHECK(refused);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(a.rc, -ECANCELED);
  CHECK(a.old == NULL);
  struct smr_swap_stats st;
  CHECK_EQ(smr_swap_stats(c, &st), 0);
  if (st.garbage > st.bound)
    fprintf(stderr, "mw-cancel: %zu retired values, bound %zu\n", st.garbage,
            st.bound);
  CHECK(st.garbage <= st.bound);
  set_barrier_error(0);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, nmade);
  nmade = ndestroyed = 0;
}

/* ---- cas-reenter --------------------------------------------------------- */

static smr_swap *re_cell;
static void *re_val;
static int re_rc = 1;

static void re_dtor(void *p, void *ctx) {
  dtor(p, ctx);
  if (re_val) { /* once: store from the destructor (single-writer mode) */
    void *v = re_val;
    re_val = NULL;
    re_rc = smr_swap_store(re_cell, v);
  }
}

static void part_cas_reenter(void) {
  struct smr_swap_attr at = {0, 2, NULL};
  CHECK_EQ(smr_swap_create(mk(), re_dtor, &at, &re_cell), 0);
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(re_cell, &r), 0);
  /* Fill the garbage to its bound with barriers refused. */
  set_barrier_error(-EPERM);
  int refused = 0;
  for (int i = 0; i < 100 && !refused; i++) {
    void *v = mk();
    int rc = smr_swap_store(re_cell, v);
    if (rc) {
      CHECK_EQ(rc, -ENOBUFS);
      drop(v);
      refused = 1;
    }
  }
  CHECK(refused);
  set_barrier_error(0);
  /* The next publish collects first; that collection's destructor stores. */
  smr_swap_guard g;
  void *seen = smr_swap_read(r, &g);
  re_val = mk();
  void *mine = mk();
  int rc = smr_swap_compare_exchange(re_cell, &g, mine);
  smr_swap_guard_release(&g);
  CHECK_EQ(re_rc, 0); /* the destructor's store went through */
  CHECK(re_val == NULL);
  if (rc == 0)
    fprintf(stderr,
            "cas-reenter: compare_exchange returned 0 although the "
            "destructor published a new value (expected value %p)\n",
            seen);
  CHECK_EQ(rc, -EAGAIN);
  CHECK(smr_swap_get(re_cell) != mine);
  drop(mine);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(re_cell), 0);
  CHECK_EQ(ndestroyed, nmade);
  nmade = ndestroyed = 0;
}

/* ---- debug-mix ----------------------------------------------------------- */

static void *plus_one(const void *cur, void *arg) {
  (void)cur;
  (void)arg;
  return mk();
}

static bool yes(const void *v, void *arg) {
  (void)v;
  (void)arg;
  return true;
}

static bool no(const void *v, void *arg) {
  (void)v;
  (void)arg;
  return false;
}

static void part_debug_mix(void) {
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(mk(), dtor, NULL, &c), 0);
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &r), 0);
  smr_swap_guard g1, g2, g3;
  /* Garbage in the guards, as on a real stack. */
  memset(&g1, 0xa5, sizeof g1);
  memset(&g2, 0x5a, sizeof g2);
  memset(&g3, 0x77, sizeof g3);
  /* Library-filled guards released by this (SMR_DEBUG) file, LIFO. */
  CHECK(smr_swap_load(c, &g1) != NULL);
  CHECK(smr_swap_load(c, &g2) != NULL); /* nested */
  smr_swap_guard_release(&g2);
  smr_swap_guard_release(&g1);
  CHECK(smr_swap_read(r, &g1) != NULL); /* inline read, this file */
  CHECK(smr_swap_reader_filter(r, yes, NULL, &g2));
  CHECK(!smr_swap_reader_filter(r, no, NULL, &g3));
  smr_swap_guard_release(&g2);
  smr_swap_guard_release(&g1);
  memset(&g1, 0xa5, sizeof g1);
  CHECK_EQ(smr_swap_update_and_fetch(c, plus_one, NULL, &g1), 0);
  smr_swap_guard_release(&g1);
  memset(&g1, 0x5a, sizeof g1);
  CHECK_EQ(smr_swap_fetch_and_update(c, plus_one, NULL, &g1), 0);
  CHECK(smr_swap_load(c, &g2) != NULL); /* nested on the own reader */
  smr_swap_guard_release(&g2);
  smr_swap_guard_release(&g1);
  CHECK(!smr_swap_reader_is_pinned(r));
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, nmade);
  nmade = ndestroyed = 0;
}

/* ---- dtor-reader --------------------------------------------------------- */

static smr_swap_reader *dr_victim;
static void *dr_trigger;
static int dr_rc = 1;

static void dr_dtor(void *p, void *ctx) {
  if (p == dr_trigger && dr_victim) {
    smr_swap_reader *r = dr_victim;
    dr_victim = NULL;
    dr_rc = smr_swap_reader_destroy(r);
  }
  dtor(p, ctx);
}

static void part_dtor_reader(void) {
  alarm(20); /* a hang fails the test */
  for (int late = 0; late < 2; late++) {
    for (unsigned mode = 0; mode < 2; mode++) {
      struct smr_swap_attr at = {mode ? SMR_SWAP_MULTI_WRITER : 0, 0, NULL};
      smr_swap *c = NULL;
      void *v0 = mk();
      CHECK_EQ(smr_swap_create(v0, dr_dtor, &at, &c), 0);
      smr_swap_reader *keep = NULL, *pin = NULL;
      CHECK_EQ(smr_swap_reader_create(c, &dr_victim), 0);
      CHECK_EQ(smr_swap_reader_create(c, &keep), 0);
      CHECK_EQ(smr_swap_reader_create(c, &pin), 0);
      smr_swap_guard g;
      CHECK(smr_swap_read(pin, &g) == v0); /* late: v0 outlives destroy */
      if (!late)
        smr_swap_guard_release(&g);
      CHECK_EQ(smr_swap_store(c, mk()), 0);
      dr_trigger = v0;
      dr_rc = 1;
      CHECK_EQ(smr_swap_destroy(c), 0);
      if (late) {
        CHECK_EQ(dr_rc, 1); /* v0 still pinned */
        smr_swap_guard_release(&g);
        CHECK_EQ(smr_swap_reader_destroy(pin), 0); /* destroys v0 */
      } else {
        CHECK_EQ(smr_swap_reader_destroy(pin), 0);
      }
      CHECK_EQ(dr_rc, 0);
      CHECK(dr_victim == NULL);
      CHECK_EQ(smr_swap_reader_destroy(keep), 0); /* the last: frees */
      CHECK_EQ(ndestroyed, nmade);
      nmade = ndestroyed = 0;
    }
  }
  alarm(0);
}

/* ---- fork ---------------------------------------------------------------- */

static _Atomic int fork_stop;

static void *fork_hammer(void *p) {
  smr_swap *c = p;
  /* relaxed: only ends the loop. */
  while (!atomic_load_explicit(&fork_stop, memory_order_relaxed))
    (void)smr_swap_get(c);
  return NULL;
}

static void part_fork(void) {
  static int v = 7;
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(&v, NULL, NULL, &c), 0);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, fork_hammer, c), 0);
  int hung = 0;
  for (int i = 0; i < 50; i++) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      alarm(5);
      _exit(smr_swap_version(c) == 0 && smr_swap_get(c) == &v ? 0 : 3);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      hung++;
  }
  /* relaxed: see fork_hammer. */
  atomic_store_explicit(&fork_stop, 1, memory_order_relaxed);
  CHECK_EQ(pthread_join(t, NULL), 0);
  if (hung)
    fprintf(stderr, "fork: %d of 50 children hung or failed\n", hung);
  CHECK_EQ(hung, 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
}

/* ---- version ------------------------------------------------------------- */

#define NVER 200000
static uint64_t ver_of[NVER + 1]; /* value i+1 published as version i+1 */
static _Atomic int ver_stop;

static void *ver_writer(void *p) {
  smr_swap *c = p;
  for (uint64_t i = 1; i <= NVER; i++)
    CHECK_EQ(smr_swap_store(c, &ver_of[i]), 0);
  /* relaxed: only ends the reader's loop. */
  atomic_store_explicit(&ver_stop, 1, memory_order_relaxed);
  return NULL;
}

static void part_version(void) {
  for (uint64_t i = 0; i <= NVER; i++)
    ver_of[i] = i;
  struct smr_swap_attr at = {0, 1, NULL}; /* recycle nodes at once */
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(&ver_of[0], NULL, &at, &c), 0);
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &r), 0);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, ver_writer, c), 0);
  uint64_t last = 0;
  long n = 0;
  /* relaxed: see ver_writer. */
  while (!atomic_load_explicit(&ver_stop, memory_order_relaxed)) {
    uint64_t v1 = smr_swap_reader_version(r);
    smr_swap_guard g;
    const uint64_t *val = smr_swap_read(r, &g);
    uint64_t gv = smr_swap_guard_version(&g);
    uint64_t inval = *val;
    smr_swap_guard_release(&g);
    uint64_t v2 = smr_swap_reader_version(r);
    if (!(last <= v1 && v1 <= gv && gv <= v2 && inval == gv))
      fprintf(stderr,
              "version: last %llu v1 %llu guard %llu (value %llu) "
              "v2 %llu\n",
              (unsigned long long)last, (unsigned long long)v1,
              (unsigned long long)gv, (unsigned long long)inval,
              (unsigned long long)v2);
    CHECK(last <= v1 && v1 <= gv && gv <= v2 && inval == gv);
    last = v2;
    n++;
  }
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(smr_swap_version(c), NVER);
  CHECK(n > 0);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
}

int main(int argc, char **argv) {
  static const struct test_part parts[] = {
      {"mw-cancel", part_mw_cancel}, {"cas-reenter", part_cas_reenter},
      {"debug-mix", part_debug_mix}, {"dtor-reader", part_dtor_reader},
      {"fork", part_fork},           {"version", part_version}};
  return TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
}
