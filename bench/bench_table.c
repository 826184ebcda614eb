/* SPDX-License-Identifier: MIT */
/* bench_table: key lookups in a flat table (smr/table.h) that a reader
 * process maps from a channel (smr/channel.h), against an in-process
 * open-addressing hash table and tinycdb, side by side in one run (issue 5).
 *
 * Data, the same for every implementation: N entries (--entries, default
 * 1,000,000); keys random 8-24 byte strings of [a-z0-9] (unique: five of
 * their characters spell the entry's number in base 36) or, with
 * --seq-keys, "key%08u" added in shuffled order; values random 16-32 byte
 * strings.  Three workloads: "hit" looks up present keys only; "miss"
 * (--miss-pct P, default 10; 0 skips it) makes P% of the lookups absent
 * keys (a present key with its first byte replaced by '#', which no present
 * key contains); "chained" (--no-chain skips it) runs the hit queries with
 * each lookup's address depending on the previous lookup's value, so they
 * cannot overlap: hit and miss measure throughput (as many lookups in
 * flight as the CPU's out-of-order window holds), chained the latency of
 * one lookup.  The lookups of a workload are drawn once, up front
 * (splitmix64, keys uniformly at random), and their bytes laid out one
 * after the other in a query stream (a length byte, the key's bytes), so
 * the timed loops read their keys sequentially, spend nothing on random
 * numbers or on an index -> key indirection, and every implementation reads
 * the same stream.  Each lookup loads the value's first byte (summed;
 * misses counted) and every loop's result is checked against the stream's
 * expected sum and miss count.
 *
 * Implementations (the loops are the noinline functions named in brackets,
 * for callgrind):
 *   smr_table       [bench_loop_table] this process (the writer) creates a
 *                   channel in /dev/shm and builds the table in place
 *                   (smr_channel_begin with smr_table_size_bound,
 *                   smr_table_build_*, smr_channel_commit); a reader process,
 *                   forked before the writer opened, opens a reader, takes a
 *                   guard, smr_table_open once (the validation is timed and
 *                   reported apart), then looks up with smr_table_get while
 *                   it holds the guard.
 *   smr_table_lazy  [bench_loop_table] the same loop on the same bytes
 *                   opened with smr_table_open_lazy (header only; each
 *                   lookup checks the buckets and records it reads): the
 *                   cost of those checks, validated vs lazy measured
 *                   alternately in every run ("table x" of this row).
 *   smr_table_checked [bench_loop_table] the same loop on the same bytes
 *                   opened with smr_table_open_checked, the check
 *                   smr_channel_verify_range on the guard: every bucket and
 *                   record range verified against the channel's block
 *                   checksums (each 64 KiB block hashed once, at the first
 *                   lookup that reads it; after that a bitmap test): the
 *                   cost of a verified lookup in a long-lived reader.
 *   smr_table_read  [bench_loop_table_read] the same plus smr_channel_read and
 *                   smr_channel_release around every --read-batch lookups
 *                   (default 1: a fresh guard per lookup, as a reader that
 *                   pins the current version per request).
 *   hash            [bench_loop_hash] an in-process open-addressing hash
 *                   table built in the reader process: a power-of-two array
 *                   of 32-byte slots {XXH3-64 hash, key pointer, value
 *                   pointer, key length, value length}, sized like the
 *                   smr table (>= 1.5 N + 1 slots), linear probing, the
 *                   full hash compared before the key; keys and values side
 *                   by side in one arena in insertion order, as the table's
 *                   records are.  Same hash (xxhash.h, XXH_INLINE_ALL).
 *   tinycdb         [bench_loop_cdb] Debian's tinycdb: a cdb file written
 *                   with cdb_make into /dev/shm (unlinked once mapped),
 *                   mapped by cdb_init in the reader process, looked up with
 *                   cdb_find and read in place with cdb_getdata.
 * Every loop runs in the reader process, all of them in every run (the
 * order rotates from run to run), so they share the CPU, the cache state
 * and the query stream; the writer waits on a pipe meanwhile.  Memory is
 * in 4 KiB pages for all of them (/dev/shm is tmpfs; with transparent huge
 * pages on "madvise" or "never" malloc gets none either).  Before timing,
 * the reader looks every key up in each implementation and compares the
 * whole value, and looks up one absent key per entry (untimed; it also
 * warms the mappings), then runs --warmup lookups per loop.
 *
 * Reported: ns per lookup, median and min-max over --runs (default 7); for
 * each workload smr_table's speed relative to the others (their ns over
 * its ns: the targets are >= 0.8 against the in-process table and >= 1.5
 * against tinycdb), also as the spread of the per-run ratios; and the
 * setup costs (build and publish, smr_table_open's validation, the hash
 * table's and the cdb file's builds, their sizes).  One JSON object per
 * timed run and per summary, then the tables.  Timings are never judged.
 *
 *   bench_table [--entries N] [--iters L] [--runs R] [--miss-pct P]
 *               [--seq-keys] [--no-chain] [--read-batch B] [--pin]
 *               [--inproc] [--only table,lazy,checked,read,hash,cdb] [--smoke]
 *
 * --inproc runs the loops in this process (the reader handle beside the
 * idle writer), for callgrind:
 *   valgrind --tool=callgrind --toggle-collect=bench_loop_table \
 *     --toggle-collect=bench_loop_table_read --toggle-collect=bench_loop_hash \
 *     --toggle-collect=bench_loop_cdb --callgrind-out-file=cg.out \
 *     bench_table --inproc --iters 100000 --runs 1 --warmup 0 \
 *     --miss-pct 0 --no-chain
 *   callgrind_annotate --inclusive=yes cg.out | grep bench_loop
 * (each loop's Ir / iters = instructions per lookup, loop included).
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET; implies POSIX 2008 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cdb.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "smr/channel.h"
#include "smr/epoch.h" /* smr_fence_init */
#include "smr/table.h"

