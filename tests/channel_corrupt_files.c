/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, sections "payload" (the current version, descriptors,
 * data files), "special" (files that are not regular files) and "symlink"
 * (planted symbolic links). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "channel_corrupt.h"

/* ---- Current version, descriptors, data files ---------------------------- */

/* `current` naming a buffer out of range, or a version its descriptor
 * does not hold. */
static void current_index_cases(void) {
  static const unsigned idx[] = {3, 31, 32, 255};
  for (size_t i = 0; i < 4; i++) {
    char what[64];
    snprintf(what, sizeof what, "current names buffer %u of 3", idx[i]);
    fresh_channel(3, 8, 0);
    poke64(g_state, ST_OFF(current), (g_cur_version << 8) | idx[i]);
    check_bad_current(what);
  }

  /* All ones: buffer 255, and the largest version (found by fuzz_channel). */
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(current), UINT64_MAX);
  g_cur_version = UINT64_MAX >> 8;
  check_bad_current("current = UINT64_MAX");

  static const int64_t dver[] = {1, -1, 0};
  for (size_t i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "descriptor version = current %+lld",
             (long long)dver[i]);
    fresh_channel(3, 8, 0);
    uint64_t v = dver[i] == 0 ? 0 : g_cur_version + (uint64_t)dver[i];
    if (dver[i] == 0)
      snprintf(what, sizeof what, "descriptor version = 0");
    poke64(g_state, DESC_OFF(g_cur_index, version), v);
    check_bad_current(what);
  }
}

/* The current descriptor's size and file_size. */
static void desc_size_cases(void) {
  char dp[192];
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), SMR_CHANNEL_MAX_PAYLOAD + 1);
  check_bad_current("descriptor size > SMR_CHANNEL_MAX_PAYLOAD");
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), UINT64_MAX);
  check_bad_current("descriptor size = UINT64_MAX");
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), SMR_CHANNEL_MAX_PAYLOAD);
  check_bad_current("descriptor size = SMR_CHANNEL_MAX_PAYLOAD (> file)");
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  poke64(g_state, DESC_OFF(g_cur_index, size), file_size(dp) + 1);
  check_bad_current("descriptor size = data file size + 1");
  /* Even when the informational file_size agrees with the lie. */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  poke64(g_state, DESC_OFF(g_cur_index, size), file_size(dp) + 4096);
  poke64(g_state, DESC_OFF(g_cur_index, file_size), file_size(dp) + 4096);
  check_bad_current("descriptor size and file_size past the file");

  /* The whole file as payload leaves no room for its block sums. */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  poke64(g_state, DESC_OFF(g_cur_index, size), file_size(dp));
  check_bad_current("descriptor size = data file size (no room for sums)");
  /* The largest size whose sums fit is readable (no checksum match then). */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  {
    uint64_t f = file_size(dp), s = f - 8;
    while (smr__channel_sum_end(s) > f)
      s--;
    CHECK(s != PAYLOAD);
    poke64(g_state, DESC_OFF(g_cur_index, size), s);
  }
  check_case("descriptor size = the most the data file holds", 0, 0, -EBADMSG,
             0, -EBADMSG, SMR_CHANNEL_CHECKSUM_BAD, TK_ANY, 0);
  /* file_size is informational: garbage there changes nothing. */
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, file_size), UINT64_MAX);
  check_case("descriptor file_size = UINT64_MAX", 0, 0, 0, 1, 0,
             SMR_CHANNEL_CHECKSUM_OK, TK_ANY, 0);
}

/* The current data file missing, short, replaced or a directory. */
static void data_file_cases(void) {
  char dp[192];
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  CHECK_EQ(unlink(dp), 0);
  check_bad_current("current data file missing");
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  trunc_to(dp, PAYLOAD - 1);
  check_bad_current("current data file truncated to payload - 1");
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  trunc_to(dp, 0);
  check_bad_current("current data file truncated to 0");
  /* The same bytes in another file (another inode) under the name: not
   * the file the descriptor names. */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  {
    size_t n;
    unsigned char *bytes = slurp(dp, &n);
    CHECK(bytes != NULL);
    CHECK_EQ(unlink(dp), 0);
    int fd = open(dp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, bytes, n), (ssize_t)n);
    CHECK_EQ(close(fd), 0);
    free(bytes);
  }
  check_case("current data file replaced by a copy (another inode)", 0, -ESTALE,
             -ESTALE, 0, 0, -1, TK_ANY, 0);
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  CHECK_EQ(unlink(dp), 0);
  CHECK_EQ(mkdir(dp, 0700), 0);
  check_bad_current("current data file is a directory");
  rmdir(dp);
}

