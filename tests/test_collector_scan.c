/* SPDX-License-Identifier: MIT */
/* The collector's batch sizes, registry scans and barriers (issue 13):
 *  counts    exact reclaim counts, stats.garbage / garbage_bytes /
 *            submitted after every single retire, batch 1, 2 and 0 (= 64),
 *            default and ROBUST, flush_ns = UINT64_MAX: the effective batch
 *            is max(batch, 2 x registered handles), with 1, 3, 4 and 40
 *            handles (the others idle threads); no node reclaimed early,
 *            none late, none twice.  Fails if the 2 x handles rule is
 *            missing or off by one, if a full batch waits, or if a partial
 *            one is submitted.
 *  scan      n = 1..10, 16, 31-33, 63-65, 127-130 threads registered (with
 *            unregister / register churn between rounds, and two churn
 *            threads registering, reading, retiring and unregistering
 *            during them), default and ROBUST.  A staircase: the k-th
 *            thread enters a section and protects nodes k..n-1, then node
 *            k is retired and flushed, so node k is held by the first k + 1
 *            threads and the (k + 1)-th is its last holder; the threads then
 *            leave in the same order.  After each leave the nodes of the
 *            threads still inside are not reclaimed, and (in the rounds
 *            without concurrent churn) the leaver's node has just been
 *            reclaimed by the leaver itself (balanced).  The threads go in
 *            the order a scan visits their records and in the reverse
 *            order (the test peeks at the private registry for it), so a
 *            scan that skips any record (the last, the first), or stops
 *            after 16 / 64 / 128 blockers, reclaims a node whose last
 *            holder is still inside.
 *  no_cliff  batch 8 with 40 threads inside sections (41 handles: batches
 *            of 82): K full batches retired by one thread cost exactly K
 *            submissions and at most K heavy barriers, whether the 40 sit
 *            in their sections (nothing reclaimed until they leave, then
 *            everything by the last leaver) or leave and re-enter in a
 *            loop; default, ROBUST and SYMMETRIC.  Fails with a barrier per
 *            blocker or per link, or with batches not grown with the
 *            handles.
 *  garbage_bytes  stats.garbage_bytes counts the bytes of the partial
 *            batches that stats.garbage counts (failed before the fix:
 *            0 for 7 unsubmitted nodes of 16 bytes).
 * Every wait is a condition variable or a bounded handshake; no sleeps.
 * VERBOSE=1 prints what the rounds saw.  An argument runs one part. */
#define _GNU_SOURCE
#include "check.h"
#include "collector_internal.h" /* the registry's order (scan) */
#include "collector_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { MAXW = 130, NCHURN = 2 };

static _Atomic long g_reclaims;

static void reclaim_item(struct smr_collector_node *n,
                         smr_collector_handle *h) {
  (void)h;
  struct item *it = SMR_CONTAINER_OF(n, struct item, node);
  it->by = pthread_self();
  /* release: `by` before a checker's acquire load of `reclaimed`. */
  CHECK_EQ(atomic_fetch_add_explicit(&it->reclaimed, 1, memory_order_release),
           0);
  /* relaxed: read after a handshake (mutex) that follows the reclaims. */
  atomic_fetch_add_explicit(&g_reclaims, 1, memory_order_relaxed);
  if (it->heap)
    free(it);
}

/* acquire: pairs with reclaim_item's release (its `by`). */
static int reclaimed(struct item *it) {
  return atomic_load_explicit(&it->reclaimed, memory_order_acquire);
}

/* relaxed: read after a handshake that orders the reclaims before it. */
static long reclaims(void) {
  return atomic_load_explicit(&g_reclaims, memory_order_relaxed);
}

static struct smr_collector_stats stats(smr_collector *c) {
  struct smr_collector_stats s;
  CHECK_EQ(smr_collector_stats(c, &s), 0);
  return s;
}

static int verbose;

/* ---- Worker threads, created once, driven by commands --------------------
 * A command is posted under the worker's mutex (cmd, arg, seq + 1); the
 * worker runs it and acknowledges (ack = seq).  The mutex orders the
 * worker's calls (its leave, the reclaims it ran) before the main thread's
 * checks after the acknowledgement, and the main thread's calls (its
 * flush, the links it pushed) before the worker's command. */
