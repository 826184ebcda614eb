/* SPDX-License-Identifier: MIT */
/* The collector's write side: retire, submission, release, reclamation,
 * and the out-of-line parts of enter / protect / leave.
 *
 * Design (docs/DESIGN.md, "The collector", has the full argument):
 *  - A handle's word `ctr` holds its nesting depth and a section sequence
 *    number; robust handles also publish `upper`, the era the section
 *    reserves.  Both are plain stores; a submitter's heavy barrier orders
 *    them before the section's loads.
 *  - retire pushes the node on the handle's partial batch.  A full batch is
 *    submitted: a heavy barrier issued after every node of the batch was
 *    unlinked (barrier_after: shared with concurrent submitters), then one
 *    pass over the handles.  A handle idle at the scan cannot hold a node
 *    of the batch (its section, if any, began after the barrier, when the
 *    nodes were already unreachable); an active one may, unless (robust)
 *    its reserved era is older than the nodes' birth.  Nodes no section
 *    can hold are reclaimed at once; for the rest the batch gets one
 *    reference per blocking section (a link, pushed on that handle's
 *    `blocked` stack with the section's sequence number) plus one.
 *  - A section's links are released by its owner's leave (the slow path
 *    the inline leave takes when `blocked` is not empty), or by any
 *    submitter that sees the section over (help).  The last release
 *    reclaims the batch: the last holder frees (balanced), or with
 *    SMR_COLLECTOR_RETIRER_RECLAIMS the batch goes to its retirer's
 *    `ready` stack.
 *  - A partial batch older than flush_ns is taken by the next submitter
 *    that sees it (steal_old), so a thread that retires and goes quiet does
 *    not sit on its garbage. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector_internal.h"
#include "platform/platform.h"

static struct hrec *rec_of(smr_collector_handle *h) {
  return (struct hrec *)h;
}

/* ---- Reclamation ---------------------------------------------------------
 */

long smr__collector_reclaim_list(struct hrec *h, struct smr_collector_node *n) {
  long k = 0;
  h->reclaiming++; /* a retire in a reclaim function does not submit */
  while (n) {
    struct smr_collector_node *next = n->next;
    n->reclaim(n, &h->pub);
    n = next;
    k++;
  }
  h->reclaiming--;
  h->reclaimed += (uint64_t)k;
  /* Nodes they retired: the next leave checks whether they are due. */
  if (!h->reclaiming && atomic_load_explicit(&h->local, memory_order_relaxed))
    h->pub.attention = 1;
  return k;
}

static void batch_reclaim(struct hrec *h, struct cbatch *b) {
  smr_collector *c = h->c;
  struct smr_collector_node *nodes = b->nodes;
  size_t count = b->count, bytes = b->bytes;
  free(b);
  smr__collector_reclaim_list(h, nodes);
  /* relaxed: statistics. */
  atomic_fetch_sub_explicit(&c->garbage, count, memory_order_relaxed);
  atomic_fetch_sub_explicit(&c->garbage_bytes, bytes, memory_order_relaxed);
}

/* The last reference to b is gone: reclaim it here, or hand it to its
 * retirer (SMR_COLLECTOR_RETIRER_RECLAIMS) if that one is registered. */
static void batch_done(struct hrec *h, struct cbatch *b) {
  struct hrec *r = b->retirer;
  /* relaxed: a stale LIVE only delays the batch to the record's next
   * owner or to the collector's destroy. */
  if (r && r != h &&
      atomic_load_explicit(&r->state, memory_order_relaxed) == REC_LIVE) {
    struct cbatch *head = atomic_load_explicit(&r->ready, memory_order_relaxed);
    do
      b->next_ready = head;
    /* release: the batch's contents before the retirer's drain (acquire). */
    while (!atomic_compare_exchange_weak_explicit(
        &r->ready, &head, b, memory_order_release, memory_order_relaxed));
    /* seq_cst: against the seq_cst store of a state other than LIVE in
     * unregister and reaping, each followed by a drain: either that drain
     * sees our push, or we see the record gone and drain it ourselves. */
    if (atomic_load_explicit(&r->state, memory_order_seq_cst) != REC_LIVE)
      smr__collector_drain_ready(r, h);
    return;
  }
  batch_reclaim(h, b);
}