/* Flipped payload or checksum bits. */
static void flipped_cases(void) {
  char dp[192];
  /* Flipped payload bytes (first, middle, last): a plain read cannot tell,
   * smr_channel_verify and SMR_CHANNEL_VERIFY readers can. */
  static const uint64_t at[] = {0, PAYLOAD / 2, PAYLOAD - 1};
  for (size_t i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "payload byte %llu flipped",
             (unsigned long long)at[i]);
    fresh_channel(3, 8, 0);
    cur_data_path(dp, sizeof dp);
    unsigned char b = (unsigned char)(pattern_byte(g_cur_version, at[i]) ^ 4);
    poke(dp, at[i], &b, 1);
    g_case = what;
    smr_channel_reader *r;
    EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
    smr_channel_guard g;
    EXPECT_EQ(smr_channel_read(r, &g), 0);
    EXPECT_EQ(g.size, PAYLOAD);
    EXPECT_EQ(((const unsigned char *)g.data)[at[i]], b);
    EXPECT_EQ(smr_channel_verify(r, &g), -EBADMSG);
    smr_channel_release(r, &g);
    EXPECT_EQ(smr_channel_reader_close(r), 0);
    check_case(what, 0, 0, -EBADMSG, 0, -EBADMSG, SMR_CHANNEL_CHECKSUM_BAD,
               TK_ANY, 0);
  }
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, checksum),
         peek64(g_state, DESC_OFF(g_cur_index, checksum)) ^ 1);
  check_case("descriptor checksum flipped", 0, 0, -EBADMSG, 1, -EBADMSG,
             SMR_CHANNEL_CHECKSUM_BAD, TK_ANY, 0);
}

/* The smallest and the largest version. */
static void version_edge_cases(void) {
  /* `current` != 0 (something published) naming version 0, in a buffer
   * whose descriptor says version 0 too (as a never-written one does):
   * versions start at 1, so this is corrupt, not an empty payload. */
  fresh_channel(3, 8, 0);
  {
    unsigned other = g_cur_index == 1 ? 2 : 1; /* not 0: current != 0 */
    static const unsigned char zero[sizeof(struct smr__channel_desc)];
    poke(g_state, DESC_OFF(other, version), zero, sizeof zero);
    poke64(g_state, ST_OFF(current), other);
    g_cur_version = 0;
  }
  check_bad_current("current names version 0 (buffer 1, descriptor zero)");

  /* The largest version `current` can hold (56 bits): readable; a writer
   * taking over must refuse (-EBADMSG) rather than wrap to version 0. */
  fresh_channel(3, 8, 0);
  {
    uint64_t vmax = UINT64_MAX >> 8;
    poke64(g_state, DESC_OFF(g_cur_index, version), vmax);
    poke64(g_state, ST_OFF(current), (vmax << 8) | g_cur_index);
    g_cur_version = vmax;
  }
  check_case("current version 2^56 - 1 (the largest)", 0, 0, 0, 1, 0,
             SMR_CHANNEL_CHECKSUM_OK, TK_ANY, 0);
}

/* Damage under a reader that is already open. */
static void open_reader_cases(void) {
  /* A reader already open and reading when the state is damaged: the next
   * new version it sees is validated like the first. */
  fresh_channel(3, 8, 0);
  g_case = "damaged under an open reader";
  {
    smr_channel_reader *r;
    EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
    smr_channel_guard g;
    EXPECT_EQ(smr_channel_read(r, &g), 0);
    EXPECT_EQ(g.version, g_cur_version);
    smr_channel_release(r, &g);
    uint64_t good = peek64(g_state, ST_OFF(current));
    /* The next version in an out-of-range buffer. */
    poke64(g_state, ST_OFF(current), ((g_cur_version + 1) << 8) | 40u);
    EXPECT_EQ(smr_channel_read(r, &g), -EBADMSG);
    EXPECT_EQ(smr_channel_read(r, &g), -EBADMSG);
    /* The next version in a real buffer whose descriptor disagrees. */
    unsigned other = (g_cur_index + 1) % 3;
    poke64(g_state, ST_OFF(current), ((g_cur_version + 1) << 8) | other);
    EXPECT_EQ(smr_channel_read(r, &g), -EBADMSG);
    /* Repaired: reads work again. */
    poke64(g_state, ST_OFF(current), good);
    EXPECT_EQ(smr_channel_read(r, &g), 0);
    EXPECT_EQ(g.version, g_cur_version);
    EXPECT(matches(g.data, g.size, g_cur_version));
    smr_channel_release(r, &g);
    EXPECT_EQ(smr_channel_reader_close(r), 0);
  }
}