enum {
  CMD_REGISTER = 1, /* register, unless registered */
  CMD_REREGISTER,   /* unregister if registered, register again */
  CMD_UNREGISTER,   /* unregister, if registered */
  CMD_ENTER,        /* enter, protect g_slot[arg..g_nslots) */
  CMD_LEAVE,        /* check the protected nodes, leave */
  CMD_LOOP,         /* enter / protect g_slot[0] / leave until g_stop */
  CMD_EXIT
};

struct worker {
  pthread_t t;
  pthread_mutex_t m;
  pthread_cond_t cv;
  int seq, ack, cmd, arg; /* under m */
  /* The worker's own. */
  smr_collector_handle *h;
  struct item *seen[MAXW];
  int nseen;
  long loops;
};

static struct worker g_w[MAXW];
static smr_collector *g_c; /* set while every worker is unregistered */
static _Atomic(void *) g_slot[MAXW];
static _Atomic int g_nslots;  /* slots the workers protect */
static _Atomic int g_stop;    /* CMD_LOOP: stop */
static _Atomic int g_looping; /* CMD_LOOP: workers past their first section */

static void worker_cmd(struct worker *w) {
  switch (w->cmd) {
  case CMD_REREGISTER:
  case CMD_UNREGISTER:
    if (w->h)
      CHECK_EQ(smr_collector_unregister(w->h), 0);
    w->h = NULL;
    if (w->cmd == CMD_UNREGISTER)
      break;
    /* fall through */
  case CMD_REGISTER:
    if (!w->h)
      CHECK_EQ(smr_collector_register(g_c, &w->h), 0);
    break;
  case CMD_ENTER: {
    smr_collector_enter(w->h);
    w->nseen = 0;
    /* relaxed: set by the main thread before it posted the command. */
    int n = atomic_load_explicit(&g_nslots, memory_order_relaxed);
    for (int s = w->arg; s < n; s++) {
      struct item *p = smr_collector_protect(w->h, &g_slot[s]);
      CHECK(p != NULL);
      CHECK_EQ(reclaimed(p), 0);
      w->seen[w->nseen++] = p;
    }
    break;
  }
  case CMD_LEAVE:
    /* Still ours: reclaimed only after the leave below. */
    for (int i = 0; i < w->nseen; i++)
      CHECK_EQ(reclaimed(w->seen[i]), 0);
    w->nseen = 0;
    smr_collector_leave(w->h);
    break;
  case CMD_LOOP:
    w->loops = 0;
    /* acquire: pairs with the main thread's release store (nothing rides
     * on it but the stop itself). */
    while (!atomic_load_explicit(&g_stop, memory_order_acquire)) {
      smr_collector_enter(w->h);
      struct item *p = smr_collector_protect(w->h, &g_slot[0]);
      CHECK(p != NULL);
      CHECK_EQ(reclaimed(p), 0);
      smr_collector_leave(w->h);
      if (w->loops++ == 0)
        /* relaxed: a count the main thread waits for (nothing rides on
         * it). */
        atomic_fetch_add_explicit(&g_looping, 1, memory_order_relaxed);
      sched_yield();
    }
    break;
  }
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  int done = 0;
  for (;;) {
    pthread_mutex_lock(&w->m);
    while (w->seq == done)
      pthread_cond_wait(&w->cv, &w->m);
    done = w->seq;
    pthread_mutex_unlock(&w->m);
    worker_cmd(w); /* cmd and arg: unchanged until we acknowledge */
    pthread_mutex_lock(&w->m);
    w->ack = done;
    pthread_cond_broadcast(&w->cv);
    bool quit = w->cmd == CMD_EXIT;
    pthread_mutex_unlock(&w->m);
    if (quit)
      return NULL;
  }
}

static void post(struct worker *w, int cmd, int arg) {
  pthread_mutex_lock(&w->m);
  CHECK_EQ(w->ack, w->seq); /* one command at a time */
  w->cmd = cmd;
  w->arg = arg;
  w->seq++;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->m);
}

static void await(struct worker *w) {
  pthread_mutex_lock(&w->m);
  while (w->ack != w->seq)
    pthread_cond_wait(&w->cv, &w->m);
  pthread_mutex_unlock(&w->m);
}

