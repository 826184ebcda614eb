/* SPDX-License-Identifier: MIT */
/* clang-format off: the usage example below is laid out by hand. */
/* smr/swap.h - the swap cell: one writer publishes a value, many readers
 * read it through guards, with no lock, no fence and no atomic
 * read-modify-write on the read path.
 *
 *   smr_swap *cell;  smr_swap_create(table, table_free, NULL, &cell);
 *   smr_swap_reader *r;  smr_swap_reader_create(cell, &r);  // per thread
 *   smr_swap_guard g;                                         // readers
 *   const struct table *t = smr_swap_read(r, &g);
 *   lookup(t, key);  smr_swap_guard_release(&g);
 *   smr_swap_store(cell, new_table);                        // the writer
 *
 * Protection is per reader and exact (hazard-pointer style): a guard pins
 * only the value it returned, so a reader that never releases its guard
 * holds back that one value and nothing else.  The cell keeps at most
 * (threshold + readers + 1) retired values whatever readers do (readers:
 * reader handles plus the writer's own reader, one per writer thread in
 * multi-writer mode), and the writer never waits for a reader in
 * store/update/collect.  The bound holds even when the kernel refuses the
 * writer-side barrier (membarrier blocked by seccomp mid-run): nothing can
 * be reclaimed then, so a publish that would exceed the bound fails with
 * -ENOBUFS instead (smr_swap_stats counts the refusals).
 * docs/DESIGN.md gives the protocol and its correctness argument.
 *
 * Threads: writer functions (store, get, update, exchange, load*,
 * fetch/update_and_*, previous, collect) are called by one thread at a time,
 * unless the cell was created with SMR_SWAP_MULTI_WRITER, in which case any
 * thread may call them concurrently (they then serialise on an internal
 * mutex; readers never take it).  smr_swap_destroy is called once, when no
 * other writer call is running.  A smr_swap_reader is used by one
 * thread at a time; any number of readers read concurrently with the writer.
 *
 * Lifetime: after smr_swap_destroy returns, the cell pointer must not be
 * passed to any function again, like a pointer after free(): its memory is
 * freed as soon as the last reader handle is gone (at once if there is
 * none), and that cannot be detected in general.  Debug builds (SMR_DEBUG)
 * keep a registry of live cells and abort with a message when a freed cell
 * is passed to any smr_swap_* function that takes a cell (unless a new cell
 * has since been created at the same address).  Reader handles
 * stay valid until smr_swap_reader_destroy (which may free the cell).
 *
 * Signal handlers: a reader handle must not be used from a signal handler
 * that can interrupt a read (smr_swap_read and the functions built on it)
 * on the same handle: the handler's read would be taken for a nested read
 * and return the node the interrupted read announced but has not validated
 * yet, which may already be destroyed.  Give the handler its own reader
 * handle, or block the signal around reads.  Debug builds abort with a
 * message when a read starts on a handle whose read is in progress.  (The
 * epoch domain's read sections may be used from such handlers: see
 * smr/epoch.h.)
 *
 * The writer's own reader: smr_swap_load, smr_swap_load_copy,
 * smr_swap_update_and_fetch and smr_swap_fetch_and_update read through a
 * reader that belongs to the writer (in multi-writer mode, one per writer
 * thread, created on first use and kept until the cell is freed).
 */
/* clang-format on */
#ifndef SMR_SWAP_H
#define SMR_SWAP_H

#include "smr/common.h"
#include "smr/epoch.h" /* smr_fence_mode, smr_fence_init */
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smr_swap smr_swap;

/* Destructor of published values: called exactly once per non-NULL value
 * once no reader can see it (never for NULL, never for a value handed back
 * by smr_swap_exchange).  It runs in a writer call (store, update, collect,
 * destroy ...) or, after smr_swap_destroy, in smr_swap_reader_destroy.  In
 * single-writer mode it may call writer functions of the same cell; in
 * multi-writer mode it runs under the cell's internal mutex and must not
 * call into the same cell.  Once smr_swap_destroy has begun (in the
 * destructors destroy runs, and in those a later smr_swap_reader_destroy
 * runs) every writer function of the cell fails with -ESHUTDOWN (nothing is
 * published) and smr_swap_destroy with -EINVAL, in either mode; there, and
 * in either mode, it may destroy reader handles of the cell (an idle one:
 * smr_swap_reader_destroy). */
