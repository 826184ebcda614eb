/* Untrusted channel files (smr/channel.h, src/channel_layout.h).
 *
 * A valid channel is built with the real writer in a fresh directory under
 * /dev/shm, the writer is closed, then the files are damaged by hand
 * (pwrite, truncate, unlink, chmod, chown, symlink, mkfifo, junk entries in
 * the readers directory).  Every entry point that reads the files -
 * smr_channel_reader_open, smr_channel_read (with and without
 * SMR_CHANNEL_VERIFY), smr_channel_verify, smr_channel_stat (with and without
 * SMR_CHANNEL_STAT_VERIFY) and the writer takeover smr_channel_writer_open -
 * must return the documented negative errno and never crash, hang, leak a file
 * descriptor or a mapping, or write to a file it refused.
 *
 * Then the threat model of the slot files (one file per reader in the
 * sticky NAME.smr-readers/ directory): a hostile reader of another uid
 * (nobody) cannot open, truncate, remove or replace an honest reader's slot
 * file, and scribbles and truncates its own while the writer publishes with
 * timeout 0 and honest readers (a thread of the writer's uid, a process of a
 * third uid) check every payload; a buggy reader of the writer's own uid
 * scribbles its own slot mapping.  Cross-uid parts need root (CI runs as
 * root); without it they are skipped with a message on stderr.
 *
 * Last, regression cases for the writer's discovery of slot files under
 * stress (out of descriptors, sockets, an overflowing watch, taken
 * temporary names, leftover directories).
 *
 * SMR_TEST_SECONDS bounds each hostile phase (default 1.5 s).  Arguments
 * select sections (see main); default all. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel/layout.h"
#include "check.h"
#include "smr/channel.h"

_Static_assert(offsetof(struct smr__channel_state, desc) ==
                   SMR__CHANNEL_DESC_OFFSET,
               "descriptor offset");
_Static_assert(sizeof(struct smr__channel_desc) == 64, "descriptor size");
_Static_assert(sizeof(struct smr__channel_slot) == 64, "slot");
_Static_assert(SMR__CHANNEL_SLOT_FILE_SIZE >= sizeof(struct smr__channel_slot),
               "slot file");

/* Other users for the cross-uid cases (root only): the hostile reader and
 * a third party (an honest reader, or the owner of a relocated channel). */
#define UID_HOSTILE 65534u /* nobody */
#define UID_OTHER   65533u

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

static bool g_root; /* euid 0: the cross-uid cases run */

static void skip_note(const char *what) {
  fprintf(stderr, "SKIPPED (not root; CI runs as root): %s\n", what);
}

/* ---- Paths and raw file access ------------------------------------------ */

static char g_dir[64];      /* mkdtemp under /dev/shm, mode 0755 */
static char g_name[128];    /* "<dir>/ch" */
static char g_state[160];   /* NAME.smr */
static char g_readers[160]; /* NAME.smr-readers (a directory) */
static char g_lock[160];    /* NAME.smr-lock (the single-writer lock) */
static char g_victim[160];  /* symlink target in the symlink cases */
static char g_vdir[160];    /* a directory a planted link points to */

static void data_path(unsigned i, char *out, size_t n) {
  snprintf(out, n, "%s.smr-data-%u", g_name, i);
}

static void slot_path(const char *entry, char *out, size_t n) {
  int k = snprintf(out, n, "%s/%s", g_readers, entry);
  CHECK(k > 0 && (size_t)k < n);
}

/* Remove a name: a file, a link, a FIFO, or a directory with its entries
 * (down to `depth` levels: the readers directory and what was planted in
 * it).  System calls only, so the abort handler can use it. */
static void rm_at(int dfd, const char *name, int depth) {
  if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
    return;
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  for (int pass = 0; depth > 0 && pass < 8; pass++) {
    _Alignas(struct dirent64) char buf[2048];
    bool any = false;
    lseek(fd, 0, SEEK_SET);
    for (;;) {
      long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0)
        break;
      for (long off = 0; off < n;) {
        struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
        off += d->d_reclen;
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
          continue;
        rm_at(fd, d->d_name, depth - 1);
        any = true;
      }
    }
    if (!any)
      break;
  }
  close(fd);
  unlinkat(dfd, name, AT_REMOVEDIR);
}

static void rm_tree(const char *path) {
  rm_at(AT_FDCWD, path, 3);
}

/* On a failed CHECK (abort) the main process kills its children and
 * removes the directory, so a failing run leaves nothing in /dev/shm. */
#define NKIDS 4
static pid_t g_main_pid, g_kids[NKIDS];

static void kid_add(pid_t pid) {
  for (int i = 0; i < NKIDS; i++)
    if (g_kids[i] == 0) {
      g_kids[i] = pid;
      return;
    }
  CHECK(!"too many children");
}

/* pid was reaped: the abort handler must not kill a reused pid. */
static void kid_done(pid_t pid) {
  for (int i = 0; i < NKIDS; i++)
    if (g_kids[i] == pid)
      g_kids[i] = 0;
}

