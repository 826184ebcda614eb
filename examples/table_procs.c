/* SPDX-License-Identifier: MIT */
/* Demo: one writer process shares a 1,000,000-entry lookup table with
 * several reader processes through a channel (smr/channel.h + smr/table.h).
 *
 * The writer builds the table straight into the channel's buffer and
 * publishes it, then keeps changing a few thousand values and publishing
 * new versions.  Each reader process looks up random keys in place in the
 * writer's memory (zero-copy: no parsing, no copying), checks every value
 * it gets against the key, and prints its throughput and the versions it
 * has seen.  At the end the demo prints lookups/s per process and the
 * ratio against the same lookups through the same table in the demo's own
 * memory.
 *
 *   table_procs [--entries N] [--readers R] [--seconds S] [--interval-ms M]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smr.h>

static unsigned n_entries = 1000000, n_readers = 2;
static double seconds = 6.0;
static unsigned interval_ms = 500;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, int err) {
  fprintf(stderr, "table_procs: %s: %s\n", what,
          strerror(err < 0 ? -err : err));
  exit(1);
}

static uint64_t rng(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* "user:%07u", without sprintf (it would cost more than the lookup). */
static int key_of(unsigned i, char *k) {
  memcpy(k, "user:", 5);
  for (int d = 11; d >= 5; d--, i /= 10)
    k[d] = (char)('0' + i % 10);
  k[12] = '\0';
  return 12;
}

/* The value of key i in generation g: "id=<i> plan=<...> gen=<g>". */
static int value_of(unsigned i, unsigned g, char *v) {
  static const char *plans[] = {"free", "pro", "team", "enterprise"};
  return sprintf(v, "id=%u plan=%s quota=%u gen=%u", i, plans[i % 4],
                 (i * 37) % 1000, g);
}

/* A value is right if it names its key's id (whatever the generation). */
static int value_ok(unsigned i, const smr_table_value *v) {
  const char *p = v->data, *end = p + v->size;
  if (v->size < 5 || memcmp(p, "id=", 3) != 0)
    return 0;
  unsigned id = 0; /* parse, rather than sprintf: cheaper than the lookup */
  for (p += 3; p < end && *p >= '0' && *p <= '9'; p++)
    id = id * 10 + (unsigned)(*p - '0');
  return p < end && *p == ' ' && id == i;
}

/* Build the table of generation gen[] into buf. */
static int build(void *buf, uint64_t cap, const unsigned *gen, uint64_t *size) {
  smr_table_builder b;
  int r = smr_table_build_begin(&b, buf, cap, n_entries);
  char k[32], v[96];
  for (unsigned i = 0; r == 0 && i < n_entries; i++) {
    int kl = key_of(i, k), vl = value_of(i, gen[i], v);
    r = smr_table_build_add(&b, k, (size_t)kl, v, (size_t)vl);
  }
  return r ? r : smr_table_build_end(&b, size);
}

static uint64_t table_cap(void) {
  return smr_table_size_bound(n_entries, (uint64_t)n_entries * (13 + 64));
}

struct result {
  double lookups_per_s; /* while the writer publishes */
  double mapped, local; /* writer idle: the channel's table, a local copy */
  uint64_t lookups, versions, bad;
};

/* Look up `count` random keys; returns how many values were wrong. */
static uint64_t lookups(const smr_table *t, uint64_t *seed, unsigned count,
                        uint64_t *sink) {
  uint64_t bad = 0;
  char k[32];
  for (unsigned j = 0; j < count; j++) {
    unsigned i = (unsigned)(rng(seed) % n_entries);
    int kl = key_of(i, k);
    smr_table_value v;
    if (smr_table_get(t, k, (size_t)kl, &v) != 0 || !value_ok(i, &v))
      bad++;
    else
      *sink += ((const unsigned char *)v.data)[v.size - 1];
  }
  return bad;
}

