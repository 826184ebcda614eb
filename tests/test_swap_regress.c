/* SPDX-License-Identifier: MIT */
/* Swap cell and smr_strerror regressions of issue 10 (items C.11-C.17 and
 * the swap half of A.4).  Each part is one ctest entry (argv[1] names it)
 * and uses only the API that existed before the fixes, so the same file
 * shows the defects on the old library:
 *
 *   c11  exchange publishes and then fails with -ENOMEM (its wait for the
 *        old value used to allocate the scan buffer): after the fix an
 *        error other than -ECANCELED always means "nothing published".
 *   c12  smr_swap_reader_version older than a version the same reader read
 *        (the NULL smr_swap_destroy publishes used to leave it behind).
 *   c13  compare_exchange with a guard of another cell whose version
 *        matches: -EINVAL, nothing published.
 *   c14  smr_swap_reader_create on a cell destroy freed: defined -EINVAL
 *        while a handle keeps the memory; in SMR_DEBUG builds the freed
 *        case aborts with a message (run in a child) instead of reading
 *        freed memory.
 *   c15  a destructor run by smr_swap_destroy that stores into the cell
 *        (and destroys it again): -ESHUTDOWN / -EINVAL, no heap corruption,
 *        no self-deadlock in multi-writer mode.
 *   c16  guards released out of order: SMR_DEBUG builds abort with a
 *        message at the offending release (child process) instead of
 *        leaving the reader pinned for good; LIFO release still works.
 *   c17  smr_strerror: static text for codes glibc does not know, INT_MIN,
 *        module-neutral generic text for -EBUSY.
 *   a4   SMR_DEBUG builds: a signal handler that reads through the reader
 *        whose read it interrupted aborts with a message (child process).
 *
 * The binary is linked with -Wl,--wrap=realloc (tests/swap.cmake) so c11
 * can make the library's realloc fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"

/* ---- realloc failure injection (c11) ------------------------------------ */

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static int fail_realloc;

void *__wrap_realloc(void *p, size_t n) {
  return fail_realloc ? NULL : __real_realloc(p, n);
}

/* ---- Values --------------------------------------------------------------
 * Heap values with a live flag; the destructor checks and clears it. */

#define MAXV 64
struct val {
  int id;
  int live;
};
static struct val *vals[MAXV];
static int nvals, ndestroyed;

static struct val *mk(void) {
  CHECK(nvals < MAXV);
  struct val *v = malloc(sizeof *v);
  CHECK(v != NULL);
  v->id = nvals;
  v->live = 1;
  vals[nvals++] = v;
  return v;
}

static void dtor(void *p, void *ctx) {
  (void)ctx;
  struct val *v = p;
  CHECK(v->live == 1);
  v->live = 0;
  ndestroyed++;
}

/* Free every value (destroyed or handed back). */
static void free_all(void) {
  for (int i = 0; i < nvals; i++)
    free(vals[i]);
  nvals = ndestroyed = 0;
}

static smr_swap *mkcell(void *initial, unsigned flags) {
  struct smr_swap_attr a = {flags, 0, NULL};
  smr_swap *c = NULL;
  CHECK_EQ(smr_swap_create(initial, dtor, &a, &c), 0);
  return c;
}

static smr_swap_reader *mkreader(smr_swap *c) {
  smr_swap_reader *r = NULL;
  CHECK_EQ(smr_swap_reader_create(c, &r), 0);
  return r;
}

#ifdef SMR_DEBUG
/* Run fn in a child process: a debug check of libsmr must abort it
 * (SIGABRT) before fn returns. */
static void expect_abort(const char *what, void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    fprintf(stderr, "%s child: misuse not detected\n", what);
    _exit(3);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
    fprintf(stderr, "%s: child status %#x, wanted SIGABRT\n", what, st);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}
#endif

static const unsigned modes[] = {0, SMR_SWAP_SYMMETRIC, SMR_SWAP_MULTI_WRITER};
#define NMODES (sizeof modes / sizeof modes[0])

/* ---- c11 ------------------------------------------------------------------
 */