#include "bench_common.h"

#define DEFAULT_ITERS   2000000ull /* lookups per run and loop */
#define SMOKE_ITERS     20000ull
#define DEFAULT_ENTRIES 1000000ull
#define SMOKE_ENTRIES   10000ull
#define MAX_RUNS        1000

enum {
  L_TABLE,
  L_TABLE_LAZY,
  L_TABLE_CHECKED,
  L_TABLE_READ,
  L_HASH,
  L_CDB,
  NLOOPS
};
static const char *const loop_name[NLOOPS] = {
    "smr_table",      "smr_table_lazy", "smr_table_checked",
    "smr_table_read", "hash",           "tinycdb"};
static const char *const loop_opt[NLOOPS] = {"table", "lazy", "checked",
                                             "read",  "hash", "cdb"};

enum { W_HIT, W_MISS, W_CHAIN, NWORK };

static struct cfg {
  struct bench_opts o;
  uint64_t entries, miss_pct, read_batch;
  int seq_keys, pin, inproc, no_chain;
  int want[NLOOPS];
} cfg;

/* ---- failure and cleanup ------------------------------------------------ */

static char chan[256];     /* the channel's name */
static char cdb_path[256]; /* the cdb file, until mapped and unlinked */
static pid_t child = -1;   /* the reader process, in the parent */
static int in_child;
static smr_channel_writer *writer;
static volatile sig_atomic_t got_signal;

/* Report and exit 1.  The parent stops the reader process and removes the
 * channel; the reader process removes its cdb file and just exits. */
#if defined(__GNUC__)
#define BT_FAIL_ATTR __attribute__((format(printf, 1, 2), noreturn))
#else
#define BT_FAIL_ATTR
#endif
static void fail(const char *fmt, ...) BT_FAIL_ATTR;

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!in_child && got_signal) {
    fprintf(stderr, "bench_table: signal %d: stopping\n", (int)got_signal);
  } else {
    fprintf(stderr, "bench_table: %s", in_child ? "reader process: " : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
  }
  va_end(ap);
  if (cdb_path[0])
    unlink(cdb_path);
  if (in_child)
    _exit(1);
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  smr_channel_writer_close(writer);
  if (chan[0])
    (void)smr_channel_unlink(chan);
  exit(got_signal ? 128 + got_signal : 1);
}

/* SIGINT, SIGTERM, SIGHUP: a real run leaves ~150 MiB in /dev/shm
 * otherwise.  With a reader process, the parent kills it and carries on:
 * it is waiting for the reader (or about to), sees it die and goes through
 * fail(), which removes the channel.  Otherwise (the reader process
 * itself, or --inproc) the files go here: the cdb file, and with
 * --inproc the channel, after closing the writer that locks it (not
 * async-signal-safe, as smr_channel_unlink is not either: the program is
 * ending anyway). */
static void on_signal(int sig) {
  got_signal = sig;
  if (child > 0) {
    kill(child, SIGKILL);
    return;
  }
  if (cdb_path[0])
    unlink(cdb_path);
  if (!in_child && chan[0]) {
    smr_channel_writer_close(writer);
    smr_channel_unlink(chan);
  }
  _exit(128 + sig);
}

#define CHECK(call)                                                            \
  do {                                                                         \
    long check_rc_ = (long)(call);                                             \
    if (check_rc_ != 0)                                                        \
      fail("%s:%d: %s returned %ld (%s)", __FILE__, __LINE__, #call,           \
           check_rc_, check_rc_ < 0 ? strerror((int)-check_rc_) : "?");        \
  } while (0)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    fail("out of memory (%zu bytes)", n);
  return p;
}

