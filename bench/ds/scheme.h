/* SPDX-License-Identifier: MIT */
/* The reclamation schemes of bench_ds behind one small interface of static
 * inline functions, chosen at compile time (exactly one BENCH_SCHEME_*
 * defined), so the data structures call the scheme directly: no function
 * pointer on a hot path.
 *
 *   sch_process_init() / sch_process_fini()  once, on the main thread
 *   sch_global_init(threads)  per run: create the domain / collector
 *   sch_thread_register(t)    on the calling thread (also counts it)
 *   sch_enter(t) / sch_leave(t)  one section per data-structure operation
 *   sch_protect(t, slot, src) load the node pointer *src (an atomic void
 *                             pointer) so that the node stays valid until
 *                             sch_leave; slot 0..2 is the hazard index
 *                             (hazard pointers publish it and re-validate;
 *                             the epoch-like schemes ignore it).  The value
 *                             may carry a mark in bit 0 (the list's
 *                             deleted bit): the node is the word without it
 *   sch_alloc(t, size)        a node with the scheme's header, LIVE magic
 *   sch_retire(t, node)       hand an unlinked node to the scheme
 *   sch_free_direct(n)        free a node no scheme holds (never published,
 *                             or left in the structure after the run)
 *   sch_thread_unregister(t)  flush / purge what the thread retired
 *   sch_global_fini()         after every thread unregistered: reclaim all
 *
 * Schemes:
 *   COLLECTOR         smr_collector (default attributes; the environment
 *                     variable BENCH_DS_COLLECTOR_FLAGS adds flags, e.g.
 *                     0x400000 RETIRER_RECLAIMS, for checks)
 *   COLLECTOR_ROBUST  smr_collector with SMR_COLLECTOR_ROBUST
 *   SMR_EPOCH         libsmr's epoch domain: smr_enter / smr_leave,
 *                     smr_retire (automatic collection)
 *   CK_EPOCH          ck_epoch_begin / end, ck_epoch_call, ck_epoch_poll
 *                     after a section that retired >= 32 nodes since the
 *                     last poll (outside the section: a poll rewrites the
 *                     record's epoch)
 *   CK_HP             ck_hp: ck_hp_set_fence + re-validation, ck_hp_free
 *                     (reclaims at a threshold), ck_hp_clear at leave
 *   URCU              liburcu memb: urcu_memb_read_lock / unlock,
 *                     urcu_memb_call_rcu (freed on liburcu's call_rcu
 *                     thread)
 *   NONE              no reclamation: retired nodes are kept on a per-thread
 *                     list until the run ends (the floor; the memory is
 *                     given back only at the end, as if leaked)
 *   RC, RC_DEFERRED   reference counting (smr/rc.h; RC_DEFERRED: the
 *                     domain flag SMR_RC_DEFERRED, no immediate recursive
 *                     destruction): nodes are counted objects of an rc
 *                     domain on its own smr_domain, sections are
 *                     smr_rc_enter / smr_rc_leave; nothing is retired (a
 *                     node goes when its count reaches zero).  The
 *                     structures reach them through ds/link.h only (no
 *                     sch_protect, sch_alloc or sch_retire here); the
 *                     environment variable BENCH_DS_RC_BATCH sets the
 *                     domain's batch (0: the default), BENCH_DS_RC_COLLECT
 *                     = N makes every thread call smr_rc_collect after
 *                     every N sections (default 0: never, as circ's users
 *                     do; for experiments)
 *
 * Counters: every thread has retire and reclaim counters it alone writes;
 * a reclaim is counted by the thread that runs it (through the thread-local
 * sch_self), or on a shared counter when that thread is not one of ours
 * (liburcu's call_rcu thread).  garbage = retires - reclaims, summed by the
 * sampler (sch_garbage).  RC: "retires" counts the objects created and
 * "reclaims" those destroyed (their type's drop ran), which the run checks
 * are equal after the teardown; the garbage is the rc domain's own figure
 * (sch_garbage: objects whose count reached zero and whose memory is not
 * freed yet), and a reclaim is counted when the object is destroyed (the
 * rc library frees its memory).
 *
 * Poisoning: a node is allocated with magic SCH_LIVE; the reclaim callback
 * checks it (a second reclaim fails), fills the node with SCH_POISON_BYTE,
 * stores SCH_DEAD and frees it.  The structures check SCH_LIVE on every
 * node they read (sch_check), so a read of a reclaimed node is caught
 * while the memory is not yet reused (and by ASAN always). */