static void run(struct worker *w, int cmd, int arg) {
  post(w, cmd, arg);
  await(w);
}

/* Workers [0, n) all run cmd at once. */
static void run_all(int n, int cmd) {
  for (int i = 0; i < n; i++)
    post(&g_w[i], cmd, 0);
  for (int i = 0; i < n; i++)
    await(&g_w[i]);
}

/* ---- Churn threads: register, read, retire, unregister -------------------
 * While running they loop: register, enter, protect a slot (checking its
 * node is not reclaimed), retire 1-3 nodes of their own, leave, flush now
 * and then, unregister.  Paused, they are unregistered and wait. */
static pthread_t g_churn_t[NCHURN];
static pthread_mutex_t g_churn_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_churn_cv = PTHREAD_COND_INITIALIZER;
static _Atomic int g_churn_mode; /* 0 paused, 1 running, 2 exit */
static int g_churn_parked;       /* under g_churn_m */
static smr_collector *g_churn_c; /* under g_churn_m */
static _Atomic long g_churn_retired, g_churn_reclaimed, g_churn_iters;

static void churn_reclaim(struct smr_collector_node *n,
                          smr_collector_handle *h) {
  (void)h;
  /* relaxed: counts compared once every thread is quiet (mutexes). */
  atomic_fetch_add_explicit(&g_churn_reclaimed, 1, memory_order_relaxed);
  free(SMR_CONTAINER_OF(n, struct item, node));
}

static void churn_once(smr_collector *c, long i) {
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  smr_collector_enter(h);
  struct item *p = smr_collector_protect(h, &g_slot[(i * 7) % MAXW]);
  if (p)
    CHECK_EQ(reclaimed(p), 0);
  for (long k = 0; k < 1 + i % 3; k++) {
    struct item *y = calloc(1, sizeof *y);
    CHECK(y);
    smr_collector_node_init(c, &y->node);
    CHECK_EQ(smr_collector_retire(h, &y->node, churn_reclaim, sizeof *y), 0);
    /* relaxed: see churn_reclaim. */
    atomic_fetch_add_explicit(&g_churn_retired, 1, memory_order_relaxed);
  }
  if (p)
    CHECK_EQ(reclaimed(p), 0);
  smr_collector_leave(h);
  if (i % 2)
    CHECK(smr_collector_flush(h) >= 0);
  CHECK_EQ(smr_collector_unregister(h), 0);
}

static void *churn_main(void *arg) {
  long i = (long)(intptr_t)arg;
  for (;;) {
    pthread_mutex_lock(&g_churn_m);
    g_churn_parked++;
    pthread_cond_broadcast(&g_churn_cv);
    /* relaxed: g_churn_m orders it. */
    while (atomic_load_explicit(&g_churn_mode, memory_order_relaxed) == 0)
      pthread_cond_wait(&g_churn_cv, &g_churn_m);
    g_churn_parked--;
    smr_collector *c = g_churn_c;
    int mode = atomic_load_explicit(&g_churn_mode, memory_order_relaxed);
    pthread_mutex_unlock(&g_churn_m);
    if (mode == 2)
      return NULL;
    /* acquire: pairs with churn_pause's release store (only the stop). */
    while (atomic_load_explicit(&g_churn_mode, memory_order_acquire) == 1) {
      churn_once(c, i);
      i += NCHURN;
      /* relaxed: a statistic. */
      atomic_fetch_add_explicit(&g_churn_iters, 1, memory_order_relaxed);
      sched_yield();
    }
  }
}

static void churn_set(smr_collector *c, int mode) {
  pthread_mutex_lock(&g_churn_m);
  g_churn_c = c;
  /* release: the loop's acquire load; the mutex orders the rest. */
  atomic_store_explicit(&g_churn_mode, mode, memory_order_release);
  pthread_cond_broadcast(&g_churn_cv);
  pthread_mutex_unlock(&g_churn_m);
}

/* Every churn thread is parked (unregistered, between iterations). */
static void churn_pause(void) {
  pthread_mutex_lock(&g_churn_m);
  /* release: as in churn_set. */
  atomic_store_explicit(&g_churn_mode, 0, memory_order_release);
  while (g_churn_parked < NCHURN)
    pthread_cond_wait(&g_churn_cv, &g_churn_m);
  pthread_mutex_unlock(&g_churn_m);
}

