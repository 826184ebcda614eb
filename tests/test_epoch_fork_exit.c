/* SPDX-License-Identifier: MIT */
/* fork() while another thread holds a domain's registry lock, then the
 * forking thread exits in the child (issue 10, C.10).
 *
 * The main thread owns a reader record (so libsmr's thread-exit hook has
 * work to do in it); a churn thread registers and unregisters readers in a
 * loop, taking the domain's registry lock again and again.  The main thread
 * forks repeatedly (up to MAX_FORKS times, for SMR_TEST_SECONDS seconds in
 * all, default 2); each child calls pthread_exit() at once, never calling
 * libsmr, so the exit hook runs in the child.  A key destructor of the
 * test ends the child with _exit(0) in the second destructor round, after
 * libsmr's hook has run in the first, whatever the order of keys (and
 * before LeakSanitizer would count the blocks the fork caught half-made in
 * the churn thread as leaks).
 * Before the fix the hook took the registry lock, which the fork had copied
 * in the locked state whenever the churn thread held it: the child hung.
 * The parent polls waitpid(WNOHANG) until a per-child deadline
 * (CHILD_TIMEOUT_S): a child still running then is reported as hung, killed,
 * and the test fails.
 */
/* Memory orders: the test threads' handshakes (steps, flags) and the
 * reclaim counters use seq_cst throughout: every such store pairs with the
 * other thread's seq_cst load of the same variable, and the total order
 * keeps the tests' reasoning simple (what the library orders is what they
 * check; their own accesses add no weaker order to reason about). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"

#define MAX_FORKS       300
#define CHILD_TIMEOUT_S 10.0

static smr_domain *dom;
static atomic_int stop;          /* relaxed: a flag polled by the churn */
static atomic_ulong churn_loops; /* relaxed: a counter */

static void *churn_main(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    smr_reader *r;
    CHECK_EQ(smr_reader_register(dom, &r), 0);
    CHECK_EQ(smr_reader_unregister(r), 0);
    atomic_fetch_add_explicit(&churn_loops, 1, memory_order_relaxed);
  }
  return NULL;
}

/* In the child: let the first round run every other destructor, then end
 * the process. */
static pthread_key_t child_key;
static void child_dtor(void *arg) {
  if (arg == (void *)&child_key) {
    CHECK_EQ(pthread_setspecific(child_key, (void *)&stop), 0);
    return;
  }
  _exit(0);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait for the child with a deadline; returns its status, or -1 if it hung
 * (it is killed and reaped then). */
static int wait_child(pid_t pid) {
  double deadline = now_s() + CHILD_TIMEOUT_S;
  for (;;) {
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid)
      return st;
    CHECK(w == 0 || (w < 0 && errno == EINTR));
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      CHECK_EQ(waitpid(pid, &st, 0), pid);
      return -1;
    }
    /* Poll interval of the timeout, not a synchronisation. */
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
}

int main(void) {
  CHECK_EQ(smr_domain_create(NULL, &dom), 0);
  smr_reader *self;
  CHECK_EQ(smr_reader_register(dom, &self), 0);
  CHECK_EQ(pthread_key_create(&child_key, child_dtor), 0);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, churn_main, NULL), 0);
  double end = now_s() + test_seconds(2);
  int forks = 0, hung = 0;
  while (forks < MAX_FORKS && now_s() < end) {
    smr_enter(self);
    smr_leave(self);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      CHECK_EQ(pthread_setspecific(child_key, (void *)&child_key), 0);
      pthread_exit(NULL); /* runs the key destructors */
    }
    forks++;
    int st = wait_child(pid);
    if (st < 0) {
      fprintf(stderr,
              "test_epoch_fork_exit: child %d of %d hung in "
              "pthread_exit (killed)\n",
              forks, MAX_FORKS);
      hung++;
      break;
    }
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
  }
  atomic_store_explicit(&stop, 1, memory_order_relaxed);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(hung, 0);
  CHECK_EQ(smr_reader_unregister(self), 0);
  CHECK_EQ(smr_domain_destroy(dom), 0);
  printf("test_epoch_fork_exit: %d forks, %lu churn loops, none hung\n", forks,
         atomic_load_explicit(&churn_loops, memory_order_seq_cst));
  return 0;
}