#ifndef BENCH_DS_SCHEME_H
#define BENCH_DS_SCHEME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_SCHEME_COLLECTOR) || defined(BENCH_SCHEME_COLLECTOR_ROBUST)
#include "smr/collector.h"
#define SCH_COLLECTOR 1
#if defined(BENCH_SCHEME_COLLECTOR)
#define SCH_NAME            "collector"
#define SCH_COLLECTOR_FLAGS 0u
#else
#define SCH_NAME            "collector_robust"
#define SCH_COLLECTOR_FLAGS SMR_COLLECTOR_ROBUST
#endif
#elif defined(BENCH_SCHEME_SMR_EPOCH)
#include "smr/epoch.h"
#define SCH_NAME "smr_epoch"
#elif defined(BENCH_SCHEME_CK_EPOCH)
#include <ck_epoch.h>
#define SCH_NAME "ck_epoch"
#elif defined(BENCH_SCHEME_CK_HP)
#include <ck_hp.h>
#define SCH_NAME "ck_hp"
#elif defined(BENCH_SCHEME_URCU)
#define _LGPL_SOURCE /* inline read-side fast paths, as liburcu advises */
#include <urcu/urcu-memb.h>
#define SCH_NAME "urcu"
#elif defined(BENCH_SCHEME_NONE)
#define SCH_NAME "none"
#elif defined(BENCH_SCHEME_RC) || defined(BENCH_SCHEME_RC_DEFERRED)
#include "smr/rc.h"
#define SCH_RC 1
#if defined(BENCH_SCHEME_RC)
#define SCH_NAME     "rc"
#define SCH_RC_FLAGS 0u
#else
#define SCH_NAME     "rc_deferred"
#define SCH_RC_FLAGS SMR_RC_DEFERRED
#endif
#else
#error "bench_ds: define one BENCH_SCHEME_* (see bench/ds.cmake)"
#endif

#define SCH_LIVE        0x4c4956454e4f4445ull /* "LIVENODE" */
#define SCH_DEAD        0xdeadbeefdeadbeefull
#define SCH_POISON_BYTE 0x5b
#define SCH_MAX_THREADS 256

/* Fail loudly: a wrong result must not look like a number. */
#define SCH_FAIL(...)                                                          \
  do {                                                                         \
    fflush(stdout);                                                            \
    fprintf(stderr, "bench_ds_" SCH_NAME ": FAILED: " __VA_ARGS__);            \
    fputc('\n', stderr);                                                       \
    _Exit(1);                                                                  \
  } while (0)

/* A libsmr call that returns 0 or a negative errno code: fail on an error,
 * naming the call. */
#define SCH_CHECK(call)                                                        \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_)                                                                   \
      SCH_FAIL("%s: %d", #call, rc_);                                          \
  } while (0)

/* ---- node header --------------------------------------------------------- */

struct sch_node {
#if defined(SCH_COLLECTOR)
  struct smr_collector_node hdr;
#elif defined(BENCH_SCHEME_SMR_EPOCH)
  struct smr_retired hdr;
#elif defined(BENCH_SCHEME_CK_EPOCH)
  ck_epoch_entry_t hdr;
#elif defined(BENCH_SCHEME_CK_HP)
  ck_hp_hazard_t hdr;
#elif defined(BENCH_SCHEME_URCU)
  struct rcu_head hdr;
#elif defined(BENCH_SCHEME_NONE)
  struct sch_node *retired_next; /* NONE: the thread's kept list */
#endif /* RC: no header (the rc library keeps its own before the payload) */
  uint64_t magic; /* SCH_LIVE from allocation to reclamation */
  size_t size;    /* the allocation, for the poisoning */
};

#define SCH_CONTAINER(ptr, type, member)                                       \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A node read by a structure must be live (not yet reclaimed). */
static inline void sch_check(const struct sch_node *n) {
  if (__builtin_expect(n->magic != SCH_LIVE, 0))
    SCH_FAIL("read of a reclaimed node %p (magic %016llx)", (const void *)n,
             (unsigned long long)n->magic);
}

/* ---- per-thread state and counters ----------------------------------------
 */

