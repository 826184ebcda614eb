/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, section "squat" (also ctest test_channel_squat):
 * another user creates a channel's names first. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_corrupt.h"

/* ---- Squatted names: another user creates a channel's files first --------
 * A world-writable sticky directory like /dev/shm (g_sdir, 01777): the
 * hostile user (nobody) creates one of a channel's names before the writer
 * (UID_OTHER, an ordinary user) creates or takes over the channel.  The
 * writer must refuse with -EPERM (another user's name) or -EEXIST (a name
 * of its own user holding something it did not create), name the file in
 * smr_channel_error_path(), write nothing anywhere (the squatted file and every
 * other file keep their bytes; a refused creation leaves at most its own
 * lock file), and readers must never get to see the squatter's bytes.  The
 * same user taking over after a crash still works.  Root only. */

char g_sdir[96];     /* "<dir>/shared", mode 01777 */
char g_sname[128];   /* "<sdir>/ch" */
char g_svictim[160]; /* a file of the writer's user */

enum sq_kind { SQ_FILE, SQ_EMPTY, SQ_FIFO, SQ_LINK, SQ_DIR, SQ_HARDLINK };

struct squat {
  const char *what;
  const char *suffix; /* the squatted name: g_sname + suffix */
  enum sq_kind kind;
  bool existing; /* a channel exists (taken over), else a new one */
  int want;      /* smr_channel_writer_open's answer */
};

static const struct squat *g_sq;
static char g_sq_path[192];

static const char sq_bytes[] = "FOREIGN BYTES: not the writer's payload\n";

/* As nobody: plant the name. */
static void sq_plant(void) {
  switch (g_sq->kind) {
  case SQ_FILE:
  case SQ_EMPTY: {
    /* An empty state file reads as a channel being created. */
    size_t n = g_sq->kind == SQ_FILE ? sizeof sq_bytes : 0;
    int fd = open(g_sq_path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    CHECK(fd >= 0);
    CHECK_EQ(fchmod(fd, 0666), 0); /* anybody may write: the attack */
    CHECK_EQ(write(fd, sq_bytes, n), (ssize_t)n);
    CHECK_EQ(close(fd), 0);
    break;
  }
  case SQ_FIFO:
    CHECK_EQ(mkfifo(g_sq_path, 0666), 0);
    break;
  case SQ_LINK:
    CHECK_EQ(symlink(g_svictim, g_sq_path), 0);
    break;
  case SQ_DIR:
    CHECK_EQ(mkdir(g_sq_path, 0700), 0);
    CHECK_EQ(chmod(g_sq_path, 01777), 0);
    break;
  case SQ_HARDLINK:
    break; /* root makes it (see squat_case) */
  }
}

static void sq_publish(smr_channel_writer *w, unsigned n, uint64_t key) {
  static unsigned char buf[PAYLOAD];
  for (unsigned i = 0; i < n; i++) {
    fill(buf, PAYLOAD, key + i);
    EXPECT_EQ(smr_channel_publish(w, buf, PAYLOAD, NULL), 0);
  }
}

static struct smr_channel_options sq_options(void) {
  struct smr_channel_options o = {0};
  o.buffers = 4;
  o.flags = SMR_CHANNEL_NO_UMASK; /* 0644 files, 01777 readers directory */
  o.timeout_ns = 0;
  o.timeout_set = true;
  return o;
}

/* As UID_OTHER: the channel the existing cases start from (3 versions,
 * keys 1..3), left by a writer that died without closing. */
static void sq_make_channel(void) {
  struct smr_channel_options o = sq_options();
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_sname, &o, &w), 0);
  sq_publish(w, NPUB, 1);
  _exit(0); /* crashed: no close */
}

/* As UID_OTHER: the writer meets the squatted name. */
static void sq_writer(void) {
  struct smr_channel_options o = sq_options();
  smr_channel_writer *w = NULL;
  int rc = smr_channel_writer_open(g_sname, &o, &w);
  if (rc == 0) {
    /* A writer that adopted the name: publish through every buffer (what
     * the squatter would then control), then fail below. */
    sq_publish(w, 8, 100);
    smr_channel_writer_close(w);
  }
  if (rc != g_sq->want)
    fprintf(stderr, "writer_open: %d (%s), expected %d\n", rc,
            rc == 0 ? "adopted the squatted name" : "refused", g_sq->want);
  EXPECT_EQ(rc, g_sq->want);
  if (strcmp(smr_channel_error_path(), g_sq_path) != 0)
    fprintf(stderr, "error path '%s', squatted '%s'\n",
            smr_channel_error_path(), g_sq_path);
  EXPECT(strcmp(smr_channel_error_path(), g_sq_path) == 0);
}

