/* SPDX-License-Identifier: MIT */
/* Swap cell: single-writer publication with exact, per-reader protection.
 *
 * Files: this one (the cell's lifecycle, the registry of reader records, the
 * reclamation state machine, queries, the correctness argument);
 * swap_reader.c (reads whose guards go back to the caller, reader handles,
 * the out-of-line read path); swap_write.c (the publishing calls);
 * swap_internal.h (the structures they share); pace.c (early-collection
 * pacing, shared with the epoch domain).  Calls run one way: swap_write.c
 * -> swap_reader.c -> swap.c, and swap_write.c -> swap.c.
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
 * against threshold + readers + 1 (prepare, swap_write.c): at the bound it
 * collects, and
 * if the barrier is refused it publishes nothing (-ENOBUFS).  A successful
 * collection leaves at most readers + 1, so with working barriers the check
 * never refuses.
 *
 * Versions: a node's version is written before the publish (swap_write.c);
 * smr_swap_version reads cur, the node's version, and cur again (nodes are
 * recycled, see smr_swap_version).  Guards and signal handlers: see
 * swap_reader.c.  docs/DESIGN.md section 4 has the details.
 *
 * Symmetric mode: the idle slot value is SMR__SWAP_IDLE_SYM, which sends
 * every read to smr__swap_read_slow (swap_reader.c: it fences after
 * announcing), and the writer's barrier is a seq_cst fence.
 *
 * When no reader handle exists (only the cell's own reader, used by the
 * writer thread itself), the barrier is a plain seq_cst fence: a reader
 * created later (smr_swap_reader_create) increments `foreign` with a seq_cst
 * RMW and fences before its first read, so the fences order our publish
 * before its loads.
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

#include "platform/platform.h"
#include "swap_internal.h"

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

void smr__swap_cell_check(const smr_swap *c) {
  if (!live_track((smr_swap *)c, 0)) {
    fprintf(stderr,
            "libsmr: swap cell %p used after smr_swap_destroy freed "
            "it (or never created)\n",
            (const void *)c);
    abort();
  }
}
#define CELL_LIVE(c, add) ((void)live_track((c), (add)))
#else
#define CELL_LIVE(c, add) ((void)0)
#endif

/* ---- Nodes --------------------------------------------------------------- */

static void destroy_value(smr_swap *c, struct smr_swap_node *n) {
  if (c->destroy && n->value)
    c->destroy(n->value, c->ctx);
}

/* ---- Records ------------------------------------------------------------- */

