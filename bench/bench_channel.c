/* SPDX-License-Identifier: MIT */
/* bench_channel: the cross-process channel (smr/channel.h) against its
 * in-process and memcpy baselines, side by side in one run.  Three scenarios:
 *
 *   read     ns per read of a 64-byte payload, published once (the writer,
 *            this process, then waits idle for the results): the loop
 *            "smr_channel_read, touch the payload's first byte,
 * smr_channel_release" runs in a forked reader process; the same process then
 * runs the in-process swap-cell loop ("smr_swap_read, touch the value's first
 * byte, smr_swap_guard_release", as bench_read_smr_swap), alternating run by
 * run, and the ratio channel/swap is printed.
 *            --inproc runs both loops in this process instead (a reader
 *            handle beside the idle writer), for callgrind: the loops are
 *            the noinline functions bench_loop_channel_read and
 *            bench_loop_swap_read (tools/bench_callgrind.sh toggles on
 *            the first).
 *   publish  ns per smr_channel_publish of each size (default 64 B, 64 KiB,
 *            64 MiB), checksum on (the default) and SMR_CHANNEL_NO_CHECKSUM,
 *            with no reader and with one idle reader process attached (its
 *            handle open, never reading); for the largest size also
 *            begin + memcpy into the buffer + commit ("inplace": a payload
 *            built in place costs its fill, which is the memcpy here).  Each
 *            run is paired with a memcpy of the same size from the same
 *            source into a warm (already touched) heap buffer, and the ratio
 *            of the medians is printed (x memcpy).
 *   scale    1 vs 2 reader processes reading flat out (the read loop
 *            above), pinned to the first two CPUs this process may use
 *            (normally 0 and 1; --no-pin to leave them free): a start
 *            command through a pipe, a fixed duration (--scale-ms) timed by
 *            each reader itself, counts sent back through a pipe; total
 *            reads/s and the ratio 2 readers / 1 reader.
 *
 * Channels live in /dev/shm (or --dir) under names with this process's pid,
 * and are unlinked at the end (also on a failure, and on SIGINT, SIGTERM or
 * SIGHUP).  The
 * reader processes are forked before the writer opens its channel, so they
 * inherit none of the writer's file descriptors (its lock) and open their
 * own handles (smr/channel.h: handles are not inherited across fork).
 *
 * Verified, exit 1 otherwise: every read returns the published byte (sums);
 * the payload read after the publish runs is the source, at the version
 * counted by this program, and its checksum verifies (or -ENOTSUP without
 * one).  Timings are never judged: the targets are printed beside the
 * figures.
 *
 * Output: one JSON object per timed run, a JSON summary per configuration,
 * then the tables.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET; implies POSIX 2008 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smr/channel.h"
#include "smr/swap.h"

#include "bench_common.h"

#define DEFAULT_ITERS 100000000ull /* reads per run: 1e8, ~0.1-0.3 s */
#define SMOKE_ITERS   100000ull
#define MAX_RUNS      1000 /* bench_parse_ext's limit */
#define READ_PAYLOAD  64u  /* bytes, one cache line, like bench_read's obj */
#define MAX_SIZES     16
#define MAX_NAMES     64
#define SCALE_CHUNK   4096u /* reads between two clock reads */

/* ---- configuration --------------------------------------------------------
 */

static struct cfg {
  struct bench_opts o;
  int do_read, do_publish, do_scale;
  int inproc, pin, symmetric;
  const char *dir; /* NULL: /dev/shm (a name without '/') */
  uint64_t sizes[MAX_SIZES];
  int nsizes;
  uint64_t pub_iters; /* 0: from the size (about 256 MiB per run) */
  uint64_t scale_ms;
  uint64_t buffers; /* 0: the library's default */
} cfg;

/* ---- failure and cleanup --------------------------------------------------
 */

struct child {
  pid_t pid;
  int cmd; /* parent -> child */
  int res; /* child -> parent */
};

static struct child kids[2];
static int nkids;
static int in_child = -1; /* the child's index, -1 in the parent */
static smr_channel_writer *cur_writer;
static char names[MAX_NAMES][512];
static int nnames;

static void reap_all(int quiet);

/* Report and exit 1.  The parent stops its children, closes its writer and
 * unlinks every channel it named; a child just exits (the parent sees its
 * pipe close). */
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (in_child >= 0)
    fprintf(stderr, "bench_channel: reader process %d: ", in_child);
  else
    fprintf(stderr, "bench_channel: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  if (in_child >= 0)
    _exit(1);
  reap_all(1);
  smr_channel_writer_close(cur_writer);
  cur_writer = NULL;
  for (int i = 0; i < nnames; i++)
    (void)smr_channel_unlink(names[i]);
  exit(1);
}

/* Append s to the path being built in the signal handler (strlen and
 * memcpy are async-signal-safe). */
static size_t path_add(char *p, size_t n, size_t cap, const char *s) {
  size_t k = strlen(s);
  if (n + k >= cap)
    return n;
  memcpy(p + n, s, k + 1);
  return n + k;
}

/* Remove a channel's files without the library (from a signal handler):
 * the names smr/channel.h documents, for every possible K. */
static void unlink_files(const char *name) {
  smr_channel_unlink(name); /* the readers directory too; then leftovers: */
  char p[sizeof names[0] + 64];
  size_t n = 0;
  p[0] = '\0';
  if (!strchr(name, '/'))
    n = path_add(p, n, sizeof p, "/dev/shm/");
  n = path_add(p, n, sizeof p, name);
  path_add(p, n, sizeof p, ".smr");
  unlink(p);
  path_add(p, n, sizeof p, ".smr-readers");
  unlink(p);
  for (unsigned k = 0; k < SMR_CHANNEL_MAX_BUFFERS; k++) {
    char d[16] = ".smr-data-";
    size_t m = strlen(d);
    if (k >= 10)
      d[m++] = (char)('0' + k / 10);
    d[m++] = (char)('0' + k % 10);
    d[m] = '\0';
    path_add(p, n, sizeof p, d);
    unlink(p);
  }
}