typedef void (*smr_swap_destroy_fn)(void *value, void *ctx);

/* Flag values are unique across libsmr's flag sets (docs/DESIGN.md,
 * "Conventions"): a flag of another set is refused with -EINVAL. */
/* Writer functions from any thread. */
#define SMR_SWAP_MULTI_WRITER 0x10u
/* Fences on both sides (no membarrier). */
#define SMR_SWAP_SYMMETRIC 0x20u
/* Collect only above the threshold. */
#define SMR_SWAP_STRICT_THRESHOLD 0x40u

struct smr_swap_attr {
  unsigned flags;   /* SMR_SWAP_* */
  size_t threshold; /* retired values that trigger a collection; 0 = default
                       (256).  The cell never holds more than threshold +
                       readers + 1 retired values (while the writer-side
                       barrier is refused, a publish that would exceed that
                       fails with -ENOBUFS instead); it collects earlier when
                       publishes are slow compared with a collection's cost
                       (so big values published every few ms do not pile
                       up) */
  void *ctx;        /* passed to the destructor */
};

/* Published node: the library's wrapper around one value.  Readers see it
 * through the inline read path; its fields never change while published or
 * pinned, so readers read them with plain loads.  smr_swap_version reads
 * `version` of a node the writer may be recycling: the library accesses
 * that field with atomic builtins (see src/swap_internal.h, node_version). */
struct smr_swap_node {
  void *value;
  uint64_t version;
  struct smr_swap_node *next; /* writer's lists; not for readers */
};

/* Public head of a reader handle (the library allocates the full record).
 * `hp` is the reader's protection slot: the node it pins, or its idle value
 * (NULL in asymmetric mode, SMR__SWAP_IDLE_SYM in symmetric mode, which
 * sends every read to the out-of-line path that issues the fence).  The
 * last two fields are used only by code compiled with SMR_DEBUG. */
typedef struct smr_swap_reader {
  SMR_ATOMIC(struct smr_swap_node *) hp;
  SMR_ATOMIC(struct smr_swap_node *) *cur; /* the cell's published node */
  SMR_ATOMIC(int) busy; /* a read is in progress (signal-handler check) */
  unsigned depth;       /* guards held (release-order check) */
} smr_swap_reader;

#define SMR__SWAP_IDLE_SYM ((struct smr_swap_node *)1)

/* A read guard: a small struct the caller keeps (normally on its stack).
 * Valid from smr_swap_read() until smr_swap_guard_release().  Guards of one
 * reader are released in reverse order of their reads (SMR_DEBUG builds
 * abort on any other order). */
typedef struct smr_swap_guard {
  void *value;                /* the pinned value */
  uint64_t version;           /* version of the pinned value */
  smr_swap_reader *reader;    /* reader that pins it */
  struct smr_swap_node *prev; /* slot content to restore on release */
  unsigned depth;             /* SMR_DEBUG: the reader's depth after the read */
} smr_swap_guard;

/* ---- Writer side -----------------------------------------------------------
 */

/* Create a cell publishing `initial` (version 0; may be NULL).  destroy may be
 * NULL (values are then not owned by the cell).  attr may be NULL.
 * Errors: -EINVAL (out NULL, unknown flags), -ENOMEM.  Any thread. */
SMR_API int smr_swap_create(void *initial, smr_swap_destroy_fn destroy,
                            const struct smr_swap_attr *attr, smr_swap **out);

/* Destroy the writer's side.  The cell then publishes NULL (a read after
 * destroy returns NULL, with a new version); every value no guard pins is
 * destroyed now; values pinned by guards stay valid until released and are
 * destroyed by a later smr_swap_reader_destroy, at the latest the last one
 * (the cell's memory lives until then).  The cell pointer is dead once this
 * returns 0 (see "Lifetime" above).  NULL: 0 (free-like).  Errors: -EINVAL
 * (called again from a destructor it runs), -EBUSY (a guard of the writer's own
 * reader is still held: release it first; nothing is changed). */
SMR_API int smr_swap_destroy(smr_swap *cell);

/* Publish value (new version) and retire the old one; when the garbage
 * exceeds the threshold, reclaims every retired value no guard pins.  Never
 * waits for readers.  Ordering: release; a reader that sees the new value
 * sees everything the writer did before the store.  Errors (nothing is
 * published, the caller keeps value): -EINVAL, -ENOMEM, -ESHUTDOWN (called
 * from a destructor run by smr_swap_destroy), -ENOBUFS (the garbage is at
 * its bound, threshold + readers + 1, and cannot be reclaimed because the
 * kernel refuses the writer-side barrier, e.g. membarrier blocked by
 * seccomp; smr_swap_stats gives the errno; retry once it is allowed). */
