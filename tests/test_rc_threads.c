/* SPDX-License-Identifier: MIT */
/* Reference counting (smr/rc.h) under threads, bounded by operation counts
 * (SMR_RC_SCALE multiplies the per-thread counts; default 1).  One part per
 * ctest entry (`test_rc_threads <part>`; no argument: every part):
 *  list       a Harris-Michael sorted list with counted links (mark with
 *             smr_arc_cas_tag, unlink with smr_arc_cas_snap, insert with
 *             smr_arc_cas): 30 threads insert, look up and delete 1,000
 *             keys each (interleaved with the other threads' keys), then
 *             race on 64 shared keys; the final contents match what
 *             succeeded, every node read in a section is live, every node
 *             is destroyed and freed exactly once
 *  queue      the DoubleLink queue as in circ (strong next, weak prev,
 *             smr_weak_snap_upgrade to help the previous enqueue): 100
 *             threads enqueue and dequeue 10,000 elements each: every
 *             element dequeued exactly once, each producer's elements in
 *             order, the queue empty at the end, all memory freed
 *  queue_deferred  the same on an SMR_RC_DEFERRED domain, 1,000 elements
 *             per thread
 *  resurrect  readers count snapshots of objects whose last reference a
 *             writer is dropping (they may find the count at zero, the
 *             destruction pending), keep some past their sections,
 *             republish some: never -ESTALE inside a section, never a dead
 *             object through a counted reference, each destroyed once
 *  limits     threads clone and downgrade an object whose counts are just
 *             below their limits: exactly the remaining room succeeds, the
 *             counts end at the limits, nothing wraps
 * Node payloads are plain fields (their order is what the library
 * promises: a late access is a race TSAN reports, a late read sees the DEAD
 * magic or ASAN reports it). */
/* Memory orders: the test's own counters and flags are seq_cst atomics
 * (the total order keeps the reasoning simple). */
#define _GNU_SOURCE
#include "check.h"
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

#define LIVE 0x4c4956454e4f4445ull /* "LIVENODE" */
#define DEAD 0xdeadbeefdeadbeefull

static double g_scale = 1.0;

static unsigned scaled(unsigned n) {
  double v = n * g_scale;
  return v < 1 ? 1 : (unsigned)v;
}

static smr_rc_domain *make(unsigned flags) {
  struct smr_rc_domain_attr a = {.flags = flags};
  smr_rc_domain *rd;
  CHECK_EQ(smr_rc_domain_create(&a, &rd), 0);
  return rd;
}

static smr_rc_handle *reg(smr_rc_domain *rd) {
  smr_rc_handle *h;
  CHECK_EQ(smr_rc_handle_register(rd, &h), 0);
  return h;
}

/* After every thread has unregistered: adopt what they left, wait until
 * nothing is pending, and check that everything made was destroyed and
 * freed. */
static void drain_and_check(smr_rc_domain *rd, smr_rc_handle *h,
                            _Atomic long *drops) {
  for (int i = 0;; i++) {
    CHECK(i < 100);
    CHECK(smr_rc_collect(h) >= 0);
    CHECK_EQ(smr_rc_barrier(h), 0);
    struct smr_rc_stats st;
    CHECK_EQ(smr_rc_stats(rd, &st), 0);
    if (st.pending == 0)
      break;
  }
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.destroyed, st.created);
  CHECK_EQ(st.freed, st.created);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(atomic_load(drops), (long)st.created);
  printf("  created %llu, deferred %llu, immediate %llu\n",
         (unsigned long long)st.created, (unsigned long long)st.deferred,
         (unsigned long long)st.immediate);
}

/* The threads of a part start together (a gate), so that all of them are
 * runnable at once on a machine with few cores. */
static _Atomic int g_gate;

struct start {
  void *(*fn)(void *);
  void *arg;
};

static void *gated(void *p) {
  struct start *s = p;
  while (!atomic_load(&g_gate))
    sched_yield();
  return s->fn(s->arg);
}

