/* SPDX-License-Identifier: MIT */
/* test_channel_corrupt, section "readers": the readers directory and
 * hand-made slot files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_corrupt.h"

/* ---- The readers directory and hand-made slot files ---------------------- */

/* The `current` value buffer i holds (what an idle reader of it announces). */
static uint64_t held_value(unsigned i) {
  return (peek64(g_state, DESC_OFF(i, version)) << 8) | i;
}

/* A slot file made by hand in the readers directory: `size` bytes (a slot
 * with pin and active at offset 0, zeros after it, cut at `size`), owner
 * uid (root only when another) and mode.  Nobody locks it: it looks like the
 * file of a dead reader. */
static void plant_slot_in(const char *dir, const char *entry, uint64_t size,
                          uint64_t pin, uint32_t active, unsigned uid,
                          unsigned mode) {
  char p[256];
  int k = snprintf(p, sizeof p, "%s/%s", dir, entry);
  CHECK(k > 0 && (size_t)k < sizeof p);
  int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  unsigned char b[SMR__CHANNEL_SLOT_FILE_SIZE];
  memset(b, 0, sizeof b);
  uint64_t magic = SMR__CHANNEL_SLOT_MAGIC;
  uint32_t pid = 0x7ffffff0u; /* no such process */
  memcpy(b + offsetof(struct smr__channel_slot, magic), &magic, 8);
  memcpy(b + offsetof(struct smr__channel_slot, pin), &pin, 8);
  memcpy(b + offsetof(struct smr__channel_slot, active), &active, 4);
  memcpy(b + offsetof(struct smr__channel_slot, pid), &pid, 4);
  size_t n = size < sizeof b ? (size_t)size : sizeof b;
  if (n)
    CHECK_EQ(pwrite(fd, b, n, 0), (ssize_t)n);
  if (size > n)
    CHECK_EQ(ftruncate(fd, (off_t)size), 0);
  CHECK_EQ(fchmod(fd, (mode_t)mode), 0);
  if (uid != geteuid())
    CHECK_EQ(fchown(fd, (uid_t)uid, (gid_t)uid), 0);
  CHECK_EQ(close(fd), 0);
}

/* Junk in the readers directory of a channel with 3 buffers and 16 slots:
 * names a writer must ignore (not canonical r<i> with i < 16, not a regular
 * file, a link, unreadable to it) and dead slot files with garbage (short,
 * pins out of range, pins of the buffers a writer needs).  Readers and stat
 * cope with all of it; a writer removes every dead slot file it can read
 * (when it opens, when it finds the owner gone, at the latest when the pin
 * stands in its way), never waits for one, and leaves the rest alone. */
#define J_SLOTS 16u
enum jkind { J_SLOT, J_DIR, J_LINK, J_FIFO };
enum jpin {
  P_NC1,    /* the version non-current buffer 1 holds */
  P_NC2,    /* the version non-current buffer 2 holds */
  P_IDX,    /* the current version, buffer index 200 (>= buffers) */
  P_FUTURE, /* version current + 5 in non-current buffer 1 */
  P_ONES    /* every byte 0xff */
};
struct junk {
  const char *name;
  enum jkind kind;
  uint64_t size;
  enum jpin pin;
  uint32_t active;
  bool foreign; /* owned by UID_HOSTILE (root only; else not planted) */
  unsigned mode;
  bool listed; /* a regular file r<i>, i < 16: stat lists it, a writer
                  tracks it (when it can read it) */
};