struct sch_thread {
  /* Written only by the owning thread (relaxed load, release store: the
   * sampler's acquire loads pair with the stores). */
  _Alignas(64) _Atomic uint64_t retires;
  _Atomic uint64_t reclaims;
#if defined(SCH_COLLECTOR)
  smr_collector_handle *h;
#elif defined(BENCH_SCHEME_SMR_EPOCH)
  smr_reader *r;
#elif defined(BENCH_SCHEME_CK_EPOCH)
  unsigned since_poll; /* retires since the last ck_epoch_poll */
  ck_epoch_record_t rec;
#elif defined(BENCH_SCHEME_CK_HP)
  void *hp[3];
  ck_hp_record_t rec;
#elif defined(BENCH_SCHEME_NONE)
  struct sch_node *kept; /* retired nodes, freed by sch_global_fini */
#elif defined(SCH_RC)
  smr_rc_handle *h;
  unsigned since_collect; /* sections since the last smr_rc_collect */
#endif
};

/* The threads of the current run (counters summed by sch_garbage). */
static struct {
  _Atomic unsigned n; /* release store after the slot: pairs with the
                         sampler's acquire load */
  struct sch_thread *t[SCH_MAX_THREADS];
  _Atomic uint64_t foreign_reclaims; /* reclaims on threads not ours */
} sch_reg;
static pthread_mutex_t sch_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local struct sch_thread *sch_self;

static inline void sch_count(_Atomic uint64_t *c) {
  /* relaxed: only this thread writes c; release: a sampler that reads the
   * new value also sees this thread's earlier retire counts. */
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_release);
}

#if !defined(SCH_RC) /* RC: the rc domain's figure (its section below) */
/* Retired and not yet reclaimed, all threads. */
static inline uint64_t sch_garbage(void) {
  /* acquire: pairs with the release store of the slot count. */
  unsigned n = atomic_load_explicit(&sch_reg.n, memory_order_acquire);
  uint64_t rec = 0, ret = 0;
  /* Reclaims first, retires after: every reclaim counted follows its retire
   * (through the scheme's synchronisation and the release stores / acquire
   * loads of the counters), so the difference is never negative. */
  /* acquire: pairs with the release fetch_add of foreign threads. */
  rec += atomic_load_explicit(&sch_reg.foreign_reclaims, memory_order_acquire);
  for (unsigned i = 0; i < n; i++)
    /* acquire: pairs with sch_count's release store. */
    rec += atomic_load_explicit(&sch_reg.t[i]->reclaims, memory_order_acquire);
  for (unsigned i = 0; i < n; i++)
    /* acquire: pairs with sch_count's release store. */
    ret += atomic_load_explicit(&sch_reg.t[i]->retires, memory_order_acquire);
  return ret > rec ? ret - rec : 0;
}
#endif

/* Totals, once every thread of the run is done (joined). */
static inline void sch_totals(uint64_t *retires, uint64_t *reclaims) {
  /* relaxed: the threads were joined (or are the caller). */
  unsigned n = atomic_load_explicit(&sch_reg.n, memory_order_relaxed);
  /* relaxed: call_rcu's thread finished its callbacks before the barrier
   * that precedes this call returned. */
  uint64_t rec =
      atomic_load_explicit(&sch_reg.foreign_reclaims, memory_order_relaxed);
  uint64_t ret = 0;
  for (unsigned i = 0; i < n; i++) {
    /* relaxed: written by joined threads or by the caller. */
    rec += atomic_load_explicit(&sch_reg.t[i]->reclaims, memory_order_relaxed);
    ret += atomic_load_explicit(&sch_reg.t[i]->retires, memory_order_relaxed);
  }
  *retires = ret;
  *reclaims = rec;
}

static inline void sch_reg_add(struct sch_thread *t) {
  /* relaxed: t is not shared yet (the registry's release store publishes
   * it). */
  atomic_store_explicit(&t->retires, 0, memory_order_relaxed);
  atomic_store_explicit(&t->reclaims, 0, memory_order_relaxed);
  pthread_mutex_lock(&sch_reg_lock);
  /* relaxed: writers of n serialise on sch_reg_lock. */
  unsigned n = atomic_load_explicit(&sch_reg.n, memory_order_relaxed);
  if (n == SCH_MAX_THREADS)
    SCH_FAIL("more than %d threads", SCH_MAX_THREADS);
  sch_reg.t[n] = t;
  /* release: the slot (and t's zeroed counters) before the count that
   * makes the sampler read it. */
  atomic_store_explicit(&sch_reg.n, n + 1, memory_order_release);
  pthread_mutex_unlock(&sch_reg_lock);
  sch_self = t;
}

