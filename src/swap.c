/* Swap cell: single-writer publication with exact, per-reader protection.
 *
 * Published values are wrapped in nodes {value, version}.  `cur` points to
 * the published node.  Each reader record has one protection slot `hp`.
 *
 * Read (smr/swap.h, inline): n = cur; hp = n (release store); compiler
 * barrier; m = cur (acquire); retry with m if m != n.  Release: hp = idle.
 * Writer: publish with a release store of cur; the replaced node goes to the
 * retired list.  Collection: heavy barrier, then read every slot (acquire);
 * a retired node found in no slot is destroyed and its node recycled.
 *
 * Why it is safe: the heavy barrier acts as a seq_cst fence in every thread
 * at some point P during the call.  Take a reader that validated node n
 * (its second load of cur returned n) and a collection after n was replaced
 * (replacement W before the barrier).  If the reader's announcing store of
 * hp = n was before P in its program order, the barrier makes it visible and
 * the scan sees hp = n (or a later value the reader stored after it had
 * finished with n: it holds n only until its release store, which the
 * acquire load of the scan synchronises with).  If the store was after P,
 * the validating load is after P too (the compiler barrier keeps program
 * order), so it sees W or a later publish and returns m != n: the reader
 * retries and never uses n.  A recycled node that is published again and
 * validated is simply the current node, protected like any other.
 *
 * Bounds: each reader pins at most one node, the writer keeps the most
 * recently replaced one (smr_swap_previous), and collection runs when the
 * garbage exceeds the threshold (or earlier, see collect_early and
 * src/pace.c, the pacing rule shared with the epoch domain), so at most
 * max(threshold, readers + 1) + 1 retired values exist at any time, whatever
 * readers do; a reader that never releases its guard pins exactly one value.
 * The writer never waits: a pinned node simply stays in the list for the next
 * collection.  That needs working barriers: a collection whose barrier the
 * kernel refuses reclaims nothing.  So every publish first checks the garbage
 * against threshold + readers + 1 (prepare): at the bound it collects, and
 * if the barrier is refused it publishes nothing (-ENOBUFS).  A successful
 * collection leaves at most readers + 1, so with working barriers the check
 * never refuses.
 *
 * Versions: a node's version is written before the publish; smr_swap_version
 * reads cur, the node's version, and cur again (nodes are recycled, see
 * smr_swap_version).  Guards are released in LIFO order (checked in SMR_DEBUG
 * builds); readers must not be used from signal handlers that interrupt them
 * (checked in SMR_DEBUG builds).  docs/DESIGN.md section 4 has the details.
 *
 * Symmetric mode: the idle slot value is SMR__SWAP_IDLE_SYM, which sends
 * every read to smr__swap_read_slow (it fences after announcing), and the
 * writer's barrier is a seq_cst fence.
 *
 * When no reader handle exists (only the cell's own reader, used by the
 * writer thread itself), the barrier is a plain seq_cst fence: a reader
 * created later increments `foreign` with a seq_cst RMW and fences before
 * its first read, so the fences order our publish before its loads.
 *
 * Lifetime: the writer and every reader handle hold a reference.
 * smr_swap_destroy publishes a sentinel node (value NULL) exactly like a
 * store, retires the current value too and destroys what no guard pins; each
 * later reader destroy collects again; the last reference frees everything.  So
 * destroying the cell never frees a value under a guard (the smr-swap bug:
 * its cell, swmr-cell, owns the retired values outright and destroys them
 * when the writer is dropped, even one a reader still holds a guard on).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pace.h"
#include "platform/platform.h"
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
 * release CAS in rec_new, so a record's fields are initialised. */
#define FOR_EACH_REC(r, c)                                                     \
  for (struct swap_rec *r =                                                    \
           atomic_load_explicit(&(c)->readers, memory_order_acquire);          \
       r; r = atomic_load_explicit(&r->next, memory_order_acquire))

/* ---- Debug registry of live cells ---------------------------------------
 * SMR_DEBUG: every cell between create and the free of its memory is listed
 * here, so a cell used after that is reported instead of read (the pointer
 * is only compared, never dereferenced). */
#ifdef SMR_DEBUG
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static smr_swap **live_cells;
static size_t live_n, live_cap;

/* fork: a child forked while another thread held live_lock would block on
 * it for good at its first smr_swap_* call (issue 10, C.10 for this lock):
 * the fork handlers take it around fork(), so the child inherits it free
 * and the registry consistent. */
static pthread_once_t live_once = PTHREAD_ONCE_INIT;
static void live_lock_take(void) {
  pthread_mutex_lock(&live_lock);
}
static void live_lock_drop(void) {
  pthread_mutex_unlock(&live_lock);
}
static void live_init(void) {
  /* ENOMEM only: the registry then works, forks may hang (debug only). */
  (void)pthread_atfork(live_lock_take, live_lock_drop, live_lock_drop);
}