static const struct junk g_junk[] = {
    /* Not canonical slot names (each would pin buffer 1 if it counted). */
    {"r05", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"r-1", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"r99999", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"r4294967297", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"r16", J_SLOT, 4096, P_NC1, 1, false, 0644, false}, /* = slots */
    {"r1a", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"r", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"x", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    {"t1.0", J_SLOT, 4096, P_NC1, 1, false, 0644, false},
    /* Not regular files. */
    {"r3", J_DIR, 0, P_NC1, 0, false, 0755, false},
    {"r2", J_LINK, 0, P_NC1, 0, false, 0, false},
    {"r1", J_FIFO, 0, P_NC1, 0, false, 0644, false},
    /* Another user's 0600 file: unreadable but to root.  Without root,
     * our own file with mode 0 stands in for it. */
    {"r4", J_SLOT, 4096, P_NC1, 1, true, 0600, true},
    /* Short: no slot in it (0 bytes, 40 bytes: a cut slot). */
    {"r6", J_SLOT, 0, P_NC1, 1, false, 0644, true},
    {"r12", J_SLOT, 40, P_NC1, 1, false, 0644, true},
    /* Garbage pins no buffer can match. */
    {"r7", J_SLOT, 4096, P_IDX, 1, false, 0644, true},
    {"r10", J_SLOT, 4096, P_ONES, 0xffffffffu, false, 0644, true},
    /* Pins of the buffers a writer needs (two active ones each). */
    {"r8", J_SLOT, 4096, P_NC1, 1, false, 0644, true},
    {"r9", J_SLOT, 4096, P_FUTURE, 1, false, 0644, true},
    {"r11", J_SLOT, 4096, P_NC2, 1, false, 0644, true},
    {"r13", J_SLOT, 100, P_NC2, 1, false, 0644, true},  /* short file */
    {"r14", J_SLOT, 4096, P_NC1, 1, true, 0644, true},  /* foreign */
    {"r15", J_SLOT, 4096, P_NC2, 0, false, 0644, true}, /* idle pin */
};
#define NJUNK (sizeof g_junk / sizeof g_junk[0])

static bool g_junk_planted[NJUNK];
static uint64_t g_junk_pin[NJUNK]; /* the pin planted (0: none readable) */
static bool g_junk_r4_readable;    /* the checking process can read r4 */

static bool junk_is_r4(size_t i) {
  return strcmp(g_junk[i].name, "r4") == 0;
}

/* Plant entry i into `dir` (the readers directory, or a staging directory
 * whose files are then renamed in), with pins relative to the channel's
 * current state. */
static void junk_plant_one(size_t i, const char *dir) {
  unsigned nc1 = (g_cur_index + 1) % 3, nc2 = (g_cur_index + 2) % 3;
  uint64_t pins[] = {held_value(nc1), held_value(nc2),
                     (g_cur_version << 8) | 200u,
                     ((g_cur_version + 5) << 8) | nc1, UINT64_MAX};
  const struct junk *j = &g_junk[i];
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, j->name);
  /* Without root: no file of another owner (r4 becomes our mode-0 file). */
  bool root = geteuid() == 0;
  g_junk_planted[i] = root || !j->foreign || junk_is_r4(i);
  g_junk_pin[i] = j->kind == J_SLOT && j->size >= 64 ? pins[j->pin] : 0;
  if (!g_junk_planted[i])
    return;
  switch (j->kind) {
  case J_DIR:
    CHECK_EQ(mkdir(p, j->mode), 0);
    break;
  case J_LINK:
    CHECK_EQ(symlink(g_victim, p), 0);
    break;
  case J_FIFO:
    CHECK_EQ(mkfifo(p, j->mode), 0);
    break;
  case J_SLOT:
    if (j->pin == P_ONES) {
      int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, j->mode);
      CHECK(fd >= 0);
      unsigned char b[SMR__CHANNEL_SLOT_FILE_SIZE];
      memset(b, 0xff, sizeof b);
      CHECK_EQ(write(fd, b, sizeof b), (ssize_t)sizeof b);
      CHECK_EQ(close(fd), 0);
    } else if (j->foreign && !root) {
      plant_slot_in(dir, j->name, j->size, pins[j->pin], j->active, geteuid(),
                    0);
    } else {
      plant_slot_in(dir, j->name, j->size, pins[j->pin], j->active,
                    j->foreign ? UID_HOSTILE : geteuid(), j->mode);
    }
    break;
  }
}

