/* SPDX-License-Identifier: MIT */
/* Concurrent reference counting with immediate recursive destruction
 * (smr/rc.h), on an smr_domain.
 *
 * Object: a 24-byte header just before the payload: the count word
 * `state`, the type, and `link` (the pending lists and the destruction
 * worklist; only the list's owner touches it).  state packs, from bit 0:
 *   strong count (28 bits; the limit 2^27 - 1 leaves a guard bit, so an
 *   increment that overshoots is undone before it can carry), weak count
 *   (25 bits, limit 2^24 - 1; includes one reference the strong side holds
 *   until the object is destroyed), ESCAPED (a weak reference was released
 *   by its holder or stored into an atomic weak location), DESTROYED,
 *   WEAKED (a weak reference existed), and an 8-bit stamp.  The memory
 *   waits a grace period after the last weak reference if WEAKED is set
 *   and ESCAPED is set, the last one was not an edge, or the domain is
 *   SMR_RC_DEFERRED.
 *
 * Stamp: the low 8 bits of a grace-period cookie (smr__epoch_stamp), taken
 * after the event it records.  Written by every release (not by the
 * decrements of a destruction's edges), by every store of the object into
 * an atomic location, and by upgrades of weak snapshots; each write reads
 * the clock after loading the word it replaces (acquire), so stamps never
 * go backwards, and always puts its own residue.  The stamp is "old" when the
 * grace period it names has completed: every section that began before
 * the last such event has ended.
 *
 * Destruction: a strong count that reaches zero in an ordinary release puts
 * the object (the root) on the handle's pending list; a batch of the list
 * waits for a grace period (smr_poll_start / smr_poll), then each object
 * whose count is still zero is destroyed, and marked DESTROYED at the end
 * (a zero count is final then: try_destroy); if a snapshot holder counted
 * it again meanwhile, the pending entry owns one extra count, the
 * "permit", and gives it back instead.  Destroying an object runs its
 * edges callback, whose children are decremented at once; a child that
 * reaches zero with an old stamp is marked DESTROYED in the same
 * compare-and-swap and destroyed in the same loop (a worklist through
 * `link`: no recursion), otherwise it waits a grace period of its own.
 * Why no section can hold a child destroyed at once (docs/DESIGN.md,
 * "Reference counting", has the long form): a section gets a snapshot of
 * X through a location holding X, through a counted reference it holds, or
 * through a weak upgrade.  The parent is unreachable by every live section
 * (induction from the root's grace period), so the parent's field is no
 * way in; every other way in ends with an event that stamps X after the
 * snapshot was taken (the reference's decrement, or its store into another
 * location, which may be a field of an unreachable object: circ's link
 * epoch), and an old stamp means every section that began before it has
 * ended.  Stamps live in the count word, not in pointer bits.
 *
 * Memory: freed with the destruction unless WEAKED; then it waits a grace
 * period after the weak count reaches zero (weak snapshots read the word),
 * unless every weak reference went with a destruction (weak edges:
 * smr_rc_edges_push_weak) and none ever left for an atomic weak location
 * or a holder's release (ESCAPED clear): a section reads a weak snapshot
 * only through a location or a field of an object it reaches, and each
 * such object was unreachable when its weak edge went, so the last weak
 * edge frees the memory at once (a doubly linked list's back links).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "epoch_internal.h"
#include "smr/rc.h"
#include "thread.h"

/* ---- The count word ------------------------------------------------------ */

#define S_ONE     1ull
#define S_MASK    ((1ull << 28) - 1)
#define S_LIMIT   (1ull << 27)
#define W_SHIFT   28
#define W_ONE     (1ull << W_SHIFT)
#define W_MASK    (((1ull << 25) - 1) << W_SHIFT)
#define W_LIMIT   (1ull << 24)
#define ESCAPED   (1ull << 53)
#define DESTROYED (1ull << 54)
#define WEAKED    (1ull << 55)
#define ST_SHIFT  56
#define ST_MASK   (0xffull << ST_SHIFT)
#define STRONG(s) ((s)&S_MASK)
#define WEAK(s)   (((s)&W_MASK) >> W_SHIFT)
#define STAMP(s)  ((unsigned)((s) >> ST_SHIFT))

struct obj {
  _Atomic uint64_t state;
  const smr_rc_type *type;
  uintptr_t link; /* next pending / worklist entry; bit 0: FREE entry */
};
#define HDR       sizeof(struct obj)
#define LINK_FREE ((uintptr_t)1)

/* ---- Domain and handles -------------------------------------------------- */

#define RING 32

struct bag {
  uintptr_t head; /* list through link */
  struct obj *tail;
  uint64_t n;
  uint64_t gp; /* smr_poll cookie */
};

struct counters {
  _Atomic uint64_t created, destroyed, freed, deferred, immediate, pending;
};

struct handle {
  smr_rc_handle pub;
  smr_rc_domain *rd;
  smr_domain *d;
  pthread_t owner;
  struct smr__thread *thr; /* the owner's liveness token */
  struct handle *next;     /* rd->handles; rd->lock */
  unsigned batch;
  int deferred_only; /* SMR_RC_DEFERRED */
  int busy;          /* running callbacks: defer, do not collect */
  struct bag cur;    /* unsealed */
  struct bag ring[RING];
  unsigned ring_first, ring_n;
  unsigned events;  /* releases since the last look at the pending lists */
  struct obj *work; /* destruction worklist (through link) */
  struct counters st;
};

struct smr_rc_domain {
  smr_domain *d;
  int own_domain;
  unsigned flags, batch;
  pthread_mutex_t lock;
  struct handle *handles;  /* lock */
  struct bag orphans;      /* left by unregistered handles; lock */
  _Atomic int orphans_any; /* hint for collect; lock for the list */
  struct counters gone;    /* counters of unregistered handles; lock */
  struct handle self;      /* destroy-time context (no reader) */
};

struct smr_rc_edges {
  struct handle *h;
};

static struct obj *hdr_of(uintptr_t p) {
  return (struct obj *)((p & ~SMR_RC_TAG_MASK) - HDR);
}