struct swap_rec *smr__swap_rec_new(smr_swap *c, int owned) {
  struct swap_rec *r = smr__alloc_aligned(sizeof *r);
  if (!r)
    return NULL;
  r->owned = owned;
  r->owner = pthread_self();
  atomic_init(&r->pub.hp, c->idle);
  r->pub.cur = &c->cur;
  r->cell = c;
  if (owned) /* relaxed: a count for the bound (smr__swap_garbage_bound) */
    atomic_fetch_add_explicit(&c->nown, 1, memory_order_relaxed);
  atomic_init(&r->in_use, 1);
  /* relaxed: the CAS below is the release that publishes the record. */
  struct swap_rec *head =
      atomic_load_explicit(&c->readers, memory_order_relaxed);
  do {
    /* relaxed: published by the release CAS below. */
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
size_t smr__swap_garbage_add(smr_swap *c, size_t delta) {
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
int smr__swap_writer_barrier(smr_swap *c) {
  /* seq_cst fence before reading `foreign`: pairs with the seq_cst RMW and
   * fence of smr_swap_reader_create (see the opening comment). */
  smr__fence_seq_cst();
  /* acquire: pairs with the release decrement in smr_swap_reader_destroy,
   * so a handle counted out has finished its reads. */
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

/* Barrier, then gather every slot's node into c->hazards.  Returns the count
 * or -ENOBUFS / -ENOMEM (then nothing may be reclaimed). */
static long scan_hazards(smr_swap *c) {
  int err = smr__swap_writer_barrier(c);
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
long smr__swap_collect(smr_swap *c) {
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
    smr__swap_garbage_add(c, -(size_t)k);
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
void smr__swap_prev_to_retired(smr_swap *c) {
  if (c->prev) {
    c->prev->next = c->retired;
    c->retired = c->prev;
    c->prev = NULL;
  }
}

/* The replaced node becomes `prev`; the former prev becomes collectable. */
void smr__swap_retire_node(smr_swap *c, struct smr_swap_node *old) {
  smr__swap_prev_to_retired(c);
  c->prev = old;
  /* Counter for observers; relaxed. */
  size_t g = smr__swap_garbage_add(c, 1);
  if (g > c->threshold || collect_early(c, g))
    smr__swap_collect(c);
}

/* Retired values the cell may hold: threshold + readers + 1 (saturating),
 * readers = reader handles + own readers. */
size_t smr__swap_garbage_bound(smr_swap *c) {
  /* relaxed: counts; a stale one only moves the point where a store whose
   * barrier is refused fails. */
  size_t readers = atomic_load_explicit(&c->foreign, memory_order_relaxed) -
                   ((c->flags & SMR_SWAP_MULTI_WRITER) ? 1 : 0) +
                   atomic_load_explicit(&c->nown, memory_order_relaxed);
  size_t b = readers + 1;
  return c->threshold > SIZE_MAX - b ? SIZE_MAX : c->threshold + b;
}

/* ---- Own readers --------------------------------------------------------- */

/* The calling writer's own reader.  Single-writer mode: the cell's one own
 * reader.  Multi-writer mode: one record per writer thread, found in (or
 * appended to) the registry; only the thread itself creates its record, so
 * the walk needs no lock.  NULL on ENOMEM. */
struct swap_rec *smr__swap_own_reader(smr_swap *c) {
  if (!(c->flags & SMR_SWAP_MULTI_WRITER))
    return c->own;
  pthread_t self = pthread_self();
  FOR_EACH_REC(r, c) {
    if (r->owned && pthread_equal(r->owner, self))
      return r;
  }
  return smr__swap_rec_new(c, 1);
}

/* Whether an own reader holds a guard: the caller's (single-writer mode) or
 * any thread's (multi-writer mode, all = 1). */
static int own_pinned(smr_swap *c, int all) {
  if (!(c->flags & SMR_SWAP_MULTI_WRITER) || !all) {
    struct swap_rec *r = smr__swap_own_reader(c);
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

/* ---- Lifecycle ----------------------------------------------------------- */

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
  smr__pace_init(&c->pace, SMR__PACE_RISE_FAST);
  n->value = initial;
  n->version = 0; /* not shared yet */
  n->next = NULL;
  atomic_init(&c->cur, n);
  atomic_init(&c->refs, 1);
  atomic_init(&c->foreign, (c->flags & SMR_SWAP_MULTI_WRITER) ? 1 : 0);
  c->own = smr__swap_rec_new(c, 1);
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
  smr__swap_collect(c);
  closing = outer;
}

/* After smr_swap_destroy, each reader handle's destroy collects again.
 * From a destructor our own closing collection runs (closing == c): the
 * lock is ours and that collection is under way; skip ours (what it
 * cannot destroy goes to a later one, or to free_cell).  Its caller
 * still holds a reference, so smr__swap_cell_unref cannot free the cell
 * here. */
void smr__swap_collect_after_destroy(smr_swap *c) {
  /* acquire: pairs with destroy's release store of `destroyed`. */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire) &&
      closing != c) {
    pthread_mutex_lock(&c->wlock);
    collect_closing(c);
    pthread_mutex_unlock(&c->wlock);
  }
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
  /* acquire: pairs with smr__swap_rec_new's release CAS (no other thread
   * is left). */
  for (struct swap_rec *
           r = atomic_load_explicit(&c->readers, memory_order_acquire),
          *next;
       r; r = next) {
    /* relaxed: ordered by the acquire load above and the final unref. */
    next = atomic_load_explicit(&r->next, memory_order_relaxed);
    free(r);
  }
  free(c->hazards);
  pthread_mutex_destroy(&c->wlock);
  CELL_LIVE(c, -1);
  free(c);
}

void smr__swap_cell_unref(smr_swap *c) {
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
  /* release: pairs with the acquire loads of `destroyed` (writer_begin,
   * smr_swap_reader_create, smr__swap_collect_after_destroy). */
  atomic_store_explicit(&c->destroyed, 1, memory_order_release);
  /* Unpublish the current value like any store would (a read already in
   * flight then fails its validation, or is seen by the scan), so that it
   * can be collected; reads that still happen return NULL.  relaxed: the
   * writer's own publication (under wlock). */
  struct smr_swap_node *cur =
      atomic_load_explicit(&c->cur, memory_order_relaxed);
  c->gone.value = NULL;
  /* relaxed: as in publish (the release store of cur orders it). */
  node_set_version(&c->gone, node_version(cur, __ATOMIC_RELAXED) + 1);
  /* release: pairs with the readers' validating acquire load. */
  atomic_store_explicit(&c->cur, &c->gone, memory_order_release);
  cur->next = c->retired;
  c->retired = cur;
  smr__swap_prev_to_retired(c);
  smr__swap_garbage_add(c, 1);
  collect_closing(c);
  pthread_mutex_unlock(&c->wlock);
  smr__swap_cell_unref(c);
  return 0;
}

/* ---- Queries ------------------------------------------------------------- */

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
    /* acquire: as the first load (pairs with publish's release store). */
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
  out->bound = smr__swap_garbage_bound(w);
  out->barrier_failures =
      atomic_load_explicit(&w->barrier_failures, memory_order_relaxed);
  out->last_barrier_error =
      atomic_load_explicit(&w->last_barrier_error, memory_order_relaxed);
  out->refused = atomic_load_explicit(&w->refused, memory_order_relaxed);
  return 0;
}
