/* SPDX-License-Identifier: MIT */
/* bench_ds: lock-free data structures over each reclamation scheme
 * (issue 13; reference counting: issue 14).  Compiled once per scheme
 * (BENCH_SCHEME_*, bench/ds.cmake): the structures call the scheme's
 * static inline functions (bench/ds/scheme.h, bench/ds/link.h), no
 * function pointer on a hot path.
 *
 *   bench_ds_<scheme> --ds list|hashmap|stack|queue|dlqueue [--threads N]
 *       [--get-pct P] [--range K] [--seconds S] [--runs R] [--smoke]
 *       [--stall S2] [--series S3] [--check]
 *   bench_ds_<scheme> [--smoke]     the small matrix below, in smoke mode
 *
 * Structures (bench/ds/): Treiber stack, Michael-Scott queue,
 * Harris-Michael list (sorted set, hazard-pointer-safe traversal), Michael
 * hash map (range / 2 buckets of Harris-Michael lists: one key per bucket
 * on average once half the key range is in), Ramalhete-Correia DoubleLink
 * queue (dlqueue).  The list, the hash map and dlqueue are written once for
 * every scheme, reference counting included (bench_ds_rc,
 * bench_ds_rc_deferred: smr/rc.h); the stack and the Michael-Scott queue
 * only for the intrusive schemes.
 * Workloads: sets: get P% (default 50), insert and delete (100 - P) / 2 %
 * each, random keys in [0, K) (K default: list 1,000, hash map 100,000),
 * prefilled with K / 2 random keys; stack and queues: 50% push / 50% pop,
 * prefilled with K / 2 values (K default 1,000).
 * N threads (default 2) run for S seconds (default 3), R times (default
 * 3).  --smoke: S = 0.05, R = 1, small ranges (list 128, hash map 1,024,
 * stack / queue 64) and --check, unless given.
 *
 * Per run, one JSON line ({"bench":"ds",...}): ops/s; the garbage
 * (retired, not yet reclaimed nodes: every thread's retire and reclaim
 * counters summed by a sampler thread every 10 ms), its peak and average;
 * peak RSS (getrusage: the process's peak so far); heavy barriers per
 * retire where the scheme tells (the collector's statistics, the epoch
 * domain's fence counter; null for the others).  Then a summary line per
 * configuration ({"bench":"ds_summary",...}: median, min, max ops/s), and a
 * table at the end.
 *
 * --stall S2: one more thread enters a section, protects the structure's
 * first node and parks on a condition variable for S2 seconds from the
 * start of each run (get-pct defaults to 0: write-heavy); the sampler's
 * garbage over time is printed as {"bench":"ds_garbage",...} lines.
 *
 * --series S3: every S3 seconds of a run the sampler prints one line
 * {"bench":"ds_series",...,"t_s","ops","rss_kb","garbage"}: the time since
 * the start, the operations completed so far, the resident set now
 * (/proc/self/statm, not the peak) and the garbage now
 * (tools/bench_rc_long.sh: is the memory flat over a long run?).
 *
 * Checks (exit 1 with a message on any failure): sets: final size ==
 * prefill + successful inserts - successful deletes, keys sorted, unique,
 * unmarked, in their bucket; with --check also per key (presence after ==
 * presence before + that key's inserts - deletes, per-thread counts).
 * Stack and queue: every value pushed is popped exactly once (counts, sums
 * and sums of a hash of the values, the rest drained after the run); the
 * queues also check each producer's values arrive in order at each
 * consumer.  Every scheme: retires == reclaims once the scheme is torn
 * down (rc: objects created == objects destroyed); every node read is
 * checked for the live magic, reclaimed nodes are poisoned before free
 * (rc: when destroyed; bench/ds/scheme.h), a node reclaimed twice fails.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* aligned_alloc is C11; getrusage's ru_maxrss */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h> /* sysconf */

#include "ds/dlqueue.h"
#include "ds/list.h"
#include "ds/scheme.h"
#if !defined(SCH_RC)
#include "ds/queue.h"
#include "ds/stack.h"
#endif

enum ds_kind { DS_LIST, DS_HASHMAP, DS_STACK, DS_QUEUE, DS_DLQUEUE, DS_N };
static const char *const ds_names[] = {"list", "hashmap", "stack", "queue",
                                       "dlqueue"};

/* Whether this scheme has the structure (rc: the sets and dlqueue). */
static bool ds_built(enum ds_kind k) {
#if defined(SCH_RC)
  return k != DS_STACK && k != DS_QUEUE;
#else
  (void)k;
  return true;
#endif
}

struct cfg {
  enum ds_kind ds;
  unsigned threads;
  unsigned get_pct;
  uint64_t range;
  double seconds;
  int runs;
  double stall;  /* seconds; 0 = no stalled thread */
  double series; /* seconds between ds_series lines; 0 = none */
  bool check;    /* per-key check for the sets */
  bool smoke;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  return ts;
}

/* splitmix64: every bit usable. */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n) for n < 2^32, from the top 32 bits. */
static inline uint64_t rng_below(uint64_t r, uint64_t n) {
  return ((r >> 32) * n) >> 32;
}