static void run_threads(unsigned n, void *(*fn)(void *), void *arg,
                        size_t size) {
  pthread_t *t = calloc(n, sizeof *t);
  struct start *st = calloc(n, sizeof *st);
  CHECK(t && st);
  atomic_store(&g_gate, 0);
  for (unsigned i = 0; i < n; i++) {
    st[i] = (struct start){fn, (char *)arg + i * size};
    CHECK_EQ(pthread_create(&t[i], NULL, gated, &st[i]), 0);
  }
  atomic_store(&g_gate, 1);
  for (unsigned i = 0; i < n; i++)
    CHECK_EQ(pthread_join(t[i], NULL), 0);
  free(st);
  free(t);
}

/* A yield every 64th call: inside sections, between a load and the
 * compare-and-swap that depends on it, so that other threads run there
 * even on two cores. */
static _Thread_local unsigned tl_ops;
static void jitter(void) {
  if ((++tl_ops & 63) == 0)
    sched_yield();
}

/* ---- list: Harris-Michael with counted links ------------------------------
 * A node's next word carries the deletion mark in its tag (bit 0).  find
 * (Michael 2004) re-reads the predecessor's link after reading the current
 * node's successor and starts again unless it still holds the current node
 * unmarked; marked nodes met on the way are unlinked (the unlink's
 * compare-and-swap releases the predecessor's reference; the node's edges
 * hand its successor over when it is destroyed). */

struct lnode {
  uint64_t magic;
  uint64_t key; /* immutable once published */
  smr_atomic_rc next;
};

static _Atomic long g_list_drops;

static void lnode_edges(void *p, smr_rc_edges *out) {
  struct lnode *n = p;
  CHECK(n->magic == LIVE);
  smr_rc_edges_take(out, &n->next);
}
static void lnode_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct lnode *n = p;
  CHECK(n->magic == LIVE);
  n->magic = DEAD;
  atomic_fetch_add(&g_list_drops, 1);
}
static const smr_rc_type lnode_type = {"lnode", 0, lnode_drop, lnode_edges};

struct lpos {
  smr_atomic_rc *prev;
  smr_snap cur, next;
};

static struct lnode *live(smr_snap s) {
  struct lnode *n = smr_snap_ptr(s);
  CHECK(n->magic == LIVE);
  return n;
}

/* Inside a section. */
static bool lfind(smr_rc_handle *h, smr_atomic_rc *head, uint64_t key,
                  struct lpos *pos) {
retry:;
  smr_atomic_rc *prev = head;
  smr_snap cur = smr_arc_load(prev);
  for (;;) {
    if (smr_snap_is_null(cur)) {
      pos->prev = prev;
      pos->cur = cur;
      pos->next = cur;
      return false;
    }
    struct lnode *c = live(cur);
    jitter();
    smr_snap nw = smr_arc_load(&c->next);
    uint64_t ckey = c->key;
    if (smr_arc_load(prev).p != cur.p)
      goto retry;
    smr_snap next = smr_snap_with_tag(nw, 0);
    if (smr_snap_tag(nw) == 0) {
      if (ckey >= key) {
        pos->prev = prev;
        pos->cur = cur;
        pos->next = next;
        return ckey == key;
      }
      prev = &c->next;
    } else {
      int e = smr_arc_cas_snap(h, prev, cur, next, NULL);
      CHECK(e == 0 || e == -EAGAIN);
      if (e)
        goto retry;
    }
    cur = next;
  }
}

static bool lcontains(smr_rc_handle *h, smr_atomic_rc *head, uint64_t key) {
  struct lpos pos;
  smr_rc_enter(h);
  bool r = lfind(h, head, key, &pos);
  smr_rc_leave(h);
  return r;
}

