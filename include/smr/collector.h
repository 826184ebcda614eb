/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/collector.h - memory reclamation for lock-free data structures.
 *
 * A collector defers the reclamation of nodes that threads unlinked from a
 * shared structure until no thread can still hold them: the role of seize
 * (Rust) and of ck_epoch / ck_hp:
 *
 *   smr_collector *c;  smr_collector_create(NULL, &c);
 *   smr_collector_handle *h;  smr_collector_register(c, &h);  // per thread
 *   n = malloc(sizeof *n);  smr_collector_node_init(c, &n->node);
 *   smr_collector_enter(h);
 *   struct item *p = smr_collector_protect(h, &head);  // _Atomic(void *)
 *   use(p);  // then, after unlinking p (a CAS on its predecessor):
 *   smr_collector_retire(h, &p->node, free_item, sizeof *p);
 *   smr_collector_leave(h);
 *
 * with these properties together:
 *  - enter / protect / leave are plain loads and stores (no fence, no
 *    locked instruction on x86-64) when asymmetric fences are in force;
 *    the retiring side pays with one heavy barrier (membarrier) per batch,
 *    shared between concurrent submitters;
 *  - the cost of a retire does not grow with the number of threads inside
 *    sections (batches grow with the number of handles instead);
 *  - balanced reclamation: a batch is reclaimed by the last thread whose
 *    section held it up, when it leaves (or, with
 *    SMR_COLLECTOR_RETIRER_RECLAIMS, by the thread that retired it);
 *  - robust mode (SMR_COLLECTOR_ROBUST): a thread stalled inside a section
 *    holds up only the nodes born before it stalled (see the bound below),
 *    not everything retired after;
 *  - a node retired inside the retiring thread's own section stays valid
 *    until that section ends; reclaim functions may retire.
 *
 * docs/DESIGN.md ("The collector") has the protocol, its correctness
 * argument and the proof of the robust bound.
 */
/* clang-format on */
#ifndef SMR_COLLECTOR_H
#define SMR_COLLECTOR_H

#include "smr/common.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smr_collector smr_collector;
typedef struct smr_collector_handle smr_collector_handle;
struct smr_collector_node;

/* A reclaim function: frees the object holding `node`.  Runs on whichever
 * thread releases the node's batch last (or on its retiring thread), with
 * that thread's handle h (never NULL), through which it may retire more
 * nodes (those are reclaimed later, never recursively inside this call). */
typedef void smr_collector_reclaim_fn(struct smr_collector_node *node,
                                      smr_collector_handle *h);

/* Intrusive header, embedded in every node the collector reclaims (caller
 * memory; fields private).  Initialise it with smr_collector_node_init
 * before the node is published; the collector owns it from
 * smr_collector_retire until the reclaim function runs. */
struct smr_collector_node {
  struct smr_collector_node *next;
  uint64_t birth; /* the collector's era when initialised */
  smr_collector_reclaim_fn *reclaim;
  size_t bytes;
};

/* Flags (smr_collector_attr.flags); unique across libsmr's flag sets. */
/* Eras (birth / access): a stalled section holds up only old nodes.  Every
 * load of a node pointer inside a section must then go through
 * smr_collector_protect (or swap / compare_exchange), and a section must
 * not follow a pointer out of a node that may be unlinked unless it
 * validates it (the SCOT rule: docs/DESIGN.md).
 * The bound: a section that stalls (never leaves) with reserved era u
 * holds up only nodes whose birth era is <= u: those initialised before it
 * stalled plus those initialised before the era next advances, however
 * many nodes the other threads retire.  The era advances at every batch
 * submission and unregistration, and after every era_period retires or
 * smr_collector_node_init calls of a thread, so fewer than 2 x
 * era_period nodes per thread are born in one era.  Besides, each other
 * handle keeps at most one partial batch (< 16 x the batch size with
 * pacing, < the batch size with SMR_COLLECTOR_NO_PACING; always <
 * max_pending_bytes).
 * Without this flag a stalled section holds up every node retired after it
 * began (epoch semantics). */
#define SMR_COLLECTOR_ROBUST 0x100000u
/* Fences on both sides whatever the process fence mode. */
#define SMR_COLLECTOR_SYMMETRIC 0x200000u
/* Reclaim functions run only on the thread that retired the node (in its
 * later smr_collector_retire, smr_collector_flush or
 * smr_collector_unregister calls), never on a thread that only reads; if
 * the retirer unregisters (or exits) before its nodes are free, another
 * thread reclaims them (the one that releases them last, or one that
 * registers later and is given the retirer's handle record).  Partial batches
 * are then never taken by another thread's submission (flush_ns ages a batch
 * only for its own retires). */
