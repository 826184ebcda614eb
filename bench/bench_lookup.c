/* SPDX-License-Identifier: MIT */
/* bench_lookup: the lookup-table workload of issue 3 (scenarios 2 and 3).
 *
 * The user's problem: a string -> string lookup table of N entries (default
 * 100,000), R reader threads each doing one lookup per read section (random
 * key), one writer that publishes a modified copy of the table (copy, change
 * 16 entries, publish, reclaim the old copy).
 *
 * The table is an open-addressing (linear probing) array of
 * {uint64_t hash; const char *key; const char *val} with a power-of-two
 * capacity >= 1.25 N (131,072 slots, 3 MiB, for 100,000 entries).  Key and
 * value strings are immutable and allocated once, in a pool shared by every
 * version, so a version owns only its array and a publish copies 3 MiB.
 * Each key has 4 value strings "<key>:0" .. "<key>:3"; the writer's changes
 * switch entries between them.  Readers pick a random key index (an LCG, no
 * division), hash their own copy of the key string (FNV-1a), probe, compare
 * the strings and verify the result inside the read section:
 *   - the key is found (a miss is an error: every key is always present),
 *   - the value string starts with "<key>:",
 *   - the table is live (magic word, overwritten just before free),
 *   - its generation never goes backwards for one reader.
 * Any failure makes the program exit with status 1.  Every run also checks
 * that each table version was freed exactly once by the end (counter).
 *
 * Compiled once per implementation; exactly one BENCH_IMPL_* is defined:
 *   SMR_SWAP           smr_swap_read / smr_swap_guard_release; writer
 *                      smr_swap_store (the cell's destructor frees)
 *   SMR_EPOCH          smr_enter / acquire load / smr_leave; writer release
 *                      store + smr_retire (header embedded in the table)
 *   RWLOCK             pthread_rwlock, default attributes (glibc: readers
 *                      preferred, so readers that never pause can starve the
 *                      writer: watch publishes/s and publish_us_max)
 *   RWLOCK_WPREF       pthread_rwlock with the GNU writer preference
 *                      (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP)
 *   MUTEX              pthread_mutex
 *   URCU_MEMB_CALLRCU  liburcu memb read lock / rcu_dereference; writer
 *                      rcu_assign_pointer + call_rcu (frees on liburcu's
 *                      call_rcu helper thread)
 *   URCU_MEMB_SYNC     the same readers; writer synchronize_rcu then free
 *   URCU_QSBR          liburcu qsbr: readers call rcu_quiescent_state after
 *                      every lookup (one lookup is one "read section", as for
 *                      the others; real QSBR users announce far less often,
 *                      which makes the read side nearly free); writer
 *                      synchronize_rcu then free
 *   CK_EPOCH           ck_epoch_begin / ck_epoch_end; writer ck_epoch_call +
 *                      ck_epoch_poll after every publish
 *   FLOOR              a plain acquire load, no read-side protocol; the
 *                      writer frees an old table only after a fixed delay
 *                      (--floor-delay-ms, default 100 ms) from a time-stamped
 *                      queue.  UNSAFE in general (a reader preempted for
 *                      longer than the delay would read freed memory): it
 *                      stands for what a read cannot beat, without the
 *                      page-fault cost never freeing would add.  Before
 *                      freeing, the writer acquire-loads every reader's
 *                      per-batch progress counter: it does not wait on them,
 *                      it only lets TSAN see the happens-before that the delay
 *                      gives in practice.  The floor is a reference for the
 *                      read side only: its writer reuses memory freed a delay
 *                      ago, which is cold, so its copies are slower than the
 *                      others' and it may publish less often.
 *
 * Every run starts its threads, lets them run for a warm-up (--warmup,
 * default 1 s: the allocator and the reclamation reach their steady state;
 * a domain that collects every 64 retirements holds 64 tables before its
 * first collection), then measures for S seconds.  Each thread measures its
 * own window, from its first batch/round/publish boundary after the switch
 * to its end; rates are summed over the readers' windows.  Verification
 * covers the warm-up too.
 *
 * Scenario 2 (default): R readers and the writer; the writer publishes every
 * U microseconds (absolute deadlines; no catch-up burst when late) or, with
 * --interval-us 0, back to back.  Per run: lookups/s, publishes/s, reader
 * CPU time per lookup (the sum of the readers' CLOCK_THREAD_CPUTIME_ID over
 * their lookups: the fair figure when readers outnumber cores), the
 * writer's copy and publish times (publish = the store plus the reclamation
 * step: wrlock wait, synchronize_rcu, retire/collect; the copy is excluded),
 * the writer's CPU time per publish, the process's minor page faults per
 * publish, the peak number of replaced tables not yet freed (sampled after
 * every publish), and the peak RSS of the measured window (VmHWM, reset
 * through /proc/self/clear_refs; where that fails, ru_maxrss of the whole
 * process: run one configuration per process, as tools/bench_lookup.sh
 * does).  The allocator is glibc's default: implementations that hold many
 * 3 MiB tables and free them in bursts make glibc give the memory back and
 * fault it in again (see minflt_per_publish); GLIBC_TUNABLES can take that
 * out (glibc.malloc.arena_max=1, .trim_threshold, .mmap_threshold).
 *
 * Scenario 3 (--ratio R:W): one reader thread and one writer thread run
 * concurrently for S seconds in rounds: the reader does R lookups per round,
 * the writer W publishes per round, and neither may start round k before the
 * other has completed round k-1 (each side publishes its completed count with
 * a relaxed store and the other spins on it: no sleep, and no lock on the
 * read path; the reader's wait is between read sections).  So the two work
 * on the same round concurrently, the faster one waits for the slower at the
 * round boundary, and the completed counts stay within one round of R:W.
 * Reported: ns per operation = elapsed / (reads + writes), and the achieved
 * ratio reads / writes (the CPU figures of this scenario include the spin
 * waits at round boundaries).  The table is small (default 1,000 entries) so
 * that a publish is not dominated by copying; the floor's delay defaults to 10
 * ms there (publishes are fast: 100 ms of them would hold too much memory).
 *
 * Output: one JSON object per run, a JSON summary (median, min, max over the
 * runs), then a table.  tools/bench_lookup.sh runs every configuration, each
 * in a fresh process.
 */
#if defined(BENCH_IMPL_RWLOCK_WPREF)
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#else
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "bench_impl.h"

