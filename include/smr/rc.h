/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/rc.h - concurrent reference counting with immediate recursive
 * destruction (the role of circ in Rust; CIRC, PLDI 2024).
 *
 * Counted pointers (smr_rc) that can live in shared atomic locations
 * (smr_atomic_rc: load, store, swap, compare-and-swap), uncounted snapshots
 * (smr_snap) valid inside an smr_domain read section, weak references
 * (smr_weak, smr_atomic_weak) with upgrade, and low-bit tags on every
 * pointer kind:
 *
 *   static void node_edges(void *o, smr_rc_edges *out) {   // children
 *     struct node *n = o;  smr_rc_edges_take(out, &n->next);
 *   }
 *   static const smr_rc_type node_type = {"node", 0, NULL, node_edges};
 *   smr_rc_domain *rd;  smr_rc_domain_create(NULL, &rd);
 *   smr_rc_handle *h;   smr_rc_handle_register(rd, &h);       // per thread
 *   smr_rc n;  smr_rc_new(h, &node_type, sizeof(struct node), &n);
 *   smr_arc_store(h, &head, &n);                  // publish (consumes n)
 *   smr_rc_enter(h);
 *   smr_snap s = smr_arc_load(&head);             // no count, no fence
 *   struct node *p = smr_snap_ptr(s);  use(p);
 *   smr_rc_leave(h);
 *
 * An object is destroyed when its strong count (counted pointers and the
 * atomic locations that hold it) reaches zero and no read section can still
 * hold a snapshot of it.  The object that reaches zero first (the root)
 * waits one grace period of the domain; then it is destroyed and every
 * child whose count its destruction brings to zero is destroyed at once,
 * without another grace period, when no section can hold it either: long
 * chains go in one step (circ's immediate recursive destruction), across
 * object types and iteratively (no recursion, no depth limit).  Unlike
 * circ: one collector per domain, snapshot loads are plain loads inside
 * fence-free smr_enter sections, and no bits are taken from the top of
 * pointers (the epochs live in the objects' count words: DESIGN.md,
 * "Reference counting", has the protocol and its proof).
 *
 * Threads: every call that can destroy or defer objects takes the calling
 * thread's handle.  Type callbacks (edges, drop) run inside those calls, on
 * the calling thread, outside any lock of libsmr: they must not take locks
 * that callers of smr_rc functions may hold.
 */
/* clang-format on */
#ifndef SMR_RC_H
#define SMR_RC_H

#include "smr/common.h"
#include "smr/epoch.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smr_rc_domain smr_rc_domain;
typedef struct smr_rc_edges smr_rc_edges;

/* Public head of a per-thread handle; the library allocates the full
 * struct.  `reader` is the handle's record in the domain's smr_domain: the
 * sections that protect snapshots (smr_rc_enter, or smr_enter on it, so one
 * section may also cover other structures of that domain). */
typedef struct smr_rc_handle {
  smr_reader *reader;
} smr_rc_handle;

/* ---- Pointer kinds -----------------------------------------------------
 * Each is one word: the object's payload address, with a tag in the low
 * SMR_RC_TAG_BITS bits (payloads are aligned to at least 8 bytes).  The
 * all-zero value is null (tag 0); a null pointer may carry a tag too.
 * Copying an smr_rc or smr_weak struct does not change the count: pass them
 * by value to read them, by pointer to functions that consume them. */
#define SMR_RC_TAG_BITS 3
#define SMR_RC_TAG_MASK ((uintptr_t)7)

typedef struct smr_rc {
  uintptr_t p; /* counted strong reference */
} smr_rc;
typedef struct smr_weak {
  uintptr_t p; /* counted weak reference: keeps the memory, not the object */
} smr_weak;
typedef struct smr_snap {
  uintptr_t p; /* uncounted strong: valid until the section ends */
} smr_snap;
typedef struct smr_weak_snap {
  uintptr_t p; /* uncounted weak: valid until the section ends */
} smr_weak_snap;
/* Shared locations.  All-zero bytes are a null location, so an object fresh
 * from smr_rc_new (zeroed) starts with null fields.  A reference (strong or
 * weak) may be written into a field with a plain store, smr_arc_init or
 * smr_aweak_init only while the object is not published yet; into a
 * reachable object it goes with smr_arc_store / smr_aweak_store (and the
 * other atomic operations), which record the move: a plain write there
 * could let the reference's object be destroyed, or its memory freed,
 * while a section that read it elsewhere still holds a snapshot. */
typedef struct smr_atomic_rc {
  SMR_ATOMIC(uintptr_t) p;
} smr_atomic_rc;
typedef struct smr_atomic_weak {
  SMR_ATOMIC(uintptr_t) p;
} smr_atomic_weak;

#define SMR_RC_NULL ((smr_rc){0})

/* ---- Types ---------------------------------------------------------------
 * Every object names its type.  Callbacks run once, when the object is
 * destroyed: first edges (hand over the counted children), then drop (free
 * what the payload owns besides them).  Either may be NULL.  A type must
 * outlive every object of it, memory included: until smr_rc_domain_destroy
 * returns (or smr_rc_stats shows freed == created), so a static const
 * struct is the usual form. */
typedef struct smr_rc_type {
  const char *name; /* for diagnostics */
  size_t align;     /* payload alignment: 0 (8) or a power of two, 8 to 4096
                       (pointer tags need 8) */
  /* Drop the payload's own resources.  May release references (with h);
   * children released here wait a grace period each, as in CDRC: give them
   * to edges for immediate destruction. */
  void (*drop)(void *obj, smr_rc_handle *h);
  /* Hand every outgoing strong reference of obj to out (smr_rc_edges_take /
   * smr_rc_edges_push), and the weak ones too if it likes
   * (smr_rc_edges_take_weak / smr_rc_edges_push_weak).  Children of any
   * type. */
  void (*edges)(void *obj, smr_rc_edges *out);
} smr_rc_type;

/* ---- Domain and handles ---------------------------------------------- */

/* Flags (smr_rc_domain_attr.flags); unique across libsmr's flag sets.
 * Every object that reaches zero waits a grace period of its own, also
 * during a destruction: no immediate recursive destruction (CDRC's
 * behaviour; for comparison, and for callers whose snapshots escape the
 * rules below). */
#define SMR_RC_DEFERRED 0x2000000u

struct smr_rc_domain_attr {
  unsigned flags;     /* SMR_RC_* */
  smr_domain *domain; /* sections and grace periods; NULL: a domain of its
                         own (smr_rc_domain_epoch).  A given domain must
                         outlive the rc domain. */
  unsigned batch;     /* zero-count objects a handle collects before it asks
                         for a grace period: 0 = default (64), 1..65536 */
};

/* Create an rc domain.  attr may be NULL.  Errors: -EINVAL (out NULL,
 * unknown flags, batch out of range), -ENOMEM.  Any thread. */
SMR_API int smr_rc_domain_create(const struct smr_rc_domain_attr *attr,
                                 smr_rc_domain **out);

/* Destroy an rc domain: destroys every object still waiting for its grace
 * period (left by unregistered handles and by threads that terminated
 * without unregistering theirs) and, when the domain made its own
 * smr_domain, destroys that.  Objects still referenced are left alone (the
 * caller's leak).  May wait for grace periods of a given smr_domain.  NULL:
 * 0.  Errors: -EBUSY (a live thread still has a handle registered; nothing
 * changed), -EDEADLK (the caller is inside a section of the given
 * smr_domain; objects whose grace period had elapsed are destroyed, rd
 * stays valid: call again outside), -ENOMEM (no reader record for the
 * callbacks' handle; nothing changed), -EBUSY also when the domain's own
 * smr_domain still has readers registered outside rc (everything pending
 * is destroyed, rd stays valid: call again once they are gone).  Must not
 * race with other calls on rd.  Type callbacks run here get a handle of
 * the calling thread (sections work). */
SMR_API int smr_rc_domain_destroy(smr_rc_domain *rd);

/* The smr_domain whose sections protect snapshots (never NULL for a valid
 * rd), or NULL for rd NULL. */
SMR_API smr_domain *smr_rc_domain_epoch(smr_rc_domain *rd);

/* Register a handle for the calling thread (also a reader record in the
 * domain).  A thread that terminates without unregistering leaves its
 * pending objects to the domain (as unregistering does), found by later
 * registrations, smr_rc_collect and smr_rc_domain_destroy.  Errors:
 * -EINVAL, -ENOMEM.  May block briefly (registry lock). */
SMR_API int smr_rc_handle_register(smr_rc_domain *rd, smr_rc_handle **out);

/* Unregister and free a handle: objects it deferred go to the domain and
 * are destroyed by other handles' collections (or smr_rc_domain_destroy).
 * NULL: 0.  Errors: -EPERM (not the owning thread), -EBUSY (inside a read
 * section, or inside a type callback running on h).  Owning thread only;
 * may block briefly. */
SMR_API int smr_rc_handle_unregister(smr_rc_handle *h);

/* Destroy the handle's deferred objects whose grace period has elapsed
 * (advancing the domain's grace periods without waiting), and adopt those
 * unregistered handles left behind.  Returns objects destroyed (>= 0) or
 * -EINVAL.  Owning thread; never waits for readers. */
SMR_API long smr_rc_collect(smr_rc_handle *h);

/* Wait until every object whose count reached zero in this handle before
 * the call (and the children its destruction frees), and every one left
 * by unregistered handles, has been destroyed.
 * Blocking.  Errors: -EINVAL, -EDEADLK (inside a read section of the
 * domain or a type callback), or smr_synchronize's (the kernel refused
 * every barrier).  Owning thread. */
SMR_API int smr_rc_barrier(smr_rc_handle *h);

struct smr_rc_stats {
  uint64_t created;   /* smr_rc_new calls that succeeded */
  uint64_t destroyed; /* objects whose edges and drop ran */
  uint64_t freed;     /* objects whose memory was freed */
  uint64_t deferred;  /* times an object waited a grace period of its own */
  uint64_t immediate; /* objects destroyed without one (the recursion) */
  uint64_t pending;   /* objects waiting for a grace period now (to be
                         destroyed, or memory of destroyed objects whose
                         last weak reference went) */
};

/* Sum of every handle's counters (and those of unregistered handles).
 * Exact when no thread is using rd, approximate otherwise.  Errors:
 * -EINVAL.  Any thread. */
SMR_API int smr_rc_stats(smr_rc_domain *rd, struct smr_rc_stats *out);

/* ---- Read sections --------------------------------------------------------
 * Snapshots (smr_arc_load, smr_aweak_load and the upgrades to snapshots)
 * must be taken inside a section of the handle's reader and stay valid
 * until its outermost end.  These are smr_enter / smr_leave on h->reader:
 * plain loads and stores, no fence (smr/epoch.h). */
SMR_API void smr_rc_enter_ffi(smr_rc_handle *h);
SMR_API void smr_rc_leave_ffi(smr_rc_handle *h);
SMR_API smr_snap smr_arc_load_ffi(const smr_atomic_rc *a);
SMR_API smr_weak_snap smr_aweak_load_ffi(const smr_atomic_weak *a);

#ifndef SMR_NO_INLINE
SMR_INLINE void smr_rc_enter(smr_rc_handle *h) {
  smr_enter(h->reader);
}
SMR_INLINE void smr_rc_leave(smr_rc_handle *h) {
  smr_leave(h->reader);
}

/* Snapshot of the reference in *a: one acquire load (a plain mov on
 * x86-64), no count.  Pairs with the release (seq_cst) exchange of every
 * store, swap and compare-and-swap.  Inside a section (debug builds check
 * nothing here; the asm check does); wait-free. */
SMR_INLINE smr_snap smr_arc_load(const smr_atomic_rc *a) {
  smr_snap s;
  s.p = SMR__LOAD(&a->p, SMR__ACQUIRE);
  return s;
}

/* Weak snapshot of *a: as smr_arc_load.  Its memory stays valid in the
 * section; the object may already be destroyed (smr_weak_snap_upgrade). */
SMR_INLINE smr_weak_snap smr_aweak_load(const smr_atomic_weak *a) {
  smr_weak_snap s;
  s.p = SMR__LOAD(&a->p, SMR__ACQUIRE);
  return s;
}
#else
#define smr_rc_enter   smr_rc_enter_ffi
#define smr_rc_leave   smr_rc_leave_ffi
#define smr_arc_load   smr_arc_load_ffi
#define smr_aweak_load smr_aweak_load_ffi
#endif

/* ---- Accessors (any pointer kind; pure functions of the word) ---------- */
#define SMR__RC_ACCESSORS(T, pfx)                                              \
  static inline void *pfx##_ptr(T x) {                                         \
    return (void *)(x.p & ~SMR_RC_TAG_MASK);                                   \
  }                                                                            \
  static inline unsigned pfx##_tag(T x) {                                      \
    return (unsigned)(x.p & SMR_RC_TAG_MASK);                                  \
  }                                                                            \
  static inline bool pfx##_is_null(T x) {                                      \
    return (x.p & ~SMR_RC_TAG_MASK) == 0;                                      \
  }                                                                            \
  static inline T pfx##_with_tag(T x, unsigned tag) {                          \
    x.p = (x.p & ~SMR_RC_TAG_MASK) | ((uintptr_t)tag & SMR_RC_TAG_MASK);       \
    return x;                                                                  \
  }
