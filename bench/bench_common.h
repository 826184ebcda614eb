/* SPDX-License-Identifier: MIT */
/* Shared helpers of the benchmark programs: options, clock, statistics and
 * output (one JSON object per line, then a human-readable table).
 *
 * Every program is compiled once per implementation (BENCH_IMPL_* defines,
 * see bench/CMakeLists.txt), so the timed loops call the implementation's
 * read or publish path directly: no function pointer sits on a timed path.
 * The timed loop of every program is a noinline function with a fixed name
 * (bench_loop) so that tools/bench_callgrind.sh can count its instructions
 * with valgrind --toggle-collect=bench_loop.
 *
 * clock_gettime needs _POSIX_C_SOURCE under -std=c11: the .c files define it
 * before their first include.
 */
#ifndef SMR_BENCH_COMMON_H
#define SMR_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The timed loop: never inlined and, for gcc, never cloned (a clone would be
 * named bench_loop.constprop.0 and escape --toggle-collect). */
#if defined(__clang__)
#define BENCH_LOOP_ATTR __attribute__((noinline, used))
#elif defined(__GNUC__)
#define BENCH_LOOP_ATTR __attribute__((noinline, noclone, used))
#else
#define BENCH_LOOP_ATTR
#endif

/* Put before the timed read loops: one read section per loop iteration, so
 * the loop's own bookkeeping is the same for every implementation and the
 * "plain" floor can be subtracted (clang would otherwise unroll only the
 * smallest loops). */
#if defined(__clang__)
#define BENCH_NO_UNROLL _Pragma("clang loop unroll(disable)")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define BENCH_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define BENCH_NO_UNROLL
#endif

/* Results of the timed loops end up here so the compiler cannot drop them. */
static volatile uint64_t bench_sink;

static inline int64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct bench_opts {
  uint64_t iters;  /* iterations (reads or publishes) per run */
  int runs;        /* timed runs; median, min and max are reported */
  int64_t warmup;  /* untimed iterations first; -1 = default */
  int smoke;       /* tiny configuration, for CI: finishes in well under 1s */
  const char *cmd; /* argv[0] */
};

/* A program-specific numeric option (--name N), e.g. --floor-delay-ms.
 * *value holds the default on entry and the parsed value on return; a
 * program that wants another default under --smoke sets it after parsing
 * unless the option was given (*given). */
struct bench_ext_opt {
  const char *name; /* with the dashes: "--stall-ms" */
  const char *help; /* one line for the usage text */
  uint64_t *value;
  int given; /* set by the parser */
};

static inline void bench_usage_ext(const char *cmd, uint64_t def_iters,
                                   const struct bench_ext_opt *ext,
                                   size_t next) {
  fprintf(stderr,
          "usage: %s [--iters N] [--runs R] [--warmup W] [--smoke]%s\n"
          "  --iters N   iterations per run (default %llu; 1e6 style "
          "accepted)\n"
          "  --runs R    timed runs, report median and min/max (default 7)\n"
          "  --warmup W  untimed iterations first (default iters/10)\n"
          "  --smoke     tiny run (well under a second): checks the program "
          "works\n",
          cmd, next ? " [options below]" : "", (unsigned long long)def_iters);
  for (size_t k = 0; k < next; k++)
    fprintf(stderr, "  %s N  %s (default %llu)\n", ext[k].name, ext[k].help,
            (unsigned long long)*ext[k].value);
}

static inline void bench_usage(const char *cmd, uint64_t def_iters) {
  bench_usage_ext(cmd, def_iters, NULL, 0);
}

static inline uint64_t bench_parse_count(const char *s, const char *cmd,
                                         uint64_t def_iters) {
  char *end;
  errno = 0;
  double v = strtod(s, &end); /* accepts 1000000 and 1e6 */
  if (errno || end == s || *end != '\0' || v < 0 || v > 1e18) {
    fprintf(stderr, "%s: bad count '%s'\n", cmd, s);
    bench_usage(cmd, def_iters);
    exit(2);
  }
  return (uint64_t)v;
}