#if !(defined(BENCH_IMPL_FLOOR) || defined(BENCH_IMPL_SMR_SWAP) ||             \
      defined(BENCH_IMPL_SMR_EPOCH) || defined(HAVE_RWLOCK) ||                 \
      defined(BENCH_IMPL_MUTEX) || defined(BENCH_IMPL_URCU_MEMB_CALLRCU) ||    \
      defined(BENCH_IMPL_URCU_MEMB_SYNC) || defined(BENCH_IMPL_URCU_QSBR) ||   \
      defined(BENCH_IMPL_CK_EPOCH))
#error "bench_lookup: no such implementation (see bench/lookup.cmake)"
#endif

#include "bench_common.h"

#define NVAR       4   /* value strings per key */
#define NCHANGES   16  /* entries changed per publish */
#define BATCH      256 /* lookups between two checks of the stop flag */
#define TABLE_LIVE 0x4c6976655461626cull
#define TABLE_DEAD 0xdeaddeaddeaddeadull

/* ---- options ------------------------------------------------------------- */

static struct {
  int readers;
  double seconds;
  uint64_t interval_us;
  size_t entries;
  double warmup;
  int runs;
  int smoke;
  unsigned ratio_r, ratio_w; /* 0:0 = scenario 2 */
  size_t threshold;          /* smr_swap / smr_epoch; 0 = library default */
  double floor_delay_ms;
} opt = {2, 2.0, 1000, 100000, 1.0, 3, 0, 0, 0, 0, 100.0};

static void usage(FILE *f, const char *cmd) {
  fprintf(f,
          "usage: %s [options]\n"
          "  --readers R         reader threads (default 2)\n"
          "  --seconds S         measured seconds per run (default 2; smoke "
          "0.2)\n"
          "  --warmup W          seconds before the measurement (default 1; "
          "smoke 0.05)\n"
          "  --interval-us U     publish every U us; 0 = back to back "
          "(default 1000)\n"
          "  --entries N         table entries (default 100000; 1000 with "
          "--ratio)\n"
          "  --runs K            runs; median, min and max are reported "
          "(default 3; smoke 1)\n"
          "  --ratio R:W         scenario 3: one reader, one writer, R "
          "lookups per W publishes\n"
          "  --threshold N       smr_swap/smr_epoch collection threshold "
          "(0 = library default)\n"
          "  --floor-delay-ms D  floor: delay before a table is freed "
          "(default 100; 10 with --ratio)\n"
          "  --smoke             short run that checks the program works\n",
          cmd);
}

static double parse_num(const char *s, const char *what, const char *cmd,
                        double lo, double hi) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
    fprintf(stderr, "%s: bad %s '%s' (range %g..%g)\n", cmd, what, s, lo, hi);
    exit(2);
  }
  return v;
}

static void parse_opts(int argc, char **argv) {
  const char *cmd = argv[0];
  int have_seconds = 0, have_runs = 0, have_entries = 0, have_readers = 0;
  int have_interval = 0, have_delay = 0, have_warmup = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--smoke") == 0) {
      opt.smoke = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout, cmd);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "%s: unknown or incomplete option '%s'\n", cmd, a);
      usage(stderr, cmd);
      exit(2);
    }
    i++;
    if (strcmp(a, "--readers") == 0) {
      opt.readers = (int)parse_num(v, "reader count", cmd, 1, 1024);
      have_readers = 1;
    } else if (strcmp(a, "--seconds") == 0) {
      opt.seconds = parse_num(v, "seconds", cmd, 0.001, 3600);
      have_seconds = 1;
    } else if (strcmp(a, "--warmup") == 0) {
      opt.warmup = parse_num(v, "warm-up", cmd, 0, 3600);
      have_warmup = 1;
    } else if (strcmp(a, "--interval-us") == 0) {
      opt.interval_us = (uint64_t)parse_num(v, "interval", cmd, 0, 1e7);
      have_interval = 1;
    } else if (strcmp(a, "--entries") == 0) {
      opt.entries = (size_t)parse_num(v, "entry count", cmd, 16, 1e8);
      have_entries = 1;
    } else if (strcmp(a, "--runs") == 0) {
      opt.runs = (int)parse_num(v, "run count", cmd, 1, 1000);
      have_runs = 1;
    } else if (strcmp(a, "--threshold") == 0) {
      opt.threshold = (size_t)parse_num(v, "threshold", cmd, 0, 1e9);
    } else if (strcmp(a, "--floor-delay-ms") == 0) {
      opt.floor_delay_ms = parse_num(v, "delay", cmd, 0, 1e6);
      have_delay = 1;
    } else if (strcmp(a, "--ratio") == 0) {
      unsigned r, w;
      char tail;
      if (sscanf(v, "%u:%u%c", &r, &w, &tail) != 2 || r < 1 || w < 1 ||
          r > 1000000 || w > 1000000) {
        fprintf(stderr, "%s: bad ratio '%s' (want R:W, e.g. 100:1)\n", cmd, v);
        exit(2);
      }
      opt.ratio_r = r;
      opt.ratio_w = w;
    } else {
      fprintf(stderr, "%s: unknown option '%s'\n", cmd, a);
      usage(stderr, cmd);
      exit(2);
    }
  }
  if (opt.ratio_r) {
    if ((have_readers && opt.readers != 1) ||
        (have_interval && opt.interval_us != 0)) {
      fprintf(stderr,
              "%s: --ratio runs one reader and an unpaced writer: "
              "drop --readers/--interval-us\n",
              cmd);
      exit(2);
    }
    opt.readers = 1;
    opt.interval_us = 0;
    if (!have_entries)
      opt.entries = 1000;
    if (!have_delay)
      opt.floor_delay_ms = 10.0;
  }
  if (opt.smoke) {
    if (!have_seconds)
      opt.seconds = 0.2;
    if (!have_runs)
      opt.runs = 1;
    if (!have_warmup)
      opt.warmup = 0.05;
  }
}

/* ---- the shared string pool ---------------------------------------------- */

static struct {
  size_t n;
  const char **key;  /* key[i]: the table's key string */
  const char **qkey; /* qkey[i]: the readers' copy of it (another address) */
  uint8_t *klen;     /* strlen(key[i]) */
  uint64_t *khash;   /* hash of key[i] (for the writer) */
  const char **val;  /* val[i * NVAR + v] = "<key>:<v>" */
  char *karena, *qarena, *varena;
} pool;

static uint64_t hash_str(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "bench_lookup: out of memory (%zu bytes)\n", n);
    abort();
  }
  return p;
}

