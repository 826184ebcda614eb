/* SPDX-License-Identifier: MIT */
/* Harris-Michael linked list (a sorted set of 64-bit keys) and Michael's
 * hash map (an array of such lists) over the scheme interface
 * (bench/ds/scheme.h), through the links of bench/ds/link.h: the same code
 * for the intrusive schemes and for reference counting (smr/rc.h: a node's
 * next link is counted, an unlink releases it, the node's edges hand its
 * successor over when it is destroyed; nothing is retired).
 *
 * A node is deleted in two steps: its next word is marked (bit 0: logical
 * deletion, the delete's linearisation point), then it is unlinked by a CAS
 * on its predecessor's next word; whoever unlinks it retires it.  The
 * traversal (hm_find) is the hazard-pointer-safe one of Michael (2004):
 *
 *   - every node pointer is loaded with ds_load (sch_protect), using three
 *     hazard slots in rotation (predecessor, current, next);
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

#include "ds/link.h"
#include "ds/scheme.h"
#include <stdbool.h>

struct hm_node {
  struct sch_node n;
  uint64_t key; /* immutable once published */
  ds_link next; /* successor; the mark: this node is deleted */
};

#if defined(SCH_RC)
static void hm_edges(void *obj, smr_rc_edges *out) {
  smr_rc_edges_take(out, &((struct hm_node *)obj)->next);
}
static const smr_rc_type hm_type = {"hm_node", 0, sch_rc_drop, hm_edges};
#define HM_TYPE (&hm_type)
#else
#define HM_TYPE NULL
#endif

/* Where a key belongs: *prev (the head or a node's next link) held cur,
 * unmarked, and cur's successor was next (unmarked), all protected. */
struct hm_pos {
  ds_link *prev;
  ds_word cur;
  ds_word next;
};

/* Position of key in the list at head: returns whether cur holds key.  On
 * return cur is the first node with a key >= key (null at the end). */
static inline bool hm_find(struct sch_thread *t, ds_link *head, uint64_t key,
                           struct hm_pos *pos) {
retry:;
  ds_link *prev = head;
  /* Hazard slots of the predecessor (none for the head: slot 2 is free)
   * and of the current node; the successor takes the third. */
  int sp = 2, sc = 0;
  ds_word cur = ds_load(t, sc, prev); /* a head is never marked */
  for (;;) {
    struct hm_node *c = ds_node(cur); /* cur is never marked */
    if (!c) {
      pos->prev = prev;
      pos->cur = cur;
      pos->next = cur;
      return false;
    }
    sch_check(&c->n);
    int sn = 3 - sp - sc;
    ds_word nw = ds_load(t, sn, &c->next);
    uint64_t ckey = c->key;
    /* Still cur, unmarked: cur was in the list after its successor was
     * read. */
    if (!ds_same(prev, cur))
      goto retry;
    ds_word next = ds_unmarked(nw);
    if (!ds_marked(nw)) {
      if (ckey >= key) {
        pos->prev = prev;
        pos->cur = cur;
        pos->next = next;
        return ckey == key;
      }
      prev = &c->next;
      sp = sc;
    } else {
      if (!ds_cas(t, prev, cur, next))
        goto retry;
      ds_retire(t, &c->n);
    }
    cur = next;
    sc = sn;
  }
}

static inline bool hm_contains(struct sch_thread *t, ds_link *head,
                               uint64_t key) {
  struct hm_pos pos;
  return hm_find(t, head, key, &pos);
}

static inline bool hm_insert(struct sch_thread *t, ds_link *head,
                             uint64_t key) {
  ds_ref r = {0};
  struct hm_node *n = NULL;
  struct hm_pos pos;
  for (;;) {
    if (hm_find(t, head, key, &pos)) {
      if (n)
        ds_discard(t, &r); /* never published */
      return false;
    }
    if (!n) {
      r = ds_new(t, HM_TYPE, sizeof *n);
      n = ds_ref_ptr(r);
      n->key = key;
    }
    ds_set(t, &n->next, pos.cur);
    if (ds_publish(t, pos.prev, pos.cur, &r))
      return true;
  }
}

static inline bool hm_delete(struct sch_thread *t, ds_link *head,
                             uint64_t key) {
  struct hm_pos pos;
  for (;;) {
    if (!hm_find(t, head, key, &pos))
      return false;
    struct hm_node *c = ds_node(pos.cur);
    if (!ds_mark(&c->next, pos.next)) /* the logical deletion */
      continue;
    if (ds_cas(t, pos.prev, pos.cur, pos.next)) /* unlink */
      ds_retire(t, &c->n);
    else
      hm_find(t, head, key, &pos); /* unlinks (and retires) it */
    return true;
  }
}

/* ---- after the run (single-threaded) ------------------------------------ */

/* Check the list at head: every node live and unmarked, keys strictly
 * increasing, each key accepted by ok(key, arg); calls seen(key, arg2) on
 * each.  Returns the number of nodes; fails loudly on a violation. */
static inline uint64_t hm_verify(ds_link *head,
                                 bool (*ok)(uint64_t, const void *),
                                 const void *arg,
                                 void (*seen)(uint64_t, void *), void *arg2) {
  uint64_t count = 0, last = 0;
  ds_word w = ds_peek(head);
  while (!ds_null(w)) {
    if (ds_marked(w))
      SCH_FAIL("list: a marked node is still linked after the run");
    struct hm_node *x = ds_ptr(w);
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
    w = ds_peek(&x->next);
  }
  return count;
}

/* Free every node of the list at head (after the run). */
static inline void hm_free_all(struct sch_thread *t, ds_link *head) {
  ds_free_chain(t, head, offsetof(struct hm_node, next));
}

/* ---- Michael's hash map: fixed buckets, each a Harris-Michael list ------- */

struct hmap {
  uint64_t nb; /* buckets */
  ds_link *b;  /* bucket heads */
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
static inline ds_link *hmap_bucket(const struct hmap *m, uint64_t key) {
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
    ds_link_init(&m->b[i]); /* not shared yet: threads start after */
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

static inline void hmap_destroy(struct sch_thread *t, struct hmap *m) {
  for (uint64_t i = 0; i < m->nb; i++)
    hm_free_all(t, &m->b[i]);
  free(m->b);
  m->b = NULL;
}

#endif /* BENCH_DS_LIST_H */
