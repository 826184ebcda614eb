/* SPDX-License-Identifier: MIT */
/* The swap cell's garbage bound while the writer-side barrier is refused
 * (issue 10, C.18; C.11's -ECANCELED; C.17's per-module texts).
 *
 *   hook     the barrier fails through the test hook (src/test_hooks.h), in
 *            every cell mode: stores succeed until the garbage reaches
 *            threshold + readers + 1, then fail with -ENOBUFS, publishing
 *            nothing (update does not call its function, compare_exchange
 *            and exchange fail the same way); smr_swap_stats reports the
 *            refusals and the errno; an exchange with room publishes and
 *            returns -ECANCELED (the old value stays with the cell); once
 *            barriers work again everything is reclaimed, each value
 *            destroyed exactly once.
 *   hook-threads  the same refusal switched on and off every 500 stores
 *            while two reader threads read and nest: values seen are alive,
 *            the bound holds throughout, nothing is lost or freed twice.
 *   seccomp  the real thing: a seccomp filter makes membarrier fail with
 *            EPERM in the writer thread mid-run (asymmetric cells only; exit
 *            77 = skipped otherwise).  Uses only the API that existed before
 *            the fix, so it shows the old library keeping 3,000 retired
 *            values with threshold 16 while every store returned 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"
#include "swap_ints.h"
#ifndef SMR_TEST_OLD_API
#include "test_hooks.h"
#endif

#define THRESHOLD 16
#define ROUNDS    3000

static smr_swap *mkcell(unsigned flags, smr_swap_reader **r) {
  struct smr_swap_attr a = {flags, THRESHOLD, NULL};
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(mk(), dtor, &a, &c), 0);
  /* A reader handle: without one the cell needs no heavy barrier. */
  CHECK_EQ(smr_swap_reader_create(c, r), 0);
  return c;
}

/* Store ROUNDS values with the barrier refused: the garbage never exceeds
 * the documented bound (readers: the handle and the cell's own reader).
 * Returns how many stores were refused. */
static int store_refused(smr_swap *c) {
  const size_t bound = THRESHOLD + 2 + 1;
  int refused = 0;
  for (int i = 0; i < ROUNDS; i++) {
    void *v = mk();
    int rc = smr_swap_store(c, v);
    if (rc) {
      CHECK_EQ(rc, -ENOBUFS);
      CHECK(smr_swap_get(c) != v);
      drop(v);
      refused++;
    }
    size_t g = smr_swap_garbage_count(c);
    if (g > bound) {
      fprintf(stderr,
              "store %d returned %d with %zu retired values (bound "
              "%zu)\n",
              i, rc, g, bound);
      CHECK(g <= bound);
    }
  }
  return refused;
}

static void finish(smr_swap *c, smr_swap_reader *r) {
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(ndestroyed, nmade);
  nmade = ndestroyed = 0;
}

#ifndef SMR_TEST_OLD_API
static int fn_calls;
static void *make_next(const void *cur, void *arg) {
  (void)cur;
  (void)arg;
  fn_calls++;
  return mk();
}

static void set_barrier_error(int err) {
  /* relaxed: no writer call runs concurrently (test_hooks.h). */
  atomic_store_explicit(&smr__test_barrier_error, err, memory_order_relaxed);
}

static void part_hook(void) {
  static const unsigned modes[] = {0, SMR_SWAP_SYMMETRIC,
                                   SMR_SWAP_MULTI_WRITER};
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    smr_swap_reader *r;
    smr_swap *c = mkcell(modes[m], &r);
    struct smr_swap_stats st;
    CHECK_EQ(smr_swap_stats(c, &st), 0);
    CHECK_EQ(st.bound, THRESHOLD + 2 + 1);
    CHECK_EQ(st.barrier_failures, 0);
    CHECK_EQ(st.last_barrier_error, 0);

    set_barrier_error(-EPERM);
    CHECK(store_refused(c) > 0);
    CHECK_EQ(smr_swap_stats(c, &st), 0);
    CHECK(st.barrier_failures > 0 && st.refused > 0);
    CHECK_EQ(st.last_barrier_error, -EPERM);
    CHECK(st.garbage <= st.bound);
    /* Every other publishing call refuses the same way. */
    fn_calls = 0;
    CHECK_EQ(smr_swap_update(c, make_next, NULL), -ENOBUFS);
    CHECK_EQ(fn_calls, 0);
    smr_swap_guard g;
    smr_swap_read(r, &g);
    void *v = mk(), *old = (void *)1;
    CHECK_EQ(smr_swap_compare_exchange(c, &g, v), -ENOBUFS);
    smr_swap_guard_release(&g);
    CHECK_EQ(smr_swap_exchange(c, v, &old), -ENOBUFS);
    CHECK(old == NULL && smr_swap_get(c) != v);
    CHECK_EQ(smr_swap_collect(c), -ENOBUFS);

    /* Room again, barrier still refused: exchange publishes, cannot rule
     * a reader out, keeps the old value in the cell. */
    set_barrier_error(0);
    CHECK(smr_swap_collect(c) >= 0);
    set_barrier_error(-EPERM);
    void *before = smr_swap_get(c);
    old = (void *)1;
    CHECK_EQ(smr_swap_exchange(c, v, &old), -ECANCELED);
    CHECK(old == NULL && smr_swap_get(c) == v);
    CHECK_EQ(smr_swap_stats(c, &st), 0);
    CHECK(st.garbage <= st.bound);

    /* Barriers work again: stores succeed, the garbage drains. */
    set_barrier_error(0);
    for (int i = 0; i < 2 * THRESHOLD; i++)
      CHECK_EQ(smr_swap_store(c, mk()), 0);
    CHECK(smr_swap_collect(c) >= 0);
    CHECK_EQ(smr_swap_garbage_count(c), 1);
    (void)before; /* destroyed with the rest, exactly once (finish) */
    finish(c, r);
  }
  /* The texts of the new codes name what happened. */
  CHECK(strstr(smr_strerror_in(SMR_MODULE_SWAP, -ENOBUFS), "barrier"));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_SWAP, -ECANCELED), "published"));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_SWAP, -ESHUTDOWN), "destroy"));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_EPOCH, -EBUSY), "registered"));
  CHECK(!strstr(smr_strerror_in(SMR_MODULE_CHANNEL, -EBUSY), "registered"));
  CHECK(smr_strerror_in(SMR_MODULE_CHANNEL, -EBUSY) !=
        smr_strerror_in(SMR_MODULE_EPOCH, -EBUSY));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_RC, -ESTALE), "alive"));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_RC, -EAGAIN), "expected"));
  CHECK(smr_strerror_in(SMR_MODULE_RC, -EIO) == smr_strerror(-EIO));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_COLLECTOR, -EBUSY), "section"));
  CHECK(strstr(smr_strerror_in(SMR_MODULE_COLLECTOR, -EINVAL), "refresh"));
  CHECK(smr_strerror_in(SMR_MODULE_COLLECTOR, -EIO) == smr_strerror(-EIO));
  CHECK(smr_strerror_in((enum smr_module)99, -EBUSY) == smr_strerror(-EBUSY));
  CHECK(smr_strerror_in(SMR_MODULE_SWAP, -EIO) == smr_strerror(-EIO));
}