/* Parse the common options plus ext[0..next); exits on errors and for
 * --help. */
static inline struct bench_opts
bench_parse_ext(int argc, char **argv, uint64_t def_iters, uint64_t smoke_iters,
                struct bench_ext_opt *ext, size_t next) {
  struct bench_opts o = {def_iters, 7, -1, 0, argv[0]};
  int have_iters = 0, have_runs = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    size_t k = 0;
    while (k < next && strcmp(a, ext[k].name) != 0)
      k++;
    if (k < next && i + 1 < argc) {
      *ext[k].value = bench_parse_count(argv[++i], argv[0], def_iters);
      ext[k].given = 1;
    } else if (strcmp(a, "--smoke") == 0) {
      o.smoke = 1;
    } else if (strcmp(a, "--iters") == 0 && i + 1 < argc) {
      o.iters = bench_parse_count(argv[++i], argv[0], def_iters);
      have_iters = 1;
    } else if (strcmp(a, "--runs") == 0 && i + 1 < argc) {
      o.runs = (int)bench_parse_count(argv[++i], argv[0], def_iters);
      have_runs = 1;
    } else if (strcmp(a, "--warmup") == 0 && i + 1 < argc) {
      o.warmup = (int64_t)bench_parse_count(argv[++i], argv[0], def_iters);
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      bench_usage_ext(argv[0], def_iters, ext, next);
      exit(0);
    } else {
      fprintf(stderr, "%s: unknown or incomplete option '%s'\n", argv[0], a);
      bench_usage_ext(argv[0], def_iters, ext, next);
      exit(2);
    }
  }
  if (o.smoke) {
    if (!have_iters)
      o.iters = smoke_iters;
    if (!have_runs)
      o.runs = 3;
  }
  if (o.iters == 0 || o.runs < 1 || o.runs > 1000) {
    fprintf(stderr, "%s: need --iters >= 1 and 1 <= --runs <= 1000\n", argv[0]);
    exit(2);
  }
  if (o.warmup < 0)
    o.warmup = (int64_t)(o.iters / 10);
  return o;
}

/* Parse the common options only. */
static inline struct bench_opts
bench_parse(int argc, char **argv, uint64_t def_iters, uint64_t smoke_iters) {
  return bench_parse_ext(argc, argv, def_iters, smoke_iters, NULL, 0);
}

/* A count for the JSON output, or null when the implementation does not say
 * (v < 0).  buf needs 24 bytes. */
static inline const char *bench_json_count(char *buf, size_t size, long v) {
  if (v < 0)
    snprintf(buf, size, "null");
  else
    snprintf(buf, size, "%ld", v);
  return buf;
}

/* Abort with a message when a setup call fails (benchmarks have no error
 * recovery: a failure means the numbers would be meaningless). */
#define BENCH_CHECK(call)                                                      \
  do {                                                                         \
    long bench_rc_ = (long)(call);                                             \
    if (bench_rc_ != 0) {                                                      \
      fprintf(stderr, "%s:%d: %s returned %ld\n", __FILE__, __LINE__, #call,   \
              bench_rc_);                                                      \
      abort();                                                                 \
    }                                                                          \
  } while (0)

struct bench_stats {
  double median, min, max;
};

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median (mean of the middle two for an even count), min and max.  Sorts v. */
static inline struct bench_stats bench_stats_of(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  struct bench_stats s;
  s.min = v[0];
  s.max = v[n - 1];
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

/* ---- pipes between benchmark processes ---- */
#include <unistd.h>

/* Write all n bytes (retrying short writes and EINTR): 0, or -1. */
static inline int bench_write_all(int fd, const void *buf, size_t n) {
  const char *p = (const char *)buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Read exactly n bytes: 0, or -1 at end of file or on an error. */
static inline int bench_read_all(int fd, void *buf, size_t n) {
  char *p = (char *)buf;
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

#endif /* SMR_BENCH_COMMON_H */
