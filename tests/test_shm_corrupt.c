/* Untrusted channel files (smr/shm.h, src/shm_layout.h).
 *
 * A valid channel is built with the real writer in a fresh directory under
 * /dev/shm, the writer is closed, then the files are damaged by hand
 * (pwrite, truncate, unlink, symlink, mkfifo).  Every entry point that reads
 * the files - smr_shm_reader_open, smr_shm_read (with and without
 * SMR_SHM_VERIFY), smr_shm_verify, smr_shm_stat (with and without
 * SMR_SHM_STAT_VERIFY) and the writer takeover smr_shm_writer_open - must
 * return the documented negative errno and never crash, hang, leak a file
 * descriptor or a mapping, or write to a file it refused.
 *
 * Then a hostile process scribbles random values over the whole reader table
 * (header and every slot but the honest reader's) while the writer publishes
 * with timeout 0 and an honest reader checks every payload it reads.
 *
 * SMR_TEST_SECONDS bounds the hostile phase (default 1.5 s).  Arguments
 * select sections (see main); default all. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "shm_layout.h"
#include "smr/shm.h"

_Static_assert(offsetof(struct smr__shm_state, desc) == SMR__SHM_DESC_OFFSET,
               "descriptor offset");
_Static_assert(sizeof(struct smr__shm_desc) == 64, "descriptor size");
_Static_assert(sizeof(struct smr__shm_slot) == SMR__SHM_SLOT_SIZE, "slot");

/* ---- Case bookkeeping: a failed check names the case ---------------------
 */

static const char *g_case = "setup";

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "case '%s':\n", g_case);                                 \
      CHECK(cond);                                                             \
    }                                                                          \
  } while (0)

#define EXPECT_EQ(a, b)                                                        \
  do {                                                                         \
    long long expect_a_ = (long long)(a), expect_b_ = (long long)(b);          \
    if (expect_a_ != expect_b_) {                                              \
      fprintf(stderr, "case '%s':\n", g_case);                                 \
      CHECK_EQ(expect_a_, expect_b_);                                          \
    }                                                                          \
  } while (0)

/* ---- Paths and raw file access ------------------------------------------ */

static char g_dir[64];      /* mkdtemp under /dev/shm */
static char g_name[128];    /* "<dir>/ch" */
static char g_state[160];   /* NAME.smr */
static char g_readers[160]; /* NAME.smr-readers */
static char g_victim[160];  /* symlink target in the symlink cases */

static void data_path(unsigned i, char *out, size_t n) {
  snprintf(out, n, "%s.smr-data-%u", g_name, i);
}

/* On a failed CHECK (abort) the main process removes the directory, so a
 * failing run leaves nothing in /dev/shm (paths precomputed: the handler
 * only calls async-signal-safe functions). */
#define NDATA 40 /* data file names the cases can create */
static char g_all[NDATA + 3][192];
static pid_t g_main_pid, g_child;

static void on_abort(int sig) {
  if (getpid() == g_main_pid) {
    if (g_child > 0)
      kill(g_child, SIGKILL);
    for (size_t i = 0; i < sizeof g_all / sizeof g_all[0]; i++)
      if (unlink(g_all[i]) != 0)
        rmdir(g_all[i]);
    rmdir(g_dir);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void poke(const char *path, uint64_t off, const void *p, size_t n) {
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0);
  CHECK_EQ(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
  CHECK_EQ(close(fd), 0);
}

static void poke32(const char *path, uint64_t off, uint32_t v) {
  poke(path, off, &v, sizeof v);
}

static void poke64(const char *path, uint64_t off, uint64_t v) {
  poke(path, off, &v, sizeof v);
}

static uint64_t peek64(const char *path, uint64_t off) {
  uint64_t v = 0;
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_EQ(pread(fd, &v, sizeof v, (off_t)off), (ssize_t)sizeof v);
  CHECK_EQ(close(fd), 0);
  return v;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  CHECK_EQ(stat(path, &st), 0);
  return (uint64_t)st.st_size;
}

static void trunc_to(const char *path, uint64_t len) {
  CHECK_EQ(truncate(path, (off_t)len), 0);
}

/* Whole file into a malloc'd buffer (NULL, *n = 0 if it does not exist). */
static unsigned char *slurp(const char *path, size_t *n) {
  *n = 0;
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return NULL;
  struct stat st;
  CHECK_EQ(fstat(fd, &st), 0);
  if (!S_ISREG(st.st_mode)) {
    CHECK_EQ(close(fd), 0);
    return NULL;
  }
  unsigned char *b = malloc((size_t)st.st_size + 1);
  CHECK(b != NULL);
  CHECK_EQ(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
  CHECK_EQ(close(fd), 0);
  *n = (size_t)st.st_size;
  return b;
}

#define ST_OFF(f) ((uint64_t)offsetof(struct smr__shm_state, f))
#define DESC_OFF(i, f)                                                         \
  ((uint64_t)SMR__SHM_DESC_OFFSET +                                            \
   (uint64_t)(i) * sizeof(struct smr__shm_desc) +                              \
   offsetof(struct smr__shm_desc, f))
#define RD_OFF(f) ((uint64_t)offsetof(struct smr__shm_readers, f))

/* Remove every file a channel (or a case) may have left behind. */
static void remove_channel_files(void) {
  for (size_t i = 0; i < sizeof g_all / sizeof g_all[0]; i++)
    remove(g_all[i]); /* a file, a link, a FIFO or an empty directory */
}

/* ---- Leak checks: descriptors and mappings of channel files -------------- */

static int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n++;
  CHECK_EQ(closedir(d), 0);
  return n;
}

static int map_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, g_dir))
      n++;
  CHECK_EQ(fclose(f), 0);
  return n;
}

