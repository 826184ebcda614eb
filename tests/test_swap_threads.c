/* SPDX-License-Identifier: MIT */
/* Swap cell under concurrency (stress; SMR_TEST_SECONDS in all, default 3,
 * shared between the parts).
 *
 * (a) One writer, 4 reader threads (more threads than cores).  Values carry
 *     {magic, version, payload}; the destructor poisons them before freeing.
 *     Readers check every value they see: alive and intact, embedded
 *     version == guard version, versions never go back, no older than the
 *     cell's version read before the read and no newer than the one read
 *     after it, and nested reads return the
 *     outer value.  The writer rotates store, update, exchange (it frees the
 *     returned value itself, after checking that nobody destroyed it),
 *     fetch_and_update, update_and_fetch and collect, and checks the garbage
 *     bound after each.  Run with default fences and SMR_SWAP_SYMMETRIC.
 * (b) Multi-writer cell: 3 writers run the rcu loop (read, build count + 1,
 *     compare_exchange) on their own reader handles, plus smr_swap_update;
 *     2 readers check that the count always equals the guard version and
 *     never goes back.  At the end count == version == the successes the
 *     writers counted: no update was lost.
 * (c) Reader handles created and destroyed from 3 threads while the writer
 *     stores: creation never fails, never hands one record to two live
 *     handles, and every read through a fresh handle is sound.
 * Every part ends with: values created == destroyed + freed by the test.
 *
 * (d) Only with the argument "mw-own" (ctest test_swap_mw_own_reader):
 *     smr_swap_load from two threads of a multi-writer cell.
 * (e) Only with the argument "mw-fau" (ctest test_swap_mw_fetch_update):
 *     smr_swap_fetch_and_update racing smr_swap_update, multi-writer.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "smr.h"

#define MAGIC_LIVE 0x4c49564556414c55ull
#define MAGIC_DEAD 0xdeaddeaddeaddeadull
#define NPAY       6

struct tv {
  uint64_t magic;
  uint64_t version; /* the version the writer publishes it under */
  uint64_t payload[NPAY];
};

/* Statistics: relaxed increments, read after every thread was joined (the
 * joins order them). */
static _Atomic long n_created, n_destroyed, n_freed;
static int dtor_ctx;

static uint64_t pay(uint64_t version, int i) {
  return version * 0x9e3779b97f4a7c15ull + (uint64_t)i;
}

static struct tv *mk(uint64_t version) {
  struct tv *v = malloc(sizeof *v);
  CHECK(v != NULL);
  v->magic = MAGIC_LIVE;
  v->version = version;
  for (int i = 0; i < NPAY; i++)
    v->payload[i] = pay(version, i);
  /* relaxed: statistics, read after the joins. */
  atomic_fetch_add_explicit(&n_created, 1, memory_order_relaxed);
  return v;
}

static void check_tv(const struct tv *v) {
  CHECK(v != NULL);
  CHECK(v->magic == MAGIC_LIVE);
  for (int i = 0; i < NPAY; i++)
    CHECK(v->payload[i] == pay(v->version, i));
}

static void poison_free(struct tv *v) {
  v->magic = MAGIC_DEAD;
  for (int i = 0; i < NPAY; i++)
    v->payload[i] = 0;
  free(v);
}

static void dtor(void *p, void *ctx) {
  CHECK(ctx == &dtor_ctx);
  check_tv(p); /* a double destroy finds it poisoned (or ASAN reports) */
  poison_free(p);
  /* relaxed: statistics, read after the joins. */
  atomic_fetch_add_explicit(&n_destroyed, 1, memory_order_relaxed);
}

/* The test frees a value the cell gave back. */
static void give_back(struct tv *v) {
  check_tv(v);
  poison_free(v);
  /* relaxed: statistics, read after the joins. */
  atomic_fetch_add_explicit(&n_freed, 1, memory_order_relaxed);
}

/* relaxed: no test thread runs at these points (before pthread_create,
 * after pthread_join). */