static bool linsert(smr_rc_handle *h, smr_atomic_rc *head, uint64_t key) {
  smr_rc r = SMR_RC_NULL;
  struct lpos pos;
  bool done = false;
  smr_rc_enter(h);
  for (;;) {
    if (lfind(h, head, key, &pos))
      break;
    if (smr_rc_is_null(r)) {
      CHECK_EQ(smr_rc_new(h, &lnode_type, sizeof(struct lnode), &r), 0);
      struct lnode *n = smr_rc_ptr(r);
      n->magic = LIVE;
      n->key = key;
    }
    struct lnode *n = smr_rc_ptr(r);
    /* Not published: the link is ours alone. */
    smr_rc old = smr_arc_take(&n->next), succ;
    smr_rc_release(h, &old);
    CHECK_EQ(smr_snap_counted(pos.cur, &succ), 0);
    smr_arc_init(&n->next, &succ);
    int e = smr_arc_cas(h, pos.prev, pos.cur, &r, NULL);
    CHECK(e == 0 || e == -EAGAIN);
    if (e == 0) {
      CHECK(smr_rc_is_null(r));
      done = true;
      break;
    }
    CHECK(!smr_rc_is_null(r)); /* failure: still ours */
  }
  smr_rc_leave(h);
  smr_rc_release(h, &r); /* never published (a duplicate key) */
  return done;
}

static bool ldelete(smr_rc_handle *h, smr_atomic_rc *head, uint64_t key) {
  struct lpos pos;
  bool done = false;
  smr_rc_enter(h);
  for (;;) {
    if (!lfind(h, head, key, &pos))
      break;
    struct lnode *c = smr_snap_ptr(pos.cur);
    if (smr_arc_cas_tag(&c->next, pos.next, 1, NULL) != 0)
      continue; /* the successor changed, or someone else marked it */
    done = true;
    if (smr_arc_cas_snap(h, pos.prev, pos.cur, pos.next, NULL) != 0)
      lfind(h, head, key, &pos); /* unlinks it */
    break;
  }
  smr_rc_leave(h);
  return done;
}

enum { L_THREADS = 30, L_KEYS = 1000, L_SHARED = 64, L_WINDOW = 8 };

struct lctx {
  smr_rc_domain *rd;
  smr_atomic_rc head;
  unsigned keys, shared_ops;
  _Atomic long ins[L_SHARED], del[L_SHARED];
};

struct lthread {
  struct lctx *x;
  unsigned id;
};

/* Thread t's i-th key: descending in i, interleaved with the other
 * threads' keys, above the shared ones. */
static uint64_t lkey(const struct lctx *x, unsigned t, unsigned i) {
  return L_SHARED + (uint64_t)(x->keys - 1 - i) * L_THREADS + t;
}

static bool lkept(unsigned i) {
  return i % 10 == 0;
}

