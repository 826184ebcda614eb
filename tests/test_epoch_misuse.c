/* SPDX-License-Identifier: MIT */
/* Death tests of the epoch misuse assertions (SMR_DEBUG).
 *
 * CMake compiles this file with SMR_DEBUG whatever the build type, so the
 * inline smr_leave() asserts on an unbalanced leave.
 *
 * test_epoch_misuse drops NDEBUG before any header is included: it checks
 * the assertions themselves.  test_epoch_misuse_ndebug (SMR_TEST_KEEP_NDEBUG)
 * is the same file compiled with NDEBUG as well, as in a Release or
 * RelWithDebInfo build of a program that defines SMR_DEBUG: smr/common.h
 * promises that SMR_DEBUG turns the assertions on, but SMR_ASSERT is the
 * standard assert(), which NDEBUG silences, so that variant fails until
 * SMR_ASSERT stops depending on NDEBUG (reported to the lead).
 *
 * Each case runs in a forked child whose stderr goes to a pipe; the parent
 * asserts that the child died of SIGABRT (sanitizers may print more; only
 * the signal and the assertion text matter) and, for the control cases,
 * that correct use exits normally.
 */
#ifndef SMR_TEST_KEEP_NDEBUG
#undef NDEBUG
#endif
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "smr.h"

#ifndef SMR_DEBUG
#error "test_epoch_misuse must be compiled with SMR_DEBUG"
#endif

static smr_reader *new_reader(unsigned flags) {
  struct smr_domain_attr a = {flags, 0};
  smr_domain *d;
  CHECK_EQ(smr_domain_create(&a, &d), 0);
  smr_reader *r;
  CHECK_EQ(smr_reader_register(d, &r), 0);
  return r;
}

/* Children: each returns only if no assertion fired. */

static void leave_without_enter(unsigned flags) {
  smr_reader *r = new_reader(flags);
  fputs("reached\n", stderr);
  smr_leave(r);
}

static void double_leave(unsigned flags) {
  smr_reader *r = new_reader(flags);
  smr_enter(r);
  smr_enter(r);
  smr_leave(r);
  smr_leave(r);
  fputs("reached\n", stderr);
  smr_leave(r);
}

static void balanced(unsigned flags) {
  smr_reader *r = new_reader(flags);
  for (int i = 0; i < 3; i++) {
    smr_enter(r);
    smr_enter(r);
    smr_leave(r);
    smr_leave(r);
  }
  CHECK(!smr_in_section(r));
  CHECK_EQ(smr_reader_unregister(r), 0);
  fputs("reached\n", stderr);
}

/* Header: nestable while depth < 65535.  Going past that trips the
 * library's assertion (in a Debug build of the library). */
static void nest_overflow(unsigned flags) {
  smr_reader *r = new_reader(flags);
  for (int i = 0; i < 65534; i++)
    smr_enter(r);
  CHECK(smr_in_section(r));
  fputs("reached\n", stderr);
  smr_enter(r);
  smr_enter(r);
}

static void nest_max(unsigned flags) {
  smr_reader *r = new_reader(flags);
  for (int i = 0; i < 65534; i++)
    smr_enter(r);
  for (int i = 0; i < 65534; i++)
    smr_leave(r);
  CHECK(!smr_in_section(r));
  fputs("reached\n", stderr);
}

/* Runs fn(flags) in a child; returns its wait status, its stderr in buf. */
static int run_child(void (*fn)(unsigned), unsigned flags, char *buf,
                     size_t cap) {
  int fd[2];
  CHECK_EQ(pipe(fd), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fd[0]);
    if (dup2(fd[1], STDERR_FILENO) < 0)
      _exit(100);
    close(fd[1]);
    fn(flags);
    _exit(0);
  }
  close(fd[1]);
  size_t len = 0;
  for (;;) {
    ssize_t k = read(fd[0], buf + len, cap - 1 - len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    len += (size_t)k;
    if (len == cap - 1) { /* keep draining so the child never blocks */
      char sink[256];
      while (read(fd[0], sink, sizeof sink) > 0) {
      }
      break;
    }
  }
  buf[len] = '\0';
  close(fd[0]);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  return st;
}

static void expect_abort(void (*fn)(unsigned), unsigned flags, const char *what,
                         const char *name) {
  static char buf[16384];
  int st = run_child(fn, flags, buf, sizeof buf);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT || !strstr(buf, what) ||
      !strstr(buf, "reached"))
    fprintf(stderr, "%s (flags %u): status %#x, child stderr:\n%s\n", name,
            flags, (unsigned)st, buf);
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(WTERMSIG(st), SIGABRT);
  CHECK(strstr(buf, "reached") != NULL); /* died at the misuse, not before */
  CHECK(strstr(buf, what) != NULL);      /* of the intended assertion */
}

static void expect_exit0(void (*fn)(unsigned), unsigned flags,
                         const char *name) {
  static char buf[16384];
  int st = run_child(fn, flags, buf, sizeof buf);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "%s (flags %u): status %#x, child stderr:\n%s\n", name,
            flags, (unsigned)st, buf);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK(strstr(buf, "reached") != NULL);
}

int main(void) {
  CHECK_EQ(smr_fence_init(NULL), 0);
  const unsigned modes[2] = {0, SMR_DOMAIN_SYMMETRIC};
  for (int m = 0; m < 2; m++) {
    unsigned f = modes[m];
    expect_exit0(balanced, f, "balanced");
    expect_exit0(nest_max, f, "nest_max");
    expect_abort(leave_without_enter, f, "smr_leave without enter",
                 "leave_without_enter");
    expect_abort(double_leave, f, "smr_leave without enter", "double_leave");
    /* The library aborts on overflow in every build (slow path). */
    expect_abort(nest_overflow, f, "smr_enter nesting deeper than 65535",
                 "nest_overflow");
  }
  return 0;
}