/* SIGINT, SIGTERM, SIGHUP: a real run leaves hundreds of MiB in /dev/shm
 * otherwise.  The parent kills its children and removes its channels'
 * files; a child just exits (it owns no channel: nnames is 0 there). */
static void on_signal(int sig) {
  for (int i = 0; i < nkids; i++)
    kill(kids[i].pid, SIGKILL);
  for (int i = 0; i < nnames; i++)
    unlink_files(names[i]);
  _exit(128 + sig);
}

/* A setup call that must return 0. */
#define CHECK(call)                                                            \
  do {                                                                         \
    long check_rc_ = (long)(call);                                             \
    if (check_rc_ != 0)                                                        \
      fail("%s:%d: %s returned %ld (%s)", __FILE__, __LINE__, #call,           \
           check_rc_, check_rc_ < 0 ? strerror((int)-check_rc_) : "?");        \
  } while (0)

/* A channel name with this process's pid, remembered for the cleanup. */
static const char *chan_name(const char *tag) {
  if (nnames == MAX_NAMES)
    fail("too many channels");
  char *n = names[nnames++];
  if (cfg.dir)
    snprintf(n, sizeof names[0], "%s/smr-bench-%ld-%s", cfg.dir, (long)getpid(),
             tag);
  else
    snprintf(n, sizeof names[0], "smr-bench-%ld-%s", (long)getpid(), tag);
  (void)smr_channel_unlink(n); /* a stale one from a recycled pid */
  return n;
}

static void writer_create(const char *name, unsigned flags) {
  struct smr_channel_options opts;
  memset(&opts, 0, sizeof opts);
  opts.flags = flags;
  opts.buffers = (unsigned)cfg.buffers;
  int rc = smr_channel_writer_open(name, &opts, &cur_writer);
  if (rc != 0)
    fail("smr_channel_writer_open(%s): %s", name, strerror(-rc));
}

static void writer_destroy(const char *name) {
  smr_channel_writer_close(cur_writer);
  cur_writer = NULL;
  CHECK(smr_channel_unlink(name));
}

/* "asymmetric" or "symmetric", as the channel's state says. */
static const char *channel_mode(const char *name) {
  struct smr_channel_stat st;
  CHECK(smr_channel_stat(name, 0, &st, NULL, 0, NULL));
  return (st.flags & SMR_CHANNEL_SYMMETRIC) ? "symmetric" : "asymmetric";
}

static const char *fence_mode_name(int m) {
  return m == SMR_FENCE_ASYMMETRIC ? "asymmetric" : "symmetric";
}

static void publish_or_fail(smr_channel_writer *w, const void *data,
                            uint64_t n) {
  int rc = smr_channel_publish(w, data, n, NULL);
  if (rc == -ENOSPC || rc == -EFBIG)
    fail("smr_channel_publish(%llu bytes): %s (the channel needs K+1 times the "
         "payload; try --dir on a larger file system or smaller --sizes)",
         (unsigned long long)n, strerror(-rc));
  if (rc != 0)
    fail("smr_channel_publish(%llu bytes): %s", (unsigned long long)n,
         strerror(-rc));
}

/* ---- processes and pipes --------------------------------------------------
 */

static void send_cmd(struct child *c, char cmd) {
  if (bench_write_all(c->cmd, &cmd, 1) != 0)
    fail("reader process %ld: cannot send '%c' (it died?)", (long)c->pid, cmd);
}

static void recv_res(struct child *c, void *buf, size_t n) {
  if (bench_read_all(c->res, buf, n) != 0)
    fail("reader process %ld exited before answering (see above)",
         (long)c->pid);
}

/* In a child: the next command, 'q' at end of file (the parent closed our
 * pipe: it is done or failed). */
static char recv_cmd(int fd) {
  char c;
  return bench_read_all(fd, &c, 1) == 0 ? c : 'q';
}

static void reply(int fd, const void *buf, size_t n) {
  if (bench_write_all(fd, buf, n) != 0)
    fail("cannot answer (parent gone?)");
}

/* Fork a reader process running fn(cmd_fd, res_fd, index); it exits 0 when
 * fn returns. */
static void spawn(void (*fn)(int, int, int)) {
  int a[2], b[2];
  if (nkids == (int)(sizeof kids / sizeof kids[0]))
    fail("too many reader processes");
  if (pipe(a) != 0 || pipe(b) != 0)
    fail("pipe: %s", strerror(errno));
  fflush(NULL); /* or the child's exit would print the buffers twice */
  pid_t pid = fork();
  if (pid < 0)
    fail("fork: %s", strerror(errno));
  int index = nkids;
  if (pid == 0) {
    in_child = index;
    /* Drop the parent's ends, ours and our siblings', so each child sees
     * end of file when the parent closes its command pipe. */
    for (int i = 0; i < nkids; i++) {
      close(kids[i].cmd);
      close(kids[i].res);
    }
    nkids = 0;
    nnames = 0; /* the parent owns the channels */
    close(a[1]);
    close(b[0]);
    fn(a[0], b[1], index);
    _exit(0);
  }
  close(a[0]);
  close(b[1]);
  kids[nkids].pid = pid;
  kids[nkids].cmd = a[1];
  kids[nkids].res = b[0];
  nkids++;
}

/* Close the command pipes (the children exit on end of file) and wait for
 * every child; unless quiet, a child that failed fails the program. */
static void reap_all(int quiet) {
  int n = nkids, bad = 0;
  nkids = 0;
  for (int i = 0; i < n; i++) {
    close(kids[i].cmd);
    if (quiet)
      kill(kids[i].pid, SIGTERM); /* it may be in the middle of a run */
  }
  for (int i = 0; i < n; i++) {
    int st;
    while (waitpid(kids[i].pid, &st, 0) < 0 && errno == EINTR) {
    }
    close(kids[i].res);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      bad = 1;
  }
  if (bad && !quiet)
    fail("a reader process failed");
}

/* The CPUs the scale readers are pinned to: the first two this process may
 * run on (-1: none). */