static int live_track(smr_swap *c, int add) {
  int found = 0;
  pthread_once(&live_once, live_init);
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < live_n && !found; i++)
    if (live_cells[i] == c) {
      found = 1;
      if (add < 0)
        live_cells[i] = live_cells[--live_n];
    }
  if (add > 0 && !found) {
    if (live_n == live_cap) {
      size_t cap = live_cap ? 2 * live_cap : 16;
      smr_swap **p = realloc(live_cells, cap * sizeof *p);
      SMR_ASSERT(p != NULL && "debug cell registry: out of memory");
      live_cells = p;
      live_cap = cap;
    }
    live_cells[live_n++] = c;
  }
  pthread_mutex_unlock(&live_lock);
  return found;
}

static void cell_check(const smr_swap *c) {
  if (!live_track((smr_swap *)c, 0)) {
    fprintf(stderr,
            "libsmr: swap cell %p used after smr_swap_destroy freed "
            "it (or never created)\n",
            (const void *)c);
    abort();
  }
}
#define CELL_CHECK(c)     cell_check(c)
#define CELL_LIVE(c, add) ((void)live_track((c), (add)))
#else
#define CELL_CHECK(c)     ((void)0)
#define CELL_LIVE(c, add) ((void)0)
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
 * writer_barrier, which every recycling (collect, exchange) follows and
 * which follows the store of cur that replaced the node, is a release fence
 * that synchronises with smr_swap_version's acquire load of the version, so
 * its validating load of cur sees that replacement or later and retries
 * unless the node has been published again (then the version is right). */
static uint64_t node_version(const struct smr_swap_node *n, int order) {
  return __atomic_load_n(&n->version, order);
}

static void node_set_version(struct smr_swap_node *n, uint64_t v) {
  __atomic_store_n(&n->version, v, __ATOMIC_RELAXED);
}

static struct smr_swap_node *node_get(smr_swap *c) {
  struct smr_swap_node *n = c->free_nodes;
  if (n) {
    c->free_nodes = n->next;
    return n;
  }
  return malloc(sizeof *n);
}

static void node_put(smr_swap *c, struct smr_swap_node *n) {
  n->next = c->free_nodes;
  c->free_nodes = n;
}

static void destroy_value(smr_swap *c, struct smr_swap_node *n) {
  if (c->destroy && n->value)
    c->destroy(n->value, c->ctx);
}

static void lock_w(smr_swap *c) {
  if (c->flags & SMR_SWAP_MULTI_WRITER)
    pthread_mutex_lock(&c->wlock);
}

static void unlock_w(smr_swap *c) {
  if (c->flags & SMR_SWAP_MULTI_WRITER)
    pthread_mutex_unlock(&c->wlock);
}

/* ---- Records ------------------------------------------------------------- */

static struct swap_rec *rec_new(smr_swap *c, int owned) {
  struct swap_rec *r = smr__alloc_aligned(sizeof *r);
  if (!r)
    return NULL;
  r->owned = owned;
  r->owner = pthread_self();
  atomic_init(&r->pub.hp, c->idle);
  r->pub.cur = &c->cur;
  r->cell = c;
  if (owned) /* relaxed: a count for the bound (garbage_bound) */
    atomic_fetch_add_explicit(&c->nown, 1, memory_order_relaxed);
  atomic_init(&r->in_use, 1);
  /* relaxed: the CAS below is the release that publishes the record. */
  struct swap_rec *head =
      atomic_load_explicit(&c->readers, memory_order_relaxed);
  do {
    atomic_store_explicit(&r->next, head, memory_order_relaxed);
    /* release: the record's initialised fields are visible to scanners that
     * acquire-load the registry head. */
  } while (!atomic_compare_exchange_weak_explicit(
      &c->readers, &head, r, memory_order_release, memory_order_relaxed));
  return r;
}

/* Adjust the garbage count; returns the new value.  Only the writer (or the
 * wlock holder) changes it, so a relaxed load and store suffice (no atomic
 * RMW); other threads only read it, relaxed, as a statistic. */
static size_t garbage_add(smr_swap *c, size_t delta) {
  size_t g = atomic_load_explicit(&c->garbage, memory_order_relaxed) + delta;
  /* relaxed: single writer; readers of the count only want a statistic. */
  atomic_store_explicit(&c->garbage, g, memory_order_relaxed);
  return g;
}

/* ---- Collection ---------------------------------------------------------- */

static int ptr_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a,
            y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

static int pinned(struct smr_swap_node **h, size_t n, struct smr_swap_node *x) {
  if (n <= 8) {
    for (size_t i = 0; i < n; i++)
      if (h[i] == x)
        return 1;
    return 0;
  }
  return bsearch(&x, h, n, sizeof *h, ptr_cmp) != NULL;
}

/* The writer-side barrier before a scan of the slots.  0, or -ENOBUFS when
 * the kernel refused it (the errno is kept for smr_swap_stats): then no
 * slot may be trusted and nothing may be reclaimed. */
