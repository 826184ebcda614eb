/* SPDX-License-Identifier: MIT */
/* Torture test after liburcu's rcutorture, for one epoch domain and one swap
 * cell at the same time.
 *
 *   torture [epoch_readers [swap_readers]]      (default 4 and 3)
 *
 * Each structure has a ring of PIPE_LEN elements {magic, pipe_count,
 * version, payload}.  Its updater publishes a free element (pipe_count 0),
 * increments the pipe_count of every other element, and reclaims the element
 * it replaced, rotating through every reclamation path of the API.  A
 * reclaimed element is poisoned (magic FREED, payload freed: ASAN sees a late
 * access) before it is reused.  Readers (more threads than cores) read the
 * current element inside a read section or guard, spin in a nested section,
 * and check: the element is not poisoned (before and after the spin), its
 * payload matches its version, the versions they see never go backwards.
 * They record the element's pipe_count in a histogram.
 *
 * Epoch domain, the rcutorture criterion: the updater waits for a grace
 * period after each replacement, so an element's pipe_count reaches 2 only
 * after a grace period that began once it was no longer current; a reader
 * that found it current (pipe_count 0) can see 1 while it reads, never 2.
 * Pass = no error and only buckets 0 and 1 non-zero.
 *
 * Swap cell: the writer never waits for readers (by design), so a guard may
 * pin an element through any number of later stores and its pipe_count is
 * not bounded.  What is bounded, and asserted: (1) the element is not
 * destroyed while pinned (poison, payload); (2) pipe_count <= (cell version
 * read after it) - (guard version): the guard's version is the element's,
 * and a stage-2 "grace period" for a pinned element cannot happen; (3) after
 * an explicit collection, at most current + previous + one per reader
 * elements are alive (protection is exact); (4) the retired-value bound of
 * smr/swap.h after every publish; (5) every published value is destroyed
 * exactly once, by the destructor or returned by smr_swap_exchange.
 *
 * Duration: SMR_TEST_SECONDS (default 5 s, sanitizer-friendly; the CI-length
 * run is SMR_TEST_SECONDS=10).  Both updaters also complete at least two
 * rounds of their paths.  Set SMR_FENCE=symmetric to torture the fence
 * fallback (asserted to be in force then).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "smr.h"

#define PIPE_LEN       10
#define MAGIC_LIVE     0x4c495645u
#define MAGIC_FREED    0xdeadbeefu
#define MAX_READERS    64
#define SPIN           64   /* iterations inside the nested section */
#define MIN_READS      1000 /* per reader, so short runs still read */
#define SWAP_THRESHOLD 2    /* small: the destructor path runs often */
#define YIELD_EVERY    4096 /* reads between two yields of a reader */

struct elem {
  struct smr_retired rh; /* epoch: retire header */
  /* LIVE from publication until reclamation.  Relaxed everywhere: ordering
   * must come from the library, or the test would hide its bugs. */
  _Atomic unsigned magic;
  /* Updates since publication.  Epoch: relaxed (as magic).  Swap: the
   * writer's release store pairs with the reader's acquire load, which
   * then sees a cell version at least that recent (bound (2) above). */
  _Atomic int pipe_count;
  /* Epoch: set (release) by the reclamation callback; the updater's acquire
   * load pairs with it. */
  _Atomic int reclaimed;
  /* Plain: written only while no reader can reach the element; a reader
   * that could would race here and TSAN would report it. */
  uint64_t version;
  uint64_t *payload;
  int live; /* updater's bookkeeping (destructors run on its thread) */
};

enum { E_SYNC, E_COLLECT, E_POLL, E_BARRIER, E_RETIRE_PTR, E_NPATHS };
enum { S_STORE, S_EXCHANGE, S_UPDATE, S_FETCH_UPDATE, S_NPATHS };

struct stats {
  uint64_t reads;
  uint64_t hist[PIPE_LEN + 1]; /* last bucket: PIPE_LEN and more */
  uint64_t err_freed;          /* saw a poisoned element */
  uint64_t err_payload;        /* payload does not match the version */
  uint64_t err_version;        /* version went backwards or != guard's */
  uint64_t err_bound;          /* swap: pipe_count above the version bound */
  uint64_t err_nested;         /* swap: nested read returned another value */
};