/* Poison a node and mark it dead. */
static inline void sch__poison(struct sch_node *n) {
  memset(n, SCH_POISON_BYTE, n->size);
  n->magic = SCH_DEAD;
}

/* The end of a node's life in a scheme: it must be live (a second reclaim
 * fails), then it is poisoned. */
static inline void sch__kill(struct sch_node *n) {
  if (n->magic != SCH_LIVE)
    SCH_FAIL("node %p reclaimed twice or corrupted (magic %016llx)", (void *)n,
             (unsigned long long)n->magic);
  sch__poison(n);
}

/* Count a reclaim on the calling thread's counter. */
static inline void sch__count_reclaim(void) {
  struct sch_thread *self = sch_self;
  if (self)
    sch_count(&self->reclaims);
  else
    /* release: pairs with sch_garbage's acquire load (a thread that is not
     * ours, e.g. liburcu's call_rcu thread, may share this counter). */
    atomic_fetch_add_explicit(&sch_reg.foreign_reclaims, 1,
                              memory_order_release);
}

/* Reclaim a node: check it was live, poison it, free it, count it. */
static inline void sch_reclaim_node(struct sch_node *n) {
  sch__kill(n);
  free(n);
  sch__count_reclaim();
}

/* Free a node no scheme holds: never published (a failed insert's spare),
 * or still in the structure when it is torn down after the run. */
static inline void sch_free_direct(struct sch_node *n) {
  sch_check(n);
  sch__poison(n);
  free(n);
}

/* A number from the environment (strtoul base 0); 0 when unset. */
static inline unsigned sch__env(const char *name) {
  const char *v = getenv(name);
  return v ? (unsigned)strtoul(v, NULL, 0) : 0;
}

/* The protect of the epoch-like schemes: an acquire load, which pairs with
 * the release store or CAS that published the node. */
static inline void *sch__load_acquire(_Atomic(void *) *src) {
  return atomic_load_explicit(src, memory_order_acquire);
}

#if defined(BENCH_SCHEME_SMR_EPOCH) || defined(SCH_RC)
/* The process's writer-side barriers (one epoch domain per run, nothing
 * else issues any). */
static inline long long sch__fence_barriers(void) {
  struct smr_fence_info fi;
  smr_fence_init(&fi);
  return (long long)fi.heavy_barriers;
}
#endif

/* ==== COLLECTOR, COLLECTOR_ROBUST ========================================= */
#if defined(SCH_COLLECTOR)
static smr_collector *sch_c;

static void sch__collector_reclaim(struct smr_collector_node *node,
                                   smr_collector_handle *h) {
  (void)h;
  sch_reclaim_node(SCH_CONTAINER(node, struct sch_node, hdr));
}

static inline void sch_global_init(unsigned threads) {
  (void)threads;
  struct smr_collector_attr a = {.flags = SCH_COLLECTOR_FLAGS};
  /* More flags for checks, e.g. 0x400000 (RETIRER_RECLAIMS) or 0x200000
   * (SYMMETRIC): BENCH_DS_COLLECTOR_FLAGS (strtoul base 0). */
  a.flags |= sch__env("BENCH_DS_COLLECTOR_FLAGS");
  /* Another batch size: BENCH_DS_COLLECTOR_BATCH (0: the default). */
  a.batch = sch__env("BENCH_DS_COLLECTOR_BATCH");
  SCH_CHECK(smr_collector_create(&a, &sch_c));
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  SCH_CHECK(smr_collector_register(sch_c, &t->h));
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  SCH_CHECK(smr_collector_unregister(t->h));
  t->h = NULL;
}
static inline void sch_global_fini(void) {
  SCH_CHECK(smr_collector_destroy(sch_c));
  sch_c = NULL;
}
static inline void sch_enter(struct sch_thread *t) {
  smr_collector_enter(t->h);
}
static inline void sch_leave(struct sch_thread *t) {
  smr_collector_leave(t->h);
}
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  (void)slot;
  return smr_collector_protect(t->h, src);
}
static inline void sch_node_init(struct sch_node *n) {
  smr_collector_node_init(sch_c, &n->hdr);
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  SCH_CHECK(
      smr_collector_retire(t->h, &n->hdr, sch__collector_reclaim, n->size));
}
/* Heavy barriers so far (-1: the scheme cannot tell). */
static inline long long sch_heavy_barriers(void) {
  struct smr_collector_stats st;
  if (smr_collector_stats(sch_c, &st))
    return -1;
  return (long long)st.heavy_barriers;
}

