/* SPDX-License-Identifier: MIT */
/* smr bench: N reader processes look up random keys of the channel's table
 * flat out for S seconds.
 *
 * Each child opens its own reader, samples up to SAMPLE_MAX keys of the
 * current table (copied out, so they stay valid across versions), tells
 * the parent it is ready and waits for the start (the parent closes the
 * "go" pipe once every child is ready: all start together).  Each lookup
 * is a whole read: guard, lookup, touch the value, release; the table is
 * re-validated only when the version changes.  Results come back through a
 * pipe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define SAMPLE_MAX  (1u << 20) /* keys sampled per process */
#define CHECK_EVERY 1024u      /* lookups between clock reads */

static volatile uint64_t bench_sink;

struct result {
  uint32_t proc;
  uint32_t ok;
  uint64_t lookups, found, versions;
  int64_t ns;
};

struct sample {
  uint64_t n;
  uint64_t *off; /* n + 1 offsets into bytes */
  unsigned char *bytes;
};

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* Selection sampling (Knuth's algorithm S): m of the table's keys, each
 * equally likely, in one pass. */
static int sample_keys(const smr_table *t, uint64_t *rng, struct sample *s) {
  uint64_t total = smr_table_count(t);
  uint64_t m = total < SAMPLE_MAX ? total : SAMPLE_MAX;
  uint64_t bytes = 0, cur = 0, seen = 0, took = 0;
  smr_table_entry e;
  memset(s, 0, sizeof *s);
  s->off = malloc((size_t)(m + 1) * sizeof *s->off);
  uint64_t cap = 1 << 16;
  s->bytes = malloc((size_t)cap);
  if (!s->off || !s->bytes)
    return -ENOMEM;
  s->off[0] = 0;
  while (took < m && smr_table_next(t, &cur, &e) == 1) {
    if (rng_next(rng) % (total - seen++) >= m - took)
      continue;
    if (bytes + e.key.size > cap) {
      while (bytes + e.key.size > cap)
        cap *= 2;
      unsigned char *nb = realloc(s->bytes, (size_t)cap);
      if (!nb)
        return -ENOMEM;
      s->bytes = nb;
    }
    if (e.key.size)
      memcpy(s->bytes + bytes, e.key.data, e.key.size);
    bytes += e.key.size;
    s->off[++took] = bytes;
  }
  s->n = took;
  return 0;
}

/* The child's reader (unverified) and its sample of the current table's
 * keys: XS_OK, or the status with the message printed (tr closed). */
static int child_setup(const char *ch, uint32_t proc, struct table_read *tr,
                       uint64_t *rng, struct sample *s) {
  enum table_step step;
  /* No SMR_CHANNEL_VERIFY: measured lookups, not a checksum pass per version
   * (cmd_bench verified the current version once). */
  int e = table_read(ch, 0, tr, &step);
  if (e < 0 && step == STEP_OPEN) {
    msg("process %u: channel '%s': cannot open: %s", proc, ch,
        chan_strerror(e, false));
    return XS_CHANNEL;
  }
  if (e == 0)
    e = sample_keys(tr->t, rng, s);
  table_release(tr);
  if (e == 0 && s->n == 0)
    e = -ENOENT;
  if (e < 0) {
    msg("process %u: channel '%s': %s", proc, ch,
        e == -ENOENT ? "the table is empty" : chan_strerror(e, false));
    table_close(tr);
    return e == -ENODATA ? XS_NOTFOUND : XS_CHANNEL;
  }
  return XS_OK;
}

/* Look random keys of s up for ns nanoseconds, counting into res. */
static void lookups(const char *ch, struct table_read *tr, int64_t ns,
                    uint64_t *rng, const struct sample *s, struct result *res) {
  const smr_table *t;
  smr_channel_guard g;
  uint64_t seen = tr->tc.version, sink = 0;
  int64_t start = now_ns(), end = start + ns, now = start;
  int e = 0;
  while (now < end) {
    for (unsigned i = 0; i < CHECK_EVERY; i++) {
      uint64_t k = rng_next(rng) % s->n;
      e = smr_channel_read(tr->r, &g);
      if (e < 0)
        break;
      if (table_of(&tr->tc, &g, &t) == 0) {
        smr_table_value v;
        if (smr_table_get(t, s->bytes + s->off[k], s->off[k + 1] - s->off[k],
                          &v) == 0) {
          res->found++;
          sink += v.size ? *(const unsigned char *)v.data : 1;
        }
      }
      if (g.version != seen) {
        seen = g.version;
        res->versions++;
      }
      smr_channel_release(tr->r, &g);
      res->lookups++;
    }
    if (e < 0) {
      msg("process %u: channel '%s': cannot read: %s", res->proc, ch,
          chan_strerror(e, false));
      res->ok = 0;
      break;
    }
    now = now_ns();
  }
  res->ns = now - start;
  bench_sink = sink; /* keeps the value reads */
}

static int child(const char *ch, uint32_t proc, int64_t ns, int ready_fd,
                 int go_fd, int res_fd) {
  uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)getpid() << 32) ^ proc;
  struct table_read tr;
  struct sample s;
  int x = child_setup(ch, proc, &tr, &rng, &s);
  if (x != XS_OK)
    return x;
  /* Ready; then block until the parent closes the go pipe. */
  char b = 'r';
  if (write(ready_fd, &b, 1) != 1)
    return XS_SYSTEM;
  close(ready_fd);
  while (read(go_fd, &b, 1) < 0 && errno == EINTR)
    ;
  struct result res = {proc, 1, 0, 0, 0, 0};
  lookups(ch, &tr, ns, &rng, &s, &res);
  table_close(&tr);
  free(s.off);
  free(s.bytes);
  if (write(res_fd, &res, sizeof res) != (ssize_t)sizeof res)
    return XS_SYSTEM;
  return res.ok ? XS_OK : XS_CHANNEL;
}