#define SMR_COLLECTOR_RETIRER_RECLAIMS 0x400000u
/* Submit a batch as soon as it is full.  By default a full batch waits
 * while the collector's last heavy barrier is recent (less than 20 barrier
 * costs ago, so barriers take at most ~5% of the time when many threads
 * retire), growing to at most 16 times its size. */
#define SMR_COLLECTOR_NO_PACING 0x800000u

struct smr_collector_attr {
  unsigned flags; /* SMR_COLLECTOR_* */
  /* Nodes a handle gathers before it submits them as a batch: 0 = 64.  A
   * batch is never smaller than 2 x the registered handles (so its cost per
   * node stays flat with many threads); a full one may wait and grow while
   * heavy barriers are frequent (SMR_COLLECTOR_NO_PACING). */
  unsigned batch;
  /* Submit a handle's partial batch once its oldest node has waited this
   * long: its own retires check every 32nd time, and any other thread's
   * submission takes it: 0 = 1 ms; UINT64_MAX = never. */
  uint64_t flush_ns;
  /* Submit a handle's partial batch once it holds this many bytes (the
   * `bytes` passed to retire): 0 = 1 MiB; SIZE_MAX = never. */
  size_t max_pending_bytes;
  /* Robust mode: the era advances after this many retires (collector-
   * wide): 0 = 64. */
  unsigned era_period;
};

/* Create a collector.  attr may be NULL for defaults.  Errors: -EINVAL (out
 * NULL, unknown flags), -ENOMEM.  Any thread; may block briefly (the first
 * call in the process registers membarrier, see smr_fence_init). */
SMR_API int smr_collector_create(const struct smr_collector_attr *attr,
                                 smr_collector **out);

/* Destroy: reclaims every node still retired and frees the collector.
 * Handles of threads that terminated without unregistering are cleaned up
 * here.  NULL: 0.  Errors: -EBUSY (a live thread has a handle registered:
 * only the handles of terminated threads are cleaned up, the collector
 * stays).  Must not race with any other call on c. */
SMR_API int smr_collector_destroy(smr_collector *c);

/* ---- Handles --------------------------------------------------------------
 * A handle belongs to the thread that registered it: only that thread may
 * enter, protect, leave, retire, flush or unregister through it (also from
 * its key destructors at thread exit).  A thread that terminates without
 * unregistering (even inside a section) is cleaned up: once it is gone its
 * sections stop holding anything up and the nodes it retired are
 * submitted by another thread. */

/* Public head of a handle (fields private; the inline read path uses
 * them).  `ctr`: bits 0..15 nesting depth, bit 16 symmetric, bit 17
 * robust, bits 18..63 a section sequence number. */
struct smr_collector_handle {
  SMR_ATOMIC(uint64_t) ctr;        /* owner-written, read by submitters */
  SMR_ATOMIC(uint64_t) upper;      /* robust: the era this section reserves */
  const SMR_ATOMIC(uint64_t) *era; /* the collector's era */
  SMR_ATOMIC(void *) blocked;      /* batches this handle's sections hold up */
  unsigned attention; /* owner only: leave must take the slow path */
};

/* A robust collector's handles sit at addresses with this bit set, the
 * others' at addresses with it clear (the collector allocates them so):
 * protect tests the mode on the handle's address, in a register, with no
 * load (the compiler can take the test out of a traversal loop). */
#define SMR__COLLECTOR_ROBUST_ADDR 64u
#define SMR__COLLECTOR_NEST_MASK   0xffffull
#define SMR__COLLECTOR_SYMMETRIC   0x10000ull
#define SMR__COLLECTOR_ROBUST      0x20000ull
#define SMR__COLLECTOR_SEQ_ONE     0x40000ull

/* Register a handle for the calling thread.  Errors: -EINVAL, -ENOMEM.
 * Takes the collector's registry lock (may block briefly). */
SMR_API int smr_collector_register(smr_collector *c,
                                   smr_collector_handle **out);

/* Unregister: submits the handle's partial batch, runs the reclaim
 * functions that are due to it, and frees the handle.  NULL: 0.  Errors:
 * -EPERM (not the owning thread), -EBUSY (inside a section), -EINVAL
 * (unregistered already).  Blocks briefly on the registry lock and for one
 * heavy barrier. */
