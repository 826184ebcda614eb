/* SPDX-License-Identifier: MIT */
/* Channel (smr/channel.h): every call, every bad argument, and the sequential
 * semantics (read before publish, versions, switched flag, growth and
 * shrink, pinned buffers never reused, dead readers reclaimed, takeover,
 * file modes, disk full).  Single process except where a reader must die. */
#include "channel_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static struct test_chan chan;

static smr_channel_writer *open_writer(unsigned buffers, unsigned flags) {
  struct smr_channel_options o = {0};
  o.buffers = buffers;
  o.flags = flags;
  o.timeout_ns = 0;
  o.timeout_set = true;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  return w;
}

/* Publish the pattern of the next version (read from the state). */
static uint64_t publish_pattern(smr_channel_writer *w, uint64_t size) {
  struct smr_channel_stat st;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), 0);
  uint64_t next = st.version + 1;
  void *buf;
  CHECK_EQ(smr_channel_begin(w, size, &buf), 0);
  struct smr_channel_commit_info info;
  pattern_fill(buf, size, next);
  CHECK_EQ(smr_channel_commit(w, size, &info), 0);
  CHECK_EQ(info.bytes, size);
  CHECK_EQ(info.version, next);
  return info.version;
}

static void test_bad_arguments(void) {
  smr_channel_writer *w;
  smr_channel_reader *r;
  struct smr_channel_options o = {0};
  CHECK_EQ(smr_channel_writer_open(NULL, NULL, &w), -EINVAL);
  CHECK_EQ(smr_channel_writer_open("", NULL, &w), -EINVAL);
  CHECK_EQ(smr_channel_writer_open("x/", NULL, &w), -EINVAL);
  CHECK_EQ(smr_channel_writer_open(chan.name, NULL, NULL), -EINVAL);
  o.buffers = 1;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  o.buffers = SMR_CHANNEL_MAX_BUFFERS + 1;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  o.buffers = 0;
  o.readers = SMR_CHANNEL_MAX_READERS + 1;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  o.readers = 0;
  /* Unknown bits, and the reader's and stat's flags, which once shared the
   * option flags' values and were taken for them. */
  unsigned bad_options[] = {0x1u, 0x1000u, SMR_CHANNEL_VERIFY,
                            SMR_CHANNEL_STAT_VERIFY,
                            0x20u /* SMR_SWAP_SYMMETRIC */};
  for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
    o.flags = bad_options[i];
    CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  }
  o.flags = 0;
  o.mode = 010000;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), -ENOENT);
  CHECK_EQ(smr_channel_reader_open(NULL, 0, &r), -EINVAL);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, NULL), -EINVAL);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0x80, &r), -EINVAL);
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_DURABLE, &r),
           -EINVAL);
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_STAT_VERIFY, &r),
           -EINVAL);
  CHECK_EQ(smr_channel_unlink(chan.name), -ENOENT);
  struct smr_channel_stat st;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), -ENOENT);
  CHECK_EQ(smr_channel_stat(chan.name, 0, NULL, NULL, 0, NULL), -EINVAL);
  CHECK_EQ(smr_channel_stat(chan.name, SMR_CHANNEL_VERIFY, &st, NULL, 0, NULL),
           -EINVAL);
  CHECK_EQ(smr_channel_stat(chan.name, SMR_CHANNEL_DURABLE, &st, NULL, 0, NULL),
           -EINVAL);
  CHECK_EQ(smr_channel_begin(NULL, 1, (void **)&w), -EINVAL);
  CHECK_EQ(smr_channel_commit(NULL, 0, NULL), -EINVAL);
  CHECK_EQ(smr_channel_abort(NULL), -EINVAL);
  CHECK_EQ(smr_channel_publish(NULL, "", 0, NULL), -EINVAL);
  CHECK_EQ(smr_channel_reader_close(NULL), 0);
  CHECK_EQ(smr_channel_writer_close(NULL), 0);
  CHECK_EQ(smr_channel_writer_set_timeout(NULL, 0), -EINVAL);
  CHECK_EQ(smr_channel_wait(NULL, 0, 0), -EINVAL);
  CHECK_EQ(smr_channel_version(NULL), 0);
  CHECK(strlen(smr_strerror(-ENODATA)) > 0);
  CHECK(strlen(smr_strerror(-EBADMSG)) > 0);
}