static const char bench_help[] =
    "Usage: smr bench [OPTIONS] CHANNEL\n"
    "Fork reader processes that each open CHANNEL, sample up to 1,048,576\n"
    "keys of its table and look random ones up for the given time (each\n"
    "lookup: pin the payload, look up, read the value, release), then print\n"
    "lookups per second per process and in total.  A measurement, not a\n"
    "test: run it on an otherwise idle machine.\n"
    "The current version is verified once before the start; the lookup\n"
    "processes do not verify checksums (unlike get, dump and watch), since\n"
    "each new version would cost them a pass over the whole payload.\n"
    "\n"
    "Options:\n"
    "  --procs N          reader processes (default 1)\n"
    "  --seconds S        how long to look up (default 2; fractions allowed)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done; 1 nothing published; 2 usage; 4 channel error;\n"
    "5 not a table; 6 system (fork, pipes).\n";

/* Check the current version once, for one clear message instead of N. */
static int check_table(const char *ch) {
  struct table_read tr;
  enum table_step step;
  int e = table_read(ch, SMR_CHANNEL_VERIFY, &tr, &step);
  if (e < 0 && step != STEP_TABLE)
    return table_read_error(ch, &tr, e, step);
  int x = XS_OK;
  if (e < 0) {
    msg("channel '%s': the payload of version %" PRIu64 " is not a table: %s",
        ch, tr.g.version, strerror(-e));
    x = XS_NOTABLE;
  } else if (smr_table_count(tr.t) == 0) {
    msg("channel '%s': the table is empty", ch);
    x = XS_NOTFOUND;
  }
  table_close(&tr);
  return x;
}

/* The pipes between the parent and its children. */
struct pipes {
  int ready[2], go[2], res[2];
};

/* Fork up to procs children (pids[i]): how many started; *x = XS_SYSTEM
 * if a fork failed. */
static uint64_t start_children(const char *ch, uint64_t procs, int64_t ns,
                               const struct pipes *p, pid_t *pids, int *x) {
  uint64_t started = 0;
  for (; started < procs; started++) {
    pid_t pid = fork();
    if (pid < 0) {
      msg("fork: %s", strerror(errno));
      *x = XS_SYSTEM;
      break;
    }
    if (pid == 0) {
      close(p->ready[0]);
      close(p->go[1]);
      close(p->res[0]);
      int cx =
          child(ch, (uint32_t)started, ns, p->ready[1], p->go[0], p->res[1]);
      fflush(NULL);
      _exit(cx);
    }
    pids[started] = pid;
  }
  return started;
}

/* Every child ready (or gone): then start them all, and read their results
 * into rs (if not NULL): how many came. */
