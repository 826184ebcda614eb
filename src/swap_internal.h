/* SPDX-License-Identifier: MIT */
/* Private header of the swap cell (smr/swap.h): the structures its files
 * share and the calls between them.  Not installed.
 *
 *   swap.c           the cell: lifecycle (create, destroy, the final free),
 *                    the registry of reader records, the reclamation state
 *                    machine (retire, collect, the bound), queries, and the
 *                    correctness argument
 *   swap_reader.c    reads whose guards go back to the caller, reader
 *                    handles (create, destroy), the out-of-line read path
 *   swap_write.c     the publishing calls: store, update, exchange,
 *                    compare_exchange, update_and_fetch, fetch_and_update
 *   swap_internal.h  this header
 * Calls run one way: swap_write.c -> swap_reader.c -> swap.c, and
 * swap_write.c -> swap.c.  Early-collection pacing is src/pace.c (shared
 * with the epoch domain). */
#ifndef SMR_SWAP_INTERNAL_H
#define SMR_SWAP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "pace.h"
#include "smr/swap.h"

struct swap_rec {
  smr_swap_reader pub; /* hp, cur: owner-written slot, own cache line */
  char pad[SMR__CACHELINE - sizeof(smr_swap_reader)];
  _Atomic(struct swap_rec *) next; /* registry, append-only */
  _Atomic int in_use;
  int owned;       /* an own reader (never handed to reader_create) */
  pthread_t owner; /* its thread, in multi-writer mode */
  smr_swap *cell;
};

struct smr_swap {
  /* Read by every reader on every read: alone on its line. */
  _Alignas(SMR__CACHELINE) _Atomic(struct smr_swap_node *) cur;
  /* Writer state. */
  _Alignas(SMR__CACHELINE) _Atomic size_t garbage; /* retired + previous */
  struct smr_swap_node *retired;                   /* collectable; writer */
  struct smr_swap_node *prev;       /* most recently replaced; writer */
  struct smr_swap_node *free_nodes; /* recycled nodes; writer */
  struct smr_swap_node **hazards;   /* scan buffer; writer */
  size_t hazards_cap;
  size_t threshold;
  struct smr__pace pace; /* early collection: last one, its cost */
  smr_swap_destroy_fn destroy;
  void *ctx;
  unsigned flags;
  smr_fence_mode mode;
  struct smr_swap_node *idle; /* slot value of an idle reader */
  struct swap_rec *own;       /* the cell's own reader */
  struct smr_swap_node gone;  /* published by destroy: value NULL */
  pthread_mutex_t wlock;      /* multi-writer mode and after destroy */
  _Atomic(struct swap_rec *) readers;
  _Atomic size_t foreign; /* reader handles (+1 in multi-writer mode) */
  _Atomic size_t nown;    /* own readers (records with owned = 1) */
  _Atomic int refs;       /* writer + reader handles */
  _Atomic int destroyed;
  /* Barrier refusals (smr_swap_stats); relaxed statistics. */
  _Atomic uint64_t barrier_failures, refused;
  _Atomic int last_barrier_error;
};

/* Every record of the registry (append-only).  acquire: pairs with the
 * release CAS in smr__swap_rec_new, so a record's fields are initialised. */
#define FOR_EACH_REC(r, c)                                                     \
  for (struct swap_rec *r =                                                    \
           atomic_load_explicit(&(c)->readers, memory_order_acquire);          \
       r; r = atomic_load_explicit(&r->next, memory_order_acquire))

/* SMR_DEBUG: abort if c is not a live cell (swap.c, "Debug registry"). */
#ifdef SMR_DEBUG
void smr__swap_cell_check(const smr_swap *c);
#define CELL_CHECK(c) smr__swap_cell_check(c)
#else
#define CELL_CHECK(c) ((void)0)
#endif

/* ---- Nodes --------------------------------------------------------------- */

