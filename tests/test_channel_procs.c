/* SPDX-License-Identifier: MIT */
/* Channel tests across processes (fork), bounded in time.
 *
 *   verify        N reader processes check every payload they read (content
 *                 pattern and checksum, versions never go back) while the
 *                 writer publishes continuously, sizes growing and shrinking
 *   kill-readers  reader processes killed with SIGKILL at random points,
 *                 200 times (SMR_CHANNEL_KILLS): the writer never waits for a
 *                 dead reader (timeout 0 with K = readers + 2 buffers, so
 *                 only a dead reader could make it fail), slots are
 *                 reclaimed, no reader sees a torn payload
 *   kill-writer   the writer killed with SIGKILL mid-publish, 100 times:
 *                 readers keep reading the last complete version, a new
 *                 writer takes over and the versions continue
 *   slow-reader   a live reader stays inside a read for longer than the
 *                 writer's timeout, repeatedly: its payload stays intact
 *   window        a reader stopped between loading the version and
 *                 announcing it (test hook) while the writer publishes
 *                 several times: it must not read the reused buffer; the
 *                 same run with re-validation switched off must see the
 *                 reused buffer (so the test can fail)
 */
#include "channel_util.h"
#include "test_hooks.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

static struct test_chan chan;

/* Shared between the test's processes (anonymous shared mapping). */
struct shared {
  atomic_int stop;
  atomic_ulong reads;
  atomic_ulong bad; /* payloads that failed a check */
};
static struct shared *sh;
/* Largest payload of the mode (pattern_size's max), set before forking. */
static uint64_t max_size = 65536;

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Writer side: publish the pattern of the next version. */
static int publish_next(smr_channel_writer *w, uint64_t *version,
                        uint64_t max) {
  uint64_t v = *version + 1;
  uint64_t size = pattern_size(v, max);
  void *buf;
  int r = smr_channel_begin(w, size, &buf);
  if (r < 0)
    return r;
  pattern_fill(buf, size, v);
  struct smr_channel_commit_info info;
  r = smr_channel_commit(w, size, &info);
  if (r < 0)
    return r;
  if (info.version != v)
    return -EPROTO;
  *version = v;
  return 0;
}

/* Reader process body: read until told to stop (or killed); every payload
 * is checked.  Exits 0 if all good, 1 on a bad payload. */
static void reader_loop(bool verify_sum) {
  smr_channel_reader *r;
  int rc;
  while ((rc = smr_channel_reader_open(chan.name, 0, &r)) == -EUSERS)
    ; /* a killed reader's slot is freed when the kernel reaps it */
  if (rc != 0) {
    fprintf(stderr, "reader open: %s\n", smr_strerror(rc));
    _exit(1);
  }
  uint64_t last = 0;
  unsigned long n = 0;
  /* relaxed: a flag polled by the loop; nothing is published through it. */
  while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
    smr_channel_guard g;
    rc = smr_channel_read(r, &g);
    if (rc == -ENODATA)
      continue;
    if (rc != 0) {
      fprintf(stderr, "read: %s\n", smr_strerror(rc));
      _exit(1);
    }
    bool ok = g.version >= last && pattern_check(g.data, g.size, g.version) &&
              g.size == pattern_size(g.version, max_size);
    if (ok && verify_sum && (n & 7) == 0)
      ok = smr_channel_verify(r, &g) == 0;
    if (!ok) {
      fprintf(stderr, "bad payload: version %llu (last %llu) size %llu\n",
              (unsigned long long)g.version, (unsigned long long)last,
              (unsigned long long)g.size);
      /* relaxed: read by the parent after waitpid. */
      atomic_fetch_add_explicit(&sh->bad, 1, memory_order_relaxed);
      _exit(1);
    }
    last = g.version;
    smr_channel_release(r, &g);
    n++;
    if ((n & 1023) == 0)
      /* relaxed: a count for the report, read after waitpid. */
      atomic_fetch_add_explicit(&sh->reads, 1024, memory_order_relaxed);
  }
  smr_channel_reader_close(r);
  _exit(0);
}

static pid_t spawn_reader(bool verify_sum) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    reader_loop(verify_sum);
  return pid;
}

static void reap_ok(pid_t pid) {
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child %d failed (status %#x)\n", (int)pid, status);
    abort();
  }
}

/* A child talking to the parent through two pipes: the parent writes
 * k.to_kid[1], the child k.to_me[1].  Returns the pid (0 in the child). */
