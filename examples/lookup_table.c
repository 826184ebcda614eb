/* SPDX-License-Identifier: MIT */
/* lookup_table: the read-mostly lookup table, solved with a libsmr swap cell.
 *
 * Worker threads look up string keys in a hash table at full speed; one
 * writer thread copies the table every few milliseconds, changes some
 * entries and publishes the copy.  Readers never lock, never fence and never
 * see a freed table; the cell frees old tables once no guard pins them.
 * The same program then runs on pthread_rwlock for comparison.
 *
 *   lookup_table [--readers N] [--seconds S] [--entries N] [--interval-ms M]
 */
#define _GNU_SOURCE
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "smr.h"

struct entry {
  char key[24];
  char val[24];
};

struct table {
  size_t mask; /* capacity - 1 (power of two) */
  uint64_t generation;
  struct entry slots[];
};

/* ---- configuration and shared counters ---------------------------------- */

static struct {
  int readers;
  double seconds;
  size_t entries;
  int interval_ms;
  const char *file;
} cfg = {4, 8.0, 100000, 2, NULL};

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static const char *table_get(const struct table *t, const char *key) {
  for (size_t i = hash(key) & t->mask;; i = (i + 1) & t->mask) {
    if (!t->slots[i].key[0])
      return NULL;
    if (strcmp(t->slots[i].key, key) == 0)
      return t->slots[i].val;
  }
}

static void table_put(struct table *t, const char *key, const char *val) {
  size_t i = hash(key) & t->mask;
  while (t->slots[i].key[0] && strcmp(t->slots[i].key, key) != 0)
    i = (i + 1) & t->mask;
  snprintf(t->slots[i].key, sizeof t->slots[i].key, "%.23s", key);
  snprintf(t->slots[i].val, sizeof t->slots[i].val, "%.23s", val);
}

static size_t table_bytes(size_t cap) {
  return sizeof(struct table) + cap * sizeof(struct entry);
}

/* Capacity of a table of cfg.entries entries (load factor <= 1/2). */
static size_t cfg_cap(void) {
  size_t cap = 1;
  while (cap < cfg.entries * 2)
    cap <<= 1;
  return cap;
}

static char (*keys)[24]; /* lookup keys, generated or loaded once */
static char (*vals)[24]; /* their initial values */

static struct table *table_new(size_t entries) {
  size_t cap = cfg_cap();
  struct table *t = calloc(1, table_bytes(cap));
  if (!t)
    return NULL;
  t->mask = cap - 1;
  for (size_t i = 0; i < entries; i++)
    table_put(t, keys[i], vals[i]);
  return t;
}

static struct table *table_copy(const struct table *t) {
  struct table *c = malloc(table_bytes(t->mask + 1));
  if (c)
    memcpy(c, t, table_bytes(t->mask + 1));
  return c;
}

static void table_destroy(void *t, void *ctx) {
  (void)ctx;
  free(t);
}

static atomic_int stop;
static atomic_ullong lookups, publishes, misses, newest_seen;

/* Per-batch accounting shared by both variants: counters for the progress
 * line (relaxed: statistics only) and the newest version a reader saw. */
static void account(unsigned long long n, unsigned long long miss,
                    uint64_t version) {
  atomic_fetch_add_explicit(&lookups, n, memory_order_relaxed);
  atomic_fetch_add_explicit(&misses, miss, memory_order_relaxed);
  unsigned long long cur =
      atomic_load_explicit(&newest_seen, memory_order_relaxed);
  while (version > cur && !atomic_compare_exchange_weak_explicit(
                              &newest_seen, &cur, version, memory_order_relaxed,
                              memory_order_relaxed))
    ;
}

/* The next version: a copy of t with 16 entries changed. */
static struct table *table_next(const struct table *t, unsigned *seed) {
  struct table *n = table_copy(t);
  if (!n)
    abort();
  n->generation++;
  char v[64];
  for (int i = 0; i < 16; i++) {
    unsigned x = rand_r(seed) % (unsigned)cfg.entries;
    snprintf(v, sizeof v, "v%llu", (unsigned long long)n->generation);
    table_put(n, keys[x], v);
  }
  return n;
}

/* ---- the libsmr version ---------------------------------------------------
 */

static smr_swap *cell;

static void *smr_reader_main(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  smr_swap_reader *r;
  if (smr_swap_reader_create(cell, &r) != 0)
    abort();
  /* relaxed: a stop flag; nothing else is published through it. */
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    unsigned long long miss = 0;
    uint64_t version = 0;
    for (int i = 0; i < 256; i++) {
      const char *key = keys[rand_r(&seed) % (unsigned)cfg.entries];
      smr_swap_guard g;
      const struct table *t = smr_swap_read(r, &g);
      miss += table_get(t, key) == NULL;
      version = smr_swap_guard_version(&g);
      smr_swap_guard_release(&g);
    }
    account(256, miss, version);
  }
  smr_swap_reader_destroy(r);
  return NULL;
}