static int writer_barrier(smr_swap *c) {
  /* seq_cst fence before reading `foreign`: pairs with the seq_cst RMW and
   * fence of smr_swap_reader_create (see the opening comment). */
  smr__fence_seq_cst();
  if (atomic_load_explicit(&c->foreign, memory_order_acquire) == 0)
    return 0;
  int err = smr__heavy_barrier(c->mode);
  if (!err)
    return 0;
  /* relaxed: statistics for smr_swap_stats. */
  atomic_fetch_add_explicit(&c->barrier_failures, 1, memory_order_relaxed);
  atomic_store_explicit(&c->last_barrier_error, err, memory_order_relaxed);
  return -ENOBUFS;
}

/* A reader's slot after the barrier: the node it pins, or NULL if idle.
 * acquire: pairs with the reader's release stores to hp (announce and guard
 * release), so its reads through a guard happen before we destroy the
 * value. */
static struct smr_swap_node *slot_of(const struct swap_rec *r) {
  struct smr_swap_node *h = atomic_load_explicit(
      &((struct swap_rec *)r)->pub.hp, memory_order_acquire);
  return h == SMR__SWAP_IDLE_SYM ? NULL : h;
}

/* Barrier, then gather every slot's node into c->hazards.  Returns the count
 * or -ENOBUFS / -ENOMEM (then nothing may be reclaimed). */
static long scan_hazards(smr_swap *c) {
  int err = writer_barrier(c);
  if (err)
    return err;
  size_t n = 0;
  FOR_EACH_REC(r, c) {
    struct smr_swap_node *h = slot_of(r);
    if (!h)
      continue;
    if (n == c->hazards_cap) {
      size_t cap = c->hazards_cap ? 2 * c->hazards_cap : 16;
      void *p = realloc(c->hazards, cap * sizeof *c->hazards);
      if (!p)
        return -ENOMEM;
      c->hazards = p;
      c->hazards_cap = cap;
    }
    c->hazards[n++] = h;
  }
  if (n > 8)
    qsort(c->hazards, n, sizeof *c->hazards, ptr_cmp);
  return (long)n;
}

/* Destroy every retired node no slot pins.  Writer (or wlock) held.
 * Returns how many, or -ENOBUFS / -ENOMEM (nothing reclaimed). */
static long collect(smr_swap *c) {
  if (!c->retired)
    return 0;
  int64_t t0 = smr__now_ns();
  long nh = scan_hazards(c);
  /* The estimate covers the barrier and scan only: destructors cost the
   * same whenever they run.  (src/pace.c clamps outliers: a writer
   * preempted during the scan would otherwise inflate the estimate and
   * postpone early collections for a long time.) */
  smr__pace_cost(&c->pace, t0);
  if (nh < 0)
    return nh;
  /* Unlink first, destroy after the walk: a destructor may call back into
   * the cell (store, collect) and change the list and the hazard buffer. */
  struct smr_swap_node *dead = NULL;
  long k = 0;
  for (struct smr_swap_node **pp = &c->retired; *pp;) {
    struct smr_swap_node *n = *pp;
    if (pinned(c->hazards, (size_t)nh, n)) {
      pp = &n->next;
      continue;
    }
    *pp = n->next;
    n->next = dead;
    dead = n;
    k++;
  }
  if (k)
    garbage_add(c, -(size_t)k);
  while (dead) {
    struct smr_swap_node *n = dead;
    dead = n->next;
    destroy_value(c, n);
    node_put(c, n);
  }
  smr__pace_stepped(&c->pace);
  return k;
}

/* Early collection: at garbage counts 2, 4, 8, ... below the threshold,
 * collect if the time since the last collection is at least 20 times what a
 * collection costs (so early collections take at most ~5% of the writer's
 * time; src/pace.c).  A writer publishing big values every few milliseconds
 * then keeps about 2 retired values; one publishing in a tight loop batches
 * up to the threshold.  The clock is read only at those counts. */
static int collect_early(smr_swap *c, size_t g) {
  if ((c->flags & SMR_SWAP_STRICT_THRESHOLD) || g < 2 || (g & (g - 1)) != 0)
    return 0;
  return smr__pace_due(&c->pace);
}

/* Make the kept previous node collectable. */
static void prev_to_retired(smr_swap *c) {
  if (c->prev) {
    c->prev->next = c->retired;
    c->retired = c->prev;
    c->prev = NULL;
  }
}

/* The replaced node becomes `prev`; the former prev becomes collectable. */
static void retire_node(smr_swap *c, struct smr_swap_node *old) {
  prev_to_retired(c);
  c->prev = old;
  /* Counter for observers; relaxed. */
  size_t g = garbage_add(c, 1);
  if (g > c->threshold || collect_early(c, g))
    collect(c);
}

/* Retired values the cell may hold: threshold + readers + 1 (saturating),
 * readers = reader handles + own readers. */
static size_t garbage_bound(smr_swap *c) {
  /* relaxed: counts; a stale one only moves the point where a store whose
   * barrier is refused fails. */
  size_t readers = atomic_load_explicit(&c->foreign, memory_order_relaxed) -
                   ((c->flags & SMR_SWAP_MULTI_WRITER) ? 1 : 0) +
                   atomic_load_explicit(&c->nown, memory_order_relaxed);
  size_t b = readers + 1;
  return c->threshold > SIZE_MAX - b ? SIZE_MAX : c->threshold + b;
}

