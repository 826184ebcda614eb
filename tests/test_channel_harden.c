/* SPDX-License-Identifier: MIT */
/* Channel hardening regressions (smr/channel.h; issue 10, part A).  Sections
 * (the argument; default all):
 *
 *   pread     a reader's slot file the writer reads with pread (not its
 *             own user's, or writable by others) and the pread fails (EIO,
 *             ENOMEM, EINTR): the slot pins every buffer, the publish fails
 *             with that errno and the reader's guarded bytes never change;
 *             a slot its owner truncated pins nothing.  The failure is
 *             injected by wrapping the platform call smr__file_read at link
 *             time (-Wl,--wrap, tests/channel_harden.cmake): nothing in the
 *             library knows about it.
 *   recreate  a state file left by a creation that died (magic 0), mapped
 *             by a reader: the writer that creates the channel again builds
 *             a new inode and renames it into place; the old one is never
 *             truncated or written (no SIGBUS for whoever maps it).
 *   crashlink a writer killed between linking the new state file as
 *             NAME.smr and removing NAME.smr-new (smr__file_unlink wrapped
 *             like smr__file_read): the next writer takes the channel over,
 *             a reader that opened meanwhile reads what it publishes.
 *   errpath   smr_channel_error_path names the file behind the error the last
 *             call returned, never an earlier call's; long paths keep
 *             their last bytes.
 *   longname  channel names whose last component has 200..256 bytes: the
 *             writer, readers, stat and unlink refuse too long ones with
 *             -ENAMETOOLONG before creating anything (no half-made channel
 *             "still being created" forever); shorter ones work end to end.
 *   signal    a signal handler that reads through the handle whose read it
 *             interrupted: the SMR_DEBUG assertion aborts (this file is
 *             compiled with SMR_DEBUG); a handler with its own handle
 *             works. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "channel/layout.h"
#include "channel_util.h"
#include "test_hooks.h"

#ifndef SMR_DEBUG
#error "test_channel_harden is compiled with SMR_DEBUG (the signal section)"
#endif

/* ---- pread fault injection ------------------------------------------------
 * The linker sends the library's calls of smr__file_read here. */
int __real_smr__file_read(int fd, void *buf, size_t len, uint64_t off);
int __wrap_smr__file_read(int fd, void *buf, size_t len, uint64_t off);

static atomic_int g_fail_errno; /* 0: pass through */
static atomic_int g_failed;     /* reads failed on purpose */

int __wrap_smr__file_read(int fd, void *buf, size_t len, uint64_t off) {
  /* relaxed: set and read by this thread only (the writer's). */
  int e = atomic_load_explicit(&g_fail_errno, memory_order_relaxed);
  if (e) {
    atomic_fetch_add_explicit(&g_failed, 1, memory_order_relaxed);
    return -e;
  }
  return __real_smr__file_read(fd, buf, len, off);
}

/* ---- crash injection ------------------------------------------------------
 * The library's calls of smr__file_unlink come here: with g_die_new set,
 * the process dies (as if killed) when it is about to remove NAME.smr-new
 * while NAME.smr exists, i.e. right after linking the new state file into
 * place. */
int __real_smr__file_unlink(const char *path);
int __wrap_smr__file_unlink(const char *path);

static const char *g_die_new; /* the state file's path; NULL: pass through */

int __wrap_smr__file_unlink(const char *path) {
  size_t n = strlen(path), k = sizeof ".smr-new" - 1;
  if (g_die_new && n > k && strcmp(path + n - k, ".smr-new") == 0 &&
      access(g_die_new, F_OK) == 0)
    _exit(0);
  return __real_smr__file_unlink(path);
}

#define PSIZE 4096u

static void publish_v(smr_channel_writer *w, uint64_t v, int want) {
  static unsigned char buf[PSIZE];
  pattern_fill(buf, PSIZE, v);
  struct smr_channel_commit_info info;
  int rc = smr_channel_publish(w, buf, PSIZE, &info);
  if (rc != want)
    fprintf(stderr, "publish of version %llu: %d, expected %d\n",
            (unsigned long long)v, rc, want);
  CHECK_EQ(rc, want);
  if (rc == 0)
    CHECK_EQ(info.version, v);
}