static void batch_release(struct hrec *h, struct cbatch *b) {
  /* acq_rel: every holder's release happens before the reclamation by the
   * last one (the usual reference count pairing). */
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
    batch_done(h, b);
}

long smr__collector_reclaim_ready(struct hrec *h, struct cbatch *b) {
  uint64_t before = h->reclaimed;
  while (b) {
    struct cbatch *next = b->next_ready;
    batch_reclaim(h, b);
    b = next;
  }
  return (long)(h->reclaimed - before);
}

long smr__collector_drain_ready(struct hrec *from, struct hrec *h) {
  /* relaxed first: the common case is empty.  acquire: pairs with the
   * release push in batch_done. */
  if (!atomic_load_explicit(&from->ready, memory_order_relaxed))
    return 0;
  return smr__collector_reclaim_ready(
      h, atomic_exchange_explicit(&from->ready, NULL, memory_order_acquire));
}

/* ---- Links ---------------------------------------------------------------
 */

static void link_push(struct hrec *rec, struct clink *l) {
  void *head = atomic_load_explicit(&rec->pub.blocked, memory_order_relaxed);
  do
    l->next = head;
  /* release: the link and its batch before whoever takes the stack. */
  while (!atomic_compare_exchange_weak_explicit(
      &rec->pub.blocked, &head, l, memory_order_release, memory_order_relaxed));
}

/* Take rec's links; release those of sections that are over (all of them
 * when `all`), push back those of its current section; with `again`, a
 * second pass if that section ended meanwhile.  Any thread; h is the
 * caller's handle (for reclamation). */
static void help_pass(struct hrec *h, struct hrec *rec, bool all, bool again) {
  /* relaxed: a hint; the exchange decides. */
  if (!atomic_load_explicit(&rec->pub.blocked, memory_order_relaxed))
    return;
  /* acq_rel: acquire the pushes (their batches), release our pushes back. */
  struct clink *l =
      atomic_exchange_explicit(&rec->pub.blocked, NULL, memory_order_acq_rel);
  /* acquire, after the exchange: a link pushed for a section that began
   * after our load would otherwise be released (the pusher saw that
   * section's ctr before pushing; we see it or a later value).  Pairs with
   * the owner's release stores of ctr: a section we see over happens
   * before our release. */
  uint64_t c = atomic_load_explicit(&rec->pub.ctr, memory_order_acquire);
  /* acquire: a record whose thread is gone (or unregistered) has no
   * section; pairs with the release store of state. */
  bool live =
      atomic_load_explicit(&rec->state, memory_order_acquire) == REC_LIVE;
  bool kept = false;
  while (l) {
    struct clink *next = l->next;
    if (!all && live && CACTIVE(c) && l->seq == CSEQ(c)) {
      link_push(rec, l);
      kept = true;
    } else {
      batch_release(h, l->b);
    }
    l = next;
  }
  /* The section may have ended while we held its links: its leave then
   * found `blocked` empty and left them to the next scan.  Look once more
   * (relaxed, a hint: the second pass re-reads with acquire); a leave that
   * still slips between our push and this load is covered by the next
   * submission's scan (DESIGN 9, "Release"). */
  if (again && kept &&
      atomic_load_explicit(&rec->pub.ctr, memory_order_relaxed) != c)
    help_pass(h, rec, false, false);
}

static void help(struct hrec *h, struct hrec *rec, bool all) {
  help_pass(h, rec, all, true);
}

void smr__collector_release_all(struct hrec *rec, struct hrec *h) {
  help(h, rec, true);
}

void smr__collector_release_links(struct hrec *h, struct clink *l) {
  while (l) {
    struct clink *next = l->next;
    batch_release(h, l->b);
    l = next;
  }
}

/* ---- Heavy barriers ------------------------------------------------------
 */

/* Issue (or share) a heavy barrier that began after every store the caller
 * made before this call: 0, or the negative errno of a refused barrier.
 * Asymmetric mode: a membarrier begun after our load of bar_started acts on
 * every running thread of the process, ours included, so it orders our
 * earlier stores too; a concurrent submitter's barrier that began after
 * that load serves us as well.  Symmetric mode: our own fence (readers
 * fence themselves; another thread's fence orders nothing of ours). */