static void part_c11(void) {
  for (size_t m = 0; m < NMODES; m++) {
    smr_swap *c = mkcell(mk(), modes[m]);
    smr_swap_reader *r = mkreader(c);
    smr_swap_guard g;
    smr_swap_read(r, &g); /* pins v0: a slot the scan must record */
    struct val *v1 = mk(), *v2 = mk();
    CHECK_EQ(smr_swap_store(c, v1), 0);
    void *old = NULL;
    fail_realloc = 1;
    int rc = smr_swap_exchange(c, v2, &old);
    fail_realloc = 0;
    if (rc != 0 && rc != -ECANCELED) {
      /* Documented: nothing published, the caller keeps v2. */
      fprintf(stderr, "c11: exchange returned %d, current value %p (v2 %p)\n",
              rc, smr_swap_get(c), (void *)v2);
      CHECK(smr_swap_get(c) != v2);
    }
    CHECK_EQ(rc, 0); /* waiting for the old value allocates nothing */
    CHECK(old == v1 && v1->live);
    v1->live = 0; /* ours now */
    smr_swap_guard_release(&g);
    CHECK_EQ(smr_swap_reader_destroy(r), 0);
    CHECK_EQ(smr_swap_destroy(c), 0);
    CHECK_EQ(ndestroyed + 1, nvals); /* v0, v2 destroyed; v1 given back */
    free_all();
  }
}

/* ---- c12 ------------------------------------------------------------------
 */

static void part_c12(void) {
  for (size_t m = 0; m < NMODES; m++) {
    smr_swap *c = mkcell(mk(), modes[m]);
    smr_swap_reader *r = mkreader(c);
    smr_swap_guard g;
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    smr_swap_read(r, &g);
    CHECK(smr_swap_reader_version(r) >= smr_swap_guard_version(&g));
    smr_swap_guard_release(&g);
    CHECK_EQ(smr_swap_destroy(c), 0); /* r keeps the memory alive */
    CHECK(smr_swap_read(r, &g) == NULL);
    uint64_t seen = smr_swap_guard_version(&g);
    smr_swap_guard_release(&g);
    uint64_t v = smr_swap_reader_version(r);
    if (v < seen)
      fprintf(stderr, "c12: reader read version %llu, then version() %llu\n",
              (unsigned long long)seen, (unsigned long long)v);
    CHECK(v >= seen);
    CHECK_EQ(smr_swap_reader_destroy(r), 0);
    free_all();
  }
}

/* ---- c13 ------------------------------------------------------------------
 */

static void part_c13(void) {
  for (size_t m = 0; m < NMODES; m++) {
    struct val *a0 = mk(), *b0 = mk();
    smr_swap *a = mkcell(a0, modes[m]), *b = mkcell(b0, modes[m]);
    smr_swap_reader *rb = mkreader(b);
    smr_swap_guard g;
    CHECK(smr_swap_read(rb, &g) == b0);
    CHECK_EQ(smr_swap_guard_version(&g), smr_swap_version(a)); /* both 0 */
    struct val *nv = mk();
    int rc = smr_swap_compare_exchange(a, &g, nv);
    CHECK_EQ(rc, -EINVAL);
    CHECK(smr_swap_get(a) == a0);
    /* The cell's own guards and handles of the right cell still work. */
    smr_swap_guard ga;
    CHECK(smr_swap_load(a, &ga) == a0);
    CHECK_EQ(smr_swap_compare_exchange(a, &ga, nv), 0);
    smr_swap_guard_release(&ga);
    smr_swap_guard_release(&g);
    CHECK_EQ(smr_swap_reader_destroy(rb), 0);
    CHECK_EQ(smr_swap_destroy(a), 0);
    CHECK_EQ(smr_swap_destroy(b), 0);
    CHECK_EQ(ndestroyed, nvals);
    free_all();
  }
}

/* ---- c14 ------------------------------------------------------------------
 */

#ifdef SMR_DEBUG
static void c14_child(void) {
  smr_swap *d = NULL;
  CHECK_EQ(smr_swap_create(NULL, NULL, NULL, &d), 0);
  CHECK_EQ(smr_swap_destroy(d), 0); /* no handle: freed now */
  smr_swap_reader *x = NULL;
  fprintf(stderr, "c14 child: reader_create on a freed cell returned %d\n",
          smr_swap_reader_create(d, &x));
}
#endif