/* The path of the only slot file in the readers directory. */
static void only_slot(const struct test_chan *c, char *out, size_t n) {
  char dir[160];
  snprintf(dir, sizeof dir, "%s.smr-readers", c->name);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int found = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] == 'r') {
      CHECK(strlen(dir) + 1 + strlen(e->d_name) < n);
      snprintf(out, n, "%s/%.*s", dir, 16, e->d_name);
      found++;
    }
  CHECK_EQ(closedir(d), 0);
  CHECK_EQ(found, 1);
}

static void pread_section(void) {
  static const int errs[] = {EIO, ENOMEM, EINTR};
  for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++) {
    struct test_chan c;
    test_chan_init(&c);
    struct smr_channel_options o = {0};
    o.buffers = 2; /* one buffer besides the current: the one pinned */
    o.timeout_ns = k == 0 ? 20000000 : 0; /* the first waits 20 ms */
    o.timeout_set = true;
    smr_channel_writer *w;
    CHECK_EQ(smr_channel_writer_open(c.name, &o, &w), 0);
    publish_v(w, 1, 0);
    smr_channel_reader *r;
    CHECK_EQ(smr_channel_reader_open(c.name, 0, &r), 0);
    /* Writable by others: the writer reads it with pread, never maps it
     * (as it does any other user's slot file). */
    char slot[512];
    only_slot(&c, slot, sizeof slot);
    CHECK_EQ(chmod(slot, 0666), 0);
    smr_channel_guard g;
    CHECK_EQ(smr_channel_read(r, &g), 0);
    CHECK_EQ(g.version, 1);
    publish_v(w, 2, 0); /* into the other buffer */
    /* The next publish needs the buffer the guard holds.  Unreadable slot:
     * pins everything; the publish fails with the read's errno. */
    atomic_store_explicit(&g_fail_errno, errs[k], memory_order_relaxed);
    atomic_store_explicit(&g_failed, 0, memory_order_relaxed);
    publish_v(w, 3, -errs[k]);
    /* The fault was met (the slot was read with pread, not mapped). */
    CHECK(atomic_load_explicit(&g_failed, memory_order_relaxed) > 0);
    CHECK(pattern_check(g.data, g.size, 1));
    publish_v(w, 3, -errs[k]); /* again: the error is not a one-shot */
    CHECK(pattern_check(g.data, g.size, 1));
    atomic_store_explicit(&g_fail_errno, 0, memory_order_relaxed);
    /* Readable again: pinned by a live reader, -EBUSY. */
    publish_v(w, 3, -EBUSY);
    CHECK(pattern_check(g.data, g.size, 1));
    smr_channel_release(r, &g);
    publish_v(w, 3, 0);
    /* A slot file its owner truncated announces nothing (documented: the
     * writer may then reuse the buffer that owner holds). */
    CHECK_EQ(smr_channel_read(r, &g), 0);
    CHECK_EQ(g.version, 3);
    /* (Within the mapped page: the reader's own stores stay valid.) */
    CHECK_EQ(truncate(slot, 32), 0);
    publish_v(w, 4, 0);
    publish_v(w, 5, 0);
    smr_channel_release(r, &g);
    CHECK_EQ(smr_channel_reader_close(r), 0);
    smr_channel_writer_close(w);
    test_chan_done(&c);
  }
}

/* ---- re-creating after a creation that died ------------------------------ */

/* A field no writer uses. */
#define MARK_OFF ((uint64_t)offsetof(struct smr__channel_state, pad3))

static atomic_int g_touch_stop;
static _Atomic(const volatile unsigned char *) g_touch_map;
static uint64_t g_touch_len;

/* A reader process's view: keeps reading the old state file's mapping. */
static void *toucher(void *arg) {
  (void)arg;
  unsigned long sum = 0;
  /* acquire: pairs with the release stores of the mapping below. */
  while (!atomic_load_explicit(&g_touch_stop, memory_order_acquire)) {
    const volatile unsigned char *m =
        atomic_load_explicit(&g_touch_map, memory_order_acquire);
    if (!m)
      continue;
    for (uint64_t i = 0; i < g_touch_len; i += 512)
      sum += m[i];
  }
  return (void *)(uintptr_t)sum;
}