static int pin_cpus[2] = {-1, -1};

static void find_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return;
  int k = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && k < 2; cpu++)
    if (CPU_ISSET(cpu, &set))
      pin_cpus[k++] = cpu;
}

/* Pin this process to pin_cpus[i]; returns the CPU, or -1 if not pinned. */
static int pin_self(int i) {
  if (!cfg.pin || pin_cpus[i] < 0)
    return -1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(pin_cpus[i], &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? pin_cpus[i] : -1;
}

/* ---- the timed loops (noinline, fixed names: see bench_common.h) ----------
 */

/* iters reads; returns the sum of the first bytes read (each is 1), short
 * if a read failed. */
BENCH_LOOP_ATTR uint64_t bench_loop_channel_read(smr_channel_reader *r,
                                                 uint64_t iters);

uint64_t bench_loop_channel_read(smr_channel_reader *r, uint64_t iters) {
  uint64_t sum = 0;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    smr_channel_guard g;
    if (SMR_UNLIKELY(smr_channel_read(r, &g) != 0))
      break; /* the caller sees the short sum */
    sum += *(const unsigned char *)g.data;
    smr_channel_release(r, &g);
  }
  return sum;
}

BENCH_LOOP_ATTR uint64_t bench_loop_swap_read(smr_swap_reader *r,
                                              uint64_t iters);

uint64_t bench_loop_swap_read(smr_swap_reader *r, uint64_t iters) {
  uint64_t sum = 0;
  BENCH_NO_UNROLL
  for (uint64_t i = 0; i < iters; i++) {
    smr_swap_guard g;
    /* smr_swap_read does the acquire load of the cell's published node. */
    sum += *(const unsigned char *)smr_swap_read(r, &g);
    smr_swap_guard_release(&g);
  }
  return sum;
}

/* Keep the compiler from merging or dropping the copies of the memcpy
 * loop (each iteration's store is otherwise dead but for the last). */
#if defined(__GNUC__)
#define BENCH_CLOBBER() __asm__ volatile("" ::: "memory")
#else
#define BENCH_CLOBBER() ((void)0)
#endif

BENCH_LOOP_ATTR void bench_loop_memcpy(void *dst, const void *src,
                                       uint64_t size, uint64_t n);

void bench_loop_memcpy(void *dst, const void *src, uint64_t size, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    memcpy(dst, src, (size_t)size);
    BENCH_CLOBBER();
  }
}

BENCH_LOOP_ATTR void bench_loop_publish(smr_channel_writer *w, const void *src,
                                        uint64_t size, uint64_t n);

void bench_loop_publish(smr_channel_writer *w, const void *src, uint64_t size,
                        uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    publish_or_fail(w, src, size);
}

BENCH_LOOP_ATTR void bench_loop_inplace(smr_channel_writer *w, const void *src,
                                        uint64_t size, uint64_t n);

void bench_loop_inplace(smr_channel_writer *w, const void *src, uint64_t size,
                        uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    void *buf;
    int rc = smr_channel_begin(w, size, &buf);
    if (rc != 0)
      fail("smr_channel_begin(%llu bytes): %s", (unsigned long long)size,
           strerror(-rc));
    memcpy(buf, src, (size_t)size); /* the fill */
    CHECK(smr_channel_commit(w, size, NULL));
  }
}

/* ---- scenario read ---------------------------------------------------------
 */

/* The payload of the read and scale channels and the swap cell's value:
 * first byte 1 (what the loops sum), the rest a pattern. */
static unsigned char read_payload[READ_PAYLOAD];
static unsigned char swap_value[READ_PAYLOAD];

static void fill_payload(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 131u + 7u);
  p[0] = 1;
}

/* Open a reader on the read/scale channel and check the payload once
 * (untimed: also takes the slow path of the first read out of the loops). */
static smr_channel_reader *open_checked_reader(const char *name) {
  smr_channel_reader *r;
  CHECK(smr_channel_reader_open(name, 0, &r));
  smr_channel_guard g;
  CHECK(smr_channel_read(r, &g));
  if (g.size != READ_PAYLOAD || g.version != 1 ||
      memcmp(g.data, read_payload, READ_PAYLOAD) != 0)
    fail("%s: read size %llu version %llu, or wrong bytes", name,
         (unsigned long long)g.size, (unsigned long long)g.version);
  CHECK(smr_channel_verify(r, &g));
  smr_channel_release(r, &g);
  return r;
}

struct read_result {
  int swap_mode;
  int cpu; /* the reader's CPU when pinned, else -1 */
  double channel_ns[MAX_RUNS];
  double swap_ns[MAX_RUNS];
};

static struct read_result read_res;

static void check_sum(const char *what, uint64_t sum, uint64_t iters) {
  if (sum != iters)
    fail("%s: sum %llu, expected %llu (a read failed or returned wrong "
         "bytes)",
         what, (unsigned long long)sum, (unsigned long long)iters);
}

/* Both read loops, alternating run by run, in the calling process. */
static void read_measure(const char *name, struct read_result *res) {
  const struct bench_opts *o = &cfg.o;
  CHECK(smr_fence_init(NULL)); /* keep the one-time cost out */
  smr_channel_reader *r = open_checked_reader(name);
  smr_swap *cell;
  smr_swap_reader *sr;
  struct smr_swap_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.flags = cfg.symmetric ? SMR_SWAP_SYMMETRIC : 0u;
  CHECK(smr_swap_create(swap_value, NULL, &attr, &cell));
  CHECK(smr_swap_reader_create(cell, &sr));
  res->swap_mode = smr_swap_fence_mode(cell);

  if (o->warmup > 0) {
    check_sum("channel warm-up",
              bench_loop_channel_read(r, (uint64_t)o->warmup),
              (uint64_t)o->warmup);
    check_sum("swap warm-up", bench_loop_swap_read(sr, (uint64_t)o->warmup),
              (uint64_t)o->warmup);
  }
  for (int k = 0; k < o->runs; k++) {
    int64_t t0 = bench_now_ns();
    uint64_t s = bench_loop_channel_read(r, o->iters);
    int64_t t1 = bench_now_ns();
    check_sum("smr_channel_read", s, o->iters);
    bench_sink = s;
    res->channel_ns[k] = (double)(t1 - t0) / (double)o->iters;
    t0 = bench_now_ns();
    s = bench_loop_swap_read(sr, o->iters);
    t1 = bench_now_ns();
    check_sum("smr_swap_read", s, o->iters);
    bench_sink = s;
    res->swap_ns[k] = (double)(t1 - t0) / (double)o->iters;
  }
  CHECK(smr_channel_reader_close(r));
  CHECK(smr_swap_reader_destroy(sr));
  CHECK(smr_swap_destroy(cell));
}