struct kid {
  int to_kid[2], to_me[2];
};

static pid_t kid_fork(struct kid *k) {
  CHECK_EQ(pipe(k->to_kid), 0);
  CHECK_EQ(pipe(k->to_me), 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  return pid;
}

static void kid_close(struct kid *k) {
  for (int i = 0; i < 2; i++) {
    close(k->to_kid[i]);
    close(k->to_me[i]);
  }
}

static smr_channel_writer *writer_open(unsigned buffers, int64_t timeout_ns) {
  struct smr_channel_options o = {0};
  o.buffers = buffers;
  o.timeout_ns = timeout_ns;
  o.timeout_set = true;
  smr_channel_writer *w;
  CHECK_EQ(smr_channel_writer_open(chan.name, &o, &w), 0);
  return w;
}

/* Pattern sizes go up to 64 KiB, and to `max` every 13th version. */
#define MAX_SIZE 65536

static void mode_verify(void) {
  enum { N = 3 };
  double secs = test_seconds(2);
  smr_channel_writer *w = writer_open(3, -1);
  pid_t kids[N];
  for (int i = 0; i < N; i++)
    kids[i] = spawn_reader(true);
  uint64_t v = 0;
  int64_t end = (int64_t)(secs * 1e9);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long pubs = 0;
  do {
    CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
    pubs++;
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000ll + (t.tv_nsec - t0.tv_nsec) <
           end);
  /* relaxed: pairs with the children's polling load; nothing else. */
  atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
  for (int i = 0; i < N; i++)
    reap_ok(kids[i]);
  /* relaxed: the children were reaped (waitpid orders their stores). */
  CHECK_EQ(atomic_load_explicit(&sh->bad, memory_order_relaxed), 0);
  printf("verify: %lu publishes, %lu reads checked\n", pubs,
         (unsigned long)atomic_load_explicit(&sh->reads, memory_order_relaxed));
  smr_channel_writer_close(w);
}

static void mode_kill_readers(void) {
  enum { N = 3 };
  const char *e = getenv("SMR_CHANNEL_KILLS");
  int kills = e ? atoi(e) : 200;
  smr_channel_writer *w = writer_open(N + 2, 0); /* never waits */
  pid_t kids[N];
  for (int i = 0; i < N; i++)
    kids[i] = spawn_reader(false);
  uint64_t v = 0;
  unsigned long pubs = 0;
  for (int k = 0; k < kills; k++) {
    unsigned n = (unsigned)(rnd() % 32);
    for (unsigned i = 0; i < n; i++) {
      int r = publish_next(w, &v, MAX_SIZE);
      if (r != 0) {
        fprintf(stderr, "publish %llu: %s\n", (unsigned long long)v + 1,
                smr_strerror(r));
        abort();
      }
      pubs++;
    }
    int victim = (int)(rnd() % N);
    CHECK_EQ(kill(kids[victim], SIGKILL), 0);
    int status;
    CHECK_EQ(waitpid(kids[victim], &status, 0), kids[victim]);
    /* Killed, not failed on its own. */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    kids[victim] = spawn_reader(false);
  }
  /* A few more publishes: every dead reader that pinned something has been
   * met and reclaimed by now or is not pinning anything the writer needs. */
  for (int i = 0; i < 64; i++)
    CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
  /* relaxed: pairs with the children's polling load; nothing else. */
  atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
  for (int i = 0; i < N; i++)
    reap_ok(kids[i]);
  /* relaxed: the children were reaped (waitpid orders their stores). */
  CHECK_EQ(atomic_load_explicit(&sh->bad, memory_order_relaxed), 0);
  struct smr_channel_stat st;
  struct smr_channel_reader_stat rs[64];
  size_t n;
  CHECK_EQ(smr_channel_stat(chan.name, 0, &st, rs, 64, &n), 0);
  CHECK_EQ(st.readers, 0); /* every live reader closed its slot */
  for (size_t i = 0; i < n && i < 64; i++)
    CHECK(!rs[i].alive);
  printf("kill-readers: %d kills, %lu publishes (none waited), %llu dead "
         "slots reclaimed, %lu reads checked\n",
         kills, pubs, (unsigned long long)st.dead_reclaimed,
         (unsigned long)atomic_load_explicit(&sh->reads, memory_order_relaxed));
  smr_channel_writer_close(w);
}

/* Writer child: take over, report the first version it published, then
 * publish (large payloads, so a kill lands mid-copy) until killed. */
static void writer_child(int fd) {
  struct smr_channel_options o = {0};
  o.buffers = 3;
  o.timeout_ns = -1;
  o.timeout_set = true;
  smr_channel_writer *w;
  int r = smr_channel_writer_open(chan.name, &o, &w);
  if (r != 0) {
    fprintf(stderr, "writer open: %s\n", smr_strerror(r));
    _exit(1);
  }
  struct smr_channel_stat st;
  if (smr_channel_stat(chan.name, 0, &st, NULL, 0, NULL) != 0)
    _exit(1);
  uint64_t v = st.version;
  if (publish_next(w, &v, 1 << 20) != 0)
    _exit(1);
  if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
    _exit(1);
  for (;;)
    if (publish_next(w, &v, 1 << 20) != 0)
      _exit(1);
}

static void mode_kill_writer(void) {
  enum { N = 2 };
  max_size = 1 << 20;
  const char *e = getenv("SMR_CHANNEL_KILLS");
  int kills = e ? atoi(e) / 2 : 100;
  /* Create the channel (layout K = 3) and publish version 1. */
  smr_channel_writer *w = writer_open(3, -1);
  uint64_t v = 0;
  CHECK_EQ(publish_next(w, &v, 1 << 20), 0);
  smr_channel_writer_close(w);
  pid_t kids[N];
  for (int i = 0; i < N; i++)
    kids[i] = spawn_reader(true);
  smr_channel_reader *me;
  CHECK_EQ(smr_channel_reader_open(chan.name, SMR_CHANNEL_VERIFY, &me), 0);
  uint64_t last = 1;
  for (int k = 0; k < kills; k++) {
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      writer_child(pfd[1]);
    }
    close(pfd[1]);
    uint64_t first;
    CHECK_EQ(read(pfd[0], &first, sizeof first), (ssize_t)sizeof first);
    close(pfd[0]);
    CHECK_EQ(first, last + 1); /* the new writer continued the versions */
    /* Let it run a random while (our own work, not a sleep), then kill. */
    unsigned spins = (unsigned)(rnd() % 200000);
    for (volatile unsigned i = 0; i < spins; i++)
      ;
    CHECK_EQ(kill(pid, SIGKILL), 0);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The last complete version is there and intact. */
    smr_channel_guard g;
    CHECK_EQ(smr_channel_read(me, &g), 0);
    CHECK(g.version >= first);
    CHECK(pattern_check(g.data, g.size, g.version));
    last = g.version;
    smr_channel_release(me, &g);
    struct smr_channel_stat st;
    CHECK_EQ(smr_channel_stat(chan.name, SMR_CHANNEL_STAT_VERIFY, &st, NULL, 0,
                              NULL),
             0);
    CHECK(!st.writer_alive);
    CHECK_EQ(st.version, last);
    CHECK_EQ(st.checksum, SMR_CHANNEL_CHECKSUM_OK);
  }
  /* relaxed: pairs with the children's polling load; nothing else. */
  atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
  for (int i = 0; i < N; i++)
    reap_ok(kids[i]);
  /* relaxed: the children were reaped (waitpid orders their stores). */
  CHECK_EQ(atomic_load_explicit(&sh->bad, memory_order_relaxed), 0);
  CHECK_EQ(smr_channel_reader_close(me), 0);
  printf("kill-writer: %d writers killed, last version %llu, %lu reads "
         "checked\n",
         kills, (unsigned long long)last,
         (unsigned long)atomic_load_explicit(&sh->reads, memory_order_relaxed));
}

