/* SPDX-License-Identifier: MIT */
/* bench_write: cost per publish of a 64-byte value, reclamation included
 * (scenario 4).
 *
 * One writer thread publishes N freshly malloc'ed values; each publish makes
 * the previous value garbage, which the implementation reclaims (frees).  No
 * reader is ever inside a read section.  Two variants per implementation:
 *   foreign_readers=0  no reader registered besides what the writer itself
 *                      needs (the ck record and the urcu registration of the
 *                      writer; liburcu's call_rcu thread registers itself)
 *   foreign_readers=1  one more reader registered on another thread that
 *                      stays idle, blocked on a condition variable, outside
 *                      any read section (for the locks and the floor: just
 *                      an idle thread, which also makes glibc's malloc use
 *                      its atomics as it does in every other row)
 * The time of a run covers the N publishes plus the final drain that
 * reclaims what is still pending (smr_swap_collect, smr_barrier,
 * ck_epoch_barrier, rcu_barrier, the floor's queue), so deferred work is not
 * left out; it is reported per publish.
 *
 * Compiled once per implementation; exactly one BENCH_IMPL_* is defined:
 *   FLOOR           the floor: a plain atomic pointer (release store,
 *                   readers would use acquire loads) and no reader tracking
 *                   at all: old values are freed only after a fixed delay
 *                   (--floor-delay-ms, default 100) from a FIFO of
 *                   (time, values).  The clock is read once per batch of 64
 *                   retired values, when the batch is full, so every value
 *                   waits at least the delay.  The timed drain frees what is
 *                   left at once, without waiting out the delay (no reader
 *                   exists; sleeping inside the timed region would measure
 *                   the sleep).  With the default delay and 1e6 publishes,
 *                   a run is shorter than the delay, so nothing is freed
 *                   before the drain: the floor holds every value of the
 *                   run (peak = iters) and pays for fresh memory (page
 *                   faults, cold frees): it can cost more than a scheme
 *                   that recycles memory.  --floor-delay-ms 0 frees each
 *                   batch as soon as it is full (no reader could survive
 *                   that: not a scheme, only the cost of malloc + publish +
 *                   free); it is reported as floor_nodelay (and another
 *                   delay as floor_<N>ms).
 *   SMR_SWAP        smr_swap_store; the cell's destructor frees the value
 *                   (default threshold 256)
 *   SMR_EPOCH       atomic pointer store + smr_retire with an embedded
 *                   struct smr_retired header; automatic threshold
 *                   collection (default 64)
 *   CK_EPOCH        ck_epoch_call + ck_epoch_poll after each call
 *   URCU_MEMB_CALLRCU  call_rcu with a free callback (frees on
 *                   liburcu's call_rcu helper thread)
 *   URCU_MEMB_SYNC  rcu_assign_pointer, urcu_memb_synchronize_rcu, free
 *   URCU_QSBR       rcu_assign_pointer, urcu_qsbr_synchronize_rcu, free
 *                   (the idle foreign reader is offline, as QSBR requires
 *                   of a thread that blocks)
 *   RWLOCK          pthread_rwlock_wrlock; swap the pointer; unlock; free
 *   MUTEX           pthread_mutex_lock; swap the pointer; unlock; free
 *
 * The payload is 64 bytes; smr_epoch, ck_epoch and urcu_memb_callrcu
 * embed their retire header next to it in the same allocation (as their
 * APIs intend); the others allocate exactly the 64 bytes (the swap cell
 * wraps the value in a node of its own).
 *
 * Retired values held: measured in one extra untimed run per variant.
 *   peak_held  counted by the benchmark for every implementation: values
 *              unlinked minus values freed (the free callbacks and
 *              destructors count with an atomic counter), sampled just
 *              before each old value is handed to the implementation (the
 *              one being handed over included), which is the maximum: it
 *              can only fall until the next hand-over.  So the synchronous
 *              rows show 1 (the value waiting for its grace period or for
 *              the lock), ck_epoch 1 when its poll dispatches at once.
 *   peak_api   the implementation's own count sampled after each publish:
 *              smr_swap_garbage_count, smr_garbage_count, ck's
 *              record->n_pending; null where none is exposed.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench_impl.h"

#if !(defined(BENCH_IMPL_FLOOR) || defined(BENCH_IMPL_SMR_SWAP) ||             \
      defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_CK_EPOCH) ||         \
      defined(BENCH_IMPL_URCU_MEMB_CALLRCU) ||                                 \
      defined(BENCH_IMPL_URCU_MEMB_SYNC) || defined(BENCH_IMPL_URCU_QSBR) ||   \
      defined(LOCK_ANY))
#error "bench_write: no such implementation (see bench/CMakeLists.txt)"
#endif

#if defined(BENCH_IMPL_URCU_MEMB_SYNC) || defined(BENCH_IMPL_URCU_QSBR)
#define SYNC_RCU 1 /* one grace period per publish */
#endif