/* The read scenario's reader process: 'g' = measure and send read_res. */
static void read_child(int cmd, int res, int index) {
  const char *name = names[0]; /* set by scenario_read before the fork */
  for (;;) {
    char c = recv_cmd(cmd);
    if (c == 'q')
      return;
    if (c != 'g')
      fail("unknown command '%c'", c);
    read_res.cpu = pin_self(index);
    read_measure(name, &read_res);
    reply(res, &read_res, sizeof read_res);
  }
}

/* Summaries for the tables at the end. */
static struct {
  int done;
  const char *where, *channel_mode, *swap_mode;
  int cpu;
  struct bench_stats channel, swap, ratio;
} read_sum;

static void scenario_read(void) {
  const struct bench_opts *o = &cfg.o;
  const char *name = chan_name("read");
  if (name != names[0])
    fail("the read channel must be the first name");
  fill_payload(read_payload, READ_PAYLOAD);
  fill_payload(swap_value, READ_PAYLOAD);
  if (!cfg.inproc)
    spawn(read_child); /* before the writer: it inherits nothing */
  writer_create(name, cfg.symmetric ? SMR_CHANNEL_SYMMETRIC : 0u);
  publish_or_fail(cur_writer, read_payload, READ_PAYLOAD);
  const char *mode = channel_mode(name);
  if (cfg.inproc) {
    read_res.cpu = -1;
    read_measure(name, &read_res);
  } else {
    send_cmd(&kids[0], 'g');
    recv_res(&kids[0], &read_res, sizeof read_res);
    reap_all(0);
  }
  writer_destroy(name);

  const char *where = cfg.inproc ? "same_process" : "reader_process";
  const char *smode = fence_mode_name(read_res.swap_mode);
  double ratio[MAX_RUNS];
  for (int k = 0; k < o->runs; k++) {
    ratio[k] = read_res.channel_ns[k] / read_res.swap_ns[k];
    printf(
        "{\"bench\":\"channel_read\",\"impl\":\"smr_channel\",\"mode\":\"%s\","
        "\"reader\":\"%s\",\"payload\":%u,\"run\":%d,\"iters\":%llu,"
        "\"ns_per_op\":%.3f}\n",
        mode, where, READ_PAYLOAD, k, (unsigned long long)o->iters,
        read_res.channel_ns[k]);
    printf("{\"bench\":\"channel_read\",\"impl\":\"smr_swap\",\"mode\":\"%s\","
           "\"reader\":\"%s\",\"run\":%d,\"iters\":%llu,\"ns_per_op\":%.3f}\n",
           smode, where, k, (unsigned long long)o->iters, read_res.swap_ns[k]);
  }
  read_sum.channel = bench_stats_of(read_res.channel_ns, o->runs);
  read_sum.swap = bench_stats_of(read_res.swap_ns, o->runs);
  read_sum.ratio = bench_stats_of(ratio, o->runs);
  read_sum.done = 1;
  read_sum.where = where;
  read_sum.channel_mode = mode;
  read_sum.swap_mode = smode;
  read_sum.cpu = read_res.cpu;
  printf("{\"bench\":\"channel_read\",\"impl\":\"smr_swap\",\"mode\":\"%s\","
         "\"reader\":\"%s\",\"summary\":true,\"iters\":%llu,\"runs\":%d,"
         "\"median_ns_per_op\":%.3f,\"min_ns_per_op\":%.3f,"
         "\"max_ns_per_op\":%.3f}\n",
         smode, where, (unsigned long long)o->iters, o->runs,
         read_sum.swap.median, read_sum.swap.min, read_sum.swap.max);
  /* x_swap: median channel / median swap; the spread is over the runs' own
   * channel/swap ratios (each pair measured back to back). */
  printf("{\"bench\":\"channel_read\",\"impl\":\"smr_channel\",\"mode\":\"%s\","
         "\"reader\":\"%s\",\"payload\":%u,\"cpu\":%d,\"summary\":true,"
         "\"iters\":%llu,\"runs\":%d,\"median_ns_per_op\":%.3f,"
         "\"min_ns_per_op\":%.3f,\"max_ns_per_op\":%.3f,\"x_swap\":%.3f,"
         "\"min_x_swap\":%.3f,\"max_x_swap\":%.3f}\n",
         mode, where, READ_PAYLOAD, read_res.cpu, (unsigned long long)o->iters,
         o->runs, read_sum.channel.median, read_sum.channel.min,
         read_sum.channel.max, read_sum.channel.median / read_sum.swap.median,
         read_sum.ratio.min, read_sum.ratio.max);
  fflush(stdout);
}

/* ---- scenario publish ------------------------------------------------------
 */

/* The idle reader process: "o<index>" opens a handle on names[index] and
 * answers its status; 'c' closes it and answers; it never reads. */
static void idle_child(int cmd, int res, int index) {
  (void)index;
  smr_channel_reader *r = NULL;
  for (;;) {
    char c = recv_cmd(cmd);
    int rc = 0;
    if (c == 'q')
      break;
    if (c == 'o') {
      unsigned char idx;
      if (bench_read_all(cmd, &idx, 1) != 0 || idx >= MAX_NAMES || r)
        fail("bad open command");
      rc = smr_channel_reader_open(names[idx], 0, &r);
    } else if (c == 'c') {
      rc = smr_channel_reader_close(r);
      r = NULL;
    } else {
      fail("unknown command '%c'", c);
    }
    reply(res, &rc, sizeof rc);
  }
  if (r)
    CHECK(smr_channel_reader_close(r));
}

