/* bench_write: cost per publish of a 64-byte value, reclamation included.
 *
 * One writer thread publishes N freshly malloc'ed values; each publish makes
 * the previous value garbage, which the implementation reclaims (frees).  No
 * reader is ever inside a read section.  Two variants per implementation:
 *   foreign_readers=0  no reader registered besides what the writer itself
 *                      needs (the ck record and the urcu registration of the
 *                      writer; liburcu's call_rcu thread registers itself)
 *   foreign_readers=1  one more reader registered on another thread that
 *                      stays idle, blocked on a condition variable, outside
 *                      any read section
 * The time of a run covers the N publishes plus the final drain that
 * reclaims what is still pending (smr_swap_collect, smr_barrier,
 * ck_epoch_barrier, rcu_barrier), so deferred work is not left out; it is
 * reported per publish.
 *
 * Compiled once per implementation; exactly one BENCH_IMPL_* is defined:
 *   SMR_SWAP   smr_swap_store; the cell's destructor frees the value (default
 *              threshold 64)
 *   SMR_EPOCH  atomic pointer store + smr_retire with an embedded struct
 *              smr_retired header; automatic threshold collection (64)
 *   CK_EPOCH   ck_epoch_call + ck_epoch_poll after each call
 *   URCU_MEMB  call_rcu with a free callback (frees on liburcu's call_rcu
 *              helper thread)
 *
 * The payload is 64 bytes; smr_epoch, ck_epoch and urcu_memb embed their
 * retire header next to it in the same allocation (as their APIs intend),
 * smr_swap allocates exactly the 64 bytes (the cell wraps it in a node of
 * its own).  The peak retired-but-unreclaimed count is measured in one extra
 * untimed run, sampled after every publish: smr_swap_garbage_count,
 * smr_garbage_count, ck's record->n_pending; liburcu exposes none.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(BENCH_IMPL_URCU_MEMB)
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#define IMPL_NAME "urcu_memb"
#elif defined(BENCH_IMPL_CK_EPOCH)
#include <ck_epoch.h>
#define IMPL_NAME "ck_epoch"
#elif defined(BENCH_IMPL_SMR_EPOCH)
#include "smr/epoch.h"
#define IMPL_NAME "smr_epoch"
#elif defined(BENCH_IMPL_SMR_SWAP)
#include "smr/swap.h"
#define IMPL_NAME "smr_swap"
#else
#error "define one BENCH_IMPL_* (see bench/CMakeLists.txt)"
#endif

#include "bench_common.h"

#define DEFAULT_ITERS 1000000ull /* 1e6 publishes per run */
#define SMOKE_ITERS   10000ull
#define PAYLOAD       64

/* The published value: 64 bytes of payload (plus the retire header of the
 * implementation, where its API embeds one). */
struct val {
#if defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_retired hdr; /* first member: the callback casts back */
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_entry_t entry; /* first member: the callback casts back */
#elif defined(BENCH_IMPL_URCU_MEMB)
  struct rcu_head head; /* first member: the callback casts back */
#endif
  unsigned char data[PAYLOAD];
};

static struct val *val_new(uint64_t i) {
  struct val *v = malloc(sizeof *v);
  if (!v)
    abort();
  memset(v->data, (int)(i & 0xff), PAYLOAD);
  return v;
}

/* Reclaimed values: counted so the run can check that each was freed once
 * (relaxed: a plain event counter; the drain's own synchronisation orders
 * the increments before the check). */
static atomic_ulong freed;

#if defined(BENCH_IMPL_SMR_SWAP)
static void val_destroy(void *value, void *ctx) {
  (void)ctx;
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free(value);
}
#elif defined(BENCH_IMPL_SMR_EPOCH)
static void val_free(struct smr_retired *node) {
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free((struct val *)node);
}
#elif defined(BENCH_IMPL_CK_EPOCH)
static void val_free(ck_epoch_entry_t *e) {
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free((struct val *)e);
}
#elif defined(BENCH_IMPL_URCU_MEMB)
static void val_free(struct rcu_head *h) {
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free((struct val *)h);
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

#if defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_CK_EPOCH) ||           \
    defined(BENCH_IMPL_URCU_MEMB)
#if defined(BENCH_IMPL_URCU_MEMB)
static struct val *shared; /* rcu_assign_pointer / rcu_dereference */
#else
static _Atomic(struct val *) shared;
#endif
#endif

#if defined(BENCH_IMPL_CK_EPOCH)
static ck_epoch_t ck_ep;
static ck_epoch_record_t ck_writer, ck_foreign;
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
#elif defined(BENCH_IMPL_URCU_MEMB)
  urcu_memb_register_thread();
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
#elif defined(BENCH_IMPL_URCU_MEMB)
  urcu_memb_unregister_thread();
#endif
  return NULL;
}

static void setup(struct ctx *c, int nforeign) {
  memset(c, 0, sizeof *c);
  c->nforeign = nforeign;
  atomic_store_explicit(&freed, 0, memory_order_relaxed); /* no thread yet */
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_create(&c->cell, val_new(0), val_destroy, NULL));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_domain_create(&c->d, NULL));
  /* relaxed: no reader exists yet; thread creation publishes it. */
  atomic_store_explicit(&shared, val_new(0), memory_order_relaxed);
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_init(&ck_ep);
  memset(&ck_writer, 0, sizeof ck_writer);
  ck_epoch_register(&ck_ep, &ck_writer, NULL);
  atomic_store_explicit(&shared, val_new(0), memory_order_relaxed);