/* ---- Payloads ------------------------------------------------------------ */

#define PAYLOAD 5000u /* bytes per version in the corruption cases */
#define NPUB    3u    /* versions published by fresh_channel */

static unsigned char pattern_byte(uint64_t version, uint64_t j) {
  return (unsigned char)(version * 131u + j * 7u + (j >> 9));
}

static void fill(unsigned char *b, uint64_t n, uint64_t version) {
  for (uint64_t j = 0; j < n; j++)
    b[j] = pattern_byte(version, j);
}

static int matches(const unsigned char *b, uint64_t n, uint64_t version) {
  for (uint64_t j = 0; j < n; j++)
    if (b[j] != pattern_byte(version, j))
      return 0;
  return 1;
}

/* Set by fresh_channel(): the current version and its buffer index. */
static uint64_t g_cur_version;
static uint64_t g_cur_pattern; /* fill() key of the current payload */
static unsigned g_cur_index;
static unsigned g_buffers, g_slots;

/* A valid channel: NPUB versions of PAYLOAD bytes, writer closed. */
static void fresh_channel(unsigned buffers, unsigned slots, unsigned flags) {
  remove_channel_files();
  struct smr_shm_options o = {0};
  o.buffers = buffers;
  o.readers = slots;
  o.flags = flags;
  smr_shm_writer *w;
  EXPECT_EQ(smr_shm_writer_open(g_name, &o, &w), 0);
  static unsigned char buf[PAYLOAD];
  uint64_t v0 = 0;
  for (unsigned i = 1; i <= NPUB; i++) {
    struct smr_shm_commit_info info;
    /* The first version of a new channel is 1, +1 per publish. */
    fill(buf, PAYLOAD, i);
    EXPECT_EQ(smr_shm_publish(w, buf, PAYLOAD, &info), 0);
    EXPECT_EQ(info.version, i);
    EXPECT_EQ(info.bytes, PAYLOAD);
    EXPECT(info.buffer < buffers);
    v0 = info.version;
  }
  smr_shm_writer_close(w);
  uint64_t cur = peek64(g_state, ST_OFF(current));
  g_cur_version = SMR__SHM_VERSION(cur);
  g_cur_index = SMR__SHM_INDEX(cur);
  EXPECT_EQ(g_cur_version, v0);
  g_cur_pattern = v0;
  EXPECT(g_cur_index < buffers);
  g_buffers = buffers;
  g_slots = slots;
}

static void cur_data_path(char *out, size_t n) {
  data_path(g_cur_index, out, n);
}

/* ---- The checks run on every damaged channel ----------------------------- */

/* Outcome of a writer takeover on damaged files. */
enum takeover {
  TK_REFUSE, /* -EBADMSG, and neither file was modified */
  TK_ANY,    /* refuse as above, or succeed and then work end to end */
  TK_SKIP    /* not checked here */
};

/* A reader with `flags` on the damaged channel: open must give open_err;
 * when open succeeds, read must give read_err (twice: the error is not a
 * one-shot).  On success `content` says whether the bytes are the original
 * current payload (else they are only read to the last one: a size past the
 * end of the file would SIGBUS) and smr_shm_verify must say verify_err.
 * After an error no guard is held: close succeeds. */
static void check_reader(unsigned flags, int open_err, int read_err,
                         int content, int verify_err) {
  smr_shm_reader *r = (smr_shm_reader *)0x1;
  int rc = smr_shm_reader_open(g_name, flags, &r);
  EXPECT_EQ(rc, open_err);
  if (rc != 0)
    return;
  for (int round = 0; round < 2; round++) {
    smr_shm_guard g;
    memset(&g, 0xa5, sizeof g);
    rc = smr_shm_read(r, &g);
    EXPECT_EQ(rc, read_err);
    if (rc != 0)
      continue;
    EXPECT(g.data != NULL);
    EXPECT_EQ(g.version, g_cur_version);
    if (content) {
      EXPECT_EQ(g.size, PAYLOAD);
      EXPECT(matches(g.data, g.size, g_cur_pattern));
    } else {
      volatile unsigned char sink = 0;
      const unsigned char *p = g.data;
      for (uint64_t j = 0; j < g.size; j++)
        sink ^= p[j];
      (void)sink;
    }
    EXPECT_EQ(smr_shm_verify(r, &g), verify_err);
    smr_shm_release(r, &g);
  }
  EXPECT_EQ(smr_shm_version(r), g_cur_version);
  EXPECT_EQ(smr_shm_reader_close(r), 0);
}

/* smr_shm_stat with `flags`: open_err when the header is bad; otherwise 0
 * with sane numbers, or -EBADMSG where `bad_ok` (the current payload or its
 * descriptor is damaged).  want_sum >= 0: the checksum state expected. */
static void check_stat(unsigned flags, int open_err, int bad_ok, int want_sum) {
  struct smr_shm_stat st;
  struct smr_shm_reader_stat rs[4];
  size_t nrs = 12345;
  memset(&st, 0, sizeof st);
  int rc = smr_shm_stat(g_name, flags, &st, rs, 4, &nrs);
  if (open_err != 0) {
    EXPECT_EQ(rc, open_err);
    return;
  }
  if (bad_ok && rc == -EBADMSG)
    return;
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(st.buffers, g_buffers);
  EXPECT_EQ(st.readers_max, g_slots);
  EXPECT_EQ(st.version, g_cur_version);
  EXPECT(st.readers <= st.readers_max);
  EXPECT_EQ(nrs, 0); /* every reader of this test is closed */
  EXPECT(!st.writer_alive);
  if (want_sum >= 0)
    EXPECT_EQ(st.checksum, want_sum);
}