/* A state file as a writer that died while creating leaves it: the right
 * size (or empty: an earlier version of the library), magic 0, and a mark
 * of ours where writers write nothing. */
static int plant_dead_state(const char *path, uint64_t size) {
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  CHECK(fd >= 0);
  if (size) {
    CHECK_EQ(ftruncate(fd, (off_t)size), 0);
    unsigned char mark[64];
    memset(mark, 0xab, sizeof mark);
    CHECK_EQ(pwrite(fd, mark, sizeof mark, (off_t)MARK_OFF),
             (ssize_t)sizeof mark);
  }
  return fd;
}

#define ROUNDS 40

static void recreate_section(void) {
  struct test_chan c;
  test_chan_init(&c);
  char state[160];
  snprintf(state, sizeof state, "%s.smr", c.name);
  uint64_t size = smr__channel_state_size(64);
  g_touch_len = size;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, toucher, NULL), 0);
  void *maps[ROUNDS] = {NULL};
  for (int round = 0; round < ROUNDS; round++) {
    uint64_t planted = round % 8 == 7 ? 0 : size;
    int fd = plant_dead_state(state, planted);
    struct stat old;
    CHECK_EQ(fstat(fd, &old), 0);
    void *m = NULL;
    if (planted) {
      m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
      CHECK(m != MAP_FAILED);
      /* release: the toucher reads it from now on. */
      atomic_store_explicit(&g_touch_map, m, memory_order_release);
    }
    /* A reader sees a channel being created. */
    smr_channel_reader *r;
    CHECK_EQ(smr_channel_reader_open(c.name, 0, &r), -EAGAIN);
    smr_channel_writer *w;
    CHECK_EQ(smr_channel_writer_open(c.name, NULL, &w), 0);
    /* The old inode: not truncated, not written, no longer named. */
    struct stat now;
    CHECK_EQ(fstat(fd, &now), 0);
    CHECK_EQ(now.st_size, old.st_size);
    CHECK_EQ(now.st_nlink, 0);
    CHECK_EQ(stat(state, &now), 0);
    CHECK(now.st_ino != old.st_ino);
    if (planted) {
      const unsigned char *p = m;
      for (unsigned i = 0; i < 64; i++)
        CHECK_EQ(p[MARK_OFF + i], 0xab);
      CHECK_EQ(p[0], 0); /* magic still 0 in the old inode */
    }
    /* The new channel works. */
    publish_v(w, 1, 0);
    CHECK_EQ(smr_channel_reader_open(c.name, SMR_CHANNEL_VERIFY, &r), 0);
    smr_channel_guard g;
    CHECK_EQ(smr_channel_read(r, &g), 0);
    CHECK(pattern_check(g.data, g.size, 1));
    smr_channel_release(r, &g);
    CHECK_EQ(smr_channel_reader_close(r), 0);
    smr_channel_writer_close(w);
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(smr_channel_unlink(c.name), 0);
    maps[round] = m; /* unmapped once the toucher is done */
  }
  atomic_store_explicit(&g_touch_stop, 1, memory_order_release);
  CHECK_EQ(pthread_join(th, NULL), 0);
  for (int round = 0; round < ROUNDS; round++)
    if (maps[round])
      CHECK_EQ(munmap(maps[round], (size_t)size), 0);
  test_chan_done(&c);
}

/* ---- a writer that died naming the state file -----------------------------
 * The state file is built as NAME.smr-new, linked as NAME.smr, then the
 * new name removed.  A writer killed between the two leaves the complete
 * state file with two links; the next writer of the same user must take
 * the channel over (an earlier version refused it with -EEXIST for good:
 * "a second link"), and readers must keep reading it. */