static void *smr_writer_main(void *arg) {
  (void)arg;
  unsigned seed = 42;
  struct timespec ts = {0, cfg.interval_ms * 1000000L};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    /* The writer needs no guard: only it replaces the table. */
    if (smr_swap_store(cell, table_next(smr_swap_get(cell), &seed)) != 0)
      abort();
    atomic_fetch_add_explicit(&publishes, 1, memory_order_relaxed);
    nanosleep(&ts, NULL); /* pacing of the demo's writer, not synchronization */
  }
  return NULL;
}

/* ---- the pthread_rwlock version -------------------------------------------
 */

static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static struct table *rw_table;

static void *rw_reader_main(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    unsigned long long miss = 0;
    uint64_t version = 0;
    for (int i = 0; i < 256; i++) {
      const char *key = keys[rand_r(&seed) % (unsigned)cfg.entries];
      pthread_rwlock_rdlock(&rwlock);
      miss += table_get(rw_table, key) == NULL;
      version = rw_table->generation;
      pthread_rwlock_unlock(&rwlock);
    }
    account(256, miss, version);
  }
  return NULL;
}

static void *rw_writer_main(void *arg) {
  (void)arg;
  unsigned seed = 42;
  struct timespec ts = {0, cfg.interval_ms * 1000000L};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    pthread_rwlock_rdlock(&rwlock);
    struct table *t = table_next(rw_table, &seed);
    pthread_rwlock_unlock(&rwlock);
    pthread_rwlock_wrlock(&rwlock);
    struct table *old = rw_table;
    rw_table = t;
    pthread_rwlock_unlock(&rwlock);
    free(old);
    atomic_fetch_add_explicit(&publishes, 1, memory_order_relaxed);
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* ---- driver ---------------------------------------------------------------
 */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_mb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * 4096 / (1024 * 1024);
}

struct result {
  double lookups_per_s, publishes_per_s, cpu_ns_per_lookup;
};

static struct result run(const char *name, void *(*reader)(void *),
                         void *(*writer)(void *), int is_smr) {
  atomic_store(&stop, 0);
  atomic_store(&lookups, 0);
  atomic_store(&publishes, 0);
  atomic_store(&misses, 0);
  atomic_store(&newest_seen, 0);
  pthread_t w, *rs = calloc((size_t)cfg.readers, sizeof *rs);
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  double t0 = now_s();
  for (int i = 0; i < cfg.readers; i++)
    pthread_create(&rs[i], NULL, reader, (void *)(uintptr_t)(i + 1));
  pthread_create(&w, NULL, writer, NULL);
  double end = t0 + cfg.seconds / 2, tp = t0;
  unsigned long long lp = 0, pp = 0;
  double table_mb = table_bytes(cfg_cap()) / 1048576.0;
  while (now_s() < end) {
    struct timespec ts = {0, 250000000L};
    nanosleep(&ts, NULL); /* progress display interval */
    double tn = now_s();
    unsigned long long l = atomic_load(&lookups), p = atomic_load(&publishes);
    size_t old = is_smr ? smr_swap_garbage_count(cell) : 0;
    printf("\r  %-14s %4.1fs %6.1f M lookups/s %5.0f publishes/s  "
           "version read %5llu/%-5llu  old tables %2zu (%4.0f MB)  rss %4ld MB",
           name, tn - t0, (l - lp) / (tn - tp) / 1e6, (p - pp) / (tn - tp),
           (unsigned long long)atomic_load(&newest_seen), p, old,
           old * table_mb, rss_mb());
    fflush(stdout);
    lp = l, pp = p, tp = tn;
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < cfg.readers; i++)
    pthread_join(rs[i], NULL);
  pthread_join(w, NULL);
  double el = now_s() - t0;
  getrusage(RUSAGE_SELF, &ru1);
  double cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               1e-6 * ((ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                       (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec));
  struct result r = {atomic_load(&lookups) / el, atomic_load(&publishes) / el,
                     cpu * 1e9 / (double)atomic_load(&lookups)};
  printf("\r  %-14s %12.0f lookups/s  %7.0f publishes/s  %6.0f ns CPU/lookup"
         "  misses %llu%20s\n",
         name, r.lookups_per_s, r.publishes_per_s, r.cpu_ns_per_lookup,
         (unsigned long long)atomic_load(&misses), "");
  free(rs);
  return r;
}

/* Keys and initial values: from --file (TSV: key<TAB>value per line, both
 * truncated to 23 bytes, duplicates keep the last value) or generated. */
static int load_entries(void) {
  size_t cap = cfg.file ? 1024 : cfg.entries, n = 0;
  keys = malloc(cap * sizeof *keys);
  vals = malloc(cap * sizeof *vals);
  if (!keys || !vals)
    goto oom;
  if (!cfg.file) {
    for (n = 0; n < cfg.entries; n++) {
      snprintf(keys[n], sizeof keys[n], "key%u", (unsigned)n);
      snprintf(vals[n], sizeof vals[n], "value%u", (unsigned)n);
    }
    return 0;
  }
  FILE *f = fopen(cfg.file, "r");
  if (!f) {
    fprintf(stderr, "lookup_table: %s: %s\n", cfg.file, strerror(errno));
    return -1;
  }
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    char *tab = strchr(line, '\t');
    if (!tab || tab == line)
      continue; /* not a key<TAB>value line */
    *tab = '\0';
    tab[strcspn(tab + 1, "\r\n") + 1] = '\0';
    if (n == cap) {
      cap *= 2;
      void *k = realloc(keys, cap * sizeof *keys);
      if (k)
        keys = k;
      void *v = realloc(vals, cap * sizeof *vals);
      if (v)
        vals = v;
      if (!k || !v) {
        fclose(f);
        goto oom;
      }
    }
    snprintf(keys[n], sizeof keys[n], "%.23s", line);
    snprintf(vals[n], sizeof vals[n], "%.23s", tab + 1);
    n++;
  }
  fclose(f);
  if (n == 0) {
    fprintf(stderr, "lookup_table: %s: no key<TAB>value lines\n", cfg.file);
    return -1;
  }
  cfg.entries = n;
  return 0;
oom:
  fprintf(stderr, "lookup_table: out of memory\n");
  return -1;
}

