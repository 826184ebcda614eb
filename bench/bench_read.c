/* SPDX-License-Identifier: MIT */
/* bench_read: cost of one read section, one thread, no writer.
 *
 * Each iteration: enter a read section, load the shared pointer (acquire, or
 * rcu_dereference for liburcu), read one field of the object, leave the
 * section.  The fields are summed in a register and the sum is stored to a
 * volatile sink after the loop (a volatile read-modify-write per iteration
 * would add a store-forwarding dependency chain of several cycles to every
 * implementation and bury the differences we want to see).
 *
 * Compiled once per implementation; exactly one BENCH_IMPL_* is defined:
 *   PLAIN          the atomic acquire load alone: the floor
 *   SMR_EPOCH      smr_enter / smr_leave (process fence mode, normally
 *                  asymmetric: membarrier on the writer side)
 *   SMR_EPOCH_SYM  the same in a domain created with SMR_DOMAIN_SYMMETRIC
 *   SMR_SWAP       smr_swap_read / smr_swap_guard_release
 *   SMR_SWAP_SYM   the same on a cell created with SMR_SWAP_SYMMETRIC
 *   SMR_EPOCH_FFI  SMR_EPOCH compiled with SMR_NO_INLINE: smr_enter_ffi /
 *                  smr_leave_ffi, the exported twins a foreign-language
 *                  binding calls (the out-of-line cost: two direct calls
 *                  into the static library; a shared library adds a PLT
 *                  jump each, a ctypes binding far more)
 *   SMR_SWAP_FFI   SMR_SWAP the same way: smr_swap_read_ffi /
 *                  smr_swap_guard_release_ffi
 *   URCU_MEMB      urcu_memb_read_lock / unlock + rcu_dereference (inline
 *                  fast paths, _LGPL_SOURCE)
 *   CK_EPOCH       ck_epoch_begin / ck_epoch_end with a registered record
 *   URCU_QSBR      urcu_qsbr_read_lock / unlock (empty: they compile to
 *                  nothing) + rcu_dereference, and urcu_qsbr_quiescent_state
 *                  after every 1024 reads: the usual QSBR usage, where a
 *                  thread announces a quiescent state between batches of
 *                  work.  The quiescent state's cost is amortised over the
 *                  batch (the loop is a batch loop around the read loop).
 *   URCU_QSBR_QS1  the same with a quiescent state after every read: the
 *                  upper end for a thread that cannot batch.  With no writer
 *                  waiting (as here), urcu_qsbr_quiescent_state returns after
 *                  comparing the global grace-period counter with its own
 *                  (two loads); its fences run only while a grace period
 *                  waits for this thread.
 *   RWLOCK         pthread_rwlock_rdlock / unlock around the load (glibc,
 *                  default attributes: every rdlock is an atomic RMW on the
 *                  lock word)
 *   MUTEX          pthread_mutex_lock / unlock around the load (default
 *                  mutex: an atomic RMW to lock, one to unlock)
 *
 * Output: one JSON object per timed run, a JSON summary, then a table.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdint.h>

/* The FFI variants are the inline ones with the plain names mapped to the
 * exported twins (SMR_NO_INLINE): same loop, same setup. */
#if defined(BENCH_IMPL_SMR_EPOCH_FFI)
#define BENCH_IMPL_SMR_EPOCH 1
#define BENCH_FFI_NAME       "smr_epoch_ffi"
#elif defined(BENCH_IMPL_SMR_SWAP_FFI)
#define BENCH_IMPL_SMR_SWAP 1
#define BENCH_FFI_NAME      "smr_swap_ffi"
#endif
#ifdef BENCH_FFI_NAME
#define SMR_NO_INLINE
#endif

#include "bench_impl.h"

#ifdef BENCH_FFI_NAME
#undef IMPL_NAME
#define IMPL_NAME BENCH_FFI_NAME
#endif

