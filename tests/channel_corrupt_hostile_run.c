/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, sections "hostile" and "buggy": the writer, the
 * honest thread, and the case that runs them beside the reader processes of
 * channel_corrupt_hostile.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "channel_corrupt.h"

/* ---- the writer and the honest thread ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void h_progress(FILE *f) {
  /* relaxed: progress counters, for the message only. */
  fprintf(f,
          "publishes %lu (-EBUSY %lu, after %lu), honest thread %lu reads "
          "%lu versions, honest process %lu reads %lu versions, bad reader "
          "%lu passes %lu denied %lu truncations %lu junk, own reads %lu "
          "(%lu wrong, its own doing)\n",
          g_ok, g_busy, g_after,
          atomic_load_explicit(&g_reads, memory_order_relaxed),
          atomic_load_explicit(&g_seen, memory_order_relaxed),
          atomic_load_explicit(&g_hs->honest_reads, memory_order_relaxed),
          atomic_load_explicit(&g_hs->honest_seen, memory_order_relaxed),
          atomic_load_explicit(&g_hs->passes, memory_order_relaxed),
          atomic_load_explicit(&g_hs->denied, memory_order_relaxed),
          atomic_load_explicit(&g_hs->truncs, memory_order_relaxed),
          atomic_load_explicit(&g_hs->junk, memory_order_relaxed),
          atomic_load_explicit(&g_hs->own_reads, memory_order_relaxed),
          atomic_load_explicit(&g_hs->own_wrong, memory_order_relaxed));
}

static void *h_writer(void *arg) {
  smr_channel_writer *w = arg;
  static unsigned char buf[16 + 7000];
  double deadline = now_s() + test_seconds(1.5);
  uint64_t n = 2;
  for (;;) {
    h_fill(buf, n);
    struct smr_channel_commit_info info;
    /* Every buffer but the current one may be pinned by live readers
     * (honest, or the bad one's own slot and its live junk file): -EBUSY
     * (nothing published) is allowed, a wrong version is not. */
    int rc = smr_channel_publish(w, buf, h_size(n), &info);
    if (rc != 0 && rc != -EBUSY)
      fprintf(stderr, "publish: %d (%s)\n", rc, strerror(-rc));
    CHECK(rc == 0 || rc == -EBUSY);
    if (rc == 0) {
      CHECK_EQ(info.version, g_vbase + n);
      CHECK(info.buffer < H_BUFFERS);
      n++;
      g_ok++;
    } else {
      g_busy++;
    }
    double now = now_s();
    if (now < deadline)
      continue;
    /* relaxed: progress counters, only compared with H_MIN. */
    if (g_ok >= H_MIN &&
        atomic_load_explicit(&g_seen, memory_order_relaxed) >= H_MIN &&
        atomic_load_explicit(&g_hs->honest_seen, memory_order_relaxed) >=
            H_MIN &&
        atomic_load_explicit(&g_hs->passes, memory_order_relaxed) >= H_MIN)
      break;
    int st;
    if (waitpid(g_bad_pid, &st, WNOHANG) == g_bad_pid) { /* died early */
      kid_done(g_bad_pid);
      g_bad_status = st;
      break;
    }
    if (waitpid(g_honest_pid, &st, WNOHANG) == g_honest_pid) {
      kid_done(g_honest_pid);
      fprintf(stderr, "honest process: status %#x\n", (unsigned)st);
      CHECK(!"the honest process died");
    }
    if (now > deadline + 30) { /* a hang, not a slow machine */
      h_progress(stderr);
      CHECK(!"no progress 30 s past the deadline");
    }
  }
  /* relaxed: stop flag; the child is waited for before its counters are
   * read. */
  atomic_store_explicit(&g_hs->stop_bad, 1, memory_order_relaxed);
  if (g_bad_status == -1) {
    CHECK_EQ(waitpid(g_bad_pid, &g_bad_status, 0), g_bad_pid);
    kid_done(g_bad_pid);
  }
  /* The bad reader is gone: its locks with it.  Its junk and its pins are
   * dead, the honest readers pin two buffers at most: every publish
   * succeeds at timeout 0. */
  for (unsigned k = 0; k < H_AFTER; k++, n++) {
    h_fill(buf, n);
    struct smr_channel_commit_info info;
    int rc = smr_channel_publish(w, buf, h_size(n), &info);
    if (rc != 0)
      fprintf(stderr, "publish after the bad reader exited: %d\n", rc);
    CHECK_EQ(rc, 0);
    CHECK_EQ(info.version, g_vbase + n);
    g_after++;
  }
  /* relaxed: stop flags; the honest thread is joined and the honest
   * process waited for before anything they wrote is read. */
  atomic_store_explicit(&g_hs->stop_honest, 1, memory_order_relaxed);
  atomic_store_explicit(&g_wstop, 1, memory_order_relaxed);
  return NULL;
}