static void *payload(struct obj *o) {
  return (char *)o + HDR;
}

static size_t type_align(const smr_rc_type *t) {
  return t->align ? t->align : 8;
}

static size_t round_up(size_t x, size_t a) {
  return (x + a - 1) & ~(a - 1);
}

/* relaxed: owner-written statistics, summed by smr_rc_stats. */
static void count(_Atomic uint64_t *c, int64_t k) {
  atomic_store_explicit(
      c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)k,
      memory_order_relaxed);
}

/* ---- Stamps ---------------------------------------------------------------
 */

/* Whether stamp s names a completed grace period.  The cookie the stamp was
 * cut from was at most gp_completed + 2 when read, and gp_completed only
 * grows, so completed - cookie >= -2: the two residues 254 and 255 are read
 * as "not yet" (at worst an old object waits one grace period more). */
static int stamp_old(unsigned s, uint64_t completed) {
  return ((completed - s) & 0xff) < 0xfe;
}

/* s with stamp ck.  Always written, never compared: a stamp is an 8-bit
 * residue, so "newer" cannot be told from "256 grace periods older", and the
 * clock read after loading s (acquire) is never behind the clock read that
 * cut s's stamp (that read happens before the compare-and-swap that wrote
 * it, which our load synchronizes with, or heads the release sequence our
 * load reads from), so ck is the newer one. */
static uint64_t with_stamp(uint64_t s, uint64_t ck) {
  return (s & ~ST_MASK) | ((ck & 0xff) << ST_SHIFT);
}

/* Record that o is being stored into a location (circ's link epoch).  Done
 * just before the store, while the caller still owns the reference: the
 * clock read follows every way the reference went before (a section that
 * took a snapshot through one of its earlier locations read it before the
 * exchange that took it out, which precedes this).  Skips the write when
 * the stamp already holds that residue (the word would not change). */
static void stamp_store(smr_domain *d, struct obj *o) {
  /* acquire: the stamp we may replace was cut before (monotonic stamps). */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  for (;;) {
    uint64_t ck = smr__epoch_stamp(d);
    uint64_t n = with_stamp(s, ck);
    if (n == s)
      return;
    /* seq_cst: ordered with the decrements and the clock reads (a root's
     * destruction is ordered by its grace period);
     * acquire on failure as above. */
    if (atomic_compare_exchange_weak_explicit(
            &o->state, &s, n, memory_order_seq_cst, memory_order_acquire))
      return;
  }
}

/* ---- Decrements -------------------------------------------------------- */

enum { ALIVE, ZERO, DESTROY };

/* Drop one strong count of o, stamping it.  `edge`: o is a child handed
 * over by a destruction, so it may be destroyed at once (DESTROY, already
 * marked) if its stamp is old; otherwise a count of zero gives ZERO (the
 * caller defers it).  An edge's decrement keeps the stamp: the reference
 * it drops lived in a field of an object no live section can reach, so it
 * was no section's way in (a parent holding the child twice frees it at
 * once on the second edge; stamping the first would defer it). */
static int dec_strong(smr_domain *d, struct obj *o, int edge) {
  /* acquire: monotonic stamps (stamp_store); the CAS below is the release of
   * this reference's accesses and, at zero, the acquire of everyone's. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  for (;;) {
    SMR_ASSERT(STRONG(s) > 0 && !(s & DESTROYED) && "smr_rc: double release");
    uint64_t n = s - S_ONE;
    if (!edge)
      n = with_stamp(n, smr__epoch_stamp(d));
    int r = ALIVE;
    if (STRONG(n) == 0) {
      r = ZERO;
      if (edge && stamp_old(STAMP(s), smr__epoch_completed(d))) {
        n |= DESTROYED;
        r = DESTROY;
      }
    }
    /* seq_cst: release of our accesses, acquire of the others' when the
     * count reaches zero; ordered before later clock reads. */
    if (atomic_compare_exchange_weak_explicit(
            &o->state, &s, n, memory_order_seq_cst, memory_order_acquire))
      return r;
  }
}

/* ---- Pending lists ------------------------------------------------------ */

static void bag_add(struct bag *b, struct obj *o, uintptr_t kind) {
  o->link = b->head | kind;
  if (!b->head)
    b->tail = o;
  b->head = (uintptr_t)o;
  b->n++;
}

/* Append b2 to b (b2's objects then wait for b's cookie, the newer). */
static void bag_join(struct bag *b, struct bag *b2) {
  if (!b2->n)
    return;
  if (!b->n) {
    *b = *b2;
  } else {
    b2->tail->link = b->head | (b2->tail->link & LINK_FREE);
    b->head = b2->head;
    b->n += b2->n;
  }
  if (b2->gp > b->gp)
    b->gp = b2->gp;
  memset(b2, 0, sizeof *b2);
}

static void collect(struct handle *h);

/* Seal the unsealed list: it waits for a grace period from now. */
static void seal(struct handle *h) {
  if (!h->cur.n)
    return;
  smr_cookie ck;
  smr_poll_start(h->d, &ck);
  h->cur.gp = ck.gp;
  if (h->ring_n == RING) {
    struct bag *last = &h->ring[(h->ring_first + RING - 1) % RING];
    bag_join(last, &h->cur);
    last->gp = ck.gp;
  } else {
    h->ring[(h->ring_first + h->ring_n) % RING] = h->cur;
    h->ring_n++;
  }
  memset(&h->cur, 0, sizeof h->cur);
}

/* o waits for a grace period (kind 0: destroy if still zero; LINK_FREE:
 * free the memory). */
static void defer(struct handle *h, struct obj *o, uintptr_t kind) {
  bag_add(&h->cur, o, kind);
  count(&h->st.pending, 1);
  if (!kind)
    count(&h->st.deferred, 1);
  if (h->cur.n >= h->batch && !h->busy) {
    h->events = 0;
    seal(h);
    collect(h);
  }
}

/* ---- Destruction ------------------------------------------------------- */

static void free_obj(struct handle *h, struct obj *o) {
  size_t off = round_up(HDR, type_align(o->type));
  free((char *)o + HDR - off);
  count(&h->st.freed, 1);
}