static void test_sequential(void) {
  smr_channel_writer *w = open_writer(3, 0);
  smr_channel_writer *w2;
  CHECK_EQ(smr_channel_writer_open(chan.name, NULL, &w2), -EBUSY);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &r), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), -ENODATA);
  CHECK_EQ(smr_channel_version(r), 0);
  CHECK_EQ(smr_channel_wait(r, 0, 0), -ETIMEDOUT);

  struct smr_channel_commit_info info;
  CHECK_EQ(smr_channel_publish(w, "hello", 5, &info), 0);
  CHECK_EQ(info.version, 1);
  CHECK_EQ(info.bytes, 5);
  CHECK_EQ(smr_channel_version(r), 1);
  CHECK_EQ(smr_channel_wait(r, 0, 0), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.size == 5 && memcmp(g.data, "hello", 5) == 0);
  CHECK_EQ(g.version, 1);
  CHECK(g.switched);
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  /* One guard per handle. */
  smr_channel_guard g2;
  CHECK_EQ(smr_channel_read(r, &g2), -EBUSY);
  CHECK_EQ(smr_channel_reader_close(r), -EBUSY);
  CHECK_EQ(smr_channel_wait(r, 0, 0), -EBUSY);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_verify(r, &g), -EINVAL);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(!g.switched);
  CHECK_EQ(g.version, 1);
  smr_channel_release(r, &g);

  CHECK_EQ(smr_channel_publish(w, "world!!", 7, NULL), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.size == 7 && memcmp(g.data, "world!!", 7) == 0);
  CHECK_EQ(g.version, 2);
  CHECK(g.switched);
  smr_channel_release(r, &g);

  /* Build in place, commit fewer bytes than reserved. */
  void *buf;
  CHECK_EQ(smr_channel_begin(w, 100, &buf), 0);
  CHECK_EQ(smr_channel_begin(w, 100, &buf), -EBUSY);
  memset(buf, 'x', 100);
  CHECK_EQ(smr_channel_commit(w, 101, NULL), -EINVAL);
  CHECK_EQ(smr_channel_commit(w, 50, &info), 0);
  CHECK_EQ(info.version, 3);
  CHECK_EQ(smr_channel_commit(w, 50, NULL), -EINVAL);
  CHECK_EQ(smr_channel_abort(w), -EINVAL);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(g.size, 50);
  CHECK(((const char *)g.data)[49] == 'x');
  smr_channel_release(r, &g);
  /* Abort publishes nothing. */
  CHECK_EQ(smr_channel_begin(w, 10, &buf), 0);
  CHECK_EQ(smr_channel_abort(w), 0);
  CHECK_EQ(smr_channel_version(r), 3);
  /* Empty payload. */
  CHECK_EQ(smr_channel_publish(w, NULL, 0, &info), 0);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.size == 0 && g.data != NULL && g.version == 4);
  CHECK_EQ(smr_channel_verify(r, &g), 0);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_publish(w, NULL, 1, NULL), -EINVAL);

  /* Growth and shrink, across every buffer several times. */
  static const uint64_t sizes[] = {1 << 20, 10, 8 << 20, 100,      3 << 20,
                                   1,       0,  4096,    12 << 20, 7};
  uint8_t *src = malloc(12 << 20);
  CHECK(src);
  for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint64_t v = smr_channel_version(r) + 1;
    pattern_fill(src, sizes[k], v);
    CHECK_EQ(smr_channel_publish(w, src, sizes[k], &info), 0);
    CHECK_EQ(info.version, v);
    CHECK_EQ(smr_channel_read(r, &g), 0);
    CHECK_EQ(g.size, sizes[k]);
    CHECK_EQ(g.version, v);
    CHECK(pattern_check(g.data, g.size, v));
    CHECK_EQ(smr_channel_verify(r, &g), 0);
    smr_channel_release(r, &g);
  }
  free(src);
  /* Versions keep increasing by one per publish. */
  uint64_t before = smr_channel_version(r);
  for (int i = 0; i < 100; i++)
    CHECK_EQ(smr_channel_publish(w, &i, sizeof i, NULL), 0);
  CHECK_EQ(smr_channel_version(r), before + 100);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* Guards pin their buffer: the writer never reuses it, and says -EBUSY
 * when every non-current buffer is pinned (timeout 0, then a short one). */