static int barrier_after(smr_collector *c) {
  /* relaxed: statistics. */
  if (c->mode == SMR_FENCE_SYMMETRIC) {
    atomic_fetch_add_explicit(&c->barriers, 1, memory_order_relaxed);
    return smr__heavy_barrier(SMR_FENCE_SYMMETRIC);
  }
  /* seq_cst: ordered after our unlinking stores (see above). */
  uint64_t need =
      atomic_load_explicit(&c->bar_started, memory_order_seq_cst) + 1;
  pthread_mutex_lock(&c->bar_lock);
  int r = 0;
  /* relaxed: bar_lock orders these. */
  if (atomic_load_explicit(&c->bar_done, memory_order_relaxed) < need) {
    uint64_t n = atomic_load_explicit(&c->bar_started, memory_order_relaxed);
    /* seq_cst: before the barrier (pairs with the load of a submitter that
     * may then share it, above). */
    atomic_store_explicit(&c->bar_started, n + 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&c->barriers, 1, memory_order_relaxed);
    int64_t t0 = smr__now_ns();
    r = smr__heavy_barrier(SMR_FENCE_ASYMMETRIC);
    smr__pace_cost(&c->pace, t0);
    smr__pace_stepped(&c->pace);
    if (r == 0)
      atomic_store_explicit(&c->bar_done, n + 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&c->bar_lock);
  return r;
}

/* ---- The partial batch ---------------------------------------------------
 */

/* Push a node on h's partial batch (owner). */
static void local_push(struct hrec *h, struct smr_collector_node *n) {
  struct smr_collector_node *head =
      atomic_load_explicit(&h->local, memory_order_relaxed);
  do
    n->next = head;
  /* release: the node (and a robust reservation made for it) before a
   * submitter that takes the batch (steal_old). */
  while (!atomic_compare_exchange_weak_explicit(
      &h->local, &head, n, memory_order_release, memory_order_relaxed));
  /* relaxed: statistics and our own bookkeeping. */
  if (!head) { /* a new batch (or the last one was taken) */
    atomic_store_explicit(&h->local_since, smr__now_ns(), memory_order_relaxed);
    atomic_store_explicit(&h->local_count, 1, memory_order_relaxed);
    atomic_store_explicit(&h->local_bytes, n->bytes, memory_order_relaxed);
  } else {
    size_t k = atomic_load_explicit(&h->local_count, memory_order_relaxed);
    atomic_store_explicit(&h->local_count, k + 1, memory_order_relaxed);
    size_t b = atomic_load_explicit(&h->local_bytes, memory_order_relaxed);
    atomic_store_explicit(&h->local_bytes, b + n->bytes, memory_order_relaxed);
  }
}

/* Splice a list back onto h's partial batch (a submission that could not
 * complete). */
static void local_keep(struct hrec *h, struct smr_collector_node *list) {
  while (list) {
    struct smr_collector_node *next = list->next;
    local_push(h, list);
    list = next;
  }
  h->retry = true; /* at the next leave */
  h->pub.attention = 1;
}

/* Pacing lets a full batch grow to this many times its size. */
#define PACE_GROWTH 16

static size_t batch_size(smr_collector *c) {
  /* relaxed: sizing only. */
  size_t live = atomic_load_explicit(&c->live, memory_order_relaxed);
  return c->batch > 2 * live ? c->batch : 2 * live;
}

/* Whether h's partial batch is due for submission.  A full batch that
 * waits (pacing) sends the owner's leaves to the slow path, which asks
 * again, so a handle that stops retiring still submits it; retires and
 * such leaves look at the clock every 16th time. */
static bool local_due(struct hrec *h) {
  smr_collector *c = h->c;
  /* relaxed: our own batch. */
  if (!atomic_load_explicit(&h->local, memory_order_relaxed))
    return false;
  size_t k = atomic_load_explicit(&h->local_count, memory_order_relaxed);
  if (atomic_load_explicit(&h->local_bytes, memory_order_relaxed) >=
      c->max_bytes)
    return true;
  size_t full = batch_size(c);
  if (k >= full) {
    /* Pacing: a full batch waits while the last heavy barrier is recent
     * (under 20 barrier costs ago: barriers then take at most ~5% of the
     * time), up to PACE_GROWTH full batches.  Waiting, it is like a
     * partial batch: another submission takes it once it is flush_ns
     * old. */
    if ((c->flags & SMR_COLLECTOR_NO_PACING) ||
        c->mode == SMR_FENCE_SYMMETRIC || k >= PACE_GROWTH * full)
      return true;
    if (++h->pace_calls % 16 == 0 && smr__pace_due(&c->pace))
      return true;
    h->pub.attention = 1; /* the next leave asks again */
    return false;
  }
  /* The clock only every 32 retires. */
  if (k % 32 || c->flush_ns == UINT64_MAX)
    return false;
  int64_t since = atomic_load_explicit(&h->local_since, memory_order_relaxed);
  return (uint64_t)(smr__now_ns() - since) >= c->flush_ns;
}

/* Count and sum a node list. */
static size_t list_count(struct smr_collector_node *n, size_t *bytes) {
  size_t k = 0, b = 0;
  for (; n; n = n->next, k++)
    b += n->bytes;
  *bytes = b;
  return k;
}

void smr__collector_splice(struct smr_collector_node **l,
                           struct smr_collector_node *o) {
  while (o) {
    struct smr_collector_node *next = o->next;
    o->next = *l;
    *l = o;
    o = next;
  }
}

void smr__collector_orphan(smr_collector *c, struct smr_collector_node *l) {
  while (l) {
    struct smr_collector_node *next = l->next;
    struct smr_collector_node *head =
        atomic_load_explicit(&c->orphans, memory_order_relaxed);
    do
      l->next = head;
    /* release: the node before the submitter that takes the orphans. */
    while (!atomic_compare_exchange_weak_explicit(
        &c->orphans, &head, l, memory_order_release, memory_order_relaxed));
    l = next;
  }
}

/* Take the collector's orphans (nodes of unregistered or dead handles whose
 * submission failed) into list *l. */
void smr__collector_take_orphans(smr_collector *c,
                                 struct smr_collector_node **l) {
  /* relaxed first: usually none.  acquire: pairs with the release push. */
  if (!atomic_load_explicit(&c->orphans, memory_order_relaxed))
    return;
  smr__collector_splice(
      l, atomic_exchange_explicit(&c->orphans, NULL, memory_order_acquire));
}

/* Take h's whole partial batch (and the orphans) and submit it; again while
 * reclaim functions refill it past its threshold. */
static void submit_local(struct hrec *h, bool force) {
  do {
    /* acquire: pairs with local_push's release (ours, or the list is ours
     * anyway). */
    struct smr_collector_node *l =
        atomic_exchange_explicit(&h->local, NULL, memory_order_acquire);
    atomic_store_explicit(&h->local_count, 0, memory_order_relaxed);
    atomic_store_explicit(&h->local_bytes, 0, memory_order_relaxed);
    smr__collector_take_orphans(h->c, &l);
    if (!l)
      return;
    size_t bytes, count = list_count(l, &bytes);
    smr__collector_submit(h, l, count, bytes);
    /* Now and then, reap handles of threads that are gone (they may block
     * batches while they look alive). */
    smr_collector *c = h->c;
    if ((++h->submits & 63) == 0 && pthread_mutex_trylock(&c->reg_lock) == 0) {
      struct creaped rp = {NULL, NULL};
      smr__collector_reap(c, h, 0, &rp);
      pthread_mutex_unlock(&c->reg_lock);
      smr__collector_reaped(h, &rp);
    }
  } while (!force && !h->reclaiming && local_due(h));
}

/* ---- Submission ----------------------------------------------------------
 */

/* Room for n + 1 blockers in h's scratch array. */
static bool scratch_room(struct hrec *h, size_t n) {
  if (n < h->scratch_cap)
    return true;
  size_t cap = h->scratch_cap ? 2 * h->scratch_cap : 16;
  struct cblocker *s = realloc(h->scratch, cap * sizeof *s);
  if (!s)
    return false;
  h->scratch = s;
  h->scratch_cap = cap;
  return true;
}

/* A partial batch of another live handle that has waited flush_ns: taken
 * into *l (its owner starts a new one).  Safe: the nodes stay held by the
 * owner's section if it is in one (the scan sees it). */
static void steal_old(struct hrec *rec, int64_t now,
                      struct smr_collector_node **l) {
  smr_collector *c = rec->c;
  /* relaxed: hints; the exchange takes what is there. */
  if (c->flush_ns == UINT64_MAX ||
      !atomic_load_explicit(&rec->local, memory_order_relaxed) ||
      (uint64_t)(now - atomic_load_explicit(&rec->local_since,
                                            memory_order_relaxed)) <
          c->flush_ns)
    return;
  /* acquire: pairs with the owner's release push (the nodes, and a robust
   * reservation made for them). */
  smr__collector_splice(
      l, atomic_exchange_explicit(&rec->local, NULL, memory_order_acquire));
}

/* Before the barrier: take the partial batches of other live handles that
 * have waited flush_ns into *l.  Before, not during the scan: the barrier
 * must come after every node of the batch was unlinked, and a stolen node
 * was unlinked before its owner's push, which our exchange acquires. */
static void steal_pass(struct hrec *h, struct smr_collector_node **l) {
  smr_collector *c = h->c;
  /* RETIRER_RECLAIMS: a node is reclaimed by its retirer, so its batch
   * is its retirer's to submit. */
  if (c->flush_ns == UINT64_MAX || (c->flags & SMR_COLLECTOR_RETIRER_RECLAIMS))
    return;
  int64_t now = smr__now_ns();
  /* acquire: pairs with the release store that published each record. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_acquire);
       r; r = r->next)
    /* relaxed: a hint; steal_old's exchange acquires. */
    if (r != h &&
        atomic_load_explicit(&r->state, memory_order_relaxed) == REC_LIVE)
      steal_old(r, now, l);
}

/* After the barrier: the handles whose section may hold nodes of the batch
 * into h->scratch (their number, or SIZE_MAX when out of memory); releases
 * the links of sections that are over on the way. */
static size_t scan(struct hrec *h) {
  smr_collector *c = h->c;
  bool robust = c->flags & SMR_COLLECTOR_ROBUST;
  size_t n = 0;
  /* acquire: pairs with the release store that published each record. */
  for (struct hrec *r = atomic_load_explicit(&c->handles, memory_order_acquire);
       r; r = r->next) {
    /* acquire: pairs with the release store of state. */
    if (atomic_load_explicit(&r->state, memory_order_acquire) != REC_LIVE) {
      /* Not `all`: the record may be registered again meanwhile, and a
       * link pushed for its new owner's section; help re-reads the state
       * after taking the links. */
      help(h, r, false);
      continue;
    }
    /* acquire: pairs with the owner's release stores of ctr (its last
     * leave happens before our reclamation). */
    uint64_t v = atomic_load_explicit(&r->pub.ctr, memory_order_acquire);
    if (!CACTIVE(v)) {
      help(h, r, false);
      continue;
    }
    if (!scratch_room(h, n))
      return SIZE_MAX;
    /* relaxed, after the acquire of ctr: the section's reservation; a
     * later section's is only larger (conservative). */
    h->scratch[n++] = (struct cblocker){
        r, CSEQ(v),
        robust ? atomic_load_explicit(&r->pub.upper, memory_order_relaxed) : 0};
  }
  return n;
}

/* Robust mode: move the nodes no blocker can hold (born after every
 * blocker's reserved era) from *l to *free_now, and drop the blockers
 * whose era is older than every remaining node.  Returns the blockers
 * kept. */
static size_t split_robust(struct hrec *h, size_t n,
                           struct smr_collector_node **l,
                           struct smr_collector_node **free_now) {
  uint64_t max_u = 0, min_birth = UINT64_MAX;
  for (size_t i = 0; i < n; i++)
    if (h->scratch[i].upper > max_u)
      max_u = h->scratch[i].upper;
  struct smr_collector_node *keep = NULL, *x = *l;
  while (x) {
    struct smr_collector_node *next = x->next;
    if (x->birth > max_u) {
      x->next = *free_now;
      *free_now = x;
    } else {
      x->next = keep;
      keep = x;
      if (x->birth < min_birth)
        min_birth = x->birth;
    }
    x = next;
  }
  *l = keep;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (keep && h->scratch[i].upper >= min_birth)
      h->scratch[k++] = h->scratch[i];
  return k;
}

/* Account reclaimed-at-once nodes (their batch never existed). */
static void reclaim_now(struct hrec *h, struct smr_collector_node *l) {
  if (!l)
    return;
  size_t bytes, count = list_count(l, &bytes);
  smr__collector_reclaim_list(h, l);
  /* relaxed: statistics. */
  atomic_fetch_sub_explicit(&h->c->garbage, count, memory_order_relaxed);
  atomic_fetch_sub_explicit(&h->c->garbage_bytes, bytes, memory_order_relaxed);
}

static int by_upper(const void *x, const void *y) {
  uint64_t a = ((const struct cblocker *)x)->upper,
           b = ((const struct cblocker *)y)->upper;
  return a < b ? -1 : a > b;
}

/* Make the nodes l one batch held by the blockers h->scratch[from..n):
 * a link pushed to each, then our own reference dropped.  Out of memory:
 * the nodes stay with h (retried later). */
static void publish_batch(struct hrec *h, struct smr_collector_node *l,
                          size_t from, size_t n) {
  smr_collector *c = h->c;
  size_t k = n - from;
  struct cbatch *b = malloc(sizeof *b + k * sizeof(struct clink));
  if (!b) {
    size_t kb, kn = list_count(l, &kb);
    /* relaxed: statistics. */
    atomic_fetch_sub_explicit(&c->garbage, kn, memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->garbage_bytes, kb, memory_order_relaxed);
    local_keep(h, l);
    return;
  }
  b->nodes = l;
  b->count = list_count(l, &b->bytes);
  b->retirer = (c->flags & SMR_COLLECTOR_RETIRER_RECLAIMS) ? h : NULL;
  /* relaxed: published by the release pushes below. */
  atomic_init(&b->refs, k + 1);
  for (size_t i = 0; i < k; i++) {
    b->links[i] = (struct clink){NULL, b, h->scratch[from + i].seq};
    link_push(h->scratch[from + i].rec, &b->links[i]);
  }
  /* Sections that ended while we pushed: release their links now rather
   * than at their owner's next leave. */
  for (size_t i = from; i < n; i++) {
    struct hrec *r = h->scratch[i].rec;
    /* relaxed: a hint; help re-reads ctr after taking the links. */
    uint64_t v = atomic_load_explicit(&r->pub.ctr, memory_order_relaxed);
    if (r != h && (!CACTIVE(v) || CSEQ(v) != h->scratch[i].seq))
      help(h, r, false);
  }
  batch_release(h, b);
}

void smr__collector_submit(struct hrec *h, struct smr_collector_node *l,
                           size_t count, size_t bytes) {
  smr_collector *c = h->c;
  /* relaxed: statistics. */
  atomic_fetch_add_explicit(&c->submitted, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->garbage, count, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->garbage_bytes, bytes, memory_order_relaxed);
  /* Robust: the era moves at every submission (and every era_period
   * retires or node_init calls of a thread), so it cannot stay put while
   * nodes are retired: the bound of DESIGN section 9.  relaxed: eras are
   * compared through coherence only. */
  if (c->flags & SMR_COLLECTOR_ROBUST)
    atomic_fetch_add_explicit(&c->era, 1, memory_order_relaxed);
  struct smr_collector_node *stolen = NULL;
  steal_pass(h, &stolen);
  size_t n = barrier_after(c) == 0 ? scan(h) : SIZE_MAX;
  if (stolen) {
    size_t sb, sc = list_count(stolen, &sb);
    atomic_fetch_add_explicit(&c->garbage, sc, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->garbage_bytes, sb, memory_order_relaxed);
    struct smr_collector_node *t = stolen;
    while (t->next)
      t = t->next;
    t->next = l;
    l = stolen;
  }
  if (n == SIZE_MAX) { /* no barrier, or no memory: try again later */
    size_t b, k = list_count(l, &b);
    atomic_fetch_sub_explicit(&c->garbage, k, memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->garbage_bytes, b, memory_order_relaxed);
    local_keep(h, l);
    return;
  }
  struct smr_collector_node *free_now = NULL;
  if (n && (c->flags & SMR_COLLECTOR_ROBUST))
    n = split_robust(h, n, &l, &free_now);
  if (!n || !l) {
    reclaim_now(h, free_now);
    reclaim_now(h, l);
    return;
  }
  if (!(c->flags & SMR_COLLECTOR_ROBUST)) {
    publish_batch(h, l, 0, n);
  } else {
    /* One batch per reserved era among the blockers, held only by the
     * blockers whose era covers its nodes: a stalled section holds up only
     * the nodes born no later than its era, none dragged along with them
     * (the robust bound, DESIGN section 9). */
    qsort(h->scratch, n, sizeof *h->scratch, by_upper);
    for (size_t from = 0; from < n && l;) {
      uint64_t u = h->scratch[from].upper;
      struct smr_collector_node *group = NULL, *rest = NULL;
      while (l) {
        struct smr_collector_node *next = l->next;
        struct smr_collector_node **to = l->birth <= u ? &group : &rest;
        l->next = *to;
        *to = l;
        l = next;
      }
      l = rest;
      if (group)
        publish_batch(h, group, from, n);
      while (from < n && h->scratch[from].upper == u)
        from++;
    }
  }
  reclaim_now(h, free_now);
}

/* ---- Retire, flush -------------------------------------------------------
 */

/* Robust: reserve the current era in h's section (a store the next heavy
 * barrier orders before our later loads; in symmetric mode our fence). */
static void reserve_era(smr_collector_handle *pub) {
  /* relaxed: see protect's comments in smr/collector.h. */
  uint64_t e = atomic_load_explicit(pub->era, memory_order_relaxed);
  if (e == atomic_load_explicit(&pub->upper, memory_order_relaxed))
    return;
  atomic_store_explicit(&pub->upper, e, memory_order_relaxed);
  if (atomic_load_explicit(&pub->ctr, memory_order_relaxed) &
      SMR__COLLECTOR_SYMMETRIC)
    smr__fence_seq_cst();
  else
    atomic_signal_fence(memory_order_seq_cst);
}

int smr_collector_retire(smr_collector_handle *pub,
                         struct smr_collector_node *node,
                         smr_collector_reclaim_fn *fn, size_t bytes) {
  if (!pub || !node || !fn)
    return -EINVAL;
  struct hrec *h = rec_of(pub);
  smr_collector *c = h->c;
  node->reclaim = fn;
  node->bytes = bytes;
  if (c->flags & SMR_COLLECTOR_ROBUST) {
    /* relaxed: our own words. */
    uint64_t v = atomic_load_explicit(&pub->ctr, memory_order_relaxed);
    /* Retired inside our section: it stays valid until our leave, so our
     * reservation must cover its birth (the era now is at least that:
     * read-read coherence through how the node reached us). */
    if (CACTIVE(v) &&
        node->birth > atomic_load_explicit(&pub->upper, memory_order_relaxed))
      reserve_era(pub);
    if (++h->era_retires >= c->era_period) {
      h->era_retires = 0;
      /* relaxed: eras are compared through coherence only (DESIGN). */
      atomic_fetch_add_explicit(&c->era, 1, memory_order_relaxed);
    }
  }
  SMR_ASSERT(
      (!(c->flags & SMR_COLLECTOR_ROBUST) ||
       node->birth <= atomic_load_explicit(&c->era, memory_order_relaxed)) &&
      "smr_collector_retire: node not initialised (node_init)");
  local_push(h, node);
  if (h->reclaiming)
    return 0; /* reclaim functions never run inside one another */
  if (local_due(h))
    submit_local(h, false);
  if (c->flags & SMR_COLLECTOR_RETIRER_RECLAIMS)
    smr__collector_drain_ready(h, h);
  return 0;
}

long smr_collector_flush(smr_collector_handle *pub) {
  if (!pub)
    return -EINVAL;
  struct hrec *h = rec_of(pub);
  uint64_t before = h->reclaimed;
  if (h->reclaiming)
    return 0; /* reclaim functions never run inside one another */
  submit_local(h, true);
  /* relaxed: our own word. */
  if (!CACTIVE(atomic_load_explicit(&pub->ctr, memory_order_relaxed)))
    help(h, h, true); /* links of our sections, all over */
  /* Links of sections that ended on other handles (their owner's leave
   * may have missed a link pushed as it left): released now. */
  /* acquire: pairs with the release store that published each record. */
  for (struct hrec *r =
           atomic_load_explicit(&h->c->handles, memory_order_acquire);
       r; r = r->next)
    if (r != h)
      help(h, r, false);
  smr__collector_drain_ready(h, h);
  return (long)(h->reclaimed - before);
}

/* ---- The out-of-line read paths ------------------------------------------
 */

void smr__collector_enter_slow(smr_collector_handle *pub, uint64_t c) {
  if (c & SMR__COLLECTOR_NEST_MASK) {
    if ((c & SMR__COLLECTOR_NEST_MASK) == SMR__COLLECTOR_NEST_MASK) {
      fprintf(stderr, "libsmr: smr_collector_enter nesting deeper than "
                      "65535\n");
      abort();
    }
    /* relaxed: depth only; the outermost entry published the section. */
    atomic_store_explicit(&pub->ctr, c + 1, memory_order_relaxed);
    return;
  }
  /* Outermost entry, symmetric mode: the fence orders the stores before
   * the section's loads (pairs with the submitter's fence). */
  if (c & SMR__COLLECTOR_ROBUST)
    /* relaxed: ordered by the fence below. */
    atomic_store_explicit(&pub->upper,
                          atomic_load_explicit(pub->era, memory_order_relaxed),
                          memory_order_relaxed);
  /* release: as in smr_collector_enter. */
  atomic_store_explicit(&pub->ctr, c + SMR__COLLECTOR_SEQ_ONE + 1,
                        memory_order_release);
  smr__fence_seq_cst();
}

void *smr__collector_protect_slow(smr_collector_handle *pub,
                                  SMR_ATOMIC(void *) const *src) {
  SMR_ASSERT(CACTIVE(atomic_load_explicit(&pub->ctr, memory_order_relaxed)) &&
             "smr_collector_protect outside a section");
  for (;;) {
    reserve_era(pub);
    /* acquire: pairs with the publication of the node. */
    void *p = atomic_load_explicit(src, memory_order_acquire);
    /* relaxed: as in smr_collector_protect. */
    if (atomic_load_explicit(pub->era, memory_order_relaxed) ==
        atomic_load_explicit(&pub->upper, memory_order_relaxed))
      return p;
  }
}

void smr__collector_leave_slow(smr_collector_handle *pub, uint64_t c) {
  (void)c;
  struct hrec *h = rec_of(pub);
  /* Our section is over (our release store of ctr came first): every link
   * on our stack is for a section that ended. */
  help(h, h, true);
  if (h->reclaiming)
    return; /* attention stays: the retry comes at a later leave */
  bool retry = h->retry;
  h->retry = false;
  pub->attention = 0;
  /* A failed submission to retry, or a batch reclaim functions filled on
   * a handle that never retires itself. */
  if (retry || local_due(h))
    submit_local(h, retry);
}

void *smr_collector_swap(smr_collector_handle *pub, SMR_ATOMIC(void *) *dst,
                         void *desired) {
  /* acq_rel: release our node, acquire the one we take out. */
  void *old = atomic_exchange_explicit(dst, desired, memory_order_acq_rel);
  /* relaxed: our own word. */
  if (atomic_load_explicit(&pub->ctr, memory_order_relaxed) &
      SMR__COLLECTOR_ROBUST)
    reserve_era(pub); /* covers old: born before our exchange */
  return old;
}

bool smr_collector_compare_exchange(smr_collector_handle *pub,
                                    SMR_ATOMIC(void *) *dst, void **expected,
                                    void *desired) {
  /* acq_rel on success, acquire on failure: the value we report. */
  if (atomic_compare_exchange_strong_explicit(
          dst, expected, desired, memory_order_acq_rel, memory_order_acquire))
    return true;
  /* relaxed: our own word and the era, as in smr_collector_protect. */
  if ((atomic_load_explicit(&pub->ctr, memory_order_relaxed) &
       SMR__COLLECTOR_ROBUST) &&
      atomic_load_explicit(pub->era, memory_order_relaxed) !=
          atomic_load_explicit(&pub->upper, memory_order_relaxed))
    *expected = smr__collector_protect_slow(pub, dst);
  return false;
}