enum { WEAK_RELEASE, WEAK_EDGE, WEAK_ROOT };

/* Drop one weak count of o; at zero the memory goes.  An edge (WEAK_EDGE,
 * WEAK_ROOT): the count is the strong side's (its destruction is over) or
 * a weak reference held in a field of an object being destroyed (no live
 * section can read that field).  A weak release by its holder marks o
 * ESCAPED in the same compare-and-swap.  At zero the memory goes at once if
 * weak references never existed (WEAKED clear), or if every one of them went
 * with a destruction (an edge, ESCAPED clear): no section can hold a weak
 * snapshot then (DESIGN.md, "Weak references").  Otherwise it waits a grace
 * period: a section may still hold a weak snapshot taken before the last
 * release. WEAK_ROOT is the strong side's count of a root at the end of its
 * destruction, which also sets DESTROYED (try_destroy). */
static void drop_weak(struct handle *h, struct obj *o, int how) {
  uint64_t s;
  int edge = how != WEAK_RELEASE;
  if (edge) {
    /* A root's DESTROYED is clear (try_destroy), so adding it sets the bit
     * without a carry; the weak count is at least 1, so subtracting W_ONE
     * borrows nothing outside its field. */
    uint64_t delta = how == WEAK_ROOT ? DESTROYED - W_ONE : 0 - W_ONE;
    /* acq_rel: the destruction and the weak holders' accesses happen
     * before the free that whoever reaches zero performs. */
    s = atomic_fetch_add_explicit(&o->state, delta, memory_order_acq_rel);
    /* A root's count stays zero through its destruction: a count taken
     * meanwhile came from a snapshot used outside its section. */
    SMR_ASSERT((how != WEAK_ROOT || (STRONG(s) == 0 && !(s & DESTROYED))) &&
               "smr_rc: counted during its destruction (a snapshot used "
               "outside its section?)");
  } else {
    /* relaxed: the compare-and-swap below carries the ordering. */
    s = atomic_load_explicit(&o->state, memory_order_relaxed);
    /* acq_rel: as above; relaxed on failure (retried). */
    while (!atomic_compare_exchange_weak_explicit(
        &o->state, &s, (s - W_ONE) | ESCAPED, memory_order_acq_rel,
        memory_order_relaxed))
      ;
  }
  SMR_ASSERT(WEAK(s) > 0 && "smr_rc: weak count underflow");
  if (WEAK(s) != 1)
    return;
  if (!(s & WEAKED) || (edge && !(s & ESCAPED) && !h->deferred_only))
    free_obj(h, o);
  else
    defer(h, o, LINK_FREE);
}

/* Destroy the root o (its count zero and final, DESTROYED not set yet:
 * try_destroy) and every child that can go at once (marked DESTROYED by
 * their decrements). */
static void destroy(struct handle *h, struct obj *o) {
  int was_busy = h->busy;
  h->busy = 1;
  /* The worklist is empty here (callbacks run with busy set, which keeps
   * collections out), so o comes out first; the rest are children. */
  SMR_ASSERT(!h->work);
  o->link = (uintptr_t)h->work;
  h->work = o;
  int how = WEAK_ROOT; /* not x == o: o may be freed and its address reused */
  while (h->work) {
    struct obj *x = h->work;
    h->work = (struct obj *)x->link;
    const smr_rc_type *t = x->type;
    if (t->edges) {
      struct smr_rc_edges e = {h};
      t->edges(payload(x), &e);
    }
    if (t->drop)
      t->drop(payload(x), &h->pub);
    count(&h->st.destroyed, 1);
    drop_weak(h, x, how);
    how = WEAK_EDGE;
  }
  h->busy = was_busy;
}

/* A pending object whose grace period has elapsed.  A count still zero
 * is final: no location or counted reference holds o, the sections that
 * could hold a snapshot of it (begun before it reached zero) have ended,
 * and upgrades refuse a zero count; a resurrection since would have left
 * the permit.  So a load decides (no compare-and-swap), and DESTROYED is
 * set with the strong side's weak count at the end (drop_weak). */
static void try_destroy(struct handle *h, struct obj *o) {
  /* acquire: every decrement (a release, and read-modify-writes continue
   * the release sequence) and every resurrection happen before the
   * destruction; the sections' increments happen before the grace period
   * that smr_poll reported. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  SMR_ASSERT(!(s & DESTROYED) && "smr_rc: pending object destroyed");
  if (STRONG(s) == 0) {
    destroy(h, o);
    return;
  }
  /* Counted again while pending: give back the permit. */
  if (dec_strong(h->d, o, 0) == ZERO)
    defer(h, o, 0);
}

/* Run a list whose grace period has elapsed; returns objects destroyed. */
static long run_bag(struct handle *h, uintptr_t p) {
  int was_busy = h->busy;
  h->busy = 1;
  /* relaxed: our own counter. */
  uint64_t before =
      atomic_load_explicit(&h->st.destroyed, memory_order_relaxed);
  while (p) {
    struct obj *o = (struct obj *)p;
    uintptr_t kind = o->link & LINK_FREE; /* an entry's kind is in its link */
    p = o->link & ~LINK_FREE;
    count(&h->st.pending, -1);
    if (kind)
      free_obj(h, o);
    else
      try_destroy(h, o);
  }
  h->busy = was_busy;
  /* relaxed: our own counter. */
  return (long)(atomic_load_explicit(&h->st.destroyed, memory_order_relaxed) -
                before);
}

/* Take the orphans (left by unregistered handles) into our ring.  `wait`:
 * take the lock even if another thread holds it (else try only). */