static void test_pinned_buffers(void) {
  smr_channel_writer *w = open_writer(3, 0);
  smr_channel_reader *a, *b;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &a), 0);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &b), 0);
  smr_channel_guard ga, gb, g;
  uint64_t va = publish_pattern(w, 5000);
  CHECK_EQ(smr_channel_read(a, &ga), 0);
  uint64_t vb = publish_pattern(w, 7000);
  CHECK_EQ(smr_channel_read(b, &gb), 0);
  CHECK_EQ(ga.version, va);
  CHECK_EQ(gb.version, vb);
  publish_pattern(w, 9000); /* the third buffer */
  void *buf;
  CHECK_EQ(smr_channel_begin(w, 10, &buf), -EBUSY);
  smr_channel_writer_set_timeout(w, 20000000); /* waits 20 ms, then gives up */
  struct smr_channel_commit_info info;
  CHECK_EQ(smr_channel_publish(w, "z", 1, &info), -EBUSY);
  CHECK(pattern_check(ga.data, ga.size, va));
  CHECK(pattern_check(gb.data, gb.size, vb));
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[4];
  size_t n;
  CHECK_EQ(smr_channel_stat(chan.name, SMR_CHANNEL_STAT_VERIFY, &st, rs, 4, &n),
           0);
  CHECK_EQ(n, 2);
  CHECK_EQ(st.readers, 2);
  CHECK_EQ(st.version, va + 2);
  CHECK_EQ(st.checksum, SMR_CHANNEL_CHECKSUM_OK);
  CHECK(st.writer_alive);
  CHECK_EQ(st.writer_pid, getpid());
  unsigned pinned = 0;
  for (unsigned i = 0; i < st.buffers; i++)
    pinned += st.buffer[i].pinned;
  CHECK_EQ(pinned, 2);
  for (size_t i = 0; i < n; i++) {
    CHECK(rs[i].alive);
    CHECK_EQ(rs[i].pid, getpid());
    CHECK(rs[i].pinned_version == va || rs[i].pinned_version == vb);
    CHECK_EQ(rs[i].lag, st.version - rs[i].pinned_version);
  }
  smr_channel_release(a, &ga);
  smr_channel_writer_set_timeout(w, 0);
  uint64_t v = publish_pattern(w, 11);
  CHECK_EQ(smr_channel_read(a, &g), 0);
  CHECK(g.version == v && pattern_check(g.data, g.size, v));
  smr_channel_release(a, &g);
  /* b still pins vb, intact. */
  CHECK(pattern_check(gb.data, gb.size, vb));
  smr_channel_release(b, &gb);
  CHECK_EQ(smr_channel_reader_close(a), 0);
  CHECK_EQ(smr_channel_reader_close(b), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* The writer waits for a live reader and is woken by its release. */
struct waker {
  smr_channel_reader *r;
  smr_channel_guard g;
  pthread_barrier_t bar;
};

static void *release_later(void *arg) {
  struct waker *k = arg;
  pthread_barrier_wait(&k->bar); /* the writer is about to wait */
  smr_channel_release(k->r, &k->g);
  return NULL;
}

static void test_writer_waits(void) {
  smr_channel_writer *w = open_writer(2, 0);
  struct waker k;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &k.r), 0);
  uint64_t v1 = publish_pattern(w, 100);
  CHECK_EQ(smr_channel_read(k.r, &k.g), 0);
  publish_pattern(w, 100); /* buffer 2; the reader pins buffer 1 */
  pthread_barrier_init(&k.bar, NULL, 2);
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, release_later, &k), 0);
  smr_channel_writer_set_timeout(w,
                                 60ll * 1000000000); /* far beyond the test */
  pthread_barrier_wait(&k.bar);
  /* Either the release already happened or the futex wakes us. */
  uint64_t v3 = publish_pattern(w, 100);
  CHECK_EQ(v3, v1 + 2);
  pthread_join(t, NULL);
  pthread_barrier_destroy(&k.bar);
  CHECK_EQ(smr_channel_reader_close(k.r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* smr_channel_wait wakes on a publish from another thread. */
static void *wait_thread(void *arg) {
  smr_channel_reader *r = arg;
  return (void *)(intptr_t)smr_channel_wait(r, 1, 60ll * 1000000000);
}

static void test_wait(void) {
  smr_channel_writer *w = open_writer(3, 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_publish(w, "a", 1, NULL), 0);
  CHECK_EQ(smr_channel_wait(r, 1, 1000000), -ETIMEDOUT);
  CHECK_EQ(smr_channel_wait(r, 0, -1), 0); /* already newer */
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, wait_thread, r), 0);
  CHECK_EQ(smr_channel_publish(w, "b", 1, NULL), 0);
  void *res;
  pthread_join(t, &res);
  CHECK_EQ((intptr_t)res, 0);
  /* An unlinked channel says so instead of waiting in vain. */
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  CHECK_EQ(smr_channel_wait(r, 2, 0), -ESTALE);
  CHECK_EQ(smr_channel_reader_close(r), 0);
}

