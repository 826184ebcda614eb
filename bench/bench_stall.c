/* SPDX-License-Identifier: MIT */
/* bench_stall: a stalled reader (scenario 5).
 *
 * One reader thread enters a read section (or takes a guard, or a read
 * lock), reads the published 64-byte value and stays inside for --stall-ms
 * (default 1000; a timed wait: that is the scenario), while the writer
 * (the main thread) publishes fresh 64-byte values as fast as it can.  Run
 * one implementation per process (each program is one implementation), so
 * the RSS figures are the implementation's own.
 *
 * Reported (one JSON line, then a table):
 *   publishes          publishes the writer completed before it saw the end
 *                      of the stall (the one in flight at the end included,
 *                      so a writer that blocked for the whole stall shows 1)
 *   peak_held          retired values not yet freed, counted by the
 *                      benchmark (values unlinked minus values freed: the
 *                      free callbacks and destructors count), sampled before
 *                      each hand-over, the value handed over included; the
 *                      peak over the stall and the recovery publishes (the
 *                      first of which may still see the whole backlog)
 *   peak_api           the implementation's own count, sampled after each
 *                      publish (smr_swap_garbage_count, smr_garbage_count,
 *                      ck's n_pending); null where none is exposed
 *   bound              the documented bound on retired values, where there
 *                      is one: smr_swap holds at most threshold + readers + 1
 *                      (swap.h; readers = 1 reader handle + the cell's own
 *                      reader); checked at every sample: a violation is a
 *                      library bug and makes the program exit with status 1
 *   max_publish_us     the writer's longest single publish during the stall
 *                      (time between consecutive clock reads, one per
 *                      publish: the value's malloc and the benchmark's
 *                      bookkeeping included), and publishes_over_1ms, how
 *                      many took more than 1 ms (a few can be preemptions on
 *                      a busy machine; a blocked writer shows one publish of
 *                      about the stall length).  The publish in flight when
 *                      the reader leaves is split at the reader's release:
 *                      the part before counts here, the part after (e.g.
 *                      freeing the whole backlog at once) in
 *                      max_recover_publish_us
 *   involuntary_switches  the process's preemptions during the stall (the
 *                      reader sleeps: they are the writer's, or liburcu's
 *                      helper's): a long publish on a busy machine is often
 *                      one of these
 *   peak_rss_growth_kb ru_maxrss at the end of the stall minus ru_maxrss
 *                      just before it; rss_*_kb are VmRSS (/proc/self/statm)
 *                      before the stall, at its end and after the drain
 *                      (glibc keeps freed memory, so RSS rarely falls)
 *   held_at_release    held once the reader has left, before any further
 *                      publish (the publish in flight may already have
 *                      reclaimed the backlog: ck_epoch_poll does); then
 *                      --recover ordinary publishes (default 1000) and
 *                      held_after_recovery; max_recover_publish_us is the
 *                      longest of them (where the backlog is paid)
 *   held_after_drain   after the implementation's drain (smr_swap_collect,
 *                      smr_barrier, ck_epoch_barrier, rcu_barrier)
 *   reclaimed          held_after_recovery <= bound_after (the threshold
 *                      the implementation promises to get back to: swap
 *                      threshold + readers + 1, epoch its threshold, 0 for
 *                      the synchronous rows and ck_epoch, whose poll
 *                      dispatches everything once no section is active);
 *                      urcu call_rcu frees on its own helper thread, with no
 *                      bound, so for it reclaimed means held_after_drain = 0
 *   value_intact       the reader's value still held its 64-byte pattern
 *                      when the stall ended (freed values are poisoned, so a
 *                      premature free shows here; ASAN catches it too)
 * To keep the machine alive, the writer stops publishing when --max-held
 * values (default 4e6, about 400 MB) are held, and waits for the end of the
 * stall: capped=true then, and publishes is that count, not a rate.
 *
 * Implementations (exactly one BENCH_IMPL_* is defined):
 *   SMR_SWAP        reader: smr_swap_read, guard held; writer:
 *                   smr_swap_store (threshold 256, the default)
 *   SMR_EPOCH       reader: smr_enter, section held; writer: atomic store +
 *                   smr_retire (threshold 64, the default)
 *   CK_EPOCH        reader: ck_epoch_begin; writer: ck_epoch_call +
 *                   ck_epoch_poll
 *   URCU_MEMB_CALLRCU  reader: urcu_memb_read_lock; writer: call_rcu
 *                   (liburcu's helper thread frees)
 *   URCU_MEMB_SYNC  writer: rcu_assign_pointer, synchronize_rcu, free: blocks
 *                   for the whole stall
 *   RWLOCK          reader holds the read lock; writer: wrlock, swap, unlock,
 *                   free: blocks for the whole stall
 * No floor: a time-based floor frees after a fixed delay, i.e. under a
 * reader that stays longer than the delay (a use-after-free, not a number).
 *
 * Coordination: barriers (reader inside; reader released; writer done), and
 * a mutex + condition variable for a capped writer waiting for the end.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_impl.h"

#if !(defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_EPOCH) ||         \
      defined(BENCH_IMPL_CK_EPOCH) || defined(BENCH_IMPL_URCU_MEMB_CALLRCU) || \
      defined(BENCH_IMPL_URCU_MEMB_SYNC) || defined(BENCH_IMPL_RWLOCK))
#error "bench_stall: no such implementation (see bench/CMakeLists.txt)"
#endif

#if defined(BENCH_IMPL_SMR_EPOCH)
#define THRESHOLD 64 /* the domain's default, set explicitly */
#elif defined(BENCH_IMPL_SMR_SWAP)
#define THRESHOLD 256 /* the cell's default, set explicitly */
#endif