static uint64_t pub_iters_for(uint64_t size) {
  if (cfg.pub_iters)
    return cfg.pub_iters;
  uint64_t budget = cfg.o.smoke ? (4u << 20) : (256u << 20);
  uint64_t n = budget / (size ? size : 1);
  uint64_t lo = cfg.o.smoke ? 4 : 8, hi = cfg.o.smoke ? 200 : 20000;
  return n < lo ? lo : n > hi ? hi : n;
}

static const char *size_name(char *buf, size_t n, uint64_t size) {
  if (size >= (1u << 30) && size % (1u << 30) == 0)
    snprintf(buf, n, "%llu GiB", (unsigned long long)(size >> 30));
  else if (size >= (1u << 20) && size % (1u << 20) == 0)
    snprintf(buf, n, "%llu MiB", (unsigned long long)(size >> 20));
  else if (size >= 1024 && size % 1024 == 0)
    snprintf(buf, n, "%llu KiB", (unsigned long long)(size >> 10));
  else
    snprintf(buf, n, "%llu B", (unsigned long long)size);
  return buf;
}

#define MAX_PUB_ROWS (MAX_SIZES * 2 * 2 * 2)

static struct pub_row {
  uint64_t size, iters;
  const char *variant; /* "publish", "inplace" */
  int checksum, readers;
  struct bench_stats st, memcpy_st;
} pub_rows[MAX_PUB_ROWS];
static int npub_rows;

static double gbps(uint64_t size, double ns) {
  return ns > 0 ? (double)size / ns : 0; /* bytes per ns = GB/s */
}

static void print_pub_run(const char *impl, const char *variant, int checksum,
                          int readers, uint64_t size, int run, uint64_t iters,
                          double ns) {
  char ck[40] = "";
  if (checksum >= 0)
    snprintf(ck, sizeof ck, ",\"checksum\":%s,\"readers\":%d",
             checksum ? "true" : "false", readers);
  printf("{\"bench\":\"channel_publish\",\"impl\":\"%s\",\"variant\":\"%s\"%s,"
         "\"size\":%llu,\"run\":%d,\"iters\":%llu,\"ns_per_op\":%.1f,"
         "\"gb_per_s\":%.3f}\n",
         impl, variant, ck, (unsigned long long)size, run,
         (unsigned long long)iters, ns, gbps(size, ns));
}

/* Read the channel's current payload from this process and check it:
 * the bytes of src, the version (= publishes made), the checksum. */
static void verify_channel(const char *name, const unsigned char *src,
                           uint64_t size, uint64_t publishes, int checksum) {
  smr_channel_reader *r;
  CHECK(smr_channel_reader_open(name, 0, &r));
  smr_channel_guard g;
  CHECK(smr_channel_read(r, &g));
  if (g.size != size || g.version != publishes ||
      memcmp(g.data, src, (size_t)size) != 0)
    fail("%s: read %llu bytes at version %llu, expected %llu at %llu, or "
         "wrong bytes",
         name, (unsigned long long)g.size, (unsigned long long)g.version,
         (unsigned long long)size, (unsigned long long)publishes);
  int rc = smr_channel_verify(r, &g);
  if (rc != (checksum ? 0 : -ENOTSUP))
    fail("%s: smr_channel_verify returned %d (checksum %s)", name, rc,
         checksum ? "on" : "off");
  smr_channel_release(r, &g);
  CHECK(smr_channel_reader_close(r));
}