/* ---- data ---------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n), n < 2^32. */
static uint32_t rnd_below(uint64_t n) {
  return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* Entry i: key at arena + off[i] (klen[i] bytes), then its value (vlen[i]). */
static unsigned char *arena;
static uint64_t *off;
static uint8_t *klen, *vlen;
static uint64_t kv_bytes; /* keys and values */

/* A workload's query stream and what its lookups must give. */
struct stream {
  unsigned char *q;
  uint64_t n, bytes;
  uint64_t expect; /* sum of the values' first bytes + (misses << 40) */
  int chained;     /* the loops' chained mode */
  int shared;      /* q belongs to another workload */
};
static struct stream work[NWORK];

#define MISS_SHIFT 40 /* first bytes sum below 2^40 for < 2^32 lookups */

static void gen_entries(void) {
  uint64_t n = cfg.entries;
  off = xmalloc(n * sizeof *off);
  klen = xmalloc(n);
  vlen = xmalloc(n);
  arena = xmalloc(n * (24 + 32));
  uint32_t *perm = NULL;
  if (cfg.seq_keys) { /* insertion order shuffled (Fisher-Yates) */
    perm = xmalloc(n * sizeof *perm);
    for (uint64_t i = 0; i < n; i++)
      perm[i] = (uint32_t)i;
    for (uint64_t i = n - 1; i > 0; i--) {
      uint32_t j = rnd_below(i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n; i++) {
    unsigned char *k = arena + pos;
    if (cfg.seq_keys) {
      char tmp[16];
      snprintf(tmp, sizeof tmp, "key%08u", (unsigned)perm[i]);
      klen[i] = 11;
      memcpy(k, tmp, 11);
    } else {
      klen[i] = (uint8_t)(8 + rnd_below(17)); /* 8..24 */
      for (unsigned c = 0; c < klen[i]; c++)
        k[c] = (unsigned char)alnum[rnd_below(36)];
      uint64_t v = i; /* characters 3..7: i in base 36 (unique) */
      for (unsigned c = 0; c < 5; c++, v /= 36)
        k[3 + c] = (unsigned char)alnum[v % 36];
    }
    vlen[i] = (uint8_t)(16 + rnd_below(17)); /* 16..32 */
    unsigned char *v = k + klen[i];
    v[0] = (unsigned char)('A' + rnd_below(26));
    for (unsigned c = 1; c < vlen[i]; c++)
      v[c] = (unsigned char)('a' + rnd_below(26));
    off[i] = pos;
    pos += klen[i] + vlen[i];
    kv_bytes += klen[i] + vlen[i];
  }
  free(perm);
}

static void gen_stream(struct stream *s, uint64_t n, uint64_t miss_pct) {
  s->n = n;
  s->q = xmalloc(n * 25);
  uint64_t p = 0, sum = 0, misses = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint32_t e = rnd_below(cfg.entries);
    int miss = rnd_below(100) < miss_pct;
    s->q[p++] = klen[e];
    memcpy(s->q + p, arena + off[e], klen[e]);
    if (miss) {
      s->q[p] = '#'; /* in no present key */
      misses++;
    } else {
      sum += arena[off[e] + klen[e]];
    }
    p += klen[e];
  }
  s->bytes = p;
  s->expect = sum + (misses << MISS_SHIFT);
}

/* ---- the in-process hash table ------------------------------------------- */

struct hslot {
  uint64_t hash;
  const unsigned char *key, *val; /* key NULL: empty */
  uint32_t klen, vlen;
};

struct htab {
  struct hslot *slots;
  uint64_t mask;
  unsigned char *store; /* keys and values, side by side */
};

static void htab_build(struct htab *h) {
  uint64_t n = cfg.entries, want = n + n / 2 + 1, nb = 1;
  while (nb < want)
    nb <<= 1;
  h->slots = xmalloc(nb * sizeof *h->slots);
  memset(h->slots, 0, nb * sizeof *h->slots);
  h->mask = nb - 1;
  h->store = xmalloc(kv_bytes);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n; i++) {
    unsigned char *k = h->store + pos;
    memcpy(k, arena + off[i], klen[i] + vlen[i]);
    pos += klen[i] + vlen[i];
    uint64_t hv = XXH3_64bits(k, klen[i]);
    uint64_t j = hv & h->mask;
    while (h->slots[j].key) /* keys are distinct: no compare needed */
      j = (j + 1) & h->mask;
    h->slots[j].hash = hv;
    h->slots[j].key = k;
    h->slots[j].val = k + klen[i];
    h->slots[j].klen = klen[i];
    h->slots[j].vlen = vlen[i];
  }
}

static inline const struct hslot *
htab_get(const struct htab *h, const unsigned char *key, uint32_t kl) {
  uint64_t hv = XXH3_64bits(key, kl);
  for (uint64_t j = hv & h->mask;; j = (j + 1) & h->mask) {
    const struct hslot *s = &h->slots[j];
    if (!s->key)
      return NULL;
    if (s->hash == hv && s->klen == kl && memcmp(s->key, key, kl) == 0)
      return s;
  }
}

/* ---- the timed loops (noinline, fixed names: see bench_common.h) -------
 * Each reads n queries from q and returns the sum of the values' first
 * bytes plus (misses << MISS_SHIFT).  Independent mode: the lookups of
 * consecutive queries overlap as far as the CPU's out-of-order window lets
 * them (throughput).  Chained mode (chained != 0): the next query's address
 * depends on this lookup's result, (result & zero) with zero a 0 the
 * compiler cannot see, so each lookup waits for the previous one (latency;
 * a miss passes the dependency on through its branch only). */

/* One lookup: the value's first byte, or 1 << MISS_SHIFT when absent. */
static inline uint64_t lk_table(const smr_table *t, const unsigned char *k,
                                uint32_t kl) {
  smr_table_value v;
  if (smr_table_get(t, k, kl, &v) == 0)
    return *(const unsigned char *)v.data;
  return 1ull << MISS_SHIFT;
}

static inline uint64_t lk_hash(const struct htab *h, const unsigned char *k,
                               uint32_t kl) {
  const struct hslot *s = htab_get(h, k, kl);
  return s ? *s->val : 1ull << MISS_SHIFT;
}

/* An error (-1) makes the sum wrong: the caller's check fails. */
static inline uint64_t lk_cdb(struct cdb *c, const unsigned char *k,
                              uint32_t kl) {
  int rc = cdb_find(c, k, kl);
  if (rc > 0)
    return *(const unsigned char *)cdb_getdata(c);
  return rc == 0 ? 1ull << MISS_SHIFT : 1ull << 63;
}

/* The loop over n queries, both modes; LOOKUP(key, len) is one of the
 * above.  Uses acc, q, n, chained, zero. */
#define QUERY_LOOP(LOOKUP)                                                     \
  do {                                                                         \
    if (!chained) {                                                            \
      BENCH_NO_UNROLL                                                          \
      for (uint64_t i_ = 0; i_ < n; i_++) {                                    \
        uint32_t kl_ = *q++;                                                   \
        acc += LOOKUP(q, kl_);                                                 \
        q += kl_;                                                              \
      }                                                                        \
    } else {                                                                   \
      BENCH_NO_UNROLL                                                          \
      for (uint64_t i_ = 0; i_ < n; i_++) {                                    \
        uint32_t kl_ = *q++;                                                   \
        uint64_t r_ = LOOKUP(q, kl_);                                          \
        acc += r_;                                                             \
        q += kl_ + (r_ & zero);                                                \
      }                                                                        \
    }                                                                          \
  } while (0)

#define LK_TABLE(k, kl) lk_table(t, k, kl)
#define LK_HASH(k, kl)  lk_hash(h, k, kl)
#define LK_CDB(k, kl)   lk_cdb(c, k, kl)

BENCH_LOOP_ATTR uint64_t bench_loop_table(const smr_table *t,
                                          const unsigned char *q, uint64_t n,
                                          int chained, uint64_t zero);

uint64_t bench_loop_table(const smr_table *t, const unsigned char *q,
                          uint64_t n, int chained, uint64_t zero) {
  uint64_t acc = 0;
  QUERY_LOOP(LK_TABLE);
  return acc;
}

BENCH_LOOP_ATTR uint64_t bench_loop_table_read(smr_channel_reader *r,
                                               const smr_table *t,
                                               const void *base,
                                               const unsigned char *q,
                                               uint64_t n, uint64_t batch,
                                               int chained, uint64_t zero);

uint64_t bench_loop_table_read(smr_channel_reader *r, const smr_table *t,
                               const void *base, const unsigned char *q,
                               uint64_t n, uint64_t batch, int chained,
                               uint64_t zero) {
  uint64_t acc = 0;
  for (uint64_t done = 0; done < n;) {
    smr_channel_guard g;
    if (SMR_UNLIKELY(smr_channel_read(r, &g) != 0))
      return UINT64_MAX;
    /* The writer is idle: the version (and so the table) never changes. */
    if (SMR_UNLIKELY(g.data != base)) {
      smr_channel_release(r, &g);
      return UINT64_MAX;
    }
    uint64_t m = n - done < batch ? n - done : batch;
    {
      uint64_t n = m; /* the batch, for QUERY_LOOP */
      QUERY_LOOP(LK_TABLE);
    }
    done += m;
    smr_channel_release(r, &g);
  }
  return acc;
}

BENCH_LOOP_ATTR uint64_t bench_loop_hash(const struct htab *h,
                                         const unsigned char *q, uint64_t n,
                                         int chained, uint64_t zero);

uint64_t bench_loop_hash(const struct htab *h, const unsigned char *q,
                         uint64_t n, int chained, uint64_t zero) {
  uint64_t acc = 0;
  QUERY_LOOP(LK_HASH);
  return acc;
}

BENCH_LOOP_ATTR uint64_t bench_loop_cdb(struct cdb *c, const unsigned char *q,
                                        uint64_t n, int chained, uint64_t zero);

uint64_t bench_loop_cdb(struct cdb *c, const unsigned char *q, uint64_t n,
                        int chained, uint64_t zero) {
  uint64_t acc = 0;
  QUERY_LOOP(LK_CDB);
  return acc;
}

/* ---- the reader side ----------------------------------------------------- */

struct setup {
  double publish_ms, open_ms, open_lazy_ms, hash_ms, cdb_ms;
  uint64_t table_bytes, hash_bytes, cdb_bytes;
  int cpu;
};
static struct setup setup;

static double ms_since(int64_t t0) {
  return (double)(bench_now_ns() - t0) / 1e6;
}

/* Pin to the first CPU this process may use; the CPU or -1. */
static int pin_first_cpu(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set))
      continue;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
  }
  return -1;
}