static void reset_counts(void) {
  atomic_store_explicit(&n_created, 0, memory_order_relaxed);
  atomic_store_explicit(&n_destroyed, 0, memory_order_relaxed);
  atomic_store_explicit(&n_freed, 0, memory_order_relaxed);
}

/* relaxed: see reset_counts. */
static void check_counts(void) {
  long c = atomic_load_explicit(&n_created, memory_order_relaxed);
  long d = atomic_load_explicit(&n_destroyed, memory_order_relaxed);
  long f = atomic_load_explicit(&n_freed, memory_order_relaxed);
  if (c != d + f)
    fprintf(stderr, "created %ld, destroyed %ld, freed by the test %ld\n", c, d,
            f);
  CHECK_EQ(c, d + f);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Shared control of one part. */
static smr_swap *cell;
static _Atomic int stop; /* release store by the controller, acquire loads */
static _Atomic int warm; /* threads that did their minimum work; relaxed */
static pthread_barrier_t start_bar;

static int stopped(void) {
  /* acquire: pairs with the release store that ends the part (nothing is
   * published through it; the joins order the results). */
  return atomic_load_explicit(&stop, memory_order_acquire);
}

static void set_stop(void) {
  /* release: pairs with the acquire load in stopped(). */
  atomic_store_explicit(&stop, 1, memory_order_release);
}

static void mark_warm(void) {
  /* relaxed: a progress counter, pairs with nothing. */
  atomic_fetch_add_explicit(&warm, 1, memory_order_relaxed);
}

static int all_warm(int n) {
  /* relaxed: see mark_warm. */
  return atomic_load_explicit(&warm, memory_order_relaxed) >= n;
}

static void start_part(void) {
  atomic_store_explicit(&stop, 0, memory_order_relaxed); /* before threads */
  atomic_store_explicit(&warm, 0, memory_order_relaxed); /* before threads */
  reset_counts();
}

/* ---- (a) one writer, many readers ---------------------------------------- */

#define NREADERS    4
#define MIN_READS   2000
#define A_THRESHOLD 8

struct rstat {
  long reads;
  long copies;
};

static void *map_fn(const void *p, void *arg) {
  const struct tv *v = p;
  check_tv(v);
  *(uint64_t *)arg = v->version;
  return (void *)(uintptr_t)(v->version + 1);
}

static bool even_fn(const void *p, void *arg) {
  const struct tv *v = p;
  check_tv(v);
  (void)arg;
  return v->version % 2 == 0;
}

static void *reader_a(void *p) {
  struct rstat *st = p;
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  pthread_barrier_wait(&start_bar);
  uint64_t last = 0;
  for (long i = 0; !stopped() || i < MIN_READS; i++) {
    if (i == MIN_READS)
      mark_warm();
    uint64_t before = smr_swap_reader_version(r);
    smr_swap_guard g, g2;
    uint64_t ver;
    switch (i % 8) {
    case 6: { /* copy out under a guard */
      struct tv copy;
      CHECK_EQ(smr_swap_reader_copy(r, &copy, sizeof copy, NULL, NULL), 0);
      check_tv(&copy);
      ver = copy.version;
      st->copies++;
      break;
    }
    case 7: { /* map, then filter */
      uint64_t seen = 0;
      void *res = smr_swap_reader_map(r, map_fn, &seen);
      CHECK(res == (void *)(uintptr_t)(seen + 1));
      CHECK(!smr_swap_reader_is_pinned(r));
      ver = seen;
      if (smr_swap_reader_filter(r, even_fn, NULL, &g)) {
        const struct tv *v = g.value;
        check_tv(v);
        CHECK_EQ(v->version % 2, 0);
        CHECK_EQ(smr_swap_guard_version(&g), v->version);
        CHECK(v->version >= ver);
        ver = v->version;
        smr_swap_guard_release(&g);
      }
      break;
    }
    default: {
      const struct tv *v = smr_swap_read(r, &g);
      check_tv(v);
      ver = smr_swap_guard_version(&g);
      CHECK_EQ(v->version, ver);
      /* A nested read returns the same value while the writer goes on. */
      const struct tv *v2 = smr_swap_read(r, &g2);
      CHECK(v2 == v);
      CHECK_EQ(smr_swap_guard_version(&g2), ver);
      check_tv(v2);
      smr_swap_guard_release(&g2);
      CHECK(smr_swap_reader_is_pinned(r));
      check_tv(v); /* still protected by the outer guard */
      CHECK_EQ(v->version, ver);
      smr_swap_guard_release(&g);
      break;
    }
    }
    CHECK(!smr_swap_reader_is_pinned(r));
    /* Never older than the version read before, never going back. */
    CHECK(ver >= before);
    CHECK(ver >= last);
    /* ... and the cell's version is never older than what we read (issue
     * 10 C.12: it used to be stored after the publish). */
    CHECK(smr_swap_reader_version(r) >= ver);
    last = ver;
    st->reads++;
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  return NULL;
}

static uint64_t w_ver; /* the writer's expected version (writer thread) */

static void *next_fn(const void *cur, void *arg) {
  const struct tv *v = cur;
  (void)arg;
  check_tv(v);
  CHECK_EQ(v->version, w_ver);
  return mk(v->version + 1);
}

static void part_a(unsigned flags, double secs) {
  start_part();
  struct smr_swap_attr attr = {flags, A_THRESHOLD, &dtor_ctx};
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &cell), 0);
  w_ver = 0;
  CHECK_EQ(pthread_barrier_init(&start_bar, NULL, NREADERS + 1), 0);
  pthread_t th[NREADERS];
  struct rstat st[NREADERS];
  memset(st, 0, sizeof st);
  for (int i = 0; i < NREADERS; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, reader_a, &st[i]), 0);
  pthread_barrier_wait(&start_bar);
  double end = now_s() + secs;
  long ops[7] = {0};
  for (long i = 0; now_s() < end || !all_warm(NREADERS); i++) {
    smr_swap_guard g;
    void *old = NULL;
    int op = (int)(i % 7);
    switch (op) {
    case 0:
      CHECK_EQ(smr_swap_store(cell, mk(w_ver + 1)), 0);
      w_ver++;
      break;
    case 1:
      CHECK_EQ(smr_swap_update(cell, next_fn, NULL), 0);
      w_ver++;
      break;
    case 2: /* waits for the readers that pin the old value */
      CHECK_EQ(smr_swap_exchange(cell, mk(w_ver + 1), &old), 0);
      CHECK_EQ(((struct tv *)old)->version, w_ver);
      give_back(old); /* checks it was not poisoned */
      w_ver++;
      break;
    case 3: {
      CHECK_EQ(smr_swap_fetch_and_update(cell, next_fn, NULL, &g), 0);
      const struct tv *v = g.value;
      w_ver++;
      CHECK_EQ(smr_swap_guard_version(&g), w_ver - 1);
      /* The old value outlives further publishes while the guard holds. */
      CHECK_EQ(smr_swap_store(cell, mk(w_ver + 1)), 0);
      w_ver++;
      CHECK(smr_swap_collect(cell) >= 0);
      check_tv(v);
      CHECK_EQ(v->version, w_ver - 2);
      smr_swap_guard_release(&g);
      break;
    }
    case 4: {
      CHECK_EQ(smr_swap_update_and_fetch(cell, next_fn, NULL, &g), 0);
      w_ver++;
      const struct tv *v = g.value;
      check_tv(v);
      CHECK_EQ(v->version, w_ver);
      CHECK_EQ(smr_swap_guard_version(&g), w_ver);
      smr_swap_guard_release(&g);
      break;
    }
    case 5:
      CHECK(smr_swap_collect(cell) >= 0);
      break;
    case 6: {
      const struct tv *v = smr_swap_load(cell, &g);
      check_tv(v);
      CHECK_EQ(v->version, w_ver);
      smr_swap_guard_release(&g);
      break;
    }
    }
    ops[op]++;
    CHECK_EQ(smr_swap_version(cell), w_ver);
    CHECK_EQ(((struct tv *)smr_swap_get(cell))->version, w_ver);
    CHECK(smr_swap_garbage_count(cell) <= A_THRESHOLD + NREADERS + 1);
  }
  set_stop();
  long reads = 0;
  for (int i = 0; i < NREADERS; i++) {
    CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK(st[i].reads >= MIN_READS);
    reads += st[i].reads;
  }
  CHECK_EQ(pthread_barrier_destroy(&start_bar), 0);
  CHECK(ops[2] > 0);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  check_counts();
  printf("(a) flags %u: %llu versions, %ld exchanges, %ld reads\n", flags,
         (unsigned long long)w_ver, ops[2], reads);
}