static void *h_reader(void *arg) {
  smr_channel_reader *r = arg;
  uint64_t last = 0;
  unsigned long reads = 0;
  /* relaxed: stop flag (pairs with the writer thread's store). */
  while (!atomic_load_explicit(&g_wstop, memory_order_relaxed)) {
    if (h_read_check(r, &last)) /* relaxed: progress counter */
      atomic_fetch_add_explicit(&g_seen, 1, memory_order_relaxed);
    if ((++reads & 63) == 0)
      h_stat_check(last);
  }
  /* relaxed: read after the join. */
  atomic_store_explicit(&g_reads, reads, memory_order_relaxed);
  return NULL;
}

static pid_t fork_child(void (*fn)(int, int), int go_fd, int ready_fd,
                        int *close1, int *close2) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    CHECK_EQ(close(*close1), 0);
    CHECK_EQ(close(*close2), 0);
    fn(go_fd, ready_fd);
    _exit(0);
  }
  kid_add(pid);
  CHECK_EQ(close(go_fd), 0);
  CHECK_EQ(close(ready_fd), 0);
  return pid;
}

/* A new run: the shared counters (a fresh anonymous mapping, all zero)
 * and this process's own. */
static void h_reset(void) {
  g_hs = mmap(NULL, sizeof *g_hs, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(g_hs != MAP_FAILED);
  /* (an anonymous mapping is zero: every counter and flag starts at 0) */
  /* relaxed: no thread of this case runs yet. */
  atomic_store_explicit(&g_seen, 0, memory_order_relaxed);
  atomic_store_explicit(&g_reads, 0, memory_order_relaxed);
  atomic_store_explicit(&g_wstop, 0, memory_order_relaxed);
  g_ok = g_busy = g_after = 0;
  g_bad_status = -1;
  g_vbase = 0; /* a new channel: payload n is version n */
}

/* The writer of the case's channel (timeout 0), which published its first
 * payload. */
static smr_channel_writer *h_open_writer(void) {
  struct smr_channel_options o = {0};
  o.buffers = H_BUFFERS;
  o.readers = H_SLOTS;
  o.flags = SMR_CHANNEL_NO_UMASK; /* 01777 readers directory, 0644 files */
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  {
    struct stat sb;
    CHECK_EQ(lstat(g_readers, &sb), 0);
    CHECK_EQ(sb.st_mode & 07777, 01777);
  }
  static unsigned char buf[16 + 7000];
  struct smr_channel_commit_info info;
  h_fill(buf, 1);
  CHECK_EQ(smr_channel_publish(w, buf, h_size(1), &info), 0);
  CHECK_EQ(info.version, g_vbase + 1);
  return w;
}

/* The bad reader and the honest process (status hst) exited 0, and every
 * party made the progress the mode asks for. */
static void h_expect_results(enum hmode mode, int hst) {
  if (!(WIFEXITED(g_bad_status) && WEXITSTATUS(g_bad_status) == 0))
    fprintf(stderr, "bad reader: status %#x\n", (unsigned)g_bad_status);
  CHECK(WIFEXITED(g_bad_status) && WEXITSTATUS(g_bad_status) == 0);
  if (!(WIFEXITED(hst) && WEXITSTATUS(hst) == 0))
    fprintf(stderr, "honest process: status %#x\n", (unsigned)hst);
  CHECK(WIFEXITED(hst) && WEXITSTATUS(hst) == 0);
  CHECK(g_ok > 0);
  CHECK_EQ(g_after, H_AFTER);
  CHECK(atomic_load_explicit(&g_seen, memory_order_relaxed) >= H_MIN);
  CHECK(atomic_load_explicit(&g_hs->honest_seen, memory_order_relaxed) >=
        H_MIN);
  CHECK(atomic_load_explicit(&g_hs->own_reads, memory_order_relaxed) > 0);
  if (mode == HM_HOSTILE && g_cross) {
    /* 11 (12 with protected hard links) per honest file, 6 on the
     * channel */
    CHECK(atomic_load_explicit(&g_hs->denied, memory_order_relaxed) >= 28);
    CHECK(atomic_load_explicit(&g_hs->truncs, memory_order_relaxed) >= H_MIN);
  }
  if (mode == HM_HOSTILE)
    CHECK(atomic_load_explicit(&g_hs->junk, memory_order_relaxed) > 0);
}

/* The honest readers' files were never touched: still theirs (the
 * process closed its reader, which removed its file). */
static void h_expect_honest_files(void) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[H_SLOTS];
  size_t nrs = 0;
  CHECK_EQ(
      smr_channel_stat(g_name, SMR_CHANNEL_STAT_VERIFY, &st, rs, H_SLOTS, &nrs),
      0);
  CHECK_EQ(st.checksum, SMR_CHANNEL_CHECKSUM_OK);
  CHECK(st.readers >= 1); /* the honest thread's, and dead junk */
  CHECK(st.writer_alive);
  unsigned alive = 0;
  for (size_t k = 0; k < nrs && k < H_SLOTS; k++)
    if (rs[k].alive) {
      alive++;
      CHECK_EQ(rs[k].slot, g_hslot[0]);
      CHECK_EQ(rs[k].pid, getpid());
    }
  CHECK_EQ(alive, 1);
}

