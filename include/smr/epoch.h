/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/epoch.h - epoch-based reclamation domain.
 *
 * A domain tracks read sections of registered readers and defers the
 * reclamation of retired objects until every section that could still see
 * them has ended (a grace period).  It plays the role of liburcu, ck_epoch and
 * crossbeam-epoch:
 *
 *   smr_reader *r;  smr_reader_register(d, &r);          // once per thread
 *   smr_enter(r);  p = atomic_load_explicit(&head, memory_order_acquire);
 *   use(p);        smr_leave(r);                          // readers
 *
 *   old = head; atomic_store_explicit(&head, new, memory_order_release);
 *   smr_retire(d, &old->retired, free_old);              // any thread
 *
 * Read sections are wait-free, nestable and, when asymmetric fences are in
 * force (Linux membarrier), consist of plain loads and stores only: the
 * writer side pays for the StoreLoad ordering.  See docs/DESIGN.md for the
 * protocol and its correctness argument.
 *
 * Signal handlers: a handler may run read sections (smr_enter/smr_leave) on
 * the record of the thread it interrupts, even in the middle of that
 * thread's own smr_enter, smr_leave or section: each updates the record with
 * a single store and the handler's balanced pair leaves it as it was
 * (docs/DESIGN.md section 3, "Signal handlers", gives the argument; in
 * symmetric mode nested entries fence too, for this case).  Swap cell readers
 * are not safe there (smr/swap.h).
 */
/* clang-format on */
#ifndef SMR_EPOCH_H
#define SMR_EPOCH_H

#include "smr/common.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fence mode (process-wide) ------------------------------------------ */

/* How read sections get their StoreLoad ordering. */
typedef enum smr_fence_mode {
  /* Readers issue only compiler barriers; writers issue
   * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). */
  SMR_FENCE_ASYMMETRIC = 1,
  /* Readers issue a full fence on entry; writers issue a full fence. */
  SMR_FENCE_SYMMETRIC = 2
} smr_fence_mode;

struct smr_fence_info {
  smr_fence_mode mode;     /* process default for new domains and cells */
  int64_t registration_ns; /* time the one-time membarrier registration took */
  int membarrier_error;    /* 0, or the negative errno that forced SYMMETRIC */
  int forced;              /* 1 if SMR_FENCE=symmetric in the environment */
  uint64_t heavy_barriers; /* writer-side barriers issued so far */
  uint64_t heavy_retries;  /* barriers that needed a fallback command */
};

/* Decide the process fence mode once: register for private expedited
 * membarrier unless the environment variable SMR_FENCE=symmetric forces the
 * fence fallback.  Idempotent and thread-safe; the first call does the work
 * (typically a few microseconds; more on kernels with many CPUs), so call it
 * early from main() to keep that cost out of latency-sensitive paths.
 * smr_domain_create() and smr_swap_create() call it if nobody did.
 * Fills *info when info is not NULL.  Returns 0 (the fallback mode is not an
 * error; see info->membarrier_error). */
SMR_API int smr_fence_init(struct smr_fence_info *info);

/* ---- Domain ---------------------------------------------------------------
 */

typedef struct smr_domain smr_domain;

/* Domain flags (smr_domain_attr.flags).  Values are unique across libsmr's
 * flag sets (docs/DESIGN.md, "Conventions"): a flag of another set is
 * refused with -EINVAL.
 * Force this domain to use fences on both sides whatever the process mode. */
#define SMR_DOMAIN_SYMMETRIC 0x1u
/* Collect automatically only above the threshold, never early: predictable
 * batching (and deterministic counts in tests). */
#define SMR_DOMAIN_STRICT_THRESHOLD 0x2u

struct smr_domain_attr {
  unsigned flags;   /* SMR_DOMAIN_* */
  size_t threshold; /* objects retired since the last grace period started
                       that trigger an automatic, non-blocking collection in
                       smr_retire() (so each grace period covers at least
                       that many; with SMR_DOMAIN_STRICT_THRESHOLD: the
                       whole garbage count); 0 = default (64);
                       SIZE_MAX = never collect automatically.  Below it,
                       from a garbage count of 2 on, smr_retire also polls
                       (a non-blocking collection step) whenever 20
                       writer-side barriers' worth of time has passed since
                       the last step, so big objects
                       retired every millisecond or so are reclaimed within
                       a few retires, also when readers are descheduled
                       inside sections (oversubscribed CPUs) */
};