/* As UID_OTHER (the readers' view): a new channel does not exist; an
 * existing one still serves its last payload, verified. */
static void sq_reader(void) {
  smr_channel_reader *r;
  int rc = smr_channel_reader_open(g_sname, SMR_CHANNEL_VERIFY, &r);
  if (!g_sq->existing) {
    EXPECT_EQ(rc, -ENOENT);
    return;
  }
  EXPECT_EQ(rc, 0);
  smr_channel_guard g;
  EXPECT_EQ(smr_channel_read(r, &g), 0);
  EXPECT_EQ(g.version, NPUB);
  EXPECT_EQ(g.size, PAYLOAD);
  EXPECT(matches(g.data, g.size, NPUB));
  smr_channel_release(r, &g);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
}

/* As UID_OTHER: taking over its own channel after a crash works, and a
 * reader reads what it publishes. */
static void sq_takeover_ok(void) {
  struct smr_channel_options o = sq_options();
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_sname, &o, &w), 0);
  EXPECT_EQ(smr_channel_error_path()[0], '\0');
  sq_publish(w, 5, 200); /* every buffer once */
  smr_channel_reader *r;
  EXPECT_EQ(smr_channel_reader_open(g_sname, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  EXPECT_EQ(smr_channel_read(r, &g), 0);
  EXPECT_EQ(g.version, NPUB + 5);
  EXPECT(matches(g.data, g.size, 204));
  smr_channel_release(r, &g);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
}

static void sq_clean(void) {
  rm_tree(g_sdir);
  CHECK_EQ(mkdir(g_sdir, 0700), 0);
  CHECK_EQ(chmod(g_sdir, 01777), 0);
  /* The writer's own precious file, which a planted link points to. */
  int fd = open(g_svictim, O_WRONLY | O_CREAT | O_EXCL, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "precious\n", 9), 9);
  CHECK_EQ(fchown(fd, UID_OTHER, UID_OTHER), 0);
  CHECK_EQ(close(fd), 0);
}

static void squat_case(const struct squat *sq) {
  g_case = sq->what;
  g_sq = sq;
  snprintf(g_sq_path, sizeof g_sq_path, "%s%s", g_sname, sq->suffix);
  sq_clean();
  if (sq->existing) {
    run_as("squat: make the channel", UID_OTHER, sq_make_channel);
    g_case = sq->what;
    /* A channel of an earlier version of the library had no file yet for
     * a buffer it never used: make the name free (as root). */
    unlink(g_sq_path);
  }
  if (sq->kind == SQ_HARDLINK)
    CHECK_EQ(link(g_svictim, g_sq_path), 0); /* needs root where
                                                protected_hardlinks is on */
  else
    run_as(sq->what, UID_HOSTILE, sq_plant);
  char *before = describe(g_sdir);
  char lock[192];
  snprintf(lock, sizeof lock, "%s.smr-lock", g_sname);
  bool had_lock =
      access(lock, F_OK) == 0 || strcmp(sq->suffix, ".smr-lock") == 0;
  run_as(sq->what, UID_OTHER, sq_writer);
  g_case = sq->what;
  /* Only the writer's own lock file may have appeared. */
  struct stat sb;
  if (!had_lock && lstat(lock, &sb) == 0) {
    EXPECT_EQ(sb.st_uid, UID_OTHER);
    EXPECT(S_ISREG(sb.st_mode));
    EXPECT_EQ(unlink(lock), 0);
  }
  expect_same_tree(before, g_sdir);
  if (strcmp(sq->suffix, ".smr") != 0)
    run_as(sq->what, UID_OTHER, sq_reader); /* else the squatter's own */
  g_case = sq->what;
  if (sq->existing) {
    /* The squatted name removed (the operator's recovery): the writer's
     * user takes its channel over again. */
    unlink(g_sq_path);
    run_as(sq->what, UID_OTHER, sq_takeover_ok);
  }
}

/* A reader of another user (nobody: the readers directory is 01777) leaves
 * a directory of its own, not empty, in the readers directory, which the
 * writer's user cannot empty, and takes the name the readers directory
 * would be moved aside to (an earlier version used the inode number, which
 * any reader sees) as a directory and as a file.  The channel removed and
 * created again by its user must still work. */
static char g_aside[224];

static void sq_aside_plant(void) {
  char p[sizeof g_aside + 8];
  snprintf(p, sizeof p, "%s.smr-readers/own", g_sname);
  CHECK_EQ(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s.smr-readers/own/f", g_sname);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(close(fd), 0);
  CHECK_EQ(mkdir(g_aside, 0755), 0); /* the inode's name */
  snprintf(p, sizeof p, "%s/keep", g_aside);
  fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644); /* not empty */
  CHECK(fd >= 0);
  CHECK_EQ(close(fd), 0);
}