void bad_reader_case(enum hmode mode) {
  g_hmode = mode;
  g_cross = g_root; /* honest process UID_OTHER; hostile UID_HOSTILE */
  g_case = mode == HM_BUGGY ? "buggy reader scribbling its own slot"
           : g_root         ? "hostile reader of another uid"
                            : "hostile reader (our uid: not root)";
  if (!g_root)
    skip_note(mode == HM_HOSTILE
                  ? "hostile: cross-uid parts (no other uid: (a) and the "
                    "truncation of its own slot file are left out)"
                  : "buggy: honest process of another uid");
  remove_channel_files();
  h_reset();

  /* Children first: nothing of the channel is open yet.  Each one's pipes
   * are made just before it, so that a child dying before it is ready
   * gives its parent an end of file, not a hang. */
  int hgo[2], hready[2], bgo[2], bready[2];
  CHECK_EQ(pipe2(hgo, O_CLOEXEC), 0);
  CHECK_EQ(pipe2(hready, O_CLOEXEC), 0);
  g_honest_pid =
      fork_child(honest_main, hgo[0], hready[1], &hgo[1], &hready[0]);
  CHECK_EQ(pipe2(bgo, O_CLOEXEC), 0);
  CHECK_EQ(pipe2(bready, O_CLOEXEC), 0);
  g_bad_pid = fork_child(bad_main, bgo[0], bready[1], &bgo[1], &bready[0]);

  smr_channel_writer *w = h_open_writer();

  char go = 1;
  CHECK_EQ(write(hgo[1], &go, 1), 1);
  read_full(hready[0], &g_hslot[1], sizeof g_hslot[1]);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r), 0);
  g_hslot[0] = own_slot();
  CHECK(g_hslot[0] != g_hslot[1]);
  CHECK_EQ(write(bgo[1], g_hslot, sizeof g_hslot), (ssize_t)sizeof g_hslot);
  char ready;
  read_full(bready[0], &ready, 1);

  pthread_t tw, tr;
  CHECK_EQ(pthread_create(&tr, NULL, h_reader, r), 0);
  CHECK_EQ(pthread_create(&tw, NULL, h_writer, w), 0);
  CHECK_EQ(pthread_join(tw, NULL), 0);
  CHECK_EQ(pthread_join(tr, NULL), 0);
  int hst;
  CHECK_EQ(waitpid(g_honest_pid, &hst, 0), g_honest_pid);
  kid_done(g_honest_pid);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(close(i ? hgo[1] : bgo[1]), 0);
    CHECK_EQ(close(i ? hready[0] : bready[0]), 0);
  }
  fprintf(stderr, "%s: ", g_case);
  h_progress(stderr);
  h_expect_results(mode, hst);

  h_expect_honest_files();
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  munmap(g_hs, sizeof *g_hs);
  g_hs = NULL;
  remove_channel_files();
}