#include "bench_common.h"
#include "bench_val.h"

#define POISON 0xdd /* written over a value before it is freed */

/* Pattern of value i: never POISON. */
static unsigned char pattern_of(uint64_t i) {
  return (unsigned char)(1 + i % 200);
}

static struct val *val_new(uint64_t i) {
  struct val *v = malloc(sizeof *v);
  if (!v)
    abort();
  memset(v->data, pattern_of(i), PAYLOAD);
  return v;
}

/* Freed values (relaxed: an event counter; the writer's samples tolerate a
 * stale value, which only overstates what is held; the final check runs
 * after the drain and the joins, which order every increment before it). */
static atomic_ulong freed;

static void val_free_now(struct val *v) {
  memset(v->data, POISON, PAYLOAD);
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
  free(v);
}

/* ---- the implementation -------------------------------------------------- */

#if defined(BENCH_IMPL_SMR_SWAP)
static smr_swap *cell;
#elif defined(BENCH_IMPL_SMR_EPOCH)
static smr_domain *dom;
#elif defined(BENCH_IMPL_CK_EPOCH)
static ck_epoch_t ck_ep;
static ck_epoch_record_t ck_writer, ck_reader;
#elif defined(BENCH_IMPL_RWLOCK)
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
#endif

#if defined(URCU_MEMB_ANY)
static struct val *shared; /* rcu_assign_pointer / rcu_dereference */
#elif !defined(BENCH_IMPL_SMR_SWAP)
static _Atomic(struct val *) shared;
#endif

static void impl_setup(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  struct smr_swap_attr attr = {.threshold = THRESHOLD};
  BENCH_CHECK(smr_swap_create(val_new(0), val_destroy, &attr, &cell));
#elif defined(URCU_MEMB_ANY)
  urcu_memb_register_thread(); /* call_rcu needs a registered caller */
  rcu_assign_pointer(shared, val_new(0));
#else
#if defined(BENCH_IMPL_SMR_EPOCH)
  struct smr_domain_attr attr = {.threshold = THRESHOLD};
  BENCH_CHECK(smr_domain_create(&attr, &dom));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_init(&ck_ep);
  ck_epoch_register(&ck_ep, &ck_writer, NULL);
#endif
  /* relaxed: no reader exists yet; thread creation publishes it. */
  atomic_store_explicit(&shared, val_new(0), memory_order_relaxed);
#endif
}

/* Free the current value and destroy the implementation (after the reader
 * has gone). */
static void impl_teardown(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_destroy(cell)); /* destroys the current value too */
#else
#if defined(URCU_MEMB_ANY)
  val_free_now(shared); /* only this thread stores shared */
  urcu_memb_unregister_thread();
#else
  /* relaxed: only this thread stores shared; no reader is left. */
  val_free_now(atomic_load_explicit(&shared, memory_order_relaxed));
#endif
#if defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_domain_destroy(dom));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&ck_writer);
#endif
#endif
}

/* One publish: new value in, old value handed to the implementation. */
static void publish(uint64_t i) {
  struct val *v = val_new(i);
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_store(cell, v) != 0)
    abort();