static void scenario_publish(void) {
  const struct bench_opts *o = &cfg.o;
  uint64_t largest = 0;
  int first = nnames;
  for (int s = 0; s < cfg.nsizes; s++) {
    if (cfg.sizes[s] > largest)
      largest = cfg.sizes[s];
    for (int ck = 1; ck >= 0; ck--) {
      char tag[64];
      snprintf(tag, sizeof tag, "pub-%llu-%s", (unsigned long long)cfg.sizes[s],
               ck ? "sum" : "nosum");
      chan_name(tag);
    }
  }
  spawn(idle_child); /* the names exist; no writer yet */
  struct child *idle = &kids[nkids - 1];
  double *mc = malloc(sizeof(double) * (size_t)o->runs);
  double *pub = malloc(sizeof(double) * (size_t)o->runs);
  double *ip = malloc(sizeof(double) * (size_t)o->runs);
  if (!mc || !pub || !ip)
    fail("out of memory");

  for (int s = 0; s < cfg.nsizes; s++) {
    uint64_t size = cfg.sizes[s];
    uint64_t iters = pub_iters_for(size);
    int inplace = size == largest;
    size_t alloc = size ? (size_t)size : 1;
    unsigned char *src = malloc(alloc), *dst = malloc(alloc);
    if (!src || !dst)
      fail("cannot allocate 2 x %llu bytes", (unsigned long long)size);
    fill_payload(src, alloc);
    memset(dst, 0, alloc); /* warm: every page touched */
    /* At least 2K + 2 so that every buffer has been filled twice. */
    uint64_t k2 = 2 * (cfg.buffers ? cfg.buffers : 3) + 2;
    uint64_t warm = iters / 10 > k2 ? iters / 10 : k2;
    bench_loop_memcpy(dst, src, size, warm);
    for (int ck = 1; ck >= 0; ck--) {
      int idx = first + 2 * s + (1 - ck);
      const char *name = names[idx];
      writer_create(name, ck ? 0u : SMR_CHANNEL_NO_CHECKSUM);
      uint64_t published = 0;
      bench_loop_publish(cur_writer, src, size, warm);
      published += warm;
      if (inplace) {
        bench_loop_inplace(cur_writer, src, size, warm);
        published += warm;
      }
      for (int nr = 0; nr <= 1; nr++) {
        if (nr) {
          char cmd[2] = {'o', (char)idx};
          int rc;
          if (bench_write_all(idle->cmd, cmd, 2) != 0)
            fail("idle reader process died");
          recv_res(idle, &rc, sizeof rc);
          if (rc != 0)
            fail("idle reader: smr_channel_reader_open(%s): %s", name,
                 strerror(-rc));
        }
        for (int k = 0; k < o->runs; k++) {
          int64_t t0 = bench_now_ns();
          bench_loop_memcpy(dst, src, size, iters);
          int64_t t1 = bench_now_ns();
          mc[k] = (double)(t1 - t0) / (double)iters;
          print_pub_run("memcpy", "memcpy", -1, 0, size, k, iters, mc[k]);
          t0 = bench_now_ns();
          bench_loop_publish(cur_writer, src, size, iters);
          t1 = bench_now_ns();
          published += iters;
          pub[k] = (double)(t1 - t0) / (double)iters;
          print_pub_run("smr_channel", "publish", ck, nr, size, k, iters,
                        pub[k]);
          if (inplace) {
            t0 = bench_now_ns();
            bench_loop_inplace(cur_writer, src, size, iters);
            t1 = bench_now_ns();
            published += iters;
            ip[k] = (double)(t1 - t0) / (double)iters;
            print_pub_run("smr_channel", "inplace", ck, nr, size, k, iters,
                          ip[k]);
          }
        }
        if (nr) {
          int rc;
          send_cmd(idle, 'c');
          recv_res(idle, &rc, sizeof rc);
          if (rc != 0)
            fail("idle reader: smr_channel_reader_close: %s", strerror(-rc));
        }
        struct bench_stats mst = bench_stats_of(mc, o->runs);
        for (int v = 0; v <= inplace; v++) {
          if (npub_rows == MAX_PUB_ROWS)
            fail("too many rows");
          struct pub_row *row = &pub_rows[npub_rows++];
          row->size = size;
          row->iters = iters;
          row->variant = v ? "inplace" : "publish";
          row->checksum = ck;
          row->readers = nr;
          row->st = bench_stats_of(v ? ip : pub, o->runs);
          row->memcpy_st = mst;
          printf("{\"bench\":\"channel_publish\",\"impl\":\"smr_channel\","
                 "\"variant\":\"%s\",\"checksum\":%s,\"readers\":%d,"
                 "\"size\":%llu,\"summary\":true,\"iters\":%llu,\"runs\":%d,"
                 "\"median_ns_per_op\":%.1f,\"min_ns_per_op\":%.1f,"
                 "\"max_ns_per_op\":%.1f,\"median_gb_per_s\":%.3f,"
                 "\"memcpy_median_ns\":%.1f,\"memcpy_min_ns\":%.1f,"
                 "\"memcpy_max_ns\":%.1f,\"x_memcpy\":%.3f}\n",
                 row->variant, ck ? "true" : "false", nr,
                 (unsigned long long)size, (unsigned long long)iters, o->runs,
                 row->st.median, row->st.min, row->st.max,
                 gbps(size, row->st.median), mst.median, mst.min, mst.max,
                 row->st.median / mst.median);
        }
      }
      verify_channel(name, src, size, published, ck);
      writer_destroy(name);
      fflush(stdout);
    }
    free(src);
    free(dst);
  }
  free(mc);
  free(pub);
  free(ip);
  reap_all(0);
}

/* ---- scenario scale --------------------------------------------------------
 */

struct scale_open {
  int rc, cpu;
};

struct scale_result {
  uint64_t reads;
  int64_t ns;
};

/* A scale reader: 'o' open, pin and warm up; 'r' read for --scale-ms and
 * answer the count and the time it took; 'q' (or end of file) close. */
static void scale_child(int cmd, int res, int index) {
  const char *name = names[0]; /* set by scenario_scale before the fork */
  smr_channel_reader *r = NULL;
  int64_t dur = (int64_t)cfg.scale_ms * 1000000;
  for (;;) {
    char c = recv_cmd(cmd);
    if (c == 'q')
      break;
    if (c == 'o') {
      struct scale_open so;
      so.cpu = pin_self(index);
      r = open_checked_reader(name);
      if (cfg.o.warmup > 0)
        check_sum("warm-up", bench_loop_channel_read(r, (uint64_t)cfg.o.warmup),
                  (uint64_t)cfg.o.warmup);
      so.rc = 0;
      reply(res, &so, sizeof so);
    } else if (c == 'r' && r) {
      struct scale_result sr = {0, 0};
      int64_t t0 = bench_now_ns(), t;
      do {
        check_sum("smr_channel_read", bench_loop_channel_read(r, SCALE_CHUNK),
                  SCALE_CHUNK);
        sr.reads += SCALE_CHUNK;
        t = bench_now_ns();
      } while (t - t0 < dur);
      sr.ns = t - t0;
      reply(res, &sr, sizeof sr);
    } else {
      fail("unknown command '%c'", c);
    }
  }
  if (r)
    CHECK(smr_channel_reader_close(r));
}

static struct {
  int done;
  const char *mode;
  int cpu[2];
  struct bench_stats total[2], ratio;
} scale_sum;