SMR_API int smr_swap_store(smr_swap *cell, void *value);

/* The current value, for the writer (no guard needed: only the writer
 * retires).  NULL for a NULL cell.  In multi-writer mode the value may be
 * retired by a concurrent writer at any time: use smr_swap_load there. */
SMR_API void *smr_swap_get(const smr_swap *cell);

/* Callback that builds the next value from the current one. */
typedef void *(*smr_swap_update_fn)(const void *current, void *arg);

/* store(fn(get(), arg)).  Errors as smr_swap_store (fn is not called when
 * nothing can be published); -EINVAL for NULL fn. */
SMR_API int smr_swap_update(smr_swap *cell, smr_swap_update_fn fn, void *arg);

/* Read through the cell's own reader (the writer's load): fills *g and
 * returns the value.  Nested loads return the same pinned value until the
 * outermost guard is released.  NULL cell or guard: returns NULL. */
SMR_API void *smr_swap_load(smr_swap *cell, smr_swap_guard *g);

/* Copy function for the *_copy calls; NULL means memcpy(dst, src, size). */
typedef void (*smr_swap_copy_fn)(void *dst, const void *src, size_t size,
                                 void *arg);

/* Copy the current value out under a guard (load_cloned).  Errors: -EINVAL
 * (NULL arguments), -ENOENT (the current value is NULL; dst untouched). */
SMR_API int smr_swap_load_copy(smr_swap *cell, void *dst, size_t size,
                               smr_swap_copy_fn copy, void *arg);

/* Publish value and give the old value back to the caller (*old) once no
 * reader can see it: the cell will not destroy it.  Blocks until every guard
 * on the old value is released (spin, yield, then sleep with backoff); the
 * caller must not hold a guard on it through one of its own reader handles.
 * Returns 0: value published, *old is the caller's.
 * Errors with nothing published (the caller keeps value, *old = NULL):
 * -EINVAL, -ENOMEM, -EDEADLK (the writer's own reader pins the old value:
 * the caller would wait for itself), -ESHUTDOWN, -ENOBUFS (as store).
 * -ECANCELED: value IS published, but the kernel kept refusing the
 * writer-side barrier, so no reader could be ruled out: the old value stays
 * with the cell (destroyed like any retired value once a barrier succeeds)
 * and *old = NULL.  No other error is returned after publishing (waiting
 * allocates nothing). */
SMR_API int smr_swap_exchange(smr_swap *cell, void *value, void **old);

/* Publish value only if the published value is still the one `expected`
 * pins: `expected` must be a guard taken on this cell (through any of its
 * reader handles or its own reader) and its version must be the published
 * one (versions are unique per cell, so there is no ABA).  The rcu loop of
 * arc-swap:
 *   do { v = smr_swap_read(r, &g); nv = make(v);
 *        rc = smr_swap_compare_exchange(cell, &g, nv);
 *        smr_swap_guard_release(&g); if (rc) drop(nv); } while (rc == -EAGAIN);
 * Returns 0 (published, old value retired), -EAGAIN (another value is
 * published; value is not consumed), -EINVAL (NULL, or a guard of another
 * cell), -ENOMEM, -ESHUTDOWN, -ENOBUFS (as store; nothing published). */
SMR_API int smr_swap_compare_exchange(smr_swap *cell,
                                      const smr_swap_guard *expected,
                                      void *value);

/* Store fn(current) and return, in *g, a guard on the new value (cell's own
 * reader).  Errors as smr_swap_update; -EBUSY if a guard of the cell's own
 * reader is still held (it would pin the old value instead). */
SMR_API int smr_swap_update_and_fetch(smr_swap *cell, smr_swap_update_fn fn,
                                      void *arg, smr_swap_guard *g);

/* Pin the current value in *g (cell's own reader), then store fn(current).
 * The guard keeps the old value alive until released.  Errors as
 * smr_swap_update_and_fetch. */
SMR_API int smr_swap_fetch_and_update(smr_swap *cell, smr_swap_update_fn fn,
                                      void *arg, smr_swap_guard *g);