/* ==== SMR_EPOCH =========================================================== */
#elif defined(BENCH_SCHEME_SMR_EPOCH)
static smr_domain *sch_d;

static void sch__epoch_reclaim(struct smr_retired *r) {
  sch_reclaim_node(SCH_CONTAINER(r, struct sch_node, hdr));
}

static inline void sch_global_init(unsigned threads) {
  (void)threads;
  SCH_CHECK(smr_domain_create(NULL, &sch_d));
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  SCH_CHECK(smr_reader_register(sch_d, &t->r));
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  SCH_CHECK(smr_reader_unregister(t->r));
  t->r = NULL;
}
static inline void sch_global_fini(void) {
  SCH_CHECK(smr_domain_destroy(sch_d)); /* reclaims what is left */
  sch_d = NULL;
}
static inline void sch_enter(struct sch_thread *t) {
  smr_enter(t->r);
}
static inline void sch_leave(struct sch_thread *t) {
  smr_leave(t->r);
}
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  (void)t;
  (void)slot;
  return sch__load_acquire(src);
}
static inline void sch_node_init(struct sch_node *n) {
  (void)n;
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  SCH_CHECK(smr_retire(sch_d, &n->hdr, sch__epoch_reclaim));
}
static inline long long sch_heavy_barriers(void) {
  return sch__fence_barriers();
}

/* ==== CK_EPOCH ============================================================ */
#elif defined(BENCH_SCHEME_CK_EPOCH)
#define SCH_CK_POLL_EVERY 32
static ck_epoch_t sch_ck;

static void sch__ck_reclaim(ck_epoch_entry_t *e) {
  sch_reclaim_node(SCH_CONTAINER(e, struct sch_node, hdr));
}

static inline void sch_global_init(unsigned threads) {
  (void)threads;
  ck_epoch_init(&sch_ck); /* forgets the records of the previous run */
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  t->since_poll = 0;
  ck_epoch_register(&sch_ck, &t->rec, NULL);
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  /* Waits for a grace period and dispatches everything pending (the
   * record's pending callbacks would be dropped by ck_epoch_unregister). */
  ck_epoch_barrier(&t->rec);
  ck_epoch_unregister(&t->rec);
}
static inline void sch_global_fini(void) {
  /* Every record did its barrier: nothing is pending. */
}
static inline void sch_enter(struct sch_thread *t) {
  ck_epoch_begin(&t->rec, NULL);
}
static inline void sch_leave(struct sch_thread *t) {
  ck_epoch_end(&t->rec, NULL);
  if (t->since_poll >= SCH_CK_POLL_EVERY) {
    t->since_poll = 0;
    ck_epoch_poll(&t->rec);
  }
}
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  (void)t;
  (void)slot;
  return sch__load_acquire(src);
}
static inline void sch_node_init(struct sch_node *n) {
  (void)n;
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  ck_epoch_call(&t->rec, &n->hdr, sch__ck_reclaim);
  t->since_poll++;
}
static inline long long sch_heavy_barriers(void) {
  return -1;
}

/* ==== CK_HP =============================================================== */
#elif defined(BENCH_SCHEME_CK_HP)
static ck_hp_t sch_hp;

static void sch__hp_reclaim(void *p) {
  sch_reclaim_node(p);
}