static void *list_thread(void *arg) {
  struct lthread *lt = arg;
  struct lctx *x = lt->x;
  smr_rc_handle *h = reg(x->rd);
  unsigned t = lt->id;
  /* Own keys: insert, find, delete a window behind (keeping every 10th). */
  for (unsigned i = 0; i < x->keys; i++) {
    uint64_t k = lkey(x, t, i);
    CHECK(!lcontains(h, &x->head, k));
    CHECK(linsert(h, &x->head, k));
    CHECK(lcontains(h, &x->head, k));
    if (i % 5 == 0)
      CHECK(!linsert(h, &x->head, k));
    if (i >= L_WINDOW && !lkept(i - L_WINDOW)) {
      uint64_t old = lkey(x, t, i - L_WINDOW);
      CHECK(ldelete(h, &x->head, old));
      CHECK(!lcontains(h, &x->head, old));
      CHECK(!ldelete(h, &x->head, old));
    }
  }
  for (unsigned i = x->keys > L_WINDOW ? x->keys - L_WINDOW : 0; i < x->keys;
       i++)
    if (!lkept(i))
      CHECK(ldelete(h, &x->head, lkey(x, t, i)));
  /* Shared keys: every thread inserts and deletes the same 64. */
  uint64_t rng = 0x243f6a8885a308d3ull * (t + 1);
  for (unsigned i = 0; i < x->shared_ops; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    unsigned k = (unsigned)(rng % L_SHARED), op = (unsigned)(rng >> 32) % 3;
    if (op == 0) {
      if (linsert(h, &x->head, k))
        atomic_fetch_add(&x->ins[k], 1);
    } else if (op == 1) {
      if (ldelete(h, &x->head, k))
        atomic_fetch_add(&x->del[k], 1);
    } else {
      (void)lcontains(h, &x->head, k);
    }
  }
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

static void test_list(void) {
  struct lctx *x = calloc(1, sizeof *x);
  CHECK(x);
  x->rd = make(0);
  smr_rc null = SMR_RC_NULL;
  smr_arc_init(&x->head, &null);
  x->keys = scaled(L_KEYS);
  x->shared_ops = scaled(2000);
  atomic_store(&g_list_drops, 0);
  struct lthread lt[L_THREADS];
  for (unsigned i = 0; i < L_THREADS; i++)
    lt[i] = (struct lthread){x, i};
  run_threads(L_THREADS, list_thread, lt, sizeof lt[0]);

  /* The final contents: sorted, unmarked, exactly what succeeded. */
  smr_rc_handle *h = reg(x->rd);
  smr_rc_enter(h);
  uint64_t last = 0, n = 0, want = 0;
  bool first = true;
  unsigned shared_at = 0;
  for (smr_snap s = smr_arc_load(&x->head); !smr_snap_is_null(s);) {
    CHECK_EQ(smr_snap_tag(s), 0);
    struct lnode *c = live(s);
    CHECK(first || c->key > last);
    first = false;
    last = c->key;
    if (c->key < L_SHARED) {
      for (; shared_at < c->key; shared_at++) /* absent ones */
        CHECK_EQ(atomic_load(&x->ins[shared_at]) -
                     atomic_load(&x->del[shared_at]),
                 0);
      CHECK_EQ(atomic_load(&x->ins[c->key]) - atomic_load(&x->del[c->key]), 1);
      shared_at = (unsigned)c->key + 1;
    } else {
      uint64_t k = c->key - L_SHARED;
      unsigned i = x->keys - 1 - (unsigned)(k / L_THREADS);
      CHECK(lkept(i));
    }
    n++;
    s = smr_arc_load(&c->next);
  }
  smr_rc_leave(h);
  for (; shared_at < L_SHARED; shared_at++)
    CHECK_EQ(atomic_load(&x->ins[shared_at]) - atomic_load(&x->del[shared_at]),
             0);
  for (unsigned i = 0; i < x->keys; i++)
    want += lkept(i) ? L_THREADS : 0;
  for (unsigned k = 0; k < L_SHARED; k++)
    want += (uint64_t)(atomic_load(&x->ins[k]) - atomic_load(&x->del[k]));
  CHECK_EQ(n, want);

  /* Releasing the head releases the list (iteratively). */
  smr_arc_store(h, &x->head, &null);
  drain_and_check(x->rd, h, &g_list_drops);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(x->rd), 0);
  free(x);
}

/* ---- queue: DoubleLink (Ramalhete and Correia; circ's test) ---------------
 *   enqueue(n): ltail = tail; n.prev = weak(ltail); if ltail.prev is still
 *     alive and its next is null, set it to ltail (help); CAS tail from
 *     ltail to n; on success ltail.next = n.
 *   dequeue: lhead = head; lnext = lhead.next; null: empty; else CAS head
 *     from lhead to lnext and take lnext's value (lnext is the new
 *     sentinel).
 * prev is weak (a strong one would make a cycle with next), handed over by
 * the node's edges or released by its drop (below); next is strong, handed
 * over by its edges. */

struct qnode {
  uint64_t magic;
  uint64_t val;
  smr_weak prev; /* written before the node is published, then never */
  smr_atomic_rc next;
};