struct reader_arg {
  pthread_t tid;
  struct stats st;
};

static struct elem ering[PIPE_LEN], sring[PIPE_LEN];
/* Published epoch element: release store by the updater, acquire loads by
 * readers. */
static _Atomic(struct elem *) epoch_cur;
static smr_domain *dom;
static smr_swap *cell;
static int n_epoch = 4, n_swap = 3;
static double seconds;
static pthread_barrier_t start;
/* Set after both updaters finished.  Relaxed: only stops the loops; results
 * are read after pthread_join. */
static atomic_int stop;

/* Updater statistics (each written by its updater, read after join). */
static uint64_t e_updates, e_path[E_NPATHS], e_collect_calls, e_poll_calls,
    e_sync_extra;
static uint64_t s_updates, s_path[S_NPATHS], s_destroyed, s_exchanged,
    s_collects, s_space_waits;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Elements ------------------------------------------------------------ */

static void elem_init(struct elem *e, uint64_t version) {
  CHECK(!e->live);
  CHECK_EQ(atomic_load_explicit(&e->magic, memory_order_relaxed), MAGIC_FREED);
  e->version = version;
  e->payload = malloc(sizeof *e->payload);
  CHECK(e->payload != NULL);
  *e->payload = version;
  atomic_store_explicit(&e->pipe_count, 0, memory_order_relaxed);
  atomic_store_explicit(&e->reclaimed, 0, memory_order_relaxed);
  atomic_store_explicit(&e->magic, MAGIC_LIVE, memory_order_relaxed);
  e->live = 1;
}

/* Poison a reclaimed element: from now on no reader may touch it. */
static void elem_free(struct elem *e) {
  CHECK(e->live); /* reclaimed twice, or never published */
  CHECK_EQ(atomic_load_explicit(&e->magic, memory_order_relaxed), MAGIC_LIVE);
  atomic_store_explicit(&e->magic, MAGIC_FREED, memory_order_relaxed);
  /* Left dangling: a late reader then trips ASAN (use after free) or, in
   * other builds, most likely reads the next element's version (the chunk
   * is reused) and counts a payload error, rather than dying on NULL. */
  free(e->payload);
  e->live = 0;
}

/* One more update for every element in the pipe (all but `cur`).  `mo`:
 * relaxed for the epoch ring, release for the swap ring (see struct elem). */
static void pipe_advance(struct elem *ring, struct elem *cur, memory_order mo) {
  for (int i = 0; i < PIPE_LEN; i++) {
    struct elem *e = &ring[i];
    if (e == cur || !e->live)
      continue;
    /* Only the updater writes pipe_count: load + store, no RMW needed. */
    int pc = atomic_load_explicit(&e->pipe_count, memory_order_relaxed);
    atomic_store_explicit(&e->pipe_count, pc + 1, mo);
  }
}

/* Spin inside a nested section/guard, giving updaters time to run. */
static void spin(void) {
  for (int i = 0; i < SPIN; i++)
    atomic_signal_fence(memory_order_seq_cst);
}

/* With more readers than cores, a reader preempted inside its section holds
 * the epoch grace period for a whole scheduling round (about 40 updates a
 * second instead of tens of thousands).  An occasional yield outside the
 * section keeps the update rate up; timer preemption still lands inside
 * sections.  Not synchronisation: nothing depends on it. */
static void reader_yield(uint64_t reads) {
  if (reads % YIELD_EVERY == 0)
    sched_yield();
}

static unsigned bucket(int pc) {
  return pc < 0 || pc > PIPE_LEN ? PIPE_LEN : (unsigned)pc;
}

/* ---- Epoch domain -------------------------------------------------------- */

static void epoch_reclaim_cb(struct smr_retired *h) {
  struct elem *e = (struct elem *)((char *)h - offsetof(struct elem, rh));
  elem_free(e);
  /* release: pairs with the updater's acquire load of `reclaimed`. */
  atomic_store_explicit(&e->reclaimed, 1, memory_order_release);
}

static void epoch_reclaim_ptr(void *p) {
  epoch_reclaim_cb(&((struct elem *)p)->rh);
}