/* Before a publish that adds one retired value: if the garbage is at its
 * bound, collect first, and fail (nothing published) if that was refused.
 * Then take the node to publish.  0, -ENOBUFS or -ENOMEM.  Writer (or wlock)
 * held.  With working barriers a collection always makes room: it leaves at
 * most readers + 1 retired values (each reader pins one, plus `prev`). */
static int prepare(smr_swap *c, struct smr_swap_node **out) {
  if (atomic_load_explicit(&c->garbage, memory_order_relaxed) >=
      garbage_bound(c)) {
    long k = collect(c);
    if (k < 0 && atomic_load_explicit(&c->garbage, memory_order_relaxed) >=
                     garbage_bound(c)) {
      if (k == -ENOBUFS) /* relaxed: statistic */
        atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
      return (int)k;
    }
  }
  *out = node_get(c);
  return *out ? 0 : -ENOMEM;
}

/* Publish value in node n (from prepare); returns the replaced node.
 * Writer (or wlock) held. */
static struct smr_swap_node *publish(smr_swap *c, struct smr_swap_node *n,
                                     void *value) {
  /* relaxed: the writer (or wlock holder) reads its own publication. */
  struct smr_swap_node *old =
      atomic_load_explicit(&c->cur, memory_order_relaxed);
  n->value = value;
  /* relaxed: only the writer writes versions; the release store of cur
   * below orders this one before any reader's (or smr_swap_version's)
   * acquire load of cur that returns n. */
  node_set_version(n, node_version(old, __ATOMIC_RELAXED) + 1);
  n->next = NULL;
  /* release: the value's contents and the node's fields happen before any
   * reader's acquire load of cur that returns n. */
  atomic_store_explicit(&c->cur, n, memory_order_release);
  return old;
}

/* prepare + publish + retire the replaced node: a plain store. */
static int store_locked(smr_swap *c, void *value) {
  struct smr_swap_node *n;
  int rc = prepare(c, &n);
  if (!rc)
    retire_node(c, publish(c, n, value));
  return rc;
}

/* Begin a writer call: -ESHUTDOWN once smr_swap_destroy has begun.  Checked
 * before taking the lock too, so that a destructor run by destroy (which
 * holds the lock) gets the error instead of a self-deadlock.  0 with the
 * lock taken (multi-writer mode). */
static int writer_begin(smr_swap *c) {
  CELL_CHECK(c);
  /* acquire: pairs with destroy's release store (ours, or another writer's
   * in multi-writer mode, which the lock orders anyway). */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire))
    return -ESHUTDOWN;
  lock_w(c);
  /* relaxed: under the lock destroy set it under. */
  if (atomic_load_explicit(&c->destroyed, memory_order_relaxed)) {
    unlock_w(c);
    return -ESHUTDOWN;
  }
  return 0;
}

/* The calling writer's own reader.  Single-writer mode: the cell's one own
 * reader.  Multi-writer mode: one record per writer thread, found in (or
 * appended to) the registry; only the thread itself creates its record, so
 * the walk needs no lock.  NULL on ENOMEM. */
static struct swap_rec *own_reader(smr_swap *c) {
  if (!(c->flags & SMR_SWAP_MULTI_WRITER))
    return c->own;
  pthread_t self = pthread_self();
  FOR_EACH_REC(r, c) {
    if (r->owned && pthread_equal(r->owner, self))
      return r;
  }
  return rec_new(c, 1);
}

/* Whether an own reader holds a guard: the caller's (single-writer mode) or
 * any thread's (multi-writer mode, all = 1). */
static int own_pinned(smr_swap *c, int all) {
  if (!(c->flags & SMR_SWAP_MULTI_WRITER) || !all) {
    struct swap_rec *r = own_reader(c);
    /* relaxed: the caller's own slot. */
    return r &&
           atomic_load_explicit(&r->pub.hp, memory_order_relaxed) != c->idle;
  }
  FOR_EACH_REC(r, c) {
    /* acquire: pairs with the owner's release stores to hp. */
    if (r->owned &&
        atomic_load_explicit(&r->pub.hp, memory_order_acquire) != c->idle)
      return 1;
  }
  return 0;
}

/* ---- Writer API ---------------------------------------------------------- */