static void pool_build(size_t n) {
  pool.n = n;
  pool.key = xmalloc(n * sizeof *pool.key);
  pool.qkey = xmalloc(n * sizeof *pool.qkey);
  pool.klen = xmalloc(n);
  pool.khash = xmalloc(n * sizeof *pool.khash);
  pool.val = xmalloc(n * NVAR * sizeof *pool.val);
  pool.karena = xmalloc(n * 24);
  pool.qarena = xmalloc(n * 24);
  pool.varena = xmalloc(n * NVAR * 28);
  char *k = pool.karena, *q = pool.qarena, *v = pool.varena;
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(k, 24, "key%zu", i);
    memcpy(q, k, (size_t)len + 1);
    pool.key[i] = k;
    pool.qkey[i] = q;
    pool.klen[i] = (uint8_t)len;
    pool.khash[i] = hash_str(k, (size_t)len);
    k += len + 1;
    q += len + 1;
    for (int j = 0; j < NVAR; j++) {
      int vl = snprintf(v, 28, "%s:%d", pool.key[i], j);
      pool.val[i * NVAR + (size_t)j] = v;
      v += vl + 1;
    }
  }
}

static void pool_free(void) {
  free(pool.key);
  free(pool.qkey);
  free(pool.klen);
  free(pool.khash);
  free(pool.val);
  free(pool.karena);
  free(pool.qarena);
  free(pool.varena);
}

/* Random index in [0, n): 64-bit LCG, high half scaled (no division). */
static inline uint32_t rng_index(uint64_t *s, size_t n) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(((*s >> 32) * (uint64_t)n) >> 32);
}

/* ---- the table ----------------------------------------------------------- */

struct slot {
  uint64_t hash;
  const char *key; /* NULL: empty slot */
  const char *val;
};

struct table {
  /* The implementation's retire header, first member (callbacks cast back). */
#if defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_retired hdr;
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_entry_t hdr;
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  struct rcu_head hdr;
#elif defined(BENCH_IMPL_FLOOR)
  struct {
    struct table *next;
    int64_t due_ns; /* free once the clock passes this */
  } hdr;
#endif
  uint64_t magic; /* TABLE_LIVE; TABLE_DEAD just before free */
  uint64_t generation;
  size_t mask; /* capacity - 1 */
  struct slot slots[];
};

static size_t table_bytes(size_t cap) {
  return sizeof(struct table) + cap * sizeof(struct slot);
}

/* Tables freed so far, by any thread (the writer, liburcu's call_rcu thread,
 * main at teardown).  Relaxed: an event counter; the end-of-run check reads it
 * after joins and drains that order every increment before it. */
static atomic_ulong freed;

static void table_free(struct table *t) {
  /* volatile: a store right before free() would otherwise be dropped. */
  *(volatile uint64_t *)&t->magic = TABLE_DEAD;
  free(t);
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
}

/* The writer's state.  Written by main before the threads start and by the
 * writer thread while they run; read by main after the joins. */
static struct {
  struct table *cur; /* the published table */
  uint64_t made;     /* tables allocated in this run (initial included) */
  uint64_t rng;
  uint64_t publishes; /* all, warm-up included */
  uint64_t measured;  /* in the measurement window (the statistics below) */
  int64_t copy_ns, pub_ns, pub_max_ns, cpu_ns, t_start, t_end;
  uint64_t peak_unreclaimed;
} wr;

static struct table *table_alloc(size_t cap) {
  struct table *t = xmalloc(table_bytes(cap));
  t->magic = TABLE_LIVE;
  t->mask = cap - 1;
  wr.made++;
  return t;
}

static struct table *table_build(void) {
  size_t cap = 16;
  while (cap < pool.n + pool.n / 4)
    cap <<= 1;
  struct table *t = table_alloc(cap);
  t->generation = 0;
  memset(t->slots, 0, cap * sizeof(struct slot));
  for (size_t x = 0; x < pool.n; x++) {
    size_t i = pool.khash[x] & t->mask;
    while (t->slots[i].key)
      i = (i + 1) & t->mask;
    t->slots[i] = (struct slot){pool.khash[x], pool.key[x], pool.val[x * NVAR]};
  }
  return t;
}

/* Point key x at value v (the key is always present: pool pointers). */
static void table_set(struct table *t, size_t x, const char *v) {
  const char *k = pool.key[x];
  for (size_t i = pool.khash[x] & t->mask;; i = (i + 1) & t->mask) {
    if (t->slots[i].key == k) {
      t->slots[i].val = v;
      return;
    }
    if (!t->slots[i].key)
      abort(); /* cannot happen: every key is in every version */
  }
}

/* The next version: a copy of cur with NCHANGES entries switched to another
 * value string. */
static struct table *table_next(const struct table *cur) {
  size_t cap = cur->mask + 1;
  struct table *n = table_alloc(cap);
  n->generation = cur->generation + 1;
  memcpy(n->slots, cur->slots, cap * sizeof(struct slot));
  for (int i = 0; i < NCHANGES; i++) {
    size_t x = rng_index(&wr.rng, pool.n);
    table_set(n, x, pool.val[x * NVAR + (size_t)(n->generation % NVAR)]);
  }
  return n;
}

/* The readers' lookup: hash the query string, probe, compare. */
static inline const char *table_get(const struct table *t, const char *key,
                                    size_t klen) {
  uint64_t h = hash_str(key, klen);
  for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const struct slot *s = &t->slots[i];
    if (!s->key)
      return NULL;
    if (s->hash == h && memcmp(s->key, key, klen + 1) == 0)
      return s->val;
  }
}

/* ---- readers ------------------------------------------------------------- */

struct rstate {
  uint64_t rng, last_gen, miss, bad;
};

struct reader {
#if defined(BENCH_IMPL_SMR_SWAP)
  smr_swap_reader *h;
#elif defined(BENCH_IMPL_SMR_EPOCH)
  smr_reader *h;
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_record_t rec;
#endif
  struct rstate st;
  uint64_t lookups;               /* all, warm-up included */
  uint64_t measured;              /* in the measurement window */
  int64_t cpu_ns, t_start, t_end; /* the window */
  pthread_t thread;
  /* Lookups completed, stored (release) after every batch: read by the
   * floor's writer before it frees (see the top comment).  Own cache line. */
  _Alignas(64) atomic_ullong progress;
};

static struct reader *readers;
static int nreaders;

/* The run's phase, set by main: warm-up, measurement, stop.  Readers and
 * the writer poll it relaxed at batch, round or publish boundaries: nothing
 * is published through it (the joins order the results). */
enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
static atomic_int phase;

/* Scenario 3: completed reads and writes, each stored by its own thread and
 * polled by the other.  Relaxed: they only pace the rounds; no data is
 * published through them. */