static void adopt(struct handle *h, int wait) {
  smr_rc_domain *rd = h->rd;
  if (wait) {
    pthread_mutex_lock(&rd->lock);
  } else {
    /* relaxed: a hint; the list is read under the lock (a list orphaned
     * just now is found by a later call). */
    if (!atomic_load_explicit(&rd->orphans_any, memory_order_relaxed) ||
        pthread_mutex_trylock(&rd->lock) != 0)
      return;
  }
  struct bag b = rd->orphans;
  memset(&rd->orphans, 0, sizeof rd->orphans);
  /* relaxed: under the lock. */
  atomic_store_explicit(&rd->orphans_any, 0, memory_order_relaxed);
  pthread_mutex_unlock(&rd->lock);
  if (!b.n)
    return;
  count(&h->st.pending, (int64_t)b.n);
  if (h->ring_n == RING) {
    bag_join(&h->ring[(h->ring_first + RING - 1) % RING], &b);
  } else {
    h->ring[(h->ring_first + h->ring_n) % RING] = b;
    h->ring_n++;
  }
}

/* Destroy the sealed lists whose grace period has elapsed, oldest first
 * (advancing the domain's grace periods without waiting). */
static long collect_ready(struct handle *h) {
  long k = 0;
  while (h->ring_n) {
    struct bag *b = &h->ring[h->ring_first];
    smr_cookie ck = {b->gp};
    if (smr_poll(h->d, ck) != 0)
      break;
    uintptr_t p = b->head;
    memset(b, 0, sizeof *b);
    h->ring_first = (h->ring_first + 1) % RING;
    h->ring_n--;
    k += run_bag(h, p);
  }
  return k;
}

static void collect(struct handle *h) {
  adopt(h, 0);
  collect_ready(h);
}

static struct handle *H(smr_rc_handle *h) {
  return (struct handle *)h;
}

/* Move h's lists to the orphans (sealing the open one now).  rd->lock
 * held; h is unregistering, or its thread is gone. */
static void orphan_lists(smr_rc_domain *rd, struct handle *h) {
  seal(h);
  uint64_t before = rd->orphans.n;
  for (unsigned i = 0; i < h->ring_n; i++)
    bag_join(&rd->orphans, &h->ring[(h->ring_first + i) % RING]);
  h->ring_n = 0;
  /* relaxed: under the lock; a hint for adopt. */
  atomic_store_explicit(&rd->orphans_any, rd->orphans.n != 0,
                        memory_order_relaxed);
  /* The objects are counted on the orphan list now. */
  count(&h->st.pending, -(int64_t)(rd->orphans.n - before));
}

static void add_counters(struct counters *to, struct counters *from);

/* Free the handles whose threads terminated without unregistering (their
 * reader records go with the smr_domain's own clean-up); their lists
 * become orphans.  `all`: also threads that did not run the exit hook.
 * rd->lock held. */
static void reap_gone(smr_rc_domain *rd, int all) {
  for (struct handle **pp = &rd->handles; *pp;) {
    struct handle *h = *pp;
    if (!smr__thread_gone(h->thr, all)) {
      pp = &h->next;
      continue;
    }
    orphan_lists(rd, h);
    add_counters(&rd->gone, &h->st);
    *pp = h->next;
    smr__thread_unref(h->thr, 0);
    free(h);
  }
}

int smr_rc_domain_create(const struct smr_rc_domain_attr *attr,
                         smr_rc_domain **out) {
  if (!out ||
      (attr && ((attr->flags & ~SMR_RC_DEFERRED) || attr->batch > 65536)))
    return -EINVAL;
  smr_rc_domain *rd = smr__alloc_aligned(sizeof *rd);
  if (!rd)
    return -ENOMEM;
  if (pthread_mutex_init(&rd->lock, NULL) != 0) {
    free(rd);
    return -ENOMEM;
  }
  rd->flags = attr ? attr->flags : 0;
  rd->batch = attr && attr->batch ? attr->batch : 64;
  rd->d = attr ? attr->domain : NULL;
  if (!rd->d) {
    int e = smr_domain_create(NULL, &rd->d);
    if (e) {
      pthread_mutex_destroy(&rd->lock);
      free(rd);
      return e;
    }
    rd->own_domain = 1;
  }
  rd->self.rd = rd;
  rd->self.d = rd->d;
  rd->self.batch = rd->batch;
  rd->self.deferred_only = !!(rd->flags & SMR_RC_DEFERRED);
  *out = rd;
  return 0;
}

/* Destroy everything pending in rd->self and the orphans: no handle is
 * registered, but the smr_domain may have other readers (a domain given
 * in the attributes), so each list still waits for its grace period.  The
 * callbacks get rd->self with a reader record of the calling thread, for
 * this call only. */
static int destroy_pending(smr_rc_domain *rd) {
  struct handle *h = &rd->self;
  int e = smr_reader_register(h->d, &h->pub.reader);
  if (e)
    return e;
  h->owner = pthread_self();
  adopt(h, 1);
  while (!e && (h->cur.n || h->ring_n)) {
    seal(h);
    if (h->ring_n &&
        smr_poll(h->d, (smr_cookie){h->ring[h->ring_first].gp}) != 0)
      e = smr_synchronize(h->d); /* -EDEADLK inside its section */
    if (!e)
      collect_ready(h);
  }
  /* -EBUSY only if a callback left a section open (its misuse). */
  int e2 = smr_reader_unregister(h->pub.reader);
  if (!e2)
    h->pub.reader = NULL;
  return e ? e : e2;
}

static void add_counters(struct counters *to, struct counters *from) {
  _Atomic uint64_t *a = &to->created, *b = &from->created;
  for (int i = 0; i < 6; i++)
    /* relaxed: statistics, under rd->lock or single-threaded. */
    atomic_store_explicit(&a[i],
                          atomic_load_explicit(&a[i], memory_order_relaxed) +
                              atomic_load_explicit(&b[i], memory_order_relaxed),
                          memory_order_relaxed);
}

int smr_rc_domain_destroy(smr_rc_domain *rd) {
  if (!rd)
    return 0;
  pthread_mutex_lock(&rd->lock);
  reap_gone(rd, 1);
  int busy = rd->handles != NULL;
  pthread_mutex_unlock(&rd->lock);
  if (busy)
    return -EBUSY;
  int e = destroy_pending(rd);
  if (e)
    return e; /* rd stays valid; what is left waits in rd->self */
  if (rd->own_domain) {
    e = smr_domain_destroy(rd->d); /* -EBUSY: readers registered outside */
    if (e)
      return e; /* rd stays valid, nothing pending */
  }
  pthread_mutex_destroy(&rd->lock);
  free(rd);
  return 0;
}