static void sq_aside_recreate(void) {
  EXPECT_EQ(smr_channel_unlink(g_sname), 0);
  struct smr_channel_options o = sq_options();
  smr_channel_writer *w = NULL;
  int rc = smr_channel_writer_open(g_sname, &o, &w);
  if (rc != 0)
    fprintf(stderr, "writer_open: %d (%s)\n", rc, smr_channel_error_path());
  EXPECT_EQ(rc, 0);
  if (rc != 0)
    return;
  sq_publish(w, 2, 300);
  smr_channel_reader *r;
  EXPECT_EQ(smr_channel_reader_open(g_sname, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  EXPECT_EQ(smr_channel_read(r, &g), 0);
  EXPECT(matches(g.data, g.size, 301));
  smr_channel_release(r, &g);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
}

static void squat_aside(void) {
  g_case = "squat: the readers directory's aside name";
  sq_clean();
  run_as(g_case, UID_OTHER, sq_make_channel);
  char readers[192];
  snprintf(readers, sizeof readers, "%s.smr-readers", g_sname);
  struct stat sb;
  CHECK_EQ(stat(readers, &sb), 0);
  snprintf(g_aside, sizeof g_aside, "%s.smr-readers.old-%llu", g_sname,
           (unsigned long long)sb.st_ino);
  run_as(g_case, UID_HOSTILE, sq_aside_plant);
  run_as(g_case, UID_OTHER, sq_aside_recreate);
  g_case = "squat: the readers directory's aside name";
  /* The squatter's names are left alone. */
  EXPECT_EQ(lstat(g_aside, &sb), 0);
  EXPECT_EQ(sb.st_uid, UID_HOSTILE);
}

void squat_cases(void) {
  if (!g_root) {
    skip_note("squatted names (another uid creates a channel's files)");
    return;
  }
  static const struct squat cases[] = {
      {"squat: state file of a new channel", ".smr", SQ_EMPTY, false, -EPERM},
      {"squat: data file of a new channel", ".smr-data-1", SQ_FILE, false,
       -EPERM},
      {"squat: lock file of a new channel", ".smr-lock", SQ_FILE, false,
       -EPERM},
      {"squat: readers directory of a new channel", ".smr-readers", SQ_DIR,
       false, -EPERM},
      {"squat: the new state file's name", ".smr-new", SQ_FILE, false, -EPERM},
      {"squat: FIFO as a data file of a new channel", ".smr-data-0", SQ_FIFO,
       false, -EPERM},
      {"squat: symlink as a data file of a new channel", ".smr-data-2", SQ_LINK,
       false, -EPERM},
      {"squat: symlink as the state file", ".smr", SQ_LINK, false, -EPERM},
      {"squat: symlink as the lock file", ".smr-lock", SQ_LINK, false, -EPERM},
      {"squat: data file of an existing channel", ".smr-data-3", SQ_FILE, true,
       -EPERM},
      {"squat: FIFO as a data file of an existing channel", ".smr-data-3",
       SQ_FIFO, true, -EPERM},
      {"squat: hard link to the writer's file as a data file", ".smr-data-3",
       SQ_HARDLINK, true, -EEXIST},
  };
  /* SMR_TEST_SQUAT=<i>: only case i (to look at one case alone). */
  const char *only = getenv("SMR_TEST_SQUAT");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (!only || (size_t)atoi(only) == i)
      squat_case(&cases[i]);
  if (only)
    return;
  /* Stale files of the writer's own user, and another user's file at a
   * data name the channel does not use (K = 4: data-9): created anyway. */
  g_case = "squat: unused data name of another user, stale files of ours";
  sq_clean();
  static const struct squat unused = {"", ".smr-data-9", SQ_FILE, false, 0};
  g_sq = &unused;
  snprintf(g_sq_path, sizeof g_sq_path, "%s%s", g_sname, unused.suffix);
  run_as(g_case, UID_HOSTILE, sq_plant);
  {
    char p[192];
    snprintf(p, sizeof p, "%s.smr-data-2", g_sname);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
    CHECK(fd >= 0);
    CHECK_EQ(fchown(fd, UID_OTHER, UID_OTHER), 0);
    CHECK_EQ(close(fd), 0);
  }
  run_as(g_case, UID_OTHER, sq_make_channel);
  run_as(g_case, UID_OTHER, sq_takeover_ok);
  squat_aside();
  rm_tree(g_sdir);
}