/* Version of the published value: 0 for the initial value, +1 per publish
 * (smr_swap_destroy's NULL counts as one).  Any thread; 0 for NULL.
 * Monotonic with what readers see: it is never older than a value the
 * calling thread has already read (guard version) or a version it already
 * got, and never newer than the value a read started after it returns. */
SMR_API uint64_t smr_swap_version(const smr_swap *cell);

/* Retired values not yet destroyed (including the previous value, and the
 * old value an smr_swap_exchange in progress waits to hand back).  Any
 * thread (approximate then).  0 for NULL. */
SMR_API size_t smr_swap_garbage_count(const smr_swap *cell);

/* The most recently replaced value (kept alive until the next publish), or
 * NULL if there has been none, after smr_swap_exchange (the caller owns
 * that value), or for a NULL cell.  Writer only; in multi-writer mode the
 * value may be destroyed as soon as another thread publishes. */
SMR_API void *smr_swap_previous(const smr_swap *cell);

/* Destroy every retired value no guard pins (except the previous value).
 * Returns how many were destroyed, or -EINVAL, -ESHUTDOWN, -ENOMEM, -ENOBUFS
 * (the writer-side barrier was refused: nothing destroyed).  Never waits
 * for readers. */
SMR_API long smr_swap_collect(smr_swap *cell);

/* The fence mode the cell uses (fixed at creation), or -EINVAL. */
SMR_API int smr_swap_fence_mode(const smr_swap *cell);

/* Reclamation health.  Counters are relaxed snapshots (any thread). */
struct smr_swap_stats {
  size_t garbage;            /* as smr_swap_garbage_count */
  size_t bound;              /* threshold + readers + 1 now: no publish
                                takes garbage past it (garbage may exceed it
                                after reader handles were destroyed while
                                the barrier was refused) */
  uint64_t barrier_failures; /* collections the kernel's refusal of the
                                writer-side barrier made reclaim nothing */
  int last_barrier_error;    /* negative errno of the latest refusal, 0 if
                                none so far */
  uint64_t refused;          /* publishes refused with -ENOBUFS */
};

/* Fill *out.  Errors: -EINVAL (NULL). */
SMR_API int smr_swap_stats(const smr_swap *cell, struct smr_swap_stats *out);

/* ---- Reader side -----------------------------------------------------------
 */

/* Create a reader handle.  Thread-safe and lock-free (claims a free record or
 * appends a new one).  Errors: -EINVAL (NULL, or smr_swap_destroy ran while
 * another reader handle still keeps the cell's memory alive), -ENOMEM.  Once
 * the cell's memory is gone the call is undefined (see "Lifetime"). */
SMR_API int smr_swap_reader_create(smr_swap *cell, smr_swap_reader **out);

/* Destroy a reader handle.  After smr_swap_destroy, also destroys the values
 * no guard pins any more, and frees the cell with the last handle.
 * NULL: 0 (free-like).  Errors: -EBUSY (a guard of this reader is still
 * held). */
SMR_API int smr_swap_reader_destroy(smr_swap_reader *r);

/* Out-of-line read: nested reads and symmetric mode.  Returns the pinned
 * node and the slot value to restore on release, by value, so that the
 * caller's guard need not live in memory. */
struct smr__swap_pin {
  struct smr_swap_node *node, *prev;
};
SMR_API struct smr__swap_pin smr__swap_read_slow(smr_swap_reader *r);

/* SMR_DEBUG builds: print what the reader was misused for and abort.
 * what: 0 = a read started while a read on it was in progress (a signal
 * handler interrupted it), 1 = a guard released out of LIFO order. */
SMR_API void smr__swap_misuse(const smr_swap_reader *r, int what);

/* Exported twins of the inline functions below (docs/DESIGN.md,
 * "Conventions", FFI): the same contract as smr_swap_read,
 * smr_swap_guard_release and smr_swap_guard_version, plus the cost of a
 * call.  A guard filled by one may be released by the other (both run the
 * same code), but define SMR_DEBUG alike on both sides (see
 * smr_swap_guard_release): the twins follow the library's build.  Compiled
 * with SMR_NO_INLINE, the plain names are these. */
SMR_API void *smr_swap_read_ffi(smr_swap_reader *r, smr_swap_guard *g);
SMR_API void smr_swap_guard_release_ffi(smr_swap_guard *g);
SMR_API uint64_t smr_swap_guard_version_ffi(const smr_swap_guard *g);