SMR__RC_ACCESSORS(smr_rc, smr_rc)
SMR__RC_ACCESSORS(smr_weak, smr_weak)
SMR__RC_ACCESSORS(smr_snap, smr_snap)
SMR__RC_ACCESSORS(smr_weak_snap, smr_weak_snap)

/* The uncounted view of a counted reference (same word).  Valid while the
 * reference is held, or until the end of the current section, whichever is
 * later: a snapshot taken inside a section stays valid after the reference
 * is released, until the section ends. */
static inline smr_snap smr_rc_snapshot(smr_rc rc) {
  smr_snap s;
  s.p = rc.p;
  return s;
}
static inline smr_weak_snap smr_weak_snapshot(smr_weak w) {
  smr_weak_snap s;
  s.p = w.p;
  return s;
}
/* Whether two pointers name the same object (tags ignored) */
static inline bool smr_snap_ptr_eq(smr_snap a, smr_snap b) {
  return ((a.p ^ b.p) & ~SMR_RC_TAG_MASK) == 0;
}

/* ---- Counted strong references ------------------------------------------ */

/* Allocate an object of `size` payload bytes (zeroed) and type t, strong
 * count 1, in *out.  The payload is aligned to t->align.  Errors: -EINVAL
 * (NULL argument, bad alignment, size too large), -ENOMEM.  Any thread with
 * a handle of the domain the object will be used in. */