/* Lookups per second through t for one second. */
static double rate(const smr_table *t, uint64_t *seed, uint64_t *bad,
                   uint64_t *sink) {
  uint64_t n = 0;
  double t0 = now_s(), t1;
  while ((t1 = now_s()) - t0 < 1.0) {
    *bad += lookups(t, seed, 4096, sink);
    n += 4096;
  }
  return (double)n / (t1 - t0);
}

static void reader(const char *chan, unsigned id, int out) {
  smr_channel_reader *r;
  int rc = smr_channel_reader_open(chan, 0, &r);
  if (rc)
    die("smr_channel_reader_open", rc);
  uint64_t seed = 1234 + id, sink = 0, version = 0;
  struct result res;
  memset(&res, 0, sizeof res);
  smr_table t;
  double start = now_s(), last = start, end = start + seconds;
  uint64_t at_last = 0;
  for (double now = start; now < end; now = now_s()) {
    smr_channel_guard g;
    rc = smr_channel_read(r, &g);
    if (rc)
      die("smr_channel_read", rc);
    if (g.version != version) { /* a new version: validate it once */
      rc = smr_table_open(&t, g.data, g.size);
      if (rc)
        die("smr_table_open", rc);
      version = g.version;
      res.versions++;
    }
    res.bad += lookups(&t, &seed, 4096, &sink);
    res.lookups += 4096;
    smr_channel_release(r, &g);
    if (now - last >= 1.0) {
      printf("  reader %u: %6.1f M lookups/s  version %-4llu (%llu seen)\n", id,
             (double)(res.lookups - at_last) / (now - last) / 1e6,
             (unsigned long long)version, (unsigned long long)res.versions);
      fflush(stdout);
      last = now;
      at_last = res.lookups;
    }
  }
  res.lookups_per_s = (double)res.lookups / (now_s() - start);
  /* The writer has stopped: the same lookups through the channel's table,
   * then through a copy of it in our own memory. */
  smr_channel_guard g;
  if ((rc = smr_channel_read(r, &g)) ||
      (rc = smr_table_open(&t, g.data, g.size)))
    die("final read", rc);
  res.mapped = rate(&t, &seed, &res.bad, &sink);
  void *copy = malloc(g.size ? (size_t)g.size : 1);
  if (!copy)
    die("malloc", ENOMEM);
  memcpy(copy, g.data, (size_t)g.size);
  smr_channel_release(r, &g);
  if ((rc = smr_table_open(&t, copy, g.size)))
    die("local table", rc);
  res.local = rate(&t, &seed, &res.bad, &sink);
  free(copy);
  smr_channel_reader_close(r);
  if (sink == 42) /* keep the lookups' reads alive */
    putchar(' ');
  if (write(out, &res, sizeof res) != (ssize_t)sizeof res)
    _exit(2);
  _exit(res.bad ? 3 : 0);
}