/* Snapshot of the state and reader files, to prove a refusing writer wrote
 * nothing. */
struct snap {
  unsigned char *state, *readers;
  size_t nstate, nreaders;
};

static void snap_take(struct snap *s) {
  s->state = slurp(g_state, &s->nstate);
  s->readers = slurp(g_readers, &s->nreaders);
}

static void snap_expect_same(const struct snap *s) {
  struct snap now;
  snap_take(&now);
  EXPECT_EQ(now.nstate, s->nstate);
  EXPECT((now.state == NULL) == (s->state == NULL));
  if (s->nstate)
    EXPECT(memcmp(now.state, s->state, s->nstate) == 0);
  EXPECT_EQ(now.nreaders, s->nreaders);
  EXPECT((now.readers == NULL) == (s->readers == NULL));
  if (s->nreaders)
    EXPECT(memcmp(now.readers, s->readers, s->nreaders) == 0);
  free(now.state);
  free(now.readers);
}

static void snap_free(struct snap *s) {
  free(s->state);
  free(s->readers);
}

/* A writer taking over: refuses with -EBADMSG (or one of `also`, 0 if
 * none) without modifying the files, or (TK_ANY) succeeds, publishes, and a
 * new reader then reads exactly that payload. */
static void check_takeover(enum takeover tk, int also) {
  if (tk == TK_SKIP)
    return;
  struct snap s;
  snap_take(&s);
  struct smr_shm_options o = {0};
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_shm_writer *w = NULL;
  int rc = smr_shm_writer_open(g_name, &o, &w);
  if (rc != 0 || tk == TK_REFUSE) {
    if (rc != -EBADMSG && !(also != 0 && rc == also))
      EXPECT_EQ(rc, -EBADMSG);
    snap_expect_same(&s);
    snap_free(&s);
    return;
  }
  snap_free(&s);
  /* Took over: the channel must work end to end. */
  unsigned char buf[777];
  struct smr_shm_commit_info info;
  fill(buf, sizeof buf, 1000);
  rc = smr_shm_publish(w, buf, sizeof buf, &info);
  if (rc == -EOVERFLOW) {
    /* Only a forged version at 2^56 - 1 gets here: refused, documented. */
    smr_shm_writer_close(w);
    return;
  }
  EXPECT_EQ(rc, 0);
  EXPECT(info.version >= 1);
  smr_shm_writer_close(w);
  smr_shm_reader *r;
  EXPECT_EQ(smr_shm_reader_open(g_name, SMR_SHM_VERIFY, &r), 0);
  smr_shm_guard g;
  EXPECT_EQ(smr_shm_read(r, &g), 0);
  EXPECT_EQ(g.version, info.version);
  EXPECT_EQ(g.size, sizeof buf);
  EXPECT(memcmp(g.data, buf, sizeof buf) == 0);
  EXPECT_EQ(smr_shm_verify(r, &g), 0);
  smr_shm_release(r, &g);
  EXPECT_EQ(smr_shm_reader_close(r), 0);
}

/* Everything on the damaged channel.  open_err: expected from reader_open
 * and stat; read_err / vread_err: from smr_shm_read without / with
 * SMR_SHM_VERIFY; content, verify_err: see check_reader; sum: expected
 * SMR_SHM_STAT_VERIFY checksum state (-1: not checked); tk, tk_also: see
 * check_takeover.  Nothing may leak a descriptor or a mapping. */
static void check_case(const char *what, int open_err, int read_err,
                       int vread_err, int content, int verify_err, int sum,
                       enum takeover tk, int tk_also) {
  g_case = what;
  int fds = fd_count();
  EXPECT_EQ(map_count(), 0);
  check_reader(0, open_err, read_err, content, verify_err);
  check_reader(SMR_SHM_VERIFY, open_err, vread_err, content, verify_err);
  /* stat reads descriptors, not payloads: only a damaged current
   * descriptor or data file may make it fail. */
  int bad_ok = read_err != 0;
  check_stat(0, open_err, bad_ok, -1);
  check_stat(SMR_SHM_STAT_VERIFY, open_err, bad_ok, sum);
  EXPECT_EQ(fd_count(), fds);
  EXPECT_EQ(map_count(), 0);
  check_takeover(tk, tk_also);
  EXPECT_EQ(fd_count(), fds);
  EXPECT_EQ(map_count(), 0);
}

/* Header damage: every reader entry point says open_err, a writer refuses. */
static void check_bad_header(const char *what, int open_err) {
  check_case(what, open_err, 0, 0, 0, 0, -1, TK_REFUSE, 0);
}

/* A damaged reader table: readers and stat say -EBADMSG; a writer may
 * rebuild the table (readers write it, so it is not the writer's to trust)
 * or refuse. */
static void check_bad_readers(const char *what) {
  check_case(what, -EBADMSG, 0, 0, 0, 0, -1, TK_ANY, 0);
}

/* Current payload damaged: open works, reads give -EBADMSG. */
static void check_bad_current(const char *what) {
  check_case(what, 0, -EBADMSG, -EBADMSG, 0, 0, -1, TK_ANY, 0);
}

/* ---- State file header --------------------------------------------------- */