#elif defined(URCU_MEMB_ANY)
  struct val *old = shared; /* only this thread writes shared */
  rcu_assign_pointer(shared, v);
#if defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_call_rcu(&old->head, val_free);
#else
  urcu_memb_synchronize_rcu();
  val_free_now(old);
#endif
#elif defined(BENCH_IMPL_RWLOCK)
  BENCH_CHECK(pthread_rwlock_wrlock(&lock));
  /* relaxed: the lock orders both (the reader loads under the lock). */
  struct val *old = atomic_load_explicit(&shared, memory_order_relaxed);
  atomic_store_explicit(&shared, v, memory_order_relaxed);
  BENCH_CHECK(pthread_rwlock_unlock(&lock));
  val_free_now(old);
#else
  /* relaxed: only this thread stores shared. */
  struct val *old = atomic_load_explicit(&shared, memory_order_relaxed);
  /* release: pairs with the reader's acquire load in reader_main. */
  atomic_store_explicit(&shared, v, memory_order_release);
#if defined(BENCH_IMPL_SMR_EPOCH)
  if (smr_retire(dom, &old->hdr, val_free) != 0)
    abort();
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_call(&ck_writer, &old->entry, val_free);
  ck_epoch_poll(&ck_writer);
#endif
#endif
}

/* Reclaim everything pending, waiting where the implementation waits. */
static void drain(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  if (smr_swap_collect(cell) < 0)
    abort();
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_barrier(dom));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_barrier(&ck_writer);
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
  urcu_memb_barrier();
#endif
}

/* The implementation's own count of retired values, or -1. */
static long held_api(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  return (long)smr_swap_garbage_count(cell);
#elif defined(BENCH_IMPL_SMR_EPOCH)
  return (long)smr_garbage_count(dom);
#elif defined(BENCH_IMPL_CK_EPOCH)
  return (long)ck_writer.n_pending; /* the writer's own record */
#else
  return -1;
#endif
}

/* Documented bound on retired values (-1: none); and the level the
 * implementation gets back to after ordinary publishes (-1: none). */
#if defined(BENCH_IMPL_SMR_SWAP)
#define READERS     2 /* the stalled reader's handle + the cell's own */
#define BOUND       (THRESHOLD + READERS + 1)
#define BOUND_AFTER BOUND
#elif defined(BENCH_IMPL_SMR_EPOCH)
#define BOUND       (-1)
#define BOUND_AFTER THRESHOLD
#elif defined(BENCH_IMPL_URCU_MEMB_CALLRCU)
#define BOUND       (-1)
#define BOUND_AFTER (-1)
#else
#define BOUND       (-1)
#define BOUND_AFTER 0
#endif

static const char *mode_name(void) {
#if defined(BENCH_IMPL_SMR_SWAP)
  return bench_mode_name(smr_swap_fence_mode(cell));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  return bench_mode_name(smr_domain_fence_mode(dom));
#else
  return bench_mode_name(0);
#endif
}

/* ---- the stalled reader ---------------------------------------------------
 */

static struct {
  pthread_barrier_t inside;   /* reader is in its section: writer may go */
  pthread_barrier_t released; /* reader has left its section */
  pthread_barrier_t done;     /* writer finished: reader may unregister */
  pthread_mutex_t m;          /* guards over (for a capped writer) */
  pthread_cond_t cv;
  int over;
  atomic_int over_flag; /* the writer's cheap check of `over` */
  int64_t stall_ns;
  int64_t stalled_ns; /* measured by the reader */
  int64_t t_release;  /* clock just before the reader leaves (see over_flag) */
  int intact;
} st;