SMR_API int smr_rc_new(smr_rc_handle *h, const smr_rc_type *t, size_t size,
                       smr_rc *out);

/* The type an object was created with (NULL for null). */
SMR_API const smr_rc_type *smr_rc_type_of(smr_snap s);

/* Another counted reference to rc's object, in *out (same tag).  Null
 * gives null.  Errors: -EOVERFLOW (the strong count is at its limit,
 * 2^27 - 1: nothing changed, *out null).  Lock-free (one atomic add). */
SMR_API int smr_rc_clone(smr_rc rc, smr_rc *out);

/* Release *rc (null: nothing) and set it null.  If the count reaches zero
 * the object is destroyed after a grace period (its children with it).
 * May run type callbacks of objects whose grace period has elapsed.
 * Ordering: release; the destruction happens after every access made
 * through any reference to the object.  Owning thread of h.  h NULL is
 * misuse: debug builds assert, others return leaving *rc as it was. */
SMR_API void smr_rc_release(smr_rc_handle *h, smr_rc *rc);

/* Counted reference from a snapshot, in *out (same tag; null gives null).
 * Works while the object's count is zero and its destruction pending (the
 * object is then kept: CIRC's resurrection).  Errors: -ESTALE (the object
 * was already destroyed: only possible for a snapshot used outside its
 * section; such a use while a destruction is still running is not caught,
 * except by debug builds' assertion at its end), -EOVERFLOW (count at its
 * limit).  Inside the snapshot's section. */