static void usage(void) {
  printf("usage: table_procs [--entries N] [--readers R] [--seconds S] "
         "[--interval-ms M]\n");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      usage();
      return 0;
    } else if (v && strcmp(a, "--entries") == 0) {
      n_entries = (unsigned)strtoul(v, NULL, 10), i++;
    } else if (v && strcmp(a, "--readers") == 0) {
      n_readers = (unsigned)strtoul(v, NULL, 10), i++;
    } else if (v && strcmp(a, "--seconds") == 0) {
      seconds = strtod(v, NULL), i++;
    } else if (v && strcmp(a, "--interval-ms") == 0) {
      interval_ms = (unsigned)strtoul(v, NULL, 10), i++;
    } else {
      usage();
      return 2;
    }
  }
  if (n_entries < 1 || n_readers < 1 || n_readers > 64 || seconds <= 0) {
    usage();
    return 2;
  }
  char dir[] = "/dev/shm/smr-demo-XXXXXX", chan[64];
  if (!mkdtemp(dir))
    die("mkdtemp", errno);
  snprintf(chan, sizeof chan, "%s/table", dir);

  unsigned *gen = calloc(n_entries, sizeof *gen);
  if (!gen)
    die("calloc", ENOMEM);
  smr_channel_writer *w;
  int rc = smr_channel_writer_open(chan, NULL, &w);
  if (rc)
    die("smr_channel_writer_open", rc);
  double t0 = now_s();
  void *buf;
  uint64_t size = 0, cap = table_cap();
  if ((rc = smr_channel_begin(w, cap, &buf)) ||
      (rc = build(buf, cap, gen, &size)) ||
      (rc = smr_channel_commit(w, size, NULL)))
    die("first publish", rc);
  printf("writer: %u entries, %.1f MB table built in place and published in "
         "%.0f ms\n",
         n_entries, (double)size / 1e6, (now_s() - t0) * 1e3);
  printf("%u reader processes look up random keys for %.0f s; the writer "
         "changes 1000 values every %u ms\n",
         n_readers, seconds, interval_ms);
  fflush(stdout);

  int pipes[64][2];
  pid_t kids[64];
  for (unsigned i = 0; i < n_readers; i++) {
    if (pipe(pipes[i]) != 0)
      die("pipe", errno);
    kids[i] = fork();
    if (kids[i] < 0)
      die("fork", errno);
    if (kids[i] == 0) {
      close(pipes[i][0]);
      reader(chan, i, pipes[i][1]);
    }
    close(pipes[i][1]);
  }

  /* Writer: a few changes, a new version, every interval. */
  uint64_t seed = 99, publishes = 1;
  double end = now_s() + seconds, build_ms = 0;
  while (now_s() < end) {
    struct timespec ts = {(time_t)(interval_ms / 1000),
                          (long)(interval_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* pacing the demo's writer, not synchronization */
    for (int j = 0; j < 1000; j++)
      gen[rng(&seed) % n_entries]++;
    double b0 = now_s();
    if ((rc = smr_channel_begin(w, cap, &buf)) ||
        (rc = build(buf, cap, gen, &size)) ||
        (rc = smr_channel_commit(w, size, NULL)))
      die("publish", rc);
    build_ms += (now_s() - b0) * 1e3;
    publishes++;
  }

  struct result res[64];
  double total = 0;
  int failed = 0;
  for (unsigned i = 0; i < n_readers; i++) {
    int st;
    if (read(pipes[i][0], &res[i], sizeof res[i]) != (ssize_t)sizeof res[i])
      failed = 1;
    waitpid(kids[i], &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      failed = 1;
    total += res[i].lookups_per_s;
  }
  smr_channel_writer_close(w);
  printf("writer: %llu versions published, %.0f ms per rebuild + publish\n",
         (unsigned long long)publishes,
         publishes > 1 ? build_ms / (double)(publishes - 1) : 0.0);

  printf("\n%-20s %18s %9s %15s %15s %8s\n", "", "lookups/s (writer",
         "versions", "then, writer idle:", "", "");
  printf("%-20s %18s %9s %15s %15s %8s\n", "", "publishing)", "seen",
         "in the channel", "in own memory", "ratio");
  double mapped = 0, local = 0;
  for (unsigned i = 0; i < n_readers; i++) {
    printf("reader process %-5u %16.2f M %9llu %13.2f M %13.2f M %8.2f\n", i,
           res[i].lookups_per_s / 1e6, (unsigned long long)res[i].versions,
           res[i].mapped / 1e6, res[i].local / 1e6,
           res[i].local > 0 ? res[i].mapped / res[i].local : 0.0);
    mapped += res[i].mapped;
    local += res[i].local;
  }
  printf("%-20s %16.2f M %9s %13.2f M %13.2f M %8.2f\n", "all", total / 1e6, "",
         mapped / 1e6, local / 1e6, local > 0 ? mapped / local : 0.0);
  printf("(ratio: lookups in the writer's shared, zero-copy table / the same "
         "lookups in a private copy; every value checked: %s)\n",
         failed ? "ERRORS" : "all correct");
  free(gen);
  smr_channel_unlink(chan);
  rmdir(dir);
  return failed ? 1 : 0;
}