static void mode_slow_reader(void) {
  smr_channel_writer *w = writer_open(2, 10000000); /* 10 ms timeout */
  uint64_t v = 0;
  CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
  struct kid k;
  pid_t pid = kid_fork(&k);
  if (pid == 0) {
    smr_channel_reader *r;
    smr_channel_guard g;
    char c = 'x';
    if (smr_channel_reader_open(chan.name, 0, &r) || smr_channel_read(r, &g))
      _exit(1);
    uint64_t pinned = g.version;
    if (write(k.to_me[1], &pinned, sizeof pinned) != (ssize_t)sizeof pinned)
      _exit(1);
    /* Stay inside the read until the parent is done trying. */
    if (read(k.to_kid[0], &c, 1) != 1)
      _exit(1);
    bool ok =
        pattern_check(g.data, g.size, pinned) && smr_channel_verify(r, &g) == 0;
    smr_channel_release(r, &g);
    smr_channel_reader_close(r);
    _exit(ok ? 0 : 1);
  }
  uint64_t pinned;
  CHECK_EQ(read(k.to_me[0], &pinned, sizeof pinned), (ssize_t)sizeof pinned);
  CHECK_EQ(pinned, 1);
  CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0); /* the other buffer */
  /* Every further publish needs the pinned buffer: -EBUSY each time, after
   * waiting the timeout; never an overwrite. */
  for (int i = 0; i < 20; i++) {
    uint64_t tmp = v;
    CHECK_EQ(publish_next(w, &tmp, MAX_SIZE), -EBUSY);
  }
  char c = 'g';
  CHECK_EQ(write(k.to_kid[1], &c, 1), 1);
  reap_ok(pid);
  kid_close(&k);
  /* Released: publishing works again. */
  CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
  smr_channel_writer_close(w);
  printf("slow-reader: payload intact after 20 timed-out publishes\n");
}