static void *reader_main(void *arg) {
  (void)arg;
#if defined(BENCH_IMPL_SMR_SWAP)
  smr_swap_reader *r;
  BENCH_CHECK(smr_swap_reader_create(cell, &r));
  smr_swap_guard g;
  const struct val *v = smr_swap_read(r, &g);
#elif defined(BENCH_IMPL_SMR_EPOCH)
  smr_reader *r;
  BENCH_CHECK(smr_reader_register(dom, &r));
  smr_enter(r);
  /* acquire: pairs with the writer's release store in publish. */
  const struct val *v = atomic_load_explicit(&shared, memory_order_acquire);
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_register(&ck_ep, &ck_reader, NULL);
  ck_epoch_begin(&ck_reader, NULL);
  /* acquire: pairs with the writer's release store in publish. */
  const struct val *v = atomic_load_explicit(&shared, memory_order_acquire);
#elif defined(URCU_MEMB_ANY)
  urcu_memb_register_thread();
  urcu_memb_read_lock();
  /* rcu_dereference: pairs with rcu_assign_pointer in publish. */
  const struct val *v = rcu_dereference(shared);
#elif defined(BENCH_IMPL_RWLOCK)
  BENCH_CHECK(pthread_rwlock_rdlock(&lock));
  /* relaxed: the read lock orders it after the writer's unlock. */
  const struct val *v = atomic_load_explicit(&shared, memory_order_relaxed);
#endif
  unsigned char pat = v->data[0];
  pthread_barrier_wait(&st.inside);

  /* The stall: a timed wait inside the section. */
  int64_t t0 = bench_now_ns(), deadline = t0 + st.stall_ns;
  struct timespec ts = {(time_t)(deadline / 1000000000),
                        (long)(deadline % 1000000000)};
  int rc;
  while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) ==
         EINTR) {
  }
  BENCH_CHECK(rc);
  int intact = pat != POISON;
  for (int k = 0; k < PAYLOAD; k++)
    intact &= v->data[k] == pat;
  st.intact = intact; /* read by the writer after the released barrier */
  int64_t t1 = bench_now_ns();
  st.stalled_ns = t1 - t0;
  st.t_release = t1; /* published by the release store of over_flag */

  /* Tell the writer first, then leave: a writer blocked by our section
   * returns from its publish already seeing the flag (its wake-up is ordered
   * after our release), so it counts that one publish only. */
  pthread_mutex_lock(&st.m);
  st.over = 1;
  /* release: pairs with the writer's acquire load in its publish loop. */
  atomic_store_explicit(&st.over_flag, 1, memory_order_release);
  pthread_cond_broadcast(&st.cv);
  pthread_mutex_unlock(&st.m);

#if defined(BENCH_IMPL_SMR_SWAP)
  smr_swap_guard_release(&g);
#elif defined(BENCH_IMPL_SMR_EPOCH)
  smr_leave(r);
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_end(&ck_reader, NULL);
#elif defined(URCU_MEMB_ANY)
  urcu_memb_read_unlock();
#elif defined(BENCH_IMPL_RWLOCK)
  BENCH_CHECK(pthread_rwlock_unlock(&lock));
#endif
  pthread_barrier_wait(&st.released);
  pthread_barrier_wait(&st.done);
#if defined(BENCH_IMPL_SMR_SWAP)
  BENCH_CHECK(smr_swap_reader_destroy(r));
#elif defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_reader_unregister(r));
#elif defined(BENCH_IMPL_CK_EPOCH)
  ck_epoch_unregister(&ck_reader);
#elif defined(URCU_MEMB_ANY)
  urcu_memb_unregister_thread();
#endif
  return NULL;
}

/* ---- measurements ---------------------------------------------------------
 */

static long rss_kb(void) { /* VmRSS */
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = -1;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
      res = -1;
    fclose(f);
  }
  return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static long maxrss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_maxrss; /* KiB on Linux */
}

/* Involuntary context switches of the process so far: during the stall the
 * reader sleeps, so these are the writer's (and liburcu's helper's)
 * preemptions, which explain isolated long publishes on a busy machine. */
static long nivcsw(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_nivcsw;
}

static uint64_t retired; /* values handed over; writer only */
static long peak_held, peak_api = -1;
static int bound_violated;

static long held_now(void) {
  return (long)retired -
         (long)atomic_load_explicit(&freed, memory_order_relaxed);
}

/* Sample before a hand-over (the value handed over counted). */
static void sample_before(void) {
  long h = held_now();
  if (h > peak_held)
    peak_held = h;
  if (BOUND >= 0 && h > BOUND && !bound_violated) {
    bound_violated = 1;
    fprintf(stderr,
            "%s: BOUND VIOLATED: %ld retired values held before publish %llu, "
            "documented bound %d (threshold + readers + 1)\n",
            IMPL_NAME, h, (unsigned long long)retired, BOUND);
  }
}

static void sample_after(void) {
  long a = held_api();
  if (a > peak_api)
    peak_api = a;
  if (BOUND >= 0 && a > BOUND && !bound_violated) {
    bound_violated = 1;
    fprintf(stderr,
            "%s: BOUND VIOLATED: implementation reports %ld retired values "
            "after publish %llu, documented bound %d\n",
            IMPL_NAME, a, (unsigned long long)retired, BOUND);
  }
}