/* A reader waiting with no timeout learns that the channel was removed
 * (within a wait slice) instead of blocking forever. */
static void test_wait_forever_unlinked(void) {
  smr_channel_writer *w = open_writer(2, 0);
  CHECK_EQ(smr_channel_publish(w, "a", 1, NULL), 0);
  int go[2];
  CHECK_EQ(pipe(go), 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    smr_channel_reader *r;
    char c = 'x';
    if (smr_channel_reader_open(chan.name, 0, &r) != 0 ||
        write(go[1], &c, 1) != 1)
      _exit(1);
    _exit(smr_channel_wait(r, 1, -1) == -ESTALE ? 0 : 2);
  }
  char c;
  CHECK_EQ(read(go[0], &c, 1), 1); /* the child's handle is open */
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(go[0]);
  close(go[1]);
}

/* A zero-byte payload's view is aligned like any other. */
static void test_empty_aligned(void) {
  smr_channel_writer *w = open_writer(2, 0);
  CHECK_EQ(smr_channel_publish(w, NULL, 0, NULL), 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK_EQ(g.size, 0);
  CHECK_EQ((uintptr_t)g.data % 8, 0);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* Slot files in the readers directory: how many, each 0644 and named r<i>
 * with i < slots (temporary names must not linger). */
static unsigned slot_files(unsigned slots) {
  char path[160];
  snprintf(path, sizeof path, "%s.smr-readers", chan.name);
  DIR *d = opendir(path);
  CHECK(d);
  unsigned n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    unsigned i;
    char extra;
    CHECK(sscanf(de->d_name, "r%u%c", &i, &extra) == 1 && i < slots);
    struct stat sb;
    CHECK_EQ(fstatat(dirfd(d), de->d_name, &sb, 0), 0);
    CHECK_EQ(sb.st_mode & 07777, 0644);
    CHECK_EQ(sb.st_size, 4096);
    n++;
  }
  closedir(d);
  return n;
}

/* A reader killed while pinning a buffer: the writer reclaims its slot at
 * once and does not wait (timeout 0). */
static void test_dead_reader(void) {
  smr_channel_writer *w = open_writer(2, 0);
  uint64_t v1 = publish_pattern(w, 4096);
  int pfd[2];
  CHECK_EQ(pipe(pfd), 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    smr_channel_reader *r;
    smr_channel_guard g;
    if (smr_channel_reader_open(chan.name, 0, &r) != 0 ||
        smr_channel_read(r, &g))
      _exit(1);
    char c = g.version == v1 ? 'p' : 'x';
    if (write(pfd[1], &c, 1) != 1)
      _exit(1);
    for (;;)
      pause(); /* pinned until killed */
  }
  char c;
  CHECK_EQ(read(pfd[0], &c, 1), 1);
  CHECK_EQ(c, 'p');
  struct smr_channel_stat st;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), 0);
  CHECK_EQ(st.readers, 1);
  publish_pattern(w, 4096); /* the other buffer */
  void *buf;
  CHECK_EQ(smr_channel_begin(w, 1, &buf), -EBUSY); /* live reader pins it */
  CHECK_EQ(kill(pid, SIGKILL), 0);
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  struct smr_channel_commit_info info;
  CHECK_EQ(smr_channel_publish(w, "q", 1, &info), 0);
  CHECK_EQ(info.dead_reclaimed, 1);
  CHECK_EQ(info.buffer, 0);
  CHECK_EQ(slot_files(64), 0); /* the dead reader's file is removed */
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), 0);
  CHECK_EQ(st.readers, 0);
  CHECK_EQ(st.dead_reclaimed, 1);
  close(pfd[0]);
  close(pfd[1]);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* A new writer continues the versions; the old payload stays readable. */