SMR_API int smr_snap_counted(smr_snap s, smr_rc *out);

/* ---- Atomic strong locations ------------------------------------------
 * Every operation is seq_cst on the location.  Those that take an
 * smr_rc *desired consume it on success (set it null).  Those that take a
 * handle run on its owning thread (they may release and collect). */

/* Initialise a location of an object no other thread can see yet (fresh
 * from smr_rc_new, not published): a relaxed store, consuming *rc.  What
 * the location held is overwritten, not released (it is null in a fresh
 * object). */
SMR_API void smr_arc_init(smr_atomic_rc *a, smr_rc *rc);

/* Store *desired into *a (consumed) and release the reference *a held. */
SMR_API void smr_arc_store(smr_rc_handle *h, smr_atomic_rc *a, smr_rc *desired);

/* Store *desired into *a (consumed); the reference *a held is returned,
 * counted (nothing is released). */
SMR_API smr_rc smr_arc_swap(smr_rc_handle *h, smr_atomic_rc *a,
                            smr_rc *desired);

/* If *a holds expected (pointer and tag), replace it with *desired: 0, the
 * reference is consumed, the old one released and *current (if not NULL)
 * receives the value stored.  Otherwise -EAGAIN:
 * *desired is left to the caller (still counted) and *current (if not NULL)
 * receives the value found, a snapshot valid in the caller's section. */
