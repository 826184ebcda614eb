/* SPDX-License-Identifier: MIT */
/* Swap cell: reads and reader handles.
 *
 * The read itself is inline (smr/swap.h): announce the node in the reader's
 * slot `hp` (release store), validate it against `cur` (acquire); swap.c's
 * opening comment has the argument.  This file has what runs out of line:
 * reads whose guards go back to the caller (smr_swap_load, the reader
 * helpers), the reader handles, and smr__swap_read_slow.
 *
 * Guards are released in LIFO order (checked in SMR_DEBUG builds); readers
 * must not be used from signal handlers that interrupt them (checked in
 * SMR_DEBUG builds).  docs/DESIGN.md section 4 has the details.
 *
 * Symmetric mode: the idle slot value is SMR__SWAP_IDLE_SYM, which sends
 * every read to smr__swap_read_slow (it fences after announcing), and the
 * writer's barrier is a seq_cst fence.
 *
 * A reader handle holds a reference to the cell.  smr_swap_reader_create
 * counts the handle in `foreign` (seq_cst RMW and fence) before its first
 * read, so a writer that saw no handle may use a plain fence (swap.c);
 * smr_swap_reader_destroy after smr_swap_destroy collects again, so what
 * its guards pinned is destroyed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swap_internal.h"

/* ---- Reads for the caller ------------------------------------------------ */

/* A read whose guard goes back to the caller (load, filter, update_and_fetch,
 * fetch_and_update).  The guard gets its release-order depth even when the
 * library is built without SMR_DEBUG: a caller built with it checks that
 * depth in smr_swap_guard_release, and would otherwise read garbage and abort
 * on correct code.  Out of line, so the inline read path is unchanged. */
void *smr__swap_read_for_caller(smr_swap_reader *r, smr_swap_guard *g) {
  void *v = smr_swap_read(r, g);
#ifndef SMR_DEBUG
  g->depth = ++r->depth;
#endif
  return v;
}

/* Release of a guard smr__swap_read_for_caller filled, by the library
 * itself. */
static void release_for_caller(smr_swap_guard *g) {
#ifndef SMR_DEBUG
  g->reader->depth--;
#endif
  smr_swap_guard_release(g);
}

void *smr_swap_load(smr_swap *c, smr_swap_guard *g) {
  if (!c || !g)
    return NULL;
  CELL_CHECK(c);
  struct swap_rec *r = smr__swap_own_reader(c);
  return r ? smr__swap_read_for_caller(&r->pub, g) : NULL;
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
  struct swap_rec *r = smr__swap_own_reader(c);
  return r ? copy_out(&r->pub, dst, size, copy, arg) : -ENOMEM;
}

/* ---- Reader API ---------------------------------------------------------- */

int smr_swap_reader_create(smr_swap *c, smr_swap_reader **out) {
  if (!c || !out)
    return -EINVAL;
  CELL_CHECK(c);
  /* acquire: pairs with destroy's release store of `destroyed`. */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire))
    return -EINVAL;
  /* Count first: a writer that misses this increment fences before us (see
   * the opening comment).  seq_cst RMW + fence. */
  atomic_fetch_add_explicit(&c->foreign, 1, memory_order_seq_cst);
  /* relaxed: a reference count increment (the acq_rel decrement in
   * smr__swap_cell_unref orders). */
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  smr__fence_seq_cst();
  /* A destroy that overlapped us: undo (the handle would be useless).
   * acquire: as above. */
  if (atomic_load_explicit(&c->destroyed, memory_order_acquire)) {
    /* relaxed: undoing our own increment; nothing is published by it. */
    atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_relaxed);
    smr__swap_cell_unref(c);
    return -EINVAL;
  }
  struct swap_rec *r = NULL;
  FOR_EACH_REC(x, c) {
    int expect = 0;
    /* relaxed peek, then the CAS decides.  acquire (CAS): the previous
     * owner's release (in smr_swap_reader_destroy) happens before. */
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
    r = smr__swap_rec_new(c, 0);
  if (!r) {
    /* relaxed: undoing our own increment; nothing is published by it. */
    atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_relaxed);
    smr__swap_cell_unref(c);
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
  /* release: pairs with the acquire load of `foreign` in
   * smr__swap_writer_barrier. */
  atomic_fetch_sub_explicit(&c->foreign, 1, memory_order_release);
  /* After smr_swap_destroy: collect what our guards pinned (swap.c). */
  smr__swap_collect_after_destroy(c);
  smr__swap_cell_unref(c);
  return 0;
}

struct smr__swap_pin smr__swap_read_slow(smr_swap_reader *r) {
  /* relaxed: the owner's own slot. */
  struct smr_swap_node *h = atomic_load_explicit(&r->hp, memory_order_relaxed);
  if (h != SMR__SWAP_IDLE_SYM) /* nested: the outer guard's node; the */
    return (struct smr__swap_pin){h, h};
  /* relaxed: a candidate; the acquire load below validates it. */
  struct smr_swap_node *n = atomic_load_explicit(r->cur, memory_order_relaxed);
  for (;;) {
    /* release: pairs with the writer's acquire slot loads (slot_of), as in
     * the inline read. */
    atomic_store_explicit(&r->hp, n, memory_order_release);
    /* Symmetric mode: pairs with the writer's seq_cst fence before its scan. */
    smr__fence_seq_cst();
    /* acquire: pairs with publish's release store of cur. */
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
  if (pred(smr__swap_read_for_caller(r, g), arg))
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