SMR_API int smr_collector_unregister(smr_collector_handle *h);

/* Out-of-line parts of the inline calls below. */
SMR_API void smr__collector_enter_slow(smr_collector_handle *h, uint64_t c);
SMR_API void smr__collector_leave_slow(smr_collector_handle *h, uint64_t c);
SMR_API void *smr__collector_protect_slow(smr_collector_handle *h,
                                          SMR_ATOMIC(void *) const *src);

/* Exported twins of the inline calls (FFI, see smr/common.h). */
SMR_API void smr_collector_enter_ffi(smr_collector_handle *h);
SMR_API void smr_collector_leave_ffi(smr_collector_handle *h);
SMR_API void *smr_collector_protect_ffi(smr_collector_handle *h,
                                        SMR_ATOMIC(void *) const *src);

#ifndef SMR_NO_INLINE
/* Begin a section: nodes loaded with smr_collector_protect inside it stay
 * valid until the matching outermost smr_collector_leave.  Nestable (depth
 * 65535).  Wait-free.  Ordering: asymmetric mode, a relaxed load, release
 * stores and a compiler barrier (the submitter's membarrier orders them
 * before the section's loads); symmetric mode adds a seq_cst fence.  Owner
 * only. */
SMR_INLINE void smr_collector_enter(smr_collector_handle *h) {
  /* relaxed: only this thread writes ctr. */
  uint64_t c = SMR__LOAD(&h->ctr, SMR__RELAXED);
  if (SMR_LIKELY((c & (SMR__COLLECTOR_NEST_MASK | SMR__COLLECTOR_SYMMETRIC)) ==
                 0)) {
    /* robust: reserve the current era; relaxed loads of the era pair with
     * nothing (protect re-checks it), the stores are ordered before the
     * section's loads by the submitter's membarrier. */
    if (c & SMR__COLLECTOR_ROBUST)
      SMR__STORE(&h->upper, SMR__LOAD(h->era, SMR__RELAXED), SMR__RELAXED);
    /* release (a plain mov on x86-64): a scan that reads it synchronises
     * with our previous leave. */
    SMR__STORE(&h->ctr, c + SMR__COLLECTOR_SEQ_ONE + 1, SMR__RELEASE);
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
  } else {
    smr__collector_enter_slow(h, c);
  }
}

/* Load the node pointer *src inside a section: the node stays valid until
 * the outermost leave.  An acquire load (pairs with the release store or
 * CAS that published the node); robust mode adds a relaxed load of the era
 * and, only when the era moved since this section last reserved it, a
 * slow path that reserves the new era and loads again.  Owner only. */
SMR_INLINE void *smr_collector_protect(smr_collector_handle *h,
                                       SMR_ATOMIC(void *) const *src) {
  void *p = SMR__LOAD(src, SMR__ACQUIRE);
  /* The mode, from the handle's address (no load). */
  SMR_ASSERT(!((uintptr_t)(void *)h & SMR__COLLECTOR_ROBUST_ADDR) ==
                 !(SMR__LOAD(&h->ctr, SMR__RELAXED) & SMR__COLLECTOR_ROBUST) &&
             "smr_collector_protect: not a handle of smr_collector_register");
  if ((uintptr_t)(void *)h & SMR__COLLECTOR_ROBUST_ADDR) {
    /* relaxed: ordered after the acquire load above; an era at least the
     * node's birth era (read-read coherence through the publication). */
    if (SMR_UNLIKELY(SMR__LOAD(h->era, SMR__RELAXED) !=
                     SMR__LOAD(&h->upper, SMR__RELAXED)))
      return smr__collector_protect_slow(h, src);
  }
  return p;
}

/* End a section.  Wait-free in the common case: a release store (pairs
 * with the submitters' acquire loads of ctr), then a relaxed load of
 * `blocked`; a handle that batches are waiting on, or one with garbage due
 * for submission, takes the slow path, which releases those batches (and
 * reclaims them if it was the last) or submits.  Owner only. */