static void junk_plant(void) {
  /* The target of the planted link: a slot that would pin buffer 1. */
  int fd = open(g_victim, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  unsigned char b[SMR__CHANNEL_SLOT_FILE_SIZE];
  memset(b, 0, sizeof b);
  uint64_t pin = held_value((g_cur_index + 1) % 3);
  uint32_t one = 1;
  memcpy(b + offsetof(struct smr__channel_slot, pin), &pin, 8);
  memcpy(b + offsetof(struct smr__channel_slot, active), &one, 4);
  CHECK_EQ(write(fd, b, sizeof b), (ssize_t)sizeof b);
  CHECK_EQ(close(fd), 0);
  for (size_t i = 0; i < NJUNK; i++)
    junk_plant_one(i, g_readers);
}

/* Still in the directory (a reader opening among the junk may remove a
 * dead slot file it can open read-write, and take its name). */
static bool junk_present(size_t i) {
  char p[192];
  struct stat sb;
  slot_path(g_junk[i].name, p, sizeof p);
  return g_junk_planted[i] && lstat(p, &sb) == 0;
}

/* A slot file the checking process can read. */
static bool junk_tracked(size_t i) {
  return g_junk[i].listed && (!junk_is_r4(i) || g_junk_r4_readable);
}

static bool junk_listed(size_t i) {
  return junk_present(i) && junk_tracked(i);
}

/* Nobody may remove it: not a regular file, not a slot name, or not
 * readable to the checking process. */
static bool junk_untouchable(size_t i) {
  return g_junk_planted[i] && !junk_tracked(i);
}

static unsigned junk_count_listed(void) {
  unsigned n = 0;
  for (size_t i = 0; i < NJUNK; i++)
    n += junk_listed(i);
  return n;
}

/* stat on the junk: the listed entries exactly, with the pins planted,
 * none alive (dead ones count as in use until removed), nothing pinned. */
static void junk_stat(uint64_t expect_reclaimed, bool writer_alive) {
  unsigned want = junk_count_listed();
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[40];
  size_t nrs = 999;
  EXPECT_EQ(smr_channel_stat(g_name, 0, &st, rs, 40, &nrs), 0);
  EXPECT_EQ(st.buffers, 3);
  EXPECT_EQ(st.readers_max, J_SLOTS);
  EXPECT_EQ(st.version, g_cur_version);
  EXPECT_EQ(st.readers, want);
  EXPECT_EQ(st.writer_alive, writer_alive);
  EXPECT_EQ(st.dead_reclaimed, expect_reclaimed);
  for (unsigned b = 0; b < 3; b++)
    EXPECT_EQ(st.buffer[b].pinned, 0);
  EXPECT_EQ(nrs, want);
  for (size_t k = 0; k < nrs && k < 40; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "r%u", rs[k].slot);
    size_t i = 0;
    while (i < NJUNK && !(junk_listed(i) && strcmp(g_junk[i].name, nm) == 0))
      i++;
    EXPECT(i < NJUNK);
    EXPECT(!rs[k].alive);
    uint64_t pin = g_junk_pin[i];
    bool active = pin && g_junk[i].active;
    EXPECT_EQ(rs[k].last_version, SMR__CHANNEL_VERSION(pin));
    EXPECT_EQ(rs[k].pinned_version, active ? SMR__CHANNEL_VERSION(pin) : 0);
    EXPECT_EQ(rs[k].lag, pin && SMR__CHANNEL_VERSION(pin) <= st.version
                             ? st.version - SMR__CHANNEL_VERSION(pin)
                             : 0);
  }
  EXPECT_EQ(
      smr_channel_stat(g_name, SMR_CHANNEL_STAT_VERIFY, &st, NULL, 0, NULL), 0);
  EXPECT_EQ(st.checksum, SMR_CHANNEL_CHECKSUM_OK);
}

static void junk_publish(smr_channel_writer *w, unsigned *reclaimed) {
  unsigned char buf[PAYLOAD];
  struct smr_channel_commit_info info;
  fill(buf, PAYLOAD, g_cur_version + 1);
  /* timeout 0: a dead file never makes the writer wait or fail. */
  EXPECT_EQ(smr_channel_publish(w, buf, PAYLOAD, &info), 0);
  EXPECT_EQ(info.version, g_cur_version + 1);
  *reclaimed += info.dead_reclaimed;
  g_cur_version = g_cur_pattern = info.version;
  g_cur_index = info.buffer;
}

/* The dead slot files of the junk that are gone, planted again and
 * renamed into the readers directory (no close event there: the writer
 * finds them by their names): staged[0..*nstaged) are their indices. */