static inline void sch_global_init(unsigned threads) {
  /* Reclaim once a thread holds this many retired nodes: a few times the
   * hazard pointers that can exist (3 per thread, plus main and stall). */
  unsigned threshold = 6 * (threads + 2);
  if (threshold < 64)
    threshold = 64;
  ck_hp_init(&sch_hp, 3, threshold, sch__hp_reclaim);
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  ck_hp_register(&sch_hp, &t->rec, t->hp);
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  ck_hp_clear(&t->rec);
  ck_hp_purge(&t->rec); /* spins until no hazard pointer holds them */
  ck_hp_unregister(&t->rec);
}
static inline void sch_global_fini(void) {}
static inline void sch_enter(struct sch_thread *t) {
  (void)t;
}
static inline void sch_leave(struct sch_thread *t) {
  ck_hp_clear(&t->rec);
}
/* Publish the node's hazard pointer, then load *src again: equal, the node
 * was still reachable after the hazard was visible (ck_hp_set_fence is a
 * full fence: pairs with the reclaimer's scan, which follows its unlinking
 * CAS).  The structures validate further where reachability needs more
 * than *src (the list checks its predecessor's link). */
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  /* acquire: pairs with the release store or CAS that published it. */
  void *p = atomic_load_explicit(src, memory_order_acquire);
  for (;;) {
    ck_hp_set_fence(&t->rec, (unsigned)slot,
                    (void *)((uintptr_t)p & ~(uintptr_t)1));
    /* acquire: as above; ordered after the hazard by the fence. */
    void *q = atomic_load_explicit(src, memory_order_acquire);
    if (q == p)
      return p;
    p = q;
  }
}
static inline void sch_node_init(struct sch_node *n) {
  (void)n;
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  ck_hp_free(&t->rec, &n->hdr, n, n);
}
static inline long long sch_heavy_barriers(void) {
  return -1;
}

/* ==== URCU ================================================================ */
#elif defined(BENCH_SCHEME_URCU)
static void sch__urcu_reclaim(struct rcu_head *h) {
  sch_reclaim_node(SCH_CONTAINER(h, struct sch_node, hdr));
}

/* liburcu registers a thread once: main is registered for the whole
 * program (sch_process_init, it calls urcu_memb_barrier) and also counts as
 * a thread of each run. */
static _Thread_local unsigned sch_urcu_depth;

static inline void sch__urcu_get(void) {
  if (sch_urcu_depth++ == 0)
    urcu_memb_register_thread();
}
static inline void sch__urcu_put(void) {
  if (--sch_urcu_depth == 0)
    urcu_memb_unregister_thread();
}
#define SCH_HAVE_PROCESS_HOOKS 1
static inline void sch_process_init(void) {
  sch__urcu_get();
}
static inline void sch_process_fini(void) {
  sch__urcu_put();
}
static inline void sch_global_init(unsigned threads) {
  (void)threads;
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  sch__urcu_get();
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  (void)t;
  sch__urcu_put();
}
static inline void sch_global_fini(void) {
  urcu_memb_barrier(); /* every call_rcu callback has run */
}
static inline void sch_enter(struct sch_thread *t) {
  (void)t;
  urcu_memb_read_lock();
}
static inline void sch_leave(struct sch_thread *t) {
  (void)t;
  urcu_memb_read_unlock();
}
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  (void)t;
  (void)slot;
  return sch__load_acquire(src);
}
static inline void sch_node_init(struct sch_node *n) {
  (void)n;
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  urcu_memb_call_rcu(&n->hdr, sch__urcu_reclaim);
}
static inline long long sch_heavy_barriers(void) {
  return -1;
}

/* ==== RC, RC_DEFERRED ===================================================== */
#elif defined(SCH_RC)
static smr_rc_domain *sch_rd;
static unsigned sch_rc_collect_every; /* BENCH_DS_RC_COLLECT; 0: never */

static inline void sch_global_init(unsigned threads) {
  (void)threads;
  struct smr_rc_domain_attr a = {.flags = SCH_RC_FLAGS};
  a.batch = sch__env("BENCH_DS_RC_BATCH"); /* 0: the default */
  sch_rc_collect_every = sch__env("BENCH_DS_RC_COLLECT");
  SCH_CHECK(smr_rc_domain_create(&a, &sch_rd));
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  t->since_collect = 0;
  SCH_CHECK(smr_rc_handle_register(sch_rd, &t->h));
}
/* Objects this handle released wait in the domain for another handle's
 * collection or its destruction (sch_global_fini). */
static inline void sch_thread_unregister(struct sch_thread *t) {
  SCH_CHECK(smr_rc_handle_unregister(t->h));
  t->h = NULL;
}
/* Destroys what is left (every reference was released by the structures'
 * teardown). */