/* ---- counts -------------------------------------------------------------
 */

/* One handle retires one node at a time; `others` idle threads are
 * registered too.  Effective batch: max(batch or 64, 2 x handles). */
static void counts_case(unsigned flags, unsigned batch, int others) {
  smr_collector *c = make(flags, batch);
  g_c = c;
  run_all(others, CMD_REGISTER);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  long handles = others + 1;
  long eff = batch ? batch : 64;
  if (eff < 2 * handles)
    eff = 2 * handles;
  struct smr_collector_stats s0 = stats(c);
  CHECK_EQ(s0.handles, handles);
  CHECK_EQ(s0.garbage, 0);
  long n = 4 * eff - 1; /* three full batches and a partial one */
  struct item *a = items(c, (size_t)n);
  long base = reclaims();
  for (long i = 0; i < n; i++) {
    CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 16), 0);
    long full = (i + 1) / eff;
    struct smr_collector_stats s = stats(c);
    CHECK_EQ(reclaims() - base, full * eff);
    CHECK_EQ(s.garbage, (i + 1) % eff);
    CHECK_EQ(s.garbage_bytes, (uint64_t)(16 * ((i + 1) % eff)));
    CHECK_EQ(s.submitted - s0.submitted, full);
    /* One submitter: each submission issues its own barrier. */
    CHECK_EQ(s.heavy_barriers - s0.heavy_barriers, full);
    CHECK_EQ(s.handles, handles);
  }
  for (long i = 0; i < n; i++) {
    CHECK_EQ(reclaimed(&a[i]), i < n / eff * eff);
    if (i < n / eff * eff) /* no section: the submitter reclaims at once */
      CHECK(pthread_equal(a[i].by, pthread_self()));
  }
  CHECK_EQ(smr_collector_flush(h), n % eff);
  CHECK_EQ(smr_collector_flush(h), 0);
  struct smr_collector_stats s = stats(c);
  CHECK_EQ(s.garbage, 0);
  CHECK_EQ(s.garbage_bytes, 0);
  CHECK_EQ(s.submitted - s0.submitted, n / eff + (n % eff != 0));
  CHECK_EQ(reclaims() - base, n);
  for (long i = 0; i < n; i++)
    CHECK_EQ(reclaimed(&a[i]), 1);
  CHECK_EQ(smr_collector_unregister(h), 0);
  run_all(others, CMD_UNREGISTER);
  CHECK_EQ(smr_collector_destroy(c), 0);
  CHECK_EQ(reclaims() - base, n);
  free(a);
  if (verbose)
    fprintf(stderr, "counts flags %#x batch %u handles %ld: batches of %ld\n",
            flags, batch, handles, eff);
}

static void test_counts(void) {
  static const unsigned batches[] = {1, 2, 0};
  static const int others[] = {0, 2, 3, 39};
  for (unsigned f = 0; f <= SMR_COLLECTOR_ROBUST; f += SMR_COLLECTOR_ROBUST)
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++)
      for (size_t o = 0; o < sizeof others / sizeof *others; o++)
        counts_case(f, batches[b], others[o]);
}

/* ---- scan ----------------------------------------------------------------
 */

/* Workers [0, n) in the order a scan visits their records (up), or the
 * reverse: the registry is the collector's private list (records pushed at
 * its head, reused in place), walked as a submitter does, without a
 * lock. */
static void registry_order(smr_collector *c, int n, int *w, bool up) {
  int k = 0;
  /* acquire: pairs with the release store that published each record. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_acquire);
       r; r = r->next)
    for (int j = 0; j < n; j++)
      if (g_w[j].h == &r->pub) { /* worker j's, set before its ack */
        CHECK(k < n);
        w[up ? k : n - 1 - k] = j;
        k++;
      }
  CHECK_EQ(k, n);
}