static void test_takeover(void) {
  smr_channel_writer *w = open_writer(4, 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &r), 0);
  uint64_t v = 0;
  for (int i = 0; i < 5; i++)
    v = publish_pattern(w, 1000 + (uint64_t)i);
  CHECK_EQ(smr_channel_unlink(chan.name), -EBUSY);
  smr_channel_writer_close(w);
  struct smr_channel_stat st;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), 0);
  CHECK(!st.writer_alive);
  CHECK_EQ(st.publishes, 5);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.version == v && pattern_check(g.data, g.size, v));
  smr_channel_release(r, &g);
  /* Options other than the timeout are ignored on takeover. */
  w = open_writer(2, SMR_CHANNEL_NO_CHECKSUM);
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL), 0);
  CHECK_EQ(st.buffers, 4);
  CHECK(st.writer_alive);
  uint64_t v2 = publish_pattern(w, 77);
  CHECK_EQ(v2, v + 1);
  CHECK_EQ(smr_channel_read(r, &g), 0);
  CHECK(g.version == v2 && pattern_check(g.data, g.size, v2));
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), -ENOENT);
}

/* A child forked while the writer is open (it inherits the lock's open file
 * description) does not keep the channel locked after the parent closes. */
static void test_writer_fork(void) {
  smr_channel_writer *w = open_writer(2, 0);
  int pfd[2];
  CHECK_EQ(pipe(pfd), 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char c;
    close(pfd[1]);
    _exit(read(pfd[0], &c, 1) == 0 ? 0 : 1); /* until the parent is done */
  }
  close(pfd[0]);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_writer_open(chan.name, NULL, &w), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  close(pfd[1]);
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A handle of a channel that was unlinked and created again under the same
 * name must not read the new channel's data file as if it were its own. */
static void test_recreated(void) {
  smr_channel_writer *w = open_writer(2, 0);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(smr_channel_publish(w, "one", 3, NULL), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0); /* maps data file 0 only */
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_publish(w, "two", 3, NULL), 0); /* data file 1 */
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  w = open_writer(2, 0);
  CHECK_EQ(smr_channel_publish(w, "new", 3, NULL), 0);
  CHECK_EQ(smr_channel_publish(w, "NEW", 3, NULL), 0); /* new data file 1 */
  CHECK_EQ(smr_channel_read(r, &g), -ESTALE);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

static unsigned file_mode(const char *suffix) {
  char path[160];
  struct stat sb;
  snprintf(path, sizeof path, "%s%s", chan.name, suffix);
  CHECK_EQ(stat(path, &sb), 0);
  return sb.st_mode & 07777;
}

/* Modes: through the umask by default, exact with NO_UMASK; readers map
 * the writer's files read-only. */
static void test_modes(void) {
  mode_t old = umask(022);
  smr_channel_writer *w = open_writer(2, 0);
  CHECK_EQ(smr_channel_publish(w, "m", 1, NULL), 0);
  CHECK_EQ(file_mode(".smr"), 0644);
  CHECK_EQ(file_mode(".smr-readers"), 01755);
  CHECK_EQ(file_mode(".smr-data-0"), 0644);
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(r, &g), 0);
  /* The payload's mapping is read-only in the reader. */
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f);
  char line[512];
  int found = 0;
  uintptr_t a = (uintptr_t)g.data;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo &&
        a < hi && strstr(line, ".smr-data-")) {
      found = 1;
      CHECK(perms[1] == '-');
    }
  }
  fclose(f);
  CHECK(found);
  smr_channel_release(r, &g);
  CHECK_EQ(smr_channel_reader_close(r), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);

  struct smr_channel_options o = {0};
  o.flags = SMR_CHANNEL_NO_UMASK;
  o.mode = 0640;
  o.reader_mode = 0660;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  CHECK_EQ(smr_channel_publish(w, "m", 1, NULL), 0);
  CHECK_EQ(file_mode(".smr"), 0640);
  CHECK_EQ(file_mode(".smr-readers"), 01770);
  CHECK_EQ(file_mode(".smr-data-0"), 0640);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  umask(old);
}

