/* SPDX-License-Identifier: MIT */
/* Which buffer the writer may overwrite: the channel's reclamation state
 * machine.
 *
 * Design: a logical clock, publish_seq, counts this writer's publishes.
 * Each buffer remembers when it was retired (retired_at: the publish that
 * made another buffer current) and the `current` value it was published as;
 * the writer remembers when it last issued a heavy barrier (last_barrier)
 * and last looked at the readers directory (last_look).  A buffer retired
 * at or before last_look cannot be announced by a reader the writer has not
 * found; one retired at or before last_barrier cannot be used by an idle
 * reader that still announces it.  Choosing a buffer scans the pins
 * (slots.c reads them), then does the cheapest thing that can free one:
 * look at the directory, issue a barrier, reap dead readers, or wait for
 * live ones.  This file alone reads and writes that bookkeeping. */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>

#include "platform/platform.h"

void smr__channel_reuse_init(struct smr__channel_reuse *u,
                             struct smr__channel_state *st,
                             struct smr__channel_slots *slots, unsigned nbuf,
                             bool symmetric) {
  u->st = st;
  u->slots = slots;
  u->nbuf = nbuf;
  u->symmetric = symmetric;
  u->first_barrier_done = false;
  /* Nothing this writer knows about the readers yet: a barrier comes
   * before the first reuse (retired at 1 > last barrier 0); the directory
   * was listed just now, when the slots were opened (last look 1). */
  u->publish_seq = 1;
  u->last_barrier = 0;
  u->last_look = 1;
  for (unsigned i = 0; i < nbuf; i++) {
    u->retired_at[i] = 1;
    /* relaxed: we hold the writer lock; descriptors are ours. */
    uint64_t v =
        atomic_load_explicit(&st->desc[i].version, memory_order_relaxed);
    u->published_as[i] = v ? (v << 8) | i : 0;
  }
}

void smr__channel_reuse_published(struct smr__channel_reuse *u, uint64_t old,
                                  uint64_t now) {
  u->publish_seq++;
  if (old)
    u->retired_at[SMR__CHANNEL_INDEX(old)] = u->publish_seq;
  u->published_as[SMR__CHANNEL_INDEX(now)] = now;
}

/* The heavy barrier that lets the writer trust a scan: every reader either
 * made its announcement visible or will see the new `current`.  On success
 * it covers every buffer retired so far. */
static int heavy_barrier(struct smr__channel_reuse *u) {
  int r = 0;
  if (u->symmetric) {
    smr__fence_seq_cst(); /* pairs with the readers' fence after announcing */
  } else {
    smr__fence_seq_cst(); /* our stores before the barrier (membarrier also
                             fences the caller; this keeps TSAN informed) */
    r = smr__membarrier_global();
  }
  if (r == 0)
    u->last_barrier = u->publish_seq;
  return r;
}

/* Look at the readers directory: on success it covers every buffer
 * retired so far (a reader found later linked its file after this). */
static int look_at_directory(struct smr__channel_reuse *u) {
  int r = smr__channel_slots_update(u->slots);
  if (r == 0)
    u->last_look = u->publish_seq;
  return r;
}

/* What a scan of the slot files found.  active: bit i set if a slot holds
 * a guard on a version of buffer i.  idle: bit i set if an idle slot
 * announces published_as[i], the version buffer i still holds (its owner
 * may be about to mark it active: only a heavy barrier after buffer i was
 * retired rules that out).  Idle slots announcing anything else can never
 * use their buffer again without a new announcement (versions only grow).
 * err: the error of a slot that could not be read (0 if none). */
struct pins {
  uint32_t active, idle;
  int err;
};

/* Scan the slot files.  A slot that cannot be read (pread failed: EIO,
 * ENOMEM, EINTR...) may hold a guard on any buffer: it pins them all, and
 * its error is kept (a slot its owner truncated announces nothing). */