#if !(defined(BENCH_IMPL_PLAIN) || defined(BENCH_IMPL_SMR_EPOCH) ||            \
      defined(BENCH_IMPL_SMR_EPOCH_SYM) || defined(BENCH_IMPL_SMR_SWAP) ||     \
      defined(BENCH_IMPL_SMR_SWAP_SYM) || defined(BENCH_IMPL_URCU_MEMB) ||     \
      defined(URCU_QSBR_ANY) || defined(BENCH_IMPL_CK_EPOCH) ||                \
      defined(LOCK_ANY))
#error "bench_read: no such implementation (see bench/CMakeLists.txt)"
#endif

#if defined(BENCH_IMPL_URCU_QSBR)
#define QS_INTERVAL 1024u /* reads between quiescent states */
#elif defined(BENCH_IMPL_URCU_QSBR_QS1)
#define QS_INTERVAL 1u
#elif defined(BENCH_IMPL_SMR_EPOCH)
#define DOMAIN_FLAGS 0u
#elif defined(BENCH_IMPL_SMR_EPOCH_SYM)
#define DOMAIN_FLAGS SMR_DOMAIN_SYMMETRIC
#elif defined(BENCH_IMPL_SMR_SWAP)
#define CELL_FLAGS 0u
#elif defined(BENCH_IMPL_SMR_SWAP_SYM)
#define CELL_FLAGS SMR_SWAP_SYMMETRIC
#endif

#include "bench_common.h"

#ifdef LOCK_ANY
#define DEFAULT_ITERS 10000000ull /* 1e7: a lock pair is ~10-40 ns */
#else
#define DEFAULT_ITERS 100000000ull /* 1e8: a few hundred ms per run */
#endif
#define SMOKE_ITERS 100000ull

/* The object readers reach through the shared pointer.  One cache line. */
struct obj {
  uint64_t field;
  uint64_t pad[7];
};

static struct obj the_obj = {.field = 1};

/* Handles of the implementation under test. */
struct ctx {
#if defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
  smr_domain *d;
  smr_reader *r;
#elif defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
  smr_swap *cell;
  smr_swap_reader *r;
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_record_t *rec;
#endif
  int unused; /* keeps the struct non-empty for PLAIN, URCU_*, locks */
};

#if defined(BENCH_IMPL_URCU_MEMB) || defined(URCU_QSBR_ANY)
/* liburcu publishes plain pointers (rcu_assign_pointer / rcu_dereference). */
static struct obj *shared;
#elif !defined(BENCH_IMPL_SMR_SWAP) && !defined(BENCH_IMPL_SMR_SWAP_SYM)
/* The published pointer (the swap cell holds its own). */
static _Atomic(struct obj *) shared;
#endif

#if defined(BENCH_IMPL_CK_EPOCH)
static ck_epoch_t ck_ep;
static ck_epoch_record_t ck_rec;
#elif defined(BENCH_IMPL_RWLOCK)
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
#elif defined(BENCH_IMPL_MUTEX)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#endif

/* The timed loop: iters read sections; returns the sum of the fields read. */
BENCH_LOOP_ATTR uint64_t bench_loop(struct ctx *c, uint64_t iters);

uint64_t bench_loop(struct ctx *c, uint64_t iters) {
  uint64_t sum = 0;
#if defined(BENCH_IMPL_PLAIN)
  (void)c;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    /* acquire: pairs with the release store in setup() (the floor every
     * implementation pays to read a published pointer). */
    const struct obj *p = atomic_load_explicit(&shared, memory_order_acquire);
    sum += p->field;
  }
#elif defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
  smr_reader *r = c->r;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    smr_enter(r);
    /* acquire: pairs with the release store in setup(). */
    const struct obj *p = atomic_load_explicit(&shared, memory_order_acquire);
    sum += p->field;
    smr_leave(r);
  }
#elif defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
  smr_swap_reader *r = c->r;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    smr_swap_guard g;
    /* smr_swap_read does the acquire load of the cell's published node. */
    const struct obj *p = (const struct obj *)smr_swap_read(r, &g);
    sum += p->field;
    smr_swap_guard_release(&g);
  }
