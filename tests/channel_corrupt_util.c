/* SPDX-License-Identifier: MIT */
/* Helpers shared by the sections of test_channel_corrupt (channel_corrupt.h):
 * case bookkeeping, paths and raw file access, leak checks, describing a
 * path, payloads, and the checks run on every damaged channel. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "channel_corrupt.h"

/* ---- Case bookkeeping: a failed check names the case ---------------------
 */

const char *g_case = "setup";

bool g_root; /* euid 0: the cross-uid cases run */

void skip_note(const char *what) {
  fprintf(stderr, "SKIPPED (not root; CI runs as root): %s\n", what);
}

/* ---- Paths and raw file access ------------------------------------------ */

char g_dir[64];      /* mkdtemp under /dev/shm, mode 0755 */
char g_name[128];    /* "<dir>/ch" */
char g_state[160];   /* NAME.smr */
char g_readers[160]; /* NAME.smr-readers (a directory) */
char g_lock[160];    /* NAME.smr-lock (the single-writer lock) */
char g_victim[160];  /* symlink target in the symlink cases */
char g_vdir[160];    /* a directory a planted link points to */

void data_path(unsigned i, char *out, size_t n) {
  snprintf(out, n, "%s.smr-data-%u", g_name, i);
}

void slot_path(const char *entry, char *out, size_t n) {
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

void rm_tree(const char *path) {
  rm_at(AT_FDCWD, path, 3);
}

/* On a failed CHECK (abort) the main process kills its children and
 * removes the directory, so a failing run leaves nothing in /dev/shm. */
#define NKIDS 4
pid_t g_main_pid;
static pid_t g_kids[NKIDS];

void kid_add(pid_t pid) {
  for (int i = 0; i < NKIDS; i++)
    if (g_kids[i] == 0) {
      g_kids[i] = pid;
      return;
    }
  CHECK(!"too many children");
}

void kid_done(pid_t pid) {
  for (int i = 0; i < NKIDS; i++)
    if (g_kids[i] == pid)
      g_kids[i] = 0;
}

void on_abort(int sig) {
  if (getpid() == g_main_pid) {
    for (int i = 0; i < NKIDS; i++)
      if (g_kids[i] > 0)
        kill(g_kids[i], SIGKILL);
    rm_tree(g_dir);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void die_with_parent(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != g_main_pid)
    _exit(5);
}

void become(unsigned uid) {
  CHECK_EQ(setgroups(0, NULL), 0);
  CHECK_EQ(setgid((gid_t)uid), 0);
  CHECK_EQ(setuid((uid_t)uid), 0);
  CHECK_EQ(geteuid(), uid);
  die_with_parent();
}

void poke(const char *path, uint64_t off, const void *p, size_t n) {
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0);
  CHECK_EQ(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
  CHECK_EQ(close(fd), 0);
}

void poke32(const char *path, uint64_t off, uint32_t v) {
  poke(path, off, &v, sizeof v);
}

void poke64(const char *path, uint64_t off, uint64_t v) {
  poke(path, off, &v, sizeof v);
}

uint64_t peek64(const char *path, uint64_t off) {
  uint64_t v = 0;
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_EQ(pread(fd, &v, sizeof v, (off_t)off), (ssize_t)sizeof v);
  CHECK_EQ(close(fd), 0);
  return v;
}

uint64_t file_size(const char *path) {
  struct stat st;
  CHECK_EQ(stat(path, &st), 0);
  return (uint64_t)st.st_size;
}

void trunc_to(const char *path, uint64_t len) {
  CHECK_EQ(truncate(path, (off_t)len), 0);
}

unsigned char *slurp(const char *path, size_t *n) {
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

void remove_channel_files(void) {
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

int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n++;
  CHECK_EQ(closedir(d), 0);
  return n;
}

int map_count(void) {
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

char *describe(const char *path) {
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

void expect_same_tree(char *before, const char *path) {
  char *after = describe(path);
  if (strcmp(before, after) != 0)
    fprintf(stderr, "before:\n%safter:\n%s", before, after);
  EXPECT(strcmp(before, after) == 0);
  free(before);
  free(after);
}

/* ---- Payloads ------------------------------------------------------------ */

unsigned char pattern_byte(uint64_t version, uint64_t j) {
  return (unsigned char)(version * 131u + j * 7u + (j >> 9));
}

void fill(unsigned char *b, uint64_t n, uint64_t version) {
  for (uint64_t j = 0; j < n; j++)
    b[j] = pattern_byte(version, j);
}

int matches(const unsigned char *b, uint64_t n, uint64_t version) {
  for (uint64_t j = 0; j < n; j++)
    if (b[j] != pattern_byte(version, j))
      return 0;
  return 1;
}

uint64_t g_cur_version;
uint64_t g_cur_pattern; /* fill() key of the current payload */
unsigned g_cur_index;
unsigned g_buffers, g_slots;

void fresh_channel(unsigned buffers, unsigned slots, unsigned flags) {
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

void cur_data_path(char *out, size_t n) {
  data_path(g_cur_index, out, n);
}

/* ---- The checks run on every damaged channel ----------------------------- */

void check_reader(unsigned flags, int open_err, int read_err, int content,
                  int verify_err) {
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

void check_case(const char *what, int open_err, int read_err, int vread_err,
                int content, int verify_err, int sum, enum takeover tk,
                int tk_also) {
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

void check_bad_header(const char *what, int open_err) {
  check_case(what, open_err, 0, 0, 0, 0, -1, TK_REFUSE, 0);
}

void check_bad_dir(const char *what) {
  check_case(what, -EBADMSG, 0, 0, 0, 0, -1, TK_REFUSE, 0);
}

void check_valid(const char *what) {
  check_case(what, 0, 0, 0, 1, 0, SMR_CHANNEL_CHECKSUM_OK, TK_ANY, 0);
}

void check_bad_current(const char *what) {
  check_case(what, 0, -EBADMSG, -EBADMSG, 0, 0, -1, TK_ANY, -EEXIST);
}

void run_child(const char *what, unsigned uid, unsigned alarm_s,
               void (*fn)(void)) {
  g_case = what;
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (uid != OWN_UID)
      become(uid);
    else
      die_with_parent();
    if (alarm_s)
      alarm(alarm_s);
    fn();
    _exit(0);
  }
  kid_add(pid);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  kid_done(pid);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    char as[32] = "";
    if (uid != OWN_UID)
      snprintf(as, sizeof as, " as uid %u", uid);
    fprintf(stderr, "case '%s': child%s %s %d\n", what, as,
            !WIFSIGNALED(st) ? "exited"
            : alarm_s        ? "killed by signal (SIGALRM = blocked)"
                             : "killed by signal",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
  EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

void run_as(const char *what, unsigned uid, void (*fn)(void)) {
  run_child(what, uid, 0, fn);
}