static int reclaimed(struct elem *e) {
  /* acquire: pairs with the release store in epoch_reclaim_cb. */
  return atomic_load_explicit(&e->reclaimed, memory_order_acquire);
}

/* Wait, by path `path`, until `old` (no longer published) is reclaimed. */
static void epoch_reclaim(struct elem *old, int path) {
  e_path[path]++;
  switch (path) {
  case E_SYNC:
    CHECK_EQ(smr_synchronize(dom), 0);
    elem_free(old);
    break;
  case E_COLLECT:
    CHECK_EQ(smr_retire(dom, &old->rh, epoch_reclaim_cb), 0);
    /* smr_collect never waits for readers: poll it. */
    while (!reclaimed(old)) {
      CHECK(smr_collect(dom) >= 0);
      e_collect_calls++;
      if (!reclaimed(old))
        sched_yield();
    }
    break;
  case E_POLL: {
    smr_cookie ck;
    CHECK_EQ(smr_poll_start(dom, &ck), 0);
    int rc;
    while ((rc = smr_poll(dom, ck)) == -EAGAIN) {
      e_poll_calls++;
      sched_yield();
    }
    CHECK_EQ(rc, 0);
    elem_free(old);
    break;
  }
  case E_BARRIER:
    CHECK_EQ(smr_retire(dom, &old->rh, epoch_reclaim_cb), 0);
    CHECK_EQ(smr_barrier(dom), 0);
    CHECK(reclaimed(old)); /* the barrier's contract */
    break;
  case E_RETIRE_PTR:
    CHECK_EQ(smr_retire_ptr(dom, old, epoch_reclaim_ptr), 0);
    /* A grace period started after the retire reclaims it.  This thread is
     * the only one driving grace periods, and none is in flight between
     * updates, so one smr_synchronize starts it; allow a second in case a
     * grace period had spliced the retired list just before our retire. */
    CHECK_EQ(smr_synchronize(dom), 0);
    if (!reclaimed(old)) {
      e_sync_extra++;
      CHECK_EQ(smr_synchronize(dom), 0);
    }
    CHECK(reclaimed(old));
    break;
  }
}

static void *epoch_updater(void *arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  double end = now_s() + seconds;
  int idx = 0; /* ering[0] is published by main */
  uint64_t version = 0;
  for (uint64_t n = 0; n < 2 * E_NPATHS || now_s() < end; n++) {
    struct elem *old = &ering[idx];
    idx = (idx + 1) % PIPE_LEN;
    struct elem *e = &ering[idx];
    /* Every path reclaimed its element before the next update, so the
     * next ring slot is free (elem_init checks). */
    elem_init(e, ++version);
    /* release: pairs with the readers' acquire load; e's fields and
     * payload are visible to a reader that sees e. */
    atomic_store_explicit(&epoch_cur, e, memory_order_release);
    pipe_advance(ering, e, memory_order_relaxed);
    epoch_reclaim(old, (int)(n % E_NPATHS));
    e_updates++;
  }
  return NULL;
}

static void *epoch_reader(void *arg) {
  struct stats *st = &((struct reader_arg *)arg)->st;
  smr_reader *r;
  CHECK_EQ(smr_reader_register(dom, &r), 0);
  pthread_barrier_wait(&start);
  uint64_t last = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed) ||
         st->reads < MIN_READS) {
    smr_enter(r);
    /* acquire: pairs with the updater's release publication. */
    struct elem *e = atomic_load_explicit(&epoch_cur, memory_order_acquire);
    if (atomic_load_explicit(&e->magic, memory_order_relaxed) != MAGIC_LIVE) {
      st->err_freed++;
      smr_leave(r);
      continue;
    }
    uint64_t v = e->version;
    if (v < last)
      st->err_version++;
    last = v;
    if (*e->payload != v)
      st->err_payload++;
    smr_enter(r); /* nested */
    spin();
    smr_leave(r);
    int pc = atomic_load_explicit(&e->pipe_count, memory_order_relaxed);
    if (atomic_load_explicit(&e->magic, memory_order_relaxed) != MAGIC_LIVE)
      st->err_freed++;
    else if (*e->payload != v)
      st->err_payload++;
    smr_leave(r);
    st->hist[bucket(pc)]++;
    st->reads++;
    reader_yield(st->reads);
  }
  CHECK_EQ(smr_reader_unregister(r), 0);
  return NULL;
}