static void part_c14(void) {
  /* Defined: a handle keeps the memory, reader_create says -EINVAL. */
  smr_swap *c = mkcell(mk(), 0);
  smr_swap_reader *r = mkreader(c), *r2 = NULL;
  CHECK_EQ(smr_swap_destroy(c), 0);
  CHECK_EQ(smr_swap_reader_create(c, &r2), -EINVAL);
  CHECK_EQ(smr_swap_reader_destroy(r), 0);
  free_all();
#ifdef SMR_DEBUG
  /* Undefined (the memory is gone), reported in debug builds. */
  expect_abort("c14", c14_child);
#else
  fprintf(stderr, "c14: freed-cell detection needs SMR_DEBUG; skipped\n");
#endif
}

/* ---- c15 ------------------------------------------------------------------
 */

static smr_swap *reenter_cell;
static struct val *reenter_val;
static int reenter_store_rc, reenter_destroy_rc, reenter_calls;

static void reenter_dtor(void *p, void *ctx) {
  dtor(p, ctx);
  if (reenter_calls++ == 0) {
    reenter_store_rc = smr_swap_store(reenter_cell, reenter_val);
    if (reenter_store_rc != -ESHUTDOWN)
      fprintf(stderr, "c15: store from a destructor during destroy: %d\n",
              reenter_store_rc);
    CHECK_EQ(reenter_store_rc, -ESHUTDOWN); /* before a self-deadlock */
    reenter_destroy_rc = smr_swap_destroy(reenter_cell);
  }
}

static void part_c15(void) {
  for (size_t m = 0; m < NMODES; m++) {
    /* A reader pin keeps one value for the later reader_destroy, whose
     * destructors must get the same answers. */
    for (int late = 0; late < 2; late++) {
      struct smr_swap_attr a = {modes[m], 0, NULL};
      CHECK_EQ(smr_swap_create(mk(), reenter_dtor, &a, &reenter_cell), 0);
      smr_swap_reader *r = mkreader(reenter_cell);
      smr_swap_guard g;
      if (late)
        smr_swap_read(r, &g);
      CHECK_EQ(smr_swap_store(reenter_cell, mk()), 0);
      reenter_val = mk();
      reenter_calls = 0;
      reenter_store_rc = reenter_destroy_rc = 1;
      if (late) {
        /* destroy destroys v1 now (v0 is pinned) ... */
        CHECK_EQ(smr_swap_destroy(reenter_cell), 0);
        CHECK_EQ(reenter_store_rc, -ESHUTDOWN);
        CHECK_EQ(reenter_destroy_rc, -EINVAL);
        /* ... and the last reader_destroy v0, with the same answers. */
        reenter_calls = 0;
        reenter_store_rc = reenter_destroy_rc = 1;
        smr_swap_guard_release(&g);
        CHECK_EQ(smr_swap_reader_destroy(r), 0); /* destroys v0, frees */
      } else {
        CHECK_EQ(smr_swap_reader_destroy(r), 0);
        CHECK_EQ(smr_swap_destroy(reenter_cell), 0);
      }
      CHECK_EQ(reenter_store_rc, -ESHUTDOWN);
      CHECK_EQ(reenter_destroy_rc, -EINVAL);
      CHECK(reenter_val->live); /* not consumed */
      reenter_val->live = 0;
      CHECK_EQ(ndestroyed + 1, nvals);
      free_all();
    }
  }
}

/* ---- c16 ------------------------------------------------------------------
 */

#ifdef SMR_DEBUG
static void c16_child(void) {
  smr_swap *c = mkcell(mk(), 0);
  smr_swap_reader *r = mkreader(c);
  smr_swap_guard g1, g2;
  smr_swap_read(r, &g1);
  smr_swap_read(r, &g2);
  smr_swap_guard_release(&g1); /* the outer one first */
  smr_swap_guard_release(&g2);
  fprintf(stderr, "c16 child: reader pinned: %d, reader_destroy: %d\n",
          (int)smr_swap_reader_is_pinned(r), smr_swap_reader_destroy(r));
}
#endif