static void scan_mode(unsigned flags) {
  static const int ns[] = {1,  2,  3,  4,  5,  6,  7,   8,   9,   10, 16,
                           31, 32, 33, 63, 64, 65, 127, 128, 129, 130};
  smr_collector *c = make(flags, 0);
  g_c = c;
  smr_collector_handle *h = NULL;
  long late = 0;
  /* relaxed: a statistic. */
  long churn0 = atomic_load_explicit(&g_churn_iters, memory_order_relaxed);
  int w[MAXW]; /* the staircase's order: workers 0..n-1 or n-1..0 */
  for (int r = 0; r < 2 * (int)(sizeof ns / sizeof *ns); r++) {
    int n = ns[r / 2];
    /* Each n twice: the workers enter (and leave) in the order a scan
     * visits their records, and in the reverse order.  Node k's holders
     * are then the first (or last) k + 1 records the scan meets and its
     * last holder the (k + 1)-th: a scan that drops any record, or stops
     * after some number of blockers, drops a last holder. */
    bool up = r % 2 == 0;
    /* Half the rounds (one per n): the churn threads keep going while the
     * sections end, so a leave may miss its links (a helper holds them for
     * a moment: DESIGN 9, "Release"); the others check the balanced
     * reclamation exactly. */
    bool strict = (r / 2 + r) % 2 == 0;
    struct item *a = items(c, (size_t)n);
    for (int k = 0; k < n; k++)
      /* release: the node's initialisation before a protect (acquire). */
      atomic_store_explicit(&g_slot[k], &a[k], memory_order_release);
    /* relaxed: the workers read it after the command's mutex. */
    atomic_store_explicit(&g_nslots, n, memory_order_relaxed);
    if (r > 0) /* the first round's workers own the oldest records */
      churn_set(c, 1);
    /* Registration, all at once: newcomers register, every third
     * registered worker leaves and registers again (taking a free record,
     * maybe a churn thread's), the others keep their handles. */
    for (int j = 0; j < n; j++)
      post(&g_w[j], (j + r) % 3 == 0 ? CMD_REREGISTER : CMD_REGISTER, 0);
    for (int j = 0; j < n; j++)
      await(&g_w[j]);
    if (!h)
      CHECK_EQ(smr_collector_register(c, &h), 0);
    if (strict)
      churn_pause();
    registry_order(c, n, w, up);
    /* The staircase: node k held by workers w[0..k] (each protected it). */
    for (int k = 0; k < n; k++) {
      run(&g_w[w[k]], CMD_ENTER, k);
      /* acq_rel: the unlink; we own the node now. */
      CHECK(atomic_exchange_explicit(&g_slot[k], NULL, memory_order_acq_rel) ==
            &a[k]);
      CHECK_EQ(smr_collector_retire(h, &a[k].node, reclaim_item, 0), 0);
      CHECK(smr_collector_flush(h) >= 0);
      for (int j = 0; j <= k; j++)
        CHECK_EQ(reclaimed(&a[j]), 0);
    }
    /* Leaves in the same order: w[i] is node i's last holder. */
    for (int i = 0; i < n; i++) {
      run(&g_w[w[i]], CMD_LEAVE, 0);
      for (int j = i + 1; j < n; j++)
        CHECK_EQ(reclaimed(&a[j]), 0);
      if (strict) {
        CHECK_EQ(reclaimed(&a[i]), 1);
        CHECK(pthread_equal(a[i].by, g_w[w[i]].t));
      } else {
        late += !reclaimed(&a[i]);
      }
    }
    if (!strict)
      churn_pause();
    /* Nothing else runs now: one flush releases every link left. */
    CHECK(smr_collector_flush(h) >= 0);
    for (int i = 0; i < n; i++)
      CHECK_EQ(reclaimed(&a[i]), 1);
    struct smr_collector_stats s = stats(c);
    CHECK_EQ(s.handles, n + 1);
    /* Some leave for good: the next round registers them again. */
    for (int j = 0; j < n; j++)
      if ((j + r) % 4 == 1)
        post(&g_w[j], CMD_UNREGISTER, 0);
    for (int j = 0; j < n; j++)
      if ((j + r) % 4 == 1)
        await(&g_w[j]);
    free(a);
  }
  run_all(MAXW, CMD_UNREGISTER);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  /* relaxed: the churn threads are parked (mutex). */
  CHECK_EQ(atomic_load_explicit(&g_churn_reclaimed, memory_order_relaxed),
           atomic_load_explicit(&g_churn_retired, memory_order_relaxed));
  if (verbose)
    fprintf(stderr,
            "scan flags %#x: %ld leaves left their node to a later flush "
            "(rounds with churn), %ld churn iterations\n",
            flags, late,
            atomic_load_explicit(&g_churn_iters, memory_order_relaxed) -
                churn0);
}