/* ---- shared state of a run ---------------------------------------------- */

#define PID_SHIFT 40 /* a stack / queue value: producer id << 40 | seq */

struct worker {
  struct sch_thread t; /* first: 64-byte aligned */
  unsigned id;         /* 1..threads (0: main, the prefill) */
  uint64_t rng;
  pthread_t th;
  /* Operations done: written by the worker alone (relaxed), read by the
   * sampler (--series) and by main after the join. */
  _Atomic uint64_t ops;
  /* results (read by main after the join) */
  uint64_t gets, hits, ins_ok, del_ok, ins_fail, del_fail;
  uint64_t pushes, pops, pops_empty, seq;
  uint64_t push_sum, push_hash, pop_sum, pop_hash;
  int32_t *delta;     /* --check, sets: per key, inserts - deletes */
  uint64_t *last_seq; /* queue: the last seq seen from each producer */
};

static struct run {
  const struct cfg *cfg;
  int run;          /* its number, for the ds_series lines */
  struct worker *w; /* cfg->threads workers (the sampler sums ops) */
#if !defined(SCH_RC)
  struct stk stk;
  struct msq q;
#endif
  struct dlq dq;
  _Alignas(64) ds_link list;
  struct hmap map;
  ds_link *root; /* what the stalled thread protects */
  pthread_barrier_t start;
  _Alignas(64) _Atomic int stop;
  /* the stalled thread */
  pthread_mutex_t m;
  pthread_cond_t cv;
  int stall_entered, stall_release;
  _Atomic int stalled;
  int64_t t0; /* start of the timed part */
} R;

static _Alignas(64) struct sch_thread main_t, stall_t;

static inline uint64_t val_hash(uint64_t v) {
  return hmap_mix(v ^ 0x5851f42d4c957f2dull);
}

/* relaxed: a plain flag; the joins order the results. */
static inline bool stopped(void) {
  return atomic_load_explicit(&R.stop, memory_order_relaxed) != 0;
}