void payload_cases(void) {
  current_index_cases();
  desc_size_cases();
  data_file_cases();
  flipped_cases();
  version_edge_cases();
  open_reader_cases();
}

/* ---- Files that are not regular files ------------------------------------ */

/* Runs fn in a child with an alarm: a call that blocks forever (open(2) of
 * a FIFO without O_NONBLOCK) fails the test instead of hanging it. */
static void in_child_with_alarm(const char *what, void (*fn)(void)) {
  run_child(what, OWN_UID, 3, fn);
}

/* A FIFO where a channel file should be: readers and stat refuse it, and
 * so does a writer, with writer_err. */
static void fifo_refused(int writer_err) {
  smr_channel_reader *r;
  struct smr_channel_stat st;
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), -EBADMSG);
  EXPECT_EQ(smr_channel_stat(g_name, 0, &st, NULL, 0, NULL), -EBADMSG);
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), writer_err);
}

static void fifo_state_fn(void) {
  /* The name holds something the writer did not create: never adopted. */
  fifo_refused(-EEXIST);
  EXPECT(strcmp(smr_channel_error_path(), g_state) == 0);
}

static void fifo_readers_fn(void) {
  /* An existing channel: taken over only with its own directory. */
  fifo_refused(-EBADMSG);
}

/* A new channel where a FIFO sits at the readers path: the writer removes
 * it (without opening it for I/O) and makes the directory. */
static void fifo_readers_new_fn(void) {
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  struct stat sb;
  EXPECT_EQ(lstat(g_readers, &sb), 0);
  EXPECT(S_ISDIR(sb.st_mode));
  smr_channel_writer_close(w);
}

/* Readers never touch the writer lock; a writer refuses a lock file that
 * is not a regular file (-EEXIST: it did not create it), and so does
 * smr_channel_unlink (which takes the lock while removing). */
static void fifo_lock_fn(void) {
  check_reader(SMR_CHANNEL_VERIFY, 0, 0, 1, 0);
  struct smr_channel_stat st;
  EXPECT_EQ(smr_channel_stat(g_name, 0, &st, NULL, 0, NULL), 0);
  EXPECT_EQ(st.version, g_cur_version);
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), -EEXIST);
  EXPECT(strcmp(smr_channel_error_path(), g_lock) == 0);
}

static void fifo_data_fn(void) {
  check_reader(0, 0, -EBADMSG, 0, 0);
}

void special_file_cases(void) {
  fresh_channel(3, 8, 0);
  unlink(g_state);
  CHECK_EQ(mkfifo(g_state, 0600), 0);
  in_child_with_alarm("state file is a FIFO", fifo_state_fn);
  fresh_channel(3, 8, 0);
  rm_tree(g_readers);
  CHECK_EQ(mkfifo(g_readers, 0600), 0);
  in_child_with_alarm("readers directory is a FIFO", fifo_readers_fn);
  remove_channel_files();
  CHECK_EQ(mkfifo(g_readers, 0600), 0);
  in_child_with_alarm("new channel, a FIFO at the readers path",
                      fifo_readers_new_fn);
  fresh_channel(3, 8, 0);
  unlink(g_lock);
  CHECK_EQ(mkfifo(g_lock, 0600), 0);
  in_child_with_alarm("writer lock file is a FIFO", fifo_lock_fn);
  fresh_channel(3, 8, 0);
  char dp[192];
  cur_data_path(dp, sizeof dp);
  unlink(dp);
  CHECK_EQ(mkfifo(dp, 0600), 0);
  in_child_with_alarm("current data file is a FIFO", fifo_data_fn);
}

/* ---- Planted symbolic links: the writer must not write through them ------
 * In a shared directory (/dev/shm is world-writable) another user can
 * create NAME.smr-data-<i> or NAME.smr-readers before the writer does; a
 * writer that follows the link truncates and writes the link's target, or
 * (readers directory) empties the directory it points to. */