struct queue {
  _Alignas(64) smr_atomic_rc head;
  _Alignas(64) smr_atomic_rc tail;
};

static _Atomic long g_queue_drops;

/* Nodes with odd values hand prev to the destruction (a weak edge: the
 * predecessor's memory may go at once), the others release it in drop
 * (its memory then waits a grace period): both ways, mixed in one chain. */
static void qnode_edges(void *p, smr_rc_edges *out) {
  struct qnode *n = p;
  CHECK(n->magic == LIVE);
  smr_rc_edges_take(out, &n->next);
  if (n->val & 1)
    smr_rc_edges_push_weak(out, &n->prev);
}
static void qnode_drop(void *p, smr_rc_handle *h) {
  struct qnode *n = p;
  CHECK(n->magic == LIVE);
  n->magic = DEAD;
  if (!(n->val & 1))
    smr_weak_release(h, &n->prev);
  CHECK(smr_weak_is_null(n->prev));
  atomic_fetch_add(&g_queue_drops, 1);
}
static const smr_rc_type qnode_type = {"qnode", 0, qnode_drop, qnode_edges};

static struct qnode *qlive(smr_snap s) {
  struct qnode *n = smr_snap_ptr(s);
  CHECK(n->magic == LIVE);
  return n;
}

static smr_rc qnew(smr_rc_handle *h, uint64_t v) {
  smr_rc r;
  CHECK_EQ(smr_rc_new(h, &qnode_type, sizeof(struct qnode), &r), 0);
  struct qnode *n = smr_rc_ptr(r);
  n->magic = LIVE;
  n->val = v;
  return r;
}

static void enqueue(smr_rc_handle *h, struct queue *q, uint64_t v) {
  smr_rc r = qnew(h, v), sub;
  struct qnode *n = smr_rc_ptr(r);
  CHECK_EQ(smr_rc_clone(r, &sub), 0); /* for ltail.next */
  smr_rc_enter(h);
  for (;;) {
    smr_snap lt = smr_arc_load(&q->tail);
    struct qnode *ltn = qlive(lt);
    jitter();
    smr_weak_release(h, &n->prev);
    CHECK_EQ(smr_snap_downgrade(lt, &n->prev), 0);
    smr_snap ps;
    if (smr_weak_snap_upgrade(h, smr_weak_snapshot(ltn->prev), &ps) == 0) {
      struct qnode *lp = qlive(ps);
      if (smr_snap_is_null(smr_arc_load(&lp->next))) {
        smr_rc c;
        CHECK_EQ(smr_snap_counted(lt, &c), 0);
        smr_arc_store(h, &lp->next, &c);
      }
    }
    int e = smr_arc_cas(h, &q->tail, lt, &r, NULL);
    CHECK(e == 0 || e == -EAGAIN);
    if (e == 0) {
      smr_arc_store(h, &ltn->next, &sub);
      break;
    }
  }
  smr_rc_leave(h);
}

static bool dequeue(smr_rc_handle *h, struct queue *q, uint64_t *v) {
  bool got = false;
  smr_rc_enter(h);
  for (;;) {
    smr_snap lh = smr_arc_load(&q->head);
    struct qnode *lhn = qlive(lh);
    smr_snap ln = smr_arc_load(&lhn->next);
    jitter();
    if (smr_arc_load(&q->head).p != lh.p)
      continue;
    if (smr_snap_is_null(ln))
      break;
    uint64_t val = qlive(ln)->val;
    int e = smr_arc_cas_snap(h, &q->head, lh, ln, NULL);
    CHECK(e == 0 || e == -EAGAIN);
    if (e == 0) {
      *v = val;
      got = true;
      break;
    }
  }
  smr_rc_leave(h);
  return got;
}

enum { Q_THREADS = 100, Q_ELEMS = 10000 };

struct qctx {
  smr_rc_domain *rd;
  struct queue q;
  unsigned elems;
  _Atomic unsigned char *seen;
};