SMR_API int smr_arc_cas(smr_rc_handle *h, smr_atomic_rc *a, smr_snap expected,
                        smr_rc *desired, smr_snap *current);

/* As smr_arc_cas with an uncounted desired value (e.g. a successor being
 * linked around a deleted node): counts it first and gives the count back
 * on failure.  Errors: -EAGAIN, -ESTALE and -EOVERFLOW as smr_snap_counted.
 * Inside a section. */
SMR_API int smr_arc_cas_snap(smr_rc_handle *h, smr_atomic_rc *a,
                             smr_snap expected, smr_snap desired,
                             smr_snap *current);

/* If *a holds expected (pointer and tag), change only its tag: 0 or
 * -EAGAIN (and *current as above). */
SMR_API int smr_arc_cas_tag(smr_atomic_rc *a, smr_snap expected, unsigned tag,
                            smr_snap *current);

/* Take the reference out of *a, leaving null: for the exclusive owner of
 * the location (an edges callback, an unpublished object).  Relaxed. */
SMR_API smr_rc smr_arc_take(smr_atomic_rc *a);

/* ---- Destruction callbacks ---------------------------------------------- */

/* Hand a child to the destruction in progress (consumes *child; null:
 * nothing).  Only inside a type's edges callback. */
SMR_API void smr_rc_edges_push(smr_rc_edges *out, smr_rc *child);
/* smr_rc_edges_push(out, &take(a)): the usual edges body. */
SMR_API void smr_rc_edges_take(smr_rc_edges *out, smr_atomic_rc *a);
/* Hand a weak reference held by the object being destroyed to the
 * destruction (consumes *w; null: nothing).  If it was the last weak
 * reference to an object already destroyed, the memory is freed at once,
 * unless a weak reference to that object was ever released with
 * smr_weak_release or stored into an atomic weak location other than by
 * smr_aweak_init (a section may then still hold a weak snapshot of it), or
 * the domain is SMR_RC_DEFERRED: then a grace period later, as after
 * smr_weak_release.  Only inside a type's edges callback, for weak
 * references in obj's own fields (a plain smr_weak field written before
 * obj was published, or an atomic one with smr_rc_edges_take_weak): the
 * usual way to drop a weak back link (a doubly linked list's prev). */