static atomic_ullong ratio_reads, ratio_writes;

/* ---- the implementation under test --------------------------------------- */

#if defined(BENCH_IMPL_SMR_SWAP)
static smr_swap *cell; /* holds the published table */
static void swap_destroy(void *v, void *ctx) {
  (void)ctx;
  table_free(v);
}
#elif defined(BENCH_IMPL_SMR_EPOCH)
static smr_domain *dom;
static _Atomic(struct table *) shared;
static void epoch_free(struct smr_retired *r) {
  table_free((struct table *)r);
}
#elif defined(HAVE_RWLOCK)
static pthread_rwlock_t rwl;
static struct table *shared; /* guarded by rwl */
#elif defined(BENCH_IMPL_MUTEX)
static pthread_mutex_t mtx;
static struct table *shared; /* guarded by mtx */
#elif defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
static struct table *shared; /* rcu_assign_pointer / rcu_dereference */
#ifdef BENCH_IMPL_URCU_MEMB_CALLRCU
static void rcu_free(struct rcu_head *h) {
  table_free((struct table *)h);
}
#endif
#elif defined(BENCH_IMPL_CK_EPOCH)
static ck_epoch_t ck_ep;
static ck_epoch_record_t ck_wrec; /* the writer's record */
static _Atomic(struct table *) shared;
static void ck_free(ck_epoch_entry_t *e) {
  table_free((struct table *)e);
}
#elif defined(BENCH_IMPL_FLOOR)
static _Atomic(struct table *) shared;
static struct table *fq_head, *fq_tail; /* writer-only delay queue */
#endif

/* One lookup and its checks, inside the caller's read section. */
static inline void lookup_check(const struct table *t, struct rstate *st) {
  uint32_t x = rng_index(&st->rng, pool.n);
  const char *key = pool.qkey[x];
  size_t klen = pool.klen[x];
  const char *v = table_get(t, key, klen);
  if (!v)
    st->miss++;
  else if (memcmp(v, key, klen) != 0 || v[klen] != ':')
    st->bad++;
  uint64_t gen = t->generation;
  st->bad += (t->magic != TABLE_LIVE) + (gen < st->last_gen);
  st->last_gen = gen;
}

/* The timed read loop: n read sections of one lookup each. */
BENCH_LOOP_ATTR void bench_loop(struct reader *rd, uint64_t n);

void bench_loop(struct reader *rd, uint64_t n) {
  struct rstate st = rd->st;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < n; i++) {
#if defined(BENCH_IMPL_SMR_SWAP)
    smr_swap_guard g;
    /* smr_swap_read does the acquire load of the published node. */
    const struct table *t = smr_swap_read(rd->h, &g);
    lookup_check(t, &st);
    smr_swap_guard_release(&g);
#elif defined(BENCH_IMPL_SMR_EPOCH)
    smr_enter(rd->h);
    /* acquire: pairs with the writer's release store in publish(). */
    const struct table *t = atomic_load_explicit(&shared, memory_order_acquire);
    lookup_check(t, &st);
    smr_leave(rd->h);
#elif defined(HAVE_RWLOCK)
    pthread_rwlock_rdlock(&rwl);
    lookup_check(shared, &st);
    pthread_rwlock_unlock(&rwl);
#elif defined(BENCH_IMPL_MUTEX)
    pthread_mutex_lock(&mtx);
    lookup_check(shared, &st);
    pthread_mutex_unlock(&mtx);
#elif defined(URCU_MEMB_ANY)
    urcu_memb_read_lock();
    /* rcu_dereference: pairs with rcu_assign_pointer in publish(). */
    const struct table *t = rcu_dereference(shared);
    lookup_check(t, &st);
    urcu_memb_read_unlock();
#elif defined(BENCH_IMPL_URCU_QSBR)
    urcu_qsbr_read_lock(); /* empty in qsbr; kept for the idiom */
    const struct table *t = rcu_dereference(shared);
    lookup_check(t, &st);
    urcu_qsbr_read_unlock();
    urcu_qsbr_quiescent_state(); /* after every lookup (see the top) */
#elif defined(BENCH_IMPL_CK_EPOCH)
    ck_epoch_begin(&rd->rec, NULL);
    /* acquire: pairs with the writer's release store in publish(). */
    const struct table *t = atomic_load_explicit(&shared, memory_order_acquire);
    lookup_check(t, &st);
    ck_epoch_end(&rd->rec, NULL);
#elif defined(BENCH_IMPL_FLOOR)
    /* acquire: pairs with the writer's release store in publish(). */
    const struct table *t = atomic_load_explicit(&shared, memory_order_acquire);
    lookup_check(t, &st);
#endif
  }
  rd->st = st;
}

static void reader_register(struct reader *rd) {
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_reader_create(cell, &rd->h));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_reader_register(dom, &rd->h));
#elif defined(URCU_MEMB_ANY)
  (void)rd;
  urcu_memb_register_thread();
#elif defined(BENCH_IMPL_URCU_QSBR)
  (void)rd;
  urcu_qsbr_register_thread();
#elif defined(BENCH_IMPL_CK_EPOCH)
  memset(&rd->rec, 0, sizeof rd->rec);
  ck_epoch_register(&ck_ep, &rd->rec, NULL);
#else
  (void)rd;
#endif
}

static void reader_unregister(struct reader *rd) {
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_reader_destroy(rd->h));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_reader_unregister(rd->h));
#elif defined(URCU_MEMB_ANY)
  (void)rd;
  urcu_memb_unregister_thread();
#elif defined(BENCH_IMPL_URCU_QSBR)
  (void)rd;
  urcu_qsbr_unregister_thread();
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&rd->rec);
#else
  (void)rd;
#endif
}

/* ---- the writer ---------------------------------------------------------- */

#if defined(BENCH_IMPL_FLOOR)
static int64_t floor_delay_ns(void) {
  return (int64_t)(opt.floor_delay_ms * 1e6);
}

/* Free the queued tables whose delay has passed. */
static void floor_reclaim(int64_t now) {
  if (!fq_head || fq_head->hdr.due_ns > now)
    return;
  /* acquire: pairs with the readers' release stores of progress; no wait,
   * see the top comment (happens-before for TSAN, not for safety). */
  for (int i = 0; i < nreaders; i++)
    (void)atomic_load_explicit(&readers[i].progress, memory_order_acquire);
  while (fq_head && fq_head->hdr.due_ns <= now) {
    struct table *t = fq_head;
    fq_head = t->hdr.next;
    if (!fq_head)
      fq_tail = NULL;
    table_free(t);
  }
}
#endif