struct qthread {
  struct qctx *x;
  unsigned id;
};

static void *queue_thread(void *arg) {
  struct qthread *qt = arg;
  struct qctx *x = qt->x;
  smr_rc_handle *h = reg(x->rd);
  /* The last element this thread dequeued from each producer + 1. */
  uint64_t *next_of = calloc(Q_THREADS, sizeof *next_of);
  CHECK(next_of);
  for (unsigned i = 0; i < x->elems; i++) {
    enqueue(h, &x->q, (uint64_t)qt->id * x->elems + i);
    uint64_t v;
    /* Every thread enqueues before it dequeues: never empty here. */
    CHECK(dequeue(h, &x->q, &v));
    CHECK(v < (uint64_t)Q_THREADS * x->elems);
    CHECK_EQ(atomic_fetch_add(&x->seen[v], 1), 0);
    unsigned p = (unsigned)(v / x->elems);
    uint64_t seq = v % x->elems;
    CHECK(seq >= next_of[p]); /* FIFO per producer */
    next_of[p] = seq + 1;
  }
  free(next_of);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

static void queue(unsigned flags, unsigned elems) {
  struct qctx *x = calloc(1, sizeof *x);
  CHECK(x);
  x->rd = make(flags);
  x->elems = scaled(elems);
  x->seen = calloc((size_t)Q_THREADS * x->elems, 1);
  CHECK(x->seen);
  atomic_store(&g_queue_drops, 0);
  smr_rc_handle *h = reg(x->rd);
  smr_rc s = qnew(h, UINT64_MAX), s2;
  CHECK_EQ(smr_rc_clone(s, &s2), 0);
  smr_rc null = SMR_RC_NULL;
  smr_arc_init(&x->q.head, &null);
  smr_arc_init(&x->q.tail, &null);
  smr_arc_store(h, &x->q.head, &s);
  smr_arc_store(h, &x->q.tail, &s2);
  struct qthread qt[Q_THREADS];
  for (unsigned i = 0; i < Q_THREADS; i++)
    qt[i] = (struct qthread){x, i};
  run_threads(Q_THREADS, queue_thread, qt, sizeof qt[0]);
  uint64_t v;
  CHECK(!dequeue(h, &x->q, &v));
  for (size_t i = 0; i < (size_t)Q_THREADS * x->elems; i++)
    CHECK_EQ(atomic_load(&x->seen[i]), 1);
  smr_arc_store(h, &x->q.tail, &null);
  smr_arc_store(h, &x->q.head, &null);
  drain_and_check(x->rd, h, &g_queue_drops);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(x->rd), 0);
  free((void *)x->seen);
  free(x);
}

static void test_queue(void) {
  queue(0, Q_ELEMS);
}

/* SMR_RC_DEFERRED: every dequeued sentinel waits a grace period of its own
 * (CDRC), 1,000 elements per thread. */
static void test_queue_deferred(void) {
  queue(SMR_RC_DEFERRED, Q_ELEMS / 10);
}

/* ---- resurrect --------------------------------------------------------------
 * A writer replaces the object in `loc` (its store releases the old one,
 * usually the last reference); readers take snapshots of it and count them
 * inside their sections, which succeeds even when the writer's release
 * already brought the count to zero (the pending destruction then keeps
 * the object).  Readers keep a few counted references past their sections
 * (checking the objects are live when they look again), publish some in
 * `loc2`, downgrade and upgrade some. */

struct robj {
  uint64_t magic;
  uint64_t seq;
  _Atomic int dropped;
};

static _Atomic long g_robj_drops, g_zero_seen;

static void robj_drop(void *p, smr_rc_handle *h) {
  (void)h;
  struct robj *o = p;
  CHECK(o->magic == LIVE);
  o->magic = DEAD;
  CHECK_EQ(atomic_fetch_add(&o->dropped, 1), 0);
  atomic_fetch_add(&g_robj_drops, 1);
}
static const smr_rc_type robj_type = {"robj", 0, robj_drop, NULL};

