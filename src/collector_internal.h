/* SPDX-License-Identifier: MIT */
/* Private header of the collector (smr/collector.h).  Not installed.
 *
 *   collector.c           lifecycle, registry, handles, thread exit,
 *                         statistics, reclaim_all
 *   collector_retire.c    retire, submission (barrier, scan, links),
 *                         release and reclamation, the out-of-line parts
 *                         of enter / protect / leave, swap and CAS
 *   collector_internal.h  this header
 * docs/DESIGN.md ("The collector") has the protocol and its argument. */
#ifndef SMR_COLLECTOR_INTERNAL_H
#define SMR_COLLECTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "pace.h"
#include "smr/collector.h"

#define CSEQ(c)    ((c) >> 18)
#define CACTIVE(c) (((c)&SMR__COLLECTOR_NEST_MASK) != 0)

struct smr__thread;
struct cbatch;

/* A batch's reference held by one handle whose section may hold the batch
 * (the section with sequence number `seq`), in that handle's `blocked`
 * stack. */
struct clink {
  struct clink *next;
  struct cbatch *b;
  uint64_t seq;
};

/* A submitted batch: its nodes, and one reference per link plus one for
 * the submitter while it pushes; the last release reclaims it. */
struct cbatch {
  _Atomic size_t refs;
  struct smr_collector_node *nodes;
  size_t count, bytes;
  struct hrec *retirer;      /* RETIRER_RECLAIMS: who reclaims */
  struct cbatch *next_ready; /* in the retirer's `ready` stack */
  struct clink links[];
};

/* A blocker found by a scan. */
struct cblocker {
  struct hrec *rec;
  uint64_t seq, upper;
};

enum { REC_FREE, REC_LIVE, REC_DEAD };

/* A handle record.  Records are never freed before the collector: a
 * submitter walks the registry without a lock; an unregistered record is
 * reused by a later registration. */
struct hrec {
  smr_collector_handle pub; /* owner-written words; first */
  char pad[SMR__CACHELINE * 2 - sizeof(smr_collector_handle)];
  /* The partial batch: pushed by the owner, taken whole by the owner or by
   * a submitter that finds it older than flush_ns (see steal_old). */
  _Alignas(SMR__CACHELINE) _Atomic(struct smr_collector_node *) local;
  _Atomic int64_t local_since; /* when the batch's first node came */
  _Atomic size_t local_count;  /* owner-written; read by statistics */
  _Atomic size_t local_bytes;  /* owner-written; read by statistics */
  unsigned era_retires;        /* owner only: retires since its era bump */
  unsigned reclaiming;         /* owner only: inside reclaim functions */
  uint64_t reclaimed;          /* owner only: nodes reclaimed through it */
  unsigned submits;            /* owner only: submissions (reaping pace) */
  unsigned pace_calls;         /* owner only: retires of a waiting batch */
  bool retry; /* owner only: a submission failed; the next leave retries */
  _Atomic(struct cbatch *) ready; /* RETIRER_RECLAIMS: due to this handle */
  struct cblocker *scratch;       /* owner only: scan results */
  size_t scratch_cap;
  /* Registry (reg_lock) and thread. */
  smr_collector *c;
  struct hrec *next; /* registry; immutable once published */
  _Atomic int state; /* REC_*; LIVE -> DEAD (thread gone) -> FREE */
  struct smr__thread *thr;
  struct hrec *tnext; /* owner thread's list */
  pthread_t owner;
};

struct smr_collector {
  _Alignas(SMR__CACHELINE) _Atomic uint64_t era;
  _Alignas(SMR__CACHELINE) _Atomic(struct hrec *) handles; /* registry */
  _Atomic size_t live; /* registered handles (batch sizing, stats) */
  /* Nodes of handles that left (unregistered, or their thread is gone)
   * whose submission failed: taken by the next submission. */
  _Atomic(struct smr_collector_node *) orphans;
  pthread_mutex_t reg_lock;
  /* Heavy barriers, shared between submitters (barrier_after). */
  pthread_mutex_t bar_lock;
  _Atomic uint64_t bar_started, bar_done;
  /* Barrier pacing (src/pace.c): the barrier's cost and the time of the
   * last one; a full batch waits while the last is recent (local_due). */
  struct smr__pace pace;
  smr_fence_mode mode;
  unsigned flags, batch, era_period;
  uint64_t flush_ns;
  size_t max_bytes;
  /* Statistics. */
  _Alignas(SMR__CACHELINE) _Atomic uint64_t garbage, garbage_bytes;
  _Atomic uint64_t submitted, barriers;
};

/* ---- collector_retire.c ---- */

/* Submit the nodes `nodes` (count, bytes) as a batch on behalf of handle h
 * (its owner, or the collector's reaper with h's thread gone). */
void smr__collector_submit(struct hrec *h, struct smr_collector_node *nodes,
                           size_t count, size_t bytes);

/* Release the links of a record whose sections have all ended (thread gone,
 * unregistering, destroy), reclaiming through h. */
void smr__collector_release_all(struct hrec *rec, struct hrec *h);

/* Reclaim the ready batches of `from` (RETIRER_RECLAIMS) through h: the
 * number of nodes. */
long smr__collector_drain_ready(struct hrec *from, struct hrec *h);

/* Run the reclaim functions of a node list through h: the number run. */
long smr__collector_reclaim_list(struct hrec *h,
                                 struct smr_collector_node *nodes);

/* Move the nodes of list o onto list *l. */
void smr__collector_splice(struct smr_collector_node **l,
                           struct smr_collector_node *o);

/* Give nodes to the collector's orphans (the next submission takes them). */
void smr__collector_orphan(smr_collector *c, struct smr_collector_node *l);

/* Take the collector's orphans into list *l. */
void smr__collector_take_orphans(smr_collector *c,
                                 struct smr_collector_node **l);

/* Release the links of list l through h. */
void smr__collector_release_links(struct hrec *h, struct clink *l);

/* Reclaim the batches of a ready list through h: the number of nodes. */
long smr__collector_reclaim_ready(struct hrec *h, struct cbatch *b);

/* ---- collector.c ---- */

/* What reaping took from dead records, to release once the registry lock
 * is dropped (reclaim functions never run under it). */
struct creaped {
  struct clink *links;
  struct cbatch *ready;
};

/* Reap the records (but `self`) of threads that are gone: their partial
 * batches go to the orphans, their links and ready batches to *out.
 * reg_lock held. */
void smr__collector_reap(smr_collector *c, struct hrec *self, int all,
                         struct creaped *out);

/* Release what smr__collector_reap took, through h.  No lock held. */
void smr__collector_reaped(struct hrec *h, struct creaped *r);

#endif /* SMR_COLLECTOR_INTERNAL_H */