/* ---- Swap cell ----------------------------------------------------------- */

static void swap_destroy(void *v, void *ctx) {
  (void)ctx;
  elem_free(v);
  s_destroyed++;
}

struct upd {
  struct elem *expect, *next;
  int calls;
};

static void *swap_update_fn(const void *current, void *arg) {
  struct upd *u = arg;
  u->calls++;
  CHECK(current == u->expect);
  return u->next;
}

/* Elements alive in the swap ring (published, not yet destroyed). */
static int swap_alive(void) {
  int k = 0;
  for (int i = 0; i < PIPE_LEN; i++)
    k += sring[i].live;
  return k;
}

/* Explicit collection.  Protection is exact: only the current value, the
 * previous one and one value per reader (the cell's own reader holds nothing
 * here) can survive it. */
static void swap_collect(void) {
  CHECK(smr_swap_collect(cell) >= 0);
  s_collects++;
  CHECK(swap_alive() <= 2 + n_swap);
}

/* A free ring element; collects (never waiting for readers) until one is. */
static struct elem *swap_free_elem(int *hint) {
  for (;;) {
    for (int i = 0; i < PIPE_LEN; i++) {
      struct elem *e = &sring[(*hint + i) % PIPE_LEN];
      if (!e->live) {
        *hint = (int)(e - sring + 1) % PIPE_LEN;
        return e;
      }
    }
    s_space_waits++;
    swap_collect();
    if (swap_alive() == PIPE_LEN)
      sched_yield(); /* every survivor pinned: let the readers move on */
  }
}

static void *swap_updater(void *arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  double end = now_s() + seconds;
  struct elem *cur = &sring[0]; /* published by main */
  int hint = 1;
  uint64_t version = 0;
  for (uint64_t n = 0; n < 2 * S_NPATHS || now_s() < end; n++) {
    struct elem *e = swap_free_elem(&hint);
    elem_init(e, ++version);
    int path = (int)(n % S_NPATHS);
    struct upd u = {cur, e, 0};
    switch (path) {
    case S_STORE:
      CHECK_EQ(smr_swap_store(cell, e), 0);
      break;
    case S_EXCHANGE: {
      void *old = NULL;
      CHECK_EQ(smr_swap_exchange(cell, e, &old), 0);
      /* Returned once no guard pins it: ours to free, never destroyed by
       * the cell. */
      CHECK(old == cur);
      elem_free(cur);
      s_exchanged++;
      break;
    }
    case S_UPDATE:
      CHECK_EQ(smr_swap_update(cell, swap_update_fn, &u), 0);
      CHECK_EQ(u.calls, 1);
      break;
    case S_FETCH_UPDATE: {
      smr_swap_guard g;
      CHECK_EQ(smr_swap_fetch_and_update(cell, swap_update_fn, &u, &g), 0);
      CHECK_EQ(u.calls, 1);
      CHECK(g.value == cur);
      CHECK_EQ(smr_swap_guard_version(&g), cur->version);
      CHECK_EQ(atomic_load_explicit(&cur->magic, memory_order_relaxed),
               MAGIC_LIVE);
      smr_swap_guard_release(&g);
      break;
    }
    }
    s_path[path]++;
    CHECK_EQ(smr_swap_version(cell), version);
    CHECK(smr_swap_get(cell) == e);
    cur = e;
    pipe_advance(sring, e, memory_order_release);
    /* smr/swap.h: at most threshold + registered readers (ours + the
     * cell's own) + 1 retired values. */
    CHECK(smr_swap_garbage_count(cell) <=
          (size_t)SWAP_THRESHOLD + (size_t)n_swap + 1 + 1);
    if (n % 3 == 0)
      swap_collect();
    s_updates++;
  }
  return NULL;
}