enum { R_READERS = 6, R_KEEP = 4 };

struct rctx {
  smr_rc_domain *rd;
  smr_atomic_rc loc, loc2;
  unsigned writes;
  _Atomic int done;
};

static void rlive(smr_rc r) {
  struct robj *o = smr_rc_ptr(r);
  CHECK(o->magic == LIVE);
  CHECK_EQ(atomic_load(&o->dropped), 0);
}

static void *resurrect_writer(void *arg) {
  struct rctx *x = arg;
  smr_rc_handle *h = reg(x->rd);
  for (unsigned i = 0; i < x->writes; i++) {
    smr_rc r;
    CHECK_EQ(smr_rc_new(h, &robj_type, sizeof(struct robj), &r), 0);
    struct robj *o = smr_rc_ptr(r);
    o->magic = LIVE;
    o->seq = i;
    smr_arc_store(h, &x->loc, &r); /* the old one: usually its last ref */
    if (i % 64 == 0)
      sched_yield();
  }
  smr_rc null = SMR_RC_NULL;
  smr_arc_store(h, &x->loc, &null);
  atomic_store(&x->done, 1);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

static void *resurrect_reader(void *arg) {
  struct rctx *x = arg;
  smr_rc_handle *h = reg(x->rd);
  smr_rc keep[R_KEEP];
  memset(keep, 0, sizeof keep);
  unsigned k = 0;
  for (unsigned it = 0; !atomic_load(&x->done); it++) {
    smr_rc_enter(h);
    smr_snap s = smr_arc_load(&x->loc);
    if (smr_snap_is_null(s)) {
      smr_rc_leave(h);
      continue;
    }
    struct robj *o = smr_snap_ptr(s);
    CHECK(o->magic == LIVE); /* the section keeps it */
    if (it % 3 == 0)
      sched_yield(); /* let the writer drop it meanwhile */
    if (smr__rc_test_counts(o).strong == 0)
      atomic_fetch_add(&g_zero_seen, 1);
    smr_rc r;
    CHECK_EQ(smr_snap_counted(s, &r), 0); /* never -ESTALE in a section */
    rlive(r);
    if (it % 8 == 0) {
      smr_weak w;
      CHECK_EQ(smr_rc_downgrade(r, &w), 0);
      smr_rc u;
      CHECK_EQ(smr_weak_upgrade(w, &u), 0); /* r keeps it alive */
      smr_weak_release(h, &w);
      smr_arc_store(h, &x->loc2, &u); /* republish it */
    }
    smr_rc_leave(h);
    /* Past the section: only the count keeps it. */
    smr_rc_release(h, &keep[k]);
    keep[k] = r;
    k = (k + 1) % R_KEEP;
    for (unsigned i = 0; i < R_KEEP; i++)
      if (!smr_rc_is_null(keep[i]))
        rlive(keep[i]);
  }
  for (unsigned i = 0; i < R_KEEP; i++)
    smr_rc_release(h, &keep[i]);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  return NULL;
}

struct rthread {
  struct rctx *x;
  int writer;
};

static void *resurrect_main(void *arg) {
  struct rthread *t = arg;
  return t->writer ? resurrect_writer(t->x) : resurrect_reader(t->x);
}

static void test_resurrect(void) {
  struct rctx *x = calloc(1, sizeof *x);
  CHECK(x);
  x->rd = make(0);
  x->writes = scaled(500000);
  smr_rc null = SMR_RC_NULL;
  smr_arc_init(&x->loc, &null);
  smr_arc_init(&x->loc2, &null);
  atomic_store(&g_robj_drops, 0);
  atomic_store(&g_zero_seen, 0);
  struct rthread t[R_READERS + 1];
  for (unsigned i = 0; i <= R_READERS; i++)
    t[i] = (struct rthread){x, i == 0};
  run_threads(R_READERS + 1, resurrect_main, t, sizeof t[0]);
  smr_rc_handle *h = reg(x->rd);
  smr_arc_store(h, &x->loc2, &null);
  drain_and_check(x->rd, h, &g_robj_drops);
  printf("  counted at zero (resurrections): %ld\n", atomic_load(&g_zero_seen));
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(x->rd), 0);
  free(x);
}

