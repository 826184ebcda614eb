/* SPDX-License-Identifier: MIT */
/* Harris-Michael linked list (a sorted set of 64-bit keys) and Michael's
 * hash map (an array of such lists) over the scheme interface
 * (bench/ds/scheme.h).
 *
 * A node is deleted in two steps: its next word is marked (bit 0: logical
 * deletion, the delete's linearisation point), then it is unlinked by a CAS
 * on its predecessor's next word; whoever unlinks it retires it.  The
 * traversal (hm_find) is the hazard-pointer-safe one of Michael (2004):
 *
 *   - every node pointer is loaded with sch_protect, using three hazard
 *     slots in rotation (predecessor, current, next);
 *   - after protecting a node's successor, it re-reads the predecessor's
 *     link and starts again unless it still points to the current node,
 *     unmarked: the current node was then still in the list, so the
 *     successor read out of it was reachable (the SCOT rule of the
 *     collector's robust mode, docs/DESIGN.md section 9: never follow a
 *     pointer out of an unlinked node without validation);
 *   - a marked node met on the way is unlinked (helping) and retired by
 *     the thread whose CAS unlinked it; a failed CAS starts again.
 *
 * So it never walks through marked nodes as Harris's original list does.
 * The callers wrap each operation in sch_enter / sch_leave. */
#ifndef BENCH_DS_LIST_H
#define BENCH_DS_LIST_H

#include "ds/scheme.h"
#include <stdbool.h>

struct hm_node {
  struct sch_node n;
  uint64_t key;         /* immutable once published */
  _Atomic(void *) next; /* successor; bit 0: this node is deleted */
};

#define HM_MARK         ((uintptr_t)1)
#define HM_MARKED(w)    (((uintptr_t)(w)&HM_MARK) != 0)
#define HM_PTR(w)       ((struct hm_node *)(void *)((uintptr_t)(w) & ~HM_MARK))
#define HM_WITH_MARK(p) ((void *)((uintptr_t)(void *)(p) | HM_MARK))

/* Where a key belongs: *prev (the head or a node's next word) pointed to
 * cur, unmarked, and cur's successor was next (unmarked), all protected. */
struct hm_pos {
  _Atomic(void *) *prev;
  struct hm_node *cur;
  struct hm_node *next;
};

/* Position of key in the list at head: returns whether cur holds key.  On
 * return cur is the first node with a key >= key (NULL at the end). */
static inline bool hm_find(struct sch_thread *t, _Atomic(void *) *head,
                           uint64_t key, struct hm_pos *pos) {
retry:;
  _Atomic(void *) *prev = head;
  /* Hazard slots of the predecessor (none for the head: slot 2 is free)
   * and of the current node; the successor takes the third. */
  int sp = 2, sc = 0;
  struct hm_node *cur = sch_protect(t, sc, prev); /* a head is never marked */
  for (;;) {
    if (!cur) {
      pos->prev = prev;
      pos->cur = NULL;
      pos->next = NULL;
      return false;
    }
    sch_check(&cur->n);
    int sn = 3 - sp - sc;
    void *nw = sch_protect(t, sn, &cur->next);
    uint64_t ckey = cur->key;
    /* acquire: pairs with the release CAS that linked cur; still cur,
     * unmarked: cur was in the list after its successor was read. */
    if (atomic_load_explicit(prev, memory_order_acquire) != (void *)cur)
      goto retry;
    struct hm_node *next = HM_PTR(nw);
    if (!HM_MARKED(nw)) {
      if (ckey >= key) {
        pos->prev = prev;
        pos->cur = cur;
        pos->next = next;
        return ckey == key;
      }
      prev = &cur->next;
      sp = sc;
    } else {
      void *exp = cur;
      /* acq_rel: release hands the list on (next was published before),
       * acquire orders the retire after the unlink; acquire on failure:
       * the value is discarded (we start again). */
      if (!atomic_compare_exchange_strong_explicit(
              prev, &exp, next, memory_order_acq_rel, memory_order_acquire))
        goto retry;
      sch_retire(t, &cur->n);
    }
    cur = next;
    sc = sn;
  }
}

static inline bool hm_contains(struct sch_thread *t, _Atomic(void *) *head,
                               uint64_t key) {
  struct hm_pos pos;
  return hm_find(t, head, key, &pos);
}

static inline bool hm_insert(struct sch_thread *t, _Atomic(void *) *head,
                             uint64_t key) {
  struct hm_node *n = NULL;
  struct hm_pos pos;
  for (;;) {
    if (hm_find(t, head, key, &pos)) {
      if (n)
        sch_free_direct(&n->n); /* never published */
      return false;
    }
    if (!n) {
      n = sch_alloc(t, sizeof *n);
      n->key = key;
    }
    /* relaxed: n is published by the release CAS below. */
    atomic_store_explicit(&n->next, pos.cur, memory_order_relaxed);
    void *exp = pos.cur;
    /* release: publishes n's key and link (pairs with the acquire loads of
     * protect); relaxed on failure: we search again. */
    if (atomic_compare_exchange_strong_explicit(
            pos.prev, &exp, n, memory_order_release, memory_order_relaxed))
      return true;
  }
}