int main(int argc, char **argv) {
  uint64_t stall_ms = 1000, max_held = 4000000, recover = 1000;
  int smoke = 0, have_stall = 0, have_max = 0, have_recover = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--smoke") == 0) {
      smoke = 1;
    } else if (strcmp(a, "--stall-ms") == 0 && i + 1 < argc) {
      stall_ms = bench_parse_count(argv[++i], argv[0], 0);
      have_stall = 1;
    } else if (strcmp(a, "--max-held") == 0 && i + 1 < argc) {
      max_held = bench_parse_count(argv[++i], argv[0], 0);
      have_max = 1;
    } else if (strcmp(a, "--recover") == 0 && i + 1 < argc) {
      recover = bench_parse_count(argv[++i], argv[0], 0);
      have_recover = 1;
    } else {
      int help = strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
      if (!help)
        fprintf(stderr, "%s: unknown or incomplete option '%s'\n", argv[0], a);
      fprintf(stderr,
              "usage: %s [--stall-ms MS] [--max-held N] [--recover N] "
              "[--smoke]\n"
              "  --stall-ms MS  how long the reader stays inside (default "
              "1000)\n"
              "  --max-held N   writer pauses at N held values (default 4e6)\n"
              "  --recover N    ordinary publishes after the stall (default "
              "1000)\n"
              "  --smoke        20 ms stall, 1e5 held at most, 100 recovery "
              "publishes\n",
              argv[0]);
      return help ? 0 : 2;
    }
  }
  if (smoke) {
    stall_ms = have_stall ? stall_ms : 20;
    max_held = have_max ? max_held : 100000;
    recover = have_recover ? recover : 100;
  }
  if (max_held == 0) {
    fprintf(stderr, "%s: --max-held must be >= 1\n", argv[0]);
    return 2;
  }

#if defined(BENCH_IMPL_SMR_SWAP) || defined(BENCH_IMPL_SMR_EPOCH)
  BENCH_CHECK(smr_fence_init(NULL)); /* keep the one-time cost out */