#elif defined(BENCH_IMPL_URCU_MEMB)
  (void)c;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    urcu_memb_read_lock();
    /* rcu_dereference: pairs with rcu_assign_pointer in setup(). */
    const struct obj *p = rcu_dereference(shared);
    sum += p->field;
    urcu_memb_read_unlock();
  }
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_record_t *rec = c->rec;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    ck_epoch_begin(rec, NULL);
    /* acquire: pairs with the release store in setup(). */
    const struct obj *p = atomic_load_explicit(&shared, memory_order_acquire);
    sum += p->field;
    ck_epoch_end(rec, NULL);
  }
#elif defined(URCU_QSBR_ANY) && QS_INTERVAL == 1
  (void)c;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    urcu_qsbr_read_lock(); /* empty: QSBR readers announce nothing here */
    /* rcu_dereference: pairs with rcu_assign_pointer in setup(). */
    const struct obj *p = rcu_dereference(shared);
    sum += p->field;
    urcu_qsbr_read_unlock();
    urcu_qsbr_quiescent_state(); /* after every read */
  }
#elif defined(URCU_QSBR_ANY)
  (void)c;
  uint64_t i = 0;
  while (i < iters) { /* batches of QS_INTERVAL reads */
    uint64_t end = iters - i > QS_INTERVAL ? i + QS_INTERVAL : iters;
    BENCH_NO_UNROLL
    for (; i < end; i++) {
      urcu_qsbr_read_lock(); /* empty: QSBR readers announce nothing here */
      /* rcu_dereference: pairs with rcu_assign_pointer in setup(). */
      const struct obj *p = rcu_dereference(shared);
      sum += p->field;
      urcu_qsbr_read_unlock();
    }
    urcu_qsbr_quiescent_state(); /* between batches, outside any section */
  }
#elif defined(LOCK_ANY)
  (void)c;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
#ifdef BENCH_IMPL_RWLOCK
    pthread_rwlock_rdlock(&lock);
#else
    pthread_mutex_lock(&lock);
#endif
    /* relaxed: the lock orders it (acquire on lock, release on unlock; the
     * writer stores under the same lock in setup()). */
    const struct obj *p = atomic_load_explicit(&shared, memory_order_relaxed);
    sum += p->field;
#ifdef BENCH_IMPL_RWLOCK
    pthread_rwlock_unlock(&lock);
#else
    pthread_mutex_unlock(&lock);
#endif
  }
#endif
  return sum;
}

/* Fence mode in force for this program, for the output. */
static const char *mode_name(struct ctx *c) {
  (void)c;
#if defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
  return bench_mode_name(smr_domain_fence_mode(c->d));
#elif defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
  return bench_mode_name(smr_swap_fence_mode(c->cell));
#else
  return bench_mode_name(0);
#endif
}

static void setup(struct ctx *c) {
  memset(c, 0, sizeof *c);
#if defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
  struct smr_swap_attr attr = {.flags = CELL_FLAGS};
  BENCH_CHECK(smr_swap_create(&the_obj, NULL, &attr, &c->cell));
  BENCH_CHECK(smr_swap_reader_create(c->cell, &c->r));
#elif defined(BENCH_IMPL_URCU_MEMB)
  urcu_memb_register_thread();
  rcu_assign_pointer(shared, &the_obj);
#elif defined(URCU_QSBR_ANY)
  urcu_qsbr_register_thread(); /* registered threads start online */
  rcu_assign_pointer(shared, &the_obj);
#elif defined(BENCH_IMPL_RWLOCK)
  BENCH_CHECK(pthread_rwlock_wrlock(&lock));
  /* relaxed: the lock orders it (pairs with the readers' rdlock). */
  atomic_store_explicit(&shared, &the_obj, memory_order_relaxed);
  BENCH_CHECK(pthread_rwlock_unlock(&lock));
#elif defined(BENCH_IMPL_MUTEX)
  BENCH_CHECK(pthread_mutex_lock(&lock));
  /* relaxed: the lock orders it (pairs with the readers' lock). */
  atomic_store_explicit(&shared, &the_obj, memory_order_relaxed);
  BENCH_CHECK(pthread_mutex_unlock(&lock));
#else
  /* release: pairs with the readers' acquire loads in bench_loop. */
  atomic_store_explicit(&shared, &the_obj, memory_order_release);
#if defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
  struct smr_domain_attr attr = {.flags = DOMAIN_FLAGS};
  BENCH_CHECK(smr_domain_create(&attr, &c->d));
  BENCH_CHECK(smr_reader_register(c->d, &c->r));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_init(&ck_ep);
  ck_epoch_register(&ck_ep, &ck_rec, NULL);
  c->rec = &ck_rec;
#endif
#endif
}