#include "bench_common.h"
#include "bench_val.h"

#ifdef SYNC_RCU
/* A grace period per publish costs microseconds (membarrier, futex). */
#define DEFAULT_ITERS 10000ull
#define SMOKE_ITERS   200ull
#else
#define DEFAULT_ITERS 1000000ull /* 1e6 publishes per run */
#define SMOKE_ITERS   10000ull
#endif

static struct val *val_new(uint64_t i) {
  struct val *v = malloc(sizeof *v);
  if (!v)
    abort();
  memset(v->data, (int)(i & 0xff), PAYLOAD);
  return v;
}

/* Reclaimed values: counted so the run can check that each was freed once,
 * and for peak_held (relaxed: a plain event counter; the drain's own
 * synchronisation orders the increments before the final check, and the
 * peak sampling tolerates a stale value, which can only overstate what is
 * held). */
static atomic_ulong freed;

static inline void val_free_now(struct val *v) {
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free(v);
}

/* ---- the floor's delayed-free FIFO ---------------------------------------
 * Batches of retired values; a full batch is stamped with the clock and
 * appended, and batches whose stamp is older than the delay are freed. */
#define FLOOR_DEFAULT_DELAY_MS 100 /* --floor-delay-ms */
#if defined(BENCH_IMPL_FLOOR)
#define FLOOR_BATCH 64

struct floor_batch {
  struct floor_batch *next;
  int64_t t; /* clock when the batch filled: after each of its retires */
  unsigned n;
  struct val *v[FLOOR_BATCH];
};

static struct floor_q {
  struct floor_batch *head, *tail; /* stamped batches, oldest first */
  struct floor_batch *open;        /* filling, not stamped yet */
  struct floor_batch *spare;       /* one recycled batch */
  int64_t delay_ns;
} floor_q;

static void floor_free_batch(struct floor_batch *b) {
  for (unsigned k = 0; k < b->n; k++)
    val_free_now(b->v[k]);
  b->n = 0;
  if (!floor_q.spare)
    floor_q.spare = b;
  else
    free(b);
}

static void floor_retire(struct val *old) {
  struct floor_batch *b = floor_q.open;
  if (!b) {
    b = floor_q.spare ? floor_q.spare : malloc(sizeof *b);
    if (!b)
      abort();
    floor_q.spare = NULL;
    b->n = 0;
    b->next = NULL;
    floor_q.open = b;
  }
  b->v[b->n++] = old;
  if (b->n < FLOOR_BATCH)
    return;
  /* Full: stamp, append, and free what has waited long enough. */
  int64_t now = bench_now_ns();
  b->t = now;
  b->next = NULL;
  if (floor_q.tail)
    floor_q.tail->next = b;
  else
    floor_q.head = b;
  floor_q.tail = b;
  floor_q.open = NULL;
  while (floor_q.head && now - floor_q.head->t >= floor_q.delay_ns) {
    struct floor_batch *h = floor_q.head;
    floor_q.head = h->next;
    if (!floor_q.head)
      floor_q.tail = NULL;
    floor_free_batch(h);
  }
}

/* Free everything queued, without waiting (the drain; see the top). */
static void floor_drain(void) {
  while (floor_q.head) {
    struct floor_batch *h = floor_q.head;
    floor_q.head = h->next;
    floor_free_batch(h);
  }
  floor_q.tail = NULL;
  if (floor_q.open) {
    struct floor_batch *b = floor_q.open;
    floor_q.open = NULL;
    floor_free_batch(b);
  }
  free(floor_q.spare);
  floor_q.spare = NULL;
}
#endif

/* ---- state of one run --------------------------------------------------- */