static void crashlink_section(void) {
  struct test_chan c;
  test_chan_init(&c);
  char state[160], nw[160];
  snprintf(state, sizeof state, "%s.smr", c.name);
  snprintf(nw, sizeof nw, "%s.smr-new", c.name);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    g_die_new = state;
    smr_channel_writer *w;
    smr_channel_writer_open(c.name, NULL, &w);
    _exit(3); /* not killed where expected */
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  struct stat a, b;
  CHECK_EQ(stat(state, &a), 0);
  CHECK_EQ(stat(nw, &b), 0);
  CHECK_EQ(a.st_ino, b.st_ino);
  CHECK_EQ(a.st_nlink, 2);
  /* Readers read the complete (empty) channel meanwhile. */
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(c.name, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), -ENODATA);
  smr_channel_writer *w;
  int rc = smr_channel_writer_open(c.name, NULL, &w);
  if (rc != 0)
    fprintf(stderr, "writer_open after the crash: %d (%s)\n", rc,
            smr_channel_error_path());
  CHECK_EQ(rc, 0);
  CHECK_EQ(stat(state, &a), 0);
  CHECK_EQ(a.st_ino, b.st_ino); /* taken over, not created again */
  CHECK_EQ(a.st_nlink, 1);
  CHECK(access(nw, F_OK) != 0);
  publish_v(w, 1, 0);
  CHECK_EQ(smr_channel_read(r, &g), 0); /* the reader that opened before */
  CHECK(pattern_check(g.data, g.size, 1));
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(c.name), 0);
  test_chan_done(&c);
}

/* ---- smr_channel_error_path
 * ---------------------------------------------------- It names the file behind
 * the error the last call returned, never one of an earlier call: a call that
 * fails for a reason no file is behind leaves it empty (an earlier version
 * cleared it only in the two open calls, so an smr_channel_unlink -ENOENT or a
 * -ETIMEDOUT wait after a refused open "named" the refused file).  Long paths
 * keep their last bytes. */

/* A state file that is not one: -EBADMSG naming it. */
static void plant_bad_state(const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s.smr", name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  unsigned char junk[4096];
  memset(junk, 0xff, sizeof junk);
  CHECK_EQ(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
  CHECK_EQ(close(fd), 0);
}

static void refused_open(const char *bad) {
  char want[PATH_MAX];
  snprintf(want, sizeof want, "%s.smr", bad);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(bad, 0, &r), -EBADMSG);
  CHECK(strcmp(smr_channel_error_path(), want) == 0);
}

static void errpath_section(void) {
  struct test_chan c;
  test_chan_init(&c);
  char bad[160], none[160];
  snprintf(bad, sizeof bad, "%s/bad", c.dir);
  snprintf(none, sizeof none, "%s/none", c.dir);
  plant_bad_state(bad);
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(c.name, NULL, &w), 0);
  smr_channel_writer_set_timeout(w, 0);
  publish_v(w, 1, 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(c.name, 0, &r), 0);
  /* Errors no file is behind, each after a refused open. */
  refused_open(bad);
  CHECK_EQ(smr_channel_unlink(none), -ENOENT);
  CHECK_EQ(smr_channel_error_path()[0], '\0');
  refused_open(bad);
  CHECK_EQ(smr_channel_abort(w), -EINVAL);
  CHECK_EQ(smr_channel_error_path()[0], '\0');
  refused_open(bad);
  CHECK_EQ(smr_channel_wait(r, 1, 0), -ETIMEDOUT);
  CHECK_EQ(smr_channel_error_path()[0], '\0');
  refused_open(bad);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(smr_channel_reader_close(r), -EBUSY);
  CHECK_EQ(smr_channel_error_path()[0], '\0');
  smr_channel_release(r, &g);
  /* Every buffer pinned: -EBUSY from begin, no file behind it. */
  smr_channel_reader *pins[3];
  smr_channel_guard pg[3];
  for (unsigned i = 0; i < 3; i++) {
    if (i)
      publish_v(w, 1 + i, 0);
    CHECK_EQ(smr_channel_reader_open(c.name, 0, &pins[i]), 0);
    CHECK_EQ(smr_channel_read(pins[i], &pg[i]), 0);
  }
  refused_open(bad);
  void *buf;
  CHECK_EQ(smr_channel_begin(w, 16, &buf), -EBUSY);
  CHECK_EQ(smr_channel_error_path()[0], '\0');
  /* smr_channel_stat of the bad channel names it. */
  struct smr_channel_stat st;
  CHECK_EQ(smr_channel_stat(bad, 0, &st, NULL, 0, NULL), -EBADMSG);
  char want[PATH_MAX];
  snprintf(want, sizeof want, "%s.smr", bad);
  CHECK(strcmp(smr_channel_error_path(), want) == 0);
  /* A path longer than 255 bytes: "..." and its last 252 bytes. */
  char deep[512];
  snprintf(deep, sizeof deep, "%s/", c.dir);
  size_t n = strlen(deep);
  memset(deep + n, 'd', 240);
  deep[n + 240] = '\0';
  CHECK_EQ(mkdir(deep, 0700), 0);
  char longname[560];
  snprintf(longname, sizeof longname, "%s/x", deep);
  plant_bad_state(longname);
  smr_channel_reader *lr;
  CHECK_EQ(smr_channel_reader_open(longname, 0, &lr), -EBADMSG);
  snprintf(want, sizeof want, "%s.smr", longname);
  const char *got = smr_channel_error_path();
  CHECK_EQ(strlen(got), 255);
  CHECK(strncmp(got, "...", 3) == 0);
  CHECK(strcmp(got + 3, want + strlen(want) - 252) == 0);
  for (unsigned i = 0; i < 3; i++) {
    smr_channel_release(pins[i], &pg[i]);
    CHECK_EQ(smr_channel_reader_close(pins[i]), 0);
  }
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(c.name), 0);
  snprintf(want, sizeof want, "%s.smr", longname);
  CHECK_EQ(unlink(want), 0);
  CHECK_EQ(rmdir(deep), 0);
  snprintf(want, sizeof want, "%s.smr", bad);
  CHECK_EQ(unlink(want), 0);
  test_chan_done(&c);
}