static void state_cases(void) {
  /* The clean channel first: the baseline every case departs from. */
  fresh_channel(3, 8, 0);
  check_case("valid channel", 0, 0, 0, 1, 0, SMR_SHM_CHECKSUM_OK, TK_SKIP, 0);

  remove_channel_files();
  check_case("no channel at all", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);

  fresh_channel(3, 8, 0);
  unlink(g_state);
  /* Only the state file missing: no channel; a writer creates a new one. */
  check_case("state file missing", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);
  g_case = "state file missing: writer creates";
  {
    smr_shm_writer *w;
    EXPECT_EQ(smr_shm_writer_open(g_name, NULL, &w), 0);
    smr_shm_writer_close(w);
  }

  /* Being created (size 0, zero filled, magic not yet stored): -EAGAIN.  A
   * writer (no creator holds the lock) may finish or redo the creation. */
  fresh_channel(3, 8, 0);
  trunc_to(g_state, 0);
  check_case("state file 0 bytes", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  {
    static const unsigned char zero[SMR__SHM_HEADER_SIZE];
    poke(g_state, 0, zero, sizeof zero);
  }
  check_case("state file all zero", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), 0);
  check_case("state magic 0 (being created)", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY,
             -EAGAIN);

  static const uint64_t sizes[] = {8, 100, SMR__SHM_DESC_OFFSET,
                                   SMR__SHM_HEADER_SIZE - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "state file truncated to %llu",
             (unsigned long long)sizes[i]);
    fresh_channel(3, 8, 0);
    trunc_to(g_state, sizes[i]);
    check_bad_header(what, -EBADMSG);
  }

  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__SHM_MAGIC ^ 0x100);
  check_bad_header("state wrong magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__SHM_READERS_MAGIC);
  check_bad_header("state has the reader-table magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  {
    /* A foreign file: text. */
    char text[SMR__SHM_HEADER_SIZE];
    for (size_t i = 0; i < sizeof text; i++)
      text[i] = "not a channel\n"[i % 14];
    poke(g_state, 0, text, sizeof text);
  }
  check_bad_header("state is a text file", -EBADMSG);

  static const uint32_t layouts[] = {0, SMR__SHM_LAYOUT + 1, 0xffffffffu};
  for (size_t i = 0; i < 3; i++) {
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(layout), layouts[i]);
    check_bad_header("state wrong layout", -EBADMSG);
  }
  static const uint32_t hsizes[] = {0, 256, SMR__SHM_HEADER_SIZE - 8,
                                    SMR__SHM_HEADER_SIZE * 2, 0xffffffffu};
  for (size_t i = 0; i < 5; i++) {
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(header_size), hsizes[i]);
    check_bad_header("state wrong header_size", -EBADMSG);
  }
  static const uint32_t bufs[] = {
      0, 1, SMR_SHM_MAX_BUFFERS + 1, 255, 256, 0x80000000u, 0xffffffffu};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "state buffers = %u", bufs[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(buffers), bufs[i]);
    check_bad_header(what, -EBADMSG);
  }
  static const uint32_t slots[] = {0, 7, 9, SMR_SHM_MAX_READERS + 1,
                                   0xffffffffu};
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
    char what[64];
    /* 7 and 9 are in range but disagree with the reader table (8). */
    snprintf(what, sizeof what, "state slots = %u (table has 8)", slots[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(slots), slots[i]);
    check_bad_header(what, -EBADMSG);
  }
  static const uint32_t flags[] = {0x10u, 0x80000000u, 0xffffffffu};
  for (size_t i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "state flags = %#x (unknown bits)", flags[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(flags), flags[i]);
    check_bad_header(what, -EBADMSG);
  }
  /* No checksum stored but an algorithm named (and the reverse below). */
  fresh_channel(3, 8, 0);
  poke32(g_state, ST_OFF(flags), SMR__SHM_F_NOSUM);
  check_bad_header("state NO_CHECKSUM with checksum_alg XXH3", -EBADMSG);
  static const uint32_t algs[] = {0, SMR__SHM_SUM_XXH3 + 1, 0xffffffffu};
  for (size_t i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "state checksum_alg = %u", algs[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(checksum_alg), algs[i]);
    check_bad_header(what, -EBADMSG);
  }
}

/* ---- Reader table -------------------------------------------------------- */

static void readers_cases(void) {
  fresh_channel(3, 8, 0);
  unlink(g_readers);
  check_bad_readers("reader table missing");

  uint64_t full = SMR__SHM_HEADER_SIZE + 8u * SMR__SHM_SLOT_SIZE;
  const uint64_t sizes[] = {0, 100, SMR__SHM_HEADER_SIZE - 1,
                            SMR__SHM_HEADER_SIZE, full - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "reader table truncated to %llu",
             (unsigned long long)sizes[i]);
    fresh_channel(3, 8, 0);
    EXPECT_EQ(file_size(g_readers), full);
    trunc_to(g_readers, sizes[i]);
    check_bad_readers(what);
  }
  fresh_channel(3, 8, 0);
  poke64(g_readers, RD_OFF(magic), SMR__SHM_READERS_MAGIC ^ 1);
  check_bad_readers("reader table wrong magic");
  fresh_channel(3, 8, 0);
  poke64(g_readers, RD_OFF(magic), SMR__SHM_MAGIC);
  check_bad_readers("reader table has the state magic");
  fresh_channel(3, 8, 0);
  poke32(g_readers, RD_OFF(layout), SMR__SHM_LAYOUT + 1);
  check_bad_readers("reader table wrong layout");
  static const uint32_t slots[] = {0, 7, 9, 0xffffffffu};
  for (size_t i = 0; i < 4; i++) {
    char what[64];
    snprintf(what, sizeof what, "reader table slots = %u (state has 8)",
             slots[i]);
    fresh_channel(3, 8, 0);
    poke32(g_readers, RD_OFF(slots), slots[i]);
    check_bad_readers(what);
  }

  /* Garbage in the slots themselves (no live reader): harmless.  Readers
   * claim such slots, stat reports nothing alive, a writer reclaims them. */
  fresh_channel(3, 8, 0);
  for (unsigned s = 0; s < 8; s++) {
    uint64_t base = SMR__SHM_HEADER_SIZE + (uint64_t)s * SMR__SHM_SLOT_SIZE;
    unsigned char junk[SMR__SHM_SLOT_SIZE];
    for (unsigned j = 0; j < sizeof junk; j++)
      junk[j] = (unsigned char)(s * 37u + j * 11u + 1u);
    poke(g_readers, base, junk, sizeof junk);
    /* Some pins that name real buffers, some out of range. */
    poke64(g_readers, base,
           (s & 1) ? (g_cur_version << 8) | (s % 3u)
                   : ((uint64_t)s << 40) | (200u + s));
  }
  g_case = "garbage in every slot";
  check_reader(0, 0, 0, 1, 0);
  check_reader(SMR_SHM_VERIFY, 0, 0, 1, 0);
  {
    struct smr_shm_stat st;
    struct smr_shm_reader_stat rs[8];
    size_t nrs = 99;
    EXPECT_EQ(smr_shm_stat(g_name, 0, &st, rs, 8, &nrs), 0);
    for (size_t i = 0; i < nrs && i < 8; i++) {
      EXPECT(rs[i].slot < 8);
      EXPECT(!rs[i].alive);
    }
    /* A writer publishing with timeout 0 is not blocked by dead pins: with
     * no reader alive every non-current buffer is free. */
    struct smr_shm_options o = {0};
    o.timeout_ns = 0;
    o.timeout_set = true;
    smr_shm_writer *w;
    EXPECT_EQ(smr_shm_writer_open(g_name, &o, &w), 0);
    unsigned char buf[PAYLOAD];
    for (unsigned i = 0; i < 4 * 3; i++) {
      struct smr_shm_commit_info info;
      fill(buf, PAYLOAD, g_cur_version + 1);
      EXPECT_EQ(smr_shm_publish(w, buf, PAYLOAD, &info), 0);
      g_cur_version = g_cur_pattern = info.version;
    }
    smr_shm_writer_close(w);
    check_reader(SMR_SHM_VERIFY, 0, 0, 1, 0);
  }
}