/* A node's version.  The public field is a plain uint64_t so that the inline
 * read path loads it with a plain mov the compiler may drop when the guard's
 * version is unused (a C11 atomic load is never dropped).  Readers only read
 * it on nodes they pin, which nobody writes; smr_swap_version reads it on a
 * node that may be recycled concurrently, so the library accesses it with
 * the gcc/clang __atomic builtins (atomic on an ordinary object; the only
 * compilers libsmr supports).  Writers store it relaxed: the release store
 * of cur that publishes the node orders it for whoever loads that node from
 * cur.  smr_swap_version may also read the new version of a recycled node
 * before the node is published again; then the seq_cst fence of
 * smr__swap_writer_barrier, which every recycling (collect, exchange)
 * follows and which follows the store of cur that replaced the node, is a
 * release fence that synchronises with smr_swap_version's acquire load of
 * the version, so its validating load of cur sees that replacement or later
 * and retries unless the node has been published again (then the version is
 * right). */
static inline uint64_t node_version(const struct smr_swap_node *n, int order) {
  return __atomic_load_n(&n->version, order);
}

static inline void node_set_version(struct smr_swap_node *n, uint64_t v) {
  __atomic_store_n(&n->version, v, __ATOMIC_RELAXED);
}

static inline struct smr_swap_node *node_get(smr_swap *c) {
  struct smr_swap_node *n = c->free_nodes;
  if (n) {
    c->free_nodes = n->next;
    return n;
  }
  return malloc(sizeof *n);
}

static inline void node_put(smr_swap *c, struct smr_swap_node *n) {
  n->next = c->free_nodes;
  c->free_nodes = n;
}

/* A reader's slot after the barrier: the node it pins, or NULL if idle.
 * acquire: pairs with the reader's release stores to hp (announce and guard
 * release), so its reads through a guard happen before we destroy the
 * value. */
static inline struct smr_swap_node *slot_of(const struct swap_rec *r) {
  struct smr_swap_node *h = atomic_load_explicit(
      &((struct swap_rec *)r)->pub.hp, memory_order_acquire);
  return h == SMR__SWAP_IDLE_SYM ? NULL : h;
}

/* ---- swap.c: registry, reclamation, lifetime ---- */

/* A new record in c's registry (append-only); owned: a writer's own reader.
 * NULL on ENOMEM. */
struct swap_rec *smr__swap_rec_new(smr_swap *c, int owned);

/* The calling writer's own reader (NULL on ENOMEM). */
struct swap_rec *smr__swap_own_reader(smr_swap *c);

/* Adjust the garbage count; returns the new value.  Writer (or wlock). */
size_t smr__swap_garbage_add(smr_swap *c, size_t delta);

/* Retired values the cell may hold: threshold + readers + 1. */
size_t smr__swap_garbage_bound(smr_swap *c);

/* The writer-side barrier before reading the slots: 0 or -ENOBUFS. */
int smr__swap_writer_barrier(smr_swap *c);

/* Destroy every retired node no slot pins.  Writer (or wlock) held.
 * Returns how many, or -ENOBUFS / -ENOMEM (nothing reclaimed). */
long smr__swap_collect(smr_swap *c);

/* Make the kept previous node collectable.  Writer (or wlock). */
void smr__swap_prev_to_retired(smr_swap *c);

/* The replaced node becomes `prev`, the former prev collectable; collects
 * above the threshold (or early).  Writer (or wlock). */
void smr__swap_retire_node(smr_swap *c, struct smr_swap_node *old);

/* After smr_swap_destroy, the collection a reader handle's destroy runs. */
void smr__swap_collect_after_destroy(smr_swap *c);

/* Drop a reference (writer or reader handle); the last one frees the cell. */
void smr__swap_cell_unref(smr_swap *c);

/* ---- swap_reader.c: reads for the caller ---- */

/* A read whose guard goes back to the caller, with its release-order depth
 * set in every build. */
void *smr__swap_read_for_caller(smr_swap_reader *r, smr_swap_guard *g);

#endif /* SMR_SWAP_INTERNAL_H */