smr_domain *smr_rc_domain_epoch(smr_rc_domain *rd) {
  return rd ? rd->d : NULL;
}

int smr_rc_handle_register(smr_rc_domain *rd, smr_rc_handle **out) {
  if (!rd || !out)
    return -EINVAL;
  struct smr__thread *t = smr__thread_self(1);
  struct handle *h = t ? smr__alloc_aligned(sizeof *h) : NULL;
  if (!h)
    return -ENOMEM;
  int e = smr_reader_register(rd->d, &h->pub.reader);
  if (e) {
    free(h);
    return e;
  }
  smr__thread_ref(t);
  h->thr = t;
  h->rd = rd;
  h->d = rd->d;
  h->owner = pthread_self();
  h->batch = rd->batch;
  h->deferred_only = !!(rd->flags & SMR_RC_DEFERRED);
  pthread_mutex_lock(&rd->lock);
  reap_gone(rd, 0);
  h->next = rd->handles;
  rd->handles = h;
  pthread_mutex_unlock(&rd->lock);
  *out = &h->pub;
  return 0;
}

int smr_rc_handle_unregister(smr_rc_handle *hp) {
  if (!hp)
    return 0;
  struct handle *h = H(hp);
  if (!pthread_equal(h->owner, pthread_self()))
    return -EPERM;
  if (smr_in_section(h->pub.reader) || h->busy)
    return -EBUSY;
  seal(h);
  collect_ready(h);
  smr_rc_domain *rd = h->rd;
  pthread_mutex_lock(&rd->lock);
  orphan_lists(rd, h);
  add_counters(&rd->gone, &h->st);
  struct handle **pp = &rd->handles;
  while (*pp != h)
    pp = &(*pp)->next;
  *pp = h->next;
  pthread_mutex_unlock(&rd->lock);
  smr_reader_unregister(h->pub.reader);
  smr__thread_unref(h->thr, 1);
  free(h);
  return 0;
}

long smr_rc_collect(smr_rc_handle *hp) {
  if (!hp)
    return -EINVAL;
  struct handle *h = H(hp);
  if (h->busy)
    return 0;
  seal(h);
  if (pthread_mutex_trylock(&h->rd->lock) == 0) {
    reap_gone(h->rd, 0);
    pthread_mutex_unlock(&h->rd->lock);
  }
  adopt(h, 0);
  return collect_ready(h);
}

int smr_rc_barrier(smr_rc_handle *hp) {
  if (!hp)
    return -EINVAL;
  struct handle *h = H(hp);
  if (h->busy || smr_in_section(h->pub.reader))
    return -EDEADLK;
  pthread_mutex_lock(&h->rd->lock);
  reap_gone(h->rd, 0); /* dead threads' lists become orphans */
  pthread_mutex_unlock(&h->rd->lock);
  adopt(h, 1);
  while (h->cur.n || h->ring_n) {
    seal(h);
    int e = smr_synchronize(h->d);
    if (e)
      return e;
    collect_ready(h);
  }
  return 0;
}

int smr_rc_stats(smr_rc_domain *rd, struct smr_rc_stats *out) {
  if (!rd || !out)
    return -EINVAL;
  struct counters sum;
  memset(&sum, 0, sizeof sum);
  pthread_mutex_lock(&rd->lock);
  add_counters(&sum, &rd->gone);
  add_counters(&sum, &rd->self.st);
  for (struct handle *h = rd->handles; h; h = h->next)
    add_counters(&sum, &h->st);
  uint64_t orphans = rd->orphans.n;
  pthread_mutex_unlock(&rd->lock);
  /* relaxed: a private copy. */
  out->created = atomic_load_explicit(&sum.created, memory_order_relaxed);
  out->destroyed = atomic_load_explicit(&sum.destroyed, memory_order_relaxed);
  out->freed = atomic_load_explicit(&sum.freed, memory_order_relaxed);
  out->deferred = atomic_load_explicit(&sum.deferred, memory_order_relaxed);
  out->immediate = atomic_load_explicit(&sum.immediate, memory_order_relaxed);
  out->pending = atomic_load_explicit(&sum.pending, memory_order_relaxed);
  out->pending += orphans;
  return 0;
}

/* ---- Objects ------------------------------------------------------------- */

int smr_rc_new(smr_rc_handle *hp, const smr_rc_type *t, size_t size,
               smr_rc *out) {
  if (out)
    out->p = 0;
  if (!hp || !t || !out)
    return -EINVAL;
  size_t a = type_align(t);
  if (a < 8 || a > 4096 || (a & (a - 1)))
    return -EINVAL;
  size_t off = round_up(HDR, a);
  if (size > SIZE_MAX / 2 - off - a)
    return -EINVAL;
  /* malloc and memset, not calloc: glibc's calloc (before 2.42) bypasses
   * the per-thread cache that malloc and free use, and objects here are
   * small and short-lived (measured: calloc took 9 % of a queue's time). */
  size_t total = a <= 16 ? off + size : round_up(off + size, a);
  char *block = a <= 16 ? malloc(total) : aligned_alloc(a, total);
  if (!block)
    return -ENOMEM;
  memset(block, 0, total);
  struct handle *h = H(hp);
  struct obj *o = (struct obj *)(block + off - HDR);
  /* The stamp of a fresh object: now (stores soon after skip their write). */
  uint64_t ck = smr__epoch_stamp(h->d) & 0xff;
  /* relaxed: the object is private until published (a release store). */
  atomic_init(&o->state, S_ONE | W_ONE | (ck << ST_SHIFT));
  o->type = t;
  o->link = 0;
  count(&h->st.created, 1);
  out->p = (uintptr_t)payload(o);
  return 0;
}

const smr_rc_type *smr_rc_type_of(smr_snap s) {
  return smr_snap_is_null(s) ? NULL : hdr_of(s.p)->type;
}