static void teardown(struct ctx *c) {
#if defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_SWAP_SYM)
  BENCH_CHECK(smr_swap_reader_destroy(c->r));
  BENCH_CHECK(smr_swap_destroy(c->cell));
#elif defined(BENCH_IMPL_SMR_EPOCH) || defined(BENCH_IMPL_SMR_EPOCH_SYM)
  BENCH_CHECK(smr_reader_unregister(c->r));
  BENCH_CHECK(smr_domain_destroy(c->d));
#elif defined(BENCH_IMPL_URCU_MEMB)
  (void)c;
  urcu_memb_unregister_thread();
#elif defined(URCU_QSBR_ANY)
  (void)c;
  urcu_qsbr_unregister_thread();
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(c->rec);
#else
  (void)c;
#endif
}

int main(int argc, char **argv) {
  struct bench_opts o = bench_parse(argc, argv, DEFAULT_ITERS, SMOKE_ITERS);
#ifdef HAVE_SMR
  BENCH_CHECK(smr_fence_init(NULL)); /* keep the one-time cost out */
#endif
  struct ctx c;
  setup(&c);
  const char *mode = mode_name(&c);

  if (o.warmup > 0)
    bench_sink = bench_loop(&c, (uint64_t)o.warmup);

  double *ns = malloc(sizeof(double) * (size_t)o.runs);
  if (!ns)
    abort();
  for (int k = 0; k < o.runs; k++) {
    int64_t t0 = bench_now_ns();
    uint64_t sum = bench_loop(&c, o.iters);
    int64_t t1 = bench_now_ns();
    /* Every read returns field == 1: a wrong sum means a broken read path. */
    if (sum != o.iters) {
      fprintf(stderr, "%s: read %llu, expected %llu\n", IMPL_NAME,
              (unsigned long long)sum, (unsigned long long)o.iters);
      return 1;
    }
    bench_sink = sum;
    ns[k] = (double)(t1 - t0) / (double)o.iters;
    printf("{\"bench\":\"read\",\"impl\":\"%s\",\"mode\":\"%s\",\"run\":%d,"
           "\"iters\":%llu,\"ns_per_op\":%.3f}\n",
           IMPL_NAME, mode, k, (unsigned long long)o.iters, ns[k]);
  }
  teardown(&c);

  struct bench_stats s = bench_stats_of(ns, o.runs);
  printf("{\"bench\":\"read\",\"impl\":\"%s\",\"mode\":\"%s\",\"summary\":true,"
         "\"iters\":%llu,\"runs\":%d,\"median_ns_per_op\":%.3f,"
         "\"min_ns_per_op\":%.3f,\"max_ns_per_op\":%.3f}\n",
         IMPL_NAME, mode, (unsigned long long)o.iters, o.runs, s.median, s.min,
         s.max);
  printf("%-14s %-10s %12s %5s %10s %10s %10s\n", "impl", "mode", "iters",
         "runs", "median ns", "min ns", "max ns");
  printf("%-14s %-10s %12llu %5d %10.3f %10.3f %10.3f\n", IMPL_NAME, mode,
         (unsigned long long)o.iters, o.runs, s.median, s.min, s.max);
  free(ns);
  return 0;
}