/* ---- Current version, descriptors, data files ---------------------------- */

static void payload_cases(void) {
  char dp[192];

  static const unsigned idx[] = {3, 31, 32, 255};
  for (size_t i = 0; i < 4; i++) {
    char what[64];
    snprintf(what, sizeof what, "current names buffer %u of 3", idx[i]);
    fresh_channel(3, 8, 0);
    poke64(g_state, ST_OFF(current), (g_cur_version << 8) | idx[i]);
    check_bad_current(what);
  }

  /* All ones: buffer 255, and the largest version (found by fuzz_shm). */
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

  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), SMR_SHM_MAX_PAYLOAD + 1);
  check_bad_current("descriptor size > SMR_SHM_MAX_PAYLOAD");
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), UINT64_MAX);
  check_bad_current("descriptor size = UINT64_MAX");
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, size), SMR_SHM_MAX_PAYLOAD);
  check_bad_current("descriptor size = SMR_SHM_MAX_PAYLOAD (> file)");
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

  /* The exact file size is readable (no checksum match then). */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  poke64(g_state, DESC_OFF(g_cur_index, size), file_size(dp));
  if (file_size(dp) == PAYLOAD)
    poke64(g_state, DESC_OFF(g_cur_index, size), PAYLOAD - 1);
  check_case("descriptor size = data file size", 0, 0, -EBADMSG, 0, -EBADMSG,
             SMR_SHM_CHECKSUM_BAD, TK_ANY, 0);
  /* file_size is informational: garbage there changes nothing. */
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, file_size), UINT64_MAX);
  check_case("descriptor file_size = UINT64_MAX", 0, 0, 0, 1, 0,
             SMR_SHM_CHECKSUM_OK, TK_ANY, 0);

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

  /* Flipped payload bytes (first, middle, last): a plain read cannot tell,
   * smr_shm_verify and SMR_SHM_VERIFY readers can. */
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
    smr_shm_reader *r;
    EXPECT_EQ(smr_shm_reader_open(g_name, 0, &r), 0);
    smr_shm_guard g;
    EXPECT_EQ(smr_shm_read(r, &g), 0);
    EXPECT_EQ(g.size, PAYLOAD);
    EXPECT_EQ(((const unsigned char *)g.data)[at[i]], b);
    EXPECT_EQ(smr_shm_verify(r, &g), -EBADMSG);
    smr_shm_release(r, &g);
    EXPECT_EQ(smr_shm_reader_close(r), 0);
    check_case(what, 0, 0, -EBADMSG, 0, -EBADMSG, SMR_SHM_CHECKSUM_BAD, TK_ANY,
               0);
  }
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, checksum),
         peek64(g_state, DESC_OFF(g_cur_index, checksum)) ^ 1);
  check_case("descriptor checksum flipped", 0, 0, -EBADMSG, 1, -EBADMSG,
             SMR_SHM_CHECKSUM_BAD, TK_ANY, 0);

  /* `current` != 0 (something published) naming version 0, in a buffer
   * whose descriptor says version 0 too (as a never-written one does):
   * versions start at 1, so this is corrupt, not an empty payload. */
  fresh_channel(3, 8, 0);
  {
    unsigned other = g_cur_index == 1 ? 2 : 1; /* not 0: current != 0 */
    static const unsigned char zero[sizeof(struct smr__shm_desc)];
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
             SMR_SHM_CHECKSUM_OK, TK_ANY, 0);

  /* A reader already open and reading when the state is damaged: the next
   * new version it sees is validated like the first. */
  fresh_channel(3, 8, 0);
  g_case = "damaged under an open reader";
  {
    smr_shm_reader *r;
    EXPECT_EQ(smr_shm_reader_open(g_name, 0, &r), 0);
    smr_shm_guard g;
    EXPECT_EQ(smr_shm_read(r, &g), 0);
    EXPECT_EQ(g.version, g_cur_version);
    smr_shm_release(r, &g);
    uint64_t good = peek64(g_state, ST_OFF(current));
    /* The next version in an out-of-range buffer. */
    poke64(g_state, ST_OFF(current), ((g_cur_version + 1) << 8) | 40u);
    EXPECT_EQ(smr_shm_read(r, &g), -EBADMSG);
    EXPECT_EQ(smr_shm_read(r, &g), -EBADMSG);
    /* The next version in a real buffer whose descriptor disagrees. */
    unsigned other = (g_cur_index + 1) % 3;
    poke64(g_state, ST_OFF(current), ((g_cur_version + 1) << 8) | other);
    EXPECT_EQ(smr_shm_read(r, &g), -EBADMSG);
    /* Repaired: reads work again. */
    poke64(g_state, ST_OFF(current), good);
    EXPECT_EQ(smr_shm_read(r, &g), 0);
    EXPECT_EQ(g.version, g_cur_version);
    EXPECT(matches(g.data, g.size, g_cur_version));
    smr_shm_release(r, &g);
    EXPECT_EQ(smr_shm_reader_close(r), 0);
  }
}