static void junk_stage(size_t *staged, size_t *nstaged) {
  char stage[192];
  slot_path("stage", stage, sizeof stage); /* not a slot name */
  CHECK_EQ(mkdir(stage, 0755), 0);
  *nstaged = 0;
  for (size_t i = 0; i < NJUNK; i++)
    if (junk_tracked(i) && g_junk[i].kind == J_SLOT && !junk_present(i)) {
      junk_plant_one(i, stage);
      if (g_junk_planted[i])
        staged[(*nstaged)++] = i;
    }
  EXPECT(*nstaged >= 9);
  for (size_t k = 0; k < *nstaged; k++) {
    char from[256], to[192];
    snprintf(from, sizeof from, "%s/%s", stage, g_junk[staged[k]].name);
    slot_path(g_junk[staged[k]].name, to, sizeof to);
    CHECK_EQ(rename(from, to), 0);
  }
  CHECK_EQ(rmdir(stage), 0);
}

/* Readers among the junk: three at once, each its own slot; the writer w
 * publishes around their guards without touching their buffer, then is
 * closed. */
static void junk_readers(smr_channel_writer *w, unsigned *reclaimed) {
  smr_channel_reader *r[3];
  smr_channel_guard g[3];
  for (int k = 0; k < 3; k++) {
    EXPECT_EQ(smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r[k]), 0);
    EXPECT_EQ(smr_channel_read(r[k], &g[k]), 0);
    EXPECT_EQ(g[k].version, g_cur_version);
    EXPECT_EQ(g[k].size, PAYLOAD);
    EXPECT(matches(g[k].data, PAYLOAD, g_cur_pattern));
  }
  {
    struct smr_channel_stat st;
    struct smr_channel_reader_stat rs[40];
    size_t nrs = 0;
    EXPECT_EQ(smr_channel_stat(g_name, 0, &st, rs, 40, &nrs), 0);
    EXPECT_EQ(st.readers, 3);
    EXPECT_EQ(nrs, 3);
    EXPECT_EQ(st.buffer[g_cur_index].pinned, 3);
    unsigned mask = 0;
    for (size_t k = 0; k < nrs && k < 40; k++) {
      EXPECT(rs[k].alive);
      EXPECT_EQ(rs[k].pid, getpid());
      EXPECT_EQ(rs[k].pinned_version, g_cur_version);
      EXPECT(!(mask & (1u << rs[k].slot))); /* distinct slots */
      mask |= 1u << rs[k].slot;
    }
  }
  uint64_t held = g_cur_version, held_pattern = g_cur_pattern;
  for (unsigned k = 0; k < 5; k++)
    junk_publish(w, reclaimed);
  smr_channel_writer_close(w);
  for (int k = 0; k < 3; k++) {
    EXPECT(matches(g[k].data, PAYLOAD, held_pattern)); /* never reused */
    EXPECT_EQ(g[k].version, held);
    EXPECT_EQ(smr_channel_verify(r[k], &g[k]), 0);
    smr_channel_release(r[k], &g[k]);
    EXPECT_EQ(smr_channel_reader_close(r[k]), 0);
  }
}

/* The checks on the junk (run by root, or in a child as UID_OTHER). */
static void junk_check(void) {
  int fds = fd_count();
  EXPECT_EQ(map_count(), 0);
  junk_stat(0, false);
  check_reader(SMR_CHANNEL_VERIFY, 0, 0, 1, 0);

  /* A writer taking over removes every dead slot file it can read, and
   * nothing else; all its publishes work at timeout 0. */
  unsigned reaped = junk_count_listed();
  EXPECT(reaped >= 8); /* a reader took one name at most */
  struct smr_channel_options o = {0};
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  EXPECT_EQ(junk_count_listed(), 0);
  for (size_t i = 0; i < NJUNK; i++)
    if (junk_untouchable(i))
      EXPECT(junk_present(i));
  junk_stat(reaped, true);
  unsigned reclaimed = 0;
  for (unsigned k = 0; k < 6; k++)
    junk_publish(w, &reclaimed);
  EXPECT_EQ(reclaimed, 0);

  /* The same dead files appear while the writer runs, renamed in (no
   * close event in the directory: the writer finds them by their names),
   * pinning the buffers it needs now: never waited for. */
  size_t staged[NJUNK], nstaged;
  junk_stage(staged, &nstaged);
  for (unsigned k = 0; k < 2 * J_SLOTS; k++)
    junk_publish(w, &reclaimed);
  smr_channel_writer_close(w);
  unsigned vanished = 0;
  for (size_t k = 0; k < nstaged; k++)
    vanished += !junk_present(staged[k]);
  EXPECT(reclaimed <= vanished);
  junk_stat(reaped + vanished, false);
  /* The next writer removes the rest when it opens.  (The reader handle
   * junk_stat's SMR_CHANNEL_STAT_VERIFY opens may have removed one already:
   * a reader removes a dead file whose name it wants, uncounted.) */
  unsigned left = 0;
  for (size_t k = 0; k < nstaged; k++)
    left += junk_present(staged[k]);
  EXPECT(vanished + left + 1 >= nstaged && vanished + left <= nstaged);
  EXPECT_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  EXPECT_EQ(junk_count_listed(), 0);
  junk_stat(reaped + vanished + left, true);

  /* Readers among the junk left: three at once, each its own slot; the
   * writer publishes around their guards without touching their buffer. */
  junk_readers(w, &reclaimed);
  check_reader(SMR_CHANNEL_VERIFY, 0, 0, 1, 0);
  for (size_t i = 0; i < NJUNK; i++)
    if (junk_untouchable(i))
      EXPECT(junk_present(i));
  EXPECT_EQ(fd_count(), fds);
  EXPECT_EQ(map_count(), 0);
}