/* The window test: the hook stops the reader between its load of the
 * version and its announcement; the parent publishes meanwhile. */
struct window {
  int to_kid, to_me;
  int calls;
};

static void window_hook(smr_channel_reader *r, void *arg) {
  (void)r;
  struct window *wd = arg;
  if (wd->calls++ != 0)
    return; /* stop only once */
  char c = 'w';
  if (write(wd->to_me, &c, 1) != 1 || read(wd->to_kid, &c, 1) != 1)
    _exit(3);
}

/* Returns the child's verdict: 0 right payload, 2 reused buffer seen. */
static int window_run(bool skip_validate) {
  smr_channel_writer *w = writer_open(2, 0);
  uint64_t v = 0;
  CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
  struct kid k;
  pid_t pid = kid_fork(&k);
  if (pid == 0) {
    smr_channel_reader *r;
    smr_channel_guard g;
    if (smr_channel_reader_open(chan.name, 0, &r) || smr_channel_read(r, &g))
      _exit(1);
    smr_channel_release(r, &g); /* the handle now caches version 1's view */
    struct window wd = {k.to_kid[0], k.to_me[1], 0};
    smr__channel_set_test_hook(r, window_hook, &wd, skip_validate);
    if (smr_channel_read(r, &g))
      _exit(1);
    int verdict = pattern_check(g.data, g.size, g.version) ? 0 : 2;
    smr_channel_release(r, &g);
    smr_channel_reader_close(r);
    _exit(verdict);
  }
  char c;
  CHECK_EQ(read(k.to_me[0], &c, 1), 1); /* the reader loaded version 1 */
  /* Two publishes with K = 2: buffer 2, then buffer 1 again, reused
   * because the reader has not announced anything yet (its slot still
   * names version 1, idle: the writer issues its barrier and goes ahead). */
  for (int i = 0; i < 2; i++)
    CHECK_EQ(publish_next(w, &v, MAX_SIZE), 0);
  CHECK_EQ(write(k.to_kid[1], &c, 1), 1);
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  kid_close(&k);
  smr_channel_writer_close(w);
  CHECK_EQ(smr_channel_unlink(chan.name), 0);
  return WEXITSTATUS(status);
}

static void mode_window(void) {
  int safe = window_run(false);
  int unsafe = window_run(true);
  printf("window: with re-validation %s; without it %s\n",
         safe == 0 ? "read the right payload" : "FAILED",
         unsafe == 2 ? "read the reused buffer (as expected)" : "UNEXPECTED");
  CHECK_EQ(safe, 0);
  CHECK_EQ(unsafe, 2); /* the test detects the race when it exists */
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr,
            "usage: %s verify|kill-readers|kill-writer|slow-reader|"
            "window\n",
            argv[0]);
    return 2;
  }
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED);
  rng_state ^= (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
  test_chan_init(&chan);
  static const struct test_part modes[] = {{"verify", mode_verify},
                                           {"kill-readers", mode_kill_readers},
                                           {"kill-writer", mode_kill_writer},
                                           {"slow-reader", mode_slow_reader},
                                           {"window", mode_window}};
  int x = TEST_RUN_PART(argv[1], modes);
  if (x != 0)
    return x;
  test_chan_done(&chan);
  return 0;
}