/* ---- limits ---------------------------------------------------------------
 */

enum { LIM_THREADS = 4, LIM_ROOM = 100, LIM_TRIES = 200 };
#define S_LIM ((1u << 27) - 1)
#define W_LIM ((1u << 24) - 1)

struct limctx {
  smr_rc o;
  _Atomic int go;
  _Atomic long strong_ok, weak_ok;
};

static void *limits_thread(void *arg) {
  struct limctx *x = arg;
  while (!atomic_load(&x->go))
    sched_yield();
  for (int i = 0; i < LIM_TRIES; i++) {
    smr_rc c;
    int e = smr_rc_clone(x->o, &c);
    CHECK(e == 0 || e == -EOVERFLOW);
    if (e == 0)
      atomic_fetch_add(&x->strong_ok, 1);
    else
      CHECK(smr_rc_is_null(c));
    smr_weak w;
    e = smr_rc_downgrade(x->o, &w);
    CHECK(e == 0 || e == -EOVERFLOW);
    if (e == 0)
      atomic_fetch_add(&x->weak_ok, 1);
    else
      CHECK(smr_weak_is_null(w));
  }
  return NULL;
}

static void test_limits(void) {
  smr_rc_domain *rd = make(0);
  smr_rc_handle *h = reg(rd);
  struct limctx x;
  memset(&x, 0, sizeof x);
  CHECK_EQ(smr_rc_new(h, &robj_type, sizeof(struct robj), &x.o), 0);
  struct robj *o = smr_rc_ptr(x.o);
  o->magic = LIVE;
  smr__rc_test_set_counts(o, S_LIM - LIM_ROOM, W_LIM - LIM_ROOM);
  pthread_t t[LIM_THREADS];
  for (int i = 0; i < LIM_THREADS; i++)
    CHECK_EQ(pthread_create(&t[i], NULL, limits_thread, &x), 0);
  atomic_store(&x.go, 1);
  for (int i = 0; i < LIM_THREADS; i++)
    CHECK_EQ(pthread_join(t[i], NULL), 0);
  CHECK_EQ(atomic_load(&x.strong_ok), LIM_ROOM);
  CHECK_EQ(atomic_load(&x.weak_ok), LIM_ROOM);
  struct smr__rc_counts c = smr__rc_test_counts(o);
  CHECK_EQ(c.strong, S_LIM);
  CHECK_EQ(c.weak, W_LIM);
  CHECK(!c.destroyed);
  smr__rc_test_set_counts(o, 1, 1);
  smr_rc_release(h, &x.o);
  CHECK_EQ(smr_rc_barrier(h), 0);
  struct smr_rc_stats st;
  CHECK_EQ(smr_rc_stats(rd, &st), 0);
  CHECK_EQ(st.destroyed, 1);
  CHECK_EQ(st.freed, 1);
  CHECK_EQ(smr_rc_handle_unregister(h), 0);
  CHECK_EQ(smr_rc_domain_destroy(rd), 0);
}

int main(int argc, char **argv) {
  const char *sc = getenv("SMR_RC_SCALE");
  if (sc && *sc)
    g_scale = atof(sc);
  CHECK(g_scale > 0);
  static const struct test_part parts[] = {
      {"list", test_list},
      {"queue", test_queue},
      {"queue_deferred", test_queue_deferred},
      {"resurrect", test_resurrect},
      {"limits", test_limits},
  };
  int rc = TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
  if (rc == 0)
    printf("test_rc_threads %s: ok\n", argc > 1 ? argv[1] : "(all)");
  return rc;
}