int smr_swap_create(void *initial, smr_swap_destroy_fn destroy,
                    const struct smr_swap_attr *attr, smr_swap **out) {
  if (!out ||
      (attr && (attr->flags & ~(SMR_SWAP_MULTI_WRITER | SMR_SWAP_SYMMETRIC |
                                SMR_SWAP_STRICT_THRESHOLD))))
    return -EINVAL;
  smr_swap *c = smr__alloc_aligned(sizeof *c);
  if (!c)
    return -ENOMEM;
  struct smr_swap_node *n = malloc(sizeof *n);
  if (!n || pthread_mutex_init(&c->wlock, NULL) != 0) {
    free(n);
    free(c);
    return -ENOMEM;
  }
  c->flags = attr ? attr->flags : 0;
  c->threshold = attr && attr->threshold ? attr->threshold : 256;
  c->ctx = attr ? attr->ctx : NULL;
  c->destroy = destroy;
  c->mode =
      (c->flags & SMR_SWAP_SYMMETRIC) ? SMR_FENCE_SYMMETRIC : smr__fence_mode();
  c->idle = c->mode == SMR_FENCE_SYMMETRIC ? SMR__SWAP_IDLE_SYM : NULL;
  smr__pace_init(&c->pace);
  n->value = initial;
  n->version = 0; /* not shared yet */
  n->next = NULL;
  atomic_init(&c->cur, n);
  atomic_init(&c->refs, 1);
  atomic_init(&c->foreign, (c->flags & SMR_SWAP_MULTI_WRITER) ? 1 : 0);
  c->own = rec_new(c, 1);
  if (!c->own) {
    pthread_mutex_destroy(&c->wlock);
    free(n);
    free(c);
    return -ENOMEM;
  }
  CELL_LIVE(c, 1);
  *out = c;
  return 0;
}

/* The cell whose after-destroy collection (smr_swap_destroy, or
 * smr_swap_reader_destroy once destroy has run) this thread is running,
 * with c->wlock held: a destructor it runs may destroy a reader handle of
 * the same cell, which must not take the lock again. */
static _Thread_local smr_swap *closing;

/* That collection.  Under wlock. */
static void collect_closing(smr_swap *c) {
  smr_swap *outer = closing;
  closing = c;
  collect(c);
  closing = outer;
}

static void free_cell(smr_swap *c) {
  /* No reader handle and no writer remain: nothing can be pinned. */
  struct smr_swap_node *lists[] = {c->retired, c->free_nodes};
  for (struct smr_swap_node *n = lists[0], *next; n; n = next) {
    next = n->next;
    destroy_value(c, n);
    free(n);
  }
  for (struct smr_swap_node *n = lists[1], *next; n; n = next) {
    next = n->next;
    free(n);
  }
  /* acquire: pairs with rec_new's release CAS (no other thread is left). */
  for (struct swap_rec *
           r = atomic_load_explicit(&c->readers, memory_order_acquire),
          *next;
       r; r = next) {
    next = atomic_load_explicit(&r->next, memory_order_relaxed);
    free(r);
  }
  free(c->hazards);
  pthread_mutex_destroy(&c->wlock);
  CELL_LIVE(c, -1);
  free(c);
}

static void cell_unref(smr_swap *c) {
  /* acq_rel: every holder's accesses happen before the final free. */
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
    free_cell(c);
}

int smr_swap_destroy(smr_swap *c) {
  if (!c)
    return 0; /* free-like (DESIGN.md, "Conventions") */
  CELL_CHECK(c);
  /* A destructor that destroy itself runs (the lock is ours): report the
   * double destroy instead of deadlocking.  acquire: as in writer_begin. */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire))
    return -EINVAL;
  pthread_mutex_lock(&c->wlock);
  /* relaxed load/store of our own flag; the release below publishes it. */
  if (atomic_load_explicit(&c->destroyed, memory_order_relaxed)) {
    pthread_mutex_unlock(&c->wlock);
    return -EINVAL; /* double destroy while readers keep the memory alive */
  }
  if (own_pinned(c, 1)) {
    /* A writer's own guard would outlive the writer side. */
    pthread_mutex_unlock(&c->wlock);
    return -EBUSY;
  }
  atomic_store_explicit(&c->destroyed, 1, memory_order_release);
  /* Unpublish the current value like any store would (a read already in
   * flight then fails its validation, or is seen by the scan), so that it
   * can be collected; reads that still happen return NULL. */
  struct smr_swap_node *cur =
      atomic_load_explicit(&c->cur, memory_order_relaxed);
  c->gone.value = NULL;
  /* relaxed: as in publish (the release store of cur orders it). */
  node_set_version(&c->gone, node_version(cur, __ATOMIC_RELAXED) + 1);
  /* release: pairs with the readers' validating acquire load. */
  atomic_store_explicit(&c->cur, &c->gone, memory_order_release);
  cur->next = c->retired;
  c->retired = cur;
  prev_to_retired(c);
  garbage_add(c, 1);
  collect_closing(c);
  pthread_mutex_unlock(&c->wlock);
  cell_unref(c);
  return 0;
}

int smr_swap_store(smr_swap *c, void *value) {
  if (!c)
    return -EINVAL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  rc = store_locked(c, value);
  unlock_w(c);
  return rc;
}

void *smr_swap_get(const smr_swap *c) {
  if (!c)
    return NULL;
  CELL_CHECK(c);
  /* relaxed: the writer reads its own publication. */
  return atomic_load_explicit(&((smr_swap *)c)->cur, memory_order_relaxed)
      ->value;
}

