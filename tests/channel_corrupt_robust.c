/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, section "robust": the writer's discovery of slot
 * files under stress. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "channel_corrupt.h"

/* ---- The writer's discovery under stress (section "robust") -------------
 * Regression cases for faults found while writing this file (each made
 * the writer forget a live reader, serve a rewritten buffer, or fail with
 * an undocumented errno).  Each runs in a child (it changes limits). */

static void rob_publish(smr_channel_writer *w, unsigned char v, int *rc,
                        struct smr_channel_commit_info *info) {
  unsigned char b[64];
  memset(b, v, sizeof b);
  *rc = smr_channel_publish(w, b, sizeof b, info);
}

/* A writer of 3 buffers with timeout 0 that published versions 1..3 (the
 * payload of version v is 64 bytes of v). */
static smr_channel_writer *rob_writer3(void) {
  struct smr_channel_options o = {0};
  o.buffers = 3;
  o.timeout_set = true; /* timeout 0 */
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  for (unsigned char v = 1; v <= 3; v++) {
    int rc;
    struct smr_channel_commit_info info;
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
  }
  return w;
}

/* Versions 4..9 published while a reader's guard g pins version 3: each
 * succeeds, none in the pinned buffer (when: the message's prefix). */
static void rob_publish_pinned(smr_channel_writer *w,
                               const smr_channel_guard *g, const char *when) {
  for (unsigned char v = 4; v <= 9; v++) {
    int rc;
    struct smr_channel_commit_info info;
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
    unsigned char now = ((const unsigned char *)g->data)[0];
    if (now != 3)
      fprintf(stderr,
              "%sversion %llu went to buffer %u under a live reader's guard "
              "(it reads %u, not 3)\n",
              when, (unsigned long long)info.version, info.buffer, now);
    CHECK_EQ(now, 3);
  }
}

/* The writer cannot open a new reader's slot file once (no descriptor
 * left: -EMFILE, documented); the reader must not be forgotten: the next
 * publishes find it, and its pinned buffer is never rewritten. */
static void rob_emfile(void) {
  smr_channel_writer *w = rob_writer3();
  int rc;
  struct smr_channel_commit_info info;
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, 0, &r),
           0); /* linked after the look */
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(((const unsigned char *)g.data)[0], 3);
  struct rlimit old, low;
  CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  int k = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(k >= 0);
  CHECK_EQ(close(k), 0);
  low = old;
  low.rlim_cur = (rlim_t)k; /* the lowest free descriptor is over it */
  CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  rob_publish(w, 4, &rc, &info);
  CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  if (rc != -EMFILE)
    fprintf(stderr, "publish at the descriptor limit: %d\n", rc);
  CHECK_EQ(rc, -EMFILE);
  rob_publish_pinned(w, &g, "");
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
}

/* A UNIX socket bound at r0 (anyone who may join can): open(2) says
 * ENXIO.  Not a slot file: publish, stat and takeover ignore it. */
static int bind_socket(const char *entry) {
  char p[192];
  slot_path(entry, p, sizeof p);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0);
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  CHECK(strlen(p) < sizeof a.sun_path);
  memcpy(a.sun_path, p, strlen(p) + 1);
  CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  return s;
}

static void rob_socket(void) {
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  int rc;
  struct smr_channel_commit_info info;
  rob_publish(w, 1, &rc, &info);
  CHECK_EQ(rc, 0);
  int s = bind_socket("r0");
  for (unsigned char v = 2; v <= 5; v++) {
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
  }
  struct smr_channel_stat st;
  size_t nrs = 9;
  CHECK_EQ(smr_channel_stat(g_name, 0, &st, NULL, 0, &nrs), 0);
  CHECK_EQ(nrs, 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  rob_publish(w, 6, &rc, &info);
  CHECK_EQ(rc, 0);
  smr_channel_writer_close(w);
  CHECK_EQ(close(s), 0);
}

/* The same socket while the writer lists the directory after its watch
 * overflowed (anyone can overflow it: attribute changes of their own
 * files), and a reader whose event was lost: it must be found. */
static void rob_overflow(void) {
  smr_channel_writer *w = rob_writer3();
  int s = bind_socket("r0");
  char p[192];
  slot_path("x-flood", p, sizeof p);
  int f1 = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  slot_path("y-flood", p, sizeof p);
  int f2 = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(f1 >= 0 && f2 >= 0);
  watch_flood(f1, f2);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, 0, &r), 0); /* its event is lost */
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(((const unsigned char *)g.data)[0], 3);
  rob_publish_pinned(w, &g, "after the overflow, ");
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(close(s), 0);
  CHECK_EQ(close(f1), 0);
  CHECK_EQ(close(f2), 0);
}

/* Another user creates the temporary names a reader could use (the
 * pattern "t<pid>.<n>" of a named temporary file): readers still open, and
 * leave no temporary name behind. */
static void rob_tmp_names(void) {
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  for (unsigned n = 0; n < 64; n++) {
    char nm[48], p[192];
    snprintf(nm, sizeof nm, "t%d.%u", (int)getpid(), n);
    slot_path(nm, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(close(fd), 0);
  }
  smr_channel_reader *r[4];
  for (int k = 0; k < 4; k++)
    CHECK_EQ(smr_channel_reader_open(g_name, 0, &r[k]), 0);
  unsigned names = 0;
  DIR *d = opendir(g_readers);
  CHECK(d != NULL);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    names += e->d_name[0] != '.';
  CHECK_EQ(closedir(d), 0);
  CHECK_EQ(names, 64 + 4); /* ours, and one r<i> per reader */
  for (int k = 0; k < 4; k++)
    CHECK_EQ(smr_channel_reader_close(r[k]), 0);
  smr_channel_writer_close(w);
}

/* A reader leaves a directory with a file in it inside the readers
 * directory (01777 lets it; nobody else may empty it); the owner removes
 * the channel and creates it again: the new writer opens (the old
 * directory is moved aside) and the channel works. */
static void rob_leftover_subdir(void) {
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  smr_channel_writer_close(w);
  char p[192];
  slot_path("keep", p, sizeof p);
  CHECK_EQ(mkdir(p, 0755), 0);
  slot_path("keep/f", p, sizeof p);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(close(fd), 0);
  CHECK_EQ(smr_channel_unlink(g_name), 0);
  int rc = smr_channel_writer_open(g_name, NULL, &w);
  if (rc != 0)
    fprintf(stderr, "writer_open over a leftover readers directory: %d\n", rc);
  CHECK_EQ(rc, 0);
  struct stat sb;
  CHECK_EQ(lstat(g_readers, &sb), 0);
  CHECK(S_ISDIR(sb.st_mode));
  slot_path("keep", p, sizeof p);
  CHECK_EQ(lstat(p, &sb), -1); /* a new directory */
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
  int rcp;
  struct smr_channel_commit_info info;
  rob_publish(w, 7, &rcp, &info);
  CHECK_EQ(rcp, 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(g.version, info.version);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
}

void robust_cases(void) {
  static const struct {
    const char *what;
    void (*fn)(void);
  } cases[] = {
      {"writer out of descriptors once: the new reader is still found",
       rob_emfile},
      {"socket in the readers directory: ignored", rob_socket},
      {"socket + watch overflow: the reader whose event was lost is found",
       rob_overflow},
      {"temporary slot names taken by another user", rob_tmp_names},
      {"leftover subdirectory: the channel can be created again",
       rob_leftover_subdir},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    remove_channel_files();
    run_child(cases[i].what, OWN_UID, 0, cases[i].fn);
  }
  remove_channel_files();
}