static uint64_t run_children(const struct pipes *p, uint64_t started,
                             struct result *rs) {
  char b;
  for (uint64_t n = 0; n < started;) {
    ssize_t k = read(p->ready[0], &b, 1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    n++;
  }
  close(p->go[1]);
  uint64_t got = 0;
  for (;;) {
    struct result one;
    ssize_t k = read(p->res[0], &one, sizeof one);
    if (k < 0 && errno == EINTR)
      continue;
    if (k != (ssize_t)sizeof one)
      break;
    if (rs && one.proc < started)
      rs[one.proc] = one;
    got++;
  }
  return got;
}

/* Wait for every child; the first failure's status into *x. */
static void reap_children(const pid_t *pids, uint64_t started, int *x) {
  for (uint64_t i = 0; i < started; i++) {
    int status;
    while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
      ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (WIFSIGNALED(status))
        msg("process %" PRIu64 " died of signal %d", i, WTERMSIG(status));
      if (*x == XS_OK)
        *x = WIFEXITED(status) ? WEXITSTATUS(status) : XS_SYSTEM;
    }
  }
}

static int print_results(const struct result *rs, uint64_t started) {
  double total = 0;
  for (uint64_t i = 0; i < started; i++) {
    double s = (double)rs[i].ns / 1e9, rate = s > 0 ? rs[i].lookups / s : 0;
    total += rate;
    printf("process %" PRIu64 ": %" PRIu64 " lookups in %.2f s: %.2f M/s, "
           "%.1f%% found, %" PRIu64 " new versions\n",
           i, rs[i].lookups, s, rate / 1e6,
           rs[i].lookups ? 100.0 * (double)rs[i].found / rs[i].lookups : 0,
           rs[i].versions);
  }
  printf("total: %.2f M lookups/s in %" PRIu64 " process%s\n", total / 1e6,
         started, started == 1 ? "" : "es");
  return flush_stdout();
}

/* Fork procs lookup processes for ns nanoseconds and print their rates. */
static int bench(const char *ch, uint64_t procs, int64_t ns) {
  struct pipes p;
  if (pipe2(p.ready, O_CLOEXEC) || pipe2(p.go, O_CLOEXEC) ||
      pipe2(p.res, O_CLOEXEC)) {
    msg("pipe: %s", strerror(errno));
    return XS_SYSTEM;
  }
  fflush(NULL);
  pid_t *pids = calloc((size_t)procs, sizeof *pids);
  if (!pids) {
    msg("out of memory");
    return XS_SYSTEM;
  }
  int x = XS_OK;
  uint64_t started = start_children(ch, procs, ns, &p, pids, &x);
  close(p.ready[1]);
  close(p.go[0]);
  close(p.res[1]);
  struct result *rs = calloc((size_t)started + 1, sizeof *rs);
  uint64_t got = run_children(&p, started, rs);
  close(p.ready[0]);
  close(p.res[0]);
  reap_children(pids, started, &x);
  if (!rs) {
    msg("out of memory");
    x = XS_SYSTEM;
  }
  if (x == XS_OK && got == started)
    x = print_results(rs, started);
  free(rs);
  free(pids);
  return x;
}

int cmd_bench(int argc, char **argv) {
  enum { O_PROCS = 256, O_SECONDS };
  static const struct option opts[] = {
      {"procs", required_argument, NULL, O_PROCS},
      {"seconds", required_argument, NULL, O_SECONDS},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  uint64_t procs = 1;
  int64_t ns = 2000000000;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case O_PROCS:
      if (!parse_uint(optarg, 1, SMR_CHANNEL_MAX_READERS, &procs))
        return usage_error("--procs: expected 1..%u, got '%s'",
                           SMR_CHANNEL_MAX_READERS, optarg);
      break;
    case O_SECONDS:
      if (!parse_seconds(optarg, &ns))
        return usage_error("--seconds: expected seconds, got '%s'", optarg);
      break;
    case 'h':
      return print_text(bench_help);
    default:
      return bad_option(c, argv);
    }
  }
  if (argc - optind != 1)
    return usage_error("expected CHANNEL");
  const char *ch = argv[optind];
  int x = check_table(ch);
  return x != XS_OK ? x : bench(ch, procs, ns);
}