static void on_abort(int sig) {
  if (getpid() == g_main_pid) {
    for (int i = 0; i < NKIDS; i++)
      if (g_kids[i] > 0)
        kill(g_kids[i], SIGKILL);
    rm_tree(g_dir);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

/* In a forked child: die with the parent (a failed CHECK there must not
 * leave us running).  Call after any credential change, which clears it. */
static void die_with_parent(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != g_main_pid)
    _exit(5);
}

/* In a forked child: become uid (and gid) `uid`, no supplementary groups. */
static void become(unsigned uid) {
  CHECK_EQ(setgroups(0, NULL), 0);
  CHECK_EQ(setgid((gid_t)uid), 0);
  CHECK_EQ(setuid((uid_t)uid), 0);
  CHECK_EQ(geteuid(), uid);
  die_with_parent();
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

/* Whole file into a malloc'd buffer (NULL, *n = 0 if it does not exist or
 * is not a regular file; links are not followed). */
static unsigned char *slurp(const char *path, size_t *n) {
  *n = 0;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
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

#define ST_OFF(f) ((uint64_t)offsetof(struct smr__channel_state, f))
#define DESC_OFF(i, f)                                                         \
  ((uint64_t)SMR__CHANNEL_DESC_OFFSET +                                        \
   (uint64_t)(i) * sizeof(struct smr__channel_desc) +                          \
   offsetof(struct smr__channel_desc, f))
#define ACK_OFF(i) ((uint64_t)SMR__CHANNEL_HEADER_SIZE + (uint64_t)(i)*8u)

/* Remove every file a channel (or a case) may have left behind, readers
 * directories a writer moved aside ("ch.smr-readers.old-<inode>")
 * included. */
static void remove_channel_files(void) {
  char p[192];
  unlink(g_state);
  unlink(g_lock);
  DIR *d = opendir(g_dir);
  CHECK(d != NULL);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strncmp(e->d_name, "ch.smr-readers.old-", 19) == 0) {
      char q[sizeof g_dir + sizeof e->d_name + 1];
      snprintf(q, sizeof q, "%s/%s", g_dir, e->d_name);
      rm_tree(q);
    }
  CHECK_EQ(closedir(d), 0);
  for (unsigned i = 0; i < 40; i++) {
    data_path(i, p, sizeof p);
    rm_tree(p); /* a file, a FIFO or a directory in the cases */
  }
  rm_tree(g_readers);
  rm_tree(g_vdir);
  unlink(g_victim);
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

/* ---- Describing a path: proves a refusing writer changed nothing -------- */

struct text {
  char *p;
  size_t n, cap;
};

static void text_add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k =
        vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    CHECK(k >= 0);
    if (t->p && t->n + (size_t)k < t->cap) {
      t->n += (size_t)k;
      return;
    }
    t->cap = t->cap * 2 + (size_t)k + 256;
    t->p = realloc(t->p, t->cap);
    CHECK(t->p != NULL);
  }
}

static uint64_t fnv(const unsigned char *b, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* One line: type and mode, owner, inode, size, content hash. */
static void describe_one(struct text *t, const char *label, const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    text_add(t, "%s: none\n", label);
    return;
  }
  uint64_t h = 0;
  if (S_ISREG(st.st_mode)) {
    size_t n;
    unsigned char *b = slurp(path, &n);
    h = b ? fnv(b, n) : 1;
    free(b);
  }
  text_add(t, "%s: %o %u %llu %lld %llx\n", label, (unsigned)st.st_mode,
           (unsigned)st.st_uid, (unsigned long long)st.st_ino,
           (long long)st.st_size, (unsigned long long)h);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The path and, for a directory, each entry (sorted by name). */
static char *describe(const char *path) {
  struct text t = {NULL, 0, 0};
  describe_one(&t, path, path);
  DIR *d = opendir(path);
  if (d) {
    char *names[256];
    size_t k = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        CHECK(k < 256);
        names[k] = strdup(e->d_name);
        CHECK(names[k] != NULL);
        k++;
      }
    CHECK_EQ(closedir(d), 0);
    qsort(names, k, sizeof names[0], cmp_str);
    for (size_t i = 0; i < k; i++) {
      char p[320];
      snprintf(p, sizeof p, "%s/%s", path, names[i]);
      describe_one(&t, names[i], p);
      free(names[i]);
    }
  }
  return t.p;
}

/* `path` must still look as `before` (from describe) did; frees it. */
static void expect_same_tree(char *before, const char *path) {
  char *after = describe(path);
  if (strcmp(before, after) != 0)
    fprintf(stderr, "before:\n%safter:\n%s", before, after);
  EXPECT(strcmp(before, after) == 0);
  free(before);
  free(after);
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
  struct smr_channel_options o = {0};
  o.buffers = buffers;
  o.readers = slots;
  o.flags = flags;
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  static unsigned char buf[PAYLOAD];
  uint64_t v0 = 0;
  for (unsigned i = 1; i <= NPUB; i++) {
    struct smr_channel_commit_info info;
    /* The first version of a new channel is 1, +1 per publish. */
    fill(buf, PAYLOAD, i);
    EXPECT_EQ(smr_channel_publish(w, buf, PAYLOAD, &info), 0);
    EXPECT_EQ(info.version, i);
    EXPECT_EQ(info.bytes, PAYLOAD);
    EXPECT(info.buffer < buffers);
    v0 = info.version;
  }
  smr_channel_writer_close(w);
  uint64_t cur = peek64(g_state, ST_OFF(current));
  g_cur_version = SMR__CHANNEL_VERSION(cur);
  g_cur_index = SMR__CHANNEL_INDEX(cur);
  EXPECT_EQ(g_cur_version, v0);
  g_cur_pattern = v0;
  EXPECT(g_cur_index < buffers);
  EXPECT_EQ(file_size(g_state), smr__channel_state_size(slots));
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
 * end of the file would SIGBUS) and smr_channel_verify must say verify_err.
 * After an error no guard is held: close succeeds. */
static void check_reader(unsigned flags, int open_err, int read_err,
                         int content, int verify_err) {
  smr_channel_reader *r = (smr_channel_reader *)0x1;
  int rc = smr_channel_reader_open(g_name, flags, &r);
  EXPECT_EQ(rc, open_err);
  if (rc != 0)
    return;
  for (int round = 0; round < 2; round++) {
    smr_channel_guard g;
    memset(&g, 0xa5, sizeof g);
    rc = smr_channel_read(r, &g);
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
    EXPECT_EQ(smr_channel_verify(r, &g), verify_err);
    smr_channel_release(r, &g);
  }
  EXPECT_EQ(smr_channel_version(r), g_cur_version);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
}

/* smr_channel_stat with `flags`: open_err when the header is bad; otherwise 0
 * with sane numbers, or -EBADMSG where `bad_ok` (the current payload or its
 * descriptor is damaged).  want_sum >= 0: the checksum state expected. */
static void check_stat(unsigned flags, int open_err, int bad_ok, int want_sum) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[4];
  size_t nrs = 12345;
  memset(&st, 0, sizeof st);
  int rc = smr_channel_stat(g_name, flags, &st, rs, 4, &nrs);
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

/* Snapshot of the state file and the readers directory (with its entries),
 * to prove a refusing writer wrote nothing. */
struct snap {
  unsigned char *state;
  size_t nstate;
  char *readers;
};

static void snap_take(struct snap *s) {
  s->state = slurp(g_state, &s->nstate);
  s->readers = describe(g_readers);
}

static void snap_expect_same(const struct snap *s) {
  struct snap now;
  snap_take(&now);
  EXPECT_EQ(now.nstate, s->nstate);
  EXPECT((now.state == NULL) == (s->state == NULL));
  if (s->nstate)
    EXPECT(memcmp(now.state, s->state, s->nstate) == 0);
  if (strcmp(now.readers, s->readers) != 0)
    fprintf(stderr, "readers before:\n%sreaders after:\n%s", s->readers,
            now.readers);
  EXPECT(strcmp(now.readers, s->readers) == 0);
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
  struct smr_channel_options o = {0};
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_channel_writer *w = NULL;
  int rc = smr_channel_writer_open(g_name, &o, &w);
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
  struct smr_channel_commit_info info;
  fill(buf, sizeof buf, 1000);
  rc = smr_channel_publish(w, buf, sizeof buf, &info);
  if (rc == -EOVERFLOW) {
    /* Only a forged version at 2^56 - 1 gets here: refused, documented. */
    smr_channel_writer_close(w);
    return;
  }
  EXPECT_EQ(rc, 0);
  EXPECT(info.version >= 1);
  smr_channel_writer_close(w);
  smr_channel_reader *r;
  EXPECT_EQ(smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  EXPECT_EQ(smr_channel_read(r, &g), 0);
  EXPECT_EQ(g.version, info.version);
  EXPECT_EQ(g.size, sizeof buf);
  EXPECT(memcmp(g.data, buf, sizeof buf) == 0);
  EXPECT_EQ(smr_channel_verify(r, &g), 0);
  smr_channel_release(r, &g);
  EXPECT_EQ(smr_channel_reader_close(r), 0);
}

/* Everything on the damaged channel.  open_err: expected from reader_open
 * and stat; read_err / vread_err: from smr_channel_read without / with
 * SMR_CHANNEL_VERIFY; content, verify_err: see check_reader; sum: expected
 * SMR_CHANNEL_STAT_VERIFY checksum state (-1: not checked); tk, tk_also: see
 * check_takeover.  Nothing may leak a descriptor or a mapping. */
static void check_case(const char *what, int open_err, int read_err,
                       int vread_err, int content, int verify_err, int sum,
                       enum takeover tk, int tk_also) {
  g_case = what;
  int fds = fd_count();
  EXPECT_EQ(map_count(), 0);
  check_reader(0, open_err, read_err, content, verify_err);
  check_reader(SMR_CHANNEL_VERIFY, open_err, vread_err, content, verify_err);
  /* stat reads descriptors, not payloads: only a damaged current
   * descriptor or data file may make it fail. */
  int bad_ok = read_err != 0;
  check_stat(0, open_err, bad_ok, -1);
  check_stat(SMR_CHANNEL_STAT_VERIFY, open_err, bad_ok, sum);
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

/* A readers directory the channel cannot trust (missing, not a directory,
 * wrong owner, writable by others without the sticky bit): readers and stat
 * say -EBADMSG, a writer taking over refuses without touching anything
 * (readers that have the real directory open would be invisible to it). */
static void check_bad_dir(const char *what) {
  check_case(what, -EBADMSG, 0, 0, 0, 0, -1, TK_REFUSE, 0);
}

/* A valid channel (after a change that must be accepted). */
static void check_valid(const char *what) {
  check_case(what, 0, 0, 0, 1, 0, SMR_CHANNEL_CHECKSUM_OK, TK_ANY, 0);
}

/* Current payload damaged: open works, reads give -EBADMSG.  A writer may
 * take over, or refuse: -EBADMSG, or -EEXIST where the data file's name
 * holds something it did not create (a directory). */
static void check_bad_current(const char *what) {
  check_case(what, 0, -EBADMSG, -EBADMSG, 0, 0, -1, TK_ANY, -EEXIST);
}

/* Runs fn in a child as uid `uid` (root only), checks it exited 0. */
static void run_as(const char *what, unsigned uid, void (*fn)(void)) {
  g_case = what;
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    become(uid);
    fn();
    _exit(0);
  }
  kid_add(pid);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  kid_done(pid);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
    fprintf(stderr, "case '%s': child as uid %u %s %d\n", what, uid,
            WIFSIGNALED(st) ? "killed by signal" : "exited",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- State file header --------------------------------------------------- */

static void state_cases(void) {
  /* The clean channel first: the baseline every case departs from. */
  fresh_channel(3, 8, 0);
  check_case("valid channel", 0, 0, 0, 1, 0, SMR_CHANNEL_CHECKSUM_OK, TK_SKIP,
             0);

  remove_channel_files();
  check_case("no channel at all", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);

  fresh_channel(3, 8, 0);
  unlink(g_state);
  /* Only the state file missing: no channel; a writer creates a new one. */
  check_case("state file missing", -ENOENT, 0, 0, 0, 0, -1, TK_SKIP, 0);
  g_case = "state file missing: writer creates";
  {
    smr_channel_writer *w;
    EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
    smr_channel_writer_close(w);
  }

  /* Being created (size 0, zero filled, magic not yet stored): -EAGAIN.  A
   * writer (no creator holds the lock) may finish or redo the creation. */
  fresh_channel(3, 8, 0);
  trunc_to(g_state, 0);
  check_case("state file 0 bytes", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  {
    static const unsigned char zero[SMR__CHANNEL_HEADER_SIZE];
    poke(g_state, 0, zero, sizeof zero);
  }
  check_case("state file all zero", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY, -EAGAIN);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), 0);
  check_case("state magic 0 (being created)", -EAGAIN, 0, 0, 0, 0, -1, TK_ANY,
             -EAGAIN);

  /* Shorter than the header, or than the header plus one ack per slot
   * (layout 2: smr__channel_state_size(slots)). */
  const uint64_t full = smr__channel_state_size(8);
  const uint64_t sizes[] = {8,
                            100,
                            SMR__CHANNEL_DESC_OFFSET,
                            SMR__CHANNEL_HEADER_SIZE - 1,
                            SMR__CHANNEL_HEADER_SIZE,
                            SMR__CHANNEL_HEADER_SIZE + 8,
                            full - 8,
                            full - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char what[80];
    snprintf(what, sizeof what, "state file truncated to %llu (needs %llu)",
             (unsigned long long)sizes[i], (unsigned long long)full);
    fresh_channel(3, 8, 0);
    trunc_to(g_state, sizes[i]);
    check_bad_header(what, -EBADMSG);
  }
  /* Longer than needed: the tail is not part of the layout. */
  fresh_channel(3, 8, 0);
  trunc_to(g_state, full + 12345);
  check_valid("state file longer than header + acks");

  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__CHANNEL_MAGIC ^ 0x100);
  check_bad_header("state wrong magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  poke64(g_state, ST_OFF(magic), SMR__CHANNEL_SLOT_MAGIC);
  check_bad_header("state has the slot-file magic", -EBADMSG);
  fresh_channel(3, 8, 0);
  {
    /* A foreign file: text. */
    char text[SMR__CHANNEL_HEADER_SIZE];
    for (size_t i = 0; i < sizeof text; i++)
      text[i] = "not a channel\n"[i % 14];
    poke(g_state, 0, text, sizeof text);
  }
  check_bad_header("state is a text file", -EBADMSG);

  static const uint32_t layouts[] = {0, 1, SMR__CHANNEL_LAYOUT + 1,
                                     0xffffffffu};
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "state layout = %u", layouts[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(layout), layouts[i]);
    check_bad_header(what, -EBADMSG);
  }
  static const uint32_t hsizes[] = {0, 256, SMR__CHANNEL_HEADER_SIZE - 8,
                                    SMR__CHANNEL_HEADER_SIZE * 2, 0xffffffffu};
  for (size_t i = 0; i < 5; i++) {
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(header_size), hsizes[i]);
    check_bad_header("state wrong header_size", -EBADMSG);
  }
  static const uint32_t bufs[] = {
      0, 1, SMR_CHANNEL_MAX_BUFFERS + 1, 255, 256, 0x80000000u, 0xffffffffu};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "state buffers = %u", bufs[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(buffers), bufs[i]);
    check_bad_header(what, -EBADMSG);
  }
  /* More slots than the file has acks for (9 .. 4096: in range, but the
   * acks would run past the end of the file), or out of range. */
  static const uint32_t slots[] = {0, 9, SMR_CHANNEL_MAX_READERS,
                                   SMR_CHANNEL_MAX_READERS + 1, 0xffffffffu};
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "state slots = %u (file has 8 acks)", slots[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(slots), slots[i]);
    check_bad_header(what, -EBADMSG);
  }
  /* Fewer slots than the file has acks for: a consistent smaller channel
   * (the acks it names are a prefix of the file). */
  static const uint32_t fewer[] = {1, 7};
  for (size_t i = 0; i < 2; i++) {
    char what[64];
    snprintf(what, sizeof what, "state slots = %u (file has 8 acks)", fewer[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(slots), fewer[i]);
    g_slots = fewer[i];
    check_valid(what);
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
  poke32(g_state, ST_OFF(flags), SMR__CHANNEL_F_NOSUM);
  check_bad_header("state NO_CHECKSUM with checksum_alg XXH3", -EBADMSG);
  static const uint32_t algs[] = {0, SMR__CHANNEL_SUM_XXH3 + 1, 0xffffffffu};
  for (size_t i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "state checksum_alg = %u", algs[i]);
    fresh_channel(3, 8, 0);
    poke32(g_state, ST_OFF(checksum_alg), algs[i]);
    check_bad_header(what, -EBADMSG);
  }

  /* Acks are informational for readers (they only shorten smr_channel_wait's
   * sleep slices): garbage there changes no read, and a writer taking over
   * resets them to what it tracks. */
  fresh_channel(3, 8, 0);
  for (unsigned i = 0; i < 8; i++)
    poke64(g_state, ACK_OFF(i),
           i & 1 ? UINT64_MAX : 0x0123456789abcdefull * (i + 1));
  check_valid("acks hold garbage");
  fresh_channel(3, 8, 0);
  for (unsigned i = 0; i < 8; i++)
    poke64(g_state, ACK_OFF(i), UINT64_MAX - i);
  g_case = "acks hold garbage: a writer resets them";
  {
    smr_channel_reader *r;
    EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), 0);
    struct smr_channel_stat st;
    struct smr_channel_reader_stat rs[2];
    size_t nrs = 0;
    EXPECT_EQ(smr_channel_stat(g_name, 0, &st, rs, 2, &nrs), 0);
    EXPECT_EQ(nrs, 1);
    EXPECT(rs[0].alive);
    char p[192], nm[16];
    snprintf(nm, sizeof nm, "r%u", rs[0].slot);
    slot_path(nm, p, sizeof p);
    struct stat sb;
    EXPECT_EQ(lstat(p, &sb), 0);
    EXPECT(S_ISREG(sb.st_mode));
    EXPECT_EQ(sb.st_mode & 07777, 0644);
    EXPECT_EQ(sb.st_size, SMR__CHANNEL_SLOT_FILE_SIZE);
    smr_channel_writer *w;
    EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), 0);
    /* It listed the directory when it opened: our file is tracked. */
    for (unsigned i = 0; i < 8; i++)
      EXPECT_EQ(peek64(g_state, ACK_OFF(i)),
                i == rs[0].slot ? (uint64_t)sb.st_ino : 0);
    smr_channel_writer_close(w);
    EXPECT_EQ(smr_channel_reader_close(r), 0);
    EXPECT_EQ(lstat(p, &sb), -1); /* a closing reader removes its file */
  }
}

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
  char stage[192];
  slot_path("stage", stage, sizeof stage); /* not a slot name */
  CHECK_EQ(mkdir(stage, 0755), 0);
  size_t staged[NJUNK], nstaged = 0;
  for (size_t i = 0; i < NJUNK; i++)
    if (junk_tracked(i) && g_junk[i].kind == J_SLOT && !junk_present(i)) {
      junk_plant_one(i, stage);
      if (g_junk_planted[i])
        staged[nstaged++] = i;
    }
  EXPECT(nstaged >= 9);
  for (size_t k = 0; k < nstaged; k++) {
    char from[256], to[192];
    snprintf(from, sizeof from, "%s/%s", stage, g_junk[staged[k]].name);
    slot_path(g_junk[staged[k]].name, to, sizeof to);
    CHECK_EQ(rename(from, to), 0);
  }
  CHECK_EQ(rmdir(stage), 0);
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
    junk_publish(w, &reclaimed);
  smr_channel_writer_close(w);
  for (int k = 0; k < 3; k++) {
    EXPECT(matches(g[k].data, PAYLOAD, held_pattern)); /* never reused */
    EXPECT_EQ(g[k].version, held);
    EXPECT_EQ(smr_channel_verify(r[k], &g[k]), 0);
    smr_channel_release(r[k], &g[k]);
    EXPECT_EQ(smr_channel_reader_close(r[k]), 0);
  }
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