static void test_scan(void) {
  scan_mode(0);
  scan_mode(SMR_COLLECTOR_ROBUST);
}

/* ---- no_cliff ------------------------------------------------------------
 */

enum { CLIFF_W = 40, CLIFF_K = 3 };

static void cliff_mode(unsigned flags) {
  smr_collector *c = make(flags, 8);
  g_c = c;
  struct item *anchor = items(c, 1); /* published throughout, never retired */
  /* release: its initialisation before the protects. */
  atomic_store_explicit(&g_slot[0], anchor, memory_order_release);
  /* relaxed: read by the workers after the command's mutex. */
  atomic_store_explicit(&g_nslots, 1, memory_order_relaxed);
  run_all(CLIFF_W, CMD_REGISTER);
  smr_collector_handle *h;
  CHECK_EQ(smr_collector_register(c, &h), 0);
  CHECK_EQ(stats(c).handles, CLIFF_W + 1);
  const long eff = 2 * (CLIFF_W + 1); /* > 8 */
  const long n = CLIFF_K * eff;
  /* Sitting in sections: everything held until the last one leaves. */
  for (int round = 0; round < 2; round++) {
    struct item *a = items(c, (size_t)n); /* born before the sections */
    run_all(CLIFF_W, CMD_ENTER);
    long base = reclaims();
    struct smr_collector_stats s0 = stats(c);
    for (long i = 0; i < n; i++)
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 0), 0);
    struct smr_collector_stats s1 = stats(c);
    CHECK_EQ(s1.submitted - s0.submitted, CLIFF_K);
    CHECK(s1.heavy_barriers - s0.heavy_barriers >= 1);
    CHECK(s1.heavy_barriers - s0.heavy_barriers <= s1.submitted - s0.submitted);
    CHECK_EQ(reclaims() - base, 0);
    CHECK_EQ(s1.garbage, n);
    for (int w = 0; w < CLIFF_W; w++) {
      CHECK_EQ(reclaims() - base, 0);
      run(&g_w[w], CMD_LEAVE, 0);
    }
    CHECK_EQ(reclaims() - base, n); /* by the last leaver, each batch */
    for (long i = 0; i < n; i++)
      CHECK(pthread_equal(a[i].by, g_w[CLIFF_W - 1].t));
    struct smr_collector_stats s2 = stats(c);
    CHECK_EQ(s2.garbage, 0);
    CHECK_EQ(s2.submitted, s1.submitted);           /* leaves submit nothing */
    CHECK_EQ(s2.heavy_barriers, s1.heavy_barriers); /* nor fence */
    free(a);
  }
  /* Leaving and entering again all the time. */
  /* relaxed: read by the workers after the command's mutex. */
  atomic_store_explicit(&g_stop, 0, memory_order_relaxed);
  atomic_store_explicit(&g_looping, 0, memory_order_relaxed);
  for (int w = 0; w < CLIFF_W; w++)
    post(&g_w[w], CMD_LOOP, 0);
  /* relaxed: see CMD_LOOP; every worker is in its loop. */
  while (atomic_load_explicit(&g_looping, memory_order_relaxed) < CLIFF_W)
    sched_yield();
  long base = reclaims();
  struct smr_collector_stats s0 = stats(c);
  for (long i = 0; i < n; i++) {
    if (i % 4 == 0)
      sched_yield(); /* let the sections come and go between retires */
    struct item *y = calloc(1, sizeof *y);
    CHECK(y);
    y->heap = true;
    smr_collector_node_init(c, &y->node);
    CHECK_EQ(smr_collector_retire(h, &y->node, reclaim_item, sizeof *y), 0);
  }
  struct smr_collector_stats s1 = stats(c);
  /* release: pairs with the loops' acquire loads. */
  atomic_store_explicit(&g_stop, 1, memory_order_release);
  long loops = 0;
  for (int w = 0; w < CLIFF_W; w++) {
    await(&g_w[w]);
    loops += g_w[w].loops;
  }
  CHECK_EQ(s1.submitted - s0.submitted, CLIFF_K);
  CHECK(s1.heavy_barriers - s0.heavy_barriers >= 1);
  CHECK(s1.heavy_barriers - s0.heavy_barriers <= s1.submitted - s0.submitted);
  /* Out of their sections: one flush releases the links their leaves
   * missed; nothing is left. */
  CHECK(smr_collector_flush(h) >= 0);
  CHECK_EQ(reclaims() - base, n);
  CHECK_EQ(stats(c).garbage, 0);
  if (verbose)
    fprintf(stderr,
            "no_cliff flags %#x: %ld retires, %llu submissions, %llu "
            "barriers, %ld sections meanwhile\n",
            flags, n, (unsigned long long)(s1.submitted - s0.submitted),
            (unsigned long long)(s1.heavy_barriers - s0.heavy_barriers), loops);
  /* relaxed: no reader left. */
  atomic_store_explicit(&g_slot[0], NULL, memory_order_relaxed);
  run_all(CLIFF_W, CMD_UNREGISTER);
  CHECK_EQ(smr_collector_unregister(h), 0);
  CHECK_EQ(smr_collector_destroy(c), 0);
  CHECK_EQ(reclaimed(anchor), 0); /* never retired */
  free(anchor);
}