/* Publish n in place of wr.cur and reclaim (or hand over) the old table. */
static void publish(struct table *n) {
  struct table *old = wr.cur;
#if defined(BENCH_IMPL_SMR_SWAP)
  (void)old; /* the cell retires it and its destructor frees it */
  if (smr_swap_store(cell, n) != 0)
    abort();
#elif defined(BENCH_IMPL_SMR_EPOCH)
  /* release: pairs with the readers' acquire load in bench_loop. */
  atomic_store_explicit(&shared, n, memory_order_release);
  if (smr_retire(dom, &old->hdr, epoch_free) != 0)
    abort();
#elif defined(HAVE_RWLOCK)
  pthread_rwlock_wrlock(&rwl);
  shared = n;
  pthread_rwlock_unlock(&rwl);
  table_free(old);
#elif defined(BENCH_IMPL_MUTEX)
  pthread_mutex_lock(&mtx);
  shared = n;
  pthread_mutex_unlock(&mtx);
  table_free(old);
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  rcu_assign_pointer(shared, n);
  urcu_memb_call_rcu(&old->hdr, rcu_free);
#elif defined(BENCH_IMPL_URCU_MEMB_SYNC)
  rcu_assign_pointer(shared, n);
  urcu_memb_synchronize_rcu();
  table_free(old);
#elif defined(BENCH_IMPL_URCU_QSBR)
  rcu_assign_pointer(shared, n);
  urcu_qsbr_synchronize_rcu();
  table_free(old);
#elif defined(BENCH_IMPL_CK_EPOCH)
  /* release: pairs with the readers' acquire load in bench_loop. */
  atomic_store_explicit(&shared, n, memory_order_release);
  ck_epoch_call(&ck_wrec, &old->hdr, ck_free);
  ck_epoch_poll(&ck_wrec);
#elif defined(BENCH_IMPL_FLOOR)
  /* release: pairs with the readers' acquire load in bench_loop. */
  atomic_store_explicit(&shared, n, memory_order_release);
  int64_t now = bench_now_ns();
  old->hdr.next = NULL;
  old->hdr.due_ns = now + floor_delay_ns();
  if (fq_tail)
    fq_tail->hdr.next = old;
  else
    fq_head = old;
  fq_tail = old;
  floor_reclaim(now);
#endif
  wr.cur = n;
}

/* Copy, change, publish, reclaim; with the writer's statistics. */
static void publish_one(void) {
  int64_t ta = bench_now_ns();
  struct table *n = table_next(wr.cur);
  int64_t tb = bench_now_ns();
  publish(n);
  int64_t tc = bench_now_ns();
  wr.copy_ns += tb - ta;
  wr.pub_ns += tc - tb;
  if (tc - tb > wr.pub_max_ns)
    wr.pub_max_ns = tc - tb;
  wr.publishes++;
  /* Replaced tables (made - 1: all but the current) not yet freed. */
  uint64_t f = atomic_load_explicit(&freed, memory_order_relaxed); /* count */
  uint64_t unreclaimed = wr.made - 1 - f;
  if (unreclaimed > wr.peak_unreclaimed)
    wr.peak_unreclaimed = unreclaimed;
}

static void writer_register(void) {
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_register_thread(); /* call_rcu wants a registered caller */
#endif
}

static void writer_unregister(void) {
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_unregister_thread();
#endif
}

/* Publish the initial table (no reader or writer thread exists yet). */
static void impl_setup(struct table *t) {
#if defined(BENCH_IMPL_SMR_SWAP)
  struct smr_swap_attr a = {.threshold = opt.threshold};
  BENCH_CHECK(smr_swap_create(t, swap_destroy, &a, &cell));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_domain_attr a = {.threshold = opt.threshold};
  BENCH_CHECK(smr_domain_create(&a, &dom));
  /* relaxed: thread creation publishes it to the readers. */
  atomic_store_explicit(&shared, t, memory_order_relaxed);
#elif defined(HAVE_RWLOCK)
#if defined(BENCH_IMPL_RWLOCK_WPREF)
  pthread_rwlockattr_t ra;
  BENCH_CHECK(pthread_rwlockattr_init(&ra));
  BENCH_CHECK(pthread_rwlockattr_setkind_np(
      &ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
  BENCH_CHECK(pthread_rwlock_init(&rwl, &ra));
  BENCH_CHECK(pthread_rwlockattr_destroy(&ra));
#else
  BENCH_CHECK(pthread_rwlock_init(&rwl, NULL));
#endif
  shared = t;
#elif defined(BENCH_IMPL_MUTEX)
  BENCH_CHECK(pthread_mutex_init(&mtx, NULL));
  shared = t;
#elif defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
  rcu_assign_pointer(shared, t);
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_init(&ck_ep);
  memset(&ck_wrec, 0, sizeof ck_wrec);
  ck_epoch_register(&ck_ep, &ck_wrec, NULL);
  atomic_store_explicit(&shared, t, memory_order_relaxed); /* as above */
#elif defined(BENCH_IMPL_FLOOR)
  fq_head = fq_tail = NULL;
  atomic_store_explicit(&shared, t, memory_order_relaxed); /* as above */
#endif
  wr.cur = t;
}

/* After every thread has been joined: reclaim everything, current included. */
static void impl_teardown(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_destroy(cell)); /* current and retired tables */
#elif defined(BENCH_IMPL_SMR_EPOCH)
  table_free(wr.cur);
  BENCH_CHECK(smr_domain_destroy(dom)); /* reclaims what is still retired */
#elif defined(HAVE_RWLOCK)
  table_free(wr.cur);
  BENCH_CHECK(pthread_rwlock_destroy(&rwl));
#elif defined(BENCH_IMPL_MUTEX)
  table_free(wr.cur);
  BENCH_CHECK(pthread_mutex_destroy(&mtx));
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_barrier(); /* every call_rcu callback has run */
  table_free(wr.cur);
#elif defined(BENCH_IMPL_URCU_MEMB_SYNC) || defined(BENCH_IMPL_URCU_QSBR)
  table_free(wr.cur);
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_barrier(&ck_wrec); /* dispatches every pending callback */
  ck_epoch_unregister(&ck_wrec);
  table_free(wr.cur);
#elif defined(BENCH_IMPL_FLOOR)
  floor_reclaim(INT64_MAX); /* no reader is left */
  table_free(wr.cur);
#endif
  wr.cur = NULL;
}

static const char *mode_name(void) {
  int m = 0;
#if defined(HAVE_SMR)
  struct smr_fence_info fi;
  BENCH_CHECK(smr_fence_init(&fi)); /* also keeps the one-time init out */
  m = (int)fi.mode;
#endif
  return bench_mode_name(m);
}

/* ---- threads ------------------------------------------------------------- */

static pthread_barrier_t start_barrier;

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}