/* ---- long names ------------------------------------------------------------
 */

/* The longest last component smr/channel.h accepts. */
#define NAME_LAST_MAX 218u

/* Number of entries of directory `dir` whose name starts with `start`. */
static int count_entries(const char *dir, const char *start) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strncmp(e->d_name, start, strlen(start)) == 0)
      n++;
  CHECK_EQ(closedir(d), 0);
  return n;
}

/* `name` (last component `len` bytes, starting with `start`, in `dir`):
 * works end to end, or is refused everywhere with -ENAMETOOLONG and
 * leaves nothing behind. */
static void long_name_case(const char *name, size_t len, const char *dir,
                           const char *start) {
  smr_channel_writer *w = NULL;
  smr_channel_reader *r = NULL;
  struct smr_channel_stat st;
  int rc = smr_channel_writer_open(name, NULL, &w);
  if (len > NAME_LAST_MAX) {
    if (rc != -ENAMETOOLONG)
      fprintf(stderr, "last component of %zu bytes: writer_open %d\n", len, rc);
    CHECK_EQ(rc, -ENAMETOOLONG);
    CHECK_EQ(count_entries(dir, start), 0); /* nothing half-made */
    CHECK_EQ(smr_channel_reader_open(name, 0, &r), -ENAMETOOLONG);
    CHECK_EQ(smr_channel_stat(name, 0, &st, NULL, 0, NULL), -ENAMETOOLONG);
    CHECK_EQ(smr_channel_unlink(name), -ENAMETOOLONG);
    return;
  }
  if (rc != 0)
    fprintf(stderr, "last component of %zu bytes: writer_open %d\n", len, rc);
  CHECK_EQ(rc, 0);
  publish_v(w, 1, 0);
  CHECK_EQ(smr_channel_reader_open(name, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(pattern_check(g.data, g.size, 1));
  smr_channel_release(r, &g);
  publish_v(w, 2, 0);
  publish_v(w, 3, 0); /* every buffer used */
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(smr_channel_stat(name, 0, &st, NULL, 0, NULL), 0);
  CHECK_EQ(st.version, 3);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(name), 0);
  CHECK_EQ(count_entries(dir, start), 0);
}

static void longname_section(void) {
  struct test_chan c;
  test_chan_init(&c);
  static const size_t lens[] = {200, 217, 218, 219, 220, 230, 240, 241,
                                242, 243, 244, 245, 246, 247, 248, 249,
                                250, 251, 252, 253, 254, 255, 256, 300};
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    /* A path prefix in our directory. */
    char last[320], name[400];
    memset(last, 'x', lens[k]);
    last[lens[k]] = '\0';
    snprintf(name, sizeof name, "%s/%s", c.dir, last);
    long_name_case(name, lens[k], c.dir, "x");
    /* A bare name in /dev/shm. */
    char start[40];
    snprintf(start, sizeof start, "smr-long-%d-", (int)getpid());
    size_t n = strlen(start);
    memcpy(last, start, n);
    long_name_case(last, lens[k], "/dev/shm", start);
  }
  /* A path of PATH_MAX - 50 bytes (short components): the paths derived
   * from it would pass PATH_MAX. */
  static char deep[PATH_MAX];
  size_t n = (size_t)snprintf(deep, sizeof deep, "%s/", c.dir);
  while (n + 101 < PATH_MAX - 50) {
    memset(deep + n, 'd', 100);
    deep[n + 100] = '/';
    n += 101;
  }
  memset(deep + n, 'c', PATH_MAX - 50 - n);
  deep[PATH_MAX - 50] = '\0';
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(deep, NULL, &w), -ENAMETOOLONG);
  test_chan_done(&c);
}