/* hook-threads: 2 reader threads keep reading (and nesting) while the
 * writer switches the barrier refusal on and off every 500 stores: every
 * value a reader sees is alive, the bound holds throughout, and at the end
 * every value was destroyed or refused exactly once. */
#define MAGIC 0x5eedf00du
struct tval {
  unsigned magic;
};
static _Atomic int threads_stop, threads_reading;
static int tdestroyed; /* writer thread (or the last reader_destroy) */

static void tdtor(void *p, void *ctx) {
  (void)ctx;
  struct tval *v = p;
  CHECK(v->magic == MAGIC);
  v->magic = 0;
  free(v);
  tdestroyed++;
}

static void *treader(void *arg) {
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(arg, &r), 0);
  /* relaxed: a stop flag; the join orders everything else. */
  while (!atomic_load_explicit(&threads_stop, memory_order_relaxed)) {
    smr_swap_guard g, g2;
    const struct tval *v = smr_swap_read(r, &g);
    CHECK(v->magic == MAGIC);
    CHECK(smr_swap_read(r, &g2) == v);
    smr_swap_guard_release(&g2);
    CHECK(v->magic == MAGIC);
    smr_swap_guard_release(&g);
    /* relaxed: a progress count the writer waits for. */
    atomic_fetch_add_explicit(&threads_reading, 1, memory_order_relaxed);
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  return NULL;
}

static struct tval *tmk(void) {
  struct tval *v = malloc(sizeof *v);
  CHECK(v != NULL);
  v->magic = MAGIC;
  return v;
}

static void part_hook_threads(void) {
  struct smr_swap_attr a = {0, THRESHOLD, NULL};
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(tmk(), tdtor, &a, &c), 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, treader, c), 0);
  /* Start once both readers are reading (relaxed: a progress count). */
  while (atomic_load_explicit(&threads_reading, memory_order_relaxed) < 2)
    sched_yield();
  int made = 1, refused = 0;
  for (int i = 0; i < 20000; i++) {
    if (i % 500 == 0)
      set_barrier_error((i / 500) % 2 ? -EPERM : 0);
    struct tval *v = tmk();
    made++;
    int rc = smr_swap_store(c, v);
    if (rc) {
      CHECK_EQ(rc, -ENOBUFS);
      free(v);
      refused++;
    }
    struct smr_swap_stats st;
    CHECK_EQ(smr_swap_stats(c, &st), 0);
    CHECK(st.garbage <= st.bound);
  }
  set_barrier_error(0);
  atomic_store_explicit(&threads_stop, 1, memory_order_relaxed);
  for (int i = 0; i < 2; i++)
    CHECK_EQ(pthread_join(th[i], NULL), 0);
  CHECK(refused > 0);
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(tdestroyed + refused, made);
}
#endif

static void deny_membarrier(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    fprintf(stderr, "seccomp unavailable; skipped\n");
    exit(77);
  }
}

static void part_seccomp(void) {
  smr_swap_reader *r;
  smr_swap *c = mkcell(0, &r);
  if (smr_swap_fence_mode(c) != SMR_FENCE_ASYMMETRIC) {
    fprintf(stderr, "cell is not asymmetric (no membarrier); skipped\n");
    exit(77);
  }
  for (int i = 0; i < 4 * THRESHOLD; i++) /* barriers work */
    CHECK_EQ(smr_swap_store(c, mk()), 0);
  deny_membarrier(); /* this thread, from now on */
  CHECK(store_refused(c) > 0);
  finish(c, r); /* no reader handle left: no barrier needed */
}

int main(int argc, char **argv) {
  static const struct test_part parts[] = {
#ifndef SMR_TEST_OLD_API
      {"hook", part_hook},
      {"hook-threads", part_hook_threads},
#endif
      {"seccomp", part_seccomp}};
  return TEST_RUN_PART(argc > 1 ? argv[1] : "hook", parts);
}