/* fn applied to the published value.  Writer (or wlock) held. */
static void *apply(smr_swap *c, smr_swap_update_fn fn, void *arg) {
  /* relaxed: cur is only written by us, under wlock in multi-writer mode. */
  return fn(atomic_load_explicit(&c->cur, memory_order_relaxed)->value, arg);
}

/* A read whose guard goes back to the caller (load, filter, update_and_fetch,
 * fetch_and_update).  The guard gets its release-order depth even when the
 * library is built without SMR_DEBUG: a caller built with it checks that
 * depth in smr_swap_guard_release, and would otherwise read garbage and abort
 * on correct code.  Out of line, so the inline read path is unchanged. */
static void *read_for_caller(smr_swap_reader *r, smr_swap_guard *g) {
  void *v = smr_swap_read(r, g);
#ifndef SMR_DEBUG
  g->depth = ++r->depth;
#endif
  return v;
}

/* Release of a guard read_for_caller filled, by the library itself. */
static void release_for_caller(smr_swap_guard *g) {
#ifndef SMR_DEBUG
  g->reader->depth--;
#endif
  smr_swap_guard_release(g);
}

int smr_swap_update(smr_swap *c, smr_swap_update_fn fn, void *arg) {
  if (!c || !fn)
    return -EINVAL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  struct smr_swap_node *n;
  rc = prepare(c, &n);
  if (!rc) /* fn runs only once the publish cannot fail */
    retire_node(c, publish(c, n, apply(c, fn, arg)));
  unlock_w(c);
  return rc;
}

void *smr_swap_load(smr_swap *c, smr_swap_guard *g) {
  if (!c || !g)
    return NULL;
  CELL_CHECK(c);
  struct swap_rec *r = own_reader(c);
  return r ? read_for_caller(&r->pub, g) : NULL;
}

static int copy_out(smr_swap_reader *r, void *dst, size_t size,
                    smr_swap_copy_fn copy, void *arg) {
  smr_swap_guard g;
  const void *v = smr_swap_read(r, &g);
  int rc = 0;
  if (!v)
    rc = -ENOENT;
  else if (copy)
    copy(dst, v, size, arg);
  else
    memcpy(dst, v, size);
  smr_swap_guard_release(&g);
  return rc;
}

int smr_swap_load_copy(smr_swap *c, void *dst, size_t size,
                       smr_swap_copy_fn copy, void *arg) {
  if (!c || !dst)
    return -EINVAL;
  CELL_CHECK(c);
  struct swap_rec *r = own_reader(c);
  return r ? copy_out(&r->pub, dst, size, copy, arg) : -ENOMEM;
}

/* Whether a reader slot pins node o (after writer_barrier).  Allocates
 * nothing, unlike scan_hazards, so exchange cannot fail after publishing. */
static int slot_pins(smr_swap *c, const struct smr_swap_node *o) {
  FOR_EACH_REC(r, c) {
    if (slot_of(r) == o)
      return 1;
  }
  return 0;
}

int smr_swap_exchange(smr_swap *c, void *value, void **old) {
  if (!c || !old)
    return -EINVAL;
  *old = NULL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  struct swap_rec *own = own_reader(c);
  /* relaxed: the writer's own publication. */
  struct smr_swap_node *n,
      *cur = atomic_load_explicit(&c->cur, memory_order_relaxed);
  if (!own)
    rc = -ENOMEM;
  /* relaxed: the caller's own slot. */
  else if (atomic_load_explicit(&own->pub.hp, memory_order_relaxed) == cur)
    rc = -EDEADLK;
  else
    rc = prepare(c, &n);
  if (rc) {
    unlock_w(c);
    return rc;
  }
  /* Published from here on: only 0 or -ECANCELED below. */
  struct smr_swap_node *o = publish(c, n, value);
  prev_to_retired(c); /* previous() must not name the value we hand out */
  /* o counts as garbage while we wait: it takes the room prepare found, so
   * that in multi-writer mode the other writers' prepare sees it and the
   * bound holds if we have to leave o to the cell (-ECANCELED). */
  garbage_add(c, 1);
  unlock_w(c);
  /* Wait until no slot pins o.  The node lists are writer state: lock. */
  unsigned round = 0;
  for (;;) {
    lock_w(c);
    int err = writer_barrier(c);
    int busy = err || slot_pins(c, o);
    if (!busy) {
      garbage_add(c, (size_t)-1);
      *old = o->value;
      node_put(c, o);
    } else if (err && round > 256) {
      /* The kernel keeps refusing barriers: give up, the cell keeps the
       * old value (destroyed like any retired value once possible).  o is
       * counted already (above): retire it without counting it again. */
      garbage_add(c, (size_t)-1);
      retire_node(c, o);
      unlock_w(c);
      return -ECANCELED;
    }
    unlock_w(c);
    if (!busy)
      return 0;
    smr__backoff(&round);
  }
}