/* ---- signal handlers --------------------------------------------------------
 */

static smr_channel_reader *g_sig_reader; /* the handle the handler reads */
static volatile sig_atomic_t g_sig_reads;

static void on_usr1(int sig) {
  (void)sig;
  smr_channel_guard g;
  if (smr_channel_read(g_sig_reader, &g) == 0) {
    g_sig_reads++;
    smr_channel_release(g_sig_reader, &g);
  }
}

/* The read slow path calls this between loading the version and announcing
 * it: the signal arrives in the middle of a read. */
static void raise_usr1(smr_channel_reader *r, void *arg) {
  (void)r;
  static bool raised; /* once: the handler's own read comes here too */
  if (!raised && arg == NULL) {
    raised = true;
    raise(SIGUSR1);
  }
}

/* In a child: a read of `outer` interrupted by a handler reading through
 * g_sig_reader. */
static void interrupted_read(const char *name, bool same_handle) {
  smr_channel_reader *outer, *own = NULL;
  CHECK_EQ(smr_channel_reader_open(name, 0, &outer), 0);
  if (!same_handle)
    CHECK_EQ(smr_channel_reader_open(name, 0, &own), 0);
  g_sig_reader = same_handle ? outer : own;
  CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
  smr__channel_set_test_hook(outer, raise_usr1, NULL, false);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(outer, &g), 0);
  CHECK_EQ(g_sig_reads, 1);
  CHECK(pattern_check(g.data, g.size, 1));
  smr_channel_release(outer, &g);
  smr__channel_set_test_hook(outer, NULL, NULL, false);
  CHECK_EQ(smr_channel_reader_close(outer), 0);
  CHECK_EQ(smr_channel_reader_close(own), 0);
}

static int run_child(const char *name, bool same_handle) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The expected abort must not leave a core dump behind. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    interrupted_read(name, same_handle);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  return st;
}

static void signal_section(void) {
  struct test_chan c;
  test_chan_init(&c);
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(c.name, NULL, &w), 0);
  publish_v(w, 1, 0);
  /* Its own handle: fine. */
  int st = run_child(c.name, false);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* The handle it interrupted: the debug assertion stops it. */
  fprintf(stderr, "(an assertion message is expected next)\n");
  st = run_child(c.name, true);
  if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT))
    fprintf(stderr, "child %s %d: the re-entered read was not caught\n",
            WIFSIGNALED(st) ? "killed by signal" : "exited",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  smr_channel_writer_close(w);
  test_chan_done(&c);
}

int main(int argc, char **argv) {
  if (test_section(argc, argv, "pread"))
    pread_section();
  if (test_section(argc, argv, "recreate"))
    recreate_section();
  if (test_section(argc, argv, "crashlink"))
    crashlink_section();
  if (test_section(argc, argv, "errpath"))
    errpath_section();
  if (test_section(argc, argv, "longname"))
    longname_section();
  if (test_section(argc, argv, "signal"))
    signal_section();
  return 0;
}