static inline bool hm_delete(struct sch_thread *t, _Atomic(void *) *head,
                             uint64_t key) {
  struct hm_pos pos;
  for (;;) {
    if (!hm_find(t, head, key, &pos))
      return false;
    void *nx = pos.next;
    /* Mark cur's link (the logical deletion).  acq_rel: the winner of the
     * mark owns the delete; relaxed on failure: we search again. */
    if (!atomic_compare_exchange_strong_explicit(
            &pos.cur->next, &nx, HM_WITH_MARK(pos.next), memory_order_acq_rel,
            memory_order_relaxed))
      continue;
    void *exp = pos.cur;
    /* Unlink.  acq_rel / acquire: as in hm_find's helping CAS. */
    if (atomic_compare_exchange_strong_explicit(pos.prev, &exp, pos.next,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
      sch_retire(t, &pos.cur->n);
    else
      hm_find(t, head, key, &pos); /* unlinks (and retires) it */
    return true;
  }
}

/* ---- after the run (single-threaded) ------------------------------------ */

/* Check the list at head: every node live and unmarked, keys strictly
 * increasing, each key accepted by ok(key, arg); calls seen(key, arg2) on
 * each.  Returns the number of nodes; fails loudly on a violation. */
static inline uint64_t hm_verify(_Atomic(void *) *head,
                                 bool (*ok)(uint64_t, const void *),
                                 const void *arg,
                                 void (*seen)(uint64_t, void *), void *arg2) {
  uint64_t count = 0, last = 0;
  /* relaxed: every thread was joined. */
  void *w = atomic_load_explicit(head, memory_order_relaxed);
  while (w) {
    if (HM_MARKED(w))
      SCH_FAIL("list: a marked node is still linked after the run");
    struct hm_node *x = HM_PTR(w);
    sch_check(&x->n);
    if (count && x->key <= last)
      SCH_FAIL("list: keys out of order (%llu after %llu)",
               (unsigned long long)x->key, (unsigned long long)last);
    if (ok && !ok(x->key, arg))
      SCH_FAIL("list: key %llu in the wrong place", (unsigned long long)x->key);
    if (seen)
      seen(x->key, arg2);
    last = x->key;
    count++;
    /* relaxed: as above. */
    w = atomic_load_explicit(&x->next, memory_order_relaxed);
  }
  return count;
}

/* Free every node of the list at head (after the run, after the scheme
 * reclaimed everything retired). */
static inline void hm_free_all(_Atomic(void *) *head) {
  /* relaxed: single-threaded teardown. */
  void *w = atomic_load_explicit(head, memory_order_relaxed);
  atomic_store_explicit(head, NULL, memory_order_relaxed);
  while (w) {
    struct hm_node *x = HM_PTR(w);
    /* relaxed: as above. */
    w = atomic_load_explicit(&x->next, memory_order_relaxed);
    sch_free_direct(&x->n);
  }
}

/* ---- Michael's hash map: fixed buckets, each a Harris-Michael list ------- */

struct hmap {
  uint64_t nb;        /* buckets */
  _Atomic(void *) *b; /* bucket heads */
};

static inline uint64_t hmap_mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

/* The bucket of key: the top 32 bits of its hash scaled to nb (< 2^32). */
static inline _Atomic(void *) *hmap_bucket(const struct hmap *m, uint64_t key) {
  return &m->b[((hmap_mix(key) >> 32) * m->nb) >> 32];
}

static inline void hmap_init(struct hmap *m, uint64_t nb) {
  if (nb < 1)
    nb = 1;
  if (nb > UINT32_MAX)
    SCH_FAIL("hash map: too many buckets");
  m->nb = nb;
  m->b = malloc(nb * sizeof *m->b);
  if (!m->b)
    SCH_FAIL("out of memory (buckets)");
  for (uint64_t i = 0; i < nb; i++)
    atomic_init(&m->b[i], NULL); /* not shared yet: threads start after */
}

static inline bool hmap_contains(struct sch_thread *t, struct hmap *m,
                                 uint64_t key) {
  return hm_contains(t, hmap_bucket(m, key), key);
}
static inline bool hmap_insert(struct sch_thread *t, struct hmap *m,
                               uint64_t key) {
  return hm_insert(t, hmap_bucket(m, key), key);
}
static inline bool hmap_delete(struct sch_thread *t, struct hmap *m,
                               uint64_t key) {
  return hm_delete(t, hmap_bucket(m, key), key);
}

struct hmap_where {
  const struct hmap *m;
  uint64_t i;
};

static inline bool hmap_key_here(uint64_t key, const void *arg) {
  const struct hmap_where *w = arg;
  return hmap_bucket(w->m, key) == &w->m->b[w->i];
}

static inline uint64_t hmap_verify(struct hmap *m,
                                   void (*seen)(uint64_t, void *), void *arg) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < m->nb; i++) {
    struct hmap_where w = {m, i};
    n += hm_verify(&m->b[i], hmap_key_here, &w, seen, arg);
  }
  return n;
}

static inline void hmap_destroy(struct hmap *m) {
  for (uint64_t i = 0; i < m->nb; i++)
    hm_free_all(&m->b[i]);
  free(m->b);
  m->b = NULL;
}

#endif /* BENCH_DS_LIST_H */