struct ctx {
#if defined(BENCH_IMPL_SMR_SWAP)
  smr_swap *cell;
  smr_swap_reader *foreign;
#elif defined(BENCH_IMPL_SMR_EPOCH)
  smr_domain *d;
  smr_reader *foreign;
#endif
  int nforeign;
  /* The idle foreign reader thread: state 0 starting, 1 registered (waiting
   * for stop), 2 stop requested.  Guarded by m. */
  pthread_t thread;
  pthread_mutex_t m;
  pthread_cond_t cv;
  int state;
};

#if defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
static struct val *shared; /* rcu_assign_pointer / rcu_dereference */
#elif !defined(BENCH_IMPL_SMR_SWAP)
static _Atomic(struct val *) shared;
#endif

#if defined(BENCH_IMPL_CK_EPOCH)
static ck_epoch_t ck_ep;
static ck_epoch_record_t ck_writer, ck_foreign;
#elif defined(BENCH_IMPL_RWLOCK)
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
#elif defined(BENCH_IMPL_MUTEX)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#endif

static void *idle_main(void *arg) {
  struct ctx *c = arg;
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_reader_create(c->cell, &c->foreign));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_reader_register(c->d, &c->foreign));
#elif defined(BENCH_IMPL_CK_EPOCH)
  memset(&ck_foreign, 0, sizeof ck_foreign);
  ck_epoch_register(&ck_ep, &ck_foreign, NULL);
#elif defined(URCU_MEMB_ANY)
  urcu_memb_register_thread();
#elif defined(BENCH_IMPL_URCU_QSBR)
  urcu_qsbr_register_thread();
  /* A QSBR thread that blocks goes offline first, or grace periods would
   * wait for it until it wakes up. */
  urcu_qsbr_thread_offline();
#endif
  pthread_mutex_lock(&c->m);
  c->state = 1;
  pthread_cond_broadcast(&c->cv);
  while (c->state != 2)
    pthread_cond_wait(&c->cv, &c->m);
  pthread_mutex_unlock(&c->m);
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_reader_destroy(c->foreign));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_reader_unregister(c->foreign));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&ck_foreign);
#elif defined(URCU_MEMB_ANY)
  urcu_memb_unregister_thread();
#elif defined(BENCH_IMPL_URCU_QSBR)
  urcu_qsbr_thread_online();
  urcu_qsbr_unregister_thread();
#endif
  return NULL;
}

static void setup(struct ctx *c, int nforeign) {
  memset(c, 0, sizeof *c);
  c->nforeign = nforeign;
  atomic_store_explicit(&freed, 0, memory_order_relaxed); /* no thread yet */
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_create(val_new(0), val_destroy, NULL, &c->cell));
#elif defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
  rcu_assign_pointer(shared, val_new(0));
#else
#if defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_domain_create(NULL, &c->d));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_init(&ck_ep);
  memset(&ck_writer, 0, sizeof ck_writer);
  ck_epoch_register(&ck_ep, &ck_writer, NULL);
#endif
  /* relaxed: no reader exists yet; thread creation publishes it. */
  atomic_store_explicit(&shared, val_new(0), memory_order_relaxed);
#endif
  if (nforeign) {
    BENCH_CHECK(pthread_mutex_init(&c->m, NULL));
    BENCH_CHECK(pthread_cond_init(&c->cv, NULL));
    BENCH_CHECK(pthread_create(&c->thread, NULL, idle_main, c));
    pthread_mutex_lock(&c->m);
    while (c->state != 1)
      pthread_cond_wait(&c->cv, &c->m);
    pthread_mutex_unlock(&c->m);
  }
}

/* Stop the idle reader, free the current value, destroy the domain/cell.
 * Returns how many values were reclaimed in all (the check in main). */
static unsigned long teardown(struct ctx *c) {
  if (c->nforeign) {
    pthread_mutex_lock(&c->m);
    c->state = 2;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->m);
    BENCH_CHECK(pthread_join(c->thread, NULL));
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->m);
  }
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_destroy(c->cell)); /* destroys the current value too */
#else
#if defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
  struct val *cur = shared; /* only this thread stores shared */
#else
  /* relaxed: only this thread stores shared; nothing reads it any more. */
  struct val *cur = atomic_load_explicit(&shared, memory_order_relaxed);
#endif
  val_free_now(cur);
#if defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_domain_destroy(c->d));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&ck_writer);
#endif
#endif
  return atomic_load_explicit(&freed, memory_order_relaxed);
}

/* One publish: new value in, old value retired (reclaimed now or later). */
static inline void publish(struct ctx *c, uint64_t i) {
  struct val *v = val_new(i);
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_store(c->cell, v) != 0)
    abort();