/* One more operation done by w (its own counter). */
static inline void count_op(struct worker *w) {
  /* relaxed: only w's thread writes it; the sampler's reads need no order
   * (a count), main's come after the join. */
  atomic_store_explicit(&w->ops,
                        atomic_load_explicit(&w->ops, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

static void set_loop(struct worker *w) {
  const struct cfg *c = R.cfg;
  struct sch_thread *t = &w->t;
  const bool map = c->ds == DS_HASHMAP;
  const uint64_t get = c->get_pct, ins = get + (100 - get) / 2;
  while (!stopped()) {
    uint64_t r = rng_next(&w->rng);
    uint64_t key = rng_below(r, c->range);
    uint64_t op = ((r & 0xffffffffu) * 100) >> 32;
    sch_enter(t);
    if (op < get) {
      bool hit =
          map ? hmap_contains(t, &R.map, key) : hm_contains(t, &R.list, key);
      w->hits += hit;
      w->gets++;
    } else if (op < ins) {
      bool ok = map ? hmap_insert(t, &R.map, key) : hm_insert(t, &R.list, key);
      if (ok) {
        w->ins_ok++;
        if (w->delta)
          w->delta[key]++;
      } else {
        w->ins_fail++;
      }
    } else {
      bool ok = map ? hmap_delete(t, &R.map, key) : hm_delete(t, &R.list, key);
      if (ok) {
        w->del_ok++;
        if (w->delta)
          w->delta[key]--;
      } else {
        w->del_fail++;
      }
    }
    sch_leave(t);
    count_op(w);
  }
}

static void pop_check(struct worker *w, uint64_t v) {
  uint64_t pid = v >> PID_SHIFT, seq = v & ((1ull << PID_SHIFT) - 1);
  if (pid > R.cfg->threads || seq == 0)
    SCH_FAIL("%s: popped a value never pushed (%016llx)", ds_names[R.cfg->ds],
             (unsigned long long)v);
  if (w->last_seq) {
    if (seq <= w->last_seq[pid])
      SCH_FAIL("%s: producer %llu's value %llu dequeued after %llu",
               ds_names[R.cfg->ds], (unsigned long long)pid,
               (unsigned long long)seq, (unsigned long long)w->last_seq[pid]);
    w->last_seq[pid] = seq;
  }
  w->pops++;
  w->pop_sum += v;
  w->pop_hash += val_hash(v);
}

/* The pools (stack and queues): push and pop by kind. */
static inline void pool_push(struct sch_thread *t, enum ds_kind k, uint64_t v) {
  switch (k) {
#if !defined(SCH_RC)
  case DS_STACK:
    stk_push(t, &R.stk, v);
    break;
  case DS_QUEUE:
    msq_enqueue(t, &R.q, v);
    break;
#endif
  default:
    dlq_enqueue(t, &R.dq, v);
  }
}

static inline bool pool_pop(struct sch_thread *t, enum ds_kind k, uint64_t *v) {
  switch (k) {
#if !defined(SCH_RC)
  case DS_STACK:
    return stk_pop(t, &R.stk, v);
  case DS_QUEUE:
    return msq_dequeue(t, &R.q, v);
#endif
  default:
    return dlq_dequeue(t, &R.dq, v);
  }
}

/* Values come out in each producer's order (checked). */
static bool ds_fifo(enum ds_kind k) {
  return k == DS_QUEUE || k == DS_DLQUEUE;
}

static void pool_loop(struct worker *w) {
  struct sch_thread *t = &w->t;
  const enum ds_kind k = R.cfg->ds;
  while (!stopped()) {
    uint64_t r = rng_next(&w->rng);
    sch_enter(t);
    if (r >> 63) {
      uint64_t v = ((uint64_t)w->id << PID_SHIFT) | ++w->seq;
      pool_push(t, k, v);
      w->pushes++;
      w->push_sum += v;
      w->push_hash += val_hash(v);
      sch_leave(t);
    } else {
      uint64_t v;
      bool ok = pool_pop(t, k, &v);
      sch_leave(t);
      if (ok)
        pop_check(w, v);
      else
        w->pops_empty++;
    }
    count_op(w);
  }
}

static void *worker_main(void *p) {
  struct worker *w = p;
  sch_thread_register(&w->t);
  pthread_barrier_wait(&R.start);
  if (R.cfg->ds == DS_LIST || R.cfg->ds == DS_HASHMAP)
    set_loop(w);
  else
    pool_loop(w);
  sch_thread_unregister(&w->t);
  return NULL;
}

/* ---- the stalled thread -------------------------------------------------- */

static void *stall_main(void *p) {
  (void)p;
  struct sch_thread *t = &stall_t;
  sch_thread_register(t);
  sch_enter(t);
  struct sch_node *first = ds_ptr(ds_load(t, 0, R.root)); /* until leave */
  pthread_mutex_lock(&R.m);
  /* relaxed: read by the sampler only for the timeline. */
  atomic_store_explicit(&R.stalled, 1, memory_order_relaxed);
  R.stall_entered = 1;
  pthread_cond_broadcast(&R.cv);
  while (!R.stall_entered || R.t0 == 0) /* wait for the start time */
    pthread_cond_wait(&R.cv, &R.m);
  struct timespec until = ts_of(R.t0 + (int64_t)(R.cfg->stall * 1e9));
  while (!R.stall_release)
    if (pthread_cond_timedwait(&R.cv, &R.m, &until) == ETIMEDOUT)
      break;
  /* relaxed: as above. */
  atomic_store_explicit(&R.stalled, 0, memory_order_relaxed);
  pthread_mutex_unlock(&R.m);
  /* The node is still valid here (every node starts with its struct
   * sch_node): a check that the scheme kept it for the whole stall. */
  if (first)
    sch_check(first);
  sch_leave(t);
  sch_thread_unregister(t);
  return NULL;
}

/* ---- the sampler --------------------------------------------------------- */

struct sample {
  int64_t t_ns;
  uint64_t garbage;
  int stalled;
};

static struct sampler {
  pthread_t th;
  pthread_mutex_t m;
  pthread_cond_t cv;
  int quit;
  uint64_t peak, n;
  double sum;
  struct sample *s; /* the timeline (--stall) */
  size_t ns, cap;
  int64_t next_series; /* --series: when the next line is due */
} S;

/* The resident set now, in KiB (-1 if /proc cannot tell). */
static long rss_now_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size, resident = -1;
  if (!f)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* --series: one line with the operations so far, the RSS and garbage g. */
static void series_line(int64_t t_ns, uint64_t g) {
  uint64_t ops = 0;
  for (unsigned i = 0; i < R.cfg->threads; i++)
    /* relaxed: a count (count_op). */
    ops += atomic_load_explicit(&R.w[i].ops, memory_order_relaxed);
  printf("{\"bench\":\"ds_series\",\"scheme\":\"%s\",\"ds\":\"%s\","
         "\"threads\":%u,\"get_pct\":%u,\"range\":%llu,\"run\":%d,"
         "\"t_s\":%.3f,\"ops\":%llu,\"rss_kb\":%ld,\"garbage\":%llu}\n",
         SCH_NAME, ds_names[R.cfg->ds], R.cfg->threads, R.cfg->get_pct,
         (unsigned long long)R.cfg->range, R.run, (double)t_ns / 1e9,
         (unsigned long long)ops, rss_now_kb(), (unsigned long long)g);
  fflush(stdout);
}

static void *sampler_main(void *p) {
  (void)p;
  pthread_mutex_lock(&S.m);
  int64_t next = now_ns();
  S.next_series = R.t0 + (int64_t)(R.cfg->series * 1e9);
  while (!S.quit) {
    next += 10 * 1000000;
    struct timespec until = ts_of(next);
    while (!S.quit && pthread_cond_timedwait(&S.cv, &S.m, &until) != ETIMEDOUT)
      ;
    if (S.quit)
      break;
    uint64_t g = sch_garbage();
    if (g > S.peak)
      S.peak = g;
    S.sum += (double)g;
    S.n++;
    int64_t t = now_ns();
    if (S.ns < S.cap)
      S.s[S.ns++] = (struct sample){
          t - R.t0, g,
          /* relaxed: a flag for the timeline only. */
          atomic_load_explicit(&R.stalled, memory_order_relaxed)};
    if (R.cfg->series > 0 && t >= S.next_series) {
      series_line(t - R.t0, g);
      S.next_series += (int64_t)(R.cfg->series * 1e9);
    }
  }
  pthread_mutex_unlock(&S.m);
  return NULL;
}

/* ---- checks -------------------------------------------------------------- */

struct pool_sums {
  uint64_t n, sum, hash;
  uint64_t *last_seq; /* queue: order check of the drain */
  unsigned threads;
};

static void drain_one(uint64_t v, void *arg) {
  struct pool_sums *ps = arg;
  uint64_t pid = v >> PID_SHIFT, seq = v & ((1ull << PID_SHIFT) - 1);
  if (pid > ps->threads || seq == 0)
    SCH_FAIL("drain: a value never pushed (%016llx)", (unsigned long long)v);
  if (ps->last_seq) {
    if (seq <= ps->last_seq[pid])
      SCH_FAIL("queue: producer %llu's value %llu after %llu in the drain",
               (unsigned long long)pid, (unsigned long long)seq,
               (unsigned long long)ps->last_seq[pid]);
    ps->last_seq[pid] = seq;
  }
  ps->n++;
  ps->sum += v;
  ps->hash += val_hash(v);
}

static void mark_present(uint64_t key, void *arg) {
  uint8_t *present = arg;
  if (present[key])
    SCH_FAIL("set: key %llu present twice", (unsigned long long)key);
  present[key] = 1;
}

/* ---- one run ------------------------------------------------------------- */

struct result {
  double ops_per_s, seconds;
  uint64_t ops, gets, hits, ins_ok, del_ok, pushes, pops, pops_empty;
  uint64_t retires, size, peak, samples;
  double avg;
  long rss_kb;
  long long barriers; /* -1: unknown */
};

static void prefill(struct sch_thread *t, uint8_t *present0,
                    struct pool_sums *pushed) {
  const struct cfg *c = R.cfg;
  uint64_t want = c->range / 2, have = 0, rng = 0x243f6a8885a308d3ull;
  if (c->ds != DS_LIST && c->ds != DS_HASHMAP) {
    for (uint64_t i = 1; i <= want; i++) {
      uint64_t v = i; /* producer 0 */
      sch_enter(t);
      pool_push(t, c->ds, v);
      sch_leave(t);
      pushed->n++;
      pushed->sum += v;
      pushed->hash += val_hash(v);
    }
    return;
  }
  while (have < want) {
    uint64_t key = rng_below(rng_next(&rng), c->range);
    sch_enter(t);
    bool ok = c->ds == DS_HASHMAP ? hmap_insert(t, &R.map, key)
                                  : hm_insert(t, &R.list, key);
    sch_leave(t);
    if (ok) {
      have++;
      if (present0)
        present0[key] = 1;
    }
  }
}

/* The structure of the run, empty; R.root: what a stalled thread holds. */
static void ds_setup(const struct cfg *c) {
  switch (c->ds) {
  case DS_LIST:
    ds_link_init(&R.list); /* not shared yet */
    R.root = &R.list;
    break;
  case DS_HASHMAP:
    hmap_init(&R.map, c->range / 2);
    R.root = &R.map.b[0];
    break;
#if !defined(SCH_RC)
  case DS_STACK:
    stk_init(&R.stk);
    R.root = &R.stk.top;
    break;
  case DS_QUEUE:
    msq_init(&main_t, &R.q);
    R.root = &R.q.head;
    break;
#endif
  default:
    dlq_init(&main_t, &R.dq);
    R.root = &R.dq.head;
  }
}

/* After the run: every value left in the pool, into ps, and the pool's
 * nodes go. */
static void pool_drain(enum ds_kind k, struct pool_sums *ps) {
  switch (k) {
#if !defined(SCH_RC)
  case DS_STACK:
    stk_drain(&R.stk, drain_one, ps);
    break;
  case DS_QUEUE:
    msq_drain(&R.q, drain_one, ps);
    break;
#endif
  default:
    dlq_drain(&main_t, &R.dq, drain_one, ps);
  }
}

static struct result run_once(const struct cfg *c, int run) {
  struct result res;
  memset(&res, 0, sizeof res);
  memset(&R, 0, sizeof R);
  R.cfg = c;
  R.run = run;
  const bool set = c->ds == DS_LIST || c->ds == DS_HASHMAP;
  sch_reg_reset();
  sch_global_init(c->threads);
  sch_thread_register(&main_t);
  ds_setup(c);
  uint8_t *present0 = NULL;
  if (set && c->check) {
    present0 = calloc(c->range, 1);
    if (!present0)
      SCH_FAIL("out of memory");
  }
  struct pool_sums pushed = {0, 0, 0, NULL, c->threads};
  prefill(&main_t, present0, &pushed);
  uint64_t prefilled = set ? c->range / 2 : pushed.n;

  /* the threads */
  struct worker *w = aligned_alloc(64, sizeof *w * c->threads);
  if (!w)
    SCH_FAIL("out of memory");
  memset(w, 0, sizeof *w * c->threads);
  R.w = w;
  for (unsigned i = 0; i < c->threads; i++) {
    w[i].id = i + 1;
    w[i].rng = (0x9e3779b97f4a7c15ull * (i + 1)) ^ ((uint64_t)run << 48);
    if (set && c->check) {
      w[i].delta = calloc(c->range, sizeof *w[i].delta);
      if (!w[i].delta)
        SCH_FAIL("out of memory");
    }
    if (ds_fifo(c->ds)) {
      w[i].last_seq = calloc(c->threads + 1, sizeof *w[i].last_seq);
      if (!w[i].last_seq)
        SCH_FAIL("out of memory");
    }
  }
  pthread_mutex_init(&R.m, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&R.cv, &ca);
  pthread_barrier_init(&R.start, NULL, c->threads + 1);
  pthread_t stall_th;
  if (c->stall > 0) {
    if (pthread_create(&stall_th, NULL, stall_main, NULL))
      SCH_FAIL("pthread_create");
    pthread_mutex_lock(&R.m);
    while (!R.stall_entered)
      pthread_cond_wait(&R.cv, &R.m);
    pthread_mutex_unlock(&R.m);
  }
  for (unsigned i = 0; i < c->threads; i++)
    if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
      SCH_FAIL("pthread_create");

  memset(&S, 0, sizeof S);
  pthread_mutex_init(&S.m, NULL);
  pthread_cond_init(&S.cv, &ca);
  if (c->stall > 0) {
    S.cap = (size_t)(c->seconds * 100) + 1000;
    S.s = malloc(S.cap * sizeof *S.s);
    if (!S.s)
      SCH_FAIL("out of memory");
  }
  long long hb0 = sch_heavy_barriers();
  pthread_barrier_wait(&R.start); /* every worker registered */
  pthread_mutex_lock(&R.m);
  R.t0 = now_ns();
  pthread_cond_broadcast(&R.cv); /* the stalled thread's clock starts */
  pthread_mutex_unlock(&R.m);
  if (pthread_create(&S.th, NULL, sampler_main, NULL))
    SCH_FAIL("pthread_create");
  struct timespec until = ts_of(R.t0 + (int64_t)(c->seconds * 1e9));
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
    ;
  /* relaxed: a flag; the joins below order everything else. */
  atomic_store_explicit(&R.stop, 1, memory_order_relaxed);
  int64_t t1 = now_ns();
  /* The stalled thread goes first: hazard-pointer purges and ck_epoch
   * barriers in the workers' unregistration wait for it. */
  if (c->stall > 0) {
    pthread_mutex_lock(&R.m);
    R.stall_release = 1;
    pthread_cond_broadcast(&R.cv);
    pthread_mutex_unlock(&R.m);
  }
  for (unsigned i = 0; i < c->threads; i++)
    pthread_join(w[i].th, NULL);
  if (c->stall > 0)
    pthread_join(stall_th, NULL);
  pthread_mutex_lock(&S.m);
  S.quit = 1;
  pthread_cond_signal(&S.cv);
  pthread_mutex_unlock(&S.m);
  pthread_join(S.th, NULL);
  long long hb1 = sch_heavy_barriers();

  /* results */
  res.seconds = (double)(t1 - R.t0) / 1e9;
  for (unsigned i = 0; i < c->threads; i++) {
    /* relaxed: the worker was joined. */
    res.ops += atomic_load_explicit(&w[i].ops, memory_order_relaxed);
    res.gets += w[i].gets;
    res.hits += w[i].hits;
    res.ins_ok += w[i].ins_ok;
    res.del_ok += w[i].del_ok;
    res.pushes += w[i].pushes;
    res.pops += w[i].pops;
    res.pops_empty += w[i].pops_empty;
  }
  res.ops_per_s = (double)res.ops / res.seconds;
  res.peak = S.peak;
  res.samples = S.n;
  res.avg = S.n ? S.sum / (double)S.n : 0;
  res.barriers = hb0 >= 0 && hb1 >= 0 ? hb1 - hb0 : -1;

  /* checks of the structure (all threads joined) */
  if (set) {
    uint8_t *present = NULL;
    if (c->check) {
      present = calloc(c->range, 1);
      if (!present)
        SCH_FAIL("out of memory");
    }
    uint64_t n =
        c->ds == DS_HASHMAP
            ? hmap_verify(&R.map, present ? mark_present : NULL, present)
            : hm_verify(&R.list, NULL, NULL, present ? mark_present : NULL,
                        present);
    int64_t expect =
        (int64_t)prefilled + (int64_t)res.ins_ok - (int64_t)res.del_ok;
    if ((int64_t)n != expect)
      SCH_FAIL("%s: %llu keys after the run, expected %lld (prefill %llu + "
               "%llu inserts - %llu deletes)",
               ds_names[c->ds], (unsigned long long)n, (long long)expect,
               (unsigned long long)prefilled, (unsigned long long)res.ins_ok,
               (unsigned long long)res.del_ok);
    res.size = n;
    if (present) {
      for (uint64_t k = 0; k < c->range; k++) {
        int64_t v = present0[k];
        for (unsigned i = 0; i < c->threads; i++)
          v += w[i].delta[k];
        if (v != present[k])
          SCH_FAIL("%s: key %llu: present %d after the run, expected %lld",
                   ds_names[c->ds], (unsigned long long)k, present[k],
                   (long long)v);
      }
      free(present);
    }
  } else {
    struct pool_sums in = pushed, out = {0, 0, 0, NULL, c->threads};
    for (unsigned i = 0; i < c->threads; i++) {
      in.n += w[i].pushes;
      in.sum += w[i].push_sum;
      in.hash += w[i].push_hash;
      out.n += w[i].pops;
      out.sum += w[i].pop_sum;
      out.hash += w[i].pop_hash;
    }
    struct pool_sums drained = {0, 0, 0, NULL, c->threads};
    if (ds_fifo(c->ds)) {
      drained.last_seq = calloc(c->threads + 1, sizeof *drained.last_seq);
      if (!drained.last_seq)
        SCH_FAIL("out of memory");
    }
    pool_drain(c->ds, &drained);
    free(drained.last_seq);
    res.size = drained.n;
    if (in.n != out.n + drained.n || in.sum != out.sum + drained.sum ||
        in.hash != out.hash + drained.hash)
      SCH_FAIL("%s: %llu values pushed (prefill included), %llu popped + "
               "%llu drained, or their sums differ",
               ds_names[c->ds], (unsigned long long)in.n,
               (unsigned long long)out.n, (unsigned long long)drained.n);
  }

  /* The structure goes (the pools went with their drain), then the scheme
   * reclaims everything it holds (rc: destroys what the teardown
   * released). */
  if (c->ds == DS_LIST)
    hm_free_all(&main_t, &R.list);
  else if (c->ds == DS_HASHMAP)
    hmap_destroy(&main_t, &R.map);
  sch_thread_unregister(&main_t);
  sch_global_fini();
  uint64_t retires, reclaims;
  sch_totals(&retires, &reclaims);
  if (retires != reclaims)
    SCH_FAIL("%llu nodes retired, %llu reclaimed after the teardown",
             (unsigned long long)retires, (unsigned long long)reclaims);
  res.retires = retires;

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  res.rss_kb = ru.ru_maxrss;

  /* the timeline of the stalled run */
  for (size_t i = 0; i < S.ns; i++)
    printf("{\"bench\":\"ds_garbage\",\"scheme\":\"%s\",\"ds\":\"%s\","
           "\"threads\":%u,\"get_pct\":%u,\"range\":%llu,\"run\":%d,"
           "\"stall_s\":%.3f,\"t_ms\":%.1f,\"garbage\":%llu,\"stalled\":%d}\n",
           SCH_NAME, ds_names[c->ds], c->threads, c->get_pct,
           (unsigned long long)c->range, run, c->stall,
           (double)S.s[i].t_ns / 1e6, (unsigned long long)S.s[i].garbage,
           S.s[i].stalled);
  free(S.s);
  pthread_cond_destroy(&S.cv);
  pthread_mutex_destroy(&S.m);
  pthread_barrier_destroy(&R.start);
  pthread_cond_destroy(&R.cv);
  pthread_condattr_destroy(&ca);
  pthread_mutex_destroy(&R.m);
  for (unsigned i = 0; i < c->threads; i++) {
    free(w[i].delta);
    free(w[i].last_seq);
  }
  free(w);
  free(present0);
  return res;
}

/* ---- output -------------------------------------------------------------- */

static const char *per_retire(char *buf, size_t n, long long barriers,
                              uint64_t retires) {
  if (barriers < 0 || retires == 0)
    snprintf(buf, n, "null");
  else
    snprintf(buf, n, "%.6f", (double)barriers / (double)retires);
  return buf;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct table_row {
  struct cfg c;
  double median;
  uint64_t peak;
  double avg;
  char bpr[32];
};
static struct table_row rows[256];
static size_t nrows;

static void run_config(const struct cfg *c) {
  double ops[1000];
  uint64_t peak = 0;
  double avg = 0;
  long rss = 0;
  long long barriers = 0;
  uint64_t retires = 0;
  for (int run = 0; run < c->runs; run++) {
    struct result r = run_once(c, run);
    char b1[32], b2[32];
    printf("{\"bench\":\"ds\",\"scheme\":\"%s\",\"ds\":\"%s\",\"threads\":%u,"
           "\"get_pct\":%u,\"range\":%llu,\"stall_s\":%.3f,\"run\":%d,"
           "\"seconds\":%.4f,\"ops\":%llu,\"ops_per_s\":%.0f,\"gets\":%llu,"
           "\"hits\":%llu,\"inserts\":%llu,\"deletes\":%llu,\"pushes\":%llu,"
           "\"pops\":%llu,\"pops_empty\":%llu,\"size\":%llu,"
           "\"retires\":%llu,\"garbage_peak\":%llu,\"garbage_avg\":%.1f,"
           "\"samples\":%llu,\"peak_rss_kb\":%ld,\"heavy_barriers\":%s,"
           "\"heavy_barriers_per_retire\":%s,\"check\":\"ok\"}\n",
           SCH_NAME, ds_names[c->ds], c->threads, c->get_pct,
           (unsigned long long)c->range, c->stall, run, r.seconds,
           (unsigned long long)r.ops, r.ops_per_s, (unsigned long long)r.gets,
           (unsigned long long)r.hits, (unsigned long long)r.ins_ok,
           (unsigned long long)r.del_ok, (unsigned long long)r.pushes,
           (unsigned long long)r.pops, (unsigned long long)r.pops_empty,
           (unsigned long long)r.size, (unsigned long long)r.retires,
           (unsigned long long)r.peak, r.avg, (unsigned long long)r.samples,
           r.rss_kb,
           r.barriers < 0 ? "null"
                          : (snprintf(b1, sizeof b1, "%lld", r.barriers), b1),
           per_retire(b2, sizeof b2, r.barriers, r.retires));
    fflush(stdout);
    ops[run] = r.ops_per_s;
    if (r.peak > peak)
      peak = r.peak;
    avg += r.avg / c->runs;
    if (r.rss_kb > rss)
      rss = r.rss_kb;
    if (r.barriers < 0 || barriers < 0)
      barriers = -1;
    else
      barriers += r.barriers;
    retires += r.retires;
  }
  qsort(ops, (size_t)c->runs, sizeof ops[0], cmp_double);
  int n = c->runs;
  double med = n % 2 ? ops[n / 2] : (ops[n / 2 - 1] + ops[n / 2]) / 2;
  char b[32];
  printf("{\"bench\":\"ds_summary\",\"scheme\":\"%s\",\"ds\":\"%s\","
         "\"threads\":%u,\"get_pct\":%u,\"range\":%llu,\"stall_s\":%.3f,"
         "\"seconds\":%.3f,\"runs\":%d,\"ops_per_s_median\":%.0f,"
         "\"ops_per_s_min\":%.0f,\"ops_per_s_max\":%.0f,"
         "\"garbage_peak\":%llu,\"garbage_avg\":%.1f,\"peak_rss_kb\":%ld,"
         "\"heavy_barriers_per_retire\":%s}\n",
         SCH_NAME, ds_names[c->ds], c->threads, c->get_pct,
         (unsigned long long)c->range, c->stall, c->seconds, c->runs, med,
         ops[0], ops[n - 1], (unsigned long long)peak, avg, rss,
         per_retire(b, sizeof b, barriers, retires));
  fflush(stdout);
  if (nrows < sizeof rows / sizeof rows[0]) {
    struct table_row *tr = &rows[nrows++];
    tr->c = *c;
    tr->median = med;
    tr->peak = peak;
    tr->avg = avg;
    per_retire(tr->bpr, sizeof tr->bpr, barriers, retires);
  }
}

static void print_table(void) {
  printf("\nbench_ds_%s: ops/s (median of the runs), garbage = retired nodes "
         "not yet reclaimed\n",
         SCH_NAME);
  printf("%-8s %7s %5s %8s %7s %14s %12s %12s %14s\n", "ds", "threads", "get%",
         "range", "stall", "ops/s", "garb. peak", "garb. avg", "barr./retire");
  for (size_t i = 0; i < nrows; i++) {
    const struct table_row *r = &rows[i];
    printf("%-8s %7u %5u %8llu %7.2f %14.0f %12llu %12.1f %14s\n",
           ds_names[r->c.ds], r->c.threads, r->c.get_pct,
           (unsigned long long)r->c.range, r->c.stall, r->median,
           (unsigned long long)r->peak, r->avg, r->bpr);
  }
}

/* ---- command line -------------------------------------------------------- */

static void usage(const char *cmd, int rc) {
  fprintf(rc ? stderr : stdout,
          "usage: %s --ds list|hashmap|stack|queue|dlqueue [--threads N] "
          "[--get-pct P]\n"
          "         [--range K] [--seconds S] [--runs R] [--smoke] "
          "[--stall S2] [--series S3] [--check]\n"
          "       %s [--smoke]   (no --ds: a small matrix in smoke mode)\n"
          "  --threads N  worker threads (default 2)\n"
          "  --get-pct P  sets: lookups P%%, inserts and deletes (100-P)/2%% "
          "each (default 50; 0 with --stall)\n"
          "  --range K    keys in [0, K), prefill K/2 (default list 1000, "
          "hashmap 100000, stack/queue/dlqueue 1000)\n"
          "  --seconds S  per run (default 3; --smoke 0.05)\n"
          "  --runs R     runs (default 3; --smoke 1)\n"
          "  --stall S2   one thread stalls in a section for S2 s; prints "
          "garbage over time\n"
          "  --series S3  every S3 s: a line with ops so far, RSS and garbage "
          "now\n"
          "  --check      sets: check every key's presence after each run "
          "(on with --smoke)\n",
          cmd, cmd);
  exit(rc);
}

static double parse_num(const char *s, const char *what, const char *cmd) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < 0 || v > 1e12) {
    fprintf(stderr, "%s: bad %s '%s'\n", cmd, what, s);
    usage(cmd, 2);
  }
  return v;
}

int main(int argc, char **argv) {
  struct cfg c = {DS_LIST, 2, 50, 0, 3, 3, 0, 0, false, false};
  bool have_ds = false, have_get = false, have_range = false,
       have_seconds = false, have_runs = false, have_threads = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--smoke") == 0) {
      c.smoke = true;
    } else if (strcmp(a, "--check") == 0) {
      c.check = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(argv[0], 0);
    } else if (!v) {
      fprintf(stderr, "%s: unknown or incomplete option '%s'\n", argv[0], a);
      usage(argv[0], 2);
    } else if (strcmp(a, "--ds") == 0) {
      int k = 0;
      while (k < DS_N && strcmp(v, ds_names[k]) != 0)
        k++;
      if (k == DS_N || !ds_built((enum ds_kind)k)) {
        fprintf(stderr, "%s: unknown structure '%s'%s\n", argv[0], v,
                k == DS_N ? "" : " (not built for this scheme)");
        usage(argv[0], 2);
      }
      c.ds = (enum ds_kind)k;
      have_ds = true;
      i++;
    } else if (strcmp(a, "--threads") == 0) {
      c.threads = (unsigned)parse_num(v, "thread count", argv[0]);
      have_threads = true;
      i++;
    } else if (strcmp(a, "--get-pct") == 0) {
      c.get_pct = (unsigned)parse_num(v, "percentage", argv[0]);
      have_get = true;
      i++;
    } else if (strcmp(a, "--range") == 0) {
      c.range = (uint64_t)parse_num(v, "range", argv[0]);
      have_range = true;
      i++;
    } else if (strcmp(a, "--seconds") == 0) {
      c.seconds = parse_num(v, "duration", argv[0]);
      have_seconds = true;
      i++;
    } else if (strcmp(a, "--runs") == 0) {
      c.runs = (int)parse_num(v, "run count", argv[0]);
      have_runs = true;
      i++;
    } else if (strcmp(a, "--stall") == 0) {
      c.stall = parse_num(v, "stall duration", argv[0]);
      i++;
    } else if (strcmp(a, "--series") == 0) {
      c.series = parse_num(v, "series period", argv[0]);
      if (c.series < 0.01) {
        fprintf(stderr, "%s: --series needs >= 0.01 s\n", argv[0]);
        return 2;
      }
      i++;
    } else {
      fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a);
      usage(argv[0], 2);
    }
  }
  if (!have_ds)
    c.smoke = true; /* the default: the small matrix, smoke mode */
  if (c.smoke) {
    if (!have_seconds)
      c.seconds = 0.05;
    if (!have_runs)
      c.runs = 1;
    c.check = true;
  }
  if (c.stall > 0 && !have_get)
    c.get_pct = 0;
  if (c.threads < 1 || c.threads > SCH_MAX_THREADS - 2 || c.get_pct > 100 ||
      c.runs < 1 || c.runs > 1000 || c.seconds <= 0 ||
      (have_range && (c.range < 2 || c.range > UINT32_MAX))) {
    fprintf(stderr,
            "%s: need 1 <= threads <= %d, get-pct <= 100, 1 <= runs "
            "<= 1000, seconds > 0, 2 <= range < 2^32\n",
            argv[0], SCH_MAX_THREADS - 2);
    return 2;
  }
  sch_process_init();
  static const uint64_t def_range[] = {1000, 100000, 1000, 1000, 1000};
  static const uint64_t smoke_range[] = {128, 1024, 64, 64, 64};
  if (have_ds) {
    if (!have_range)
      c.range = c.smoke ? smoke_range[c.ds] : def_range[c.ds];
    run_config(&c);
  } else {
    /* The small matrix: every structure and workload, 1 and 2 threads,
     * and one stalled run. */
    static const unsigned gets[] = {0, 50, 90, 100};
    for (int ds = 0; ds < DS_N; ds++)
      for (int g = 0; g < (ds <= DS_HASHMAP ? 4 : 1) && ds_built(ds); g++)
        for (unsigned th = 1; th <= 2; th++) {
          struct cfg m = c;
          m.ds = (enum ds_kind)ds;
          m.get_pct = ds <= DS_HASHMAP ? gets[g] : 50;
          m.threads = have_threads ? c.threads : th;
          m.range = have_range ? c.range : smoke_range[ds];
          m.stall = 0;
          run_config(&m);
          if (have_threads)
            break;
        }
    struct cfg m = c;
    m.ds = DS_LIST;
    m.get_pct = 0;
    m.threads = have_threads ? c.threads : 2;
    m.range = have_range ? c.range : smoke_range[DS_LIST];
    m.seconds = have_seconds ? c.seconds : 0.1;
    m.stall = c.stall > 0 ? c.stall : m.seconds / 2;
    run_config(&m);
  }
  print_table();
  sch_process_fini();
  return 0;
}