/* Guard accessor and layout, for a caller that treats smr_swap_guard as
 * opaque (a foreign language): allocate smr_swap_guard_sizeof() bytes aligned
 * to smr_swap_guard_alignof() and pass their address as the guard; read the
 * version with smr_swap_guard_version_ffi. */
/* The value the guard pins: what the read returned (NULL when the cell
 * published NULL).  g must be a held guard. */
SMR_API void *smr_swap_guard_value(const smr_swap_guard *g);
/* sizeof(smr_swap_guard) and its alignment, as this library was built. */
SMR_API size_t smr_swap_guard_sizeof(void);
SMR_API size_t smr_swap_guard_alignof(void);

#ifndef SMR_NO_INLINE
/* Fast-path announcement (asymmetric mode, no guard held): returns the
 * validated node, which the reader's slot now pins. */
SMR_INLINE struct smr_swap_node *smr__swap_announce(smr_swap_reader *r) {
  /* Local copy: the compiler barrier below would force a reload of r->cur. */
  SMR_ATOMIC(struct smr_swap_node *) *cur = r->cur;
  struct smr_swap_node *n, *m = SMR__LOAD(cur, SMR__RELAXED);
  do {
    n = m;
    /* Announce the node.  Release store (a plain mov on x86): a scan that
     * reads any later slot value then synchronises with our earlier guard
     * release.  The StoreLoad ordering against the validating load below is
     * supplied by the writer's membarrier before it scans the slots (pairs
     * with smr__heavy_barrier() in collection). */
    SMR__STORE(&r->hp, n, SMR__RELEASE);
    SMR__SIGNAL_FENCE(SMR__SEQ_CST);
    /* acquire: pairs with the writer's release publish, so the node's fields
     * and the value it points to are visible. */
    m = SMR__LOAD(cur, SMR__ACQUIRE);
  } while (SMR_UNLIKELY(m != n));
  return n;
}

/* Read the published value and pin it in *g.  No fence and no atomic RMW in
 * asymmetric mode: load the node, publish it in the reader's slot, load
 * again to validate (retry if a store slipped in between: lock-free, and a
 * retry needs a publish inside a window of two loads).  A nested read on the
 * same reader (a guard is already held) returns the value already pinned;
 * release guards in reverse order.  One
 * thread per reader; not from a signal handler that can interrupt a read on
 * the same reader (see the top of this file). */
SMR_INLINE void *smr_swap_read(smr_swap_reader *r, smr_swap_guard *g) {
#ifdef SMR_DEBUG
  /* relaxed + signal fences: only this thread (or a handler interrupting
   * it) touches busy. */
  if (SMR__LOAD(&r->busy, SMR__RELAXED))
    smr__swap_misuse(r, 0);
  SMR__STORE(&r->busy, 1, SMR__RELAXED);
  SMR__SIGNAL_FENCE(SMR__SEQ_CST);
#endif
  /* relaxed: only this thread writes hp. */
  struct smr_swap_node *h = SMR__LOAD(&r->hp, SMR__RELAXED);
  struct smr_swap_node *n, *prev = NULL;
  if (SMR_UNLIKELY(h != NULL)) {
    struct smr__swap_pin p = smr__swap_read_slow(r);
    n = p.node;
    prev = p.prev;
  } else {
    n = smr__swap_announce(r);
  }
  g->reader = r;
  g->prev = prev;
  /* Plain: n is validated (or pinned), so its fields were written before
   * the release publish our acquire load of cur synchronised with, and
   * nobody writes them while we pin it. */
  g->version = n->version;
  void *v = n->value;
  g->value = v;
#ifdef SMR_DEBUG
  g->depth = ++r->depth;
  SMR__SIGNAL_FENCE(SMR__SEQ_CST);
  SMR__STORE(&r->busy, 0, SMR__RELAXED);
#endif
  return v;
}

/* Release a guard.  Ordering: release store, so the reads made through the
 * guard happen before the writer destroys the value.  Guards of one reader
 * are released in reverse order of their reads: the release restores the
 * slot the read found, so releasing an outer guard before a nested one
 * unpins the value under the nested guard and the nested release then pins
 * it again for good (the reader stays pinned, smr_swap_reader_destroy says
 * -EBUSY).  SMR_DEBUG builds abort on such a release; define SMR_DEBUG
 * alike in every file that reads or releases through a given reader (the
 * library's own functions work with either, whatever its build).  (An
 * order-independent release needs one more instruction on the read fast
 * path; see docs/DESIGN.md section 4.) */