static unsigned file_group(const char *suffix) {
  char path[160];
  struct stat sb;
  snprintf(path, sizeof path, "%s%s", chan.name, suffix);
  CHECK_EQ(stat(path, &sb), 0);
  return (unsigned)sb.st_gid;
}

/* The group option: every file and the readers directory the writer creates
 * get that group (with the exact modes: a chown may clear bits); a group
 * the writer may not use is refused, naming the file, and (unsigned)-1 is
 * not a group.  Root can give files to any group (65534 here); others use
 * their own group, and are refused one they are not in (when there is
 * one). */
static void test_group(void) {
  smr_channel_writer *w;
  struct smr_channel_options o = {0};
  o.group_set = true;
  o.gid = (unsigned)-1;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EINVAL);
  o.flags = SMR_CHANNEL_NO_UMASK;
  o.mode = 0640;
  o.reader_mode = 0660;
  o.gid = geteuid() == 0 ? 65534u : (unsigned)getegid();
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  CHECK_EQ(smr_channel_publish(w, "g", 1, NULL), 0);
  const char *names[] = {".smr", ".smr-readers", ".smr-data-0", ".smr-data-1"};
  for (unsigned i = 0; i < 4; i++)
    CHECK_EQ(file_group(names[i]), o.gid);
  CHECK_EQ(file_mode(".smr"), 0640);
  CHECK_EQ(file_mode(".smr-readers"), 01770);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  /* A group implies the exact modes: each file is created for its owner
   * alone, then given the group, then the mode, whatever the umask. */
  mode_t old = umask(077);
  o.flags = 0;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  for (unsigned i = 0; i < 4; i++)
    CHECK_EQ(file_group(names[i]), o.gid);
  CHECK_EQ(file_mode(".smr"), 0640);
  CHECK_EQ(file_mode(".smr-data-0"), 0640);
  CHECK_EQ(file_mode(".smr-readers"), 01770);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  /* A group with the default modes: the group's (0640, readers directory
   * 01770), never the world-writable 01777 of an exact 0666. */
  struct smr_channel_options og = {0};
  og.group_set = true;
  og.gid = o.gid;
  CHECK_EQ(smr_channel_writer_open(chan.name, &og, &w), 0);
  CHECK_EQ(file_mode(".smr"), 0640);
  CHECK_EQ(file_mode(".smr-readers"), 01770);
  CHECK_EQ(smr_channel_publish(w, "g", 1, NULL), 0);
  smr_channel_writer_close(w);
  /* A takeover that re-creates a missing data file gives it the channel's
   * group and mode, not this open's defaults. */
  char path[160];
  snprintf(path, sizeof path, "%s.smr-data-2", chan.name);
  CHECK_EQ(unlink(path), 0);
  CHECK_EQ(smr_channel_writer_open(chan.name, NULL, &w), 0);
  CHECK_EQ(file_group(".smr-data-2"), o.gid);
  CHECK_EQ(file_mode(".smr-data-2"), 0640);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  umask(old);
  if (geteuid() != 0) {
    /* A group this user is not in: the first one of 1..65533 not ours. */
    gid_t mine[256];
    int n = getgroups(256, mine);
    unsigned other = 0;
    for (unsigned g = 1; g < 65534 && !other; g++) {
      bool in = g == (unsigned)getegid();
      for (int i = 0; i < n && !in; i++)
        in = (unsigned)mine[i] == g;
      if (!in)
        other = g;
    }
    o.gid = other;
    CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), -EPERM);
    CHECK(smr_channel_error_path() != NULL);
    /* Nothing left behind: every name it made is gone again. */
    struct stat sb;
    const char *all[] = {".smr", ".smr-lock", ".smr-readers", ".smr-new",
                         ".smr-data-0"};
    for (unsigned i = 0; i < 5; i++) {
      snprintf(path, sizeof path, "%s%s", chan.name, all[i]);
      CHECK(lstat(path, &sb) != 0);
    }
  }
}