/* One more strong count.  A snapshot may find zero (the object waits on a
 * pending list): it then adds the permit too, which the pending entry gives
 * back instead of destroying it. */
static int inc_strong(struct obj *o) {
  /* seq_cst: as the decrements; a pending entry's check sees it through
   * the grace period that ends our section. */
  uint64_t s =
      atomic_fetch_add_explicit(&o->state, S_ONE, memory_order_seq_cst);
  if ((s & DESTROYED) || STRONG(s) >= S_LIMIT - 1) {
    /* relaxed: undoes our own increment, which nobody acted on (a count
     * at or over the limit cannot reach zero meanwhile). */
    atomic_fetch_sub_explicit(&o->state, S_ONE, memory_order_relaxed);
    return (s & DESTROYED) ? -ESTALE : -EOVERFLOW;
  }
  if (STRONG(s) == 0) /* resurrection: the pending entry's permit */
    /* seq_cst: as above. */
    atomic_fetch_add_explicit(&o->state, S_ONE, memory_order_seq_cst);
  return 0;
}

int smr_snap_counted(smr_snap s, smr_rc *out) {
  if (!out)
    return -EINVAL;
  out->p = 0;
  if (smr_snap_is_null(s)) {
    out->p = s.p;
    return 0;
  }
  int e = inc_strong(hdr_of(s.p));
  if (!e)
    out->p = s.p;
  return e;
}

int smr_rc_clone(smr_rc rc, smr_rc *out) {
  return smr_snap_counted(smr_rc_snapshot(rc), out);
}

/* Release one strong reference to o (not an edge).  Every `batch`
 * releases, also those that leave a count above zero, the handle looks at
 * its pending lists: a root whose destruction would free a long chain must
 * not wait for the next object that happens to reach zero in this handle
 * (in a queue, each dequeued node is freed by its predecessor's
 * destruction, so roots are rare).  circ does the same every 64
 * decrements. */
static void release_obj(struct handle *h, struct obj *o) {
  if (dec_strong(h->d, o, 0) == ZERO)
    defer(h, o, 0);
  if (++h->events >= h->batch && !h->busy) {
    h->events = 0;
    if (h->cur.n || h->ring_n) {
      seal(h);
      collect(h);
    }
  }
}

void smr_rc_release(smr_rc_handle *hp, smr_rc *rc) {
  /* Misuse: without a handle the reference cannot be released; it stays in
   * *rc (not lost), and debug builds stop here. */
  SMR_ASSERT(hp && "smr_rc_release: NULL handle");
  if (!hp || !rc)
    return;
  if (smr_rc_is_null(*rc)) {
    rc->p = 0;
    return;
  }
  struct obj *o = hdr_of(rc->p);
  rc->p = 0;
  release_obj(H(hp), o);
}

/* ---- Atomic strong locations ------------------------------------------- */

void smr_arc_init(smr_atomic_rc *a, smr_rc *rc) {
  /* relaxed: the location is not published yet (its object's publication
   * is the release). */
  atomic_store_explicit(&a->p, rc->p, memory_order_relaxed);
  rc->p = 0;
}

/* Before storing word p into a location: stamp its object. */
static void stamp_stored(smr_domain *d, uintptr_t p) {
  if (p & ~SMR_RC_TAG_MASK)
    stamp_store(d, hdr_of(p));
}

smr_rc smr_arc_swap(smr_rc_handle *hp, smr_atomic_rc *a, smr_rc *desired) {
  uintptr_t p = desired->p;
  desired->p = 0;
  /* Stamp first, while the reference is still ours (once stored, another
   * thread may take it out and release it). */
  stamp_stored(H(hp)->d, p);
  smr_rc old;
  /* seq_cst: publishes the new object (release, pairs with smr_arc_load's
   * acquire) and takes the old reference's accesses (acquire). */
  old.p = atomic_exchange_explicit(&a->p, p, memory_order_seq_cst);
  return old;
}

void smr_arc_store(smr_rc_handle *hp, smr_atomic_rc *a, smr_rc *desired) {
  smr_rc old = smr_arc_swap(hp, a, desired);
  smr_rc_release(hp, &old);
}

/* The exchange of smr_arc_cas, the desired reference already stamped. */
static int cas_stamped(struct handle *h, smr_atomic_rc *a, uintptr_t e,
                       smr_rc *desired, smr_snap *current) {
  /* seq_cst: as smr_arc_swap; on failure acquire, so *current is a
   * snapshot whose object the caller may read. */
  if (atomic_compare_exchange_strong_explicit(
          &a->p, &e, desired->p, memory_order_seq_cst, memory_order_acquire)) {
    uintptr_t p = desired->p;
    desired->p = 0;
    if (e & ~SMR_RC_TAG_MASK)
      release_obj(h, hdr_of(e));
    if (current)
      current->p = p;
    return 0;
  }
  if (current)
    current->p = e;
  return -EAGAIN;
}

int smr_arc_cas(smr_rc_handle *hp, smr_atomic_rc *a, smr_snap expected,
                smr_rc *desired, smr_snap *current) {
  struct handle *h = H(hp);
  /* Stamp first, as smr_arc_swap (after a failure the stamp is newer than
   * needed: harmless). */
  stamp_stored(h->d, desired->p);
  return cas_stamped(h, a, expected.p, desired, current);
}

/* smr_snap_counted and the store's stamp in one compare-and-swap. */
static int count_stamped(smr_domain *d, struct obj *o) {
  /* acquire: monotonic stamps (stamp_store). */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  for (;;) {
    if (s & DESTROYED)
      return -ESTALE;
    if (STRONG(s) >= S_LIMIT - 1)
      return -EOVERFLOW;
    /* From zero (pending destruction): the permit too, as inc_strong. */
    uint64_t n = s + (STRONG(s) == 0 ? 2 * S_ONE : S_ONE);
    n = with_stamp(n, smr__epoch_stamp(d));
    /* seq_cst: as inc_strong and stamp_store; acquire on failure. */
    if (atomic_compare_exchange_weak_explicit(
            &o->state, &s, n, memory_order_seq_cst, memory_order_acquire))
      return 0;
  }
}