/* ---- (b) multi-writer compare_exchange ----------------------------------- */

#define NWRITERS  3
#define NBREADERS 2
#define MIN_SUCC  200

struct wstat {
  long cas_ok, cas_retry, upd_ok;
};

static void *inc_fn(const void *cur, void *arg) {
  const struct tv *v = cur;
  (void)arg;
  check_tv(v);
  return mk(v->version + 1);
}

static double b_end; /* written before the threads start */

static void *writer_b(void *p) {
  struct wstat *st = p;
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  pthread_barrier_wait(&start_bar);
  bool is_warm = false;
  /* Whichever writer sees the time up and everyone's minimum done ends the
   * part, so each writer has MIN_SUCC successes at least. */
  for (long i = 0; !stopped(); i++) {
    if (!is_warm && st->cas_ok >= MIN_SUCC) {
      mark_warm();
      is_warm = true;
    }
    if (is_warm && all_warm(NWRITERS) && now_s() >= b_end)
      set_stop();
    if (i % 16 == 15) {
      CHECK_EQ(smr_swap_update(cell, inc_fn, NULL), 0);
      st->upd_ok++;
      continue;
    }
    if (i % 64 == 7)
      CHECK(smr_swap_collect(cell) >= 0);
    int rc;
    do {
      smr_swap_guard g;
      const struct tv *v = smr_swap_read(r, &g);
      check_tv(v);
      CHECK_EQ(v->version, smr_swap_guard_version(&g));
      struct tv *nv = mk(v->version + 1);
      rc = smr_swap_compare_exchange(cell, &g, nv);
      smr_swap_guard_release(&g);
      if (rc) {
        CHECK_EQ(rc, -EAGAIN);
        give_back(nv); /* not consumed, not destroyed */
        st->cas_retry++;
      }
    } while (rc == -EAGAIN);
    st->cas_ok++;
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  return NULL;
}

static void *reader_b(void *p) {
  long *reads = p;
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  pthread_barrier_wait(&start_bar);
  uint64_t last = 0;
  while (!stopped()) {
    smr_swap_guard g;
    const struct tv *v = smr_swap_read(r, &g);
    check_tv(v);
    /* Each publish adds exactly one, so the count is the version. */
    CHECK_EQ(v->version, smr_swap_guard_version(&g));
    CHECK(v->version >= last);
    last = v->version;
    smr_swap_guard_release(&g);
    ++*reads;
  }
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  return NULL;
}

static void part_b(double secs) {
  start_part();
  struct smr_swap_attr attr = {SMR_SWAP_MULTI_WRITER, 16, &dtor_ctx};
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &cell), 0);
  CHECK_EQ(pthread_barrier_init(&start_bar, NULL, NWRITERS + NBREADERS + 1), 0);
  pthread_t tw[NWRITERS], tr[NBREADERS];
  b_end = now_s() + secs;
  struct wstat ws[NWRITERS];
  long reads[NBREADERS] = {0};
  memset(ws, 0, sizeof ws);
  for (int i = 0; i < NWRITERS; i++)
    CHECK_EQ(pthread_create(&tw[i], NULL, writer_b, &ws[i]), 0);
  for (int i = 0; i < NBREADERS; i++)
    CHECK_EQ(pthread_create(&tr[i], NULL, reader_b, &reads[i]), 0);
  pthread_barrier_wait(&start_bar);
  long total = 0, retries = 0, rd = 0;
  for (int i = 0; i < NWRITERS; i++) {
    CHECK_EQ(pthread_join(tw[i], NULL), 0);
    CHECK(ws[i].cas_ok >= MIN_SUCC);
    total += ws[i].cas_ok + ws[i].upd_ok;
    retries += ws[i].cas_retry;
  }
  for (int i = 0; i < NBREADERS; i++) {
    CHECK_EQ(pthread_join(tr[i], NULL), 0);
    rd += reads[i];
  }
  CHECK_EQ(pthread_barrier_destroy(&start_bar), 0);
  /* No lost update: the final count is every success, once. */
  const struct tv *fin = smr_swap_get(cell);
  check_tv(fin);
  CHECK_EQ(fin->version, total);
  CHECK_EQ(smr_swap_version(cell), total);
  /* Every refused value was freed by the test (relaxed: after the joins). */
  CHECK_EQ(atomic_load_explicit(&n_freed, memory_order_relaxed), retries);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  check_counts();
  printf("(b) %ld publishes, %ld cas retries, %ld reads\n", total, retries, rd);
}