static void *swap_reader(void *arg) {
  struct stats *st = &((struct reader_arg *)arg)->st;
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  pthread_barrier_wait(&start);
  uint64_t last = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed) ||
         st->reads < MIN_READS) {
    smr_swap_guard g;
    struct elem *e = smr_swap_read(r, &g);
    uint64_t gv = smr_swap_guard_version(&g);
    if (atomic_load_explicit(&e->magic, memory_order_relaxed) != MAGIC_LIVE) {
      st->err_freed++;
      smr_swap_guard_release(&g);
      continue;
    }
    if (gv < last || e->version != gv)
      st->err_version++;
    last = gv;
    if (*e->payload != gv)
      st->err_payload++;
    smr_swap_guard g2; /* nested: must return the pinned value */
    if (smr_swap_read(r, &g2) != (void *)e || smr_swap_guard_version(&g2) != gv)
      st->err_nested++;
    spin();
    smr_swap_guard_release(&g2);
    /* acquire: pairs with the writer's release store in pipe_advance, so
     * the version read next is at least the one that increment followed. */
    int pc = atomic_load_explicit(&e->pipe_count, memory_order_acquire);
    uint64_t cv = smr_swap_reader_version(r);
    if (pc < 0 || (uint64_t)pc > cv - gv)
      st->err_bound++;
    if (atomic_load_explicit(&e->magic, memory_order_relaxed) != MAGIC_LIVE)
      st->err_freed++;
    else if (*e->payload != gv)
      st->err_payload++;
    smr_swap_guard_release(&g);
    st->hist[bucket(pc)]++;
    st->reads++;
    reader_yield(st->reads);
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  return NULL;
}

/* ---- Main ---------------------------------------------------------------- */

static void sum(struct stats *t, const struct reader_arg *a, int n) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < n; i++) {
    const struct stats *s = &a[i].st;
    t->reads += s->reads;
    for (int b = 0; b <= PIPE_LEN; b++)
      t->hist[b] += s->hist[b];
    t->err_freed += s->err_freed;
    t->err_payload += s->err_payload;
    t->err_version += s->err_version;
    t->err_bound += s->err_bound;
    t->err_nested += s->err_nested;
  }
}

static void print_hist(const char *what, const struct stats *t) {
  printf("torture: %s age histogram:", what);
  for (int b = 0; b <= PIPE_LEN; b++)
    printf(" %llu", (unsigned long long)t->hist[b]);
  printf("  errors: freed %llu payload %llu version %llu bound %llu "
         "nested %llu\n",
         (unsigned long long)t->err_freed, (unsigned long long)t->err_payload,
         (unsigned long long)t->err_version, (unsigned long long)t->err_bound,
         (unsigned long long)t->err_nested);
}

static int parse_count(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end != '\0' || v < 1 || v > MAX_READERS) {
    fprintf(stderr, "torture: reader count must be 1..%d, got '%s'\n",
            MAX_READERS, s);
    exit(2);
  }
  return (int)v;
}