SMR_API void smr_rc_edges_push_weak(smr_rc_edges *out, smr_weak *w);
/* smr_rc_edges_push_weak(out, &take(a)). */
SMR_API void smr_rc_edges_take_weak(smr_rc_edges *out, smr_atomic_weak *a);
/* The handle running the destruction (for releases in edges). */
SMR_API smr_rc_handle *smr_rc_edges_handle(smr_rc_edges *out);

/* ---- Weak references ----------------------------------------------------
 * A weak reference keeps the object's memory (and its count word), not the
 * object: upgrade fails once the strong count is zero.  The memory goes a
 * grace period after the last weak reference, or at once when that
 * reference goes with a destruction (smr_rc_edges_push_weak) and no section
 * can hold a weak snapshot of the object any more. */

/* A weak reference to rc's object (from a counted or uncounted strong
 * reference), in *out.  Errors: -EOVERFLOW (weak count at its limit,
 * 2^24 - 1).  A snapshot: inside its section. */
SMR_API int smr_rc_downgrade(smr_rc rc, smr_weak *out);
SMR_API int smr_snap_downgrade(smr_snap s, smr_weak *out);
SMR_API int smr_weak_clone(smr_weak w, smr_weak *out);
/* Counted weak reference from a weak snapshot (inside its section).
 * Errors: -ESTALE (the weak count had reached zero: the snapshot outlived
 * its section), -EOVERFLOW. */
SMR_API int smr_weak_snap_counted(smr_weak_snap s, smr_weak *out);

/* Release *w (null: nothing), set it null.  Owning thread of h; h NULL as
 * smr_rc_release. */
SMR_API void smr_weak_release(smr_rc_handle *h, smr_weak *w);

/* A counted strong reference if the object is alive (strong count > 0), in
 * *out; -ESTALE if not, or if w is null (*out null); -EOVERFLOW.
 * Lock-free. */
SMR_API int smr_weak_upgrade(smr_weak w, smr_rc *out);

/* A snapshot if the object is alive, in *out, valid in the current section;
 * -ESTALE if not, or if s is null.  At most one atomic read-modify-write on the
 * object (it records the time, so that a destruction that follows waits for
 * this section; none when the object's stamp is already that recent). Inside a
 * section. */
SMR_API int smr_weak_snap_upgrade(smr_rc_handle *h, smr_weak_snap s,
                                  smr_snap *out);

/* Atomic weak locations: as the strong ones. */
SMR_API void smr_aweak_init(smr_atomic_weak *a, smr_weak *w);
SMR_API void smr_aweak_store(smr_rc_handle *h, smr_atomic_weak *a,
                             smr_weak *desired);
SMR_API smr_weak smr_aweak_swap(smr_atomic_weak *a, smr_weak *desired);
SMR_API int smr_aweak_cas(smr_rc_handle *h, smr_atomic_weak *a,
                          smr_weak_snap expected, smr_weak *desired,
                          smr_weak_snap *current);
SMR_API smr_weak smr_aweak_take(smr_atomic_weak *a);

#ifdef __cplusplus
}
#endif

#endif /* SMR_RC_H */