/* ---- (c) reader handle churn --------------------------------------------- */

#define NCHURN      3
#define MIN_CHURN   500
#define C_THRESHOLD 8

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static smr_swap_reader *live[NCHURN * 2];

static void live_add(smr_swap_reader *r) {
  pthread_mutex_lock(&live_mu);
  int slot = -1;
  for (int i = 0; i < NCHURN * 2; i++) {
    CHECK(live[i] != r); /* one record handed to two live handles */
    if (!live[i] && slot < 0)
      slot = i;
  }
  CHECK(slot >= 0);
  live[slot] = r;
  pthread_mutex_unlock(&live_mu);
}

static void live_del(smr_swap_reader *r) {
  pthread_mutex_lock(&live_mu);
  int found = 0;
  for (int i = 0; i < NCHURN * 2; i++)
    if (live[i] == r) {
      live[i] = NULL;
      found++;
    }
  CHECK_EQ(found, 1);
  pthread_mutex_unlock(&live_mu);
}

static uint64_t read_check(smr_swap_reader *r, uint64_t last) {
  smr_swap_guard g;
  uint64_t before = smr_swap_reader_version(r);
  const struct tv *v = smr_swap_read(r, &g);
  check_tv(v);
  CHECK_EQ(v->version, smr_swap_guard_version(&g));
  uint64_t ver = v->version;
  CHECK(ver >= before);
  CHECK(ver >= last);
  smr_swap_guard_release(&g); /* v must not be touched from here on */
  return ver;
}