static void symlink_case(const char *what, const char *link_path,
                         bool existing_channel, bool empty_victim) {
  g_case = what;
  if (existing_channel)
    fresh_channel(4, 8, 0); /* NPUB = 3 versions: one data file unused */
  else
    remove_channel_files();
  static const char victim_text[] = "precious file, not a channel\n";
  size_t victim_len = empty_victim ? 0 : sizeof victim_text;
  {
    int fd = open(g_victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, victim_text, victim_len), (ssize_t)victim_len);
    CHECK_EQ(close(fd), 0);
  }
  /* The readers directory of a channel is a directory: rm_tree. */
  rm_tree(link_path);
  CHECK_EQ(symlink(g_victim, link_path), 0);
  struct smr_channel_options o = {0};
  o.buffers = 2;
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_channel_writer *w;
  int rc = smr_channel_writer_open(g_name, &o, &w);
  if (rc == 0) {
    unsigned char buf[64];
    for (unsigned i = 0; i < 6; i++) {
      fill(buf, sizeof buf, i);
      /* Success (the link was replaced) or an error: both fine. */
      (void)smr_channel_publish(w, buf, sizeof buf, NULL);
    }
    smr_channel_writer_close(w);
  }
  size_t n;
  unsigned char *now = slurp(g_victim, &n);
  EXPECT(now != NULL);
  EXPECT_EQ(n, victim_len);
  EXPECT(memcmp(now, victim_text, victim_len) == 0);
  free(now);
  remove_channel_files();
}

/* The readers path of a new channel links to a directory with files: a
 * writer that followed it would remove them (it empties an old readers
 * directory before making its own). */
static void symlink_dir_case(void) {
  g_case = "planted link to a directory: readers path of a new channel";
  remove_channel_files();
  CHECK_EQ(mkdir(g_vdir, 0755), 0);
  char p[192];
  snprintf(p, sizeof p, "%s/r0", g_vdir);
  {
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "keep me\n", 8), 8);
    CHECK_EQ(close(fd), 0);
  }
  snprintf(p, sizeof p, "%s/notes.txt", g_vdir);
  {
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(close(fd), 0);
  }
  char *before = describe(g_vdir);
  CHECK_EQ(symlink(g_vdir, g_readers), 0);
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
  struct stat sb;
  EXPECT_EQ(lstat(g_readers, &sb), 0);
  EXPECT(S_ISDIR(sb.st_mode)); /* its own directory, not the link */
  smr_channel_reader *r;
  EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
  unsigned char buf[64];
  fill(buf, sizeof buf, 1);
  EXPECT_EQ(smr_channel_publish(w, buf, sizeof buf, NULL), 0);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  expect_same_tree(before, g_vdir);
  remove_channel_files();
}

void symlink_cases(void) {
  char dp[192];
  /* Before the channel exists: the first data file and the readers path. */
  data_path(0, dp, sizeof dp);
  symlink_case("planted link: data file of a new channel", dp, false, false);
  data_path(1, dp, sizeof dp);
  symlink_case("planted link: second data file of a new channel", dp, false,
               false);
  symlink_case("planted link to a file: readers path of a new channel",
               g_readers, false, false);
  symlink_case("planted link to an empty file: readers path of a new channel",
               g_readers, false, true);
  symlink_dir_case();
  symlink_case("planted link: state file of a new channel", g_state, false,
               false);
  symlink_case("planted link: writer lock file of a new channel", g_lock, false,
               false);
  symlink_case("planted link: writer lock file of an existing channel", g_lock,
               true, false);
  /* An empty state file reads as "being created": a writer redoing the
   * creation must not write it through a link either. */
  symlink_case("planted link: empty state file of a new channel", g_state,
               false, true);
  /* An existing channel with K = 4 after 3 versions: buffer 3 has no file
   * yet; the takeover writer (4 buffers, the options' 2 are ignored) gets
   * there within 6 publishes (one buffer per publish, none pinned). */
  fresh_channel(4, 8, 0);
  unsigned unused = 4;
  for (unsigned i = 0; i < 4; i++) {
    data_path(i, dp, sizeof dp);
    if (access(dp, F_OK) != 0)
      unused = i;
  }
  if (unused < 4) {
    data_path(unused, dp, sizeof dp);
    symlink_case("planted link: unused data file of an existing channel", dp,
                 true, false);
  }
}