#endif
  impl_setup();
  const char *mode = mode_name();
  st.stall_ns = (int64_t)stall_ms * 1000000;
  BENCH_CHECK(pthread_barrier_init(&st.inside, NULL, 2));
  BENCH_CHECK(pthread_barrier_init(&st.released, NULL, 2));
  BENCH_CHECK(pthread_barrier_init(&st.done, NULL, 2));
  BENCH_CHECK(pthread_mutex_init(&st.m, NULL));
  BENCH_CHECK(pthread_cond_init(&st.cv, NULL));
  pthread_t reader;
  BENCH_CHECK(pthread_create(&reader, NULL, reader_main, NULL));

  long rss0 = rss_kb(), maxrss0 = maxrss_kb(), csw0 = nivcsw();
  pthread_barrier_wait(&st.inside);

  /* ---- the stall: publish until the reader says it is over ---- */
  uint64_t n = 0, over_1ms = 0;
  int64_t max_lat = 0, after = 0;
  int capped = 0;
  int64_t t_start = bench_now_ns(), t_prev = t_start;
  /* acquire: pairs with the reader's release store of over_flag. */
  while (!atomic_load_explicit(&st.over_flag, memory_order_acquire)) {
    if (held_now() >= (long)max_held) {
      capped = 1;
      pthread_mutex_lock(&st.m);
      while (!st.over)
        pthread_cond_wait(&st.cv, &st.m);
      pthread_mutex_unlock(&st.m);
      break;
    }
    retired++;
    sample_before();
    publish(retired);
    int64_t t = bench_now_ns();
    n++;
    sample_after();
    int64_t start = t_prev, lat = t - start;
    t_prev = t;
    /* acquire: pairs with the reader's release store of over_flag. */
    if (atomic_load_explicit(&st.over_flag, memory_order_acquire)) {
      /* This publish was in flight when the reader left (or completed just
       * after): the part before the reader's release belongs to the stall
       * (a blocked writer's whole wait), the part after it to the recovery
       * (where a backlog freed at once shows). */
      int64_t tr = st.t_release;
      lat = tr > start ? tr - start : 0;
      after = t - (tr > start ? tr : start);
    }
    if (lat > max_lat)
      max_lat = lat;
    over_1ms += lat > 1000000;
  }
  int64_t t_end = bench_now_ns();
  long rss_stall = rss_kb(), maxrss1 = maxrss_kb(), csw1 = nivcsw();

  /* ---- after the stall ---- */
  pthread_barrier_wait(&st.released);
  long held_release = held_now();
  int64_t max_rec = after;
  t_prev = bench_now_ns();
  for (uint64_t k = 0; k < recover; k++) {
    retired++;
    sample_before();
    publish(retired);
    int64_t t = bench_now_ns();
    if (t - t_prev > max_rec)
      max_rec = t - t_prev;
    t_prev = t;
    sample_after();
  }
  long held_recovered = held_now();
  drain();
  long held_drained = held_now();
  long rss_drained = rss_kb();
  pthread_barrier_wait(&st.done);
  BENCH_CHECK(pthread_join(reader, NULL));
  impl_teardown();
  unsigned long total = atomic_load_explicit(&freed, memory_order_relaxed);

  int reclaimed =
      BOUND_AFTER >= 0 ? held_recovered <= BOUND_AFTER : held_drained == 0;
  double secs = (double)(t_end - t_start) / 1e9;
  char b1[24], b2[24], b3[24];
  printf("{\"bench\":\"stall\",\"impl\":\"%s\",\"mode\":\"%s\","
         "\"stall_ms\":%llu,\"stalled_ms\":%.1f,\"publishes\":%llu,"
         "\"publishes_per_s\":%.0f,\"capped\":%s,\"max_held\":%llu,"
         "\"peak_held\":%ld,\"peak_api\":%s,\"bound\":%s,\"bound_ok\":%s,"
         "\"max_publish_us\":%.1f,\"publishes_over_1ms\":%llu,"
         "\"involuntary_switches\":%ld,"
         "\"rss_before_kb\":%ld,\"rss_at_end_kb\":%ld,"
         "\"peak_rss_growth_kb\":%ld,\"held_at_release\":%ld,"
         "\"recover_publishes\":%llu,\"max_recover_publish_us\":%.1f,"
         "\"held_after_recovery\":%ld,\"bound_after\":%s,"
         "\"held_after_drain\":%ld,\"rss_after_drain_kb\":%ld,"
         "\"reclaimed\":%s,\"value_intact\":%s}\n",
         IMPL_NAME, mode, (unsigned long long)stall_ms,
         (double)st.stalled_ns / 1e6, (unsigned long long)n,
         secs > 0 ? (double)n / secs : 0.0, capped ? "true" : "false",
         (unsigned long long)max_held, peak_held,
         bench_json_count(b1, sizeof b1, peak_api),
         bench_json_count(b2, sizeof b2, BOUND),
         BOUND >= 0 ? (bound_violated ? "false" : "true") : "null",
         (double)max_lat / 1e3, (unsigned long long)over_1ms, csw1 - csw0, rss0,
         rss_stall, maxrss1 - maxrss0, held_release,
         (unsigned long long)recover, (double)max_rec / 1e3, held_recovered,
         bench_json_count(b3, sizeof b3, BOUND_AFTER), held_drained,
         rss_drained, reclaimed ? "true" : "false",
         st.intact ? "true" : "false");
  printf("%-17s %-10s %8s %10s %10s %10s %12s %9s %11s %9s\n", "impl", "mode",
         "stall ms", "publishes", "peak held", "peak api", "max pub us",
         ">1ms pubs", "rss grow kB", "reclaimed");
  printf("%-17s %-10s %8llu %10llu %10ld %10s %12.1f %9llu %11ld %9s%s\n",
         IMPL_NAME, mode, (unsigned long long)stall_ms, (unsigned long long)n,
         peak_held, peak_api < 0 ? "n/a" : b1, (double)max_lat / 1e3,
         (unsigned long long)over_1ms, maxrss1 - maxrss0,
         reclaimed ? "yes" : "NO", capped ? "  (capped at --max-held)" : "");

  int rc = 0;
  if (total != retired + 1) {
    fprintf(stderr, "%s: %lu values freed, expected %llu\n", IMPL_NAME, total,
            (unsigned long long)(retired + 1));
    rc = 1;
  }
  if (!st.intact) {
    fprintf(stderr, "%s: the stalled reader's value was freed under it\n",
            IMPL_NAME);
    rc = 1;
  }
  if (bound_violated)
    rc = 1; /* a library bug: reported above */
  pthread_barrier_destroy(&st.inside);
  pthread_barrier_destroy(&st.released);
  pthread_barrier_destroy(&st.done);
  pthread_cond_destroy(&st.cv);
  pthread_mutex_destroy(&st.m);
  return rc;
}
