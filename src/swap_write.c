/* SPDX-License-Identifier: MIT */
/* Swap cell: the publishing calls (store, update, exchange,
 * compare_exchange, update_and_fetch, fetch_and_update) and the writer's
 * other calls (get, previous, collect).
 *
 * Every publish is prepare (room under the bound: at the bound it collects,
 * and if that barrier is refused it publishes nothing; swap.c, "Bounds"),
 * then publish (the node's version, then a release store of cur), then the
 * replaced node is retired (swap.c), which may collect.  Writer calls
 * serialise on wlock in multi-writer mode (SMR_SWAP_MULTI_WRITER), and once
 * smr_swap_destroy has begun they return -ESHUTDOWN (writer_begin).
 * smr_swap_exchange checks everything that can fail before it publishes,
 * then waits until no slot pins the old value and hands it back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "platform/platform.h"
#include "swap_internal.h"

static void lock_w(smr_swap *c) {
  if (c->flags & SMR_SWAP_MULTI_WRITER)
    pthread_mutex_lock(&c->wlock);
}

static void unlock_w(smr_swap *c) {
  if (c->flags & SMR_SWAP_MULTI_WRITER)
    pthread_mutex_unlock(&c->wlock);
}

/* Before a publish that adds one retired value: if the garbage is at its
 * bound, collect first, and fail (nothing published) if that was refused.
 * Then take the node to publish.  0, -ENOBUFS or -ENOMEM.  Writer (or wlock)
 * held.  With working barriers a collection always makes room: it leaves at
 * most readers + 1 retired values (each reader pins one, plus `prev`). */
static int prepare(smr_swap *c, struct smr_swap_node **out) {
  /* relaxed (both loads): only the writer (or wlock holder) changes it. */
  if (atomic_load_explicit(&c->garbage, memory_order_relaxed) >=
      smr__swap_garbage_bound(c)) {
    long k = smr__swap_collect(c);
    if (k < 0 && atomic_load_explicit(&c->garbage, memory_order_relaxed) >=
                     smr__swap_garbage_bound(c)) {
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

/* writer_begin, then prepare: 0 with the lock taken (multi-writer mode) and
 * *n the node to publish, or the error with nothing held. */
static int begin_publish(smr_swap *c, struct smr_swap_node **n) {
  int rc = writer_begin(c);
  if (rc)
    return rc;
  rc = prepare(c, n);
  if (rc)
    unlock_w(c);
  return rc;
}

/* ---- Writer API ---------------------------------------------------------- */

/* prepare + publish + retire the replaced node: a plain store. */
int smr_swap_store(smr_swap *c, void *value) {
  if (!c)
    return -EINVAL;
  struct smr_swap_node *n;
  int rc = begin_publish(c, &n);
  if (rc)
    return rc;
  smr__swap_retire_node(c, publish(c, n, value));
  unlock_w(c);
  return 0;
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

int smr_swap_update(smr_swap *c, smr_swap_update_fn fn, void *arg) {
  if (!c || !fn)
    return -EINVAL;
  struct smr_swap_node *n;
  int rc = begin_publish(c, &n);
  if (rc)
    return rc;
  /* fn runs only once the publish cannot fail. */
  smr__swap_retire_node(c, publish(c, n, apply(c, fn, arg)));
  unlock_w(c);
  return 0;
}

/* Whether a reader slot pins node o (after smr__swap_writer_barrier).
 * Allocates nothing, unlike scan_hazards, so exchange cannot fail after
 * publishing. */
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
  struct swap_rec *own = smr__swap_own_reader(c);
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
  /* previous() must not name the value we hand out. */
  smr__swap_prev_to_retired(c);
  /* o counts as garbage while we wait: it takes the room prepare found, so
   * that in multi-writer mode the other writers' prepare sees it and the
   * bound holds if we have to leave o to the cell (-ECANCELED). */
  smr__swap_garbage_add(c, 1);
  unlock_w(c);
  /* Wait until no slot pins o.  The node lists are writer state: lock. */
  unsigned round = 0;
  for (;;) {
    lock_w(c);
    int err = smr__swap_writer_barrier(c);
    int busy = err || slot_pins(c, o);
    if (!busy) {
      smr__swap_garbage_add(c, (size_t)-1);
      *old = o->value;
      node_put(c, o);
    } else if (err && round > 256) {
      /* The kernel keeps refusing barriers: give up, the cell keeps the
       * old value (destroyed like any retired value once possible).  o is
       * counted already (above): retire it without counting it again. */
      smr__swap_garbage_add(c, (size_t)-1);
      smr__swap_retire_node(c, o);
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
  /* prepare first: its collection may run destructors, which may publish
   * (single-writer mode), so compare only once nothing but our publish
   * can follow. */
  struct smr_swap_node *n;
  int rc = begin_publish(c, &n);
  if (rc)
    return rc;
  /* relaxed: the writer's own publication (under wlock if multi-writer). */
  struct smr_swap_node *cur =
      atomic_load_explicit(&c->cur, memory_order_relaxed);
  /* relaxed: only writers (serialised with us) write versions. */
  if (node_version(cur, __ATOMIC_RELAXED) == expected->version) {
    smr__swap_retire_node(c, publish(c, n, value));
  } else {
    node_put(c, n); /* never published: no reader can hold it */
    rc = -EAGAIN;
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
  struct swap_rec *own = smr__swap_own_reader(c);
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
      smr__swap_read_for_caller(&own->pub, g);
    struct smr_swap_node *old = publish(c, n, apply(c, fn, arg));
    if (!fetch_first)
      smr__swap_read_for_caller(&own->pub, g);
    smr__swap_retire_node(c, old);
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
  long k = smr__swap_collect(c);
  unlock_w(c);
  return k;
}