static void *churn_c(void *p) {
  long *rounds = p;
  pthread_barrier_wait(&start_bar);
  for (long i = 0; !stopped() || i < MIN_CHURN; i++) {
    if (i == MIN_CHURN)
      mark_warm();
    smr_swap_reader *r1, *r2 = NULL;
    CHECK_EQ(smr_swap_reader_create(cell, &r1), 0);
    CHECK(!smr_swap_reader_is_pinned(r1));
    live_add(r1);
    uint64_t last = read_check(r1, 0);
    if (i % 2) {
      CHECK_EQ(smr_swap_reader_create(cell, &r2), 0);
      CHECK(r2 != r1);
      CHECK(!smr_swap_reader_is_pinned(r2));
      live_add(r2);
      /* r2 pins while r1 reads on (two handles, one thread). */
      smr_swap_guard g;
      const struct tv *v = smr_swap_read(r2, &g);
      last = read_check(r1, last);
      check_tv(v);
      CHECK_EQ(smr_swap_reader_destroy(r2), -EBUSY);
      smr_swap_guard_release(&g);
    }
    last = read_check(r1, last);
    live_del(r1);
    CHECK_EQ(smr_swap_reader_destroy(r1), 0);
    if (r2) {
      read_check(r2, last);
      live_del(r2);
      CHECK_EQ(smr_swap_reader_destroy(r2), 0);
    }
    ++*rounds;
  }
  return NULL;
}