/* ---- Files that are not regular files ------------------------------------ */

/* Runs fn in a child with an alarm: a call that blocks forever (open(2) of
 * a FIFO without O_NONBLOCK) fails the test instead of hanging it. */
static void in_child_with_alarm(const char *what, void (*fn)(void)) {
  g_case = what;
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(3);
    fn();
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
    fprintf(stderr, "case '%s': child %s %d\n", what,
            WIFSIGNALED(st) ? "killed by signal (SIGALRM = blocked)" : "exited",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void fifo_state_fn(void) {
  smr_shm_reader *r;
  struct smr_shm_stat st;
  smr_shm_writer *w;
  EXPECT_EQ(smr_shm_reader_open(g_name, 0, &r), -EBADMSG);
  EXPECT_EQ(smr_shm_stat(g_name, 0, &st, NULL, 0, NULL), -EBADMSG);
  EXPECT_EQ(smr_shm_writer_open(g_name, NULL, &w), -EBADMSG);
}

static void fifo_readers_fn(void) {
  smr_shm_reader *r;
  EXPECT_EQ(smr_shm_reader_open(g_name, 0, &r), -EBADMSG);
}

static void fifo_data_fn(void) {
  check_reader(0, 0, -EBADMSG, 0, 0);
}

static void special_file_cases(void) {
  fresh_channel(3, 8, 0);
  unlink(g_state);
  CHECK_EQ(mkfifo(g_state, 0600), 0);
  in_child_with_alarm("state file is a FIFO", fifo_state_fn);
  fresh_channel(3, 8, 0);
  unlink(g_readers);
  CHECK_EQ(mkfifo(g_readers, 0600), 0);
  in_child_with_alarm("reader table is a FIFO", fifo_readers_fn);
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
 * writer that follows the link truncates and writes the link's target. */

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
  unlink(link_path);
  CHECK_EQ(symlink(g_victim, link_path), 0);
  struct smr_shm_options o = {0};
  o.buffers = 2;
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_shm_writer *w;
  int rc = smr_shm_writer_open(g_name, &o, &w);
  if (rc == 0) {
    unsigned char buf[64];
    for (unsigned i = 0; i < 6; i++) {
      fill(buf, sizeof buf, i);
      /* Success (the link was replaced) or an error: both fine. */
      (void)smr_shm_publish(w, buf, sizeof buf, NULL);
    }
    smr_shm_writer_close(w);
  }
  size_t n;
  unsigned char *now = slurp(g_victim, &n);
  EXPECT(now != NULL);
  EXPECT_EQ(n, victim_len);
  EXPECT(memcmp(now, victim_text, victim_len) == 0);
  free(now);
  remove_channel_files();
}

static void symlink_cases(void) {
  char dp[192];
  /* Before the channel exists: the first data file and the reader table. */
  data_path(0, dp, sizeof dp);
  symlink_case("planted link: data file of a new channel", dp, false, false);
  data_path(1, dp, sizeof dp);
  symlink_case("planted link: second data file of a new channel", dp, false,
               false);
  symlink_case("planted link: reader table of a new channel", g_readers, false,
               false);
  symlink_case("planted link: empty reader table of a new channel", g_readers,
               false, true);
  symlink_case("planted link: state file of a new channel", g_state, false,
               false);
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

/* ---- A hostile reader scribbling on the reader table --------------------- */

#define H_BUFFERS 4u /* current + honest pin + hostile live pin + 1 free */
#define H_SLOTS   16u
#define H_MIN     20u /* progress each party makes before the stop */

struct hostile_shared { /* MAP_SHARED | MAP_ANONYMOUS, parent and child */
  atomic_int stop;
  atomic_ulong passes; /* full scribble passes done by the child */
};

static struct hostile_shared *g_hs;
static unsigned g_honest_slot;
static uint64_t g_vbase;     /* version = g_vbase + n for payload number n */
static atomic_ulong g_seen;  /* distinct versions the honest reader saw */
static atomic_ulong g_reads; /* reads the honest reader checked */
static atomic_int g_wstop;   /* writer -> reader: stop */
static unsigned long g_busy; /* publishes refused with -EBUSY (writer) */
static int g_child_status = -1;

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* The child: a reader of its own (a live slot) that then writes random
 * values everywhere in the reader table but the honest reader's slot. */
static void scribbler(void) {
  /* Die with the parent (a failed CHECK there must not leave us running). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != g_main_pid)
    _exit(5);
  smr_shm_reader *mine;
  if (smr_shm_reader_open(g_name, 0, &mine) != 0)
    _exit(2);
  int fd = open(g_readers, O_RDWR);
  int sfd = open(g_state, O_RDONLY);
  if (fd < 0 || sfd < 0)
    _exit(3);
  size_t len = SMR__SHM_HEADER_SIZE + H_SLOTS * SMR__SHM_SLOT_SIZE;
  void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void *sm = mmap(NULL, SMR__SHM_HEADER_SIZE, PROT_READ, MAP_SHARED, sfd, 0);
  if (m == MAP_FAILED || sm == MAP_FAILED)
    _exit(4);
  volatile uint64_t *word = m;
  _Atomic uint64_t *cur = &((struct smr__shm_state *)sm)->current;
  size_t skip0 =
      (SMR__SHM_HEADER_SIZE + g_honest_slot * SMR__SHM_SLOT_SIZE) / 8;
  size_t skip1 = skip0 + SMR__SHM_SLOT_SIZE / 8;
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  /* relaxed: a stop flag; nothing is published through it (pairs with the
   * writer thread's store). */
  while (!atomic_load_explicit(&g_hs->stop, memory_order_relaxed)) {
    for (size_t i = 0; i < len / 8; i++) {
      if (i >= skip0 && i < skip1)
        continue;
      uint64_t r = xorshift(&seed);
      /* relaxed: a snapshot of the writer's `current`, only used as a
       * plausible-looking value to scribble (no ordering needed). */
      uint64_t c = atomic_load_explicit(cur, memory_order_relaxed);
      uint64_t v;
      switch (r & 7) {
      case 0:
        v = r;
        break;
      case 1:
        v = ((r >> 16) << 8) | ((r >> 3) & 0xff);
        break; /* any index */
      case 2:
        v = c;
        break; /* pins the current buffer */
      case 3:
        v = c - (((r >> 3) & 3) << 8) + ((r >> 5) & 3);
        break;
      case 4:
        v = 0;
        break;
      case 5:
        v = UINT64_MAX;
        break;
      case 6:
        v = ((uint64_t)getpid() << 32) | (uint32_t)(r >> 40);
        break;
      default:
        v = (r >> 3) & 0xffff;
        break;
      }
      word[i] = v;
    }
    /* relaxed: a progress counter read by the writer's stop condition. */
    atomic_fetch_add_explicit(&g_hs->passes, 1, memory_order_relaxed);
  }
  munmap(m, len);
  munmap(sm, SMR__SHM_HEADER_SIZE);
  close(fd);
  close(sfd);
  smr_shm_reader_close(mine);
  _exit(0);
}

static uint64_t h_size(uint64_t n) {
  return 16 + (n * 977u) % 7000u;
}

static void h_fill(unsigned char *b, uint64_t n) {
  uint64_t size = h_size(n);
  memcpy(b, &n, 8);
  memcpy(b + 8, &size, 8);
  for (uint64_t j = 16; j < size; j++)
    b[j] = pattern_byte(n, j);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *h_writer(void *arg) {
  smr_shm_writer *w = arg;
  static unsigned char buf[16 + 7000];
  double deadline = now_s() + test_seconds(1.5);
  unsigned long ok = 0;
  for (uint64_t n = 2;;) {
    h_fill(buf, n);
    struct smr_shm_commit_info info;
    /* At most the current buffer, the honest reader's and the hostile
     * reader's live pins are taken, out of 4, and dead slots do not count;
     * but a pin the scribbler writes into a dead slot and then overwrites
     * before the writer can reclaim it still looks pinned for a moment:
     * -EBUSY (nothing published) is allowed, a wrong version is not. */
    int rc = smr_shm_publish(w, buf, h_size(n), &info);
    CHECK(rc == 0 || rc == -EBUSY);
    if (rc == 0) {
      CHECK_EQ(info.version, g_vbase + n);
      CHECK(info.buffer < H_BUFFERS);
      n++;
      ok++;
    } else {
      g_busy++;
    }
    if (now_s() < deadline)
      continue;
    /* relaxed: progress counters, only compared with H_MIN. */
    if (ok >= H_MIN &&
        atomic_load_explicit(&g_seen, memory_order_relaxed) >= H_MIN &&
        atomic_load_explicit(&g_hs->passes, memory_order_relaxed) >= H_MIN)
      break;
    int st;
    if (waitpid(g_child, &st, WNOHANG) == g_child) { /* child died early */
      g_child_status = st;
      break;
    }
  }
  /* relaxed: stop flags; the threads are joined (and the child waited for)
   * before anything they wrote is read. */
  atomic_store_explicit(&g_hs->stop, 1, memory_order_relaxed);
  atomic_store_explicit(&g_wstop, 1, memory_order_relaxed);
  return NULL;
}

static void *h_reader(void *arg) {
  smr_shm_reader *r = arg;
  uint64_t last = 0;
  unsigned long reads = 0;
  /* relaxed: stop flag (pairs with the writer thread's store). */
  while (!atomic_load_explicit(&g_wstop, memory_order_relaxed)) {
    smr_shm_guard g;
    CHECK_EQ(smr_shm_read(r, &g), 0);
    CHECK(g.version >= last);
    CHECK(g.size >= 16);
    const unsigned char *p = g.data;
    uint64_t n, size;
    memcpy(&n, p, 8);
    memcpy(&size, p + 8, 8);
    CHECK_EQ(g.version, g_vbase + n);
    CHECK_EQ(size, g.size);
    CHECK_EQ(size, h_size(n));
    for (uint64_t j = 16; j < size; j++)
      CHECK_EQ(p[j], pattern_byte(n, j));
    CHECK_EQ(smr_shm_verify(r, &g), 0);
    if (g.version != last) /* relaxed: progress counter */
      atomic_fetch_add_explicit(&g_seen, 1, memory_order_relaxed);
    last = g.version;
    smr_shm_release(r, &g);
    reads++;
    if ((reads & 63) == 0) {
      /* stat reads the scribbled table: any answer but a crash is fine. */
      struct smr_shm_stat st;
      struct smr_shm_reader_stat rs[H_SLOTS];
      size_t nrs;
      int rc = smr_shm_stat(g_name, 0, &st, rs, H_SLOTS, &nrs);
      CHECK(rc == 0 || rc == -EBADMSG);
      if (rc == 0)
        CHECK(st.buffers == H_BUFFERS && st.readers_max == H_SLOTS);
    }
  }
  atomic_store_explicit(&g_reads, reads, memory_order_relaxed);
  return NULL;
}

static void hostile_case(void) {
  g_case = "hostile reader scribbling the reader table";
  remove_channel_files();
  struct smr_shm_options o = {0};
  o.buffers = H_BUFFERS;
  o.readers = H_SLOTS;
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_shm_writer *w;
  CHECK_EQ(smr_shm_writer_open(g_name, &o, &w), 0);
  static unsigned char buf[16 + 7000];
  struct smr_shm_commit_info info;
  h_fill(buf, 1);
  CHECK_EQ(smr_shm_publish(w, buf, h_size(1), &info), 0);
  g_vbase = info.version - 1;

  smr_shm_reader *r;
  CHECK_EQ(smr_shm_reader_open(g_name, SMR_SHM_VERIFY, &r), 0);
  struct smr_shm_stat st;
  struct smr_shm_reader_stat rs[H_SLOTS];
  size_t nrs = 0;
  CHECK_EQ(smr_shm_stat(g_name, 0, &st, rs, H_SLOTS, &nrs), 0);
  CHECK_EQ(nrs, 1);
  CHECK(rs[0].alive);
  CHECK_EQ(rs[0].pid, getpid());
  CHECK(rs[0].slot < H_SLOTS);
  g_honest_slot = rs[0].slot;

  g_hs = mmap(NULL, sizeof *g_hs, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(g_hs != MAP_FAILED);
  atomic_init(&g_hs->stop, 0);
  atomic_init(&g_hs->passes, 0);
  fflush(NULL);
  g_child = fork(); /* before any thread of this test exists */
  CHECK(g_child >= 0);
  if (g_child == 0)
    scribbler();

  pthread_t tw, tr;
  CHECK_EQ(pthread_create(&tr, NULL, h_reader, r), 0);
  CHECK_EQ(pthread_create(&tw, NULL, h_writer, w), 0);
  CHECK_EQ(pthread_join(tw, NULL), 0);
  CHECK_EQ(pthread_join(tr, NULL), 0);
  int cst = g_child_status;
  if (cst == -1)
    CHECK_EQ(waitpid(g_child, &cst, 0), g_child);
  g_child = 0; /* reaped: the abort handler must not kill a reused pid */
  if (!(WIFEXITED(cst) && WEXITSTATUS(cst) == 0))
    fprintf(stderr, "scribbler: status %#x\n", (unsigned)cst);
  CHECK(WIFEXITED(cst) && WEXITSTATUS(cst) == 0);
  CHECK(atomic_load_explicit(&g_seen, memory_order_relaxed) >= H_MIN);
  fprintf(stderr,
          "hostile: %lu reads checked, %lu versions seen, %lu publishes "
          "refused (-EBUSY), %lu scribble passes\n",
          atomic_load_explicit(&g_reads, memory_order_relaxed),
          atomic_load_explicit(&g_seen, memory_order_relaxed), g_busy,
          atomic_load_explicit(&g_hs->passes, memory_order_relaxed));
  CHECK_EQ(smr_shm_reader_close(r), 0);
  smr_shm_writer_close(w);
  munmap(g_hs, sizeof *g_hs);
}

static bool want(int argc, char **argv, const char *section) {
  if (argc < 2)
    return true;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], section) == 0)
      return true;
  return false;
}

/* Arguments (optional): the sections to run - state readers payload special
 * symlink hostile; default all. */
int main(int argc, char **argv) {
  snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-corrupt-XXXXXX");
  CHECK(mkdtemp(g_dir) != NULL);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  snprintf(g_state, sizeof g_state, "%s.smr", g_name);
  snprintf(g_readers, sizeof g_readers, "%s.smr-readers", g_name);
  snprintf(g_victim, sizeof g_victim, "%s/victim", g_dir);
  snprintf(g_all[0], sizeof g_all[0], "%s", g_state);
  snprintf(g_all[1], sizeof g_all[1], "%s", g_readers);
  snprintf(g_all[2], sizeof g_all[2], "%s", g_victim);
  for (unsigned i = 0; i < NDATA; i++)
    data_path(i, g_all[3 + i], sizeof g_all[3 + i]);
  g_main_pid = getpid();
  signal(SIGABRT, on_abort);

  if (want(argc, argv, "state"))
    state_cases();
  if (want(argc, argv, "readers"))
    readers_cases();
  if (want(argc, argv, "payload"))
    payload_cases();
  if (want(argc, argv, "special"))
    special_file_cases();
  if (want(argc, argv, "symlink"))
    symlink_cases();
  if (want(argc, argv, "hostile"))
    hostile_case();

  /* A valid channel again, removed by the library: nothing else is left. */
  g_case = "cleanup";
  fresh_channel(3, 8, 0);
  EXPECT_EQ(smr_shm_unlink(g_name), 0);
  EXPECT_EQ(smr_shm_unlink(g_name), -ENOENT);
  EXPECT_EQ(rmdir(g_dir), 0);
  return 0;
}