static void build_cdb(struct cdb *c) {
  snprintf(cdb_path, sizeof cdb_path, "/dev/shm/smr-bench-%ld-table.cdb",
           (long)getpid());
  int fd = open(cdb_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("open %s: %s", cdb_path, strerror(errno));
  struct cdb_make cm;
  int64_t t0 = bench_now_ns();
  if (cdb_make_start(&cm, fd) != 0)
    fail("cdb_make_start: %s", strerror(errno));
  for (uint64_t i = 0; i < cfg.entries; i++)
    if (cdb_make_add(&cm, arena + off[i], klen[i], arena + off[i] + klen[i],
                     vlen[i]) != 0)
      fail("cdb_make_add: %s", strerror(errno));
  if (cdb_make_finish(&cm) != 0)
    fail("cdb_make_finish: %s", strerror(errno));
  if (cdb_init(c, fd) != 0)
    fail("cdb_init: %s", strerror(errno));
  setup.cdb_ms = ms_since(t0);
  struct stat sb;
  if (fstat(fd, &sb) == 0)
    setup.cdb_bytes = (uint64_t)sb.st_size;
  unlink(cdb_path); /* the mapping stays */
  cdb_path[0] = '\0';
}

/* Every key in each implementation, whole value compared; an absent key
 * per entry. */
static void verify_all(const smr_table *t, const struct htab *h,
                       struct cdb *c) {
  unsigned char key[256]; /* klen[] is a uint8_t */
  for (uint64_t i = 0; i < cfg.entries; i++) {
    const unsigned char *k = arena + off[i], *v = k + klen[i];
    memcpy(key, k, klen[i]);
    key[0] = '#';
    if (t) {
      smr_table_value tv;
      if (smr_table_get(t, k, klen[i], &tv) != 0 || tv.size != vlen[i] ||
          memcmp(tv.data, v, vlen[i]) != 0)
        fail("smr_table: entry %llu missing or wrong", (unsigned long long)i);
      if (smr_table_get(t, key, klen[i], &tv) != -ENOENT)
        fail("smr_table: absent key %llu found", (unsigned long long)i);
    }
    if (h) {
      const struct hslot *s = htab_get(h, k, klen[i]);
      if (!s || s->vlen != vlen[i] || memcmp(s->val, v, vlen[i]) != 0)
        fail("hash: entry %llu missing or wrong", (unsigned long long)i);
      if (htab_get(h, key, klen[i]))
        fail("hash: absent key %llu found", (unsigned long long)i);
    }
    if (c) {
      if (cdb_find(c, k, klen[i]) <= 0 || cdb_datalen(c) != vlen[i] ||
          memcmp(cdb_getdata(c), v, vlen[i]) != 0)
        fail("tinycdb: entry %llu missing or wrong", (unsigned long long)i);
      if (cdb_find(c, key, klen[i]) != 0)
        fail("tinycdb: absent key %llu found", (unsigned long long)i);
    }
  }
}

/* Per workload and loop, ns per lookup of each run. */
static double res[NWORK][NLOOPS][MAX_RUNS];

static void check_acc(int l, const struct stream *s, uint64_t acc) {
  if (acc != s->expect)
    fail("%s: result %llx, expected %llx (a lookup failed or returned wrong "
         "bytes)",
         loop_name[l], (unsigned long long)acc, (unsigned long long)s->expect);
}

/* smr_table_checked: the view, and its check's reader and guard. */
static smr_table checked_view;
static smr_channel_reader *checked_r;
static smr_channel_guard checked_g;

static int range_check(void *arg, uint64_t off, uint64_t len) {
  (void)arg;
  return smr_channel_verify_range(checked_r, &checked_g, off, len);
}

/* A 0 the compiler cannot see (the chained loops' dependency mask). */
static volatile uint64_t zero_mask;

static uint64_t run_loop(int l, const struct stream *s, uint64_t n,
                         smr_channel_reader *r, const smr_table *t,
                         const smr_table *tl, const void *base,
                         const struct htab *h, struct cdb *c) {
  uint64_t acc = 0, zero = zero_mask;
  smr_channel_guard g;
  switch (l) {
  case L_TABLE:
  case L_TABLE_LAZY:
    /* The guard is held across the loop; taken and dropped untimed. */
    CHECK(smr_channel_read(r, &g));
    if (g.data != base)
      fail("the channel's payload moved");
    acc = bench_loop_table(l == L_TABLE ? t : tl, s->q, n, s->chained, zero);
    smr_channel_release(r, &g);
    break;
  case L_TABLE_CHECKED:
    CHECK(smr_channel_read(r, &checked_g));
    if (checked_g.data != base)
      fail("the channel's payload moved");
    acc = bench_loop_table(&checked_view, s->q, n, s->chained, zero);
    smr_channel_release(r, &checked_g);
    break;
  case L_TABLE_READ:
    acc = bench_loop_table_read(r, t, base, s->q, n, cfg.read_batch, s->chained,
                                zero);
    break;
  case L_HASH:
    acc = bench_loop_hash(h, s->q, n, s->chained, zero);
    break;
  default:
    acc = bench_loop_cdb(c, s->q, n, s->chained, zero);
    break;
  }
  return acc;
}

/* The reader side: open, build the baselines, verify, time; the results go
 * to res[] and setup (sent to the parent through `out` when it is >= 0). */
static void reader_side(int out) {
  setup.cpu = cfg.pin ? pin_first_cpu() : -1;
  CHECK(smr_fence_init(NULL)); /* keep the one-time cost out */
  smr_channel_reader *r;
  CHECK(smr_channel_reader_open(chan, 0, &r));
  smr_channel_guard g;
  CHECK(smr_channel_read(r, &g));
  const void *base = g.data;
  smr_table t;
  int64_t t0 = bench_now_ns();
  CHECK(smr_table_open(&t, g.data, g.size));
  setup.open_ms = ms_since(t0);
  smr_table tl;
  t0 = bench_now_ns();
  CHECK(smr_table_open_lazy(&tl, g.data, g.size));
  setup.open_lazy_ms = ms_since(t0);
  checked_r = r;
  checked_g = g;
  CHECK(
      smr_table_open_checked(&checked_view, g.data, g.size, range_check, NULL));
  if (smr_table_count(&t) != cfg.entries)
    fail("smr_table_count %llu, expected %llu",
         (unsigned long long)smr_table_count(&t),
         (unsigned long long)cfg.entries);
  smr_channel_release(r, &g);

  struct htab h;
  memset(&h, 0, sizeof h);
  if (cfg.want[L_HASH]) {
    t0 = bench_now_ns();
    htab_build(&h);
    setup.hash_ms = ms_since(t0);
    setup.hash_bytes = (h.mask + 1) * sizeof *h.slots + kv_bytes;
  }
  static struct cdb c;
  if (cfg.want[L_CDB])
    build_cdb(&c);

  CHECK(smr_channel_read(r, &g));
  verify_all(&t, cfg.want[L_HASH] ? &h : NULL, cfg.want[L_CDB] ? &c : NULL);
  if (cfg.want[L_TABLE_LAZY])
    verify_all(&tl, NULL, NULL);
  if (cfg.want[L_TABLE_CHECKED]) {
    checked_g = g;
    verify_all(&checked_view, NULL, NULL);
  }
  smr_channel_release(r, &g);

  const struct bench_opts *o = &cfg.o;
  for (int w = 0; w < NWORK; w++) {
    if (!work[w].q)
      continue;
    for (int l = 0; l < NLOOPS; l++)
      if (cfg.want[l] && o->warmup > 0)
        run_loop(l, &work[w],
                 (uint64_t)o->warmup < work[w].n ? (uint64_t)o->warmup
                                                 : work[w].n,
                 r, &t, &tl, base, &h, &c);
    for (int k = 0; k < o->runs; k++) {
      for (int j = 0; j < NLOOPS; j++) {
        int l = (j + k) % NLOOPS; /* rotate the order */
        if (!cfg.want[l])
          continue;
        int64_t s0 = bench_now_ns();
        uint64_t acc =
            run_loop(l, &work[w], work[w].n, r, &t, &tl, base, &h, &c);
        int64_t s1 = bench_now_ns();
        check_acc(l, &work[w], acc);
        bench_sink = acc;
        res[w][l][k] = (double)(s1 - s0) / (double)work[w].n;
      }
    }
  }
  CHECK(smr_channel_reader_close(r));
  if (cfg.want[L_CDB])
    cdb_free(&c);
  free(h.slots);
  free(h.store);
  if (out >= 0) {
    if (bench_write_all(out, res, sizeof res) != 0 ||
        bench_write_all(out, &setup, sizeof setup) != 0)
      fail("cannot send the results: %s", strerror(errno));
  }
}

/* ---- the writer side ----------------------------------------------------- */

static void publish_table(void) {
  CHECK(smr_channel_writer_open(chan, NULL, &writer));
  uint64_t cap = smr_table_size_bound(cfg.entries, kv_bytes);
  if (cap == 0)
    fail("smr_table_size_bound: too large");
  int64_t t0 = bench_now_ns();
  void *buf;
  int rc = smr_channel_begin(writer, cap, &buf);
  if (rc != 0)
    fail("smr_channel_begin(%llu bytes): %s", (unsigned long long)cap,
         strerror(-rc));
  smr_table_builder b;
  CHECK(smr_table_build_begin(&b, buf, cap, cfg.entries));
  for (uint64_t i = 0; i < cfg.entries; i++)
    CHECK(smr_table_build_add(&b, arena + off[i], klen[i],
                              arena + off[i] + klen[i], vlen[i]));
  uint64_t size;
  CHECK(smr_table_build_end(&b, &size));
  CHECK(smr_channel_commit(writer, size, NULL));
  setup.publish_ms = ms_since(t0);
  setup.table_bytes = size;
}

/* ---- output -------------------------------------------------------------- */

static const char *work_name[NWORK] = {"hit", "miss", "chained"};

static void report(void) {
  const struct bench_opts *o = &cfg.o;
  const char *keys = cfg.seq_keys ? "seq" : "random";
  printf("{\"bench\":\"table_setup\",\"entries\":%llu,\"keys\":\"%s\","
         "\"kv_bytes\":%llu,\"table_bytes\":%llu,\"build_publish_ms\":%.1f,"
         "\"open_ms\":%.1f,\"open_lazy_ms\":%.4f,\"hash_bytes\":%llu,\"hash_"
         "build_ms\":%.1f,"
         "\"cdb_bytes\":%llu,\"cdb_build_ms\":%.1f,\"reader\":\"%s\","
         "\"cpu\":%d}\n",
         (unsigned long long)cfg.entries, keys, (unsigned long long)kv_bytes,
         (unsigned long long)setup.table_bytes, setup.publish_ms, setup.open_ms,
         setup.open_lazy_ms, (unsigned long long)setup.hash_bytes,
         setup.hash_ms, (unsigned long long)setup.cdb_bytes, setup.cdb_ms,
         cfg.inproc ? "same_process" : "reader_process", setup.cpu);
  struct bench_stats st[NWORK][NLOOPS], ratio[NWORK][NLOOPS];
  for (int w = 0; w < NWORK; w++) {
    if (!work[w].q)
      continue;
    uint64_t pct = w == W_MISS ? cfg.miss_pct : 0;
    for (int l = 0; l < NLOOPS; l++) {
      if (!cfg.want[l])
        continue;
      for (int k = 0; k < o->runs; k++)
        printf("{\"bench\":\"table_lookup\",\"impl\":\"%s\","
               "\"workload\":\"%s\",\"chained\":%s,\"miss_pct\":%llu,"
               "\"entries\":%llu,\"keys\":\"%s\",\"run\":%d,\"iters\":%llu,"
               "\"ns_per_lookup\":%.3f}\n",
               loop_name[l], work_name[w], work[w].chained ? "true" : "false",
               (unsigned long long)pct, (unsigned long long)cfg.entries, keys,
               k, (unsigned long long)work[w].n, res[w][l][k]);
    }
    for (int l = 0; l < NLOOPS; l++) {
      if (!cfg.want[l])
        continue;
      double r[MAX_RUNS], v[MAX_RUNS];
      for (int k = 0; k < o->runs; k++) {
        v[k] = res[w][l][k];
        r[k] = cfg.want[L_TABLE] ? res[w][l][k] / res[w][L_TABLE][k] : 0;
      }
      st[w][l] = bench_stats_of(v, o->runs);
      ratio[w][l] = bench_stats_of(r, o->runs);
    }
    for (int l = 0; l < NLOOPS; l++) {
      if (!cfg.want[l])
        continue;
      printf("{\"bench\":\"table_lookup\",\"impl\":\"%s\","
             "\"workload\":\"%s\",\"chained\":%s,\"miss_pct\":%llu,"
             "\"entries\":%llu,\"keys\":\"%s\",\"summary\":true,\"iters\":%llu,"
             "\"runs\":%d,"
             "\"median_ns\":%.3f,\"min_ns\":%.3f,\"max_ns\":%.3f",
             loop_name[l], work_name[w], work[w].chained ? "true" : "false",
             (unsigned long long)pct, (unsigned long long)cfg.entries, keys,
             (unsigned long long)work[w].n, o->runs, st[w][l].median,
             st[w][l].min, st[w][l].max);
      if (cfg.want[L_TABLE])
        printf(",\"table_speed_x\":%.3f,\"min_table_speed_x\":%.3f,"
               "\"max_table_speed_x\":%.3f",
               st[w][l].median / st[w][L_TABLE].median, ratio[w][l].min,
               ratio[w][l].max);
      printf("}\n");
    }
  }

  printf("\ntable lookups: %llu entries (%s keys, 16-32 B values), %llu "
         "lookups x %d runs per loop, loops in %s%s\n",
         (unsigned long long)cfg.entries,
         cfg.seq_keys ? "\"key%08u\"" : "random 8-24 B",
         (unsigned long long)o->iters, o->runs,
         cfg.inproc ? "the writer's process" : "a reader process",
         setup.cpu >= 0 ? " (pinned)" : "");
  printf("setup: table %.1f MiB built in place and published in %.1f ms, "
         "smr_table_open (validation) %.1f ms, smr_table_open_lazy %.4f ms",
         (double)setup.table_bytes / 1048576.0, setup.publish_ms, setup.open_ms,
         setup.open_lazy_ms);
  if (cfg.want[L_HASH])
    printf("; hash %.1f MiB built in %.1f ms", setup.hash_bytes / 1048576.0,
           setup.hash_ms);
  if (cfg.want[L_CDB])
    printf("; tinycdb %.1f MiB built in %.1f ms", setup.cdb_bytes / 1048576.0,
           setup.cdb_ms);
  printf("\n%-8s %-15s %10s %10s %10s %8s %11s\n", "workload", "impl",
         "median ns", "min ns", "max ns", "table x", "runs");
  for (int w = 0; w < NWORK; w++) {
    if (!work[w].q)
      continue;
    char wn[16];
    if (w == W_MISS)
      snprintf(wn, sizeof wn, "miss%llu", (unsigned long long)cfg.miss_pct);
    else
      snprintf(wn, sizeof wn, "%s", work_name[w]);
    for (int l = 0; l < NLOOPS; l++) {
      if (!cfg.want[l])
        continue;
      printf("%-8s %-15s %10.2f %10.2f %10.2f", wn, loop_name[l],
             st[w][l].median, st[w][l].min, st[w][l].max);
      if (cfg.want[L_TABLE])
        printf(" %8.2f %5.2f-%-5.2f", st[w][l].median / st[w][L_TABLE].median,
               ratio[w][l].min, ratio[w][l].max);
      printf("\n");
    }
  }
  printf("(hit, miss: independent lookups, throughput; chained: the hit "
         "queries, each waiting for the previous lookup, latency.\n table x: "
         "the loop's ns over smr_table's, i.e. smr_table's speed relative to "
         "it; runs: the same ratio run by run)\n");
  if (cfg.want[L_TABLE]) {
    for (int w = 0; w < NWORK; w++) {
      if (!work[w].q)
        continue;
      if (cfg.want[L_HASH])
        printf("%s: smr_table speed / in-process hash: %.2fx (runs "
               "%.2f-%.2f); target >= 0.8\n",
               work_name[w], st[w][L_HASH].median / st[w][L_TABLE].median,
               ratio[w][L_HASH].min, ratio[w][L_HASH].max);
      if (cfg.want[L_CDB])
        printf("%s: smr_table speed / tinycdb: %.2fx (runs %.2f-%.2f); "
               "target >= 1.5\n",
               work_name[w], st[w][L_CDB].median / st[w][L_TABLE].median,
               ratio[w][L_CDB].min, ratio[w][L_CDB].max);
    }
  }
}

/* ---- options ------------------------------------------------------------- */

static void usage_extra(void) {
  fprintf(stderr,
          "  --seq-keys    keys \"key%%08u\" (shuffled) instead of random "
          "8-24 byte strings\n"
          "  --no-chain    skip the chained (latency) workload\n"
          "  --pin         pin the reader process to the first allowed CPU\n"
          "  --inproc      run the loops in this process (no fork; for "
          "callgrind)\n"
          "  --only LIST   loops, comma-separated: "
          "table,lazy,checked,read,hash,cdb "
          "(default: all)\n"
          "--iters counts the lookups of one run of one loop.\n");
}

static void parse_args(int argc, char **argv) {
  cfg.entries = DEFAULT_ENTRIES;
  cfg.miss_pct = 10;
  cfg.read_batch = 1;
  struct bench_ext_opt ext[] = {
      {"--entries", "table entries (--smoke: 10000)", &cfg.entries, 0},
      {"--miss-pct", "absent keys in the second workload, % (0: skip it)",
       &cfg.miss_pct, 0},
      {"--read-batch", "smr_table_read: lookups per smr_channel_read",
       &cfg.read_batch, 0},
  };
  size_t next = sizeof ext / sizeof ext[0];
  char **rest = xmalloc(sizeof(char *) * ((size_t)argc + 1));
  int n = 0;
  const char *only = NULL;
  rest[n++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      bench_usage_ext(argv[0], DEFAULT_ITERS, ext, next);
      usage_extra();
      exit(0);
    } else if (strcmp(a, "--seq-keys") == 0) {
      cfg.seq_keys = 1;
    } else if (strcmp(a, "--no-chain") == 0) {
      cfg.no_chain = 1;
    } else if (strcmp(a, "--pin") == 0) {
      cfg.pin = 1;
    } else if (strcmp(a, "--inproc") == 0) {
      cfg.inproc = 1;
    } else if (strcmp(a, "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      rest[n++] = argv[i];
    }
  }
  rest[n] = NULL;
  cfg.o = bench_parse_ext(n, rest, DEFAULT_ITERS, SMOKE_ITERS, ext, next);
  free(rest);
  if (cfg.o.smoke && !ext[0].given)
    cfg.entries = SMOKE_ENTRIES;
  uint64_t max_entries = cfg.seq_keys ? 100000000ull : 60466176ull; /* 36^5 */
  if (cfg.entries < 1 || cfg.entries > max_entries || cfg.miss_pct > 100 ||
      cfg.read_batch < 1 || cfg.o.iters > 0xffffffffull) {
    fprintf(stderr,
            "%s: need 1 <= --entries <= %llu, --miss-pct <= 100, "
            "--read-batch >= 1, --iters < 2^32\n",
            argv[0], (unsigned long long)max_entries);
    exit(2);
  }
  if (!only) {
    for (int l = 0; l < NLOOPS; l++)
      cfg.want[l] = 1;
  } else {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", only);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
      int l = 0;
      while (l < NLOOPS && strcmp(t, loop_opt[l]) != 0)
        l++;
      if (l == NLOOPS) {
        fprintf(stderr, "%s: --only: unknown loop '%s'\n", argv[0], t);
        exit(2);
      }
      cfg.want[l] = 1;
    }
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  gen_entries();
  gen_stream(&work[W_HIT], cfg.o.iters, 0);
  if (cfg.miss_pct)
    gen_stream(&work[W_MISS], cfg.o.iters, cfg.miss_pct);
  if (!cfg.no_chain) { /* the hit stream again, chained */
    work[W_CHAIN] = work[W_HIT];
    work[W_CHAIN].chained = 1;
    work[W_CHAIN].shared = 1;
  }
  snprintf(chan, sizeof chan, "smr-bench-%ld-table", (long)getpid());
  (void)smr_channel_unlink(chan); /* a stale one from a recycled pid */

  if (cfg.inproc) {
    publish_table();
    reader_side(-1);
  } else {
    /* The reader process is forked before the writer opens: it inherits
     * none of the writer's descriptors (smr/channel.h: handles are not
     * inherited across fork). */
    int go[2], back[2];
    if (pipe(go) != 0 || pipe(back) != 0)
      fail("pipe: %s", strerror(errno));
    fflush(NULL);
    child = fork();
    if (child < 0)
      fail("fork: %s", strerror(errno));
    if (child == 0) {
      in_child = 1;
      close(go[1]);
      close(back[0]);
      char c;
      if (bench_read_all(go[0], &c, 1) != 0)
        _exit(1); /* the parent failed */
      reader_side(back[1]);
      _exit(0);
    }
    close(go[0]);
    close(back[1]);
    publish_table();
    double publish_ms = setup.publish_ms;
    uint64_t table_bytes = setup.table_bytes;
    if (write(go[1], "g", 1) != 1)
      fail("cannot start the reader process");
    if (bench_read_all(back[0], res, sizeof res) != 0 ||
        bench_read_all(back[0], &setup, sizeof setup) != 0)
      fail("the reader process failed (see above)");
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    child = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      fail("the reader process failed");
    setup.publish_ms = publish_ms; /* measured here */
    setup.table_bytes = table_bytes;
    close(go[1]);
    close(back[0]);
  }
  smr_channel_writer_close(writer);
  writer = NULL;
  CHECK(smr_channel_unlink(chan));
  chan[0] = '\0';
  report();
  free(arena);
  free(off);
  free(klen);
  free(vlen);
  for (int w = 0; w < NWORK; w++)
    if (!work[w].shared)
      free(work[w].q);
  return 0;
}