static void part_c(double secs) {
  start_part();
  struct smr_swap_attr attr = {0, C_THRESHOLD, &dtor_ctx};
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &cell), 0);
  CHECK_EQ(pthread_barrier_init(&start_bar, NULL, NCHURN + 1), 0);
  pthread_t th[NCHURN];
  long rounds[NCHURN] = {0};
  for (int i = 0; i < NCHURN; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, churn_c, &rounds[i]), 0);
  pthread_barrier_wait(&start_bar);
  double end = now_s() + secs;
  uint64_t ver = 0;
  while (now_s() < end || !all_warm(NCHURN)) {
    CHECK_EQ(smr_swap_store(cell, mk(ver + 1)), 0);
    ver++;
    /* At most 2 handles per churn thread exist at any time. */
    CHECK(smr_swap_garbage_count(cell) <= C_THRESHOLD + NCHURN * 2 + 1);
  }
  set_stop();
  long total = 0;
  for (int i = 0; i < NCHURN; i++) {
    CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK(rounds[i] >= MIN_CHURN);
    total += rounds[i];
  }
  CHECK_EQ(pthread_barrier_destroy(&start_bar), 0);
  for (int i = 0; i < NCHURN * 2; i++)
    CHECK(live[i] == NULL);
  CHECK_EQ(smr_swap_version(cell), ver);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  check_counts();
  printf("(c) %llu stores, %ld churn rounds\n", (unsigned long long)ver, total);
}

/* ---- (d) multi-writer: the cell's own reader from several threads --------
 * Run only with the argument "mw-own" (ctest: test_swap_mw_own_reader).
 * smr/swap.h lets any thread call the writer functions of a
 * SMR_SWAP_MULTI_WRITER cell concurrently, smr_swap_load included (and
 * recommends it over smr_swap_get there).  Two threads load while a third
 * stores: every load must return a value at least as new as the version
 * read just before it, and once every guard is released a load must see
 * the current value. */

#define NLOADERS 2

static void *loader_d(void *p) {
  long *loads = p;
  pthread_barrier_wait(&start_bar);
  while (!stopped()) {
    uint64_t before = smr_swap_version(cell);
    smr_swap_guard g;
    const struct tv *v = smr_swap_load(cell, &g);
    check_tv(v);
    if (smr_swap_guard_version(&g) < before)
      fprintf(stderr,
              "smr_swap_load returned version %llu after the cell "
              "reached %llu\n",
              (unsigned long long)smr_swap_guard_version(&g),
              (unsigned long long)before);
    CHECK(smr_swap_guard_version(&g) >= before);
    CHECK_EQ(v->version, smr_swap_guard_version(&g));
    smr_swap_guard_release(&g);
    ++*loads;
  }
  return NULL;
}

static void part_d(double secs) {
  start_part();
  struct smr_swap_attr attr = {SMR_SWAP_MULTI_WRITER, 0, &dtor_ctx};
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &cell), 0);
  CHECK_EQ(pthread_barrier_init(&start_bar, NULL, NLOADERS + 1), 0);
  pthread_t th[NLOADERS];
  long loads[NLOADERS] = {0};
  for (int i = 0; i < NLOADERS; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, loader_d, &loads[i]), 0);
  pthread_barrier_wait(&start_bar);
  double end = now_s() + secs;
  uint64_t ver = 0;
  while (now_s() < end) {
    CHECK_EQ(smr_swap_store(cell, mk(ver + 1)), 0);
    ver++;
  }
  set_stop();
  for (int i = 0; i < NLOADERS; i++)
    CHECK_EQ(pthread_join(th[i], NULL), 0);
  CHECK_EQ(pthread_barrier_destroy(&start_bar), 0);
  /* Every guard is released: the own reader pins nothing. */
  smr_swap_guard g;
  const struct tv *v = smr_swap_load(cell, &g);
  CHECK_EQ(v->version, ver);
  smr_swap_guard_release(&g);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  check_counts();
  printf("(d) %llu stores, %ld + %ld loads\n", (unsigned long long)ver,
         loads[0], loads[1]);
}