#elif defined(BENCH_IMPL_URCU_MEMB)
  rcu_assign_pointer(shared, val_new(0));
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
 * Returns how many values were reclaimed in all (the check in run_once). */
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
#if defined(BENCH_IMPL_URCU_MEMB)
  struct val *cur = shared; /* only this thread stores shared */
#else
  /* relaxed: only this thread stores shared; nothing reads it any more. */
  struct val *cur = atomic_load_explicit(&shared, memory_order_relaxed);
#endif
  free(cur);
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
#if defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_domain_destroy(c->d));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&ck_writer);
#endif
#endif
  return atomic_load_explicit(&freed, memory_order_relaxed);
}

/* One publish: new value in, old value retired (reclaimed later). */
static inline void publish(struct ctx *c, uint64_t i) {
  struct val *v = val_new(i);
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_store(c->cell, v) != 0)
    abort();
#elif defined(BENCH_IMPL_URCU_MEMB)
  (void)c;
  struct val *old = shared; /* only this thread writes shared */
  rcu_assign_pointer(shared, v);
  urcu_memb_call_rcu(&old->head, val_free);
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
#endif
#endif
}

/* Reclaim everything still pending (part of the timed work). */
static void drain(struct ctx *c) {
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_collect(c->cell) < 0)
    abort();
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_barrier(c->d));
#elif defined(BENCH_IMPL_CK_EPOCH)
  (void)c;
  ck_epoch_barrier(&ck_writer);
#elif defined(BENCH_IMPL_URCU_MEMB)
  (void)c;
  urcu_memb_barrier();
#endif
}

/* Retired and not yet reclaimed, or -1 where the implementation does not
 * say. */
static long pending(struct ctx *c) {
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

/* The untimed run that samples the garbage after every publish. */
static long peak_loop(struct ctx *c, uint64_t n) {
  long peak = pending(c);
  for (uint64_t i = 1; i <= n; i++) {
    publish(c, i);
    long p = pending(c);
    if (p > peak)
      peak = p;
  }
  drain(c);
  return peak;
}

static const char *mode_name(void) {
#if defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_fence_info fi;
  BENCH_CHECK(smr_fence_init(&fi));
  return fi.mode == SMR_FENCE_ASYMMETRIC ? "asymmetric" : "symmetric";
#elif defined(BENCH_IMPL_URCU_MEMB)
  return urcu_memb_has_sys_membarrier ? "asymmetric" : "symmetric";
#else
  return "symmetric";
#endif
}

/* Check that every value published (n plus the initial one) was freed. */
static void check_freed(unsigned long got, uint64_t n) {
  if (got != n + 1) {
    fprintf(stderr, "%s: %lu values freed, expected %llu\n", IMPL_NAME, got,
            (unsigned long long)(n + 1));
    exit(1);
  }
}

int main(int argc, char **argv) {
  struct bench_opts o = bench_parse(argc, argv, DEFAULT_ITERS, SMOKE_ITERS);
  const char *mode = mode_name(); /* also keeps the one-time init out */
#if defined(BENCH_IMPL_URCU_MEMB)
  urcu_memb_register_thread(); /* call_rcu needs a registered caller */
#endif
  double *ns = malloc(sizeof(double) * (size_t)o.runs);
  if (!ns)
    abort();
  struct bench_stats st[2];
  long peak[2];
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
             IMPL_NAME, mode, nf, k, (unsigned long long)o.iters, ns[k]);
    }
    st[nf] = bench_stats_of(ns, o.runs);
    setup(&c, nf);
    peak[nf] = peak_loop(&c, o.iters);
    check_freed(teardown(&c), o.iters);
    char pk[32];
    if (peak[nf] < 0)
      snprintf(pk, sizeof pk, "null");
    else
      snprintf(pk, sizeof pk, "%ld", peak[nf]);
    printf("{\"bench\":\"write\",\"impl\":\"%s\",\"mode\":\"%s\","
           "\"foreign_readers\":%d,\"summary\":true,\"iters\":%llu,"
           "\"runs\":%d,\"median_ns_per_op\":%.3f,\"min_ns_per_op\":%.3f,"
           "\"max_ns_per_op\":%.3f,\"peak_unreclaimed\":%s}\n",
           IMPL_NAME, mode, nf, (unsigned long long)o.iters, o.runs,
           st[nf].median, st[nf].min, st[nf].max, pk);
  }
#if defined(BENCH_IMPL_URCU_MEMB)
  urcu_memb_unregister_thread();
#endif

  printf("%-10s %-10s %7s %10s %5s %10s %10s %10s %8s\n", "impl", "mode",
         "foreign", "publishes", "runs", "median ns", "min ns", "max ns",
         "peak");
  for (int nf = 0; nf <= 1; nf++) {
    char pk[32];
    if (peak[nf] < 0)
      snprintf(pk, sizeof pk, "n/a");
    else
      snprintf(pk, sizeof pk, "%ld", peak[nf]);
    printf("%-10s %-10s %7d %10llu %5d %10.3f %10.3f %10.3f %8s\n", IMPL_NAME,
           mode, nf, (unsigned long long)o.iters, o.runs, st[nf].median,
           st[nf].min, st[nf].max, pk);
  }
  free(ns);
  return 0;
}