static void test_no_cliff(void) {
  cliff_mode(0);
  cliff_mode(SMR_COLLECTOR_ROBUST);
  cliff_mode(SMR_COLLECTOR_SYMMETRIC);
}

/* ---- garbage_bytes ---------------------------------------------------------
 * stats.garbage counts the nodes of every handle's partial batch,
 * stats.garbage_bytes must count their bytes too (smr/collector.h:
 * garbage = "nodes retired and not yet reclaimed", garbage_bytes = "their
 * `bytes`").  The first version summed only submitted batches: with one
 * thread, no section and flush_ns = UINT64_MAX, 7 retired nodes of 16
 * bytes read garbage 7, garbage_bytes 0. */
static void test_garbage_bytes(void) {
  for (unsigned f = 0; f <= SMR_COLLECTOR_ROBUST; f += SMR_COLLECTOR_ROBUST) {
    smr_collector *c = make(f, 8);
    smr_collector_handle *h;
    CHECK_EQ(smr_collector_register(c, &h), 0);
    struct item *a = items(c, 20);
    for (int i = 0; i < 20; i++) {
      CHECK_EQ(smr_collector_retire(h, &a[i].node, reclaim_item, 16), 0);
      struct smr_collector_stats s = stats(c);
      CHECK_EQ(s.garbage, (i + 1) % 8);
      CHECK_EQ(s.garbage_bytes, 16 * s.garbage);
    }
    CHECK_EQ(smr_collector_unregister(h), 0);
    CHECK_EQ(smr_collector_destroy(c), 0);
    free(a);
  }
}

int main(int argc, char **argv) {
  verbose = getenv("VERBOSE") != NULL;
  for (int i = 0; i < MAXW; i++) {
    pthread_mutex_init(&g_w[i].m, NULL);
    pthread_cond_init(&g_w[i].cv, NULL);
    CHECK_EQ(pthread_create(&g_w[i].t, NULL, worker_main, &g_w[i]), 0);
  }
  for (int i = 0; i < NCHURN; i++)
    CHECK_EQ(
        pthread_create(&g_churn_t[i], NULL, churn_main, (void *)(intptr_t)i),
        0);
  static const struct test_part parts[] = {
      {"counts", test_counts},
      {"scan", test_scan},
      {"no_cliff", test_no_cliff},
      {"garbage_bytes", test_garbage_bytes}};
  int rc = TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
  churn_set(NULL, 2);
  for (int i = 0; i < NCHURN; i++)
    CHECK_EQ(pthread_join(g_churn_t[i], NULL), 0);
  for (int i = 0; i < MAXW; i++) {
    post(&g_w[i], CMD_EXIT, 0);
    CHECK_EQ(pthread_join(g_w[i].t, NULL), 0);
    pthread_mutex_destroy(&g_w[i].m);
    pthread_cond_destroy(&g_w[i].cv);
  }
  if (rc == 0)
    puts("test_collector_scan: ok");
  return rc;
}