int main(int argc, char **argv) {
  if (argc > 1)
    n_epoch = parse_count(argv[1]);
  if (argc > 2)
    n_swap = parse_count(argv[2]);
  seconds = test_seconds(5.0);

  struct smr_fence_info fi;
  CHECK_EQ(smr_fence_init(&fi), 0);
  const char *env = getenv("SMR_FENCE");
  int forced = env && strcmp(env, "symmetric") == 0;
  printf("torture: fence mode %s (forced %d, membarrier error %d, "
         "registration %lld ns), %d epoch + %d swap readers, %.1f s\n",
         fi.mode == SMR_FENCE_ASYMMETRIC ? "ASYMMETRIC" : "SYMMETRIC",
         fi.forced, fi.membarrier_error, (long long)fi.registration_ns, n_epoch,
         n_swap, seconds);
  if (forced) {
    CHECK_EQ(fi.mode, SMR_FENCE_SYMMETRIC);
    CHECK_EQ(fi.forced, 1);
  }

  for (int i = 0; i < PIPE_LEN; i++) {
    atomic_init(&ering[i].magic, MAGIC_FREED);
    atomic_init(&sring[i].magic, MAGIC_FREED);
  }
  CHECK_EQ(smr_domain_create(NULL, &dom), 0);
  CHECK_EQ(smr_domain_fence_mode(dom), fi.mode);
  elem_init(&ering[0], 0);
  atomic_store_explicit(&epoch_cur, &ering[0], memory_order_release);

  struct smr_swap_attr sa = {0, SWAP_THRESHOLD, NULL};
  elem_init(&sring[0], 0);
  CHECK_EQ(smr_swap_create(&sring[0], swap_destroy, &sa, &cell), 0);
  CHECK_EQ(smr_swap_fence_mode(cell), fi.mode);

  struct reader_arg *ea = calloc((size_t)n_epoch, sizeof *ea);
  struct reader_arg *sra = calloc((size_t)n_swap, sizeof *sra);
  CHECK(ea && sra);
  CHECK_EQ(pthread_barrier_init(&start, NULL, (unsigned)(n_epoch + n_swap + 2)),
           0);
  pthread_t eu, su;
  for (int i = 0; i < n_epoch; i++)
    CHECK_EQ(pthread_create(&ea[i].tid, NULL, epoch_reader, &ea[i]), 0);
  for (int i = 0; i < n_swap; i++)
    CHECK_EQ(pthread_create(&sra[i].tid, NULL, swap_reader, &sra[i]), 0);
  CHECK_EQ(pthread_create(&eu, NULL, epoch_updater, NULL), 0);
  CHECK_EQ(pthread_create(&su, NULL, swap_updater, NULL), 0);
  CHECK_EQ(pthread_join(eu, NULL), 0);
  CHECK_EQ(pthread_join(su, NULL), 0);
  atomic_store_explicit(&stop, 1, memory_order_relaxed);
  for (int i = 0; i < n_epoch; i++)
    CHECK_EQ(pthread_join(ea[i].tid, NULL), 0);
  for (int i = 0; i < n_swap; i++)
    CHECK_EQ(pthread_join(sra[i].tid, NULL), 0);
  pthread_barrier_destroy(&start);

  /* Tear down: every element published must be reclaimed exactly once. */
  elem_free(atomic_load_explicit(&epoch_cur, memory_order_relaxed));
  for (int i = 0; i < PIPE_LEN; i++)
    CHECK(!ering[i].live);
  CHECK_EQ(smr_garbage_count(dom), 0);
  CHECK_EQ(smr_domain_destroy(dom), 0);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  for (int i = 0; i < PIPE_LEN; i++)
    CHECK(!sring[i].live);
  CHECK_EQ(s_destroyed + s_exchanged, s_updates + 1);

  struct stats et, st;
  sum(&et, ea, n_epoch);
  sum(&st, sra, n_swap);
  CHECK_EQ(smr_fence_init(&fi), 0);
  printf(
      "torture: epoch reads %llu updates %llu (synchronize %llu, "
      "retire+collect %llu [%llu collect calls], poll %llu [%llu polls], "
      "barrier %llu, retire_ptr %llu [%llu extra synchronize]); swap reads "
      "%llu updates %llu (store %llu, exchange %llu, update %llu, "
      "fetch_and_update %llu; %llu destroyed, %llu explicit collections, "
      "%llu waits for a free element); heavy barriers %llu\n",
      (unsigned long long)et.reads, (unsigned long long)e_updates,
      (unsigned long long)e_path[E_SYNC], (unsigned long long)e_path[E_COLLECT],
      (unsigned long long)e_collect_calls, (unsigned long long)e_path[E_POLL],
      (unsigned long long)e_poll_calls, (unsigned long long)e_path[E_BARRIER],
      (unsigned long long)e_path[E_RETIRE_PTR],
      (unsigned long long)e_sync_extra, (unsigned long long)st.reads,
      (unsigned long long)s_updates, (unsigned long long)s_path[S_STORE],
      (unsigned long long)s_path[S_EXCHANGE],
      (unsigned long long)s_path[S_UPDATE],
      (unsigned long long)s_path[S_FETCH_UPDATE],
      (unsigned long long)s_destroyed, (unsigned long long)s_collects,
      (unsigned long long)s_space_waits, (unsigned long long)fi.heavy_barriers);
  print_hist("epoch", &et);
  print_hist("swap", &st);
  fflush(stdout); /* the checks below abort */

  CHECK_EQ(et.err_freed + et.err_payload + et.err_version, 0);
  CHECK_EQ(st.err_freed + st.err_payload + st.err_version + st.err_bound +
               st.err_nested,
           0);
  /* The rcutorture criterion. */
  for (int b = 2; b <= PIPE_LEN; b++)
    CHECK_EQ(et.hist[b], 0);
  free(ea);
  free(sra);
  return 0;
}