static void scan_pins(const struct smr__channel_reuse *u, struct pins *out) {
  uint32_t a = 0, d = 0;
  int err = 0;
  unsigned n = smr__channel_slots_count(u->slots);
  for (unsigned j = 0; j < n; j++) {
    struct smr__channel_slot_snap sn;
    int r = smr__channel_slots_read(u->slots, j, &sn);
    if (r == -EBADMSG)
      continue;
    if (r < 0) {
      a = ~0u;
      err = r;
      continue;
    }
    uint32_t bit = smr__channel_pin_bit(sn.pin, u->nbuf);
    if (!bit)
      continue;
    if (sn.active)
      a |= bit;
    else if (sn.pin == u->published_as[SMR__CHANNEL_INDEX(sn.pin)])
      d |= bit;
  }
  out->active = a;
  out->idle = d;
  out->err = err;
}

/* Buffers of `candidates` usable now: not held by an active slot, not
 * announced by an idle one unless a heavy barrier followed their
 * retirement, and retired before the last look at the directory. */
static uint32_t usable(const struct smr__channel_reuse *u, uint32_t candidates,
                       const struct pins *p) {
  uint32_t ok = 0;
  for (unsigned i = 0; i < u->nbuf; i++) {
    uint32_t bit = 1u << i;
    if ((candidates & bit) && !(p->active & bit) &&
        (!(p->idle & bit) || u->retired_at[i] <= u->last_barrier) &&
        u->retired_at[i] <= u->last_look)
      ok |= bit;
  }
  return ok;
}

/* The usable buffer retired longest ago, or -1. */
static int oldest_usable(const struct smr__channel_reuse *u,
                         uint32_t candidates, const struct pins *p) {
  uint32_t ok = usable(u, candidates, p);
  int best = -1;
  for (unsigned i = 0; i < u->nbuf; i++)
    if ((ok & (1u << i)) &&
        (best < 0 || u->retired_at[i] < u->retired_at[best]))
      best = (int)i;
  return best;
}

/* No buffer is usable.  If what stands in the way of a buffer no active
 * slot pins is only a reader not yet found or an idle announcement, do
 * what removes it (look at the directory, else issue a barrier): 1 if
 * done (rescan), 0 if every candidate is pinned by an active slot, or a
 * negative errno. */
static int clear_the_way(struct smr__channel_reuse *u, uint32_t candidates,
                         const struct pins *p) {
  uint32_t unpinned = candidates & ~p->active;
  bool needs_look = false, needs_barrier = false;
  for (unsigned i = 0; i < u->nbuf; i++)
    if (unpinned & (1u << i)) {
      needs_look |= u->retired_at[i] > u->last_look;
      needs_barrier |=
          (p->idle & (1u << i)) && u->retired_at[i] > u->last_barrier;
    }
  int r;
  if (needs_look)
    /* A reader we have not seen yet could announce it: look at the
     * directory (covers every buffer retired so far), rescan. */
    r = look_at_directory(u);
  else if (needs_barrier)
    /* Only idle announcements stand in the way: one barrier covers them
     * (every buffer retired so far); rescan after it. */
    r = heavy_barrier(u);
  else
    return 0;
  return r < 0 ? r : 1;
}

/* The wait for live readers of one choice. */
struct wait_state {
  int64_t start, deadline; /* start 0: not waiting yet */
  int64_t slice;           /* next sleep between liveness checks */
};

/* Ask releasing readers to signal us (an attribute change of their slot
 * file, which the directory watch reports), then look once more: a reader
 * that released before seeing the flag is seen by the rescan (the barrier
 * orders its `active = 0` before our loads, or our flag before its load);
 * one that releases after it leaves an event.  Sleeps a slice if nothing
 * was released: the kernel tells nobody when a lock holder dies. */