/* Out of space: an error at begin, never a SIGBUS later. */
static void test_no_space(void) {
  smr_channel_writer *w = open_writer(2, 0);
  void *buf;
  CHECK_EQ(smr_channel_begin(w, SMR_CHANNEL_MAX_PAYLOAD + 1, &buf), -EFBIG);
  /* 2^39 bytes: more than this tmpfs holds (or allowed: then it works). */
  int r = smr_channel_begin(w, 1ull << 39, &buf);
  CHECK(r == -ENOSPC || r == -EFBIG || r == -ENOMEM || r == 0);
  if (r == 0)
    CHECK_EQ(smr_channel_abort(w), 0);
  CHECK_EQ(smr_channel_publish(w, "ok", 2, NULL), 0);
  /* A file size limit in a child (SIGXFSZ would kill it if we let the
   * kernel send it). */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {1 << 20, 1 << 20};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(2);
    smr_channel_writer *cw;
    smr_channel_writer_close(w); /* the parent's handle: not ours to use */
    if (smr_channel_writer_open(chan.name, NULL, &cw) != -EBUSY)
      _exit(3);
    _exit(0);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  smr_channel_writer_close(w);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {1 << 20, 1 << 20};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(2);
    smr_channel_writer *cw;
    if (smr_channel_writer_open(chan.name, NULL, &cw) != 0)
      _exit(3);
    if (smr_channel_begin(cw, 2 << 20, &buf) != -EFBIG)
      _exit(4);
    if (smr_channel_publish(cw, "small", 5, NULL) != 0)
      _exit(5);
    smr_channel_writer_close(cw);
    _exit(0);
  }
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  smr_channel_reader *rd;
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &rd), 0);
  smr_channel_guard g;
  CHECK_EQ(smr_channel_read(rd, &g), 0);
  CHECK(g.size == 5 && memcmp(g.data, "small", 5) == 0);
  smr_channel_release(rd, &g);
  CHECK_EQ(smr_channel_reader_close(rd), 0);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* A reader killed while it pinned nothing leaves its slot file; a new
 * reader that needs the name removes it (its lock is free). */