static void readers_cases(void) {
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

  junk_case(false);
  if (g_root)
    junk_case(true);
  else
    skip_note("junk in the readers directory as another uid (r4 0600)");
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

  /* The exact file size is readable (no checksum match then). */
  fresh_channel(3, 8, 0);
  cur_data_path(dp, sizeof dp);
  poke64(g_state, DESC_OFF(g_cur_index, size), file_size(dp));
  if (file_size(dp) == PAYLOAD)
    poke64(g_state, DESC_OFF(g_cur_index, size), PAYLOAD - 1);
  check_case("descriptor size = data file size", 0, 0, -EBADMSG, 0, -EBADMSG,
             SMR_CHANNEL_CHECKSUM_BAD, TK_ANY, 0);
  /* file_size is informational: garbage there changes nothing. */
  fresh_channel(3, 8, 0);
  poke64(g_state, DESC_OFF(g_cur_index, file_size), UINT64_MAX);
  check_case("descriptor file_size = UINT64_MAX", 0, 0, 0, 1, 0,
             SMR_CHANNEL_CHECKSUM_OK, TK_ANY, 0);

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

/* ---- Files that are not regular files ------------------------------------ */

/* Runs fn in a child with an alarm: a call that blocks forever (open(2) of
 * a FIFO without O_NONBLOCK) fails the test instead of hanging it. */
static void in_child_with_alarm(const char *what, void (*fn)(void)) {
  g_case = what;
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    die_with_parent();
    alarm(3);
    fn();
    _exit(0);
  }
  kid_add(pid);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  kid_done(pid);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
    fprintf(stderr, "case '%s': child %s %d\n", what,
            WIFSIGNALED(st) ? "killed by signal (SIGALRM = blocked)" : "exited",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void fifo_state_fn(void) {
  smr_channel_reader *r;
  struct smr_channel_stat st;
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), -EBADMSG);
  EXPECT_EQ(smr_channel_stat(g_name, 0, &st, NULL, 0, NULL), -EBADMSG);
  /* The name holds something the writer did not create: never adopted. */
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), -EEXIST);
  EXPECT(strcmp(smr_channel_error_path(), g_state) == 0);
}