/* ---- (e) multi-writer: fetch_and_update against update ------------------
 * Run only with the argument "mw-fau" (ctest: test_swap_mw_fetch_update).
 * One thread calls smr_swap_fetch_and_update, another smr_swap_update, both
 * building count + 1 from the value they are given (so only one thread uses
 * the cell's own reader).  Writer calls serialise in multi-writer mode, so
 * every publish must build on the value it replaces: the count embedded in
 * the published value always equals its version. */

static void *fau_e(void *p) {
  long *n = p;
  pthread_barrier_wait(&start_bar);
  while (!stopped()) {
    smr_swap_guard g;
    CHECK_EQ(smr_swap_fetch_and_update(cell, inc_fn, NULL, &g), 0);
    check_tv(g.value);
    smr_swap_guard_release(&g);
    ++*n;
  }
  return NULL;
}

static void *upd_e(void *p) {
  long *n = p;
  pthread_barrier_wait(&start_bar);
  while (!stopped()) {
    CHECK_EQ(smr_swap_update(cell, inc_fn, NULL), 0);
    ++*n;
  }
  return NULL;
}

static void part_e(double secs) {
  start_part();
  struct smr_swap_attr attr = {SMR_SWAP_MULTI_WRITER, 0, &dtor_ctx};
  CHECK_EQ(smr_swap_create(mk(0), dtor, &attr, &cell), 0);
  smr_swap_reader *r;
  CHECK_EQ(smr_swap_reader_create(cell, &r), 0);
  CHECK_EQ(pthread_barrier_init(&start_bar, NULL, 3), 0);
  pthread_t t1, t2;
  long n1 = 0, n2 = 0;
  CHECK_EQ(pthread_create(&t1, NULL, fau_e, &n1), 0);
  CHECK_EQ(pthread_create(&t2, NULL, upd_e, &n2), 0);
  pthread_barrier_wait(&start_bar);
  double end = now_s() + secs;
  uint64_t last = 0;
  while (now_s() < end) {
    smr_swap_guard g;
    const struct tv *v = smr_swap_read(r, &g);
    check_tv(v);
    if (v->version != smr_swap_guard_version(&g))
      fprintf(stderr, "version %llu carries count %llu: an update was lost\n",
              (unsigned long long)smr_swap_guard_version(&g),
              (unsigned long long)v->version);
    CHECK_EQ(v->version, smr_swap_guard_version(&g));
    CHECK(v->version >= last);
    last = v->version;
    smr_swap_guard_release(&g);
  }
  set_stop();
  CHECK_EQ(pthread_join(t1, NULL), 0);
  CHECK_EQ(pthread_join(t2, NULL), 0);
  CHECK_EQ(pthread_barrier_destroy(&start_bar), 0);
  const struct tv *fin = smr_swap_get(cell);
  CHECK_EQ(fin->version, n1 + n2);
  CHECK_EQ(smr_swap_version(cell), n1 + n2);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  CHECK_EQ(smr_swap_destroy(cell), 0);
  check_counts();
  printf("(e) %ld fetch_and_update, %ld update\n", n1, n2);
}

int main(int argc, char **argv) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  if (argc > 1 && strcmp(argv[1], "mw-own") == 0) {
    part_d(test_seconds(3.0));
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "mw-fau") == 0) {
    part_e(test_seconds(3.0));
    return 0;
  }
  CHECK(argc == 1);
  double secs = test_seconds(3.0) / 4;
  part_a(0, secs);
  part_a(SMR_SWAP_SYMMETRIC, secs);
  part_b(secs);
  part_c(secs);
  return 0;
}