SMR_INLINE void smr_collector_leave(smr_collector_handle *h) {
  uint64_t c = SMR__LOAD(&h->ctr, SMR__RELAXED); /* own word */
  SMR_ASSERT((c & SMR__COLLECTOR_NEST_MASK) != 0 && "leave without enter");
  SMR__STORE(&h->ctr, c - 1, SMR__RELEASE);
  if (SMR_UNLIKELY((c & SMR__COLLECTOR_NEST_MASK) == 1 &&
                   (SMR__LOAD(&h->blocked, SMR__RELAXED) || h->attention)))
    smr__collector_leave_slow(h, c - 1);
}
#else
#define smr_collector_enter   smr_collector_enter_ffi
#define smr_collector_leave   smr_collector_leave_ffi
#define smr_collector_protect smr_collector_protect_ffi
#endif

/* Whether the handle is inside a section.  Owner only. */
SMR_API bool smr_collector_in_section(const smr_collector_handle *h);

/* Leave and enter again (outermost section only: nodes protected so far are
 * no longer protected), letting batches this section held up go.  Errors:
 * -EINVAL (not in a section, or nested). */
SMR_API int smr_collector_refresh(smr_collector_handle *h);

/* Atomically store desired in *dst and return the previous value,
 * protected like a smr_collector_protect result when this exchange
 * unlinked it (made it unreachable: the usual case, a node taken out to be
 * retired); robust mode does not cover a previous value still reachable
 * elsewhere (load that one with protect).  acq_rel exchange.  Inside a
 * section; owner only. */
SMR_API void *smr_collector_swap(smr_collector_handle *h,
                                 SMR_ATOMIC(void *) *dst, void *desired);

/* Compare-and-swap: if *dst == *expected store desired and return true;
 * else set *expected to the current value, protected, and return false
 * (acq_rel / acquire).  Inside a section; owner only. */
SMR_API bool smr_collector_compare_exchange(smr_collector_handle *h,
                                            SMR_ATOMIC(void *) *dst,
                                            void **expected, void *desired);

/* ---- Nodes, retire and reclaim -------------------------------------------
 */

/* Stamp node's birth era (robust mode needs it; harmless otherwise).  Call
 * before publishing the node.  Robust mode: a section that publishes a
 * node and keeps using it must load it again through smr_collector_protect
 * (as for any node it dereferences).  Any thread; wait-free. */
SMR_API void smr_collector_node_init(smr_collector *c,
                                     struct smr_collector_node *node);

/* Retire a node unlinked from the structure: fn(node, h') runs once no
 * section that could hold it remains, including the caller's own section
 * if it is in one (the node stays valid until that section's leave).
 * `bytes` counts towards max_pending_bytes and the statistics (0 if
 * unknown).  The node joins the handle's batch; a full batch (or one due
 * by age or bytes) is submitted: one heavy barrier (shared with concurrent
 * submitters), one pass over the handles, batches pushed to the sections
 * that hold them up.  Errors: -EINVAL (NULL argument).  Owner only; also
 * from inside a reclaim function (with the h it was given).  Not from a
 * signal handler. */
SMR_API int smr_collector_retire(smr_collector_handle *h,
                                 struct smr_collector_node *node,
                                 smr_collector_reclaim_fn *fn, size_t bytes);

/* Submit the handle's partial batch now, release the batches that only
 * sections now over still held (on every handle: a link that met its
 * section's leave in passing waits for this, the handle's next leave or
 * the next submission), and run the reclaim functions due to this
 * handle.  Returns the number of nodes reclaimed by this call (>= 0) or
 * -EINVAL.  Owner only; may block briefly for one heavy barrier. */
SMR_API long smr_collector_flush(smr_collector_handle *h);

/* Reclaim every retired node, unsubmitted ones included.  Errors: -EBUSY
 * (a handle is inside a section), -EINVAL.  Must not race with any other
 * call on c (for shutdown and tests, like smr_collector_destroy). */
SMR_API long smr_collector_reclaim_all(smr_collector *c);

/* Statistics (approximate while other threads run). */
struct smr_collector_stats {
  uint64_t garbage;        /* nodes retired and not yet reclaimed */
  uint64_t garbage_bytes;  /* their `bytes` */
  uint64_t submitted;      /* batches submitted so far */
  uint64_t heavy_barriers; /* barriers this collector issued */
  uint64_t era;            /* the current era (robust mode) */
  uint64_t oldest_era;     /* the oldest era a section reserves (robust;
                              UINT64_MAX: none) */
  uint64_t handles;        /* registered handles */
};

/* Fill *out.  Errors: -EINVAL.  Any thread; takes no lock. */
SMR_API int smr_collector_stats(const smr_collector *c,
                                struct smr_collector_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* SMR_COLLECTOR_H */