static inline void sch_global_fini(void) {
  SCH_CHECK(smr_rc_domain_destroy(sch_rd));
  sch_rd = NULL;
}
static inline void sch_enter(struct sch_thread *t) {
  smr_rc_enter(t->h);
}
static inline void sch_leave(struct sch_thread *t) {
  smr_rc_leave(t->h);
  if (sch_rc_collect_every && ++t->since_collect >= sch_rc_collect_every) {
    t->since_collect = 0;
    smr_rc_collect(t->h);
  }
}
static inline long long sch_heavy_barriers(void) {
  return sch__fence_barriers();
}
/* Objects whose strong count reached zero (each is deferred, the roots, or
 * destroyed at once by a destruction, the children) and whose memory is
 * not freed yet: roots waiting for their grace period, and destroyed
 * objects whose memory waits (weak references, or the memory's own grace
 * period).  stats.pending alone misses the latter while weak references
 * last, and pending + (destroyed - freed) counts the memory's own waits
 * twice.  An object counted again while pending (a snapshot made counted)
 * that reaches zero again is deferred, and counted, once more. */
static inline uint64_t sch_garbage(void) {
  struct smr_rc_stats st;
  if (smr_rc_stats(sch_rd, &st))
    return 0;
  uint64_t zero = st.deferred + st.immediate;
  return zero > st.freed ? zero - st.freed : 0;
}
/* The drop of every node type: the node must be live; it is poisoned (a
 * reader that still reaches it fails its sch_check) and counted.  The rc
 * library frees the memory. */
static void sch_rc_drop(void *obj, smr_rc_handle *h) {
  (void)h;
  sch__kill(obj);
  sch__count_reclaim();
}

/* ==== NONE ================================================================ */
#else
static inline void sch_global_init(unsigned threads) {
  (void)threads;
}
static inline void sch_thread_register(struct sch_thread *t) {
  sch_reg_add(t);
  t->kept = NULL;
}
static inline void sch_thread_unregister(struct sch_thread *t) {
  (void)t;
}
/* The end of the run: every kept node is reclaimed (counted), which lets
 * the run check retires == reclaims as for the other schemes. */
static inline void sch_global_fini(void) {
  /* relaxed: every thread of the run was joined. */
  unsigned n = atomic_load_explicit(&sch_reg.n, memory_order_relaxed);
  for (unsigned i = 0; i < n; i++) {
    struct sch_node *x = sch_reg.t[i]->kept;
    while (x) {
      struct sch_node *next = x->retired_next;
      sch_reclaim_node(x);
      x = next;
    }
    sch_reg.t[i]->kept = NULL;
  }
}
static inline void sch_enter(struct sch_thread *t) {
  (void)t;
}
static inline void sch_leave(struct sch_thread *t) {
  (void)t;
}
static inline void *sch_protect(struct sch_thread *t, int slot,
                                _Atomic(void *) *src) {
  (void)t;
  (void)slot;
  return sch__load_acquire(src);
}
static inline void sch_node_init(struct sch_node *n) {
  (void)n;
}
static inline void sch_retire(struct sch_thread *t, struct sch_node *n) {
  sch_count(&t->retires);
  n->retired_next = t->kept;
  t->kept = n;
}
static inline long long sch_heavy_barriers(void) {
  return -1;
}
#endif

/* ---- common ------------------------------------------------------------- */

#ifndef SCH_HAVE_PROCESS_HOOKS
/* Once per program, on the main thread, before and after every run. */
static inline void sch_process_init(void) {}
static inline void sch_process_fini(void) {}
#endif

#if !defined(SCH_RC) /* RC: ds_new (ds/link.h) */
/* A node of `size` bytes (a struct whose first member is struct sch_node),
 * with the scheme's header initialised; the caller fills the rest and
 * publishes it. */
static inline void *sch_alloc(struct sch_thread *t, size_t size) {
  (void)t;
  struct sch_node *n = malloc(size);
  if (!n)
    SCH_FAIL("out of memory (%zu bytes)", size);
  n->magic = SCH_LIVE;
  n->size = size;
  sch_node_init(n);
  return n;
}
#endif

/* Start a run's registry (no thread of the previous run is counted). */
static inline void sch_reg_reset(void) {
  /* relaxed: no other thread runs between runs. */
  atomic_store_explicit(&sch_reg.n, 0, memory_order_relaxed);
  atomic_store_explicit(&sch_reg.foreign_reclaims, 0, memory_order_relaxed);
}

#endif /* BENCH_DS_SCHEME_H */