int smr_arc_cas_snap(smr_rc_handle *hp, smr_atomic_rc *a, smr_snap expected,
                     smr_snap desired, smr_snap *current) {
  struct handle *h = H(hp);
  int err =
      smr_snap_is_null(desired) ? 0 : count_stamped(h->d, hdr_of(desired.p));
  if (err) {
    if (current)
      /* acquire: as smr_arc_load. */
      current->p = atomic_load_explicit(&a->p, memory_order_acquire);
    return err;
  }
  smr_rc d = {desired.p};
  err = cas_stamped(h, a, expected.p, &d, current);
  if (err)
    smr_rc_release(hp, &d);
  return err;
}

int smr_arc_cas_tag(smr_atomic_rc *a, smr_snap expected, unsigned tag,
                    smr_snap *current) {
  uintptr_t e = expected.p;
  uintptr_t n = (e & ~SMR_RC_TAG_MASK) | ((uintptr_t)tag & SMR_RC_TAG_MASK);
  /* seq_cst: a change of the location like any other (the reference it
   * holds does not change); acquire on failure as smr_arc_cas. */
  if (atomic_compare_exchange_strong_explicit(
          &a->p, &e, n, memory_order_seq_cst, memory_order_acquire)) {
    if (current)
      current->p = n;
    return 0;
  }
  if (current)
    current->p = e;
  return -EAGAIN;
}

smr_rc smr_arc_take(smr_atomic_rc *a) {
  smr_rc r;
  /* relaxed: the caller owns the location exclusively. */
  r.p = atomic_load_explicit(&a->p, memory_order_relaxed);
  atomic_store_explicit(&a->p, 0, memory_order_relaxed);
  return r;
}

/* ---- Destruction callbacks ----------------------------------------------- */

/* The object of the reference word *p handed to an edges call, taken out
 * of *p (left null); NULL for a null reference (*p cleared of its tag) or
 * a NULL out (misuse, as smr_rc_release without a handle: *p stays). */
static struct obj *edge_take(smr_rc_edges *out, uintptr_t *p) {
  SMR_ASSERT(out && "smr_rc_edges_push: NULL out");
  if (!out || !p)
    return NULL;
  uintptr_t v = *p;
  *p = 0;
  return (v & ~SMR_RC_TAG_MASK) ? hdr_of(v) : NULL;
}

void smr_rc_edges_push(smr_rc_edges *out, smr_rc *child) {
  struct obj *o = edge_take(out, child ? &child->p : NULL);
  if (!o)
    return;
  struct handle *h = out->h;
  switch (dec_strong(h->d, o, !h->deferred_only)) {
  case DESTROY:
    count(&h->st.immediate, 1);
    o->link = (uintptr_t)h->work;
    h->work = o;
    break;
  case ZERO:
    defer(h, o, 0);
    break;
  default:
    break;
  }
}

void smr_rc_edges_take(smr_rc_edges *out, smr_atomic_rc *a) {
  smr_rc c = smr_arc_take(a);
  smr_rc_edges_push(out, &c);
}

/* The weak reference word p is about to be stored into an atomic weak
 * location: from there it can reach sections without its object's
 * destruction (or a container's) ordering them, so its memory must wait a
 * grace period after the last weak reference (drop_weak). */
static void mark_escaped(uintptr_t p) {
  if (!(p & ~SMR_RC_TAG_MASK))
    return;
  struct obj *o = hdr_of(p);
  /* relaxed: the flag is never cleared, so a set flag read here is set;
   * the fetch_or precedes (in the word's modification order) every
   * decrement of this reference's count, which happens after the store
   * that publishes the reference (those read the flag). */
  if (!(atomic_load_explicit(&o->state, memory_order_relaxed) & ESCAPED))
    atomic_fetch_or_explicit(&o->state, ESCAPED, memory_order_relaxed);
}

void smr_rc_edges_push_weak(smr_rc_edges *out, smr_weak *w) {
  struct obj *o = edge_take(out, w ? &w->p : NULL);
  if (o)
    drop_weak(out->h, o, WEAK_EDGE);
}

void smr_rc_edges_take_weak(smr_rc_edges *out, smr_atomic_weak *a) {
  smr_weak w = smr_aweak_take(a);
  smr_rc_edges_push_weak(out, &w);
}

smr_rc_handle *smr_rc_edges_handle(smr_rc_edges *out) {
  return out ? &out->h->pub : NULL;
}

/* ---- Weak references ---------------------------------------------------- */

/* One more weak count on o, marking that weak references exist: one
 * compare-and-swap for both (a fetch-add and a fetch-or would be two locked
 * instructions on a line that others are updating).  Refuses a weak count
 * that reached zero (-ESTALE: the memory is on its way out; only a weak
 * snapshot can find that, a strong one holds the strong side's count). */
static int inc_weak(struct obj *o) {
  /* relaxed: a weak count orders nothing by itself (the memory stays while
   * it is held; the release side is acq_rel, and the release that reaches
   * zero reads WEAKED from the word, after our change in its modification
   * order). */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_relaxed);
  do {
    if (WEAK(s) == 0)
      return -ESTALE;
    if (WEAK(s) >= W_LIMIT - 1)
      return -EOVERFLOW;
  } while (!atomic_compare_exchange_weak_explicit(
      &o->state, &s, (s + W_ONE) | WEAKED, memory_order_relaxed,
      memory_order_relaxed));
  return 0;
}

int smr_snap_downgrade(smr_snap s, smr_weak *out) {
  if (!out)
    return -EINVAL;
  out->p = 0;
  if (smr_snap_is_null(s)) {
    out->p = s.p;
    return 0;
  }
  int e = inc_weak(hdr_of(s.p));
  if (!e)
    out->p = s.p;
  return e;
}

int smr_rc_downgrade(smr_rc rc, smr_weak *out) {
  return smr_snap_downgrade(smr_rc_snapshot(rc), out);
}