static void part_c16(void) {
  /* LIFO (the contract) keeps the outer value pinned until the end. */
  for (size_t m = 0; m < NMODES; m++) {
    struct val *v0 = mk();
    smr_swap *c = mkcell(v0, modes[m]);
    smr_swap_reader *r = mkreader(c);
    smr_swap_guard g1, g2;
    CHECK(smr_swap_read(r, &g1) == v0);
    CHECK(smr_swap_read(r, &g2) == v0); /* nested */
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    CHECK_EQ(smr_swap_store(c, mk()), 0);
    CHECK(smr_swap_collect(c) >= 0);
    smr_swap_guard_release(&g2);
    CHECK(v0->live && smr_swap_reader_is_pinned(r));
    smr_swap_guard_release(&g1);
    CHECK(!smr_swap_reader_is_pinned(r));
    CHECK(smr_swap_collect(c) >= 0);
    CHECK(!v0->live);
    CHECK_EQ(smr_swap_reader_destroy(r), 0);
    CHECK_EQ(smr_swap_destroy(c), 0);
    CHECK_EQ(ndestroyed, nvals);
    free_all();
  }
#ifdef SMR_DEBUG
  /* Out of order: reported at the release that breaks the order, before
   * the reader is silently pinned for good. */
  expect_abort("c16", c16_child);
#else
  fprintf(stderr, "c16: the release-order check needs SMR_DEBUG; skipped\n");
#endif
}

/* ---- c17 ------------------------------------------------------------------
 */

static void part_c17(void) {
  /* A code glibc does not know: glibc formats it into a buffer it reuses. */
  const char *p = smr_strerror(-4000);
  char *copy = strdup(p);
  CHECK(copy != NULL);
  (void)smr_strerror(-4001);
  CHECK(strcmp(p, copy) == 0); /* static: unchanged by a later call */
  free(copy);
  const char *m = smr_strerror(INT_MIN);
  CHECK(m != NULL && strstr(m, "Unknown error") == NULL);
  CHECK(smr_strerror(INT_MAX) != NULL && smr_strerror(1) != NULL);
  CHECK(strcmp(smr_strerror(0), "success") == 0);
  /* Generic texts hold for every module: -EBUSY from the channel's
   * writer_open is not about registered readers. */
  CHECK(strstr(smr_strerror(-EBUSY), "reader") == NULL);
  CHECK(strstr(smr_strerror(-EDEADLK), "read section") == NULL);
  CHECK(strstr(smr_strerror(-EAGAIN), "grace period") == NULL);
}

/* ---- a4 -------------------------------------------------------------------
 */

#ifdef SMR_DEBUG
static smr_swap_reader *sig_reader;
static volatile sig_atomic_t sig_count;

static void on_alarm(int sig) {
  (void)sig;
  smr_swap_guard g;
  (void)smr_swap_read(sig_reader, &g); /* misuse: may interrupt a read */
  smr_swap_guard_release(&g);
  sig_count++;
}
#endif

#ifdef SMR_DEBUG
static void a4_child(void) {
  smr_swap *c = NULL;
  static int v = 1;
  CHECK_EQ(smr_swap_create(&v, NULL, NULL, &c), 0);
  CHECK_EQ(smr_swap_reader_create(c, &sig_reader), 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
  struct itimerval it = {{0, 50}, {0, 50}};
  CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
  /* Reads until a signal lands inside one (then the debug check aborts),
   * at most 20000 signals. */
  while (sig_count < 20000) {
    smr_swap_guard g;
    (void)smr_swap_read(sig_reader, &g);
    smr_swap_guard_release(&g);
  }
}
#endif

static void part_a4(void) {
#ifdef SMR_DEBUG
  expect_abort("a4", a4_child);
#else
  fprintf(stderr, "a4: the reentry check needs SMR_DEBUG; skipped\n");
#endif
}

int main(int argc, char **argv) {
  static const struct test_part parts[] = {{"c11", part_c11}, {"c12", part_c12},
                                           {"c13", part_c13}, {"c14", part_c14},
                                           {"c15", part_c15}, {"c16", part_c16},
                                           {"c17", part_c17}, {"a4", part_a4}};
  return TEST_RUN_PART(argc > 1 ? argv[1] : NULL, parts);
}