/* as_other: the channel belongs to UID_OTHER and the checks run as that
 * user (root only), so another user's 0600 file is really unreadable. */
static void junk_case(bool as_other) {
  g_case = as_other ? "junk in the readers directory (as another uid)"
                    : "junk in the readers directory";
  fresh_channel(3, J_SLOTS, 0);
  if (as_other) {
    char p[192];
    CHECK_EQ(chown(g_state, UID_OTHER, UID_OTHER), 0);
    for (unsigned i = 0; i < 3; i++) {
      data_path(i, p, sizeof p);
      CHECK_EQ(chown(p, UID_OTHER, UID_OTHER), 0);
    }
    CHECK_EQ(chown(g_lock, UID_OTHER, UID_OTHER), 0);
    CHECK_EQ(chown(g_readers, UID_OTHER, UID_OTHER), 0);
  }
  junk_plant();
  g_junk_r4_readable = g_root && !as_other;
  if (as_other)
    run_as(g_case, UID_OTHER, junk_check);
  else
    junk_check();
  remove_channel_files();
}

/* The readers directory and the writer lock as a writer creates them. */
static void created_dir_case(void) {
  fresh_channel(3, 8, 0);
  g_case = "readers directory as created";
  {
    struct stat sb;
    mode_t um = umask(0);
    umask(um);
    EXPECT_EQ(lstat(g_readers, &sb), 0);
    EXPECT(S_ISDIR(sb.st_mode));
    EXPECT_EQ(sb.st_uid, geteuid());
    /* Default reader_mode 0666: writable and searchable by all, sticky. */
    EXPECT_EQ(sb.st_mode & 07777, 01777 & ~um);
    /* The writer lock: for those who may write the state only (0644: the
     * owner), or a reader could lock it. */
    EXPECT_EQ(lstat(g_lock, &sb), 0);
    EXPECT(S_ISREG(sb.st_mode));
    EXPECT_EQ(sb.st_mode & 07777, 0600 & ~um);
  }
}