static void usage(FILE *f) {
  fprintf(f, "usage: lookup_table [--readers N] [--seconds S] [--entries N] "
             "[--interval-ms M] [--file TSV]\n"
             "  Runs the lookup workload on a libsmr swap cell, then on\n"
             "  pthread_rwlock, S/2 seconds each (default: 4 readers, 8 s,\n"
             "  100000 entries, a publish every 2 ms).\n"
             "  --file TSV  load key<TAB>value lines instead of generating\n"
             "              --entries keys (keys and values: 23 bytes max)\n");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    if (!strcmp(a, "--readers"))
      cfg.readers = atoi(v);
    else if (!strcmp(a, "--seconds"))
      cfg.seconds = atof(v);
    else if (!strcmp(a, "--entries"))
      cfg.entries = (size_t)atol(v);
    else if (!strcmp(a, "--interval-ms"))
      cfg.interval_ms = atoi(v);
    else if (!strcmp(a, "--file"))
      cfg.file = v;
    else {
      usage(stderr);
      return 2;
    }
  }
  if (cfg.readers < 1 || cfg.readers > 1024 || cfg.seconds <= 0 ||
      cfg.entries < 1 || cfg.entries > 100000000 || cfg.interval_ms < 0 ||
      cfg.interval_ms > 999) {
    fprintf(stderr, "lookup_table: argument out of range\n");
    return 2;
  }
#ifdef __GLIBC__
  /* glibc gives a freed 12 MB table back to the kernel (mmap threshold, heap
   * trimming), so every new copy would page-fault its way in: the writer
   * would spend its time in the kernel.  Programs that replace big tables
   * often should keep such memory: */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  struct smr_fence_info fi;
  smr_fence_init(&fi);
  if (cfg.file && load_entries() != 0) /* sets cfg.entries for the banner */
    return 1;
  printf("libsmr %s lookup-table demo: %d readers, %zu entries, publish every "
         "%d ms\n  fence mode: %s (membarrier registration %.1f us)\n",
         smr_version_string(), cfg.readers, cfg.entries, cfg.interval_ms,
         fi.mode == SMR_FENCE_ASYMMETRIC ? "asymmetric (membarrier)"
                                         : "symmetric (fences)",
         fi.registration_ns / 1e3);

  if (!keys && load_entries() != 0)
    return 1;
  struct table *t = table_new(cfg.entries);
  if (!t || smr_swap_create(t, table_destroy, NULL, &cell) != 0) {
    fprintf(stderr, "lookup_table: out of memory\n");
    return 1;
  }
  struct result s = run("libsmr swap", smr_reader_main, smr_writer_main, 1);
  smr_swap_destroy(cell);

  rw_table = table_new(cfg.entries);
  if (!rw_table) {
    fprintf(stderr, "lookup_table: out of memory\n");
    return 1;
  }
  struct result w = run("pthread_rwlock", rw_reader_main, rw_writer_main, 0);
  free(rw_table);
  free(keys);
  free(vals);

  printf("\nlibsmr vs pthread_rwlock: %.1fx lookups/s, %.2fx CPU per lookup "
         "(%.0f vs %.0f ns), %.2fx publishes/s\n",
         s.lookups_per_s / w.lookups_per_s,
         s.cpu_ns_per_lookup / w.cpu_ns_per_lookup, s.cpu_ns_per_lookup,
         w.cpu_ns_per_lookup, s.publishes_per_s / w.publishes_per_s);
  return 0;
}