static int phase_now(void) {
  /* relaxed: see the declaration of phase. */
  return atomic_load_explicit(&phase, memory_order_relaxed);
}

static int stopped(void) {
  return phase_now() == PHASE_STOP;
}

/* Scenario 3: spin until *ctr >= target; 0 if the run was stopped first.
 * Spins, then yields (never sleeps).  The qsbr reader announces quiescent
 * states while it waits: the writer's synchronize_rcu waits for one. */
static int wait_for(atomic_ullong *ctr, uint64_t target, int is_reader) {
  (void)is_reader;
  for (unsigned spins = 0;; spins++) {
    /* relaxed: see the declaration of ratio_reads. */
    if (atomic_load_explicit(ctr, memory_order_relaxed) >= target)
      return 1;
    if (stopped())
      return 0;
#if defined(BENCH_IMPL_URCU_QSBR)
    if (is_reader)
      urcu_qsbr_quiescent_state();
#endif
    if (spins < 64)
      cpu_relax();
    else
      sched_yield();
  }
}

/* A thread's measurement window: opened at the first batch, round or
 * publish boundary after main switches to PHASE_MEASURE. */
struct window {
  int open;
  uint64_t base; /* the thread's operation count when it opened */
  int64_t cpu0, t0;
};

static int window_check(struct window *w, uint64_t count) {
  if (!w->open && phase_now() == PHASE_MEASURE) {
    w->open = 1;
    w->base = count;
    w->cpu0 = thread_cpu_ns();
    w->t0 = bench_now_ns();
    return 1;
  }
  return 0;
}

static void *reader_main(void *arg) {
  struct reader *rd = arg;
  struct window w = {0, 0, 0, 0};
  reader_register(rd);
  int rc = pthread_barrier_wait(&start_barrier);
  if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
    abort();
  if (opt.ratio_r) {
    for (uint64_t k = 1;; k++) {
      if (!wait_for(&ratio_writes, (k - 1) * opt.ratio_w, 1))
        break;
      window_check(&w, rd->lookups);
      bench_loop(rd, opt.ratio_r);
      rd->lookups += opt.ratio_r;
      /* relaxed: see the declaration of ratio_reads. */
      atomic_store_explicit(&ratio_reads, rd->lookups, memory_order_relaxed);
      /* release: pairs with the floor writer's acquire load. */
      atomic_store_explicit(&rd->progress, rd->lookups, memory_order_release);
    }
  } else {
    while (!stopped()) {
      window_check(&w, rd->lookups);
      bench_loop(rd, BATCH);
      rd->lookups += BATCH;
      /* release: pairs with the floor writer's acquire load. */
      atomic_store_explicit(&rd->progress, rd->lookups, memory_order_release);
    }
  }
  rd->t_end = bench_now_ns();
  rd->t_start = w.open ? w.t0 : rd->t_end;
  rd->cpu_ns = w.open ? thread_cpu_ns() - w.cpu0 : 0;
  rd->measured = w.open ? rd->lookups - w.base : 0;
  reader_unregister(rd);
  return NULL;
}

/* The writer's window opens: restart its statistics. */
static void writer_window(struct window *w) {
  if (window_check(w, wr.publishes)) {
    wr.copy_ns = wr.pub_ns = wr.pub_max_ns = 0;
    uint64_t f = atomic_load_explicit(&freed, memory_order_relaxed); /* count */
    wr.peak_unreclaimed = wr.made - 1 - f;
  }
}

static void *writer_main(void *arg) {
  (void)arg;
  struct window w = {0, 0, 0, 0};
  writer_register();
  int rc = pthread_barrier_wait(&start_barrier);
  if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
    abort();
  if (opt.ratio_r) {
    for (uint64_t k = 1;; k++) {
      if (!wait_for(&ratio_reads, (k - 1) * opt.ratio_r, 0))
        break;
      writer_window(&w);
      for (unsigned j = 0; j < opt.ratio_w && !stopped(); j++)
        publish_one();
      /* relaxed: see the declaration of ratio_reads. */
      atomic_store_explicit(&ratio_writes, wr.publishes, memory_order_relaxed);
      if (stopped())
        break;
    }
  } else {
    int64_t next = bench_now_ns();
    const int64_t step = (int64_t)opt.interval_us * 1000;
    while (!stopped()) {
      writer_window(&w);
      publish_one();
      if (step) {
        /* Pacing of the publishes (the workload), not synchronisation. */
        int64_t now = bench_now_ns();
        next += step;
        if (next < now)
          next = now; /* late: no burst to catch up */
        struct timespec ts = {(time_t)(next / 1000000000),
                              (long)(next % 1000000000)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
               EINTR)
          ;
      }
    }
  }
  wr.t_end = bench_now_ns();
  wr.t_start = w.open ? w.t0 : wr.t_end;
  wr.cpu_ns = w.open ? thread_cpu_ns() - w.cpu0 : 0;
  wr.measured = w.open ? wr.publishes - w.base : 0;
  writer_unregister();
  return NULL;
}

/* ---- one run ------------------------------------------------------------- */

struct result {
  double seconds;
  uint64_t lookups, publishes, misses, bad;
  double lookups_per_s, publishes_per_s, reader_cpu_ns, writer_cpu_us;
  double process_cpu_s, copy_us_mean, pub_us_mean, pub_us_max;
  uint64_t peak_unreclaimed;
  double rss_base_mb, rss_peak_mb;
  double minflt_per_publish; /* minor page faults of the process / publish */
  double ns_per_op, achieved_ratio; /* scenario 3 */
};

/* VmHWM and VmRSS in MiB from /proc/self/status (-1 where unreadable). */
static void read_rss(double *hwm, double *rss) {
  *hwm = *rss = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return;
  char line[256];
  long kb;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
      *hwm = (double)kb / 1024;
    else if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      *rss = (double)kb / 1024;
  }
  fclose(f);
}

/* Reset the peak RSS (Linux >= 4.0); 1 on success. */
static int reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return 0;
  int ok = fputs("5", f) >= 0;
  ok = (fclose(f) == 0) && ok;
  return ok;
}

static int rss_reset_ok = 1;