/* The readers path missing, a regular file or a symbolic link. */
static void bad_path_cases(void) {
  fresh_channel(3, 8, 0);
  rm_tree(g_readers);
  check_bad_dir("readers directory missing");

  fresh_channel(3, 8, 0);
  rm_tree(g_readers);
  {
    int fd = open(g_readers, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    static unsigned char b[SMR__CHANNEL_HEADER_SIZE + 8 * 128];
    memset(b, 0x5a, sizeof b);
    CHECK_EQ(write(fd, b, sizeof b), (ssize_t)sizeof b);
    CHECK_EQ(close(fd), 0);
  }
  check_bad_dir("readers path is a regular file (an old reader table)");

  /* A link to a directory that would pass every check: refused, and
   * nothing in it touched. */
  fresh_channel(3, 8, 0);
  rm_tree(g_readers);
  CHECK_EQ(mkdir(g_vdir, 0755), 0);
  CHECK_EQ(chmod(g_vdir, 01777), 0);
  {
    char p[192];
    snprintf(p, sizeof p, "%s/r0", g_vdir);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    static unsigned char b[SMR__CHANNEL_SLOT_FILE_SIZE];
    memset(b, 0x11, sizeof b);
    CHECK_EQ(write(fd, b, sizeof b), (ssize_t)sizeof b);
    CHECK_EQ(close(fd), 0);
  }
  CHECK_EQ(symlink(g_vdir, g_readers), 0);
  {
    char *before = describe(g_vdir);
    check_bad_dir("readers path is a symlink to a directory");
    expect_same_tree(before, g_vdir);
  }
  fresh_channel(3, 8, 0);
  rm_tree(g_readers);
  CHECK_EQ(symlink("/nonexistent/smr-readers", g_readers), 0);
  check_bad_dir("readers path is a dangling symlink");
}

/* The readers directory's mode. */
static void mode_cases(void) {
  /* Writable by others without the sticky bit: anyone could remove or
   * replace a reader's slot file. */
  static const unsigned bad_modes[] = {0777, 0775, 0757, 0722, 0730, 0703};
  for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
    char what[80];
    snprintf(what, sizeof what, "readers directory mode %04o (not sticky)",
             bad_modes[i]);
    fresh_channel(3, 8, 0);
    CHECK_EQ(chmod(g_readers, bad_modes[i]), 0);
    check_bad_dir(what);
  }
  /* Sticky, or writable by its owner only: fine. */
  static const unsigned ok_modes[] = {01777, 01770, 01755, 0755, 0700};
  for (size_t i = 0; i < sizeof ok_modes / sizeof ok_modes[0]; i++) {
    char what[80];
    snprintf(what, sizeof what, "readers directory mode %04o", ok_modes[i]);
    fresh_channel(3, 8, 0);
    CHECK_EQ(chmod(g_readers, ok_modes[i]), 0);
    check_valid(what);
  }
}

/* The channel's files owned by other users (root only). */
static void owner_cases(void) {
  if (g_root) {
    struct stat sb;
    fresh_channel(3, 8, 0);
    CHECK_EQ(chown(g_readers, UID_HOSTILE, UID_HOSTILE), 0);
    CHECK_EQ(lstat(g_readers, &sb), 0);
    CHECK(sb.st_mode & S_ISVTX); /* only the owner changed */
    check_bad_dir("readers directory owned by another uid");
    fresh_channel(3, 8, 0);
    CHECK_EQ(chown(g_state, UID_HOSTILE, UID_HOSTILE), 0);
    /* A writer (root here) never takes over another user's state file. */
    check_case("state file owned by another uid than the directory", -EBADMSG,
               0, 0, 0, 0, -1, TK_REFUSE, -EPERM);
    /* The data files still ours (root's): another user's to the readers,
     * who take the state file's owner for the channel's writer. */
    fresh_channel(3, 8, 0);
    CHECK_EQ(chown(g_state, UID_OTHER, UID_OTHER), 0);
    CHECK_EQ(chown(g_readers, UID_OTHER, UID_OTHER), 0);
    check_case("state file and readers directory of another uid than the "
               "data files",
               0, -EBADMSG, -EBADMSG, 0, 0, -1, TK_REFUSE, -EPERM);
    /* Everything moved to another owner: consistent again for readers; a
     * writer of another uid (root) still refuses to take it over. */
    fresh_channel(3, 8, 0);
    CHECK_EQ(chown(g_state, UID_OTHER, UID_OTHER), 0);
    CHECK_EQ(chown(g_readers, UID_OTHER, UID_OTHER), 0);
    for (unsigned i = 0; i < 3; i++) {
      char p[192];
      data_path(i, p, sizeof p);
      CHECK_EQ(chown(p, UID_OTHER, UID_OTHER), 0);
    }
    check_case("channel of another uid", 0, 0, 0, 1, 0, SMR_CHANNEL_CHECKSUM_OK,
               TK_REFUSE, -EPERM);
  } else {
    skip_note("readers directory owned by another uid (chown)");
  }
}

void readers_cases(void) {
  created_dir_case();
  bad_path_cases();
  mode_cases();
  owner_cases();
  junk_case(false);
  if (g_root)
    junk_case(true);
  else
    skip_note("junk in the readers directory as another uid (r4 0600)");
}