int smr_swap_compare_exchange(smr_swap *c, const smr_swap_guard *expected,
                              void *value) {
  /* Identity: the guard's reader (a handle or an own reader) points at
   * this cell's `cur`; versions are unique only per cell. */
  if (!c || !expected || !expected->reader || expected->reader->cur != &c->cur)
    return -EINVAL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  /* prepare first: its collection may run destructors, which may publish
   * (single-writer mode), so compare only once nothing but our publish
   * can follow. */
  struct smr_swap_node *n;
  rc = prepare(c, &n);
  if (!rc) {
    /* relaxed: the writer's own publication (under wlock if multi-writer). */
    struct smr_swap_node *cur =
        atomic_load_explicit(&c->cur, memory_order_relaxed);
    /* relaxed: only writers (serialised with us) write versions. */
    if (node_version(cur, __ATOMIC_RELAXED) == expected->version) {
      retire_node(c, publish(c, n, value));
    } else {
      node_put(c, n); /* never published: no reader can hold it */
      rc = -EAGAIN;
    }
  }
  unlock_w(c);
  return rc;
}

/* update_and_fetch (fetch_first = 0) and fetch_and_update (1): the pin and
 * the publish happen under the writer lock, so in multi-writer mode the
 * guard is on exactly the value this call replaced or published. */
static int update_pinned(smr_swap *c, smr_swap_update_fn fn, void *arg,
                         smr_swap_guard *g, int fetch_first) {
  if (!c || !fn || !g)
    return -EINVAL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  struct swap_rec *own = own_reader(c);
  struct smr_swap_node *n;
  if (!own)
    rc = -ENOMEM;
  /* relaxed: the caller's own slot. */
  else if (atomic_load_explicit(&own->pub.hp, memory_order_relaxed) != c->idle)
    rc = -EBUSY;
  else
    rc = prepare(c, &n);
  if (!rc) {
    if (fetch_first)
      read_for_caller(&own->pub, g);
    struct smr_swap_node *old = publish(c, n, apply(c, fn, arg));
    if (!fetch_first)
      read_for_caller(&own->pub, g);
    retire_node(c, old);
  }
  unlock_w(c);
  return rc;
}

int smr_swap_update_and_fetch(smr_swap *c, smr_swap_update_fn fn, void *arg,
                              smr_swap_guard *g) {
  return update_pinned(c, fn, arg, g, 0);
}

int smr_swap_fetch_and_update(smr_swap *c, smr_swap_update_fn fn, void *arg,
                              smr_swap_guard *g) {
  return update_pinned(c, fn, arg, g, 1);
}

uint64_t smr_swap_version(const smr_swap *c) {
  if (!c)
    return 0;
  CELL_CHECK(c);
  smr_swap *w = (smr_swap *)c;
  /* The version of the published node, read without pinning it: the node
   * may be recycled meanwhile (nodes live as long as the cell), so keep the
   * value only if cur still names the node after reading it.  What we
   * return was then published no later than that second load (a recycled
   * node gets its new version before it is published again) and no earlier
   * than the first, which by coherence is no older than anything this
   * thread read before.  acquire (cur): pairs with publish's release store,
   * so the node's version is visible. */
  struct smr_swap_node *n = atomic_load_explicit(&w->cur, memory_order_acquire);
  for (;;) {
    /* acquire: keeps this load before the validating load below. */
    uint64_t v = node_version(n, __ATOMIC_ACQUIRE);
    struct smr_swap_node *m =
        atomic_load_explicit(&w->cur, memory_order_acquire);
    if (m == n)
      return v;
    n = m;
  }
}

size_t smr_swap_garbage_count(const smr_swap *c) {
  if (!c)
    return 0;
  CELL_CHECK(c);
  /* relaxed: a statistic. */
  return atomic_load_explicit(&((smr_swap *)c)->garbage, memory_order_relaxed);
}

void *smr_swap_previous(const smr_swap *c) {
  if (!c)
    return NULL;
  smr_swap *w = (smr_swap *)c;
  if (writer_begin(w)) /* -ESHUTDOWN: from a destructor destroy runs */
    return NULL;
  void *v = w->prev ? w->prev->value : NULL;
  unlock_w(w);
  return v;
}

long smr_swap_collect(smr_swap *c) {
  if (!c)
    return -EINVAL;
  int rc = writer_begin(c);
  if (rc)
    return rc;
  long k = collect(c);
  unlock_w(c);
  return k;
}

int smr_swap_fence_mode(const smr_swap *c) {
  if (!c)
    return -EINVAL;
  CELL_CHECK(c);
  return (int)c->mode;
}

int smr_swap_stats(const smr_swap *c, struct smr_swap_stats *out) {
  if (!c || !out)
    return -EINVAL;
  CELL_CHECK(c);
  smr_swap *w = (smr_swap *)c;
  /* relaxed: statistics, any thread. */
  out->garbage = atomic_load_explicit(&w->garbage, memory_order_relaxed);
  out->bound = garbage_bound(w);
  out->barrier_failures =
      atomic_load_explicit(&w->barrier_failures, memory_order_relaxed);
  out->last_barrier_error =
      atomic_load_explicit(&w->last_barrier_error, memory_order_relaxed);
  out->refused = atomic_load_explicit(&w->refused, memory_order_relaxed);
  return 0;
}