static void scenario_scale(void) {
  const struct bench_opts *o = &cfg.o;
  nnames = 0; /* the scale channel must be names[0] for the children */
  const char *name = chan_name("scale");
  fill_payload(read_payload, READ_PAYLOAD);
  spawn(scale_child);
  spawn(scale_child);
  writer_create(name, cfg.symmetric ? SMR_CHANNEL_SYMMETRIC : 0u);
  publish_or_fail(cur_writer, read_payload, READ_PAYLOAD);
  const char *mode = channel_mode(name);
  for (int i = 0; i < 2; i++) {
    struct scale_open so;
    send_cmd(&kids[i], 'o');
    recv_res(&kids[i], &so, sizeof so);
    scale_sum.cpu[i] = so.cpu;
  }
  double *tot[2], *ratio;
  tot[0] = malloc(sizeof(double) * (size_t)o->runs);
  tot[1] = malloc(sizeof(double) * (size_t)o->runs);
  ratio = malloc(sizeof(double) * (size_t)o->runs);
  if (!tot[0] || !tot[1] || !ratio)
    fail("out of memory");
  for (int k = 0; k < o->runs; k++) {
    for (int nr = 1; nr <= 2; nr++) {
      struct scale_result sr[2];
      for (int i = 0; i < nr; i++) /* the start barrier */
        send_cmd(&kids[i], 'r');
      double total = 0;
      for (int i = 0; i < nr; i++) {
        recv_res(&kids[i], &sr[i], sizeof sr[i]);
        total += (double)sr[i].reads * 1e9 / (double)sr[i].ns;
      }
      tot[nr - 1][k] = total;
      printf("{\"bench\":\"channel_scale\",\"impl\":\"smr_channel\",\"mode\":"
             "\"%s\","
             "\"readers\":%d,\"run\":%d,\"ms\":%llu,\"reads\":[%llu",
             mode, nr, k, (unsigned long long)cfg.scale_ms,
             (unsigned long long)sr[0].reads);
      if (nr == 2)
        printf(",%llu", (unsigned long long)sr[1].reads);
      printf("],\"ns\":[%lld", (long long)sr[0].ns);
      if (nr == 2)
        printf(",%lld", (long long)sr[1].ns);
      printf("],\"reads_per_s\":%.0f}\n", total);
    }
    ratio[k] = tot[1][k] / tot[0][k];
  }
  for (int i = 0; i < 2; i++)
    send_cmd(&kids[i], 'q');
  reap_all(0);
  writer_destroy(name);

  scale_sum.total[0] = bench_stats_of(tot[0], o->runs);
  scale_sum.total[1] = bench_stats_of(tot[1], o->runs);
  scale_sum.ratio = bench_stats_of(ratio, o->runs);
  scale_sum.mode = mode;
  scale_sum.done = 1;
  for (int nr = 1; nr <= 2; nr++) {
    const struct bench_stats *t = &scale_sum.total[nr - 1];
    char cpus[32];
    if (nr == 1)
      snprintf(cpus, sizeof cpus, "[%d]", scale_sum.cpu[0]);
    else
      snprintf(cpus, sizeof cpus, "[%d,%d]", scale_sum.cpu[0],
               scale_sum.cpu[1]);
    printf(
        "{\"bench\":\"channel_scale\",\"impl\":\"smr_channel\",\"mode\":\"%s\","
        "\"readers\":%d,\"cpus\":%s,\"summary\":true,\"ms\":%llu,"
        "\"runs\":%d,\"median_reads_per_s\":%.0f,\"min_reads_per_s\":%.0f,"
        "\"max_reads_per_s\":%.0f",
        mode, nr, cpus, (unsigned long long)cfg.scale_ms, o->runs, t->median,
        t->min, t->max);
    if (nr == 2)
      printf(",\"x_one\":%.3f,\"min_x_one\":%.3f,\"max_x_one\":%.3f",
             t->median / scale_sum.total[0].median, scale_sum.ratio.min,
             scale_sum.ratio.max);
    printf("}\n");
  }
  free(tot[0]);
  free(tot[1]);
  free(ratio);
  fflush(stdout);
}

/* ---- tables ----------------------------------------------------------------
 */

static void print_tables(void) {
  const struct bench_opts *o = &cfg.o;
  if (read_sum.done) {
    printf("\nread: 64 B payload, writer idle, reader %s%s; %llu reads x %d "
           "runs\n",
           read_sum.where, read_sum.cpu >= 0 ? " (pinned)" : "",
           (unsigned long long)o->iters, o->runs);
    printf("%-10s %-10s %10s %10s %10s %9s\n", "impl", "mode", "median ns",
           "min ns", "max ns", "x swap");
    printf("%-10s %-10s %10.3f %10.3f %10.3f %9.2f\n", "smr_channel",
           read_sum.channel_mode, read_sum.channel.median, read_sum.channel.min,
           read_sum.channel.max,
           read_sum.channel.median / read_sum.swap.median);
    printf("%-10s %-10s %10.3f %10.3f %10.3f %9.2f\n", "smr_swap",
           read_sum.swap_mode, read_sum.swap.median, read_sum.swap.min,
           read_sum.swap.max, 1.0);
    printf("smr_channel / smr_swap: %.2fx (runs %.2f-%.2f); targets: <= 2x and "
           "< 10 ns\n",
           read_sum.channel.median / read_sum.swap.median, read_sum.ratio.min,
           read_sum.ratio.max);
  }
  if (npub_rows) {
    printf("\npublish: ns per publish (median of %d runs, min-max), against "
           "memcpy of the same size in the same runs\n",
           o->runs);
    printf("%-8s %-8s %-5s %7s %7s %12s %12s %12s %7s %12s %8s\n", "size",
           "variant", "sum", "readers", "iters", "median ns", "min ns",
           "max ns", "GB/s", "memcpy ns", "x memcpy");
    for (int i = 0; i < npub_rows; i++) {
      const struct pub_row *r = &pub_rows[i];
      char sz[32];
      printf("%-8s %-8s %-5s %7d %7llu %12.1f %12.1f %12.1f %7.2f %12.1f "
             "%8.2f\n",
             size_name(sz, sizeof sz, r->size), r->variant,
             r->checksum ? "on" : "off", r->readers,
             (unsigned long long)r->iters, r->st.median, r->st.min, r->st.max,
             gbps(r->size, r->st.median), r->memcpy_st.median,
             r->st.median / r->memcpy_st.median);
    }
    printf("(readers: idle reader processes attached; inplace: begin + "
           "memcpy into the buffer + commit; target for 64 MiB: <= 1.5x "
           "memcpy)\n");
  }
  if (scale_sum.done) {
    printf("\nscale: reader processes reading flat out for %llu ms, %d runs "
           "(%s)\n",
           (unsigned long long)cfg.scale_ms, o->runs, scale_sum.mode);
    printf("%-7s %-7s %14s %14s %14s %14s %7s\n", "readers", "cpus",
           "median reads/s", "min reads/s", "max reads/s", "per reader",
           "x one");
    for (int nr = 1; nr <= 2; nr++) {
      const struct bench_stats *t = &scale_sum.total[nr - 1];
      char cpus[32];
      if (scale_sum.cpu[0] < 0)
        snprintf(cpus, sizeof cpus, "-");
      else if (nr == 1)
        snprintf(cpus, sizeof cpus, "%d", scale_sum.cpu[0]);
      else
        snprintf(cpus, sizeof cpus, "%d,%d", scale_sum.cpu[0],
                 scale_sum.cpu[1]);
      printf("%-7d %-7s %14.0f %14.0f %14.0f %14.0f %7.2f\n", nr, cpus,
             t->median, t->min, t->max, t->median / nr,
             t->median / scale_sum.total[0].median);
    }
    printf("2 readers / 1 reader: %.2fx (runs %.2f-%.2f); target >= 1.8\n",
           scale_sum.total[1].median / scale_sum.total[0].median,
           scale_sum.ratio.min, scale_sum.ratio.max);
  }
}