/* Create a domain.  attr may be NULL for defaults.  Errors: -EINVAL (out is
 * NULL or unknown flags), -ENOMEM.  Any thread; may block briefly (first call
 * registers membarrier for the process). */
SMR_API int smr_domain_create(const struct smr_domain_attr *attr,
                              smr_domain **out);

/* Destroy a domain: reclaims every object still retired (no reader can hold
 * one, since none is registered) and frees the domain.  Records of threads
 * that terminated without unregistering are cleaned up here.  NULL: 0
 * (free-like).  Errors: -EBUSY (a thread that has not terminated, e.g. one
 * still running its key destructors, has a reader registered; nothing is
 * changed).  Must not race with any other call on the domain. */
SMR_API int smr_domain_destroy(smr_domain *d);

/* The fence mode this domain uses (fixed at creation), or -EINVAL. */
SMR_API int smr_domain_fence_mode(const smr_domain *d);

/* Set the automatic-collection threshold (see smr_domain_attr).  Any thread.
 * Errors: -EINVAL. */
SMR_API int smr_domain_set_threshold(smr_domain *d, size_t threshold);

/* ---- Readers ---------------------------------------------------------------
 * A reader record belongs to the thread that registered it; only that thread
 * may enter, leave or unregister it.  A thread may register several records
 * (in the same or different domains).  The record stays valid and its
 * sections are honoured until the thread unregisters it or is gone: the
 * thread may still enter, leave and unregister it from its own pthread key
 * destructors, whichever round they run in.  If the thread terminates
 * without unregistering (even inside a read section: it can no longer touch
 * anything), the domain frees the record once the thread is gone (after its
 * last key destructor).  A thread's first registration makes a small
 * per-thread token (a robust mutex the thread holds while it has records);
 * the last unregistration frees it.
 * fork(): the child must not use domains inherited from the parent (create
 * new ones); libsmr takes no lock when a thread exits, so a child never
 * blocks on a lock inherited in the locked state. */

/* Public head of a reader record; the library allocates the full record.
 * `ctr` packs: bits 0..15 nesting depth, bit 16 SMR__READER_SYMMETRIC,
 * bits 17..63 a section sequence number (incremented by every outermost
 * enter).  Only the owning thread writes it; writers read it. */
typedef struct smr_reader {
  SMR_ATOMIC(uint64_t) ctr;
} smr_reader;

#define SMR__READER_NEST_MASK 0xffffull
#define SMR__READER_SYMMETRIC 0x10000ull
#define SMR__READER_SEQ_ONE   0x20000ull

/* Register a reader record for the calling thread.  Errors: -EINVAL, -ENOMEM.
 * Takes the domain's registry lock (may block briefly). */
SMR_API int smr_reader_register(smr_domain *d, smr_reader **out);

/* Unregister and free a record.  NULL: 0 (free-like).  Errors: -EPERM (not the
 * owning thread), -EBUSY (the record is inside a read section).  Blocks
 * briefly on the registry lock.  Also allowed from the owning thread's key
 * destructors at thread exit. */
SMR_API int smr_reader_unregister(smr_reader *r);

/* Out-of-line part of smr_enter: nested entry or symmetric-mode entry. */
SMR_API void smr__enter_slow(smr_reader *r, uint64_t c);

/* Exported twins of the inline functions below (docs/DESIGN.md,
 * "Conventions", FFI): real symbols for callers that cannot use an inline
 * function (Python ctypes, Rust bindgen, other languages' FFIs) or want no
 * inlined code.  Each behaves exactly as its inline namesake, with the same
 * contract (owning thread only, wait-free, same ordering), plus the cost of
 * a call.  Compiled with SMR_NO_INLINE, the plain names are these. */
SMR_API void smr_enter_ffi(smr_reader *r);
SMR_API void smr_leave_ffi(smr_reader *r);
SMR_API bool smr_in_section_ffi(const smr_reader *r);