#elif defined(URCU_MEMB_ANY) || defined(BENCH_IMPL_URCU_QSBR)
  (void)c;
  struct val *old = shared; /* only this thread writes shared */
  rcu_assign_pointer(shared, v);
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_call_rcu(&old->head, val_free);
#elif defined(BENCH_IMPL_URCU_MEMB_SYNC)
  urcu_memb_synchronize_rcu();
  val_free_now(old);
#else
  urcu_qsbr_synchronize_rcu();
  val_free_now(old);
#endif
#elif defined(LOCK_ANY)
  (void)c;
#ifdef BENCH_IMPL_RWLOCK
  pthread_rwlock_wrlock(&lock);
#else
  pthread_mutex_lock(&lock);
#endif
  /* relaxed: the lock orders both (readers load under the lock). */
  struct val *old = atomic_load_explicit(&shared, memory_order_relaxed);
  atomic_store_explicit(&shared, v, memory_order_relaxed);
#ifdef BENCH_IMPL_RWLOCK
  pthread_rwlock_unlock(&lock);
#else
  pthread_mutex_unlock(&lock);
#endif
  val_free_now(old); /* no reader can reach it once the lock is released */
#else
  /* relaxed: only this thread stores shared. */
  struct val *old = atomic_load_explicit(&shared, memory_order_relaxed);
  /* release: pairs with the acquire load of a reader (none reads here, but
   * this is the publish the benchmark prices). */
  atomic_store_explicit(&shared, v, memory_order_release);
#if defined(BENCH_IMPL_SMR_EPOCH)
  if (smr_retire(c->d, &old->hdr, val_free) != 0)
    abort();
#elif defined(BENCH_IMPL_CK_EPOCH)
  (void)c;
  ck_epoch_call(&ck_writer, &old->entry, val_free);
  ck_epoch_poll(&ck_writer);
#elif defined(BENCH_IMPL_FLOOR)
  (void)c;
  floor_retire(old);
#endif
#endif
}

/* Reclaim everything still pending (part of the timed work). */
static void drain(struct ctx *c) {
  (void)c;
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_collect(c->cell) < 0)
    abort();
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_barrier(c->d));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_barrier(&ck_writer);
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_barrier();
#elif defined(BENCH_IMPL_FLOOR)
  floor_drain();
#endif
  /* Synchronous rows (sync RCU, locks): nothing is ever pending. */
}

/* The implementation's own count of retired, unreclaimed values, or -1
 * where it does not expose one. */
static long pending_api(struct ctx *c) {
#if defined(BENCH_IMPL_SMR_SWAP)
  return (long)smr_swap_garbage_count(c->cell);
#elif defined(BENCH_IMPL_SMR_EPOCH)
  return (long)smr_garbage_count(c->d);
#elif defined(BENCH_IMPL_CK_EPOCH)
  (void)c;
  return (long)ck_writer.n_pending;
#else
  (void)c;
  return -1;
#endif
}

/* The timed loop: n publishes and the drain. */
BENCH_LOOP_ATTR void bench_loop(struct ctx *c, uint64_t n);

void bench_loop(struct ctx *c, uint64_t n) {
  for (uint64_t i = 1; i <= n; i++)
    publish(c, i);
  drain(c);
}

/* The untimed run that samples the garbage at every publish (see the top:
 * peak_held, peak_api). */