/* ---- options ---------------------------------------------------------------
 */

static uint64_t parse_size(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t mul = 1;
  if (*end == 'K' || *end == 'k')
    mul = 1ull << 10;
  else if (*end == 'M' || *end == 'm')
    mul = 1ull << 20;
  else if (*end == 'G' || *end == 'g')
    mul = 1ull << 30;
  if (mul != 1)
    end++;
  if (errno || end == s || *end != '\0' || v > (1ull << 40))
    return UINT64_MAX;
  return (uint64_t)v * mul;
}

static void usage_extra(void) {
  fprintf(
      stderr,
      "  --only LIST   scenarios, comma-separated: read,publish,scale "
      "(default: all)\n"
      "  --inproc      read: reader handle in the writer's process, no "
      "fork (for callgrind)\n"
      "  --symmetric   read, scale: channel with SMR_CHANNEL_SYMMETRIC, swap "
      "cell with SMR_SWAP_SYMMETRIC\n"
      "  --sizes LIST  publish: payload sizes, K/M/G suffixes (default "
      "64,64K,64M; --smoke 64,4K,256K)\n"
      "  --dir DIR     where the channel files go (default /dev/shm)\n"
      "  --no-pin      scale (and read): do not pin the reader processes "
      "to CPUs\n"
      "--iters and --warmup count the reads of the read loops (scale: "
      "warm-up only).\n");
}

static void parse_args(int argc, char **argv) {
  cfg.pin = 1;
  cfg.scale_ms = 1000;
  struct bench_ext_opt ext[] = {
      {"--pub-iters", "publishes per run and size (0: ~256 MiB per run)",
       &cfg.pub_iters, 0},
      {"--scale-ms", "scale: duration of one run, ms", &cfg.scale_ms, 0},
      {"--buffers", "K, payload buffers per channel (0: library default)",
       &cfg.buffers, 0},
  };
  size_t next = sizeof ext / sizeof ext[0];
  char **rest = malloc(sizeof(char *) * ((size_t)argc + 1));
  if (!rest)
    abort();
  int n = 0;
  const char *only = NULL, *sizes = NULL;
  rest[n++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      bench_usage_ext(argv[0], DEFAULT_ITERS, ext, next);
      usage_extra();
      exit(0);
    } else if (strcmp(a, "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(a, "--sizes") == 0 && i + 1 < argc) {
      sizes = argv[++i];
    } else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
      cfg.dir = argv[++i];
    } else if (strcmp(a, "--inproc") == 0) {
      cfg.inproc = 1;
    } else if (strcmp(a, "--symmetric") == 0) {
      cfg.symmetric = 1;
    } else if (strcmp(a, "--no-pin") == 0) {
      cfg.pin = 0;
    } else {
      rest[n++] = argv[i];
    }
  }
  rest[n] = NULL;
  cfg.o = bench_parse_ext(n, rest, DEFAULT_ITERS, SMOKE_ITERS, ext, next);
  free(rest);
  if (cfg.o.smoke && !ext[1].given)
    cfg.scale_ms = 20;
  if (cfg.scale_ms == 0 || cfg.scale_ms > 3600000 ||
      cfg.buffers > SMR_CHANNEL_MAX_BUFFERS || cfg.buffers == 1) {
    fprintf(stderr,
            "%s: need 1 <= --scale-ms <= 3600000 and --buffers 0 or "
            "2..32\n",
            argv[0]);
    exit(2);
  }
  if (cfg.dir && cfg.dir[0] == '\0') {
    fprintf(stderr, "%s: empty --dir\n", argv[0]);
    exit(2);
  }

  if (!only) {
    cfg.do_read = cfg.do_publish = cfg.do_scale = 1;
  } else {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", only);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
      if (strcmp(t, "read") == 0)
        cfg.do_read = 1;
      else if (strcmp(t, "publish") == 0)
        cfg.do_publish = 1;
      else if (strcmp(t, "scale") == 0)
        cfg.do_scale = 1;
      else {
        fprintf(stderr, "%s: --only: unknown scenario '%s'\n", argv[0], t);
        exit(2);
      }
    }
  }
  if (!sizes)
    sizes = cfg.o.smoke ? "64,4K,256K" : "64,64K,64M";
  char buf[256];
  snprintf(buf, sizeof buf, "%s", sizes);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
       t = strtok_r(NULL, ",", &save)) {
    uint64_t v = parse_size(t);
    if (v == UINT64_MAX || cfg.nsizes == MAX_SIZES) {
      fprintf(stderr, "%s: --sizes: bad size '%s' (or more than %d)\n", argv[0],
              t, MAX_SIZES);
      exit(2);
    }
    cfg.sizes[cfg.nsizes++] = v;
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN); /* a dead child shows as a write error */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  find_cpus();
  if (cfg.do_read) {
    nnames = 0;
    scenario_read();
  }
  if (cfg.do_publish)
    scenario_publish();
  if (cfg.do_scale)
    scenario_scale();
  print_tables();
  return 0;
}