/* ---- Reader API ---------------------------------------------------------- */

int smr_swap_reader_create(smr_swap *c, smr_swap_reader **out) {
  if (!c || !out)
    return -EINVAL;
  CELL_CHECK(c);
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire))
    return -EINVAL;
  /* Count first: a writer that misses this increment fences before us (see
   * the opening comment).  seq_cst RMW + fence. */
  atomic_fetch_add_explicit(&c->foreign, 1, memory_order_seq_cst);
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  smr__fence_seq_cst();
  /* A destroy that overlapped us: undo (the handle would be useless). */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire)) {
    atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_relaxed);
    cell_unref(c);
    return -EINVAL;
  }
  struct swap_rec *r = NULL;
  FOR_EACH_REC(x, c) {
    int expect = 0;
    /* acquire: the previous owner's release (in destroy) happens before. */
    if (!x->owned &&
        atomic_load_explicit(&x->in_use, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong_explicit(&x->in_use, &expect, 1,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
      r = x;
      break;
    }
  }
  if (!r)
    r = rec_new(c, 0);
  if (!r) {
    /* relaxed: undoing our own increment; nothing is published by it. */
    atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_relaxed);
    cell_unref(c);
    return -ENOMEM;
  }
  *out = &r->pub;
  return 0;
}

int smr_swap_reader_destroy(smr_swap_reader *pub) {
  if (!pub)
    return 0; /* free-like */
  struct swap_rec *r = (struct swap_rec *)pub;
  smr_swap *c = r->cell;
  /* relaxed: the owner's own slot. */
  if (atomic_load_explicit(&pub->hp, memory_order_relaxed) != c->idle)
    return -EBUSY;
  /* release: our last guard release happens before the record's reuse. */
  atomic_store_explicit(&r->in_use, 0, memory_order_release);
  atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_release);
  /* From a destructor our own closing collection runs (closing == c): the
   * lock is ours and that collection is under way; skip ours (what it
   * cannot destroy goes to a later one, or to free_cell).  Its caller
   * still holds a reference, so cell_unref cannot free the cell here. */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire) &&
      closing != c) {
    pthread_mutex_lock(&c->wlock);
    collect_closing(c);
    pthread_mutex_unlock(&c->wlock);
  }
  cell_unref(c);
  return 0;
}

struct smr__swap_pin smr__swap_read_slow(smr_swap_reader *r) {
  /* relaxed: the owner's own slot. */
  struct smr_swap_node *h = atomic_load_explicit(&r->hp, memory_order_relaxed);
  if (h != SMR__SWAP_IDLE_SYM) /* nested: the outer guard's node; the */
    return (struct smr__swap_pin){h, h};
  struct smr_swap_node *n = atomic_load_explicit(r->cur, memory_order_relaxed);
  for (;;) {
    atomic_store_explicit(&r->hp, n, memory_order_release);
    /* Symmetric mode: pairs with the writer's seq_cst fence before its scan. */
    smr__fence_seq_cst();
    struct smr_swap_node *m =
        atomic_load_explicit(r->cur, memory_order_acquire);
    if (m == n)
      return (struct smr__swap_pin){n, SMR__SWAP_IDLE_SYM};
    n = m;
  }
}

void smr__swap_misuse(const smr_swap_reader *r, int what) {
  fprintf(stderr, "libsmr: swap reader %p: %s\n", (const void *)r,
          what == 0 ? "smr_swap_read while a read on it is in progress (a "
                      "signal handler must not use a reader it can "
                      "interrupt)"
                    : "guard released out of order (release guards of one "
                      "reader in reverse order of their reads)");
  abort();
}

void *smr_swap_reader_map(smr_swap_reader *r, smr_swap_map_fn fn, void *arg) {
  if (!r || !fn)
    return NULL;
  smr_swap_guard g;
  void *res = fn(smr_swap_read(r, &g), arg);
  smr_swap_guard_release(&g);
  return res;
}

bool smr_swap_reader_filter(smr_swap_reader *r, smr_swap_pred_fn pred,
                            void *arg, smr_swap_guard *g) {
  if (!r || !pred || !g)
    return false;
  if (pred(read_for_caller(r, g), arg))
    return true;
  release_for_caller(g);
  return false;
}

int smr_swap_reader_copy(smr_swap_reader *r, void *dst, size_t size,
                         smr_swap_copy_fn copy, void *arg) {
  if (!r || !dst)
    return -EINVAL;
  return copy_out(r, dst, size, copy, arg);
}

bool smr_swap_reader_is_pinned(const smr_swap_reader *r) {
  if (!r)
    return false;
  /* relaxed: the owner's own slot. */
  struct smr_swap_node *h =
      atomic_load_explicit(&((smr_swap_reader *)r)->hp, memory_order_relaxed);
  return h != NULL && h != SMR__SWAP_IDLE_SYM;
}

uint64_t smr_swap_reader_version(const smr_swap_reader *r) {
  if (!r)
    return 0;
  return smr_swap_version(((const struct swap_rec *)r)->cell);
}