static int64_t process_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep until the CLOCK_MONOTONIC time t (ns): main's run timing. */
static void sleep_until(int64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

static void run_once(int k, struct result *res) {
  memset(&wr, 0, sizeof wr);
  wr.rng = 0x5eed0000ull + (uint64_t)k;
  /* relaxed: no other thread exists at this point. */
  atomic_store_explicit(&freed, 0, memory_order_relaxed);
  atomic_store_explicit(&phase, PHASE_WARMUP, memory_order_relaxed);
  atomic_store_explicit(&ratio_reads, 0, memory_order_relaxed);
  atomic_store_explicit(&ratio_writes, 0, memory_order_relaxed);

  impl_setup(table_build());
  nreaders = opt.readers;
  readers = aligned_alloc(64, sizeof(struct reader) * (size_t)nreaders);
  if (!readers)
    abort();
  memset(readers, 0, sizeof(struct reader) * (size_t)nreaders);
  for (int i = 0; i < nreaders; i++) {
    readers[i].st.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + (uint64_t)k;
    atomic_store_explicit(&readers[i].progress, 0, memory_order_relaxed);
  }
  double hwm, rss_base;
  read_rss(&hwm, &rss_base);

  BENCH_CHECK(
      pthread_barrier_init(&start_barrier, NULL, (unsigned)nreaders + 2));
  pthread_t writer;
  for (int i = 0; i < nreaders; i++)
    BENCH_CHECK(
        pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]));
  BENCH_CHECK(pthread_create(&writer, NULL, writer_main, NULL));
  int rc = pthread_barrier_wait(&start_barrier);
  if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
    abort();
  /* Warm-up (not measured): the allocator and the reclamation reach their
   * steady state (a domain that collects every 64 retirements needs 64
   * publishes before its first collection). */
  if (opt.warmup > 0)
    sleep_until(bench_now_ns() + (int64_t)(opt.warmup * 1e9));
  if (!reset_peak_rss())
    rss_reset_ok = 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  int64_t pc0 = process_cpu_ns();
  int64_t t0 = bench_now_ns();
  /* relaxed: see the declaration of phase. */
  atomic_store_explicit(&phase, PHASE_MEASURE, memory_order_relaxed);
  sleep_until(t0 + (int64_t)(opt.seconds * 1e9));
  atomic_store_explicit(&phase, PHASE_STOP, memory_order_relaxed); /* same */
  for (int i = 0; i < nreaders; i++)
    BENCH_CHECK(pthread_join(readers[i].thread, NULL));
  BENCH_CHECK(pthread_join(writer, NULL));
  int64_t pc1 = process_cpu_ns();
  getrusage(RUSAGE_SELF, &ru1);
  BENCH_CHECK(pthread_barrier_destroy(&start_barrier));

  /* Rates are per thread over its own window, summed over the readers. */
  memset(res, 0, sizeof *res);
  int64_t rcpu = 0, w_start = wr.t_start, w_end = wr.t_end;
  for (int i = 0; i < nreaders; i++) {
    const struct reader *rd = &readers[i];
    if (rd->t_start < w_start)
      w_start = rd->t_start;
    if (rd->t_end > w_end)
      w_end = rd->t_end;
    res->lookups += rd->measured;
    if (rd->t_end > rd->t_start)
      res->lookups_per_s +=
          (double)rd->measured * 1e9 / (double)(rd->t_end - rd->t_start);
    res->misses += rd->st.miss; /* verification covers the warm-up too */
    res->bad += rd->st.bad;
    rcpu += rd->cpu_ns;
  }
  double rss_now;
  read_rss(&hwm, &rss_now);
  res->rss_base_mb = rss_base;
  res->rss_peak_mb = hwm;
  if (!rss_reset_ok || hwm < 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->rss_peak_mb = (double)ru.ru_maxrss / 1024; /* kB on Linux */
  }

  impl_teardown();
  free(readers);
  readers = NULL;
  unsigned long f = atomic_load_explicit(&freed, memory_order_relaxed);
  if (f != wr.made) {
    fprintf(stderr, "%s: %lu tables freed, %llu allocated\n", IMPL_NAME, f,
            (unsigned long long)wr.made);
    exit(1);
  }

  res->seconds = (double)(w_end - w_start) * 1e-9;
  res->publishes = wr.measured;
  if (wr.t_end > wr.t_start)
    res->publishes_per_s =
        (double)wr.measured * 1e9 / (double)(wr.t_end - wr.t_start);
  res->reader_cpu_ns = res->lookups ? (double)rcpu / (double)res->lookups : 0.0;
  double np = wr.measured ? (double)wr.measured : 1.0;
  res->writer_cpu_us = (double)wr.cpu_ns / np * 1e-3;
  res->process_cpu_s = (double)(pc1 - pc0) * 1e-9;
  res->copy_us_mean = (double)wr.copy_ns / np * 1e-3;
  res->pub_us_mean = (double)wr.pub_ns / np * 1e-3;
  res->pub_us_max = (double)wr.pub_max_ns * 1e-3;
  res->peak_unreclaimed = wr.peak_unreclaimed;
  res->minflt_per_publish = (double)(ru1.ru_minflt - ru0.ru_minflt) / np;
  uint64_t ops = res->lookups + res->publishes;
  res->ns_per_op = ops ? (double)(w_end - w_start) / (double)ops : 0.0;
  res->achieved_ratio =
      res->publishes ? (double)res->lookups / (double)res->publishes : 0.0;
}

/* ---- output -------------------------------------------------------------- */

static size_t table_cap(void) {
  size_t cap = 16;
  while (cap < opt.entries + opt.entries / 4)
    cap <<= 1;
  return cap;
}

/* The fields every line of one configuration starts with. */
static void print_head(const char *mode) {
  printf("{\"bench\":\"lookup\",\"scenario\":\"%s\",\"impl\":\"%s\","
         "\"mode\":\"%s\",\"readers\":%d,\"interval_us\":%llu,",
         opt.ratio_r ? "ratio" : "load", IMPL_NAME, mode, opt.readers,
         (unsigned long long)opt.interval_us);
  if (opt.ratio_r)
    printf("\"ratio\":\"%u:%u\",\"reads_per_round\":%u,"
           "\"writes_per_round\":%u,",
           opt.ratio_r, opt.ratio_w, opt.ratio_r, opt.ratio_w);
  printf("\"entries\":%zu,\"table_bytes\":%zu,\"threshold\":%zu,"
         "\"floor_delay_ms\":%g,\"warmup_s\":%g,\"smoke\":%s,",
         opt.entries, table_bytes(table_cap()), opt.threshold,
         opt.floor_delay_ms, opt.warmup, opt.smoke ? "true" : "false");
}