int smr_weak_clone(smr_weak w, smr_weak *out) {
  smr_snap s = {w.p};
  return smr_snap_downgrade(s, out);
}

int smr_weak_snap_counted(smr_weak_snap ws, smr_weak *out) {
  smr_snap s = {ws.p}; /* the same word: inc_weak refuses a zero count */
  return smr_snap_downgrade(s, out);
}

void smr_weak_release(smr_rc_handle *hp, smr_weak *w) {
  /* Misuse: as smr_rc_release. */
  SMR_ASSERT(hp && "smr_weak_release: NULL handle");
  if (!hp || !w)
    return;
  if (smr_weak_is_null(*w)) {
    w->p = 0;
    return;
  }
  struct obj *o = hdr_of(w->p);
  w->p = 0;
  drop_weak(H(hp), o, WEAK_RELEASE);
}

int smr_weak_upgrade(smr_weak w, smr_rc *out) {
  if (!out)
    return -EINVAL;
  out->p = 0;
  if (smr_weak_is_null(w))
    return -ESTALE;
  struct obj *o = hdr_of(w.p);
  /* acquire: the state as of the count we find. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  do {
    if (STRONG(s) == 0 || (s & DESTROYED))
      return -ESTALE;
    if (STRONG(s) >= S_LIMIT - 1)
      return -EOVERFLOW;
    /* seq_cst: as inc_strong; acquire on failure as above. */
  } while (!atomic_compare_exchange_weak_explicit(
      &o->state, &s, s + S_ONE, memory_order_seq_cst, memory_order_acquire));
  out->p = w.p;
  return 0;
}

int smr_weak_snap_upgrade(smr_rc_handle *hp, smr_weak_snap ws, smr_snap *out) {
  if (!hp || !out)
    return -EINVAL;
  out->p = 0;
  if (smr_weak_snap_is_null(ws))
    return -ESTALE;
  smr_domain *d = H(hp)->d;
  struct obj *o = hdr_of(ws.p);
  /* acquire: monotonic stamps (stamp_store). */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_acquire);
  for (;;) {
    if (STRONG(s) == 0 || (s & DESTROYED))
      return -ESTALE;
    /* The snapshot comes through no location and no counted reference, so
     * no later event would cover it: record it (a destruction that follows
     * then waits for this section).  Nothing to write if the stamp already
     * names the grace period a cookie read now would: that one waits for
     * this section already. */
    uint64_t n = with_stamp(s, smr__epoch_stamp(d));
    if (n == s)
      break;
    /* seq_cst: as stamp_store; acquire on failure as above. */
    if (atomic_compare_exchange_weak_explicit(
            &o->state, &s, n, memory_order_seq_cst, memory_order_acquire))
      break;
  }
  out->p = ws.p;
  return 0;
}

/* ---- Atomic weak locations ------------------------------------------------
 */

void smr_aweak_init(smr_atomic_weak *a, smr_weak *w) {
  /* relaxed: as smr_arc_init. */
  atomic_store_explicit(&a->p, w->p, memory_order_relaxed);
  w->p = 0;
}

smr_weak smr_aweak_swap(smr_atomic_weak *a, smr_weak *desired) {
  /* Before the store, while the reference is ours (drop_weak). */
  mark_escaped(desired->p);
  smr_weak old;
  /* seq_cst: publication (pairs with smr_aweak_load's acquire) and the
   * old reference's accesses. */
  old.p = atomic_exchange_explicit(&a->p, desired->p, memory_order_seq_cst);
  desired->p = 0;
  return old;
}

void smr_aweak_store(smr_rc_handle *hp, smr_atomic_weak *a, smr_weak *desired) {
  smr_weak old = smr_aweak_swap(a, desired);
  smr_weak_release(hp, &old);
}

int smr_aweak_cas(smr_rc_handle *hp, smr_atomic_weak *a, smr_weak_snap expected,
                  smr_weak *desired, smr_weak_snap *current) {
  mark_escaped(desired->p); /* as smr_aweak_swap */
  uintptr_t e = expected.p;
  /* seq_cst / acquire: as smr_arc_cas. */
  if (atomic_compare_exchange_strong_explicit(
          &a->p, &e, desired->p, memory_order_seq_cst, memory_order_acquire)) {
    if (current)
      current->p = desired->p;
    desired->p = 0;
    smr_weak old = {e};
    smr_weak_release(hp, &old);
    return 0;
  }
  if (current)
    current->p = e;
  return -EAGAIN;
}

smr_weak smr_aweak_take(smr_atomic_weak *a) {
  smr_weak r;
  /* relaxed: the caller owns the location exclusively. */
  r.p = atomic_load_explicit(&a->p, memory_order_relaxed);
  atomic_store_explicit(&a->p, 0, memory_order_relaxed);
  return r;
}

/* ---- Test hooks ------------------------------------------------------------
 */

#ifdef SMR_TEST_HOOKS
#include "test_hooks.h"

struct smr__rc_counts smr__rc_test_counts(const void *obj) {
  struct obj *o = hdr_of((uintptr_t)obj);
  /* relaxed: a test's look at a quiescent object. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_relaxed);
  struct smr__rc_counts c = {(uint32_t)STRONG(s), (uint32_t)WEAK(s),
                             (s & DESTROYED) != 0};
  return c;
}

int smr__rc_test_stamp_old(const void *obj, smr_domain *d) {
  struct obj *o = hdr_of((uintptr_t)obj);
  /* relaxed: as above. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_relaxed);
  return stamp_old(STAMP(s), smr__epoch_completed(d));
}

void smr__rc_test_set_counts(void *obj, uint32_t strong, uint32_t weak) {
  struct obj *o = hdr_of((uintptr_t)obj);
  /* relaxed: as above. */
  uint64_t s = atomic_load_explicit(&o->state, memory_order_relaxed);
  s = (s & ~(S_MASK | W_MASK)) | ((uint64_t)strong & S_MASK) |
      (((uint64_t)weak << W_SHIFT) & W_MASK);
  if (weak > 1)
    s |= WEAKED;
  atomic_store_explicit(&o->state, s, memory_order_relaxed);
}
#endif