#ifndef SMR_NO_INLINE
/* Begin a read section.  Nestable up to depth 65535 (deeper nesting aborts
 * the process with a message); wait-free.  Objects
 * reachable through pointers loaded (acquire or consume) inside the section
 * stay valid until the matching outermost smr_leave().
 * Ordering: in asymmetric mode this is a relaxed load, a relaxed store and a
 * compiler barrier; the writer's membarrier() provides the StoreLoad fence
 * that orders the store before the section's loads.  In symmetric mode
 * every entry (nested ones too, for signal handlers) also issues a seq_cst
 * fence.  Owning thread only. */
SMR_INLINE void smr_enter(smr_reader *r) {
  /* relaxed: only this thread writes ctr. */
  uint64_t c = SMR__LOAD(&r->ctr, SMR__RELAXED);
  if (SMR_LIKELY((c & (SMR__READER_NEST_MASK | SMR__READER_SYMMETRIC)) == 0)) {
    /* Outermost entry, asymmetric mode: new sequence, depth 1.  The store
     * is ordered before the section's loads by the writer's membarrier
     * (pairs with smr__heavy_barrier() in the grace-period start).  Release
     * (a plain mov on x86-64): a scan that reads this value synchronises
     * with our previous smr_leave even under C++20's release-sequence
     * rules, which no longer cover later relaxed stores. */
    SMR__STORE(&r->ctr, c + SMR__READER_SEQ_ONE + 1, SMR__RELEASE);
    /* Keep the compiler from hoisting section loads above the store. */
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
  } else {
    smr__enter_slow(r, c);
  }
}

/* End a read section.  Wait-free.  Ordering: release store, so every access
 * inside the section happens before a writer that observes the section ended
 * (pairs with the acquire load of ctr in the grace-period scan).  Unbalanced
 * leave is caught by an assertion in debug builds.  Owning thread only. */
SMR_INLINE void smr_leave(smr_reader *r) {
  uint64_t c = SMR__LOAD(&r->ctr, SMR__RELAXED); /* own word */
  SMR_ASSERT((c & SMR__READER_NEST_MASK) != 0 && "smr_leave without enter");
  SMR__STORE(&r->ctr, c - 1, SMR__RELEASE);
}

/* Whether the record is inside a read section.  Owning thread only. */
SMR_INLINE bool smr_in_section(const smr_reader *r) {
  return (SMR__LOAD(&r->ctr, SMR__RELAXED) & SMR__READER_NEST_MASK) != 0;
}
#else /* SMR_NO_INLINE: the plain names call the exported twins. */
#define smr_enter      smr_enter_ffi
#define smr_leave      smr_leave_ffi
#define smr_in_section smr_in_section_ffi
#endif

/* ---- Publishing and reading pointers ----------------------------------------
 * The rcu_assign_pointer / rcu_dereference roles, over a pointer to an atomic
 * pointer field (`_Atomic(T *)` in C, SMR_ATOMIC(T *), i.e. std::atomic<T *>,
 * in code that also compiles as C++).  Plain macros: the value has the
 * field's type, so no cast is needed.
 *
 *   struct node { int key; struct smr_retired retired; };
 *   SMR_ATOMIC(struct node *) head;
 *   SMR_PUBLISH(&head, n);                       // writer: n fully built
 *   smr_enter(r);  struct node *p = SMR_PROTECT(&head);  use(p);  smr_leave(r);
 *   // reclaim callback: SMR_CONTAINER_OF(rt, struct node, retired)
 */

#ifdef __cplusplus /* member calls: nullptr and derived pointers convert */
#define SMR__PUBLISH(pp, v) ((pp)->store((v), std::memory_order_release))
#define SMR__PROTECT(pp)    ((pp)->load(std::memory_order_acquire))
#else
#define SMR__PUBLISH(pp, v)                                                    \
  atomic_store_explicit((pp), (v), memory_order_release)
#define SMR__PROTECT(pp) atomic_load_explicit((pp), memory_order_acquire)
#endif

/* Publish v in *pp: a release store, so a reader whose SMR_PROTECT (or any
 * acquire load) of *pp returns v sees every write made to *v before this.
 * Pairs with SMR_PROTECT.  Unlinking an object is a publish too (of its
 * successor, or NULL); retire the object after it (smr_retire).  Any thread
 * (writers serialise among themselves as the data structure requires). */
#define SMR_PUBLISH(pp, v) SMR__PUBLISH(pp, v)