static void print_run(const char *mode, int k, const struct result *r) {
  print_head(mode);
  printf("\"run\":%d,\"seconds\":%.4f,\"lookups\":%llu,\"publishes\":%llu,"
         "\"lookups_per_s\":%.1f,\"publishes_per_s\":%.2f,"
         "\"reader_cpu_ns_per_lookup\":%.3f,\"writer_cpu_us_per_publish\":%.3f,"
         "\"process_cpu_s\":%.4f,\"copy_us_mean\":%.3f,"
         "\"publish_us_mean\":%.3f,\"publish_us_max\":%.3f,"
         "\"peak_unreclaimed\":%llu,\"rss_base_mb\":%.1f,\"peak_rss_mb\":%.1f,"
         "\"rss_reset\":%s,\"minflt_per_publish\":%.1f,",
         k, r->seconds, (unsigned long long)r->lookups,
         (unsigned long long)r->publishes, r->lookups_per_s, r->publishes_per_s,
         r->reader_cpu_ns, r->writer_cpu_us, r->process_cpu_s, r->copy_us_mean,
         r->pub_us_mean, r->pub_us_max, (unsigned long long)r->peak_unreclaimed,
         r->rss_base_mb, r->rss_peak_mb, rss_reset_ok ? "true" : "false",
         r->minflt_per_publish);
  if (opt.ratio_r)
    printf("\"ns_per_op\":%.3f,\"achieved_ratio\":%.6g,", r->ns_per_op,
           r->achieved_ratio);
  printf("\"misses\":%llu,\"errors\":%llu}\n", (unsigned long long)r->misses,
         (unsigned long long)r->bad);
}

/* Median/min/max of one double field of struct result over the runs. */
static struct bench_stats stats_of(const struct result *res, double *tmp,
                                   size_t off) {
  for (int i = 0; i < opt.runs; i++)
    tmp[i] = *(const double *)((const char *)&res[i] + off);
  return bench_stats_of(tmp, opt.runs);
}

static void print_stat(const char *name, struct bench_stats s,
                       const char *fmt) {
  char buf[160];
  snprintf(buf, sizeof buf, "\"median_%%s\":%s,\"min_%%s\":%s,\"max_%%s\":%s,",
           fmt, fmt, fmt);
  printf(buf, name, s.median, name, s.min, name, s.max);
}

int main(int argc, char **argv) {
  parse_opts(argc, argv);
  const char *mode = mode_name(); /* also keeps smr_fence_init's cost out */
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_register_thread(); /* main calls urcu_memb_barrier at teardown */
#endif
  pool_build(opt.entries);

  struct result *res = calloc((size_t)opt.runs, sizeof *res);
  double *tmp = malloc(sizeof(double) * (size_t)opt.runs);
  if (!res || !tmp)
    abort();
  uint64_t misses = 0, bad = 0, peak_unrec = 0;
  for (int k = 0; k < opt.runs; k++) {
    run_once(k, &res[k]);
    print_run(mode, k, &res[k]);
    fflush(stdout);
    misses += res[k].misses;
    bad += res[k].bad;
    if (res[k].peak_unreclaimed > peak_unrec)
      peak_unrec = res[k].peak_unreclaimed;
  }
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_unregister_thread();
#endif

#define ST(f) stats_of(res, tmp, offsetof(struct result, f))
  struct bench_stats lps = ST(lookups_per_s), pps = ST(publishes_per_s),
                     cpu = ST(reader_cpu_ns), pmax = ST(pub_us_max),
                     pmean = ST(pub_us_mean), rss = ST(rss_peak_mb),
                     nsop = ST(ns_per_op), ach = ST(achieved_ratio),
                     copy = ST(copy_us_mean);
#undef ST
  print_head(mode);
  printf("\"summary\":true,\"runs\":%d,", opt.runs);
  print_stat("lookups_per_s", lps, "%.1f");
  print_stat("publishes_per_s", pps, "%.2f");
  print_stat("reader_cpu_ns_per_lookup", cpu, "%.3f");
  print_stat("copy_us_mean", copy, "%.3f");
  print_stat("publish_us_mean", pmean, "%.3f");
  print_stat("publish_us_max", pmax, "%.3f");
  print_stat("peak_rss_mb", rss, "%.1f");
  if (opt.ratio_r) {
    print_stat("ns_per_op", nsop, "%.3f");
    print_stat("achieved_ratio", ach, "%.6g");
  }
  printf("\"peak_unreclaimed\":%llu,\"misses\":%llu,\"errors\":%llu}\n",
         (unsigned long long)peak_unrec, (unsigned long long)misses,
         (unsigned long long)bad);

  if (opt.ratio_r) {
    printf("ratio sweep: one reader, one writer, %zu-entry table (%zu KiB, "
           "small so that publishes are not dominated by copying)\n",
           opt.entries, table_bytes(table_cap()) / 1024);
    printf("%-18s %-10s %7s %5s %10s %10s %10s %10s %12s %12s\n", "impl",
           "mode", "ratio", "runs", "median ns", "min ns", "max ns", "achieved",
           "reads/s", "writes/s");
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%u:%u", opt.ratio_r, opt.ratio_w);
    printf("%-18s %-10s %7s %5d %10.1f %10.1f %10.1f %10.4g %12.0f %12.0f\n",
           IMPL_NAME, mode, ratio, opt.runs, nsop.median, nsop.min, nsop.max,
           ach.median, lps.median, pps.median);
  } else {
    printf("%-18s %-10s %3s %7s %4s %12s %12s %12s %9s %9s %9s %9s %6s %8s\n",
           "impl", "mode", "R", "int_us", "runs", "lookups/s", "min", "max",
           "pub/s", "cpu ns/lk", "pub us", "pubmax us", "unrec", "rss MB");
    printf("%-18s %-10s %3d %7llu %4d %12.0f %12.0f %12.0f %9.1f %9.1f %9.1f "
           "%9.1f %6llu %8.1f\n",
           IMPL_NAME, mode, opt.readers, (unsigned long long)opt.interval_us,
           opt.runs, lps.median, lps.min, lps.max, pps.median, cpu.median,
           pmean.median, pmax.max, (unsigned long long)peak_unrec, rss.max);
  }
  free(res);
  free(tmp);
  pool_free();
  if (misses || bad) {
    fprintf(stderr,
            "%s: VERIFICATION FAILED: %llu misses, %llu bad lookups "
            "(wrong value, freed or older table)\n",
            IMPL_NAME, (unsigned long long)misses, (unsigned long long)bad);
    return 1;
  }
  return 0;
}