static int sleep_for_release(struct smr__channel_reuse *u, uint32_t candidates,
                             struct wait_state *wt, int64_t now) {
  /* relaxed: a hint for releasing readers (their load of `waiting` in
   * smr__channel_release_slow); the barrier below orders it before our
   * rescan, against their `active = 0`. */
  atomic_store_explicit(&u->st->waiting, 1, memory_order_relaxed);
  int r = heavy_barrier(u);
  if (r == 0)
    r = look_at_directory(u); /* also consumes stale events */
  if (r < 0) {
    /* relaxed: a hint for releasing readers (see the store above). */
    atomic_store_explicit(&u->st->waiting, 0, memory_order_relaxed);
    return r;
  }
  struct pins p;
  scan_pins(u, &p);
  if (!usable(u, candidates, &p)) {
    int64_t ns =
        wt->deadline - now < wt->slice ? wt->deadline - now : wt->slice;
    smr__channel_slots_wait(u->slots, ns);
    if (wt->slice < SMR__CHANNEL_LIVENESS_MAX_NS)
      wt->slice *= 2;
  }
  /* relaxed: see above; cleared so releases stop signalling. */
  atomic_store_explicit(&u->st->waiting, 0, memory_order_relaxed);
  return 0;
}

/* Every candidate is pinned by an active slot (or an unreadable one).
 * Dead readers first: no waiting for them; then wait for live ones up to
 * the deadline.  0: rescan; else the error to return (-EBUSY, or the
 * unreadable slot's error, at the deadline). */
static int wait_for_readers(struct smr__channel_reuse *u, uint32_t candidates,
                            const struct pins *p, int64_t timeout_ns,
                            struct wait_state *wt,
                            struct smr__channel_choice *out) {
  int n = smr__channel_slots_reap_pinning(u->slots, candidates, u->nbuf);
  if (n < 0)
    return n;
  /* A slot we cannot read pins every buffer; if that lasts until we give
   * up, its error (not -EBUSY) tells the caller why. */
  if (timeout_ns == 0 && n == 0)
    return p->err ? p->err : -EBUSY;
  int64_t now = smr__now_ns();
  if (!wt->start) {
    wt->start = now;
    wt->deadline = smr__channel_deadline(timeout_ns);
  }
  if (n > 0) {
    out->reclaimed += (unsigned)n;
    return 0; /* each dead file is dropped once: this ends */
  }
  if (now >= wt->deadline) {
    out->waited_ns = now - wt->start;
    return p->err ? p->err : -EBUSY;
  }
  return sleep_for_release(u, candidates, wt, now);
}

/* Pick a buffer to build into: not current, retired before the last
 * barrier and the last look at the directory, unpinned in a scan after
 * them.  Waits for live readers up to the timeout; reclaims dead ones on
 * the way. */
int smr__channel_reuse_choose(struct smr__channel_reuse *u, int64_t timeout_ns,
                              struct smr__channel_choice *out) {
  out->reclaimed = 0;
  out->waited_ns = 0;
  /* relaxed: only this writer stores `current`. */
  uint64_t cur = atomic_load_explicit(&u->st->current, memory_order_relaxed);
  int cur_idx = cur ? (int)SMR__CHANNEL_INDEX(cur) : -1;
  uint32_t candidates = 0;
  for (unsigned i = 0; i < u->nbuf; i++)
    if ((int)i != cur_idx)
      candidates |= 1u << i;
  if (!u->first_barrier_done) {
    /* First choice of this writer: what readers did before it opened
     * (another writer's publishes included) is covered from here on. */
    int r = heavy_barrier(u);
    if (r < 0)
      return r;
    u->first_barrier_done = true;
  }
  struct wait_state wt = {0, 0, SMR__CHANNEL_LIVENESS_MIN_NS};
  for (;;) {
    /* Our store of `current` before the scan's loads (pairs with the
     * reader's fence between announcing and re-validating). */
    smr__fence_seq_cst();
    struct pins p;
    scan_pins(u, &p);
    int best = oldest_usable(u, candidates, &p);
    if (best >= 0) {
      if (wt.start)
        out->waited_ns = smr__now_ns() - wt.start;
      out->buffer = (unsigned)best;
      return 0;
    }
    int r = clear_the_way(u, candidates, &p);
    if (r == 0)
      r = wait_for_readers(u, candidates, &p, timeout_ns, &wt, out);
    if (r < 0)
      return r;
  }
}