static void test_dead_slot_reused(void) {
  struct smr_channel_options o = {0};
  o.readers = 1;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    smr_channel_reader *r;
    _exit(smr_channel_reader_open(chan.name, 0, &r) == 0 ? 0 : 1);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_EQ(slot_files(1), 1); /* exited without closing */
  smr_channel_reader *r;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &r), 0);
  CHECK_EQ(slot_files(1), 1);
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[2];
  size_t n;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, rs, 2, &n), 0);
  CHECK_EQ(n, 1);
  CHECK(rs[0].alive);
  CHECK_EQ(rs[0].pid, getpid());
  CHECK_EQ(smr_channel_reader_close(r), 0);
  CHECK_EQ(slot_files(1), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* The reader table is finite: -EUSERS, and a closed slot is reused. */
static void test_reader_table_full(void) {
  struct smr_channel_options o = {0};
  o.readers = 2;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  smr_channel_reader *a, *b, *c;
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &a), 0);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &b), 0);
  CHECK_EQ(slot_files(2), 2);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &c), -EUSERS);
  CHECK_EQ(slot_files(2), 2); /* the refused one left nothing behind */
  CHECK_EQ(smr_channel_reader_close(a), 0);
  CHECK_EQ(slot_files(2), 1);
  CHECK_EQ(smr_channel_reader_open(chan.name, 0, &c), 0);
  CHECK_EQ(smr_channel_reader_close(b), 0);
  CHECK_EQ(smr_channel_reader_close(c), 0);
  CHECK_EQ(slot_files(2), 0);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
}

/* Durable and checksum-free channels work the same way. */
static void test_flags(void) {
  unsigned fl[] = {SMR_CHANNEL_DURABLE, SMR_CHANNEL_NO_CHECKSUM,
                   SMR_CHANNEL_SYMMETRIC};
  for (unsigned k = 0; k < 3; k++) {
    smr_channel_writer *w = open_writer(3, fl[k]);
    smr_channel_reader *r;
    CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &r), 0);
    for (int i = 0; i < 10; i++) {
      uint64_t v = publish_pattern(w, 3000 + (uint64_t)i);
      smr_channel_guard g;
      CHECK_EQ(smr_channel_read(r, &g), 0);
      CHECK(g.version == v && pattern_check(g.data, g.size, v));
      CHECK_EQ(smr_channel_verify(r, &g),
               fl[k] == SMR_CHANNEL_NO_CHECKSUM ? -ENOTSUP : 0);
      smr_channel_release(r, &g);
    }
    struct smr_channel_stat st;
    CHECK_EQ(smr_channel_stat(chan.name, SMR_CHANNEL_STAT_VERIFY, &st, NULL, 0,
                              NULL),
             0);
    /* SMR_FENCE=symmetric in the environment adds the symmetric flag. */
    CHECK_EQ(st.flags & ~SMR_CHANNEL_SYMMETRIC, fl[k] & ~SMR_CHANNEL_SYMMETRIC);
    CHECK(!(fl[k] & SMR_CHANNEL_SYMMETRIC) ||
          (st.flags & SMR_CHANNEL_SYMMETRIC));
    CHECK_EQ(st.checksum, fl[k] == SMR_CHANNEL_NO_CHECKSUM
                              ? SMR_CHANNEL_CHECKSUM_NONE
                              : SMR_CHANNEL_CHECKSUM_OK);
    CHECK_EQ(smr_channel_reader_close(r), 0);
    smr_channel_writer_close(w);
    CHECK_EQ(smr_channel_unlink(chan.name), 0);
  }
}

int main(void) {
  test_chan_init(&chan);
  test_bad_arguments();
  test_sequential();
  test_pinned_buffers();
  test_writer_waits();
  test_wait();
  test_dead_reader();
  test_takeover();
  test_writer_fork();
  test_recreated();
  test_modes();
  test_group();
  test_no_space();
  test_reader_table_full();
  test_dead_slot_reused();
  test_wait_forever_unlinked();
  test_empty_aligned();
  test_flags();
  test_chan_done(&chan);
  printf("test_channel: ok\n");
  return 0;
}