/* Load the pointer *pp inside a read section: an acquire load (a plain load
 * on x86-64; memory_order_consume would be promoted to acquire by gcc and
 * clang anyway, and acquire also orders the section's later loads that do
 * not depend on the pointer).  Pairs with SMR_PUBLISH.  The object it
 * returns stays valid until the outermost smr_leave. */
#define SMR_PROTECT(pp) SMR__PROTECT(pp)

/* ---- Retire and reclaim ---------------------------------------------------
 */

/* Intrusive retire header: embed it in the object (like rcu_head) so retiring
 * never allocates.  The library owns it from smr_retire() until fn runs. */
struct smr_retired {
  struct smr_retired *next;
  void (*fn)(struct smr_retired *);
  uint64_t gp; /* unused (the lists wait whole); kept for the layout */
};

/* Defer fn(node) until every read section that might hold the object has
 * ended.  Call after the object has been unlinked (made unreachable for new
 * readers).  Lock-free, never allocates, never waits for readers or locks;
 * any thread, also from inside a read section and from a reclaim callback.
 * When a threshold's worth was retired since the last grace period started,
 * or early (see
 * smr_domain_attr.threshold), and no other thread is collecting, it collects
 * (one non-blocking smr_collect step: at most one writer-side barrier;
 * callbacks that became safe run in the calling thread).
 * Errors: -EINVAL (NULL argument). */
SMR_API int smr_retire(smr_domain *d, struct smr_retired *node,
                       void (*fn)(struct smr_retired *));

/* Like smr_retire for an object without an embedded header: allocates a
 * small header.  fn(ptr) runs after the grace period (also for ptr NULL).
 * Errors: -EINVAL, -ENOMEM (nothing is retired; the caller still owns ptr). */
SMR_API int smr_retire_ptr(smr_domain *d, void *ptr, void (*fn)(void *));

/* Wait until every read section that began before the call has ended (a
 * grace period), reclaiming on the way what has become safe.  Objects retired
 * before the call are not necessarily reclaimed when it returns (a grace
 * period may have taken the retired list just before they arrived): use
 * smr_barrier for that.  Concurrent callers share grace periods.
 * Blocks (spins, yields, then sleeps with exponential backoff up to 1 ms).
 * Errors: -EINVAL, -EDEADLK (the calling thread is inside a read section of
 * this domain, or inside a reclaim callback: waiting would never end), or a
 * negative errno if the kernel refused every writer-side barrier (nothing is
 * reclaimed then). */
SMR_API int smr_synchronize(smr_domain *d);

/* Grace-period cookie for the polling interface. */
typedef struct smr_cookie {
  uint64_t gp;
} smr_cookie;

/* Start a grace period poll: smr_poll(*out) does not return 0 before every
 * read section that began before this call has ended (it may wait for some
 * that began later, until a grace period starts).  Wait-free (one fence, one
 * load); any thread, also inside a read section.  Errors: -EINVAL. */
SMR_API int smr_poll_start(smr_domain *d, smr_cookie *out);

/* Non-blocking check of a cookie; advances the grace-period machine if it can
 * without waiting and reclaims what is safe.  Returns 0 if the grace period
 * has elapsed, -EAGAIN if not yet, -EINVAL for bad arguments.  From inside a
 * reclaim callback it only checks (it cannot advance). */
SMR_API int smr_poll(smr_domain *d, smr_cookie cookie);

/* Wait until every object retired (by any thread) before the call has been
 * reclaimed (its callback has run).  Blocking, like smr_synchronize; also
 * -EDEADLK inside the caller's own read section or a reclaim callback.
 * Callbacks that retire further objects need one barrier per level of such
 * chains. */
SMR_API int smr_barrier(smr_domain *d);

/* Reclaim what is safe now without waiting for readers: completes the grace
 * period in flight if its readers are done, starts the next one if there is
 * garbage, runs the callbacks that became safe.  Returns how many objects
 * were reclaimed (>= 0) or -EINVAL.  Never waits for readers; may wait
 * briefly for another thread's collection step.  Returns 0 from inside a
 * reclaim callback. */
SMR_API long smr_collect(smr_domain *d);

/* Objects retired and not yet reclaimed (approximate while others retire). */
SMR_API size_t smr_garbage_count(const smr_domain *d);

#ifdef __cplusplus
}
#endif

#endif /* SMR_EPOCH_H */