static void peak_loop(struct ctx *c, uint64_t n, long *held, long *api) {
  long peak = 0, peak_api = pending_api(c);
  for (uint64_t i = 1; i <= n; i++) {
    /* Publish i hands over the i-th retired value. */
    long h = (long)i - (long)atomic_load_explicit(&freed, memory_order_relaxed);
    if (h > peak)
      peak = h;
    publish(c, i);
    long p = pending_api(c);
    if (p > peak_api)
      peak_api = p;
  }
  drain(c);
  *held = peak;
  *api = peak_api;
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

/* The name in the output: IMPL_NAME, except for a floor with another delay
 * than the default (floor_nodelay for 0, floor_<N>ms otherwise), so that
 * both can sit in one table. */
static const char *impl_name = IMPL_NAME;

/* Check that every value published (n plus the initial one) was freed. */
static void check_freed(unsigned long got, uint64_t n) {
  if (got != n + 1) {
    fprintf(stderr, "%s: %lu values freed, expected %llu\n", impl_name, got,
            (unsigned long long)(n + 1));
    exit(1);
  }
}

int main(int argc, char **argv) {
  uint64_t floor_delay_ms = FLOOR_DEFAULT_DELAY_MS;
  struct bench_ext_opt ext[] = {
      {"--floor-delay-ms",
       "floor only: delay before a retired value is freed, ms", &floor_delay_ms,
       0},
  };
#if defined(BENCH_IMPL_FLOOR)
  size_t next = 1;
#else
  size_t next = 0; /* the floor's option only */
#endif
  struct bench_opts o =
      bench_parse_ext(argc, argv, DEFAULT_ITERS, SMOKE_ITERS, ext, next);
#if defined(BENCH_IMPL_FLOOR)
  floor_q.delay_ns = (int64_t)floor_delay_ms * 1000000;
  static char name[32];
  if (floor_delay_ms == 0)
    impl_name = "floor_nodelay";
  else if (floor_delay_ms != FLOOR_DEFAULT_DELAY_MS) {
    snprintf(name, sizeof name, "floor_%llums",
             (unsigned long long)floor_delay_ms);
    impl_name = name;
  }
  char extra[64];
  snprintf(extra, sizeof extra, ",\"floor_delay_ms\":%llu",
           (unsigned long long)floor_delay_ms);
#else
  const char *extra = "";
#endif
  const char *mode = mode_name(); /* also keeps the one-time init out */
#if defined(URCU_MEMB_ANY)
  urcu_memb_register_thread(); /* call_rcu needs a registered caller */
#endif
  double *ns = malloc(sizeof(double) * (size_t)o.runs);
  if (!ns)
    abort();
  struct bench_stats st[2];
  long peak[2], peak_api[2];
  struct ctx c;

  for (int nf = 0; nf <= 1; nf++) {
    if (o.warmup > 0) {
      setup(&c, nf);
      bench_loop(&c, (uint64_t)o.warmup);
      check_freed(teardown(&c), (uint64_t)o.warmup);
    }
    for (int k = 0; k < o.runs; k++) {
      setup(&c, nf);
      int64_t t0 = bench_now_ns();
      bench_loop(&c, o.iters);
      int64_t t1 = bench_now_ns();
      check_freed(teardown(&c), o.iters);
      ns[k] = (double)(t1 - t0) / (double)o.iters;
      printf("{\"bench\":\"write\",\"impl\":\"%s\",\"mode\":\"%s\","
             "\"foreign_readers\":%d,\"run\":%d,\"iters\":%llu,"
             "\"ns_per_op\":%.3f}\n",
             impl_name, mode, nf, k, (unsigned long long)o.iters, ns[k]);
    }
    st[nf] = bench_stats_of(ns, o.runs);
    setup(&c, nf);
    peak_loop(&c, o.iters, &peak[nf], &peak_api[nf]);
    check_freed(teardown(&c), o.iters);
    char pa[24];
    printf("{\"bench\":\"write\",\"impl\":\"%s\",\"mode\":\"%s\","
           "\"foreign_readers\":%d,\"summary\":true,\"iters\":%llu,"
           "\"runs\":%d,\"median_ns_per_op\":%.3f,\"min_ns_per_op\":%.3f,"
           "\"max_ns_per_op\":%.3f,\"peak_held\":%ld,\"peak_api\":%s%s}\n",
           impl_name, mode, nf, (unsigned long long)o.iters, o.runs,
           st[nf].median, st[nf].min, st[nf].max, peak[nf],
           bench_json_count(pa, sizeof pa, peak_api[nf]), extra);
  }
#if defined(URCU_MEMB_ANY)
  urcu_memb_unregister_thread();
#endif

  printf("%-17s %-10s %7s %10s %5s %10s %10s %10s %9s %9s\n", "impl", "mode",
         "foreign", "publishes", "runs", "median ns", "min ns", "max ns",
         "peak held", "peak api");
  for (int nf = 0; nf <= 1; nf++) {
    char pa[24];
    if (peak_api[nf] < 0)
      snprintf(pa, sizeof pa, "n/a");
    else
      snprintf(pa, sizeof pa, "%ld", peak_api[nf]);
    printf("%-17s %-10s %7d %10llu %5d %10.3f %10.3f %10.3f %9ld %9s\n",
           impl_name, mode, nf, (unsigned long long)o.iters, o.runs,
           st[nf].median, st[nf].min, st[nf].max, peak[nf], pa);
  }
  free(ns);
  return 0;
}