SMR_INLINE void smr_swap_guard_release(smr_swap_guard *g) {
#ifdef SMR_DEBUG
  if (g->depth != g->reader->depth)
    smr__swap_misuse(g->reader, 1);
  g->reader->depth--;
#endif
  SMR__STORE(&g->reader->hp, g->prev, SMR__RELEASE);
}

/* The pinned value's version. */
SMR_INLINE uint64_t smr_swap_guard_version(const smr_swap_guard *g) {
  return g->version;
}
#else /* SMR_NO_INLINE: the plain names call the exported twins. */
#define smr_swap_read          smr_swap_read_ffi
#define smr_swap_guard_release smr_swap_guard_release_ffi
#define smr_swap_guard_version smr_swap_guard_version_ffi
#endif

/* Callback for smr_swap_reader_map/filter. */
typedef void *(*smr_swap_map_fn)(const void *value, void *arg);
typedef bool (*smr_swap_pred_fn)(const void *value, void *arg);

/* Read, apply fn(value, arg), release; returns fn's result.  NULL for NULL
 * reader or fn. */
SMR_API void *smr_swap_reader_map(smr_swap_reader *r, smr_swap_map_fn fn,
                                  void *arg);

/* Read and keep the guard only if pred(value, arg) holds: returns true with
 * *g held, or false with nothing held (also for NULL arguments). */
SMR_API bool smr_swap_reader_filter(smr_swap_reader *r, smr_swap_pred_fn pred,
                                    void *arg, smr_swap_guard *g);

/* Copy the current value out under a guard; as smr_swap_load_copy. */
SMR_API int smr_swap_reader_copy(smr_swap_reader *r, void *dst, size_t size,
                                 smr_swap_copy_fn copy, void *arg);

/* Whether the reader holds a guard (false for NULL).  Owning thread. */
SMR_API bool smr_swap_reader_is_pinned(const smr_swap_reader *r);

/* The cell's current version (not the pinned one: see smr_swap_guard_version);
 * 0 for NULL. */
SMR_API uint64_t smr_swap_reader_version(const smr_swap_reader *r);

/* ---- Typed wrappers ---------------------------------------------------------
 * SMR_SWAP_TYPED(name, T) declares static inline name_store, name_get,
 * name_read, name_load over T * so that no cast is needed:
 *   SMR_SWAP_TYPED(cfg_cell, struct config)
 *   cfg_cell_store(cell, cfg);  const struct config *c = cfg_cell_read(r, &g);
 */
#define SMR_SWAP_TYPED(name, T)                                                \
  SMR__UNUSED static inline int name##_store(smr_swap *c, T *v) {              \
    return smr_swap_store(c, (void *)v);                                       \
  }                                                                            \
  SMR__UNUSED static inline T *name##_get(const smr_swap *c) {                 \
    return (T *)smr_swap_get(c);                                               \
  }                                                                            \
  SMR__UNUSED static inline const T *name##_read(smr_swap_reader *r,           \
                                                 smr_swap_guard *g) {          \
    return (const T *)smr_swap_read(r, g);                                     \
  }                                                                            \
  SMR__UNUSED static inline const T *name##_load(smr_swap *c,                  \
                                                 smr_swap_guard *g) {          \
    return (const T *)smr_swap_load(c, g);                                     \
  }

/* Scoped read: the guard is released when `var` goes out of scope (gcc and
 * clang; elsewhere release it by hand).
 *   { SMR_SWAP_SCOPED_READ(const struct config *, c, r); use(c); }  */
#if defined(__GNUC__) && !defined(__cplusplus)
static inline void smr__swap_guard_cleanup(smr_swap_guard *g) {
  smr_swap_guard_release(g);
}
#define SMR__CAT2(a, b) a##b
#define SMR__CAT(a, b)  SMR__CAT2(a, b)
#define SMR_SWAP_SCOPED_READ(T, var, reader)                                   \
  smr_swap_guard SMR__CAT(smr__g_, __LINE__)                                   \
      __attribute__((cleanup(smr__swap_guard_cleanup)));                       \
  T var = (T)smr_swap_read((reader), &SMR__CAT(smr__g_, __LINE__))
#endif

#ifdef __cplusplus
}
#endif

#endif /* SMR_SWAP_H */