static void fifo_readers_fn(void) {
  smr_channel_reader *r;
  struct smr_channel_stat st;
  smr_channel_writer *w;
  EXPECT_EQ(smr_channel_reader_open(g_name, 0, &r), -EBADMSG);
  EXPECT_EQ(smr_channel_stat(g_name, 0, &st, NULL, 0, NULL), -EBADMSG);
  /* An existing channel: taken over only with its own directory. */
  EXPECT_EQ(smr_channel_writer_open(g_name, NULL, &w), -EBADMSG);
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

static void special_file_cases(void) {
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

static void symlink_cases(void) {
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

static char g_sdir[96];     /* "<dir>/shared", mode 01777 */
static char g_sname[128];   /* "<sdir>/ch" */
static char g_svictim[160]; /* a file of the writer's user */

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

static void squat_cases(void) {
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

/* ---- Hostile and buggy readers ------------------------------------------
 * The writer (this process) publishes with timeout 0 while two honest
 * readers check every payload: a thread here (the writer's uid: the writer
 * maps its slot file) and a process of a third uid (read by pread).  A bad
 * reader process runs beside them:
 *   hostile (another uid, nobody): (a) every way to reach an honest
 *     reader's slot file, the writer lock or the directory is refused;
 *     (b) with two reader handles of its own, it scribbles the first one's
 *     slot file through a second mapping and pwrite and keeps truncating it
 *     to 0 and back (the writer reads it with pread: no SIGBUS); (c) it
 *     fills the directory with junk names, dead slot files, one live locked
 *     one, hard links and renames of its second handle's file, and
 *     overflows the writer's directory watch.
 *   buggy (the writer's uid): wild writes over its own slot mapping.
 * The writer may be pinned (-EBUSY at timeout 0), never crash or serve a
 * wrong payload; once the bad reader exited, every publish succeeds.
 * Children are forked before the channel exists: they inherit no
 * descriptor or mapping of it. */

/* Buffers: the current one, two honest pins, one more (the bad reader's
 * pins can take it, and the writer says -EBUSY; once it is gone, every
 * publish finds a buffer). */
#define H_BUFFERS 4u
#define H_SLOTS   16u
#define H_MIN     20u /* progress each party makes before the stop */
#define H_AFTER   40u /* publishes after the bad reader exited: all succeed */
#define H_JUNK    12  /* junk names the hostile keeps at once */

enum hmode { HM_HOSTILE, HM_BUGGY };

struct hshared {          /* MAP_SHARED | MAP_ANONYMOUS: parent and children */
  atomic_int stop_bad;    /* parent -> bad reader: stop */
  atomic_int stop_honest; /* parent -> honest process: stop */
  atomic_ulong passes;    /* scribble passes of the bad reader */
  atomic_ulong denied;    /* (a): attempts refused as they must be */
  atomic_ulong truncs;    /* (b): own slot file truncations */
  atomic_ulong junk;      /* (c): junk entries created */
  atomic_ulong own_reads, own_wrong; /* bad reader's own reads, wrong ones */
  atomic_ulong honest_reads, honest_seen; /* honest process */
};

static struct hshared *g_hs;
static enum hmode g_hmode;
static bool g_cross;         /* root: honest process UID_OTHER, hostile
                                UID_HOSTILE (buggy: always our uid) */
static unsigned g_hslot[2];  /* slots: honest thread, honest process */
static uint64_t g_vbase;     /* version = g_vbase + n for payload number n */
static atomic_ulong g_seen;  /* distinct versions the honest thread saw */
static atomic_ulong g_reads; /* reads the honest thread checked */
static atomic_int g_wstop;   /* writer -> honest thread: stop */
static unsigned long g_ok, g_busy, g_after;
static pid_t g_bad_pid, g_honest_pid;
static int g_bad_status = -1;

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
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

/* Is this guard's payload exactly the one its version names? */
static bool h_good(const smr_channel_guard *g) {
  if (g->size < 16)
    return false;
  const unsigned char *p = g->data;
  uint64_t n, size;
  memcpy(&n, p, 8);
  memcpy(&size, p + 8, 8);
  if (g->version != g_vbase + n || size != g->size || size != h_size(n))
    return false;
  for (uint64_t j = 16; j < size; j++)
    if (p[j] != pattern_byte(n, j))
      return false;
  return true;
}

/* An honest read: the right payload, its checksum, versions never go
 * back.  Returns whether the version is new. */
static bool h_read_check(smr_channel_reader *r, uint64_t *last) {
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.version >= *last);
  CHECK(h_good(&g));
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  bool fresh = g.version != *last;
  *last = g.version;
  smr_channel_release(r, &g);
  return fresh;
}

/* stat while the bad reader works on the directory: no crash, sane. */
static void h_stat_check(uint64_t seen_version) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[H_SLOTS];
  size_t nrs = 999;
  CHECK_EQ(smr_channel_stat(g_name, 0, &st, rs, H_SLOTS, &nrs), 0);
  CHECK(st.buffers == H_BUFFERS && st.readers_max == H_SLOTS);
  CHECK(st.version >= seen_version);
  CHECK(st.readers <= H_SLOTS && nrs <= H_SLOTS);
  for (size_t k = 0; k < nrs; k++)
    CHECK(rs[k].slot < H_SLOTS);
}

/* This process's slot: the one alive with our pid, other than `except`
 * (H_SLOTS: none; our readers must be the only ones with our pid). */
static unsigned own_slot_except(unsigned except) {
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[H_SLOTS];
  size_t nrs = 0;
  CHECK_EQ(smr_channel_stat(g_name, 0, &st, rs, H_SLOTS, &nrs), 0);
  CHECK(nrs <= H_SLOTS);
  unsigned found = H_SLOTS;
  for (size_t k = 0; k < nrs; k++)
    if (rs[k].alive && rs[k].pid == getpid() && rs[k].slot != except) {
      CHECK(found == H_SLOTS);
      found = rs[k].slot;
    }
  CHECK(found < H_SLOTS);
  return found;
}

static unsigned own_slot(void) {
  return own_slot_except(H_SLOTS);
}

/* A message through a pipe; end of file: the other side died. */
static void read_full(int fd, void *p, size_t n) {
  ssize_t k = read(fd, p, n);
  if (k == 0)
    fprintf(stderr, "%s: the other side exited before its message\n", g_case);
  CHECK_EQ(k, (ssize_t)n);
}

/* ---- the honest process ---- */

static void honest_main(int go_fd, int ready_fd) {
  if (g_cross)
    become(UID_OTHER);
  else
    die_with_parent();
  char go;
  read_full(go_fd, &go, 1);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(g_name, SMR_CHANNEL_VERIFY, &r), 0);
  uint64_t last = 0;
  unsigned long reads = 1, seen = h_read_check(r, &last);
  unsigned slot = own_slot();
  CHECK_EQ(write(ready_fd, &slot, sizeof slot), (ssize_t)sizeof slot);
  /* relaxed: stop flag (pairs with the writer thread's store); the counters
   * below are read by the parent only for progress and after waitpid. */
  while (!atomic_load_explicit(&g_hs->stop_honest, memory_order_relaxed)) {
    seen += h_read_check(r, &last);
    if ((++reads & 63) == 0) {
      h_stat_check(last);
      /* relaxed: progress counters (see above). */
      atomic_store_explicit(&g_hs->honest_reads, reads, memory_order_relaxed);
      atomic_store_explicit(&g_hs->honest_seen, seen, memory_order_relaxed);
    }
  }
  atomic_store_explicit(&g_hs->honest_reads, reads, memory_order_relaxed);
  atomic_store_explicit(&g_hs->honest_seen, seen, memory_order_relaxed);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  _exit(0);
}

/* ---- the bad reader ---- */

/* (a) The honest readers' slot files, the state and data files and the
 * directory are out of reach: each attempt fails with the errno the
 * permission model gives (a slot file is 0644 of its reader, the directory
 * sticky, the channel files 0644 of the writer). */
static void denied(const char *what, long rc, int want) {
  if (!(rc == -1 && errno == want)) {
    fprintf(stderr, "hostile: %s: rc %ld errno %d (%s), want errno %d\n", what,
            rc, errno, strerror(errno), want);
    CHECK(!"a hostile attempt was not refused");
  }
  /* relaxed: a counter the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->denied, 1, memory_order_relaxed);
}

/* fcntl(cmd) of an OFD lock of `type` on byte 0; fl receives the result. */
static int byte0_lock(int fd, int cmd, short type, struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_len = 1;
  return fcntl(fd, cmd, fl);
}

static void attacks(void) {
  char mine[192], stolen[192];
  slot_path("x-hostile", mine, sizeof mine);
  slot_path("r-stolen", stolen, sizeof stolen);
  int fd = open(mine, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(close(fd), 0);
  bool protected_links = false;
  {
    FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "r");
    int v = 0;
    if (f) {
      protected_links = fscanf(f, "%d", &v) == 1 && v == 1;
      fclose(f);
    }
  }
  for (int k = 0; k < 2; k++) {
    char nm[16], p[192];
    snprintf(nm, sizeof nm, "r%u", g_hslot[k]);
    slot_path(nm, p, sizeof p);
    struct stat before, after;
    CHECK_EQ(lstat(p, &before), 0);
    CHECK(S_ISREG(before.st_mode) && before.st_uid != geteuid());
    CHECK_EQ(before.st_mode & 07777, 0644);
    errno = 0;
    denied("open O_RDWR", open(p, O_RDWR | O_CLOEXEC), EACCES);
    denied("open O_WRONLY|O_TRUNC", open(p, O_WRONLY | O_TRUNC | O_CLOEXEC),
           EACCES);
    denied("truncate", truncate(p, 0), EACCES);
    denied("unlink (sticky)", unlink(p), EPERM);
    denied("rename away (sticky)", rename(p, stolen), EPERM);
    denied("rename over it (sticky)", rename(mine, p), EPERM);
    denied("chmod", chmod(p, 0666), EPERM);
    denied("touch", utimensat(AT_FDCWD, p, NULL, 0), EACCES);
    if (protected_links)
      denied("hard link (protected_hardlinks)", link(p, stolen), EPERM);
    /* Readable: but not writable through a mapping, not lockable for
     * writing, and visibly locked by its live reader. */
    int rfd = open(p, O_RDONLY | O_CLOEXEC);
    CHECK(rfd >= 0);
    void *m = mmap(NULL, SMR__CHANNEL_SLOT_FILE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_SHARED, rfd, 0);
    denied("mmap PROT_WRITE", m == MAP_FAILED ? -1 : 0, EACCES);
    struct flock fl;
    denied("write lock", byte0_lock(rfd, F_OFD_SETLK, F_WRLCK, &fl), EBADF);
    /* A read lock (any reader may take one) conflicts with its owner's. */
    denied("read lock", byte0_lock(rfd, F_OFD_SETLK, F_RDLCK, &fl), EAGAIN);
    CHECK_EQ(byte0_lock(rfd, F_OFD_GETLK, F_RDLCK, &fl), 0);
    CHECK(fl.l_type == F_WRLCK); /* its reader holds it */
    CHECK_EQ(close(rfd), 0);
    CHECK_EQ(lstat(p, &after), 0);
    CHECK(after.st_ino == before.st_ino && after.st_size == before.st_size &&
          after.st_mode == before.st_mode && after.st_uid == before.st_uid);
  }
  char dp[192];
  data_path(0, dp, sizeof dp);
  denied("open state O_RDWR", open(g_state, O_RDWR | O_CLOEXEC), EACCES);
  denied("open the writer lock file", open(g_lock, O_RDONLY | O_CLOEXEC),
         EACCES);
  {
    /* The state file is readable: a read lock on it would only hide the
     * writer from smr_channel_stat; the writer holds it exclusively. */
    int sfd = open(g_state, O_RDONLY | O_CLOEXEC);
    CHECK(sfd >= 0);
    struct flock fl;
    denied("read lock on the state file",
           byte0_lock(sfd, F_OFD_SETLK, F_RDLCK, &fl), EAGAIN);
    CHECK_EQ(close(sfd), 0);
  }
  denied("open data O_RDWR", open(dp, O_RDWR | O_CLOEXEC), EACCES);
  denied("chmod readers directory", chmod(g_readers, 0777), EPERM);
  denied("rename readers directory", rename(g_readers, g_victim),
         EACCES); /* g_dir: 0755 root */
  CHECK_EQ(unlink(mine), 0);
}

struct jentry {
  char path[192];
  bool dir;
};

/* A plausible-looking value for a slot word: pins of the current buffer,
 * of any buffer, out of range, all ones, zero. */
static uint64_t wild(uint64_t *seed, uint64_t cur) {
  uint64_t r = xorshift(seed);
  switch (r & 7) {
  case 0:
    return r;
  case 1:
    return ((r >> 16) << 8) | ((r >> 3) & 0xff);
  case 2:
    return cur;
  case 3:
    return cur - (((r >> 3) & 3) << 8) + ((r >> 5) & 7);
  case 4:
    return 0;
  case 5:
    return UINT64_MAX;
  case 6:
    return 1;
  default:
    return (r >> 3) & 0xffff;
  }
}

static void scribble(volatile uint64_t *word, size_t n, uint64_t *seed,
                     uint64_t cur) {
  for (size_t i = 0; i < n; i++)
    word[i] = wild(seed, cur);
}

/* (c) One junk operation in the readers directory. */
static void junk_op(uint64_t *seed, uint64_t cur, const char *own_path,
                    struct jentry *junk, int *njunk, int *live_fd) {
  uint64_t r = xorshift(seed);
  unsigned j = (unsigned)(r >> 8) % (H_SLOTS + 2);
  char nm[32], p[192];
  switch ((r >> 4) % 9) {
  case 0:
    snprintf(nm, sizeof nm, "r0%u", j);
    break;
  case 1:
    snprintf(nm, sizeof nm, "x%u", j);
    break;
  default:
    snprintf(nm, sizeof nm, "r%u", j);
    break;
  }
  slot_path(nm, p, sizeof p);
  bool dir = false;
  int rc = -1;
  switch (r % 7) {
  case 0:
  case 1: { /* a dead slot file, any size */
    static const uint64_t sizes[] = {0, 40, 64, 100, 4096, 4096};
    uint64_t buf[8];
    scribble(buf, 8, seed, cur);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      uint64_t size = sizes[(r >> 20) % 6];
      CHECK_EQ(pwrite(fd, buf, size < 64 ? size : 64, 0),
               (ssize_t)(size < 64 ? size : 64));
      CHECK_EQ(ftruncate(fd, (off_t)size), 0);
      CHECK_EQ(close(fd), 0);
      rc = 0;
    }
    break;
  }
  case 2:
    rc = mkfifo(p, 0644);
    break;
  case 3:
    rc = mkdir(p, 0755);
    dir = true;
    break;
  case 4:
    rc = symlink((r >> 24) & 1 ? own_path : g_state, p);
    break;
  case 5: /* another name for our own slot file */
    rc = link(own_path, p);
    break;
  default: { /* one live slot file of ours: a real (bogus) pin */
    /* Made as a reader makes it: locked before it is named (a named file
     * nobody locks is dead, and may be removed at once). */
    char tmp[192];
    slot_path("x-live", tmp, sizeof tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    uint64_t buf[8];
    scribble(buf, 8, seed, cur);
    CHECK_EQ(pwrite(fd, buf, 64, 0), 64);
    CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    CHECK_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
    rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, p, RENAME_NOREPLACE);
    if (rc != 0) {
      CHECK_EQ(unlink(tmp), 0);
      CHECK_EQ(close(fd), 0);
      break;
    }
    if (*live_fd >= 0)
      CHECK_EQ(close(*live_fd), 0); /* the previous one dies */
    *live_fd = fd;
    break;
  }
  }
  if (rc != 0)
    return; /* the name exists (an honest reader's, or junk) */
  /* relaxed: a counter the parent reads after waitpid. */
  atomic_fetch_add_explicit(&g_hs->junk, 1, memory_order_relaxed);
  if (*njunk == H_JUNK) { /* forget the oldest: remove it */
    if (junk[0].dir)
      rmdir(junk[0].path);
    else
      unlink(junk[0].path); /* the writer may have removed it: ENOENT */
    memmove(junk, junk + 1, sizeof junk[0] * (H_JUNK - 1));
    (*njunk)--;
  }
  snprintf(junk[*njunk].path, sizeof junk[0].path, "%s", p);
  junk[*njunk].dir = dir;
  (*njunk)++;
}

/* Overflow the writer's directory watch (it must list the directory). */
static void watch_flood(int fd1, int fd2) {
  long max = 0;
  FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
  if (f) {
    if (fscanf(f, "%ld", &max) != 1)
      max = 0;
    fclose(f);
  }
  if (max <= 0 || max > (1l << 20))
    return;
  for (long i = 0; i < max + 1000; i++)
    CHECK_EQ(futimens(i & 1 ? fd1 : fd2, NULL), 0);
}

static void bad_main(int go_fd, int ready_fd) {
  bool hostile = g_hmode == HM_HOSTILE;
  if (hostile && g_cross)
    become(UID_HOSTILE);
  else
    die_with_parent(); /* buggy: the writer's own uid */
  read_full(go_fd, g_hslot, sizeof g_hslot);
  if (hostile && g_cross)
    attacks();
  /* mine: the handle whose slot file we scribble and truncate; mine2 (the
   * hostile's): the one whose file we also link and rename around. */
  smr_channel_reader *mine, *mine2 = NULL;
  CHECK_EQ(smr_channel_reader_open(g_name, 0, &mine), 0);
  char own[192], own2[192], nm[16];
  unsigned slot = own_slot();
  snprintf(nm, sizeof nm, "r%u", slot);
  slot_path(nm, own, sizeof own);
  if (hostile) {
    CHECK_EQ(smr_channel_reader_open(g_name, 0, &mine2), 0);
    snprintf(nm, sizeof nm, "r%u", own_slot_except(slot));
    slot_path(nm, own2, sizeof own2);
  }
  int fd = open(own, O_RDWR | O_CLOEXEC);
  CHECK(fd >= 0);
  struct stat sb;
  CHECK_EQ(fstat(fd, &sb), 0);
  CHECK(sb.st_uid == geteuid() && sb.st_size == SMR__CHANNEL_SLOT_FILE_SIZE);
  volatile uint64_t *m = mmap(NULL, SMR__CHANNEL_SLOT_FILE_SIZE,
                              PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  int sfd = open(g_state, O_RDONLY | O_CLOEXEC);
  CHECK(sfd >= 0);
  struct smr__channel_state *sm =
      mmap(NULL, SMR__CHANNEL_HEADER_SIZE, PROT_READ, MAP_SHARED, sfd, 0);
  CHECK(sm != MAP_FAILED);
  int flood_fd = -1;
  if (hostile) {
    char p[192];
    slot_path("x-flood", p, sizeof p);
    flood_fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(flood_fd >= 0);
  }
  char one = 1;
  CHECK_EQ(write(ready_fd, &one, 1), 1);

  struct jentry junk[H_JUNK];
  int njunk = 0, live_fd = -1;
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  /* Truncating our own file is harmless only to a writer that reads it
   * by pread: one of another uid. */
  bool truncate_own = hostile && g_cross;
  unsigned long pass = 0;
  /* relaxed: stop flag (pairs with the writer thread's store). */
  while (!atomic_load_explicit(&g_hs->stop_bad, memory_order_relaxed)) {
    /* relaxed: a snapshot of the writer's `current`, only used to make
     * plausible-looking pins (no ordering needed). */
    uint64_t cur = atomic_load_explicit(&sm->current, memory_order_relaxed);
    /* Odd passes (of another uid): our file stays cut for the whole pass,
     * to nothing (mostly), to a partial slot, or grown huge (sparse); our
     * mapping and our handle are not touched until its size is back. */
    bool cut = truncate_own && (pass & 1);
    if (cut) {
      static const off_t cuts[] = {0, 0, 40, 1l << 30};
      CHECK_EQ(ftruncate(fd, cuts[(pass / 2) % 4]), 0);
      /* relaxed: a counter the parent reads after waitpid. */
      atomic_fetch_add_explicit(&g_hs->truncs, 1, memory_order_relaxed);
      h_stat_check(0); /* stat reads the cut file too */
    } else {
      if (truncate_own)
        CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
      /* Our own reads: whatever our wild writes did to our slot, the
       * library call works; the bytes are right unless we broke our own
       * pin. */
      smr_channel_guard g;
      CHECK_EQ(smr_channel_read(mine, &g), 0);
      bool good = h_good(&g);
      smr_channel_release(mine, &g);
      /* relaxed: counters the parent reads after waitpid. */
      atomic_fetch_add_explicit(&g_hs->own_reads, 1, memory_order_relaxed);
      if (!good)
        atomic_fetch_add_explicit(&g_hs->own_wrong, 1, memory_order_relaxed);
      /* Wild writes: the whole slot and past it, through our second
       * mapping and through the file. */
      scribble(m, 16, &seed, cur);
      uint64_t w8[8];
      scribble(w8, 8, &seed, cur);
      CHECK_EQ(pwrite(fd, w8, sizeof w8, 0), (ssize_t)sizeof w8);
    }
    if (hostile)
      junk_op(&seed, cur, own2, junk, &njunk, &live_fd);
    if (hostile && pass == 30)
      watch_flood(fd, flood_fd);
    if (hostile && (pass & 15) == 7) {
      /* Move our second file's name to a free slot name (ours to move);
       * its reader keeps its pin and its lock. */
      char to[192];
      snprintf(nm, sizeof nm, "r%u", (unsigned)(xorshift(&seed) % H_SLOTS));
      slot_path(nm, to, sizeof to);
      if (renameat2(AT_FDCWD, own2, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        snprintf(own2, sizeof own2, "%s", to);
      /* ... and read through it: its pin stands. */
      smr_channel_guard g;
      CHECK_EQ(smr_channel_read(mine2, &g), 0);
      smr_channel_release(mine2, &g);
    }
    pass++;
    /* relaxed: progress counter for the writer thread's stop condition. */
    atomic_fetch_add_explicit(&g_hs->passes, 1, memory_order_relaxed);
  }
  CHECK_EQ(ftruncate(fd, SMR__CHANNEL_SLOT_FILE_SIZE), 0);
  munmap((void *)m, SMR__CHANNEL_SLOT_FILE_SIZE);
  munmap(sm, SMR__CHANNEL_HEADER_SIZE);
  CHECK_EQ(close(fd), 0);
  CHECK_EQ(close(sfd), 0);
  /* The junk stays (dead): the writer must cope with what is left. */
  if (live_fd >= 0)
    CHECK_EQ(close(live_fd), 0);
  if (flood_fd >= 0)
    CHECK_EQ(close(flood_fd), 0);
  CHECK_EQ(smr_channel_reader_close(mine), 0);
  CHECK_EQ(smr_channel_reader_close(mine2), 0);
  _exit(0);
}

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

static void bad_reader_case(enum hmode mode) {
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

  /* The honest readers' files were never touched: still theirs (the
   * process closed its reader, which removed its file). */
  {
    struct smr_channel_stat st;
    struct smr_channel_reader_stat rs[H_SLOTS];
    size_t nrs = 0;
    CHECK_EQ(smr_channel_stat(g_name, SMR_CHANNEL_STAT_VERIFY, &st, rs, H_SLOTS,
                              &nrs),
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
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  munmap(g_hs, sizeof *g_hs);
  g_hs = NULL;
  remove_channel_files();
}

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

/* The writer cannot open a new reader's slot file once (no descriptor
 * left: -EMFILE, documented); the reader must not be forgotten: the next
 * publishes find it, and its pinned buffer is never rewritten. */
static void rob_emfile(void) {
  struct smr_channel_options o = {0};
  o.buffers = 3;
  o.timeout_set = true; /* timeout 0 */
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  int rc;
  struct smr_channel_commit_info info;
  for (unsigned char v = 1; v <= 3; v++) {
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
  }
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
  for (unsigned char v = 4; v <= 9; v++) {
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
    unsigned char now = ((const unsigned char *)g.data)[0];
    if (now != 3)
      fprintf(stderr,
              "version %llu went to buffer %u, the buffer a live reader "
              "pins (its guard now reads %u, not 3)\n",
              (unsigned long long)info.version, info.buffer, now);
    CHECK_EQ(now, 3);
  }
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
  struct smr_channel_options o = {0};
  o.buffers = 3;
  o.timeout_set = true;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(g_name, &o, &w), 0);
  int rc;
  struct smr_channel_commit_info info;
  for (unsigned char v = 1; v <= 3; v++) {
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
  }
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
  for (unsigned char v = 4; v <= 9; v++) {
    rob_publish(w, v, &rc, &info);
    CHECK_EQ(rc, 0);
    unsigned char now = ((const unsigned char *)g.data)[0];
    if (now != 3)
      fprintf(stderr,
              "after the overflow, version %llu went to buffer %u under a "
              "live reader's guard (it reads %u, not 3)\n",
              (unsigned long long)info.version, info.buffer, now);
    CHECK_EQ(now, 3);
  }
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

static void robust_cases(void) {
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
    g_case = cases[i].what;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      die_with_parent();
      cases[i].fn();
      _exit(0);
    }
    kid_add(pid);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    kid_done(pid);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
      fprintf(stderr, "case '%s': child %s %d\n", g_case,
              WIFSIGNALED(st) ? "killed by signal" : "exited",
              WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  remove_channel_files();
}

/* Arguments (optional): the sections to run - state readers payload special
 * symlink squat hostile buggy robust; default all. */
int main(int argc, char **argv) {
  snprintf(g_dir, sizeof g_dir, "/dev/shm/smr-corrupt-XXXXXX");
  CHECK(mkdtemp(g_dir) != NULL);
  /* Other users (the hostile reader, the honest process) must reach the
   * channel; nobody but us can create anything here. */
  CHECK_EQ(chmod(g_dir, 0755), 0);
  snprintf(g_name, sizeof g_name, "%s/ch", g_dir);
  snprintf(g_state, sizeof g_state, "%s.smr", g_name);
  snprintf(g_readers, sizeof g_readers, "%s.smr-readers", g_name);
  snprintf(g_lock, sizeof g_lock, "%s.smr-lock", g_name);
  snprintf(g_victim, sizeof g_victim, "%s/victim", g_dir);
  snprintf(g_vdir, sizeof g_vdir, "%s/victim-dir", g_dir);
  snprintf(g_sdir, sizeof g_sdir, "%s/shared", g_dir);
  snprintf(g_sname, sizeof g_sname, "%s/ch", g_sdir);
  snprintf(g_svictim, sizeof g_svictim, "%s/victim", g_sdir);
  g_main_pid = getpid();
  g_root = geteuid() == 0;
  signal(SIGABRT, on_abort);
  if (!g_root)
    fprintf(stderr, "not running as root: the cross-uid cases are skipped "
                    "(CI runs as root)\n");

  if (test_section(argc, argv, "state"))
    state_cases();
  if (test_section(argc, argv, "readers"))
    readers_cases();
  if (test_section(argc, argv, "payload"))
    payload_cases();
  if (test_section(argc, argv, "special"))
    special_file_cases();
  if (test_section(argc, argv, "symlink"))
    symlink_cases();
  if (test_section(argc, argv, "squat"))
    squat_cases();
  if (test_section(argc, argv, "hostile"))
    bad_reader_case(HM_HOSTILE);
  if (test_section(argc, argv, "buggy"))
    bad_reader_case(HM_BUGGY);
  if (test_section(argc, argv, "robust"))
    robust_cases();

  /* A valid channel again, removed by the library: nothing else is left. */
  g_case = "cleanup";
  fresh_channel(3, 8, 0);
  EXPECT_EQ(smr_channel_unlink(g_name), 0);
  EXPECT_EQ(smr_channel_unlink(g_name), -ENOENT);
  EXPECT_EQ(rmdir(g_dir), 0);
  return 0;
}
